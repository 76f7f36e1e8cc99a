//! Recordings of Python programs whose CPU time is split by design between known functions
//! (tests/workloads/python_split.py): `prof record` names their Python frames
//! `qualname (file.py:line)`, merged into the native stack where the interpreter ran them, in
//! the designed shares, and every output format keeps them marked as Python. Uses Debian's
//! /usr/bin/python3 (3.11, installed by scripts/setup). Needs root (or CAP_BPF + CAP_PERFMON).

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use common::{count_where, prof_ok, pyenv, read_folded};

fn os<S: AsRef<OsStr> + ?Sized>(s: &S) -> &OsStr {
    s.as_ref()
}

const PYTHON: &str = "/usr/bin/python3";

fn split_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workloads/python_split.py")
}

/// True when `stack` has a Python frame of the function `qualname`.
fn has_py(stack: &str, qualname: &str) -> bool {
    stack.split(';').any(|f| is_py_frame(f, qualname))
}

fn is_py_frame(frame: &str, qualname: &str) -> bool {
    frame.strip_prefix(qualname).and_then(|rest| rest.strip_prefix(" (")).is_some_and(|rest| rest.contains(".py:"))
}

/// The frames of `stack` inner to the first Python frame of `qualname` (none if it has none).
fn inner_to<'a>(stack: &'a str, qualname: &str) -> Vec<&'a str> {
    let frames: Vec<&str> = stack.split(';').collect();
    match frames.iter().position(|f| is_py_frame(f, qualname)) {
        Some(i) => frames[i + 1..].to_vec(),
        None => Vec::new(),
    }
}

/// The designed split of python_split.py's CPU time (percent of the samples under `run_main`
/// or `run_second`), by function.
const DESIGN: [(&str, f64); 5] = [
    ("Shapes.area", 20.0),
    ("outer.<locals>.nested", 13.33),
    ("squares", 13.33),
    ("encode_json", 20.0),
    ("hash_blocks", 33.33),
];

/// Checks the folded stacks of a recording of python_split.py: the shares of its functions
/// within 4 points of the design, the generator under its caller, the C extensions under the
/// Python functions that called them, each thread's functions apart, and the interpreter's
/// native frames around them; at most `unnamed_pct` percent of the work's samples with a Python
/// function left unnamed. Returns the samples of the script's work.
fn check_split(stacks: &[(String, u64)], min_samples: u64, plain_names: bool, unnamed_pct: u64) -> u64 {
    // 3.10 has no qualified names: `Shapes.area` is `area`.
    let q =
        |qualname: &'static str| if plain_names { qualname.rsplit('.').next().unwrap_or(qualname) } else { qualname };
    let total = count_where(stacks, |_| true);
    let work = count_where(stacks, |s| has_py(s, q("run_main")) || has_py(s, q("run_second")));
    println!("{work} of {total} samples under run_main or run_second");
    assert!(work >= min_samples, "{work} samples of the script's work: {stacks:?}");
    let unknown = count_where(stacks, |s| s.contains(prof::profile::UNKNOWN_PYTHON));
    assert!(unknown * 100 <= work * unnamed_pct, "{unknown} of {work} samples with Python functions not named");
    for (function, want) in DESIGN {
        let n = count_where(stacks, |s| has_py(s, q(function)));
        let share = 100.0 * n as f64 / work as f64;
        println!("{function}: {n} samples, {share:.1}% (designed {want:.1}%)");
        assert!((share - want).abs() <= 4.0, "{function}: {share:.1}% of the samples, designed {want:.1}%");
    }
    // The generator runs under the function that pulls it.
    let pull = count_where(stacks, |s| has_py(s, q("pull")));
    let in_generator = count_where(stacks, |s| inner_to(s, q("pull")).iter().any(|f| is_py_frame(f, q("squares"))));
    assert!(in_generator * 100 >= pull * 90, "{in_generator} of {pull} samples of pull in squares");
    // C extensions sit under the Python function that called them: json's encoder under
    // JSONEncoder.iterencode, OpenSSL's hashing under hash_blocks.
    let json = count_where(stacks, |s| has_py(s, q("encode_json")));
    let json_native = count_where(stacks, |s| {
        has_py(s, q("encode_json")) && inner_to(s, q("JSONEncoder.iterencode")).iter().any(|f| !f.contains(".py:"))
    });
    assert!(json_native * 100 >= json * 80, "{json_native} of {json} samples of encode_json in C under iterencode");
    let hashing = count_where(stacks, |s| has_py(s, q("hash_blocks")));
    let hash_native = count_where(stacks, |s| {
        inner_to(s, q("hash_blocks"))
            .iter()
            .any(|f| ["hashlib", "libcrypto", "EVP_", "sha256"].iter().any(|n| f.contains(n)))
    });
    assert!(hash_native * 100 >= hashing * 80, "{hash_native} of {hashing} samples of hash_blocks in OpenSSL");
    // Two threads, each with its own functions; their native roots are kept (but in samples
    // whose native walk could not finish: a short script ends while its tables are built).
    assert_eq!(count_where(stacks, |s| has_py(s, q("run_main")) && has_py(s, q("run_second"))), 0);
    assert_eq!(count_where(stacks, |s| has_py(s, q("hash_blocks")) && !has_py(s, q("run_second"))), 0);
    let main = count_where(stacks, |s| has_py(s, q("run_main")));
    let main_rooted = count_where(stacks, |s| has_py(s, q("run_main")) && s.contains(";Py_RunMain;"));
    assert!(main_rooted * 100 >= main * 90, "{main_rooted} of {main} samples of run_main under Py_RunMain");
    let second = count_where(stacks, |s| has_py(s, q("run_second")));
    let second_rooted = count_where(stacks, |s| has_py(s, q("run_second")) && s.contains(";start_thread;"));
    assert!(second_rooted * 100 >= second * 90, "{second_rooted} of {second} samples of run_second under start_thread");
    // Every evaluation the Python frames came from was replaced by them.
    let eval_left = count_where(stacks, |s| has_py(s, q("run_main")) && s.contains("_PyEval_EvalFrameDefault"));
    assert!(eval_left * 100 <= work, "{eval_left} samples keep an evaluation frame next to Python frames");
    work
}

