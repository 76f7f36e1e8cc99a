//! The archive directory of continuous recording: one `.prof` archive per interval, named so
//! names never collide, listed without following links, cleaned up after a crash, and trimmed by
//! retention. Only files whose names prof itself writes are ever touched.
//!
//! Name: `prof-<start>-<recorder pid>-<sequence>.prof`, e.g.
//! `prof-20261125T140500.123Z-4242-000017.prof`: the start time (UTC, from the monotonic clock
//! plus a wall-clock offset) sorts names by time, and the recorder's PID and its sequence number
//! keep them unique even when the wall clock steps back or two recorders share a directory.
//! Archives are written as `.prof-….prof.tmp` and renamed (see [`crate::archive::write_file`]), so
//! after a crash only such a temp file can be partial: [`recover`] moves those into the
//! `quarantine/` subdirectory, which listing and retention never enter.

mod quarantine;
mod range;

pub use quarantine::{recover, Quarantined, QUARANTINE_DIR};
pub use range::{list_dir, load_range, merge_spans, read_spans, IntervalInfo, Merged, RangeError, Span};

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One archive of the directory.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// Interval start, nanoseconds since the Unix epoch, from the name: truncated to the
    /// millisecond (the real times are in the archive's metadata, see [`Span`]).
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

/// Parses a stamp written by [`stamp`]: exactly `YYYYMMDDTHHMMSS.mmmZ` in ASCII, a real date,
/// within the nanoseconds a `u64` holds. Total: any other string is `None`, never a panic.
fn parse_stamp(s: &str) -> Option<u64> {
    const SHAPE: &[u8; 20] = b"ddddddddTdddddd.dddZ";
    let b = s.as_bytes();
    if b.len() != SHAPE.len() {
        return None;
    }
    let shaped = b.iter().zip(SHAPE).all(|(&c, &want)| if want == b'd' { c.is_ascii_digit() } else { c == want });
    if !shaped {
        return None;
    }
    // All ASCII, so every byte index is a char boundary.
    // 20261125T140500.123Z → 2026-11-25T14:05:00.123Z
    let rfc = format!("{}-{}-{}T{}:{}:{}", &s[0..4], &s[4..6], &s[6..8], &s[9..11], &s[11..13], &s[13..]);
    let t = humantime::parse_rfc3339(&rfc).ok()?;
    u64::try_from(t.duration_since(UNIX_EPOCH).ok()?.as_nanos()).ok()
}

/// Parses a decimal number of ASCII digits only (no sign, no spaces); `None` when it does not
/// fit `T`.
fn parse_digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The file name of an archive.
pub fn archive_name(start_unix_ns: u64, recorder_pid: u32, seq: u64) -> String {
    format!("{PREFIX}{}-{recorder_pid}-{seq:06}{EXTENSION}", stamp(start_unix_ns))
}

/// Parses a name written by [`archive_name`] into (start, truncated to the millisecond;
/// recorder PID; sequence number). Anything else is not ours and gives `None`: the parser is
/// total (any string, no panic), and only the exact spelling [`archive_name`] produces is
/// accepted (no signs, no extra leading zeros), so `parse_name(archive_name(t, p, s))` is
/// `Some((t_ms, p, s))`.
pub fn parse_name(name: &str) -> Option<(u64, u32, u64)> {
    let body = name.strip_prefix(PREFIX)?.strip_suffix(EXTENSION)?;
    let mut parts = body.split('-');
    let start = parse_stamp(parts.next()?)?;
    let pid = parse_digits(parts.next()?)?;
    let seq = parse_digits(parts.next()?)?;
    if parts.next().is_some() || archive_name(start, pid, seq) != name {
        return None;
    }
    Some((start, pid, seq))
}

/// What [`ensure_dir`] found or did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirState {
    /// The directory did not exist and was created (mode 0700).
    Created,
    /// It exists, is owned by this user or root, and only its owner can write to it.
    Existing,
    /// It exists and is owned by this user, but group or others could write to it (`mode`, the
    /// permission bits it had): it was changed to 0700.
    Tightened {
        /// The permission bits before.
        mode: u32,
    },
}

/// Creates the directory (mode 0700) if needed, and checks it is a directory, not a link, that
/// no other user can plant or remove files in: it must be owned by this user or root, and one
/// writable by group or others is made 0700 when it is this user's, refused otherwise.
pub fn ensure_dir(dir: &Path) -> io::Result<DirState> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => check_owner_and_mode(dir, &m, euid()),
        Ok(_) => Err(io::Error::other(format!("`{}` is not a directory", dir.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
            Ok(DirState::Created)
        }
        Err(e) => Err(e),
    }
}

/// The effective user ID of this process (the second field of `Uid:` in `/proc/self/status`;
/// unreadable, it is taken as root's, which refuses more directories, never fewer).
fn euid() -> u32 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|id| id.parse().ok())
        .unwrap_or(0)
}

