//! The archive directory of continuous recording: one `.prof` archive per interval, named so
//! names never collide, listed without following links, cleaned up after a crash, and trimmed by
//! retention. Only files whose names prof itself writes are ever touched.
//!
//! Name: `prof-<start>-<recorder pid>-<sequence>.prof`, e.g.
//! `prof-20261125T140500.123Z-4242-000017.prof`: the start time (UTC, from the monotonic clock
//! plus a wall-clock offset) sorts names by time, and the recorder's PID and its sequence number
//! keep them unique even when the wall clock steps back or two recorders share a directory.
//! Archives are written as `.prof-….prof.tmp` and renamed (see [`crate::archive::write_file`]), so
//! after a crash only such a temp file can be partial.

mod range;

pub use range::{list_dir, load_range, merge_range, IntervalInfo, RangeError};

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One archive of the directory.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// Interval start, nanoseconds since the Unix epoch (from the name).
    pub start_unix_ns: u64,
    /// PID of the recorder that wrote it.
    pub recorder_pid: u32,
    /// Sequence number within that recorder's run.
    pub seq: u64,
    /// Path of the file.
    pub path: PathBuf,
    /// Size in bytes.
    pub bytes: u64,
}

/// Prefix of every file prof writes in the directory.
pub const PREFIX: &str = "prof-";
/// Extension of archives.
pub const EXTENSION: &str = ".prof";

/// Formats `unix_ns` as `YYYYMMDDTHHMMSS.mmmZ` (UTC).
fn stamp(unix_ns: u64) -> String {
    let t = UNIX_EPOCH + Duration::from_nanos(unix_ns);
    // RFC 3339 with milliseconds, then drop the separators that are awkward in file names.
    let s = humantime::format_rfc3339_millis(t).to_string(); // 2026-11-25T14:05:00.123Z
    s.replace(['-', ':'], "")
}

fn parse_stamp(s: &str) -> Option<u64> {
    // 20261125T140500.123Z → 2026-11-25T14:05:00.123Z
    if s.len() != 20 || !s.ends_with('Z') {
        return None;
    }
    let rfc = format!("{}-{}-{}T{}:{}:{}", &s[0..4], &s[4..6], &s[6..8], &s[9..11], &s[11..13], &s[13..]);
    let t = humantime::parse_rfc3339(&rfc).ok()?;
    Some(t.duration_since(UNIX_EPOCH).ok()?.as_nanos() as u64)
}

/// The file name of an archive.
pub fn archive_name(start_unix_ns: u64, recorder_pid: u32, seq: u64) -> String {
    format!("{PREFIX}{}-{recorder_pid}-{seq:06}{EXTENSION}", stamp(start_unix_ns))
}

/// Parses a name written by [`archive_name`]; anything else is not ours.
pub fn parse_name(name: &str) -> Option<(u64, u32, u64)> {
    let body = name.strip_prefix(PREFIX)?.strip_suffix(EXTENSION)?;
    let mut parts = body.split('-');
    let start = parse_stamp(parts.next()?)?;
    let pid = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((start, pid, seq))
}

/// Creates the directory (mode 0700) if needed, and checks it is a directory, not a link.
pub fn ensure_dir(dir: &Path) -> io::Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(io::Error::other(format!("`{}` is not a directory", dir.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::DirBuilder::new().recursive(true).mode(0o700).create(dir),
        Err(e) => Err(e),
    }
}

/// Lists prof's archives in `dir`, oldest first. Links, directories, FIFOs and files with other
/// names are skipped (returned as warnings), never followed.
pub fn list(dir: &Path) -> io::Result<(Vec<Entry>, Vec<String>)> {
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    for de in fs::read_dir(dir)? {
        let de = de?;
        let name = de.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((start, pid, seq)) = parse_name(name) else { continue };
        let meta = fs::symlink_metadata(de.path())?;
        if !meta.file_type().is_file() {
            skipped.push(format!("`{}` is not a regular file; skipped", de.path().display()));
            continue;
        }
        entries.push(Entry { start_unix_ns: start, recorder_pid: pid, seq, path: de.path(), bytes: meta.size() });
    }
    entries.sort();
    Ok((entries, skipped))
}

/// Removes the temp files of archives that were being written when a recorder crashed (they
/// were never renamed, so they are incomplete by construction). Returns the paths removed.
pub fn recover(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for de in fs::read_dir(dir)? {
        let de = de?;
        let name = de.file_name();
        let Some(name) = name.to_str() else { continue };
        // archive::write_file's temp files: `.{final name}.{random}.tmp`.
        let Some(inner) = name.strip_prefix('.') else { continue };
        let Some(final_name) = inner.split(".prof.").next().map(|s| format!("{s}.prof")) else { continue };
        if !name.ends_with(".tmp") || parse_name(&final_name).is_none() {
            continue;
        }
        if fs::symlink_metadata(de.path())?.file_type().is_file() {
            fs::remove_file(de.path())?;
            removed.push(de.path());
        }
    }
    Ok(removed)
}

/// How much of the directory to keep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// Keep at most this many bytes of archives (oldest deleted first).
    pub max_bytes: Option<u64>,
    /// Delete archives that started longer ago than this.
    pub max_age: Option<Duration>,
}

/// Deletes prof's oldest archives until the directory fits `retention` at time `now`. Returns
/// the paths deleted. Only regular files with prof's names are considered.
pub fn apply_retention(dir: &Path, retention: Retention, now: SystemTime) -> io::Result<Vec<PathBuf>> {
    let (entries, _) = list(dir)?;
    let now_ns = now.duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
    let mut deleted = Vec::new();
    for e in &entries {
        let too_old =
            retention.max_age.is_some_and(|age| now_ns.saturating_sub(e.start_unix_ns) > age.as_nanos() as u64);
        let too_big = retention.max_bytes.is_some_and(|max| total > max);
        if !too_old && !too_big {
            break;
        }
        fs::remove_file(&e.path)?;
        total -= e.bytes;
        deleted.push(e.path.clone());
    }
    Ok(deleted)
}

/// The archives whose interval overlaps `[from, to)` (nanoseconds since the epoch). An archive's
/// end is taken as the next archive's start, or `from`'s side is inclusive of any archive
/// starting before `to` and ending after `from`; `interval_hint` bounds the last one.
pub fn select(entries: &[Entry], from: u64, to: u64, interval_hint: Duration) -> Vec<&Entry> {
    entries
        .iter()
        .enumerate()
        .filter(|(i, e)| {
            let end = entries
                .get(i + 1)
                .map(|n| n.start_unix_ns)
                .unwrap_or(e.start_unix_ns + interval_hint.as_nanos() as u64);
            e.start_unix_ns < to && end.max(e.start_unix_ns + 1) > from
        })
        .map(|(_, e)| e)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names round-trip, sort by time, and anything else is not ours.
    #[test]
    fn store_names_round_trip() {
        let t = 1_795_000_000_123_000_000u64;
        let name = archive_name(t, 4242, 17);
        assert_eq!(name, "prof-20261118T110640.123Z-4242-000017.prof");
        assert_eq!(parse_name(&name), Some((t, 4242, 17)));
        assert!(archive_name(t, 1, 1) < archive_name(t + 1_000_000, 1, 0));
        for bad in [
            "prof-x-1-1.prof",
            "other.prof",
            "prof-20261118T110640.123Z-4242-000017.prof.tmp",
            "prof-20261118T083320.123Z-1-2-3.prof",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }
}
