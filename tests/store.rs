//! The archive directory of continuous recording, without BPF: names, listing that never follows
//! links, crash recovery, retention that touches only prof's files, and time-range merges.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prof::profile::{Frame, FrameKind, LossReason, Metadata, Profile, ProfileBuilder};
use prof::store;

use common::{SEC, T0};

/// An archive of interval `i` (10 s each from T0) with `n` samples of `leaf`.
fn write_interval(dir: &Path, i: u64, leaf: &str, n: u64) -> std::path::PathBuf {
    let meta =
        Metadata { losses: [(LossReason::UserStackFault, 1)].into_iter().collect(), ..common::interval_meta(i, n) };
    let mut b = ProfileBuilder::new(meta);
    let f = b.frame(Frame::new(leaf, "app", FrameKind::User));
    let s = b.stack(vec![f]);
    b.add(s, 1, "app", n);
    let path = dir.join(store::archive_name(T0 + i * 10 * SEC, 42, i));
    prof::archive::write_file(&b.finish(), &path).unwrap();
    path
}

/// Listing returns prof's archives oldest first and skips (never follows) links, directories and
/// foreign names; recovery moves only prof's unfinished temp files, into `quarantine/`.
#[test]
fn store_list_and_recover_touch_only_own_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = write_interval(d, 1, "f", 10);
    let b = write_interval(d, 0, "f", 10);
    std::fs::write(d.join("notes.txt"), "keep").unwrap();
    std::fs::write(d.join(".notes.txt.abc.tmp"), "keep").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", d.join(store::archive_name(T0 + 99 * SEC, 1, 0))).unwrap();
    std::fs::create_dir(d.join(store::archive_name(T0 + 98 * SEC, 1, 0))).unwrap();
    let partial = d.join(format!(".{}.Xy12Z.tmp", store::archive_name(T0 + 20 * SEC, 42, 2)));
    std::fs::write(&partial, "half an archive").unwrap();

    let (entries, skipped) = store::list(d).unwrap();
    assert_eq!(entries.iter().map(|e| e.path.clone()).collect::<Vec<_>>(), vec![b, a]);
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    let moved = store::recover(d).unwrap();
    let kept = d.join(store::QUARANTINE_DIR).join(partial.file_name().unwrap());
    assert_eq!(moved, vec![store::Quarantined { from: partial.clone(), to: kept.clone() }]);
    assert!(!partial.exists());
    assert_eq!(std::fs::read(&kept).unwrap(), b"half an archive");
    assert!(d.join("notes.txt").exists() && d.join(".notes.txt.abc.tmp").exists());
    assert!(std::fs::read_to_string("/etc/passwd").is_ok());
}

/// Files a local user may plant with names almost like prof's (non-ASCII where digits belong,
/// numbers that overflow, very long) are foreign names: listing, recovery and retention go on
/// around them and leave them alone.
#[test]
fn store_hostile_names_are_foreign() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = write_interval(d, 0, "f", 10);
    let hostile = [
        "prof-202é1125T140500.12Z-1-1.prof".to_string(),
        "prof-20261125T140500.123Z-1-99999999999999999999999.prof".to_string(),
        "prof-20261125T140500.123Z-4294967296-000001.prof".to_string(),
        format!("prof-{}-1-1.prof", "é".repeat(100)),
        ".prof-202é1125T140500.12Z-1-1.prof.x.tmp".to_string(),
    ];
    for name in &hostile {
        std::fs::write(d.join(name), "planted").unwrap();
    }
    let (entries, skipped) = store::list(d).unwrap();
    assert_eq!(entries.iter().map(|e| e.path.clone()).collect::<Vec<_>>(), vec![a.clone()]);
    assert!(skipped.is_empty(), "{skipped:?}");
    assert!(store::recover(d).unwrap().is_empty());
    let all = store::Retention { max_bytes: Some(1), max_age: Some(Duration::from_secs(1)) };
    store::apply_retention(d, all, SystemTime::now(), None).unwrap();
    for name in &hostile {
        assert!(d.join(name).exists(), "{name} was touched");
    }
}