/// A recording of Debian's python3 running python_split.py: Python frames named
/// `qualname (file.py:line)` for a method, a nested function, a generator and the callers of
/// C extensions, in the designed shares of CPU time (within 4 points), merged into the native
/// stacks; the archive, pprof, folded and speedscope outputs keep them marked as Python and
/// the flame graph colours them apart.
#[test]
fn python_record_designed_shares_in_every_format() {
    let _m = bpf_test!("python_record_designed_shares_in_every_format");
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name);
    let script = split_script();
    let recorded = prof_ok(&[
        os("record"),
        os("-F"),
        os("499"),
        os("-o"),
        os(&out("p.folded")),
        os("-o"),
        os(&out("p.prof")),
        os("-o"),
        os(&out("p.pb.gz")),
        os("-o"),
        os(&out("p.speedscope.json")),
        os("-o"),
        os(&out("p.svg")),
        os("--"),
        os(PYTHON),
        os(&script),
    ]);
    check_split(&read_folded(&out("p.folded")), 800, false, 2);

    // The summary and the unwind report tell how many samples of the Python process have
    // Python frames.
    let summary = String::from_utf8_lossy(&recorded.stderr);
    let line = summary.lines().find(|l| l.trim_start().starts_with("python: ")).expect("a python line");
    assert!(line.contains("samples of 1 Python process with Python frames"), "{line}");
    let report = prof_ok(&[os("report"), os(&out("p.prof")), os("--unwind-report")]);
    let report = String::from_utf8_lossy(&report.stdout);
    println!("{report}");
    let row = report.lines().find(|l| l.ends_with(" python3") && l.contains('%')).expect("a row of python3");
    let share: f64 = row.split_whitespace().nth(2).and_then(|s| s.trim_end_matches('%').parse().ok()).unwrap();
    assert!(share >= 90.0, "{share}% of python3's samples with Python frames: {report}");

    // Read back, each format keeps the frames marked as Python (pprof and the archive by
    // their module, folded by their names' form), with the script's file.
    for input in ["p.prof", "p.pb.gz", "p.folded"] {
        let profile = prof::input::load(&out(input), false).unwrap().profile;
        let area: Vec<_> = profile.frames.iter().filter(|f| f.name.starts_with("Shapes.area (")).collect();
        assert!(!area.is_empty(), "{input}: no Shapes.area frame");
        for f in area {
            assert!(f.is_python(), "{input}: {f:?}");
            assert!(f.file.as_deref().is_some_and(|file| file.ends_with("python_split.py")), "{input}: {f:?}");
        }
        assert!(profile.frames.iter().any(|f| f.name == "_PyObject_MakeTpCall" && !f.is_python()), "{input}");
    }
    let speedscope = std::fs::read_to_string(out("p.speedscope.json")).unwrap();
    assert!(speedscope.contains("\"name\":\"Shapes.area ("), "speedscope names the Python frames");
    assert!(speedscope.contains(&format!("\"file\":\"{}\"", script.display())), "speedscope keeps their file");

    // In the flame graph, Python frames have their own colour.
    let svg = std::fs::read_to_string(out("p.svg")).unwrap();
    let colour_of = |title_start: &str| -> Option<String> {
        let at = svg.find(&format!("<title>{title_start}"))?;
        let rest = &svg[at..];
        let fill = rest.find("fill=\"")? + "fill=\"".len();
        Some(rest[fill..].split('"').next()?.to_string())
    };
    assert_eq!(colour_of("Shapes.area (").as_deref(), Some("rgb(200,165,240)"));
    assert_eq!(colour_of("run_main (").as_deref(), Some("rgb(200,165,240)"));
    assert_ne!(colour_of("_PyObject_MakeTpCall").as_deref(), Some("rgb(200,165,240)"));
}

