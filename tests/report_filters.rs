//! `prof report` and `prof diff` with `--comm` and `--pid` (and `--cgroup`, `--container`,
//! `--by cgroup|container|unit`): the filter applies before every output format, and its errors
//! say what to do. No BPF: inputs are folded fixtures and a golden archive.

mod common;

use std::path::{Path, PathBuf};

use common::{prof_err, prof_ok, read_folded};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report").join(name)
}

/// `--comm 'py.*' --pid 11,10` keeps exactly python's 80 samples in every format written: the
/// folded lines, the archive and pprof read back (counts, comms and pids), the SVG and the
/// speedscope file (no other process's frames).
#[test]
fn report_filters_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name);
    let outputs = ["f.folded", "f.prof", "f.pb.gz", "f.speedscope.json", "f.svg"];
    let mut args: Vec<std::ffi::OsString> =
        vec!["report".into(), fixture("procs.folded").into(), "--comm".into(), "py.*".into()];
    args.extend(["--pid".into(), "11,10".into(), "--pid-in-name".into()]);
    for o in outputs {
        args.extend(["-o".into(), out(o).into()]);
    }
    prof_ok(&args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
    assert_eq!(
        read_folded(&out("f.folded")),
        [
            ("python3 [10];_start;main;idle".to_string(), 10),
            ("python3 [10];_start;main;work".to_string(), 50),
            ("python3 [11];_start;main;work".to_string(), 20),
        ]
    );
    for read_back in ["f.prof", "f.pb.gz"] {
        let p = prof::input::load(&out(read_back), false).unwrap().profile;
        assert_eq!(p.total(), 80, "{read_back}");
        assert!(p.samples.iter().all(|s| s.comm == "python3" && (s.pid == 10 || s.pid == 11)), "{read_back}");
        assert!(p.meta.notes.iter().any(|n| n.contains("80 of 100 samples kept")), "{read_back}: {:?}", p.meta.notes);
    }
    for text in ["f.svg", "f.speedscope.json"] {
        let text = std::fs::read_to_string(out(text)).unwrap();
        assert!(text.contains("work") && !text.contains("readline") && !text.contains("worker_thread"), "{text}");
    }
}

/// The top table of a filtered report counts shares of the kept samples: bash's readline is
/// 100% of `--comm bash`.
#[test]
fn report_filters_top_table() {
    let out = prof_ok(&["report".as_ref(), fixture("procs.folded").as_os_str(), "--comm".as_ref(), "bash".as_ref()]);
    let table = String::from_utf8(out.stdout).unwrap();
    let row = table.lines().find(|l| l.contains("readline")).unwrap_or_else(|| panic!("{table}"));
    assert!(row.trim_start().starts_with("100.00  100.00"), "{table}");
    assert!(!table.contains("work"), "{table}");
    assert!(table.ends_with("5 samples in total\n"), "{table}");
}

/// `--pid` on folded stacks without pids fails and says which inputs carry them; `--comm`
/// works there (the comm is the root frame); a filter matching nothing names the busiest comms.
#[test]
fn report_filters_explain_errors() {
    let nopid = fixture("procs-nopid.folded");
    let err = prof_err(&["report".as_ref(), nopid.as_os_str(), "--pid".as_ref(), "10".as_ref()]);
    assert!(err.contains("has no process ids") && err.contains("--pid-in-name"), "{err}");

    let out = prof_ok(&["report".as_ref(), nopid.as_os_str(), "--comm".as_ref(), "kworker/0:1".as_ref()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("15 samples in total"));

    let err = prof_err(&["report".as_ref(), nopid.as_os_str(), "--comm".as_ref(), "java".as_ref()]);
    let busiest = "matches --comm java; its busiest comms: python3 (pid 0), kworker/0:1 (pid 0), bash (pid 0)";
    assert!(err.contains(busiest), "{err}");
}

/// `prof diff --comm` compares the same processes on both sides: python alone in both files
/// has the same shares, so nothing changed.
#[test]
fn diff_filters_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("new.folded");
    // NEW: python as before, kworker ten times busier (a change only outside the filter).
    let text = std::fs::read_to_string(fixture("procs.folded"))
        .unwrap()
        .replace("process_one_work_[k] 15", "process_one_work_[k] 150");
    std::fs::write(&new, text).unwrap();
    let json = dir.path().join("d.json");
    prof_ok(&[
        "diff".as_ref(),
        fixture("procs.folded").as_os_str(),
        new.as_os_str(),
        "--comm".as_ref(),
        "python3".as_ref(),
        "-o".as_ref(),
        json.as_os_str(),
    ]);
    let d: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(d["base"]["samples"], 80);
    assert_eq!(d["new"]["samples"], 80);
    let functions = d["functions"].as_array().unwrap();
    assert!(functions.iter().all(|f| f["delta_points"] == 0.0 && f["significant"] == false), "{d}");
    assert!(!functions.iter().any(|f| f["function"].as_str().unwrap().contains("worker")), "{d}");
}

