//! Integration tests of the `.prof` archive format (`prof::archive`): round trips, atomic writes,
//! every kind of corruption (rejected with the right variant, naming the file, never panicking),
//! and a golden version-1 file that pins the on-disk format.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use prof::archive::{self, ArchiveError, ChecksumPart, HEADER_LEN, MAGIC, MAX_BODY_LEN, VERSION};
use prof::profile::{EventKind, Frame, FrameKind, LossReason, Metadata, Profile, ProfileBuilder};

// ---------------------------------------------------------------------------------------------
// Profiles

/// A profile with every metadata field, losses, inline frames, file/line, kernel and placeholder
/// frames and several processes.
fn realistic_profile() -> Profile {
    let meta = Metadata {
        prof_version: "0.1.0".into(),
        hostname: "build-host-01".into(),
        kernel_release: "6.8.0-45-generic".into(),
        cpus: vec![0, 1, 2, 3, 6, 7],
        event: EventKind::Cycles.into(),
        frequency_hz: 99,
        start_unix_ns: 1_700_000_000_123_456_789,
        end_unix_ns: 1_700_000_030_987_654_321,
        target: "system-wide".into(),
        total_samples: 123_456,
        weight_unit: Default::default(),
        losses: [
            (LossReason::KernelStackFault, 3),
            (LossReason::UserStackFault, 42),
            (LossReason::CountsMapFull, 7),
            (LossReason::EventsLost, 1),
            (LossReason::StackHashCollision, u64::MAX),
        ]
        .into_iter()
        .collect(),
        notes: vec![
            "hardware cycles unavailable, used cpu-clock".into(),
            "ünïcödé note with `backticks` and a\nnewline".into(),
        ],
        unwind: Default::default(),
    };
    let mut b = ProfileBuilder::new(meta);
    let main = b.frame(Frame {
        file: Some("/src/app/main.rs".into()),
        line: Some(12),
        ..Frame::new("app::main", "app", FrameKind::User)
    });
    let hot = b.frame(Frame {
        file: Some("/src/app/hot.rs".into()),
        line: Some(u32::MAX),
        ..Frame::new("app::hot_loop", "app", FrameKind::User)
    });
    let inlined = b.frame(Frame {
        inlined: true,
        file: Some("/rustc/library/core/src/iter.rs".into()),
        line: None,
        ..Frame::new("<core::iter::Map<I,F> as Iterator>::next", "app", FrameKind::User)
    });
    let line_only = b.frame(Frame { line: Some(0), ..Frame::new("memcpy", "libc.so.6", FrameKind::User) });
    let unsymbolized = b.frame(Frame::new("libfoo.so+0x1a2b", "libfoo.so", FrameKind::User));
    let syscall = b.frame(Frame::new("entry_SYSCALL_64", "[kernel.kallsyms]", FrameKind::Kernel));
    let write = b.frame(Frame::new("ksys_write", "[kernel.kallsyms]", FrameKind::Kernel));
    let missing_user = b.frame(Frame::placeholder("[missing user stack]"));
    let idle = b.frame(Frame::new("do_idle", "[kernel.kallsyms]", FrameKind::Kernel));
    let empty = b.frame(Frame::new("", "", FrameKind::User));

    let s1 = b.stack(vec![main, hot, inlined]);
    let s2 = b.stack(vec![main, line_only, syscall, write]);
    let s3 = b.stack(vec![missing_user, syscall, write]);
    let s4 = b.stack(vec![idle]);
    let s5 = b.stack(vec![unsymbolized, empty]);
    let s6 = b.stack(vec![]);
    b.add(s1, 1234, "app", 500);
    b.add_thread(s1, 1234, 1240, "app-worker", 250);
    b.add_thread(s1, 1234, 1241, "app-worker", 25);
    b.add(s1, 1300, "app", 1);
    b.add(s2, 1234, "app", 80);
    b.add(s3, 4321, "other", 9);
    b.add(s4, 0, "swapper/0", 10_000);
    b.add(s5, 77, "", u64::MAX);
    b.add(s6, 78, "日本語", 2);
    b.finish()
}

/// The small fixed profile stored in the golden file.
fn small_profile() -> Profile {
    let meta = Metadata {
        prof_version: "0.1.0".into(),
        hostname: "golden".into(),
        kernel_release: "6.1.0".into(),
        cpus: vec![0, 1],
        event: EventKind::CpuClock.into(),
        frequency_hz: 49,
        start_unix_ns: 1_000_000_000,
        end_unix_ns: 3_000_000_000,
        target: "pid 42".into(),
        total_samples: 12,
        weight_unit: Default::default(),
        losses: [(LossReason::UserStackFault, 2), (LossReason::TargetsMapFull, 1)].into_iter().collect(),
        notes: vec!["hardware cycles unavailable, used cpu-clock".into()],
        unwind: Default::default(),
    };
    let mut b = ProfileBuilder::new(meta);
    let main =
        b.frame(Frame { file: Some("main.c".into()), line: Some(7), ..Frame::new("main", "golden", FrameKind::User) });
    let work = b.frame(Frame { inlined: true, ..Frame::new("work", "golden", FrameKind::User) });
    let missing = b.frame(Frame::placeholder("[missing user stack]"));
    let kernel = b.frame(Frame::new("do_syscall_64", "[kernel.kallsyms]", FrameKind::Kernel));
    let s0 = b.stack(vec![main, work]);
    let s1 = b.stack(vec![missing, kernel]);
    b.add(s0, 42, "golden", 9);
    b.add(s1, 42, "golden", 2);
    b.add(s0, 43, "helper", 1);
    b.finish()
}

fn encode(profile: &Profile) -> Vec<u8> {
    let mut out = Vec::new();
    archive::write(profile, &mut out).expect("write to memory");
    out
}

// ---------------------------------------------------------------------------------------------
// Hand-made archives, written from `docs/archive-format.md` alone

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    put_u32(out, s.len() as u32);
    out.extend_from_slice(s);
}

