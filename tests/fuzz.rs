//! Mutation fuzzing of the parsers that read hostile input, on stable Rust: the archive reader,
//! the pprof reader (gzip'd and raw), the folded parser (lenient and strict), the perf-map parser
//! and the archive-directory name parser; and `diff` of two mutated profiles (folded or archive),
//! with every option, rendered in every diff format.
//!
//! Each parser starts from seeds (the golden fixtures under `tests/fixtures`, and generated perf
//! maps and names) and runs a bounded number of mutated cases: bit flips, interesting bytes and
//! integers, tokens of the text formats, truncation, chunk insertion, deletion and duplication,
//! splicing two seeds. pprof is also mutated inside its gzip stream and field by field in the
//! decoded message, and archives inside their compressed body (re-wrapped with a valid header and
//! checksums, so mutations reach the section decoders). Every case must return, Ok or Err: a
//! panic or a case slower than [`SLOW_CASE`] fails the test, names the run seed, case and
//! mutations, and keeps the input in `target/fuzz-failures/<parser>/`; so does a peak resident
//! memory above [`MAX_PEAK_RSS`].
//!
//! `PROF_FUZZ_CASES=N` runs N cases per parser (longer local runs); `PROF_FUZZ_SEED=S` repeats a
//! run (each run prints its seed, and each failure the command that repeats it). An input that
//! once failed is kept in `tests/fixtures/fuzz/<parser>/` and replayed every run by
//! `fuzz_regressions_replay`.

use std::io::{Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use prof::archive::{self, HEADER_LEN, MAGIC, VERSION};
use prof::output::folded;
use prof::output::pprof::{self, proto};
use prof::profile::Metadata;
use prof::store;
use prof::symbolize::perf_map::PerfMap;
use prost::Message;

/// Cases per parser when `PROF_FUZZ_CASES` is not set: the whole test stays well under a minute
/// in a debug build on a 2-core machine (each parser prints its cases per second).
const DEFAULT_CASES: usize = 40_000;

/// A single case taking longer than this is reported as a failure (a hang or a blow-up).
const SLOW_CASE: Duration = Duration::from_secs(2);

/// A single case taking longer than this ends the process (see [`watchdog`]).
const HUNG_CASE: Duration = Duration::from_secs(60);

/// Most memory the test process may have used at the end of a parser's run (peak resident set,
/// shared by the tests running in parallel). The parsers bound what they allocate by their input;
/// inputs are at most [`MAX_INPUT`], so a peak near this is a budget that does not hold.
const MAX_PEAK_RSS: u64 = 1 << 30;

/// Largest input a mutation may grow to: seeds are a few KiB, and the parsers' limits are
/// exercised by their own tests, not by fuzzing.
const MAX_INPUT: usize = 64 * 1024;

/// Bytes that often sit on a boundary: zero, all ones, the signed maximum and minimum.
const INTERESTING: [u8; 4] = [0x00, 0xff, 0x7f, 0x80];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every file under `tests/fixtures` whose name ends with `suffix`, sorted.
fn fixture_files(suffix: &str) -> Vec<Vec<u8>> {
    let mut paths = Vec::new();
    let mut dirs = vec![fixtures()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                // Regression inputs are replayed by their own test, not used as seeds.
                if path.file_name() != Some("fuzz".as_ref()) {
                    dirs.push(path);
                }
            } else if path.to_string_lossy().ends_with(suffix) {
                paths.push(path);
            }
        }
    }
    paths.sort();
    assert!(!paths.is_empty(), "no `*{suffix}` fixtures under {}", fixtures().display());
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// The run's configuration: cases per parser and the seed (random unless given).
struct Config {
    cases: usize,
    seed: u64,
}

fn config() -> Config {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let cases = var("PROF_FUZZ_CASES").map_or(DEFAULT_CASES, |v| v.parse().expect("PROF_FUZZ_CASES: a number"));
    let seed = var("PROF_FUZZ_SEED").map_or_else(
        || fastrand::u64(..),
        |v| {
            let v = v.trim_start_matches("0x");
            u64::from_str_radix(v, 16).expect("PROF_FUZZ_SEED: a hex number, as printed")
        },
    );
    Config { cases, seed }
}

// ---------------------------------------------------------------------------------------------
// Mutations

/// Applies 1 to 4 random mutations to `input` (possibly splicing in one of `seeds`) and names
/// them in `log`.
fn mutate(rng: &mut fastrand::Rng, input: &[u8], seeds: &[Vec<u8>], log: &mut Vec<String>) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..1 + rng.usize(..4) {
        mutate_once(rng, &mut b, seeds, log);
        b.truncate(MAX_INPUT);
    }
    b
}

/// A random chunk `start..end` of `b` (empty when `b` is), at most 64 bytes unless `big`.
fn chunk(rng: &mut fastrand::Rng, b: &[u8], big: bool) -> (usize, usize) {
    let start = rng.usize(..=b.len());
    let max = if big { b.len() - start } else { (b.len() - start).min(64) };
    (start, start + rng.usize(..=max))
}