/// `--no-idle` leaves out the idle task (swapper, pid 0) in report and diff: shares are of the
/// busy samples, and a diff of two runs that differ only in how idle the machine was finds no
/// change (with idle, every function's share moves).
#[test]
fn report_and_diff_no_idle() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, idle: u64| {
        let path = dir.path().join(name);
        let text = format!(
            "swapper/0 [0];secondary_startup_64_[k];do_idle_[k] {idle}\napp [5];main;work 60\napp [5];main;wait_[k] 30\n"
        );
        std::fs::write(&path, text).unwrap();
        path
    };
    let (base, new) = (write("base.folded", 900), write("new.folded", 10));
    let out = prof_ok(&["report".as_ref(), base.as_os_str(), "--no-idle".as_ref()]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(!table.contains("do_idle") && table.ends_with("90 samples in total\n"), "{table}");
    let row = table.lines().find(|l| l.contains(" work")).unwrap_or_else(|| panic!("{table}"));
    assert!(row.trim_start().starts_with("66.67"), "{table}");

    let diff = |extra: &[&str]| {
        let json = dir.path().join("d.json");
        let mut args: Vec<&std::ffi::OsStr> =
            vec!["diff".as_ref(), base.as_os_str(), new.as_os_str(), "-o".as_ref(), json.as_os_str()];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        prof_ok(&args);
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(&json).unwrap()).unwrap()
    };
    let d = diff(&["--no-idle"]);
    assert_eq!((d["base"]["samples"].as_u64(), d["new"]["samples"].as_u64()), (Some(90), Some(90)), "{d}");
    let functions = d["functions"].as_array().unwrap();
    assert!(functions.iter().all(|f| f["delta_points"] == 0.0 && f["significant"] == false), "{d}");
    assert!(!functions.iter().any(|f| f["function"].as_str().unwrap().contains("do_idle")), "{d}");
    let d = diff(&[]);
    let work = d["functions"].as_array().unwrap().iter().find(|f| f["function"] == "work").unwrap();
    assert_eq!(work["significant"], true, "{d}");
}

/// `--by tid` on folded stacks (which carry no thread ids) and `--by pid` on folded stacks
/// without `comm [pid]` roots fail and say what carries them, instead of one row of id 0; with
/// pids in the roots, `--by pid` groups.
#[test]
fn report_by_ids_the_input_lacks() {
    let err = prof_err(&["report".as_ref(), fixture("procs.folded").as_os_str(), "--by".as_ref(), "tid".as_ref()]);
    assert!(err.contains("has no thread ids, so --by tid cannot group samples"), "{err}");
    let nopid = fixture("procs-nopid.folded");
    let err = prof_err(&["report".as_ref(), nopid.as_os_str(), "--by".as_ref(), "pid".as_ref()]);
    assert!(err.contains("has no process ids, so --by pid") && err.contains("--pid-in-name"), "{err}");
    let out = prof_ok(&["report".as_ref(), fixture("procs.folded").as_os_str(), "--by".as_ref(), "pid".as_ref()]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.lines().any(|l| l.split_whitespace().nth(3) == Some("10")), "{table}");
}

fn cgroup_archive() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/archive/v2-cgroups.prof")
}

/// The container of the golden cgroup archive (`/system.slice/docker-0a…0a.scope`).
fn container_id() -> String {
    "0a".repeat(32)
}