fn section(out: &mut Vec<u8>, tag: &[u8; 4], payload: &[u8]) {
    out.extend_from_slice(tag);
    put_u64(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// A `META` payload with empty fields and the given (id, count) losses.
fn meta_payload(losses: &[(&[u8], u64)]) -> Vec<u8> {
    let mut m = Vec::new();
    put_str(&mut m, b"hand"); // prof_version
    put_str(&mut m, b""); // hostname
    put_str(&mut m, b""); // kernel_release
    put_u32(&mut m, 1); // cpus
    put_u32(&mut m, 5);
    put_str(&mut m, b"cycles"); // event
    put_u64(&mut m, 99); // frequency_hz
    put_u64(&mut m, 10); // start_unix_ns
    put_u64(&mut m, 20); // end_unix_ns
    put_str(&mut m, b"system-wide"); // target
    put_u64(&mut m, 3); // total_samples
    put_u32(&mut m, losses.len() as u32);
    for (id, n) in losses {
        put_str(&mut m, id);
        put_u64(&mut m, *n);
    }
    put_u32(&mut m, 0); // notes
    m
}

/// A `FRMS` payload of user frames in module `m` with no flags.
fn frames_payload(names: &[&[u8]]) -> Vec<u8> {
    let mut f = Vec::new();
    put_u32(&mut f, names.len() as u32);
    for name in names {
        put_str(&mut f, name);
        put_str(&mut f, b"m");
        f.push(0); // kind: user
        f.push(0); // flags
    }
    f
}

fn stacks_payload(stacks: &[&[u32]]) -> Vec<u8> {
    let mut s = Vec::new();
    put_u32(&mut s, stacks.len() as u32);
    for stack in stacks {
        put_u32(&mut s, stack.len() as u32);
        stack.iter().for_each(|&f| put_u32(&mut s, f));
    }
    s
}

fn samples_payload(samples: &[(u32, u32, &[u8], u64)]) -> Vec<u8> {
    let mut s = Vec::new();
    put_u32(&mut s, samples.len() as u32);
    for &(stack, pid, comm, count) in samples {
        put_u32(&mut s, stack);
        put_u32(&mut s, pid);
        put_str(&mut s, comm);
        put_u64(&mut s, count);
    }
    s
}

/// A body with the four sections in order.
fn body(meta: &[u8], frames: &[u8], stacks: &[u8], samples: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    section(&mut b, b"META", meta);
    section(&mut b, b"FRMS", frames);
    section(&mut b, b"STKS", stacks);
    section(&mut b, b"SMPL", samples);
    b
}

/// A valid hand-made body: two frames, one stack, one sample.
fn hand_body() -> Vec<u8> {
    body(
        &meta_payload(&[(b"user_stack_efault", 4)]),
        &frames_payload(&[b"outer", b"inner"]),
        &stacks_payload(&[&[0, 1]]),
        &samples_payload(&[(0, 7, b"comm", 3)]),
    )
}

/// A 36-byte header with the given fields and a correct header CRC.
fn header(version: u16, flags: u16, body_len: u64, compressed_len: u64, body_crc: u32) -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(&version.to_le_bytes());
    h.extend_from_slice(&flags.to_le_bytes());
    put_u64(&mut h, body_len);
    put_u64(&mut h, compressed_len);
    put_u32(&mut h, body_crc);
    let crc = crc32fast::hash(&h);
    put_u32(&mut h, crc);
    assert_eq!(h.len(), HEADER_LEN);
    h
}

/// A complete archive around an uncompressed `body`, with correct lengths and checksums.
fn wrap(body: &[u8]) -> Vec<u8> {
    let payload = zstd::bulk::compress(body, 3).expect("zstd compress");
    let mut a = header(VERSION, 0, body.len() as u64, payload.len() as u64, crc32fast::hash(body));
    a.extend_from_slice(&payload);
    a
}

/// The uncompressed body of a valid archive.
fn unwrap_body(archive: &[u8]) -> Vec<u8> {
    zstd::stream::decode_all(&archive[HEADER_LEN..]).expect("valid zstd payload")
}

/// Rewrites the header CRC after a test changed header bytes.
fn fix_header_crc(archive: &mut [u8]) {
    let crc = crc32fast::hash(&archive[..32]);
    archive[32..36].copy_from_slice(&crc.to_le_bytes());
}

// ---------------------------------------------------------------------------------------------
// Reading corrupt input

/// Reads `bytes` both from memory and through a file; checks both fail the same way, that the
/// file error names the file, and returns the file error and its message.
fn reject(bytes: &[u8]) -> (ArchiveError, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.prof");
    fs::write(&path, bytes).expect("write test file");
    let in_memory = match archive::read(bytes) {
        Ok(_) => panic!("reading a corrupt archive from memory succeeded"),
        Err(e) => e,
    };
    let err = match archive::read_file(&path) {
        Ok(_) => panic!("reading a corrupt archive file succeeded"),
        Err(e) => e,
    };
    let msg = err.to_string();
    let prefix = format!("`{}`: ", path.display());
    assert!(msg.starts_with(&prefix), "message does not name the file: {msg}");
    assert!(matches!(err, ArchiveError::File { .. }), "not wrapped in `File`: {err:?}");
    assert_eq!(
        std::mem::discriminant(in_memory.inner()),
        std::mem::discriminant(err.inner()),
        "memory and file readers disagree: {in_memory:?} vs {err:?}"
    );
    assert_eq!(msg, format!("{prefix}{in_memory}"));
    let first = msg[prefix.len()..].chars().next().unwrap_or('x');
    assert!(first.is_lowercase(), "message does not start lowercase: {msg}");
    (err, msg)
}

/// Reads `bytes`, which must not panic.
fn read_no_panic(bytes: &[u8]) -> Result<Profile, ArchiveError> {
    let owned = bytes.to_vec();
    match std::panic::catch_unwind(move || archive::read(&owned)) {
        Ok(result) => result,
        Err(_) => panic!("archive::read panicked on input of {} bytes: {bytes:02x?}", bytes.len()),
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips and writing

/// A realistic profile (all metadata, losses, inline frames, file/line, kernel and placeholder
/// frames, several pids) reads back equal to the original.
#[test]
fn archive_round_trip_realistic_profile() {
    let profile = realistic_profile();
    let bytes = encode(&profile);
    assert!(archive::is_archive(&bytes));
    assert_eq!(archive::read(&bytes).expect("read"), profile);
}

/// Thread ids are kept (in an optional section, written only when a thread is known, which
/// readers that predate it skip), and merging keeps samples of different threads apart.
#[test]
fn archive_thread_ids_round_trip_and_are_optional() {
    let profile = realistic_profile();
    assert!(profile.samples.iter().any(|s| s.tid == 1241));
    let with = encode(&profile);
    let mut without_threads = profile.clone();
    without_threads.samples.iter_mut().for_each(|s| s.tid = 0);
    let without = encode(&without_threads);
    assert_eq!(archive::read(&with).expect("read"), profile);
    assert_eq!(archive::read(&without).expect("read"), without_threads);
    // The same samples with a second, per-thread split merge back by thread.
    let mut merged = ProfileBuilder::new(profile.meta.clone());
    merged.merge(&profile);
    merged.merge(&profile);
    let merged = merged.finish();
    let of_thread = |p: &Profile, tid: u32| p.samples.iter().filter(|s| s.tid == tid).map(|s| s.count).sum::<u64>();
    assert_eq!(of_thread(&merged, 1241), 2 * of_thread(&profile, 1241));
}

/// An empty profile (default metadata, no frames, stacks or samples) round-trips.
#[test]
fn archive_round_trip_empty_profile() {
    let profile = Profile::default();
    assert_eq!(archive::read(&encode(&profile)).expect("read"), profile);
}

/// Writing the same profile twice gives identical bytes (losses are stored in a fixed order).
#[test]
fn archive_write_is_deterministic() {
    assert_eq!(encode(&realistic_profile()), encode(&realistic_profile()));
}

/// `write_file` then `read_file` round-trips, leaves no temporary file and makes the file 0600.
#[test]
fn archive_write_file_is_atomic_and_private() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out.prof");
    let profile = realistic_profile();
    archive::write_file(&profile, &path).expect("write_file");
    assert_eq!(archive::read_file(&path).expect("read_file"), profile);
    let names: Vec<_> = fs::read_dir(dir.path()).expect("read_dir").map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("out.prof")], "temporary file left behind");
    let mode = fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

/// `write_file` replaces an existing file (content and mode) without leaving other files.
#[test]
fn archive_write_file_overwrites() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out.prof");
    fs::write(&path, b"old contents").expect("write old file");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
    archive::write_file(&small_profile(), &path).expect("first write");
    archive::write_file(&realistic_profile(), &path).expect("overwrite");
    assert_eq!(archive::read_file(&path).expect("read_file"), realistic_profile());
    assert_eq!(fs::read_dir(dir.path()).expect("read_dir").count(), 1);
    assert_eq!(fs::metadata(&path).expect("stat").permissions().mode() & 0o777, 0o600);
}