/// The archive directory is created 0700; an existing one of this user's that group or others
/// can write to is made 0700 (and says what it was); one owned by another user is refused, so no
/// local user can plant files for a root recorder.
#[test]
fn store_ensure_dir_makes_private_or_refuses() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("a/b");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o7777;
    assert_eq!(store::ensure_dir(&d).unwrap(), store::DirState::Created);
    assert_eq!(mode(&d), 0o700);
    assert_eq!(store::ensure_dir(&d).unwrap(), store::DirState::Existing);
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(store::ensure_dir(&d).unwrap(), store::DirState::Existing, "readable is not writable");
    for shared in [0o777, 0o1777, 0o770, 0o702] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(shared)).unwrap();
        assert_eq!(store::ensure_dir(&d).unwrap(), store::DirState::Tightened { mode: shared });
        assert_eq!(mode(&d), 0o700);
    }

    if std::fs::metadata(&d).unwrap().uid() != 0 {
        eprintln!("SKIPPED store_ensure_dir_makes_private_or_refuses (another owner): not root");
        return;
    }
    std::os::unix::fs::chown(&d, Some(12345), None).unwrap();
    for other in [0o700, 0o777] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(other)).unwrap();
        let err = store::ensure_dir(&d).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
        assert!(err.to_string().contains("owned by uid 12345, not by this user (uid 0) or root"), "{err}");
        assert_eq!(mode(&d), other, "a refused directory was changed");
    }
}

/// Retention deletes prof's oldest archives first, by size and by age, and nothing else.
#[test]
fn store_retention_deletes_oldest_own_archives() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let paths: Vec<_> = (0..6).map(|i| write_interval(d, i, "f", 10)).collect();
    let link = d.join(store::archive_name(T0 - 100 * SEC, 1, 0));
    std::os::unix::fs::symlink(&paths[5], &link).unwrap();
    let size = std::fs::metadata(&paths[0]).unwrap().len();
    // Keep 4 archives' worth of bytes: the two oldest go.
    let deleted = store::apply_retention(
        d,
        store::Retention { max_bytes: Some(4 * size), max_age: None },
        SystemTime::now(),
        None,
    )
    .unwrap();
    assert_eq!(deleted, store::Retained { deleted: paths[..2].to_vec(), over_size: None });
    // Keep what started in the last 25 s of "now" = T0 + 60 s: intervals 4 and 5 (starts 40 s, 50 s).
    let now = UNIX_EPOCH + Duration::from_nanos(T0 + 60 * SEC);
    let deleted = store::apply_retention(
        d,
        store::Retention { max_bytes: None, max_age: Some(Duration::from_secs(25)) },
        now,
        None,
    )
    .unwrap();
    assert_eq!(deleted.deleted, paths[2..4].to_vec());
    assert!(paths[4].exists() && paths[5].exists());
    assert!(std::fs::symlink_metadata(&link).is_ok(), "a link was touched");
}

/// A size limit below one archive never deletes the newest archive, nor the one the caller
/// names (just written, though older by name after a clock step), and says how much is kept;
/// an age limit the newest archive exceeds keeps it too.
#[test]
fn store_retention_keeps_the_newest_archive() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let paths: Vec<_> = (0..4).map(|i| write_interval(d, i, "f", 10)).collect();
    let size = |i: usize| std::fs::metadata(&paths[i]).unwrap().len();
    let tiny = store::Retention { max_bytes: Some(size(3) / 2), max_age: None };
    let r = store::apply_retention(d, tiny, SystemTime::now(), Some(&paths[1])).unwrap();
    assert_eq!(
        r,
        store::Retained { deleted: vec![paths[0].clone(), paths[2].clone()], over_size: Some(size(1) + size(3)) }
    );
    let r = store::apply_retention(d, tiny, SystemTime::now(), None).unwrap();
    assert_eq!(r, store::Retained { deleted: vec![paths[1].clone()], over_size: Some(size(3)) });
    assert!(paths[3].exists());
    let old = store::Retention { max_bytes: None, max_age: Some(Duration::from_secs(1)) };
    let r = store::apply_retention(d, old, SystemTime::now(), None).unwrap();
    assert_eq!(r, store::Retained::default());
    assert!(paths[3].exists());
}

/// An age beyond what u64 nanoseconds hold (`--retain-age 213504d`, or `Duration::MAX`) keeps
/// every archive instead of wrapping to a few days and deleting old ones.
#[test]
fn store_retention_huge_age_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 2023-06-01T00:00:00Z.
    let path = d.join(store::archive_name(1_685_577_600 * SEC, 42, 0));
    std::fs::write(&path, "an archive of 2023").unwrap();
    for age in [Duration::from_secs(213_504 * 86_400), Duration::from_secs(u64::MAX), Duration::MAX] {
        let deleted = store::apply_retention(
            d,
            store::Retention { max_bytes: None, max_age: Some(age) },
            SystemTime::now(),
            None,
        )
        .unwrap()
        .deleted;
        assert!(deleted.is_empty() && path.exists(), "{age:?} deleted {deleted:?}");
    }
    // A time range reaching the end of u64 nanoseconds does not overflow either.
    let span = |start, end| store::Span { path: path.clone(), start_unix_ns: start, end_unix_ns: end };
    assert!(span(u64::MAX - 1, u64::MAX).overlaps(0, u64::MAX));
    assert!(!span(u64::MAX, u64::MAX).overlaps(u64::MAX - 1, u64::MAX));
    assert!(span(u64::MAX - 1, u64::MAX - 1).overlaps(u64::MAX - 1, u64::MAX));
    assert_eq!(span(5, 2).duration_ns(), 0);
}