/// A little-endian integer of `width` bytes that sits on a boundary: 0, 1, a small count, the
/// input's length (lengths and counts are what the parsers trust least), or the width's signed
/// and unsigned extremes.
fn interesting_int(rng: &mut fastrand::Rng, width: usize, input_len: usize) -> u64 {
    let max = if width >= 8 { u64::MAX } else { (1u64 << (width * 8)) - 1 };
    match rng.u8(..7) {
        0 => 0,
        1 => 1 + rng.u64(..16),
        2 => (input_len as u64).wrapping_add(rng.u64(..3)).wrapping_sub(1),
        3 => max,
        4 => max / 2,
        5 => max / 2 + 1,
        _ => max - rng.u64(..16),
    }
}

/// Pieces of the text formats (separators, counts, hex, markers, multi-byte and invalid UTF-8)
/// inserted whole, so that text parsers see near-valid lines rather than only byte noise.
const TOKENS: [&[u8]; 22] = [
    b";",
    b" ",
    b"\n",
    b"\r\n",
    b"\t",
    b"0",
    b"9",
    b"-",
    b".",
    b"0x",
    b"18446744073709551615",
    b"18446744073709551616",
    b"1e3",
    b"-1",
    b"_[k]",
    b"# ",
    b"prof-",
    b".prof",
    b"T",
    b"Z",
    "\u{00ff}\u{200b}".as_bytes(),
    b"\xc3\xff",
];