/// With `--python off`, the same program shows the interpreter's native frames only.
#[test]
fn python_record_off_keeps_native_frames_only() {
    let _m = bpf_test!("python_record_off_keeps_native_frames_only");
    let dir = tempfile::tempdir().unwrap();
    let folded = dir.path().join("p.folded");
    let script = split_script();
    prof_ok(&[
        os("record"),
        os("--python"),
        os("off"),
        os("-o"),
        os(&folded),
        os("--"),
        os(PYTHON),
        os(&script),
        os("0.6"),
    ]);
    let stacks = read_folded(&folded);
    let total = count_where(&stacks, |_| true);
    assert!(total >= 30, "{total} samples");
    assert_eq!(count_where(&stacks, |s| s.contains(".py:")), 0, "{stacks:?}");
    let eval = count_where(&stacks, |s| s.contains(";_PyEval_EvalFrameDefault"));
    assert!(eval * 2 >= total, "{eval} of {total} samples in _PyEval_EvalFrameDefault");
}

/// A program that becomes Python later (a shell that sleeps, then execs python3) gets its
/// Python frames from the exec on, in the designed shares.
#[test]
fn python_record_exec_later() {
    let _m = bpf_test!("python_record_exec_later");
    let dir = tempfile::tempdir().unwrap();
    let folded = dir.path().join("p.folded");
    let command = format!("sleep 0.3; exec {PYTHON} {}", split_script().display());
    prof_ok(&[os("record"), os("-F"), os("499"), os("-o"), os(&folded), os("--"), os("sh"), os("-c"), os(&command)]);
    check_split(&read_folded(&folded), 800, false, 2);
}

/// A script that runs for some 0.6 s of CPU (less than the drain interval) still gets
/// its Python functions named, in the designed shares: samples handed over while the
/// interpreter's unwind table was being built keep their Python frames, and code objects are
/// read before the process exits.
#[test]
fn python_record_short_lived_script() {
    let _m = bpf_test!("python_record_short_lived_script");
    let dir = tempfile::tempdir().unwrap();
    let folded = dir.path().join("p.folded");
    let script = split_script();
    let out = prof_ok(&[
        os("record"),
        os("-F"),
        os("1999"),
        os("-o"),
        os(&folded),
        os("--"),
        os(PYTHON),
        os(&script),
        os("0.4"),
    ]);
    // Every sample handed over while python3.11's table (0.3 s to build) and the others were
    // built waited for them: none was finished with frame pointers, which python3.11 lacks.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let handed = stderr.lines().find(|l| l.contains("handed over:")).expect("a handed-over line");
    println!("{handed}");
    assert!(!handed.contains("without it"), "samples finished without their table: {handed}");
    let stacks = read_folded(&folded);
    let total = count_where(&stacks, |_| true);
    let with_python = count_where(&stacks, |s| s.contains(".py:"));
    println!("{with_python} of {total} samples with Python frames");
    assert!(with_python * 100 >= total * 85, "{with_python} of {total} samples with Python frames");
    // The code objects its imports run (each module's body, site's .pth lines) may be freed
    // before prof reads them (at the drain after their sample, or, for a sample handed over
    // while a table is built, when it arrives): those samples keep `[unknown python function]`
    // (1-13 of ~1,250 in five runs, at most 1%, every one under an import; 52 when samples
    // handed over were read only once their walk finished).
    check_split(&stacks, 500, false, 4);
}