/// A failed `write_file` (the target is a directory) reports an i/o error naming the target and
/// leaves no temporary file behind.
#[test]
fn archive_write_file_failure_leaves_no_temp_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("taken");
    fs::create_dir(&target).expect("mkdir");
    fs::write(target.join("keep"), b"x").expect("write");
    let err = archive::write_file(&small_profile(), &target).expect_err("rename over a directory");
    assert!(matches!(err, ArchiveError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("`{}`", target.display())), "{err}");
    let names: Vec<_> = fs::read_dir(dir.path()).expect("read_dir").map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("taken")]);
}

/// A missing file is an `Io` error that names the file.
#[test]
fn archive_read_file_missing_is_io_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nope.prof");
    let err = archive::read_file(&path).expect_err("missing file");
    assert!(matches!(&err, ArchiveError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound));
    assert_eq!(err.to_string(), format!("cannot open `{}`", path.display()));
}

/// `is_archive` accepts the magic and rejects folded text and short prefixes.
#[test]
fn archive_is_archive_tells_archives_from_folded() {
    assert!(archive::is_archive(&encode(&small_profile())[..8]));
    assert!(archive::is_archive(b"PROFARC\0anything"));
    assert!(!archive::is_archive(b"main;work 12\n"));
    assert!(!archive::is_archive(b"PROFARC"));
    assert!(!archive::is_archive(b""));
}

/// A body hand-encoded from `docs/archive-format.md` alone decodes to the expected profile.
#[test]
fn archive_hand_encoded_body_matches_doc() {
    let profile = archive::read(&wrap(&hand_body())).expect("read hand-made archive");
    let expected = Profile {
        meta: Metadata {
            prof_version: "hand".into(),
            cpus: vec![5],
            event: EventKind::Cycles.into(),
            frequency_hz: 99,
            start_unix_ns: 10,
            end_unix_ns: 20,
            target: "system-wide".into(),
            total_samples: 3,
            losses: [(LossReason::UserStackFault, 4)].into_iter().collect(),
            ..Metadata::default()
        },
        frames: vec![Frame::new("outer", "m", FrameKind::User), Frame::new("inner", "m", FrameKind::User)],
        stacks: vec![vec![0, 1]],
        samples: vec![prof::profile::Sample { stack: 0, pid: 7, tid: 0, comm: "comm".into(), cgroup: None, count: 3 }],
        cgroups: Vec::new(),
        ns_pids: Default::default(),
    };
    assert_eq!(profile, expected);
}

/// Sections with unknown tags, anywhere in the body, are skipped.
#[test]
fn archive_skips_unknown_sections() {
    let mut b = Vec::new();
    section(&mut b, b"xtra", b"future data");
    section(&mut b, b"META", &meta_payload(&[]));
    section(&mut b, b"FRMS", &frames_payload(&[b"f"]));
    section(&mut b, b"ZZZZ", &[]);
    section(&mut b, b"STKS", &stacks_payload(&[&[0]]));
    section(&mut b, b"SMPL", &samples_payload(&[(0, 1, b"c", 1)]));
    section(&mut b, b"\xff\x00\x01\x02", &[0xff; 100]);
    let profile = archive::read(&wrap(&b)).expect("read");
    assert_eq!(profile.frames, vec![Frame::new("f", "m", FrameKind::User)]);
    assert_eq!(profile.samples.len(), 1);
}

