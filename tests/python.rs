//! Python frames read from live interpreters: tests/workloads/python_frames.py prints what
//! the interpreter itself sees (code object addresses, instruction offsets, lines, qualified
//! names) and prof's detection, userspace walk and code-object reader must find the same.
//! Debian's /usr/bin/python3 (3.11, stripped, installed by scripts/setup) is required; pyenv
//! builds of 3.10 to 3.13 are checked where present.

mod common;

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use prof::process::{ProcessId, ProcessTable};
use prof::python::walk::{frames, threads, PyFrame};
use prof::python::{CodeCache, Detector, ProcessMemory};

use common::pyenv;

/// One frame as the interpreter reported it.
#[derive(Debug)]
struct Reported {
    code: u64,
    lasti: u32,
    line: u32,
    name: String,
    file: String,
}

/// What the workload printed before "ready".
#[derive(Debug, Default)]
struct Report {
    version: String,
    /// (native thread id, `threading` ident) of the main thread, then of the reporter.
    threads: Vec<(u64, u64)>,
    frames: Vec<Reported>,
    idle_code: u64,
}

/// Kills the workload when the test ends, however it ends.
struct Workload(Child);

impl Drop for Workload {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(python: &Path) -> (Workload, Report) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workloads/python_frames.py");
    let mut child = Command::new(python).arg(&script).stdout(Stdio::piped()).spawn().expect("python starts");
    let out = child.stdout.take().unwrap();
    let workload = Workload(child);
    let mut report = Report::default();
    for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
        let f: Vec<&str> = line.split(' ').collect();
        match f[0] {
            "version" => report.version = f[1].to_string(),
            "thread" => report.threads.push((f[1].parse().unwrap(), f[2].parse().unwrap())),
            "frame" => report.frames.push(Reported {
                code: f[2].parse().unwrap(),
                lasti: f[3].parse().unwrap(),
                line: f[4].parse().unwrap(),
                name: f[5].to_string(),
                file: f[6..].join(" "),
            }),
            "idle" => report.idle_code = f[2].parse().unwrap(),
            "ready" => return (workload, report),
            _ => panic!("unexpected line {line:?}"),
        }
    }
    panic!("the workload ended before it was ready: {report:?}");
}