/// One mutation of `b` (refilled from a seed when empty), named in `log`.
fn mutate_once(rng: &mut fastrand::Rng, b: &mut Vec<u8>, seeds: &[Vec<u8>], log: &mut Vec<String>) {
    if b.is_empty() {
        let s = &seeds[rng.usize(..seeds.len())];
        b.extend_from_slice(&s[..rng.usize(..=s.len())]);
        log.push(format!("refill {}", b.len()));
        return;
    }
    match rng.u8(..11) {
        0 => {
            let at = rng.usize(..b.len());
            let bit = rng.u32(..8);
            b[at] ^= 1 << bit;
            log.push(format!("flip {at}:{bit}"));
        }
        1 => {
            let at = rng.usize(..b.len());
            b[at] = INTERESTING[rng.usize(..INTERESTING.len())];
            log.push(format!("set {at}={:#04x}", b[at]));
        }
        2 => {
            let at = rng.usize(..b.len());
            b[at] = rng.u8(..);
            log.push(format!("set {at}={:#04x}", b[at]));
        }
        3 => {
            let len = rng.usize(..b.len());
            b.truncate(len);
            log.push(format!("truncate {len}"));
        }
        4 => {
            let at = rng.usize(..=b.len());
            let n = 1 + rng.usize(..16);
            let bytes: Vec<u8> = (0..n).map(|_| INTERESTING[rng.usize(..INTERESTING.len())]).collect();
            b.splice(at..at, bytes);
            log.push(format!("insert {at}+{n}"));
        }
        5 => {
            let (start, end) = chunk(rng, b, false);
            b.drain(start..end);
            log.push(format!("delete {start}..{end}"));
        }
        6 => {
            let (start, end) = chunk(rng, b, false);
            let copy = b[start..end].to_vec();
            let at = rng.usize(..=b.len());
            b.splice(at..at, copy);
            log.push(format!("duplicate {start}..{end} at {at}"));
        }
        7 => {
            let token = TOKENS[rng.usize(..TOKENS.len())];
            let at = rng.usize(..=b.len());
            b.splice(at..at, token.iter().copied());
            log.push(format!("token {at}+{:?}", String::from_utf8_lossy(token)));
        }
        8 | 9 => {
            let width = [1, 2, 4, 8][rng.usize(..4)].min(b.len());
            let at = rng.usize(..=b.len() - width);
            let value = interesting_int(rng, width, b.len());
            b[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
            log.push(format!("int{} {at}={value:#x}", width * 8));
        }
        _ => {
            let other = &seeds[rng.usize(..seeds.len())];
            let (start, end) = chunk(rng, other, true);
            let at = rng.usize(..=b.len());
            b.truncate(at);
            b.extend_from_slice(&other[start..end]);
            log.push(format!("splice {at} <- {start}..{end}"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The runner

/// How one parser's run went.
struct Outcome {
    failures: Vec<String>,
}

/// The case running now, for the watchdog: when it started, its number and its input.
type Current = std::sync::Mutex<Option<(Instant, usize, Vec<u8>)>>;

/// Watches the case running now: one running past [`SLOW_CASE`] is reported on standard error
/// (past the test harness's capture) and its input saved while it still runs; one running past
/// [`HUNG_CASE`] ends the process, so that a hang fails the run instead of stalling it.
fn watchdog(parser: &str, seed: u64, current: &Current, done: &std::sync::atomic::AtomicBool) {
    let mut reported = None;
    while !done.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        let guard = current.lock().unwrap_or_else(|e| e.into_inner());
        let Some((started, case, input)) = guard.as_ref() else { continue };
        let took = started.elapsed();
        if took > SLOW_CASE && reported != Some(*case) {
            reported = Some(*case);
            let saved = save_failure(parser, seed, *case, input);
            let msg = format!(
                "fuzz {parser}: seed {seed:#x} case {case} still running after {took:?}; input saved to {}\n",
                saved.display()
            );
            let _ = std::io::stderr().write_all(msg.as_bytes());
        }
        if took > HUNG_CASE {
            let _ = std::io::stderr().write_all(format!("fuzz {parser}: case {case} hung, aborting\n").as_bytes());
            std::process::abort();
        }
    }
}

/// Runs the configured cases of `parser`, each a mutation of one of `seeds` (recorded in the
/// case's log), through `check`, and fails on any panic or slow case.
fn fuzz_mutations_of(parser: &str, seeds: &[Vec<u8>], check: impl Fn(&[u8]) -> bool) {
    let outcome = run(
        parser,
        &config(),
        |rng, log| {
            let i = rng.usize(..seeds.len());
            log.push(format!("seed {i}"));
            mutate(rng, &seeds[i], seeds, log)
        },
        check,
    );
    assert_clean(outcome);
}

/// Runs `cases` cases of `parser`: `make` builds one input from the case's generator (and logs
/// its mutations), `check` parses it (true when the input was accepted). Panics and slow cases
/// are collected, their inputs saved.
fn run(
    parser: &str,
    cfg: &Config,
    make: impl FnMut(&mut fastrand::Rng, &mut Vec<String>) -> Vec<u8>,
    check: impl Fn(&[u8]) -> bool,
) -> Outcome {
    let current = Current::default();
    let done = std::sync::atomic::AtomicBool::new(false);
    let started = Instant::now();
    let (mut failures, accepted, slowest) = std::thread::scope(|scope| {
        scope.spawn(|| watchdog(parser, cfg.seed, &current, &done));
        let result = run_cases(parser, cfg, &current, make, check);
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        result
    });
    let elapsed = started.elapsed();
    let peak = peak_rss();
    if peak > MAX_PEAK_RSS {
        failures.push(format!("{parser}: seed {:#x}: peak resident memory {} MiB", cfg.seed, peak >> 20));
    }
    eprintln!(
        "fuzz {parser}: {} cases ({accepted} accepted) in {elapsed:.1?} ({:.0} cases/s, slowest {slowest:.1?}, \
         peak RSS {} MiB), seed {:#x}, {} failures",
        cfg.cases,
        cfg.cases as f64 / elapsed.as_secs_f64().max(1e-9),
        peak >> 20,
        cfg.seed,
        failures.len()
    );
    Outcome { failures }
}

/// The cases of [`run`]: (failures, cases accepted, slowest case).
fn run_cases(
    parser: &str,
    cfg: &Config,
    current: &Current,
    mut make: impl FnMut(&mut fastrand::Rng, &mut Vec<String>) -> Vec<u8>,
    check: impl Fn(&[u8]) -> bool,
) -> (Vec<String>, usize, Duration) {
    // One generator per parser, so that each parser's cases do not depend on the others'.
    let parser_seed = parser.bytes().fold(cfg.seed, |h, c| (h ^ u64::from(c)).wrapping_mul(0x100_0000_01b3));
    let mut rng = fastrand::Rng::with_seed(parser_seed);
    let mut failures = Vec::new();
    let mut slowest = Duration::ZERO;
    let mut accepted = 0;
    for case in 0..cfg.cases {
        let mut log = Vec::new();
        let input = make(&mut rng, &mut log);
        let t = Instant::now();
        *current.lock().unwrap_or_else(|e| e.into_inner()) = Some((t, case, input.clone()));
        let result = catch_unwind(AssertUnwindSafe(|| check(&input)));
        let took = t.elapsed();
        *current.lock().unwrap_or_else(|e| e.into_inner()) = None;
        slowest = slowest.max(took);
        let problem = match result {
            Err(panic) => Some(format!("panicked: {}", panic_message(&panic))),
            Ok(_) if took > SLOW_CASE => Some(format!("took {took:?}")),
            Ok(ok) => {
                accepted += usize::from(ok);
                None
            }
        };
        if let Some(problem) = problem {
            let saved = save_failure(parser, cfg.seed, case, &input);
            failures.push(format!(
                "{parser}: seed {:#x} case {case} {problem}; mutations [{}]; input ({} bytes) saved to {}; \
                 again: PROF_FUZZ_SEED={:x} PROF_FUZZ_CASES={} cargo test --test fuzz {parser}",
                cfg.seed,
                log.join(", "),
                input.len(),
                saved.display(),
                cfg.seed,
                case + 1
            ));
        }
    }
    (failures, accepted, slowest)
}

/// The process's peak resident set in bytes (`VmHWM`), 0 when unknown.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().strip_suffix("kB"));
    kib.and_then(|v| v.trim().parse::<u64>().ok()).map_or(0, |k| k << 10)
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(s), _) => s.to_string(),
        (_, Some(s)) => s.clone(),
        _ => "(no message)".to_string(),
    }
}

/// Keeps a failing input in `target/fuzz-failures/<parser>/`, named by seed and case.
fn save_failure(parser: &str, seed: u64, case: usize, input: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures").join(parser);
    let path = dir.join(format!("{seed:016x}-{case}"));
    if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, input)) {
        eprintln!("could not save `{}`: {e}", path.display());
    }
    path
}