/// An unknown loss reason id does not fail the read: it is kept as a note naming it and its count.
#[test]
fn archive_reports_unknown_loss_reasons_as_notes() {
    let b = body(
        &meta_payload(&[(b"events_lost", 2), (b"future_reason", 17)]),
        &frames_payload(&[]),
        &stacks_payload(&[]),
        &samples_payload(&[]),
    );
    let profile = archive::read(&wrap(&b)).expect("read");
    assert_eq!(profile.meta.losses, [(LossReason::EventsLost, 2)].into_iter().collect());
    assert_eq!(profile.meta.notes.len(), 1);
    assert!(profile.meta.notes[0].contains("`future_reason`"), "{:?}", profile.meta.notes);
    assert!(profile.meta.notes[0].contains("17"), "{:?}", profile.meta.notes);
}

// ---------------------------------------------------------------------------------------------
// Corruption

/// Input that does not start with the magic is `BadMagic`.
#[test]
fn archive_rejects_wrong_magic() {
    let mut bytes = encode(&small_profile());
    bytes[0] = b'X';
    let (err, msg) = reject(&bytes);
    assert!(matches!(err.inner(), ArchiveError::BadMagic), "{err:?}");
    assert!(msg.contains("not a prof archive"), "{msg}");
    let (err, _) = reject(b"main;work 12\n");
    assert!(matches!(err.inner(), ArchiveError::BadMagic), "{err:?}");
    let (err, _) = reject(b"PRX");
    assert!(matches!(err.inner(), ArchiveError::BadMagic), "{err:?}");
}

/// A version this prof does not read (here 99) is `UnsupportedVersion`, checked before the header CRC.
#[test]
fn archive_rejects_unknown_version() {
    let mut bytes = encode(&small_profile());
    bytes[8..10].copy_from_slice(&99u16.to_le_bytes());
    let (err, msg) = reject(&bytes);
    assert!(matches!(err.inner(), ArchiveError::UnsupportedVersion { found: 99, supported: 2 }), "{err:?}");
    assert!(msg.contains("version 99"), "{msg}");
}

/// Truncation in the magic, the header, right after the header, mid-body and at the last byte
/// is `Truncated` with the expected and found lengths.
#[test]
fn archive_rejects_truncation() {
    let bytes = encode(&realistic_profile());
    let total = bytes.len() as u64;
    let cases = [
        (0, HEADER_LEN as u64),
        (5, HEADER_LEN as u64),
        (9, HEADER_LEN as u64),
        (20, HEADER_LEN as u64),
        (HEADER_LEN - 1, HEADER_LEN as u64),
        (HEADER_LEN, total),
        (HEADER_LEN + (bytes.len() - HEADER_LEN) / 2, total),
        (bytes.len() - 1, total),
    ];
    for (len, expected) in cases {
        let (err, msg) = reject(&bytes[..len]);
        match err.inner() {
            ArchiveError::Truncated { expected: e, found } => {
                assert_eq!((*e, *found), (expected, len as u64), "truncated to {len}");
            }
            other => panic!("truncated to {len}: {other:?}"),
        }
        assert!(msg.ends_with(&format!("archive is truncated: expected {expected} bytes, found {len}")), "{msg}");
    }
}

/// Extra bytes after the declared compressed body are `TrailingData`.
#[test]
fn archive_rejects_trailing_data() {
    let mut bytes = encode(&small_profile());
    let expected = bytes.len() as u64;
    bytes.push(0);
    let (err, _) = reject(&bytes);
    assert!(
        matches!(err.inner(), ArchiveError::TrailingData { expected: e, found } if *e == expected && *found == expected + 1),
        "{err:?}"
    );
}

/// A flipped byte in the compressed payload is rejected (zstd error or body checksum), at every
/// position, and never accepted as a different profile.
#[test]
fn archive_rejects_flipped_compressed_byte() {
    let original = realistic_profile();
    let bytes = encode(&original);
    let mid = HEADER_LEN + (bytes.len() - HEADER_LEN) / 2;
    let mut flipped = bytes.clone();
    flipped[mid] ^= 0x55;
    let (err, _) = reject(&flipped);
    assert!(
        matches!(
            err.inner(),
            ArchiveError::Decompress(_)
                | ArchiveError::ChecksumMismatch { part: ChecksumPart::Body, .. }
                | ArchiveError::Corrupt { .. }
        ),
        "{err:?}"
    );
    for pos in HEADER_LEN..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[pos] ^= 0x01;
        if let Ok(profile) = archive::read(&flipped) {
            assert_eq!(profile, original, "flip at {pos} decoded to a different profile");
        }
    }
}

/// A body that zstd decodes fine but that differs from the checksummed one is
/// `ChecksumMismatch { part: Body }`.
#[test]
fn archive_rejects_body_checksum_mismatch() {
    let bytes = encode(&small_profile());
    let stored_crc = u32::from_le_bytes(bytes[28..32].try_into().unwrap());
    let mut body = unwrap_body(&bytes);
    let at = body.windows(6).position(|w| w == b"golden").expect("hostname in body");
    body[at] = b'G';
    let payload = zstd::bulk::compress(&body, 3).expect("compress");
    let mut tampered = header(VERSION, 0, body.len() as u64, payload.len() as u64, stored_crc);
    tampered.extend_from_slice(&payload);
    let (err, msg) = reject(&tampered);
    assert!(
        matches!(err.inner(), ArchiveError::ChecksumMismatch { part: ChecksumPart::Body, stored, .. } if *stored == stored_crc),
        "{err:?}"
    );
    assert!(msg.contains("body checksum mismatch"), "{msg}");
}

/// A changed header field without a matching header CRC is `ChecksumMismatch { part: Header }`.
#[test]
fn archive_rejects_header_checksum_mismatch() {
    let mut bytes = encode(&small_profile());
    bytes[28] ^= 0xff; // body CRC field
    let (err, msg) = reject(&bytes);
    assert!(matches!(err.inner(), ArchiveError::ChecksumMismatch { part: ChecksumPart::Header, .. }), "{err:?}");
    assert!(msg.contains("header checksum mismatch"), "{msg}");
    let mut bytes = encode(&small_profile());
    bytes[33] ^= 0x10; // the header CRC itself
    let (err, _) = reject(&bytes);
    assert!(matches!(err.inner(), ArchiveError::ChecksumMismatch { part: ChecksumPart::Header, .. }));
}