/// A range covers exactly the intervals whose real time (from their metadata, in nanoseconds)
/// overlaps it, half-open: one interval selected by its own bounds gives exactly its samples
/// (the next one, whose name's millisecond start lies before the bound, is not included), a
/// range ending at an interval's start or starting at an interval's end leaves it out, and the
/// time covered is the sum of the selected intervals' durations, without the gap where
/// recording stopped.
#[test]
fn store_range_is_exact_to_the_nanosecond() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for i in [0, 1, 2, 3, 4, 6, 7] {
        common::write_odd_interval(d, i);
    }
    let start = common::odd_start;
    let samples = |from, to| {
        let (p, warnings) = store::load_range(d, from, to).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let mut leaves: Vec<String> =
            p.samples.iter().map(|s| p.frames[p.stacks[s.stack as usize][0] as usize].name.clone()).collect();
        leaves.sort();
        (p.total(), leaves)
    };
    assert_eq!(samples(start(3), start(4)), (103, vec!["f3".to_string()]));
    assert_eq!(samples(start(1), start(3)), (101 + 102, vec!["f1".to_string(), "f2".to_string()]));
    assert_eq!(samples(start(3) - 1, start(3) + 1), (102 + 103, vec!["f2".to_string(), "f3".to_string()]));
    assert_eq!(samples(start(4) - 1, start(4)).0, 103);
    assert!(store::load_range(d, start(5), start(6)).is_err(), "the gap holds no interval");

    let (entries, _) = store::list(d).unwrap();
    let (spans, warnings) = store::read_spans(&entries.iter().collect::<Vec<_>>());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!((spans[3].start_unix_ns, spans[3].end_unix_ns), (start(3), start(4)));
    let m = store::merge_spans(d, &spans, Vec::new(), start(3), start(8)).unwrap();
    assert_eq!((m.archives, m.profile.total()), (4, 103 + 104 + 106 + 107));
    assert_eq!(m.covered_ns, 8 * SEC, "the sum of four 2 s intervals, not the 10 s span");
    assert_eq!((m.profile.meta.start_unix_ns, m.profile.meta.end_unix_ns), (start(3), start(8)));
}

/// A time range merges exactly the archives overlapping it: samples and losses summed, times
/// spanning them; a corrupt archive is skipped with a warning, not an error for the directory.
#[test]
fn store_range_merge_sums_overlapping_archives() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for i in 0..6 {
        write_interval(d, i, if i < 3 { "early" } else { "late" }, 10 + i);
    }
    // 25 s – 45 s overlaps intervals 2 (20–30), 3 (30–40), 4 (40–50).
    let (p, warnings) = prof::store::load_range(d, T0 + 25 * SEC, T0 + 45 * SEC).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(p.total(), 12 + 13 + 14);
    assert_eq!(p.meta.total_samples, 39);
    assert_eq!(p.meta.losses.get(&LossReason::UserStackFault), Some(&3));
    assert_eq!((p.meta.start_unix_ns, p.meta.end_unix_ns), (T0 + 20 * SEC, T0 + 50 * SEC));
    let names: Vec<&str> = p.frames.iter().map(|f| f.name.as_str()).collect();
    assert!(names.contains(&"early") && names.contains(&"late"));

    // Corrupt interval 3: skipped with a warning naming it.
    let (entries, _) = store::list(d).unwrap();
    std::fs::write(&entries[3].path, b"PROFARC\0garbage").unwrap();
    let (p, warnings) = prof::store::load_range(d, T0 + 25 * SEC, T0 + 45 * SEC).unwrap();
    assert_eq!(p.total(), 12 + 14);
    assert!(warnings.len() == 1 && warnings[0].contains(entries[3].path.file_name().unwrap().to_str().unwrap()));

    assert!(prof::store::load_range(d, T0 + 1000 * SEC, T0 + 2000 * SEC).is_err());
    let _: Profile = p;
}