/// [`ensure_dir`]'s check of an existing directory, for the user `uid`.
fn check_owner_and_mode(dir: &Path, meta: &fs::Metadata, uid: u32) -> io::Result<DirState> {
    let (owner, mode) = (meta.uid(), meta.mode() & 0o7777);
    if owner != uid && owner != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "owned by uid {owner}, not by this user (uid {uid}) or root, so that user could plant or remove \
                 archives; expected a directory of this user's"
            ),
        ));
    }
    if mode & 0o022 == 0 {
        return Ok(DirState::Existing);
    }
    if owner != uid {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "writable by group or others (mode {mode:04o}) and owned by root, so this user cannot make it \
                 private; expected a directory only its owner can write to"
            ),
        ));
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    Ok(DirState::Tightened { mode })
}

/// Lists prof's archives in `dir`, oldest first. Links, directories, FIFOs and files with other
/// names are skipped (returned as warnings), never followed. A file removed while the directory
/// is read (e.g. by another recorder's retention) is simply not listed; a file whose metadata
/// cannot be read is skipped with a warning naming it. Only an unreadable directory fails.
pub fn list(dir: &Path) -> io::Result<(Vec<Entry>, Vec<String>)> {
    list_with(dir, |path| fs::symlink_metadata(path))
}

/// [`list`], with the `lstat` of each entry given (tests make it fail).
fn list_with(dir: &Path, lstat: impl Fn(&Path) -> io::Result<fs::Metadata>) -> io::Result<(Vec<Entry>, Vec<String>)> {
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    for de in fs::read_dir(dir)? {
        let de = de?;
        let name = de.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((start, pid, seq)) = parse_name(name) else { continue };
        let path = de.path();
        let meta = match lstat(&path) {
            Ok(meta) => meta,
            // Gone between reading the directory and looking at the file.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                skipped.push(format!("cannot read the metadata of `{}` ({e}); skipped", path.display()));
                continue;
            }
        };
        if !meta.file_type().is_file() {
            skipped.push(format!("`{}` is not a regular file; skipped", path.display()));
            continue;
        }
        entries.push(Entry { start_unix_ns: start, recorder_pid: pid, seq, path, bytes: meta.size() });
    }
    entries.sort();
    Ok((entries, skipped))
}

/// How much of the directory to keep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// Keep at most this many bytes of archives (oldest deleted first).
    pub max_bytes: Option<u64>,
    /// Delete archives that started longer ago than this.
    pub max_age: Option<Duration>,
}

/// What [`apply_retention`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Retained {
    /// The archives deleted, oldest first.
    pub deleted: Vec<PathBuf>,
    /// When the archives that are always kept (the newest, and the caller's) alone exceed
    /// [`Retention::max_bytes`]: their bytes. The size limit is then smaller than one archive.
    pub over_size: Option<u64>,
}