/// Flags unknown to version 1 are `UnknownFlags`.
#[test]
fn archive_rejects_unknown_flags() {
    let mut bytes = encode(&small_profile());
    bytes[10] = 0x01;
    fix_header_crc(&mut bytes);
    let (err, _) = reject(&bytes);
    assert!(matches!(err.inner(), ArchiveError::UnknownFlags { flags: 1 }), "{err:?}");
}

/// A compressed length larger than the file is `Truncated` with the declared total.
#[test]
fn archive_rejects_declared_length_beyond_file() {
    let mut bytes = encode(&small_profile());
    let real = (bytes.len() - HEADER_LEN) as u64;
    bytes[20..28].copy_from_slice(&(real + 1000).to_le_bytes());
    fix_header_crc(&mut bytes);
    let (err, _) = reject(&bytes);
    let expected = HEADER_LEN as u64 + real + 1000;
    assert!(
        matches!(err.inner(), ArchiveError::Truncated { expected: e, found } if *e == expected && *found == bytes.len() as u64),
        "{err:?}"
    );
}

/// A declared uncompressed length above the 1 GiB cap is `TooLarge` before anything is inflated.
#[test]
fn archive_rejects_declared_length_above_cap() {
    let payload = zstd::bulk::compress(&[0u8; 64], 3).expect("compress");
    let mut bytes = header(VERSION, 0, MAX_BODY_LEN + 1, payload.len() as u64, 0);
    bytes.extend_from_slice(&payload);
    let (err, msg) = reject(&bytes);
    assert!(
        matches!(err.inner(), ArchiveError::TooLarge { size, limit, .. } if *size == MAX_BODY_LEN + 1 && *limit == MAX_BODY_LEN),
        "{err:?}"
    );
    assert!(msg.contains("too large"), "{msg}");
    let mut bytes = header(VERSION, 0, 10, u64::MAX - 10, 0);
    bytes.extend_from_slice(&payload);
    let (err, _) = reject(&bytes);
    assert!(matches!(err.inner(), ArchiveError::TooLarge { .. }), "{err:?}");
}

/// A small file whose zstd payload inflates to 256 MiB while declaring 1000 bytes is rejected as
/// `Corrupt` after inflating only the declared length (so quickly and without the memory).
#[test]
fn archive_rejects_decompression_bomb() {
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 1).expect("encoder");
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..256 {
        std::io::Write::write_all(&mut encoder, &zeros).expect("compress");
    }
    let payload = encoder.finish().expect("finish");
    assert!(payload.len() < 1 << 20, "the bomb should be small, is {} bytes", payload.len());
    let declared = 1000u64;
    let mut bytes = header(VERSION, 0, declared, payload.len() as u64, crc32fast::hash(&[0; 1000]));
    bytes.extend_from_slice(&payload);
    let started = std::time::Instant::now();
    let (err, msg) = reject(&bytes);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "bomb was inflated");
    assert!(matches!(err.inner(), ArchiveError::Corrupt { offset: 1000, .. }), "{err:?}");
    assert!(msg.contains("inflates beyond the declared 1000 bytes"), "{msg}");
}

/// A payload that inflates to fewer bytes than declared is `Corrupt`.
#[test]
fn archive_rejects_body_shorter_than_declared() {
    let body = hand_body();
    let payload = zstd::bulk::compress(&body, 3).expect("compress");
    let mut bytes = header(VERSION, 0, body.len() as u64 + 1, payload.len() as u64, crc32fast::hash(&body));
    bytes.extend_from_slice(&payload);
    let (err, _) = reject(&bytes);
    assert!(matches!(err.inner(), ArchiveError::Corrupt { offset, .. } if *offset == body.len() as u64), "{err:?}");
}

/// A stack that refers to a frame index past the frame table is `Corrupt`.
#[test]
fn archive_rejects_out_of_range_frame_index() {
    let b = body(
        &meta_payload(&[]),
        &frames_payload(&[b"a", b"b"]),
        &stacks_payload(&[&[0, 1], &[1, 2]]),
        &samples_payload(&[]),
    );
    let (err, msg) = reject(&wrap(&b));
    assert!(matches!(err.inner(), ArchiveError::Corrupt { .. }), "{err:?}");
    assert!(msg.contains("stack 1 refers to frame 2, but there are 2 frames"), "{msg}");
}

/// A sample that refers to a stack index past the stack table is `Corrupt`.
#[test]
fn archive_rejects_out_of_range_stack_index() {
    let b = body(
        &meta_payload(&[]),
        &frames_payload(&[b"a"]),
        &stacks_payload(&[&[0]]),
        &samples_payload(&[(0, 1, b"c", 1), (u32::MAX, 1, b"c", 1)]),
    );
    let (err, msg) = reject(&wrap(&b));
    assert!(matches!(err.inner(), ArchiveError::Corrupt { .. }), "{err:?}");
    assert!(msg.contains("sample 1 refers to stack 4294967295, but there are 1 stacks"), "{msg}");
}

/// Invalid UTF-8 in a string is `Corrupt`, not replaced.
#[test]
fn archive_rejects_invalid_utf8() {
    let b = body(
        &meta_payload(&[]),
        &frames_payload(&[b"ok", b"bad\xff\xfe"]),
        &stacks_payload(&[]),
        &samples_payload(&[]),
    );
    let (err, msg) = reject(&wrap(&b));
    assert!(matches!(err.inner(), ArchiveError::Corrupt { .. }), "{err:?}");
    assert!(msg.contains("frame name is not valid UTF-8"), "{msg}");
    let b =
        body(&meta_payload(&[]), &frames_payload(&[]), &stacks_payload(&[]), &samples_payload(&[(0, 1, b"\xc3", 1)]));
    let (err, _) = reject(&wrap(&b));
    assert!(matches!(err.inner(), ArchiveError::Corrupt { .. }), "{err:?}");
}