/// pyenv's 3.10, 3.12 and 3.13 where installed (never on a fresh CI machine): the same
/// designed shares, with 3.10's evaluation per call and plain function names, and 3.12's and
/// 3.13's shim frames marking evaluations.
#[test]
fn python_record_pyenv_versions() {
    let _m = bpf_test!("python_record_pyenv_versions");
    for minor in ["3.10", "3.12", "3.13"] {
        let Some(python) = pyenv(minor) else {
            println!("SKIPPED python {minor}: no pyenv build");
            continue;
        };
        let dir = tempfile::tempdir().unwrap();
        let folded = dir.path().join("p.folded");
        let script = split_script();
        prof_ok(&[os("record"), os("-F"), os("499"), os("-o"), os(&folded), os("--"), os(&python), os(&script)]);
        println!("python {minor}:");
        check_split(&read_folded(&folded), 800, minor == "3.10", 2);
    }
}

/// The share of each Python function in `folded` lines (prof's or py-spy's `-f raw`): the
/// function of each sample's innermost Python frame, in percent of the samples with one.
fn innermost_python_shares(text: &str) -> std::collections::HashMap<String, f64> {
    let mut counts: std::collections::HashMap<String, u64> = Default::default();
    let mut total = 0;
    for line in text.lines() {
        let Some((stack, count)) = line.rsplit_once(' ') else { continue };
        let count: u64 = count.parse().unwrap_or(0);
        let innermost = stack.split(';').rfind(|f| f.contains(".py:") && f.ends_with(')'));
        if let Some((function, _)) = innermost.and_then(|f| f.rsplit_once(" (")) {
            *counts.entry(function.to_string()).or_default() += count;
            total += count;
        }
    }
    counts.into_iter().map(|(f, n)| (f, 100.0 * n as f64 / total.max(1) as f64)).collect()
}

/// py-spy's rate in the side-by-side comparison. `py-spy record --native` stops the process for
/// each sample and reads its native stack with ptrace one word at a time, for longer where the
/// stack is deeper: a median 580 µs per sample in json's C encoder against 240 µs in
/// `Matrix.multiply` (`perf record -e dummy --switch-events`). At 499 Hz (2 ms apart) the process
/// then runs less between a sample taken in the encoder and the next, so the next one lands in
/// the encoder more often: py-spy put 1.5 to 4.2 points more into `JSONEncoder.iterencode` than
/// prof in every run, while perf, which does not stop the process, finds the encoder in as many
/// samples as prof does (docs/python.md). At 99 Hz (10 ms apart) the same stops shift the
/// encoder's share by some 0.5 point, up to 2 on a heavily loaded machine, where py-spy's stops
/// grow longer.
const PY_SPY_HZ: &str = "99";

/// How long py-spy samples: 45 s at 99 Hz is ~4,500 samples, so that the sampling error of its
/// shares (~0.65 point for a function with a quarter of them) leaves room within the 3 points
/// (30 s gave differences up to 2.9 points on a busy machine).
const PY_SPY_SECONDS: &str = "45";

/// The niceness of the workload and of py-spy in the comparison. py-spy samples wall-clock
/// time and prof CPU time: on a machine busy with other work, a workload waiting for a CPU gets
/// py-spy's samples all where it was preempted, and py-spy waiting for a CPU keeps the process
/// stopped longer. Ahead of other work, both run when they are ready.
const PRIORITY: &str = "-10";

/// The most the shares of a function may differ between prof and py-spy, in points: the issue's
/// bound.
const AGREE_POINTS: f64 = 3.0;

/// The function among the top `n` of `theirs` whose share differs most from its share in `ours`,
/// with that difference in points.
fn max_difference(
    ours: &std::collections::HashMap<String, f64>,
    theirs: &std::collections::HashMap<String, f64>,
    n: usize,
) -> (String, f64) {
    let mut top: Vec<(&String, &f64)> = theirs.iter().collect();
    top.sort_by(|a, b| b.1.total_cmp(a.1));
    top.iter()
        .take(n)
        .map(|(function, share)| ((*function).clone(), (ours.get(*function).copied().unwrap_or(0.0) - **share).abs()))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or_default()
}