/// Runs the workload under `python` and checks detection, both threads' walks and the names
/// and lines of every frame against what the interpreter printed.
fn check_interpreter(python: &Path) {
    let (workload, report) = start(python);
    let pid = workload.0.id();
    let mut table = ProcessTable::default();
    assert!(table.capture(pid, pid));
    let py = Detector::default().detect(&table.latest(pid)).expect("a supported version").expect("python found");
    assert_eq!(py.offsets.version.to_string(), report.version);
    let mem = ProcessMemory::new(pid);
    let states = threads(&mem, &py);
    let by_thread = |(native, ident): (u64, u64)| {
        let want = if py.offsets.matches_pthread { ident } else { native };
        states.iter().find(|t| t.thread_id == want).unwrap_or_else(|| panic!("thread {want} in {states:?}"))
    };
    assert_eq!(states.len(), 2, "{states:?}");

    let walked = frames(&mem, py.offsets, by_thread(report.threads[0]).addr);
    let want: Vec<(u64, u32)> = report.frames.iter().map(|f| (f.code, f.lasti / 2)).collect();
    let got: Vec<(u64, u32)> = walked.iter().map(|f| (f.code, f.index)).collect();
    assert_eq!(got, want, "{python:?}: main thread's frames");
    // numbers (a generator: its own evaluation), inner, run (called inline since 3.11),
    // <module>; in 3.10 every call is its own evaluation.
    let entries: Vec<bool> = walked.iter().map(|f: &PyFrame| f.entry).collect();
    let every = py.offsets.version.minor == 10;
    assert_eq!(entries, [true, every, every, true], "{python:?}: entry frames");

    let mut cache = CodeCache::default();
    let id = ProcessId::any(pid);
    for (frame, reported) in walked.iter().zip(&report.frames) {
        let info = cache.get(id, &mem, py.offsets, frame.code).expect("a code object");
        assert_eq!(info.qualname, reported.name);
        assert_eq!(info.filename, reported.file);
        assert_eq!(info.line(frame.index), reported.line, "{python:?}: line of {}", reported.name);
    }
    let names: Vec<&str> = report.frames.iter().map(|f| f.name.as_str()).collect();
    let nested = if every { "inner" } else { "Worker.run.<locals>.inner" };
    let method = if every { "run" } else { "Worker.run" };
    assert_eq!(names, ["numbers", nested, method, "<module>"]);
    assert!(cache.get(id, &mem, py.offsets, by_thread(report.threads[0]).addr).is_none(), "a thread state is no code");

    // The reporter prints "ready" just before it calls idle(): give it the time to get there.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let idle = loop {
        let idle = frames(&mem, py.offsets, by_thread(report.threads[1]).addr).first().map(|f| f.code);
        if idle == Some(report.idle_code) || std::time::Instant::now() > deadline {
            break idle;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert_eq!(idle, Some(report.idle_code), "{python:?}: reporter thread");
}

/// Debian's python3 (3.11, stripped, interpreter linked into the executable): detected from
/// `_PyRuntime` and `Py_Version` in its dynamic symbols, walked, and named like the
/// interpreter names its frames.
#[test]
fn python_debian_python3_frames_match_interpreter() {
    let python = Path::new("/usr/bin/python3");
    assert!(python.exists(), "/usr/bin/python3 is missing: run scripts/setup");
    check_interpreter(python);
}

/// pyenv builds of 3.10 to 3.13, where installed (never on a fresh CI machine).
#[test]
fn python_pyenv_versions_frames_match_interpreter() {
    for minor in ["3.10", "3.11", "3.12", "3.13"] {
        match pyenv(minor) {
            Some(python) => check_interpreter(&python),
            None => println!("SKIPPED python {minor}: no pyenv build"),
        }
    }
}

/// What python_busy.py printed: code object addresses by function, thread ids by role.
struct Busy {
    child: Workload,
    codes: std::collections::HashMap<String, u64>,
    threads: std::collections::HashMap<String, u32>,
}

fn start_busy(python: &Path, seconds: &str) -> Busy {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workloads/python_busy.py");
    let mut child =
        Command::new(python).arg(&script).arg(seconds).stdout(Stdio::piped()).spawn().expect("python starts");
    let out = child.stdout.take().unwrap();
    let mut busy = Busy { child: Workload(child), codes: Default::default(), threads: Default::default() };
    for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
        let f: Vec<&str> = line.split(' ').collect();
        match f[0] {
            "code" => drop(busy.codes.insert(f[1].to_string(), f[2].parse().unwrap())),
            "thread" => drop(busy.threads.insert(f[1].to_string(), f[2].parse().unwrap())),
            "ready" => return busy,
            _ => panic!("unexpected line {line:?}"),
        }
    }
    panic!("the workload ended before it was ready");
}

/// The kernel's walk of Debian's python3 (3.11): the Python frames recorded for each sample
/// are the code objects the script printed, per thread (the main thread under
/// `Worker.run.<locals>.inner`, the second thread through the generator), with the
/// entry frames of each evaluation marked, and lines inside the functions sampled.
#[test]
fn python_bpf_records_code_objects_of_each_thread() {
    let _machine = bpf_test!("python_bpf_records_code_objects_of_each_thread");
    check_kernel_walk(Path::new("/usr/bin/python3"));
}

/// The kernel's walk of pyenv's 3.10, 3.12 and 3.13 where installed (never on a fresh CI
/// machine): 3.10 tells threads by their `pthread_t`, 3.12 and 3.13 mark evaluations with
/// shim frames.
#[test]
fn python_bpf_pyenv_versions() {
    let _machine = bpf_test!("python_bpf_pyenv_versions");
    for minor in ["3.10", "3.12", "3.13"] {
        match pyenv(minor) {
            Some(python) => check_kernel_walk(&python),
            None => println!("SKIPPED python {minor}: no pyenv build"),
        }
    }
}