/// Counts far larger than the bytes left (4 billion frames in a few bytes) are `Corrupt` before
/// any allocation.
#[test]
fn archive_rejects_huge_counts() {
    let mut frames = Vec::new();
    put_u32(&mut frames, u32::MAX);
    let b = body(&meta_payload(&[]), &frames, &stacks_payload(&[]), &samples_payload(&[]));
    let (err, msg) = reject(&wrap(&b));
    assert!(matches!(err.inner(), ArchiveError::Corrupt { .. }), "{err:?}");
    assert!(msg.contains("frame table declares 4294967295 entries"), "{msg}");
    let mut stacks = Vec::new();
    put_u32(&mut stacks, 1);
    put_u32(&mut stacks, u32::MAX);
    let b = body(&meta_payload(&[]), &frames_payload(&[]), &stacks, &samples_payload(&[]));
    let (err, _) = reject(&wrap(&b));
    assert!(matches!(err.inner(), ArchiveError::Corrupt { .. }), "{err:?}");
}

/// Missing, duplicated or reordered required sections, a section longer than the body, and
/// leftover bytes in a section are `Corrupt`.
#[test]
fn archive_rejects_bad_section_structure() {
    let meta = meta_payload(&[]);
    let frames = frames_payload(&[]);
    let stacks = stacks_payload(&[]);
    let samples = samples_payload(&[]);
    let mut missing = Vec::new();
    section(&mut missing, b"META", &meta);
    section(&mut missing, b"FRMS", &frames);
    section(&mut missing, b"STKS", &stacks);
    let mut reordered = Vec::new();
    section(&mut reordered, b"META", &meta);
    section(&mut reordered, b"STKS", &stacks);
    section(&mut reordered, b"FRMS", &frames);
    section(&mut reordered, b"SMPL", &samples);
    let mut duplicate = body(&meta, &frames, &stacks, &samples);
    section(&mut duplicate, b"SMPL", &samples);
    let mut too_long = body(&meta, &frames, &stacks, &samples);
    too_long.extend_from_slice(b"xtra");
    put_u64(&mut too_long, 1 << 40);
    let mut leftover_meta = meta.clone();
    leftover_meta.push(0);
    let leftover = body(&leftover_meta, &frames, &stacks, &samples);
    let mut bad_kind = frames_payload(&[b"f"]);
    *bad_kind.last_mut().unwrap() = 0x80; // unknown frame flag
    let bad_flags = body(&meta, &bad_kind, &stacks, &samples);
    let cases: [(&str, Vec<u8>, &str); 7] = [
        ("missing", missing, "missing the required section `SMPL`"),
        ("reordered", reordered, "section `STKS` before the required section `FRMS`"),
        ("duplicate", duplicate, "duplicate or out-of-order section `SMPL`"),
        ("too long", too_long, "section `xtra` declares 1099511627776 bytes"),
        ("leftover", leftover, "1 unexpected bytes at the end of section `META`"),
        ("bad flags", bad_flags, "frame 0 has unknown flags 0x80"),
        ("empty", Vec::new(), "missing the required section `META`"),
    ];
    for (name, b, reason) in cases {
        let (err, msg) = reject(&wrap(&b));
        assert!(matches!(err.inner(), ArchiveError::Corrupt { .. }), "{name}: {err:?}");
        assert!(msg.contains(reason), "{name}: {msg}");
    }
}

/// Every truncation length of a small valid archive, and of its uncompressed body re-wrapped with
/// valid checksums, is rejected without panicking.
#[test]
fn archive_never_panics_on_any_truncation() {
    let bytes = encode(&small_profile());
    for len in 0..bytes.len() {
        assert!(read_no_panic(&bytes[..len]).is_err(), "truncated to {len} bytes but accepted");
    }
    let body = unwrap_body(&bytes);
    for len in 0..body.len() {
        let result = read_no_panic(&wrap(&body[..len]));
        assert!(matches!(result, Err(ArchiveError::Corrupt { .. })), "body truncated to {len} bytes: {result:?}");
    }
}

/// Random byte flips (fixed seed) in a valid archive, and in its body re-wrapped with valid
/// checksums so that the section parser sees them, never panic.
#[test]
fn archive_never_panics_on_random_flips() {
    let mut rng = fastrand::Rng::with_seed(0x5eed_1234_abcd_0001);
    let bytes = encode(&small_profile());
    for _ in 0..2000 {
        let mut b = bytes.clone();
        for _ in 0..1 + rng.usize(..4) {
            let at = rng.usize(..b.len());
            b[at] ^= 1 << rng.u32(..8);
        }
        if let Ok(profile) = read_no_panic(&b) {
            assert_eq!(profile, small_profile(), "a flipped archive decoded to another profile");
        }
    }
    let body = unwrap_body(&bytes);
    let mut rejected = 0;
    for _ in 0..3000 {
        let mut b = body.clone();
        for _ in 0..1 + rng.usize(..4) {
            let at = rng.usize(..b.len());
            b[at] = rng.u8(..);
        }
        if read_no_panic(&wrap(&b)).is_err() {
            rejected += 1;
        }
    }
    // The checksums are valid, so every rejection comes from the section parser.
    assert!(rejected > 1000, "only {rejected} of 3000 flipped bodies were rejected");
}

// ---------------------------------------------------------------------------------------------
// Golden file

fn golden_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/archive/v1-small.prof")
}