/// `--by container|unit|cgroup` groups the table, roots folded stacks and names speedscope
/// profiles by group; `--container` and `--cgroup` keep a container's or a path's samples.
#[test]
fn report_groups_and_filters_by_cgroup() {
    let archive = cgroup_archive();
    let table = |by: &str| {
        let out = prof_ok(&["report".as_ref(), archive.as_os_str(), "--by".as_ref(), by.as_ref()]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let t = table("container");
    assert!(t.contains("CONTAINER") && t.contains(&format!("docker:{}", &container_id()[..12])), "{t}");
    assert!(t.lines().any(|l| l.contains("[no container]") && l.contains(" 3 ")), "{t}");
    let t = table("cgroup");
    assert!(t.contains("cgroup:77") && t.contains("[no cgroup]"), "{t}");

    let dir = tempfile::tempdir().unwrap();
    let folded = dir.path().join("u.folded");
    prof_ok(&[
        "report".as_ref(),
        archive.as_os_str(),
        "--by".as_ref(),
        "unit".as_ref(),
        "-o".as_ref(),
        folded.as_os_str(),
    ]);
    let unit = format!("docker-{}.scope", container_id());
    assert_eq!(
        read_folded(&folded),
        [
            ("[no unit];golden;[missing user stack];do_syscall_64_[k]".to_string(), 2),
            ("[no unit];helper;main;work_[i]".to_string(), 1),
            (format!("{unit};golden;main;work_[i]"), 9),
        ]
    );

    let speedscope = dir.path().join("c.speedscope.json");
    let json = dir.path().join("c.json");
    prof_ok(&[
        "report".as_ref(),
        archive.as_os_str(),
        "--container".as_ref(),
        "docker:0a0a".as_ref(),
        "--by".as_ref(),
        "cgroup".as_ref(),
        "-o".as_ref(),
        speedscope.as_os_str(),
        "-o".as_ref(),
        json.as_os_str(),
    ]);
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&speedscope).unwrap()).unwrap();
    let names: Vec<&str> = s["profiles"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, [format!("/system.slice/{unit}: golden [42]")]);
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(j["table"]["by"], "cgroup");
    assert_eq!(j["table"]["rows"][0]["cgroup"], format!("/system.slice/{unit}"));
    assert_eq!(j["table"]["rows"][0]["self"], 9);

    let kept = prof_ok(&["report".as_ref(), archive.as_os_str(), "--cgroup".as_ref(), "/system.slice".as_ref()]);
    let kept = String::from_utf8_lossy(&kept.stdout).into_owned();
    assert!(kept.contains("9 samples in total"), "{kept}");
}

/// Grouping or filtering by cgroup a profile that has none says why instead of printing one
/// row of nothing.
#[test]
fn report_cgroup_options_need_cgroups() {
    let folded = fixture("procs.folded");
    let err = prof_err(&["report".as_ref(), folded.as_os_str(), "--by".as_ref(), "container".as_ref()]);
    assert!(err.contains("has no cgroups, so --by cgroup, container or unit cannot group samples"), "{err}");
    let err = prof_err(&["report".as_ref(), folded.as_os_str(), "--container".as_ref(), "abc".as_ref()]);
    assert!(err.contains("has no cgroups, so --cgroup and --container cannot select samples"), "{err}");
}

/// A cgroup's name is chosen by whoever creates the cgroup: in the table (`--by cgroup`) and in
/// folded stacks its controls and bidirectional overrides are shown as spaces, as for other
/// names there, and so in the JSON table's rows (as for comm rows).
#[test]
fn report_escapes_hostile_cgroup_names() {
    use prof::profile::{Cgroup, Frame, FrameKind, ProfileBuilder, SampleOwner};
    let hostile = "/evil\u{1b}[2J\u{9b}31m\u{202e}.scope";
    let mut b = ProfileBuilder::new(common::interval_meta(0, 5));
    let main = b.frame(Frame::new("main", "app", FrameKind::User));
    let s = b.stack(vec![main]);
    let cgroup = Cgroup { id: 3, path: hostile.into() };
    b.add_owned(s, SampleOwner { pid: 4, tid: 4, comm: "app", cgroup: Some(&cgroup) }, 5);
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("h.prof");
    prof::archive::write_file(&b.finish(), &archive).unwrap();
    let (folded, json) = (dir.path().join("h.folded"), dir.path().join("h.json"));
    let out = prof_ok(&["report".as_ref(), archive.as_os_str(), "--by".as_ref(), "cgroup".as_ref()]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(!table.contains(['\u{1b}', '\u{9b}', '\u{202e}']), "{table:?}");
    assert!(table.contains("/evil [2J 31m .scope"), "{table}");
    prof_ok(&[
        "report".as_ref(),
        archive.as_os_str(),
        "--by".as_ref(),
        "cgroup".as_ref(),
        "-o".as_ref(),
        folded.as_os_str(),
        "-o".as_ref(),
        json.as_os_str(),
    ]);
    assert_eq!(read_folded(&folded), [("/evil [2J 31m .scope;app;main".to_string(), 5)]);
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(j["table"]["rows"][0]["cgroup"], "/evil [2J 31m .scope", "as comm rows are");
}