/// A range of many archives (merged in chunks on several threads) gives exactly the profile of
/// one sequential merge: same frames, stacks and samples in the same order, counts and losses
/// summed, notes of mixed rates kept, corrupt archives skipped in whichever chunk they fall.
#[test]
fn store_range_merge_of_many_archives_equals_sequential_merge() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut archives = Vec::new();
    for i in 0..100u64 {
        let mut meta = Metadata {
            losses: [(LossReason::UserStackFault, i % 3)].into_iter().collect(),
            ..common::interval_meta(i, 0)
        };
        if i == 70 {
            meta.frequency_hz = 49;
        }
        let mut b = ProfileBuilder::new(meta);
        let root = b.frame(Frame::new("main", "app", FrameKind::User));
        // Frames first seen in different intervals, so interning order matters.
        for k in 0..(1 + i % 7) {
            let leaf = b.frame(Frame::new(format!("f{}", (i * 7 + k * 13) % 151), "app", FrameKind::User));
            let s = b.stack(vec![root, leaf]);
            b.add(s, 1 + (k % 2) as u32, if k % 3 == 0 { "app" } else { "worker" }, 1 + (i * k) % 5);
        }
        let mut p = b.finish();
        p.meta.total_samples = p.total() + 1;
        let path = d.join(store::archive_name(T0 + i * 10 * SEC, 42, i));
        prof::archive::write_file(&p, &path).unwrap();
        archives.push((path, p));
    }
    std::fs::write(&archives[55].0, b"PROFARC\0garbage").unwrap();

    let (merged, warnings) = prof::store::load_range(d, T0, T0 + 1000 * SEC).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");

    let mut b: Option<ProfileBuilder> = None;
    let (mut total, mut lost) = (0, 0);
    for (i, (_, p)) in archives.iter().enumerate() {
        if i == 55 {
            continue;
        }
        b.get_or_insert_with(|| ProfileBuilder::new(p.meta.clone())).merge(p);
        total += p.meta.total_samples;
        lost += p.meta.losses.get(&LossReason::UserStackFault).copied().unwrap_or(0);
    }
    let expected = b.unwrap().finish();
    assert_eq!(merged.frames, expected.frames);
    assert_eq!(merged.stacks, expected.stacks);
    assert_eq!(merged.samples, expected.samples);
    assert_eq!(merged.meta.total_samples, total);
    assert_eq!(merged.meta.losses.get(&LossReason::UserStackFault).copied().unwrap_or(0), lost);
    assert_eq!((merged.meta.start_unix_ns, merged.meta.end_unix_ns), (T0, T0 + 1000 * SEC));
    assert!(
        merged.meta.notes.iter().any(|n| n.contains("mixed recordings") && n.contains("49 Hz")),
        "{:?}",
        merged.meta.notes
    );
}

/// Samples and nanoseconds are never added together: a range over archives of different kinds
/// of time (on-CPU recordings and off-CPU ones into one directory, in whatever order the merge's
/// chunks cut them) is the newest archive's kind, and the others are named in a warning.
#[test]
fn store_range_merges_only_the_newest_kind_of_time() {
    use prof::profile::{EventKind, WeightUnit};
    for newest_off_cpu in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // On-CPU: 0..40, 60..66 and (when the newest is on-CPU) 99; off-CPU: the rest.
        let off_cpu = |i: u64| !(i < 40 || (60..66).contains(&i) || (i == 99 && !newest_off_cpu));
        let (mut expected_total, mut expected_archives) = (0u64, 0usize);
        for i in 0..100u64 {
            let mut meta = common::interval_meta(i, 0);
            let n = if off_cpu(i) { 1_000_000 * (i + 1) } else { i + 1 };
            if off_cpu(i) {
                meta.event = EventKind::OffCpu.into();
                meta.weight_unit = WeightUnit::Nanoseconds;
            }
            if off_cpu(i) == newest_off_cpu {
                expected_total += n;
                expected_archives += 1;
            }
            let mut b = ProfileBuilder::new(meta);
            let f = b.frame(Frame::new(if off_cpu(i) { "blocked" } else { "busy" }, "app", FrameKind::User));
            let s = b.stack(vec![f]);
            b.add(s, 1, "app", n);
            let mut p = b.finish();
            p.meta.total_samples = n;
            prof::archive::write_file(&p, &d.join(store::archive_name(T0 + i * 10 * SEC, 42, i))).unwrap();
        }
        let (merged, warnings) = prof::store::load_range(d, T0, T0 + 1000 * SEC).unwrap();
        assert_eq!(merged.total(), expected_total, "newest off-CPU: {newest_off_cpu}");
        assert_eq!(merged.meta.total_samples, expected_total);
        assert_eq!(merged.meta.event.measure() == prof::profile::Measure::OffCpu, newest_off_cpu);
        let skipped = 100 - expected_archives;
        let other = if newest_off_cpu { "time on the CPU" } else { "off-CPU time" };
        assert_eq!(
            warnings,
            vec![format!(
                "{skipped} archives of {other} skipped: the range's newest archive records {}, and the two \
                 cannot be added together (choose a range of one kind)",
                merged.meta.event.measure().describe()
            )]
        );
        let names: Vec<&str> = merged.frames.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, [if newest_off_cpu { "blocked" } else { "busy" }]);
    }
}