fn assert_clean(outcome: Outcome) {
    assert!(outcome.failures.is_empty(), "fuzz failures:\n{}", outcome.failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Archives

/// The uncompressed body of a valid archive.
fn archive_body(archive: &[u8]) -> Vec<u8> {
    zstd::stream::decode_all(&archive[HEADER_LEN..]).expect("a valid fixture archive")
}

/// A complete archive around `body`, with the header `docs/archive-format.md` describes
/// (magic, version, flags, lengths, body CRC, header CRC), so only the body is wrong.
fn wrap_body(body: &[u8]) -> Vec<u8> {
    let payload = zstd::bulk::compress(body, 1).expect("zstd compress");
    let mut a = MAGIC.to_vec();
    a.extend_from_slice(&VERSION.to_le_bytes());
    a.extend_from_slice(&0u16.to_le_bytes());
    a.extend_from_slice(&(body.len() as u64).to_le_bytes());
    a.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    a.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    let crc = crc32fast::hash(&a);
    a.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(a.len(), HEADER_LEN);
    a.extend_from_slice(&payload);
    a
}

thread_local! {
    /// A file per test thread for the file-only reader ([`archive::read_meta_file`]), in memory
    /// when `/dev/shm` is there: rewriting a file on disk for every case would flush it each time.
    static META_FILE: tempfile::NamedTempFile = {
        let shm = Path::new("/dev/shm");
        let file = if shm.is_dir() { tempfile::NamedTempFile::new_in(shm) } else { tempfile::NamedTempFile::new() };
        file.expect("temporary file")
    };
}

/// Reads the archive from memory and its metadata alone from a file. What is accepted is written
/// again and must read back the same, and its metadata-only read must agree.
fn check_archive(bytes: &[u8]) -> bool {
    let meta = META_FILE.with(|f| {
        std::fs::write(f.path(), bytes).expect("write the temporary file");
        archive::read_meta_file(f.path())
    });
    let Ok(profile) = archive::read(bytes) else { return false };
    // The unwind report is a later section (`UNWD`), which a metadata-only read does not reach.
    let expected = Metadata { unwind: Default::default(), ..profile.meta.clone() };
    assert_eq!(meta.ok(), Some(expected), "the metadata-only read disagrees with the full read");
    let mut again = Vec::new();
    archive::write(&profile, &mut again).expect("an accepted profile can be written");
    assert_eq!(archive::read(&again).ok().as_ref(), Some(&profile), "an accepted profile does not round-trip");
    true
}

/// Mutated archives (read from memory, and their metadata from a file): a quarter mutated as
/// they are (the header and checksums reject most), the rest mutated in their uncompressed body
/// and re-wrapped, so the section decoders see them.
#[test]
fn fuzz_archive_reader() {
    let cfg = config();
    let archives = fixture_files(".prof");
    let bodies: Vec<Vec<u8>> = archives.iter().map(|a| archive_body(a)).collect();
    let outcome = run(
        "archive",
        &cfg,
        |rng, log| {
            let i = rng.usize(..archives.len());
            if rng.u8(..4) == 0 {
                log.push(format!("archive seed {i}"));
                mutate(rng, &archives[i], &archives, log)
            } else {
                log.push(format!("body of seed {i}, re-wrapped"));
                wrap_body(&mutate(rng, &bodies[i], &bodies, log))
            }
        },
        check_archive,
    );
    assert_clean(outcome);
}

// ---------------------------------------------------------------------------------------------
// pprof

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out).expect("a valid fixture gzip stream");
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("gzip into memory");
    gz.finish().expect("gzip into memory")
}

/// The pprof seeds, gzip'd: the fixture `*.pb.gz` files and the fixture archives written as
/// pprof (prof's own writer, with its mappings, locations, labels and comments).
fn pprof_seeds() -> Vec<Vec<u8>> {
    let mut seeds = fixture_files(".pb.gz");
    for a in fixture_files(".prof") {
        let mut out = Vec::new();
        pprof::write(&archive::read(&a).expect("a valid fixture archive"), &mut out).expect("write pprof");
        seeds.push(out);
    }
    seeds
}