/// `folded` with the innermost Python frame of `function` removed from `fraction` of the samples
/// whose innermost Python frame it is (their share going to its caller): what prof would record
/// if it lost that function's frame in those samples.
fn drop_innermost(folded: &str, function: &str, fraction: f64) -> String {
    let mut out = String::new();
    for line in folded.lines() {
        let Some((stack, count)) = line.rsplit_once(' ') else { continue };
        let count: u64 = count.parse().unwrap_or(0);
        let frames: Vec<&str> = stack.split(';').collect();
        let innermost = frames.iter().rposition(|f| f.contains(".py:") && f.ends_with(')'));
        match innermost.filter(|&i| frames[i].rsplit_once(" (").is_some_and(|(name, _)| name == function)) {
            Some(i) => {
                let dropped = (count as f64 * fraction).round() as u64;
                let kept: Vec<&str> = frames.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, f)| *f).collect();
                out.push_str(&format!("{stack} {}\n{} {dropped}\n", count - dropped, kept.join(";")));
            }
            None => out.push_str(&format!("{line}\n")),
        }
    }
    out
}

/// Side by side with py-spy (installed with pip by scripts/setup; skipped without it outside
/// CI): prof at 499 Hz and `py-spy record --native -f raw` at 99 Hz sample the same python3
/// process (python_mix.py) over the same 45 s, and the shares of py-spy's top 10 Python
/// functions (each sample's innermost Python frame) agree within 3 points. py-spy samples at
/// 99 Hz because at 499 Hz its own stops bias it toward json's encoder (`PY_SPY_HZ`), and with
/// the workload ahead of other work on the machine (`PRIORITY`). The same comparison fails when
/// prof's recording loses `JSONEncoder.iterencode`'s frame in half of its samples (some 10
/// points).
#[test]
fn python_record_agrees_with_py_spy() {
    let _m = bpf_test!("python_record_agrees_with_py_spy");
    let Ok(py_spy) = common::which("py-spy") else {
        // scripts/setup installs it with pip: CI has it.
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "py-spy missing in CI: run scripts/setup");
        println!("SKIPPED python_record_agrees_with_py_spy: py-spy is not installed (scripts/setup)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workloads/python_mix.py");
    let mut workload = std::process::Command::new("nice")
        .args(["-n", PRIORITY, PYTHON])
        .arg(&script)
        .arg("75")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python starts");
    let mut ready = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(workload.stdout.take().unwrap()), &mut ready).unwrap();
    assert_eq!(ready.trim(), "ready");
    let pid = workload.id().to_string();
    let folded = dir.path().join("prof.folded");
    let raw = dir.path().join("py-spy.txt");
    let prof =
        common::Background::start(&[os("record"), os("-F"), os("499"), os("-p"), os(&pid), os("-o"), os(&folded)]);
    let spy = std::process::Command::new("nice")
        .args(["-n", PRIORITY])
        .arg(py_spy)
        .args(["record", "--native", "-f", "raw", "-r", PY_SPY_HZ, "-d", PY_SPY_SECONDS, "-p", &pid, "-o"])
        .arg(&raw)
        .output()
        .expect("py-spy runs");
    prof.signal(libc::SIGINT);
    let (status, stderr) = prof.finish();
    let _ = workload.kill();
    let _ = workload.wait();
    assert!(spy.status.success(), "py-spy: {}", String::from_utf8_lossy(&spy.stderr));
    assert!(status.success(), "prof: {stderr}");

    let prof_folded = std::fs::read_to_string(&folded).unwrap();
    let ours = innermost_python_shares(&prof_folded);
    let theirs = innermost_python_shares(&std::fs::read_to_string(&raw).unwrap());
    let mut top: Vec<(&String, &f64)> = theirs.iter().collect();
    top.sort_by(|a, b| b.1.total_cmp(a.1));
    for (function, share) in top.iter().take(10) {
        let mine = ours.get(*function).copied().unwrap_or(0.0);
        println!("{function}: prof {mine:.1}%, py-spy {share:.1}%");
    }
    assert!(top.len() >= 8, "py-spy saw {} Python functions", top.len());
    let (function, points) = max_difference(&ours, &theirs, 10);
    println!("largest difference: {points:.2} points ({function})");
    assert!(points <= AGREE_POINTS, "{function}: prof and py-spy differ by {points:.1} points");

    // The bound catches a recording that lost json's encoder frame in half of its samples.
    let lossy = innermost_python_shares(&drop_innermost(&prof_folded, "JSONEncoder.iterencode", 0.5));
    let (function, points) = max_difference(&lossy, &theirs, 10);
    println!("with half of iterencode's frames dropped: {points:.2} points ({function})");
    assert!(points > AGREE_POINTS, "dropping iterencode's frames went unnoticed: {points:.1} points");
}
