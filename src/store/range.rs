//! Time ranges of an archive directory: listing its intervals with their metadata, and merging
//! the archives that overlap a range into one profile (`prof report DIR --from/--to`, `prof diff`
//! of ranges, the web UI).

use std::path::{Path, PathBuf};

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

/// An archive and the time it really covers, `[start_unix_ns, end_unix_ns)` from its metadata
/// (its name keeps only milliseconds of the start, and nothing of the end).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// File.
    pub path: PathBuf,
    /// Interval start, nanoseconds since the Unix epoch.
    pub start_unix_ns: u64,
    /// Interval end (exclusive), nanoseconds since the Unix epoch.
    pub end_unix_ns: u64,
}

impl Span {
    /// True when the interval overlaps `[from, to)`: one that ends exactly at `from` or starts
    /// exactly at `to` does not. An interval of no length counts as the instant it starts.
    pub fn overlaps(&self, from: u64, to: u64) -> bool {
        self.start_unix_ns < to && self.end_unix_ns.max(self.start_unix_ns.saturating_add(1)) > from
    }

    /// Length of the interval in nanoseconds (0 when its end is before its start).
    pub fn duration_ns(&self) -> u64 {
        self.end_unix_ns.saturating_sub(self.start_unix_ns)
    }
}

/// A time range of a directory merged into one profile.
#[derive(Debug)]
pub struct Merged {
    /// The archives' samples summed; its time span runs from the first start to the last end.
    pub profile: Profile,
    /// The time the merged archives cover, the sum of their durations (less than the span
    /// when recording stopped in between).
    pub covered_ns: u64,
    /// How many archives were merged.
    pub archives: usize,
    /// Archives skipped (unreadable, corrupt), one line each.
    pub warnings: Vec<String>,
}

/// Merges the archives of `dir` whose interval overlaps `[from, to)` (ns since the epoch, by the
/// times in each archive's metadata) into one profile: samples summed, losses summed, time span
/// covering them. Corrupt archives are skipped with a warning; a directory without archives is
/// [`RangeError::NoArchives`].
pub fn load_range(dir: &Path, from: u64, to: u64) -> Result<(Profile, Vec<String>), RangeError> {
    let (entries, mut warnings) =
        super::list(dir).map_err(|source| RangeError::List { dir: dir.display().to_string(), source })?;
    if entries.is_empty() {
        return Err(RangeError::NoArchives { dir: dir.display().to_string() });
    }
    // A name's start is the real start truncated to the millisecond, never later: an archive
    // named at or after `to` starts at or after it. Its end is known only from its metadata.
    let candidates: Vec<&Entry> = entries.iter().filter(|e| e.start_unix_ns < to).collect();
    let (spans, unreadable) = read_spans(&candidates);
    warnings.extend(unreadable);
    let merged = merge_spans(dir, &spans, warnings, from, to)?;
    Ok((merged.profile, merged.warnings))
}

/// The [`Span`] of each archive, from its metadata only (the `META` section, not the samples),
/// in the order given; unreadable archives are skipped with a warning each.
pub fn read_spans(entries: &[&Entry]) -> (Vec<Span>, Vec<String>) {
    let parts = in_chunks(entries, |chunk| {
        let mut spans = Vec::with_capacity(chunk.len());
        let mut warnings = Vec::new();
        for e in chunk {
            match archive::read_meta_file(&e.path) {
                Ok(m) => spans.push(Span {
                    path: e.path.clone(),
                    start_unix_ns: m.start_unix_ns,
                    end_unix_ns: m.end_unix_ns,
                }),
                Err(err) => warnings.push(format!("{err}; skipped")),
            }
        }
        (spans, warnings)
    });
    parts.into_iter().fold((Vec::new(), Vec::new()), |(mut spans, mut warnings), (s, w)| {
        spans.extend(s);
        warnings.extend(w);
        (spans, warnings)
    })
}