fn check_pprof(bytes: &[u8]) -> bool {
    let ok = pprof::read(bytes, "fuzz.pb.gz").is_ok();
    if !pprof::is_gzip(bytes) {
        let _ = pprof::read_if_raw_pprof(bytes, "fuzz.pb");
    }
    ok
}

/// A value for an `int64` field (a string index, count or time): on a boundary of the type or of
/// the string table (`strings` long).
fn interesting_i64(rng: &mut fastrand::Rng, strings: usize) -> i64 {
    let n = strings as i64;
    [0, 1, -1, n - 1, n, n + 1, i64::MAX, i64::MIN, rng.i64(..), rng.i64(0..n.max(1))][rng.usize(..10)]
}

/// A value for a `uint64` field (an id, address or index): small, in or just past the tables, or
/// an extreme.
fn interesting_u64(rng: &mut fastrand::Rng, table: usize) -> u64 {
    let n = table as u64;
    [0, 1, n, n + 1, u64::MAX, 1 << 63, 0xffff_8000_0000_0000, rng.u64(..), rng.u64(..=n)][rng.usize(..9)]
}

/// Changes one field of the decoded message (ids, indices, values, table entries), so that the
/// message still decodes and the change reaches the reader's checks.
fn mutate_fields(rng: &mut fastrand::Rng, p: &mut proto::Profile, log: &mut Vec<String>) {
    let strings = p.string_table.len();
    let (locations, functions, mappings) = (p.location.len(), p.function.len(), p.mapping.len());
    let what = rng.u8(..14);
    log.push(format!("field {what}"));
    match what {
        0 if !p.sample.is_empty() => {
            let s = rng.usize(..p.sample.len());
            let values = &mut p.sample[s].value;
            match values.len() {
                0 => values.push(interesting_i64(rng, strings)),
                n => values[rng.usize(..n)] = interesting_i64(rng, strings),
            }
        }
        1 if !p.sample.is_empty() => {
            let s = rng.usize(..p.sample.len());
            let ids = &mut p.sample[s].location_id;
            match (rng.u8(..3), ids.len()) {
                (0, n) if n > 0 => ids[rng.usize(..n)] = interesting_u64(rng, locations),
                (1, n) if n > 0 => drop(ids.remove(rng.usize(..n))),
                _ => ids.push(interesting_u64(rng, locations)),
            }
        }
        2 if !p.sample.is_empty() => {
            let s = rng.usize(..p.sample.len());
            let labels = &mut p.sample[s].label;
            if labels.is_empty() || rng.bool() {
                labels.push(proto::Label::default());
            }
            let n = labels.len();
            let l = &mut labels[rng.usize(..n)];
            let v = interesting_i64(rng, strings);
            *[&mut l.key, &mut l.str, &mut l.num, &mut l.num_unit][rng.usize(..4)] = v;
        }
        3 if locations > 0 => {
            let l = &mut p.location[rng.usize(..locations)];
            let v = interesting_u64(rng, locations.max(mappings));
            *[&mut l.id, &mut l.mapping_id, &mut l.address][rng.usize(..3)] = v;
        }
        4 if locations > 0 => {
            let l = &mut p.location[rng.usize(..locations)];
            if l.line.is_empty() || rng.bool() {
                l.line.push(proto::Line::default());
            }
            let n = l.line.len();
            let line = &mut l.line[rng.usize(..n)];
            match rng.u8(..3) {
                0 => line.function_id = interesting_u64(rng, functions),
                1 => line.line = interesting_i64(rng, strings),
                _ => line.column = interesting_i64(rng, strings),
            }
        }
        5 if functions > 0 => {
            let f = &mut p.function[rng.usize(..functions)];
            match rng.u8(..5) {
                0 => f.id = interesting_u64(rng, functions),
                1 => f.name = interesting_i64(rng, strings),
                2 => f.system_name = interesting_i64(rng, strings),
                3 => f.filename = interesting_i64(rng, strings),
                _ => f.start_line = interesting_i64(rng, strings),
            }
        }
        6 if mappings > 0 => {
            let m = &mut p.mapping[rng.usize(..mappings)];
            match rng.u8(..6) {
                0 => m.id = interesting_u64(rng, mappings),
                1 => m.memory_start = interesting_u64(rng, mappings),
                2 => m.memory_limit = interesting_u64(rng, mappings),
                3 => m.file_offset = interesting_u64(rng, mappings),
                4 => m.filename = interesting_i64(rng, strings),
                _ => m.build_id = interesting_i64(rng, strings),
            }
        }
        7 => {
            let v = interesting_i64(rng, strings);
            *[
                &mut p.drop_frames,
                &mut p.keep_frames,
                &mut p.time_nanos,
                &mut p.duration_nanos,
                &mut p.period,
                &mut p.default_sample_type,
                &mut p.doc_url,
            ][rng.usize(..7)] = v;
        }
        8 => {
            let v = interesting_i64(rng, strings);
            if rng.bool() || p.comment.is_empty() {
                p.comment.push(v);
            } else {
                let n = p.comment.len();
                p.comment[rng.usize(..n)] = v;
            }
        }
        9 => {
            let types = if rng.bool() || p.period_type.is_none() {
                if p.sample_type.is_empty() || rng.u8(..4) == 0 {
                    p.sample_type.push(proto::ValueType::default());
                }
                let n = p.sample_type.len();
                &mut p.sample_type[rng.usize(..n)]
            } else {
                p.period_type.get_or_insert_with(Default::default)
            };
            let v = interesting_i64(rng, strings);
            *[&mut types.r#type, &mut types.unit][rng.usize(..2)] = v;
        }
        10 if strings > 0 => {
            let s = &mut p.string_table[rng.usize(..strings)];
            match rng.u8(..3) {
                0 => s.clear(),
                1 => s.extend_from_slice(&[0xff, 0xc0, b'\n', b';', 0]),
                _ => *s = b"[kernel.kallsyms]".to_vec(),
            }
        }
        11 => {
            let n = rng.usize(..=strings);
            p.string_table.truncate(n);
        }
        12 => match rng.u8(..4) {
            0 if !p.sample.is_empty() => drop(p.sample.remove(rng.usize(..p.sample.len()))),
            1 if locations > 0 => drop(p.location.remove(rng.usize(..locations))),
            2 if functions > 0 => drop(p.function.remove(rng.usize(..functions))),
            _ if mappings > 0 => drop(p.mapping.remove(rng.usize(..mappings))),
            _ => {}
        },
        _ => match rng.u8(..4) {
            0 if !p.sample.is_empty() => p.sample.push(p.sample[rng.usize(..p.sample.len())].clone()),
            1 if locations > 0 => p.location.push(p.location[rng.usize(..locations)].clone()),
            2 if functions > 0 => p.function.push(p.function[rng.usize(..functions)].clone()),
            _ if mappings > 0 => p.mapping.push(p.mapping[rng.usize(..mappings)].clone()),
            _ => {}
        },
    }
}

/// Mutated pprof: the gzip file itself, the protobuf inside mutated (as bytes, read raw or
/// re-gzipped), and the decoded message's fields changed (ids, indices, values, tables).
#[test]
fn fuzz_pprof_reader() {
    let cfg = config();
    let gzipped = pprof_seeds();
    let raw: Vec<Vec<u8>> = gzipped.iter().map(|g| gunzip(g)).collect();
    let decoded: Vec<proto::Profile> =
        raw.iter().map(|r| proto::Profile::decode(&r[..]).expect("valid fixture")).collect();
    let outcome = run(
        "pprof",
        &cfg,
        |rng, log| {
            let i = rng.usize(..gzipped.len());
            match rng.u8(..6) {
                0 => {
                    log.push(format!("gzip seed {i}"));
                    mutate(rng, &gzipped[i], &gzipped, log)
                }
                1 => {
                    log.push(format!("protobuf of seed {i}, raw"));
                    mutate(rng, &raw[i], &raw, log)
                }
                2 | 3 => {
                    log.push(format!("protobuf of seed {i}, re-gzipped"));
                    gzip(&mutate(rng, &raw[i], &raw, log))
                }
                _ => {
                    log.push(format!("fields of seed {i}"));
                    let mut message = decoded[i].clone();
                    for _ in 0..1 + rng.usize(..4) {
                        mutate_fields(rng, &mut message, log);
                    }
                    let bytes = message.encode_to_vec();
                    if rng.bool() {
                        gzip(&bytes)
                    } else {
                        bytes
                    }
                }
            }
        },
        check_pprof,
    );
    assert_clean(outcome);
}

// ---------------------------------------------------------------------------------------------
// Folded stacks

fn check_folded(bytes: &[u8]) -> bool {
    let _ = folded::parse(bytes, "fuzz.folded", true);
    folded::parse(bytes, "fuzz.folded", false).is_ok()
}

/// Mutated folded files, each parsed leniently and strictly.
#[test]
fn fuzz_folded_parser() {
    fuzz_mutations_of("folded", &fixture_files(".folded"), check_folded);
}

// ---------------------------------------------------------------------------------------------
// Perf maps

/// Small perf maps in the shapes JIT runtimes write (and a few they should not).
fn perf_map_seeds() -> Vec<Vec<u8>> {
    let mut rng = fastrand::Rng::with_seed(0x9e7f_3a9b);
    let mut seeds = vec![
        b"7f0000001000 40 LazyCompile:~main /app/index.js:1\n7f0000001040 20 Builtin:ArgumentsAdaptor\n".to_vec(),
        b"0x1000 0x10 a\n0x1000 0x20 b\n\n   \n0 1 f\nffffffffffffffff ffffffffffffffff wrap\n".to_vec(),
        b"1 2\n3 4 \nzz 1 x\n1 zz x\n10 100000000 huge size\r\n20 1 crlf\r\n".to_vec(),
    ];
    let mut generated = String::new();
    let mut addr: u64 = 0x7f12_3400_0000;
    for n in 0..40 {
        let size = 1 + rng.u64(..0x400);
        generated.push_str(&format!("{addr:x} {size:x} Interpreted:fn_{n} [jit] /tmp/x.lua:{n}\n"));
        addr += size + rng.u64(..0x40);
    }
    seeds.push(generated.into_bytes());
    seeds
}

fn check_perf_map(bytes: &[u8]) -> bool {
    let map = PerfMap::parse(&String::from_utf8_lossy(bytes));
    for addr in [0, 1, 0x1000, 0x7f00_0000_1040, 0x7f12_3400_0100, u64::MAX] {
        let _ = map.lookup(addr);
    }
    let _ = map.heap_bytes();
    map.bad_lines == 0 && !map.is_empty()
}

/// Mutated perf maps, parsed (as the lossily decoded text the reader hands over) and looked up.
#[test]
fn fuzz_perf_map_parser() {
    fuzz_mutations_of("perf_map", &perf_map_seeds(), check_perf_map);
}

// ---------------------------------------------------------------------------------------------
// Archive-directory names

/// Names as the recorder writes them, at edge times and numbers, and names it never writes.
fn name_seeds() -> Vec<Vec<u8>> {
    let mut rng = fastrand::Rng::with_seed(0x4a3e_11aa);
    let mut seeds: Vec<Vec<u8>> = [
        (0, 0, 0),
        (1_764_079_500_123_000_000, 4242, 7),
        (u64::MAX, u32::MAX, u64::MAX),
        (1_000_000, 1, 999_999),
        (1_000_000, 1, 1_000_000),
    ]
    .iter()
    .map(|&(t, p, s)| store::archive_name(t, p, s).into_bytes())
    .collect();
    for _ in 0..8 {
        seeds.push(store::archive_name(rng.u64(..), rng.u32(..), rng.u64(..1 << 20)).into_bytes());
    }
    seeds.push(b"prof-20261125T140500.123Z-1-000001.prof.tmp".to_vec());
    seeds.push(".prof-20261125T140500.123Z-1-000001.prof.Ab12Cd.tmp".as_bytes().to_vec());
    seeds
}

/// Parses a name (true when accepted); a name that parses must be exactly the one `archive_name` writes for it.
fn check_name(bytes: &[u8]) -> bool {
    let name = String::from_utf8_lossy(bytes);
    let parsed = store::parse_name(&name);
    if let Some((start, pid, seq)) = parsed {
        assert_eq!(store::archive_name(start, pid, seq), name, "accepted a name prof does not write");
    }
    parsed.is_some()
}

/// Mutated archive-directory names.
#[test]
fn fuzz_store_name_parser() {
    fuzz_mutations_of("store_name", &name_seeds(), check_name);
}

// ---------------------------------------------------------------------------------------------
// Diff

/// Flags byte of a diff input: BASE is an archive (else folded text).
const DIFF_BASE_ARCHIVE: u8 = 1;
/// NEW is an archive (else folded text).
const DIFF_NEW_ARCHIVE: u8 = 2;
/// Also draw the differential flamegraphs (slower: one case in eight).
const DIFF_SVG: u8 = 4;

/// One diff input: a flags byte, BASE's length (u32 LE), BASE, then NEW (the rest).
fn diff_input(flags: u8, base: &[u8], new: &[u8]) -> Vec<u8> {
    let mut input = vec![flags];
    input.extend_from_slice(&(base.len() as u32).to_le_bytes());
    input.extend_from_slice(base);
    input.extend_from_slice(new);
    input
}

/// A profile read the way `prof diff` reads it: an archive, or folded text (leniently).
fn diff_side(bytes: &[u8], archive: bool) -> Option<prof::profile::Profile> {
    if archive {
        archive::read(bytes).ok()
    } else {
        folded::parse(bytes, "side.folded", true).ok().map(|p| p.profile)
    }
}

/// Splits a diff input (any bytes: a short one is all NEW), reads both sides, and diffs them with
/// every option combination, rendering each result as the CLI would (table, JSON, folded, and for
/// some the SVGs). True when both sides read and some diff was produced.
fn check_diff(bytes: &[u8]) -> bool {
    use prof::diff::{self, render, DiffOptions};
    let flags = bytes.first().copied().unwrap_or(0);
    let rest = bytes.get(1..).unwrap_or_default();
    let (base, new) = match rest.get(..4) {
        Some(len) => {
            let len = (u32::from_le_bytes(len.try_into().unwrap()) as usize).min(rest.len() - 4);
            rest[4..].split_at(len)
        }
        None => (&[][..], rest),
    };
    let (Some(base), Some(new)) =
        (diff_side(base, flags & DIFF_BASE_ARCHIVE != 0), diff_side(new, flags & DIFF_NEW_ARCHIVE != 0))
    else {
        return false;
    };
    let mut produced = false;
    for (normalize, match_builds) in [(true, true), (false, false), (true, false)] {
        let opts = DiffOptions { normalize, match_builds, ..DiffOptions::default() };
        let Ok(d) = diff::diff(&base, "base", &new, "new", &opts) else { continue };
        produced = true;
        let _ = d.stacks();
        let _ = d.regressions(0.5);
        render::write_table(&d, 20, std::io::sink()).expect("a table can be written");
        render::write_json(&d, std::io::sink()).expect("JSON can be written");
        render::write_folded(&d, std::io::sink()).expect("folded can be written");
        if flags & DIFF_SVG != 0 {
            for negate in [false, true] {
                let svg = render::DiffSvgOptions { negate, deterministic: true, no_javascript: true };
                let _ = render::write_svg(&d, &svg, std::io::sink());
            }
        }
    }
    produced
}

/// Two profiles, each a folded file or an archive, one or both mutated (an archive in its body,
/// re-wrapped), diffed with every option and rendered: never a panic or a slow case. A diff case
/// parses two inputs and renders several outputs, so this target runs a quarter of the
/// configured cases.
#[test]
fn fuzz_diff() {
    let cfg = config();
    let cfg = Config { cases: cfg.cases.div_ceil(4), seed: cfg.seed };
    let folded_seeds = fixture_files(".folded");
    let archives = fixture_files(".prof");
    let bodies: Vec<Vec<u8>> = archives.iter().map(|a| archive_body(a)).collect();
    let outcome = run(
        "diff",
        &cfg,
        |rng, log| {
            let flags = rng.u8(..4) | if rng.u8(..8) == 0 { DIFF_SVG } else { 0 };
            log.push(format!("flags {flags}"));
            let mutate_base = rng.bool();
            let mutate_new = !mutate_base || rng.bool();
            let mut side = |archive: bool, mutated: bool, log: &mut Vec<String>| {
                if archive {
                    let i = rng.usize(..bodies.len());
                    log.push(format!("archive {i}{}", if mutated { " mutated" } else { "" }));
                    if mutated {
                        wrap_body(&mutate(rng, &bodies[i], &bodies, log))
                    } else {
                        archives[i].clone()
                    }
                } else {
                    let i = rng.usize(..folded_seeds.len());
                    log.push(format!("folded {i}{}", if mutated { " mutated" } else { "" }));
                    if mutated {
                        mutate(rng, &folded_seeds[i], &folded_seeds, log)
                    } else {
                        folded_seeds[i].clone()
                    }
                }
            };
            let base = side(flags & DIFF_BASE_ARCHIVE != 0, mutate_base, log);
            let new = side(flags & DIFF_NEW_ARCHIVE != 0, mutate_new, log);
            diff_input(flags, &base, &new)
        },
        check_diff,
    );
    assert_clean(outcome);
}

// ---------------------------------------------------------------------------------------------
// Regressions

/// A parser's check: parses the input (true when accepted), panics on a broken invariant.
type Check = fn(&[u8]) -> bool;

/// Each input kept in `tests/fixtures/fuzz/<parser>/` (see its README) is parsed again, by the
/// same check the fuzzer ran, without panicking or taking longer than [`SLOW_CASE`].
#[test]
fn fuzz_regressions_replay() {
    let checks: [(&str, Check); 6] = [
        ("archive", check_archive),
        ("pprof", check_pprof),
        ("folded", check_folded),
        ("perf_map", check_perf_map),
        ("store_name", check_name),
        ("diff", check_diff),
    ];
    let root = fixtures().join("fuzz");
    let mut failures = Vec::new();
    let mut replayed = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let parser = dir.file_name().unwrap().to_string_lossy().into_owned();
        let Some(&(_, check)) = checks.iter().find(|(name, _)| *name == parser) else {
            panic!("`{}` names no fuzzed parser (one of {:?})", dir.display(), checks.map(|c| c.0));
        };
        let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        inputs.sort();
        for path in inputs {
            let input = std::fs::read(&path).unwrap();
            let t = Instant::now();
            let result = catch_unwind(AssertUnwindSafe(|| check(&input)));
            let took = t.elapsed();
            replayed += 1;
            match result {
                Err(panic) => failures.push(format!("{}: panicked: {}", path.display(), panic_message(&panic))),
                Ok(_) if took > SLOW_CASE => failures.push(format!("{}: took {took:?}", path.display())),
                Ok(_) => {}
            }
        }
    }
    eprintln!("replayed {replayed} fuzz regression inputs");
    assert!(failures.is_empty(), "fuzz regressions fail again:\n{}", failures.join("\n"));
}