/// Samples the busy workload under `python` with the kernel's walker and checks each
/// sample's Python frames against the code objects the script printed.
fn check_kernel_walk(python: &Path) {
    use prof::sample::python_maps::decode_frame;
    use prof::sample::{Sampler, SamplerOptions, StackRef, Targets};

    let busy = start_busy(python, "30");
    let pid = busy.child.0.id();
    let mut table = ProcessTable::default();
    assert!(table.capture(pid, pid));
    let py = Detector::default().detect(&table.latest(pid)).unwrap().expect("python found");
    let opts = SamplerOptions {
        frequency_hz: 499,
        // The process joins the filter only once its Python walk is set, so that every
        // sample of it is a Python sample (no sample can land in between).
        targets: Targets::Pids { pids: Vec::new(), follow_forks: false },
        ..SamplerOptions::default()
    };
    let mut sampler = Sampler::start(&opts).expect("sampler starts");
    sampler.set_python_process(pid, &py).unwrap();
    sampler.add_target(pid).unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let counts = sampler.stop().unwrap();
    let stats = sampler.stats().unwrap();

    let code = |name: &str| busy.codes[name];
    let mut total = 0;
    let mut with_python = 0;
    let mut expected = 0;
    let mut mem_checked = false;
    let mut cache = CodeCache::default();
    let mem = ProcessMemory::new(pid);
    for c in &counts {
        total += c.count;
        let StackRef::Frames(words) = &c.python else { continue };
        with_python += c.count;
        let frames: Vec<_> = words.iter().map(|&w| decode_frame(w).expect("a Python word")).collect();
        let codes: Vec<u64> = frames.iter().map(|f| f.code).collect();
        let main = c.tid == busy.threads["main"];
        let want: Vec<u64> = if main {
            vec![code("leaf"), code("inner"), code("run"), code("module")]
        } else {
            assert_eq!(c.tid, busy.threads["second"], "a third thread");
            vec![code("leaf"), code("numbers"), code("spin")]
        };
        // leaf may be sampled before it is entered or after it returned
        let tail = if codes.first() == Some(&code("leaf")) { &want[..] } else { &want[1..] };
        if !codes.starts_with(tail) {
            continue;
        }
        expected += c.count;
        let entries: Vec<bool> = frames.iter().take(tail.len()).map(|f| f.entry).collect();
        // 3.10: every call is an evaluation. 3.11: <module> is the first evaluation, spin
        // (called from C by Thread.run's `self._target(*args)`) and the generator start one.
        // 3.12+ run both in their caller's evaluation (CALL_FUNCTION_EX and a specialized
        // FOR_ITER push the frame inline): only <module> starts one.
        let entry = |a: u64| match py.offsets.version.minor {
            10 => true,
            11 => [code("numbers"), code("spin"), code("module")].contains(&a),
            _ => a == code("module"),
        };
        let want_entries: Vec<bool> = tail.iter().map(|&a| entry(a)).collect();
        assert_eq!(entries, want_entries, "{python:?} {:?} tid {}", frames, c.tid);
        if frames[0].code == code("leaf") {
            let info = cache.get(ProcessId::any(pid), &mem, py.offsets, code("leaf")).expect("leaf's code");
            let line = info.line(frames[0].index);
            assert!((10..=14).contains(&line), "leaf's line {line}");
            mem_checked = true;
        }
    }
    drop(busy);
    eprintln!("{python:?}: {with_python} of {total} samples with Python frames, {expected} as designed; {stats:?}");
    assert!(total > 200, "{total} samples");
    assert!(mem_checked);
    assert!(with_python * 100 >= total * 95, "{with_python} of {total} samples have Python frames");
    assert!(expected * 100 >= with_python * 95, "{expected} of {with_python} Python stacks as designed");
    assert_eq!(stats.python.samples, total);
}