/// `prof diff DIR DIR` compares two time ranges of one archive directory.
#[test]
fn store_diff_of_two_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for i in 0..6 {
        write_interval(d, i, if i < 3 { "early" } else { "late" }, 500);
    }
    let t = |s: u64| humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_nanos(T0 + s * SEC)).to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prof"))
        .arg("diff")
        .arg(d)
        .arg(d)
        .args(["--base-from", &t(0), "--base-to", &t(30), "--new-from", &t(30), "--new-to", &t(60)])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(table.contains("(1500 samples)") && table.contains("early") && table.contains("late"), "{table}");
    assert!(table.contains("2 of 2 functions changed significantly"), "{table}");
}

/// The temp file an archive is written through is the one crash recovery looks for: while an
/// interval's archive is being written (as if the recorder died at that moment), `recover` finds
/// exactly that file, and nothing else.
#[test]
fn store_recover_finds_the_archive_writers_temp_file() {
    use prof::atomic_file::{write_atomic, Durability};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let done = write_interval(d, 0, "f", 10);
    let path = d.join(store::archive_name(T0 + 10 * SEC, 42, 1));
    let mut seen = Vec::new();
    let result = write_atomic(&path, Durability::FileAndDirectory, 0o600, |w| {
        use std::io::Write;
        w.write_all(b"half an archive").map_err(|e| e.to_string())?;
        w.flush().map_err(|e| e.to_string())?;
        seen = store::recover(d).map_err(|e| e.to_string())?;
        Err("the recorder died here".to_string())
    });
    assert!(result.is_err());
    assert_eq!(seen.len(), 1, "{seen:?}");
    let name = seen[0].from.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with(&format!(".{}.", path.file_name().unwrap().to_string_lossy())), "{name}");
    assert!(!path.exists() && done.exists());
    assert!(seen[0].to.exists(), "the unfinished archive was not kept");
}

/// Crash recovery keeps what it moves: the quarantine subdirectory is made 0700 (only when there
/// is something to move), a name already there is not overwritten, listing and retention do not
/// see the quarantine (no warning, nothing deleted), and a link planted under its name is
/// refused, not followed, leaving the temp file where it was.
#[test]
fn store_recover_quarantines_without_losing_or_following() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let q = d.join(store::QUARANTINE_DIR);
    let a = write_interval(d, 0, "f", 10);
    assert!(store::recover(d).unwrap().is_empty());
    assert!(!q.exists(), "created with nothing to quarantine");

    let temp = format!(".{}.Ab12Z.tmp", store::archive_name(T0 + 10 * SEC, 42, 1));
    std::fs::write(d.join(&temp), "first crash").unwrap();
    let first = store::recover(d).unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(std::fs::metadata(&q).unwrap().permissions().mode() & 0o777, 0o700);
    // The same temp name again (a second crash): both are kept.
    std::fs::write(d.join(&temp), "second crash").unwrap();
    let second = store::recover(d).unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].to, q.join(format!("{temp}.1")));
    assert_eq!(std::fs::read_to_string(q.join(&temp)).unwrap(), "first crash");
    assert_eq!(std::fs::read_to_string(&second[0].to).unwrap(), "second crash");

    let (entries, skipped) = store::list(d).unwrap();
    assert_eq!(entries.iter().map(|e| e.path.clone()).collect::<Vec<_>>(), vec![a.clone()]);
    assert!(skipped.is_empty(), "{skipped:?}");
    let all = store::Retention { max_bytes: Some(1), max_age: Some(Duration::from_secs(1)) };
    store::apply_retention(d, all, SystemTime::now(), None).unwrap();
    assert_eq!(std::fs::read_dir(&q).unwrap().count(), 2, "retention touched the quarantine");

    // A link in place of the quarantine directory is refused and not followed.
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::rename(&q, d.join("old-quarantine")).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), &q).unwrap();
    std::fs::write(d.join(&temp), "third crash").unwrap();
    let err = store::recover(d).unwrap_err();
    assert!(err.to_string().contains("quarantine") && err.to_string().contains("not a directory"), "{err}");
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0, "followed the link");
    assert_eq!(std::fs::read_to_string(d.join(&temp)).unwrap(), "third crash");
}
