//! `prof report` and the end-of-recording summary: loading a profile from an archive, a pprof
//! profile or a folded file, and describing a recording (samples, losses by reason, top functions).

use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;

use crate::archive;
use crate::output::folded;
use crate::output::pprof;
use crate::output::top;
use crate::profile::{LossReason, Profile};
use crate::record::{EndReason, Recording};

/// Errors while loading a profile.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Reading the file failed.
    #[error("failed to read `{path}`: {source}")]
    Io {
        /// The input.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The archive is invalid.
    #[error(transparent)]
    Archive(#[from] archive::ArchiveError),
    /// The folded file is invalid.
    #[error(transparent)]
    Folded(#[from] folded::FoldedError),
    /// The pprof profile is invalid.
    #[error(transparent)]
    Pprof(#[from] pprof::PprofError),
}

/// Largest folded input read into memory.
const MAX_FOLDED_BYTES: u64 = 4 << 30;

/// A loaded profile and how many malformed lines were skipped (lenient folded input).
#[derive(Debug)]
pub struct Loaded {
    /// The profile.
    pub profile: Profile,
    /// Skipped lines.
    pub skipped_lines: usize,
}

/// Loads an archive (recognized by its magic), a pprof profile (gzip-compressed, or raw
/// protobuf that decodes as one; a `.pb.gz`/`.pprof`/`.pb` name must be one) or a folded file;
/// `-` reads stdin.
pub fn load(path: &Path, lenient: bool) -> Result<Loaded, LoadError> {
    let name = path.display().to_string();
    let io_err = |source| LoadError::Io { path: name.clone(), source };
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        std::io::stdin().lock().take(MAX_FOLDED_BYTES).read_to_end(&mut bytes).map_err(io_err)?;
    } else {
        let mut f = std::fs::File::open(path).map_err(io_err)?;
        let mut prefix = [0u8; 8];
        let n = f.read(&mut prefix).map_err(io_err)?;
        if archive::is_archive(&prefix[..n]) {
            drop(f);
            return Ok(Loaded { profile: archive::read_file(path)?, skipped_lines: 0 });
        }
        // One allocation of the file's size (plus one byte, so that read_to_end sees the end
        // without growing the buffer): growing it as the read goes copies and faults the pages
        // of large folded files again and again.
        let size = f.metadata().map_or(0, |m| m.len()).min(MAX_FOLDED_BYTES);
        bytes.reserve_exact(usize::try_from(size + 1).unwrap_or(0));
        bytes.extend_from_slice(&prefix[..n]);
        f.take(MAX_FOLDED_BYTES).read_to_end(&mut bytes).map_err(io_err)?;
    }
    if archive::is_archive(&bytes) {
        return Ok(Loaded { profile: archive::read(&bytes)?, skipped_lines: 0 });
    }
    if pprof::is_gzip(&bytes) || names_pprof(path) {
        return Ok(Loaded { profile: pprof::read(&bytes, &name)?, skipped_lines: 0 });
    }
    if let Some(profile) = pprof::read_if_raw_pprof(&bytes, &name) {
        return Ok(Loaded { profile: profile?, skipped_lines: 0 });
    }
    let parsed = folded::parse(&bytes, &name, lenient)?;
    Ok(Loaded { profile: parsed.profile, skipped_lines: parsed.skipped_lines })
}

/// Runs `base` and `new`, two loads of `prof diff`, at the same time: `base` on a second thread,
/// `new` on this one. Reading and parsing the inputs is most of a diff's time, and the two are
/// independent. Without a second thread (the system refuses one), `base` runs after `new`.
pub fn load_pair<A: Send, B>(base: impl FnOnce() -> A + Send, new: impl FnOnce() -> B) -> (A, B) {
    let base = std::sync::Mutex::new(Some(base));
    // Takes the `base` job out and runs it: only the first call finds it.
    let run_base = || base.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take().map(|job| job());
    std::thread::scope(|s| {
        let spawned = std::thread::Builder::new().name("prof-load-base".into()).spawn_scoped(s, run_base);
        let new = new();
        let base = match spawned {
            Ok(thread) => thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => run_base(),
        };
        (base.expect("the base job runs exactly once"), new)
    })
}

/// True for a file name that says pprof: `.pb.gz`, `.pprof` or `.pb`.
fn names_pprof(path: &Path) -> bool {
    use crate::output::Format;
    Format::from_path(path) == Some(Format::Pprof) || path.extension().is_some_and(|e| e.eq_ignore_ascii_case("pb"))
}

fn pct(n: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        n as f64 * 100.0 / total as f64
    }
}

/// The end-of-recording summary: what was recorded, samples, losses by reason with
/// percentages, the top functions by self time, and the files written.
pub fn summary(rec: &Recording, written: &[String], top_n: usize) -> String {
    let p = &rec.profile;
    let m = &p.meta;
    let mut s = String::new();
    let cpus = if m.cpus.is_empty() { "?".to_string() } else { format!("{}", m.cpus.len()) };
    let _ = writeln!(
        s,
        "prof: recorded {} for {:.1} s: {} samples from {} processes ({} at {} Hz on {} CPUs)",
        m.target,
        m.duration_secs(),
        m.total_samples,
        rec.processes,
        m.event,
        m.frequency_hz,
        cpus,
    );
    match &rec.ended_by {
        EndReason::CommandExited(status) => {
            let _ = writeln!(s, "  command exited: {status}");
        }
        EndReason::Signal => {
            let _ = writeln!(s, "  stopped by signal; all samples up to the signal are kept");
        }
        EndReason::Duration => {}
    }
    for note in &m.notes {
        let _ = writeln!(s, "  note: {note}");
    }
    let per_sample: Vec<(&LossReason, &u64)> = m.losses.iter().filter(|(r, _)| r.is_per_sample()).collect();
    if per_sample.is_empty() {
        let _ = writeln!(s, "  lost: none (every sample kept its full stack)");
    } else {
        for (reason, n) in per_sample {
            let kept = if reason.drops_sample() { "sample dropped" } else { "sample kept with a placeholder frame" };
            let _ = writeln!(s, "  lost: {n} ({:.2}%) {} ({kept})", pct(*n, m.total_samples), reason.describe());
        }
        if m.losses.keys().any(|r| matches!(r, LossReason::KernelStackMapFull | LossReason::UserStackMapFull)) {
            let _ = writeln!(s, "  hint: raise --stack-map-size");
        }
        if m.losses.contains_key(&LossReason::CountsMapFull) {
            let _ = writeln!(s, "  hint: raise --counts-map-size");
        }
    }
    for (reason, n) in m.losses.iter().filter(|(r, _)| !r.is_per_sample()) {
        let _ = writeln!(s, "  warning: {n} {}", reason.describe());
    }
    if !m.unwind.is_empty() {
        let (samples, complete) = m.unwind.totals();
        if m.unwind.mode == "fp" {
            let _ =
                writeln!(s, "  user stacks: frame pointers (--unwind fp); `prof report --unwind-report` per binary");
        } else {
            let _ = writeln!(
                s,
                "  user stacks ({}): {complete} of {samples} unwound completely ({:.1}%); per binary: `prof report --unwind-report`",
                m.unwind.mode,
                pct(complete, samples)
            );
        }
    }
    let rows: Vec<_> = top::top(p, top_n).into_iter().filter(|r| r.self_count > 0).collect();
    if !rows.is_empty() {
        let _ = writeln!(s, "  top functions by self time:");
        for r in rows {
            let _ = writeln!(s, "    {:6.2}%  {}  {}", r.self_pct, r.name, r.module);
        }
    }
    for w in written {
        let _ = writeln!(s, "  wrote {w}");
    }
    s
}

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
        crate::store::list(dir).map_err(|source| RangeError::List { dir: dir.display().to_string(), source })?;
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
/// skipped with a warning.
pub fn load_range(dir: &Path, from: u64, to: u64) -> Result<(Profile, Vec<String>), RangeError> {
    let (entries, warnings) =
        crate::store::list(dir).map_err(|source| RangeError::List { dir: dir.display().to_string(), source })?;
    merge_range(dir, &entries, warnings, from, to)
}

/// [`load_range`] of a listing already made (`entries` from [`crate::store::list`] of `dir`,
/// and the warnings it gave).
pub fn merge_range(
    dir: &Path,
    entries: &[crate::store::Entry],
    mut warnings: Vec<String>,
    from: u64,
    to: u64,
) -> Result<(Profile, Vec<String>), RangeError> {
    // The last archive's end is unknown from names alone: assume the usual spacing.
    let hint = match entries {
        [.., a, b] => std::time::Duration::from_nanos(b.start_unix_ns.saturating_sub(a.start_unix_ns)),
        _ => std::time::Duration::from_secs(10),
    };
    let selected = crate::store::select(entries, from, to, hint);
    // Reading and decoding the archives is most of the work: split the range into contiguous
    // chunks, merge each on its own thread, then merge the chunks in order. Frames, stacks and
    // samples are interned in first-seen order, so the result is the same as one sequential pass.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let per_chunk = selected.len().div_ceil(threads).max(MIN_ARCHIVES_PER_THREAD);
    let chunks: Vec<(Option<crate::profile::ProfileBuilder>, Vec<String>)> = std::thread::scope(|scope| {
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
    let mut builder: Option<crate::profile::ProfileBuilder> = None;
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
fn absorb(builder: &mut Option<crate::profile::ProfileBuilder>, p: &Profile, dir: &Path) {
    let b = builder.get_or_insert_with(|| {
        let mut meta = p.meta.clone();
        meta.total_samples = 0;
        meta.losses.clear();
        meta.unwind = Default::default();
        meta.start_unix_ns = u64::MAX;
        meta.end_unix_ns = 0;
        meta.target = format!("{} from `{}`", p.meta.target, dir.display());
        crate::profile::ProfileBuilder::new(meta)
    });
    b.merge(p);
    let m = b.meta_mut();
    m.total_samples = m.total_samples.saturating_add(p.meta.total_samples);
    for (r, n) in &p.meta.losses {
        *m.losses.entry(*r).or_default() += n;
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