/// The committed version-1 golden archive (written by a prof before cgroups, never rewritten)
/// still decodes to the small fixed profile, its samples in no cgroup.
#[test]
fn archive_golden_v1_small() {
    let path = golden_path();
    let bytes = fs::read(&path).expect("read golden file");
    assert_eq!(&bytes[..8], b"PROFARC\0");
    assert_eq!(&bytes[8..10], &[1, 0], "golden file is not format version 1");
    let profile = archive::read_file(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(profile, small_profile(), "`{}` no longer decodes to the expected profile", path.display());
}

/// The small profile with its samples in cgroups: a container, a unit, one with no path known
/// (a cgroup gone before prof saw it), one sample with no cgroup.
fn cgroup_profile() -> Profile {
    use prof::profile::{Cgroup, SampleOwner};
    let mut p = small_profile();
    let docker = Cgroup { id: 4242, path: format!("/system.slice/docker-{}.scope", "0a".repeat(32)) };
    let gone = Cgroup { id: 77, path: String::new() };
    let mut b = ProfileBuilder::new(p.meta.clone());
    let frames: Vec<u32> = p.frames.iter().map(|f| b.frame(f.clone())).collect();
    let stacks: Vec<u32> = p.stacks.iter().map(|s| b.stack(s.iter().map(|&f| frames[f as usize]).collect())).collect();
    for (i, s) in p.samples.iter().enumerate() {
        let cgroup = [Some(&docker), Some(&gone), None][i % 3];
        b.add_owned(
            stacks[s.stack as usize],
            SampleOwner { pid: s.pid, tid: s.pid + 1, comm: &s.comm, cgroup },
            s.count,
        );
    }
    p = b.finish();
    p
}

/// The committed version-2 golden archive with cgroups decodes to the expected profile (pins
/// the `CGRP` section; created when missing, rewritten with `PROF_BLESS=1`).
#[test]
fn archive_golden_v2_cgroups() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/archive/v2-cgroups.prof");
    if !path.exists() || std::env::var_os("PROF_BLESS").is_some_and(|v| v == "1") {
        archive::write_file(&cgroup_profile(), &path).expect("write golden file");
        eprintln!("wrote golden file `{}`", path.display());
    }
    let bytes = fs::read(&path).expect("read golden file");
    assert_eq!(&bytes[8..10], &[2, 0], "golden file is not format version 2");
    let profile = archive::read_file(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(profile, cgroup_profile(), "`{}` no longer decodes to the expected profile", path.display());
    let paths: Vec<String> =
        profile.samples.iter().map(|s| profile.cgroup_of(s).map_or("-".into(), |c| c.name())).collect();
    assert_eq!(paths, [format!("/system.slice/docker-{}.scope", "0a".repeat(32)), "cgroup:77".into(), "-".into()]);
}

/// A `CGRP` section whose sample list does not match `SMPL`, or that names a cgroup past its
/// table, is corrupt.
#[test]
fn archive_rejects_bad_cgroup_section() {
    let mut body = hand_body();
    let mut cgrp = Vec::new();
    put_u32(&mut cgrp, 1);
    put_u64(&mut cgrp, 9);
    put_str(&mut cgrp, b"/a");
    put_u32(&mut cgrp, 1);
    put_u32(&mut cgrp, 2);
    section(&mut body, b"CGRP", &cgrp);
    let (_, msg) = reject(&wrap(&body));
    assert!(msg.contains("refers to cgroup 1, but there are 1 cgroups"), "{msg}");
    let mut body = hand_body();
    let mut cgrp = Vec::new();
    put_u32(&mut cgrp, 0);
    put_u32(&mut cgrp, 0);
    section(&mut body, b"CGRP", &cgrp);
    let (_, msg) = reject(&wrap(&body));
    assert!(msg.contains("the sample cgroup table has 0 entries for 1 samples"), "{msg}");
}

// ---------------------------------------------------------------------------------------------
// The optional unwind report (`UNWD`)

/// The per-binary unwind report survives a round trip; an archive without it has none.
#[test]
fn archive_unwind_report_round_trips() {
    use prof::profile::unwind::{UnwindMode, UnwindReport, UnwindStatus};
    let mut p = small_profile();
    assert!(archive::read(&encode(&p)).expect("read").meta.unwind.is_empty());
    let mut r = UnwindReport { modes: UnwindMode::Auto.into(), ..Default::default() };
    r.add("app", true, "app", UnwindStatus::Complete, 9);
    r.add("libc.so.6", false, "libfoo.so", UnwindStatus::Unsupported, 2);
    r.add("libc.so.6", true, "libc.so.6", UnwindStatus::ReadFault, 1);
    r.binaries.get_mut("app").unwrap().table = ".eh_frame (12 rows)".into();
    p.meta.unwind = r;
    let back = archive::read(&encode(&p)).expect("read");
    assert_eq!(back.meta.unwind, p.meta.unwind);
    assert_eq!(back, p);
}

/// An `UNWD` section with a reason this prof does not know keeps the rest; one listing a reason
/// twice is corrupt, with the offset.
#[test]
fn archive_unwind_report_unknown_and_duplicate_reasons() {
    let mut payload = Vec::new();
    put_str(&mut payload, b"auto");
    put_u32(&mut payload, 1);
    put_str(&mut payload, b"app");
    put_str(&mut payload, b".eh_frame (3 rows)");
    put_u64(&mut payload, 10);
    put_u64(&mut payload, 8);
    put_u64(&mut payload, 1);
    put_u32(&mut payload, 2);
    put_str(&mut payload, b"read_fault");
    put_u64(&mut payload, 1);
    put_str(&mut payload, b"future_reason");
    put_u64(&mut payload, 1);
    let mut b = hand_body();
    section(&mut b, b"UNWD", &payload);
    let p = archive::read(&wrap(&b)).expect("read");
    let app = &p.meta.unwind.binaries["app"];
    assert_eq!((app.samples, app.complete, app.unsymbolized, app.stopped.len()), (10, 8, 1, 1));

    let mut dup = Vec::new();
    put_str(&mut dup, b"auto");
    put_u32(&mut dup, 1);
    put_str(&mut dup, b"app");
    put_str(&mut dup, b"");
    put_u64(&mut dup, 1);
    put_u64(&mut dup, 0);
    put_u64(&mut dup, 0);
    put_u32(&mut dup, 2);
    put_str(&mut dup, b"read_fault");
    put_u64(&mut dup, 1);
    put_str(&mut dup, b"read_fault");
    put_u64(&mut dup, 1);
    let mut b = hand_body();
    section(&mut b, b"UNWD", &dup);
    let (err, msg) = reject(&wrap(&b));
    assert!(matches!(err, ArchiveError::File { .. }), "{err:?}");
    assert!(msg.contains("listed twice"), "{msg}");
}

/// The unwind modes are stored as the names joined by `+`, byte for byte, and read back as the
/// same modes; a name this prof does not know is corrupt, and the message names it.
#[test]
fn archive_unwind_modes_are_names_and_unknown_ones_are_corrupt() {
    let unwd = |modes: &[u8]| {
        let mut payload = Vec::new();
        put_str(&mut payload, modes);
        put_u32(&mut payload, 0);
        let mut b = hand_body();
        section(&mut b, b"UNWD", &payload);
        b
    };
    for modes in ["auto", "fp", "dwarf", "auto+fp", "dwarf+auto+fp"] {
        let b = unwd(modes.as_bytes());
        let p = archive::read(&wrap(&b)).expect("read");
        assert_eq!(p.meta.unwind.modes.to_string(), modes);
        assert_eq!(unwrap_body(&encode(&p)), b, "{modes}");
    }
    let fp = archive::read(&wrap(&unwd(b"fp"))).expect("read");
    assert_eq!(fp.meta.unwind.modes.only(), Some(prof::profile::unwind::UnwindMode::Fp));

    let (err, msg) = reject(&wrap(&unwd(b"auto+lbr")));
    assert!(matches!(err.inner(), ArchiveError::Corrupt { .. }), "{err:?}");
    assert!(msg.contains("unknown unwind mode `lbr`"), "{msg}");
}

// ---------------------------------------------------------------------------------------------
// Metadata-only reads (directory listings)

/// `read_meta_file` returns exactly the metadata `read_file` does, skipping unknown sections
/// before `META`, and rejects what `read_file` rejects in the header (naming the file).
#[test]
fn archive_read_meta_file_matches_full_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.prof");
    let p = realistic_profile();
    archive::write_file(&p, &path).unwrap();
    assert_eq!(archive::read_meta_file(&path).unwrap(), archive::read_file(&path).unwrap().meta);

    let mut b = Vec::new();
    section(&mut b, b"xtra", &[7u8; 5000]);
    b.extend_from_slice(&hand_body());
    let skip = dir.path().join("skip.prof");
    fs::write(&skip, wrap(&b)).unwrap();
    assert_eq!(archive::read_meta_file(&skip).unwrap(), archive::read(&wrap(&b)).unwrap().meta);

    let bad = dir.path().join("bad.prof");
    let mut bytes = wrap(&hand_body());
    bytes[0] = b'X';
    fs::write(&bad, &bytes).unwrap();
    let err = archive::read_meta_file(&bad).unwrap_err();
    assert!(err.to_string().contains("bad.prof"), "{err}");

    let short = dir.path().join("short.prof");
    let bytes = wrap(&hand_body());
    fs::write(&short, &bytes[..bytes.len() - 3]).unwrap();
    assert!(matches!(archive::read_meta_file(&short), Err(ArchiveError::File { .. })));

    // A body cut inside META (lengths consistent, content short) is corrupt, not a panic.
    let mut cut = Vec::new();
    section(&mut cut, b"META", &meta_payload(&[])[..10]);
    let cut_path = dir.path().join("cut.prof");
    fs::write(&cut_path, wrap(&cut)).unwrap();
    assert!(archive::read_meta_file(&cut_path).is_err());
}