/// Merges the archives among `spans` (of `dir`, oldest first) that overlap `[from, to)`, as
/// [`load_range`] does; `warnings` are those of listing them, returned with the merge's own.
pub fn merge_spans(
    dir: &Path,
    spans: &[Span],
    mut warnings: Vec<String>,
    from: u64,
    to: u64,
) -> Result<Merged, RangeError> {
    let selected: Vec<&Span> = spans.iter().filter(|s| s.overlaps(from, to)).collect();
    // Reading and decoding the archives is most of the work: split the range into contiguous
    // chunks, merge each on its own thread, then merge the chunks in order. Frames, stacks and
    // samples are interned in first-seen order, so the result is the same as one sequential pass.
    // Samples, off-CPU and wall-clock nanoseconds are never added together: each chunk keeps
    // one part per measure, and the range is the newest archive's measure.
    let chunks = in_chunks(&selected, |chunk| {
        let mut parts: Vec<Part> = Vec::new();
        let mut warnings = Vec::new();
        let mut newest = None;
        for s in chunk {
            match archive::read_file(&s.path) {
                Ok(p) => {
                    let measure = p.meta.event.measure();
                    newest = Some(measure);
                    let part = match parts.iter().position(|part| part.measure == measure) {
                        Some(i) => &mut parts[i],
                        None => {
                            parts.push(Part { measure, builder: None, covered: 0, archives: 0 });
                            parts.last_mut().expect("just pushed")
                        }
                    };
                    absorb(&mut part.builder, &p, dir);
                    part.covered = part.covered.saturating_add(s.duration_ns());
                    part.archives += 1;
                }
                Err(err) => warnings.push(format!("{err}; skipped")),
            }
        }
        (parts, warnings, newest)
    });
    let measure = chunks.iter().rev().find_map(|(_, _, newest)| *newest);
    let mut builder: Option<ProfileBuilder> = None;
    let (mut covered_ns, mut archives) = (0u64, 0usize);
    let mut skipped: Vec<(crate::profile::Measure, usize)> = Vec::new();
    for (parts, part_warnings, _) in chunks {
        warnings.extend(part_warnings);
        for part in parts {
            if Some(part.measure) != measure {
                match skipped.iter_mut().find(|(m, _)| *m == part.measure) {
                    Some((_, n)) => *n += part.archives,
                    None => skipped.push((part.measure, part.archives)),
                }
                continue;
            }
            covered_ns = covered_ns.saturating_add(part.covered);
            archives += part.archives;
            match (builder.as_mut(), part.builder) {
                (_, None) => {}
                (None, Some(b)) => builder = Some(b),
                (Some(_), Some(b)) => absorb(&mut builder, &b.finish(), dir),
            }
        }
    }
    if let Some(measure) = measure {
        for (other, n) in skipped {
            warnings.push(format!(
                "{n} archive{} of {} skipped: the range's newest archive records {}, and the two \
                 cannot be added together (choose a range of one kind)",
                if n == 1 { "" } else { "s" },
                other.describe(),
                measure.describe()
            ));
        }
    }
    match builder {
        Some(b) => Ok(Merged { profile: b.finish(), covered_ns, archives, warnings }),
        None => Err(RangeError::Empty {
            dir: dir.display().to_string(),
            from: crate::profile::format_unix_ns(from),
            to: crate::profile::format_unix_ns(to),
        }),
    }
}

/// The archives of one measure in a chunk of a range, merged.
struct Part {
    measure: crate::profile::Measure,
    builder: Option<ProfileBuilder>,
    covered: u64,
    archives: usize,
}

/// `f` applied to contiguous chunks of `items` on up to 8 threads; the results in order.
fn in_chunks<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let per_chunk = items.len().div_ceil(threads).max(MIN_ARCHIVES_PER_THREAD);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items.chunks(per_chunk).map(|chunk| scope.spawn(move || f(chunk))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
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
