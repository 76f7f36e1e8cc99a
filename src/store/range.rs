//! Time ranges of an archive directory: listing its intervals with their metadata, and merging
//! the archives that overlap a range into one profile (`prof report DIR --from/--to`, `prof diff`
//! of ranges, the web UI).

use std::path::Path;

use super::Entry;
use crate::archive;
use crate::profile::{Profile, ProfileBuilder};

/// Errors while reading an archive directory.
#[derive(Debug, thiserror::Error)]
pub enum RangeError {
    /// The directory cannot be listed.
    #[error("failed to list `{dir}`: {source}")]
    List {
        /// The directory.
        dir: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The directory holds no archive at all.
    #[error(
        "`{dir}`: not a profile (a directory without prof archives; `prof record --continuous --dir DIR` writes them)"
    )]
    NoArchives {
        /// The directory.
        dir: String,
    },
    /// No archive overlaps the range.
    #[error("no archive in `{dir}` overlaps {from} – {to}")]
    Empty {
        /// The directory.
        dir: String,
        /// Range start (RFC 3339).
        from: String,
        /// Range end (RFC 3339).
        to: String,
    },
    /// An archive could not be read.
    #[error(transparent)]
    Archive(#[from] archive::ArchiveError),
}

/// One archive of a directory, for `prof report DIR --list`.
#[derive(Debug)]
pub struct IntervalInfo {
    /// File.
    pub path: std::path::PathBuf,
    /// Metadata (times, samples, losses).
    pub meta: crate::profile::Metadata,
    /// Bytes on disk.
    pub bytes: u64,
}

/// Reads the metadata of every archive in `dir`, oldest first. Unreadable archives are reported
/// as warnings and skipped, so one corrupt file does not hide the rest.
pub fn list_dir(dir: &Path) -> Result<(Vec<IntervalInfo>, Vec<String>), RangeError> {
    let (entries, mut warnings) =
        super::list(dir).map_err(|source| RangeError::List { dir: dir.display().to_string(), source })?;
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        match archive::read_meta_file(&e.path) {
            Ok(meta) => out.push(IntervalInfo { path: e.path, meta, bytes: e.bytes }),
            Err(err) => warnings.push(format!("{err}; skipped")),
        }
    }
    Ok((out, warnings))
}

/// Merges the archives of `dir` whose interval overlaps `[from, to)` (ns since the epoch) into
/// one profile: samples summed, losses summed, time span covering them. Corrupt archives are
/// skipped with a warning; a directory without archives is [`RangeError::NoArchives`].
pub fn load_range(dir: &Path, from: u64, to: u64) -> Result<(Profile, Vec<String>), RangeError> {
    let (entries, warnings) =
        super::list(dir).map_err(|source| RangeError::List { dir: dir.display().to_string(), source })?;
    if entries.is_empty() {
        return Err(RangeError::NoArchives { dir: dir.display().to_string() });
    }
    merge_range(dir, &entries, warnings, from, to)
}

/// [`load_range`] of a listing already made (`entries` from [`super::list`] of `dir`,
/// and the warnings it gave).
pub fn merge_range(
    dir: &Path,
    entries: &[Entry],
    mut warnings: Vec<String>,
    from: u64,
    to: u64,
) -> Result<(Profile, Vec<String>), RangeError> {
    // The last archive's end is unknown from names alone: assume the usual spacing.
    let hint = match entries {
        [.., a, b] => std::time::Duration::from_nanos(b.start_unix_ns.saturating_sub(a.start_unix_ns)),
        _ => std::time::Duration::from_secs(10),
    };
    let selected = super::select(entries, from, to, hint);
    // Reading and decoding the archives is most of the work: split the range into contiguous
    // chunks, merge each on its own thread, then merge the chunks in order. Frames, stacks and
    // samples are interned in first-seen order, so the result is the same as one sequential pass.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let per_chunk = selected.len().div_ceil(threads).max(MIN_ARCHIVES_PER_THREAD);
    let chunks: Vec<(Option<ProfileBuilder>, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = selected
            .chunks(per_chunk)
            .map(|chunk| {
                scope.spawn(move || {
                    let mut builder = None;
                    let mut warnings = Vec::new();
                    for e in chunk {
                        match archive::read_file(&e.path) {
                            Ok(p) => absorb(&mut builder, &p, dir),
                            Err(err) => warnings.push(format!("{err}; skipped")),
                        }
                    }
                    (builder, warnings)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    let mut builder: Option<ProfileBuilder> = None;
    for (part, part_warnings) in chunks {
        warnings.extend(part_warnings);
        match (builder.as_mut(), part) {
            (_, None) => {}
            (None, Some(b)) => builder = Some(b),
            (Some(_), Some(b)) => absorb(&mut builder, &b.finish(), dir),
        }
    }
    match builder {
        Some(b) => Ok((b.finish(), warnings)),
        None => Err(RangeError::Empty {
            dir: dir.display().to_string(),
            from: crate::profile::format_unix_ns(from),
            to: crate::profile::format_unix_ns(to),
        }),
    }
}

/// Fewer archives than this per thread are not worth a thread of their own.
const MIN_ARCHIVES_PER_THREAD: usize = 16;

/// Merges `p` (an archive, or the merge of earlier archives) into the range being built:
/// samples added, sample and loss counts summed, the time span widened; the first profile gives
/// the metadata.
fn absorb(builder: &mut Option<ProfileBuilder>, p: &Profile, dir: &Path) {
    let b = builder.get_or_insert_with(|| {
        let mut meta = p.meta.clone();
        meta.total_samples = 0;
        meta.losses.clear();
        meta.unwind = Default::default();
        meta.start_unix_ns = u64::MAX;
        meta.end_unix_ns = 0;
        meta.target = format!("{} from `{}`", p.meta.target, dir.display());
        ProfileBuilder::new(meta)
    });
    b.merge(p);
    let m = b.meta_mut();
    m.total_samples = m.total_samples.saturating_add(p.meta.total_samples);
    for (r, &n) in &p.meta.losses {
        let sum = m.losses.entry(*r).or_default();
        *sum = sum.saturating_add(n);
    }
    m.unwind.merge(&p.meta.unwind);
    m.start_unix_ns = m.start_unix_ns.min(p.meta.start_unix_ns);
    m.end_unix_ns = m.end_unix_ns.max(p.meta.end_unix_ns);
    let mut notes = Vec::new();
    if m.frequency_hz != p.meta.frequency_hz || m.event != p.meta.event {
        notes.push(format!(
            "mixed recordings: {} Hz {} and {} Hz {}",
            m.frequency_hz, m.event, p.meta.frequency_hz, p.meta.event
        ));
    }
    // A chunk merged on another thread brings the notes it found.
    notes.extend(p.meta.notes.iter().filter(|n| n.starts_with("mixed recordings: ")).cloned());
    for note in notes {
        if !m.notes.contains(&note) {
            m.notes.push(note);
        }
    }
}