/// Deletes prof's oldest archives until the directory fits `retention` at time `now`, but never
/// the newest archive, nor `keep` (the archive just written, which is not the newest by name
/// after the wall clock stepped back): a limit below one archive keeps one, not none. Only
/// regular files with prof's names are considered; one removed meanwhile by someone else is
/// not an error.
pub fn apply_retention(dir: &Path, retention: Retention, now: SystemTime, keep: Option<&Path>) -> io::Result<Retained> {
    let (entries, _) = list(dir)?;
    let now_ns = now.duration_since(UNIX_EPOCH).map_or(0, saturating_ns);
    let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
    let newest = entries.last().map(|e| e.path.clone());
    let mut deleted = Vec::new();
    for e in &entries {
        if Some(&e.path) == newest.as_ref() || keep == Some(e.path.as_path()) {
            continue;
        }
        // Compared as durations: an age beyond u64 nanoseconds (~584 years) keeps everything.
        let too_old =
            retention.max_age.is_some_and(|age| Duration::from_nanos(now_ns.saturating_sub(e.start_unix_ns)) > age);
        let too_big = retention.max_bytes.is_some_and(|max| total > max);
        if !too_old && !too_big {
            break;
        }
        match fs::remove_file(&e.path) {
            Ok(()) => deleted.push(e.path.clone()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(io::Error::new(err.kind(), format!("cannot delete `{}`: {err}", e.path.display()))),
        }
        total -= e.bytes;
    }
    let over_size = retention.max_bytes.is_some_and(|max| total > max).then_some(total);
    Ok(Retained { deleted, over_size })
}

/// `d` in nanoseconds, at most `u64::MAX`.
fn saturating_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
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

    /// A root-owned directory others can write to cannot be made private by another user: it is
    /// refused, naming its mode.
    #[test]
    fn store_ensure_dir_refuses_a_shared_root_directory_to_other_users() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let meta = fs::symlink_metadata(dir.path()).unwrap();
        if meta.uid() != 0 {
            eprintln!("SKIPPED store_ensure_dir_refuses_a_shared_root_directory_to_other_users: not root");
            return;
        }
        let err = check_owner_and_mode(dir.path(), &meta, 12345).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert!(err.to_string().contains("writable by group or others (mode 0777)"), "{err}");
        assert_eq!(check_owner_and_mode(dir.path(), &meta, 0).unwrap(), DirState::Tightened { mode: 0o777 });
    }

    /// A file that vanishes between reading the directory and its `lstat` is not listed and not
    /// an error; any other failure to read one file's metadata is a warning naming the file
    /// (the OS error once), and the other archives are still listed.
    #[test]
    fn store_list_survives_files_failing_or_vanishing_mid_scan() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let t = 1_795_000_000_123_000_000u64;
        let names: Vec<String> = (0..3).map(|i| archive_name(t + i * 1_000_000_000, 1, i)).collect();
        for n in &names {
            fs::write(d.join(n), "x").unwrap();
        }
        let (gone, broken) = (d.join(&names[0]), d.join(&names[1]));
        let (entries, warnings) = list_with(d, |path| {
            if path == gone {
                Err(io::Error::from(io::ErrorKind::NotFound))
            } else if path == broken {
                Err(io::Error::from_raw_os_error(libc::EIO))
            } else {
                fs::symlink_metadata(path)
            }
        })
        .expect("one file's failure does not fail the listing");
        assert_eq!(entries.iter().map(|e| e.path.clone()).collect::<Vec<_>>(), vec![d.join(&names[2])]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let os = io::Error::from_raw_os_error(libc::EIO).to_string();
        assert!(warnings[0].contains(&format!("`{}`", broken.display())), "{}", warnings[0]);
        assert_eq!(warnings[0].matches(&os).count(), 1, "{}", warnings[0]);
    }

    /// Hostile names (non-ASCII where digits belong, too long, empty parts, numbers that
    /// overflow, signs, impossible dates) are simply not ours: `None`, never a panic.
    #[test]
    fn store_parse_name_rejects_hostile_names() {
        let long = format!("prof-{}-1-1.prof", "9".repeat(10_000));
        for bad in [
            "prof-202é1125T140500.12Z-1-1.prof",
            "prof-2026112é5T140500.1Z-1-1.prof",
            "prof-20261125T140500.123Z-é-1.prof",
            "prof-20261125T140500.12éZ-1-1.prof",
            "prof-٢٠٢٦١١٢٥T140500.123Z-1-1.prof",
            &long,
            "",
            "prof-",
            "prof-.prof",
            "prof---.prof",
            "prof-20261125T140500.123Z--.prof",
            "prof-20261125T140500.123Z-1-.prof",
            "prof-20261125T140500.123Z-1-99999999999999999999999.prof",
            "prof-20261125T140500.123Z-4294967296-1.prof",
            "prof-20261125T140500.123Z-+1-000001.prof",
            "prof-20261125T140500.123Z-1-+00001.prof",
            "prof-20261125T140500.123Z-01-000001.prof",
            "prof-20261125T140500.123Z-1-1.prof",
            "prof-20261325T140500.123Z-1-000001.prof",
            "prof-20260230T140500.123Z-1-000001.prof",
            "prof-99991231T235959.999Z-1-000001.prof",
            "prof-19691231T235959.999Z-1-000001.prof",
            "prof-20261125t140500.123z-1-000001.prof",
        ] {
            assert_eq!(parse_name(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_name("prof-20261125T140500.123Z-4294967295-18446744073709551615.prof"),
            Some((1_795_615_500_123_000_000, u32::MAX, u64::MAX))
        );
    }

    /// Property: for any start, PID and sequence, the name parses back (the start truncated to
    /// the millisecond); any string made from a name by replacing, inserting or cutting
    /// characters (ASCII or not) parses to `None` or to a name that formats back to itself.
    #[test]
    fn store_parse_name_is_total_and_inverts_archive_name() {
        let mut rng = fastrand::Rng::with_seed(12);
        let pieces = ['0', '9', 'T', 'Z', '.', '-', 'é', '٣', '\u{10FFFF}', '\0', ' ', '+', 'p'];
        for _ in 0..20_000 {
            let (t, pid, seq) = (rng.u64(..), rng.u32(..), if rng.bool() { rng.u64(..1_000_000) } else { rng.u64(..) });
            let name = archive_name(t, pid, seq);
            assert_eq!(parse_name(&name), Some((t - t % 1_000_000, pid, seq)), "{name}");

            let mut chars: Vec<char> = name.chars().collect();
            for _ in 0..rng.usize(1..4) {
                let at = rng.usize(..=chars.len());
                match rng.u8(..3) {
                    0 if at < chars.len() => chars[at] = pieces[rng.usize(..pieces.len())],
                    1 => chars.insert(at, pieces[rng.usize(..pieces.len())]),
                    _ => chars.truncate(at),
                }
            }
            let mutated: String = chars.into_iter().collect();
            if let Some((t, pid, seq)) = parse_name(&mutated) {
                assert_eq!(archive_name(t, pid, seq), mutated);
            }
        }
    }
}