/// Merging archives whose counts sum past `u64::MAX` (a range of crafted archives) saturates every
/// figure (samples, losses, the unwind report) at `u64::MAX` instead of wrapping to a small number.
#[test]
fn archive_merge_of_huge_counts_saturates() {
    use prof::profile::unwind::{UnwindReport, UnwindStatus};
    const SEC: u64 = 1_000_000_000;
    const T0: u64 = 1_700_000_000 * SEC;
    let dir = tempfile::tempdir().unwrap();
    for (i, n) in [(0, u64::MAX), (1, 5)] {
        let mut unwind = UnwindReport::default();
        unwind.add("app", true, "app", UnwindStatus::Complete, n);
        unwind.add("app", true, "libc.so.6", UnwindStatus::ReadFault, n);
        let meta = Metadata {
            start_unix_ns: T0 + i * 10 * SEC,
            end_unix_ns: T0 + (i + 1) * 10 * SEC,
            total_samples: n,
            losses: [(LossReason::UserStackFault, n), (LossReason::EventsLost, n)].into_iter().collect(),
            unwind,
            ..Metadata::default()
        };
        let mut b = ProfileBuilder::new(meta);
        let f = b.frame(Frame::new("leaf", "app", FrameKind::User));
        let s = b.stack(vec![f]);
        b.add(s, 1, "app", n);
        let path = dir.path().join(prof::store::archive_name(T0 + i * 10 * SEC, 42, i));
        archive::write_file(&b.finish(), &path).unwrap();
    }
    let (p, warnings) = prof::store::load_range(dir.path(), T0, T0 + 20 * SEC).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(p.total(), u64::MAX);
    assert_eq!(p.meta.total_samples, u64::MAX);
    assert_eq!(p.meta.losses.get(&LossReason::UserStackFault), Some(&u64::MAX));
    assert_eq!(p.meta.losses.get(&LossReason::EventsLost), Some(&u64::MAX));
    let app = &p.meta.unwind.binaries["app"];
    assert_eq!((app.samples, app.complete), (u64::MAX, u64::MAX));
    assert_eq!(p.meta.unwind.binaries["libc.so.6"].stopped[&UnwindStatus::ReadFault], u64::MAX);
    assert_eq!(p.meta.unwind.totals(), (u64::MAX, u64::MAX));
    assert!(p.meta.unwind.render(10).contains(&format!("{} of {} user stacks complete", u64::MAX, u64::MAX)));
}

/// A 256 MiB body that compresses to a few KiB and whose `FRMS` section declares 26 million
/// frames (the bytes left could hold them: 10 bytes each) is refused before any frame is
/// allocated: in memory they would take ~2.3 GB (88 bytes each), above the reader's budget.
/// Before, the reader reserved the whole table up front (a 33 KB file with a 1 GiB body asked for
/// 9.4 GB and aborted where the allocation failed).
#[test]
fn archive_rejects_frame_table_beyond_memory_budget() {
    let body_len: usize = 256 << 20;
    let mut body = Vec::with_capacity(body_len);
    section(&mut body, b"META", &meta_payload(&[]));
    let frames_len = body_len - body.len() - 12;
    let declared = ((frames_len - 4) / 10) as u32;
    body.extend_from_slice(b"FRMS");
    put_u64(&mut body, frames_len as u64);
    put_u32(&mut body, declared);
    body.resize(body_len, 0xff);
    let bytes = wrap(&body);
    drop(body);
    assert!(bytes.len() < 64 << 10, "the crafted archive should be small, is {} bytes", bytes.len());
    let started = std::time::Instant::now();
    let (err, msg) = reject(&bytes);
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "took {:?}", started.elapsed());
    assert!(matches!(err.inner(), ArchiveError::Corrupt { .. }), "{err:?}");
    assert!(msg.contains("frame table would take") && msg.contains("bytes of memory"), "{msg}");
}
