//! `--format json` of `prof report` and `prof diff` (docs/json-format.md): golden documents, and
//! the numbers of parsed documents checked against the input profile. No BPF.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{check_golden, prof, prof_ok};
use prof::profile::{EventKind, Frame, FrameKind, Metadata, Profile, ProfileBuilder};
use serde_json::Value;

fn report_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report")
}

/// `prof report ARGS` run in the fixture directory (so that the input's name in the document
/// is relative), its standard output.
fn report_in_fixtures(args: &[&str]) -> String {
    let out = prof().current_dir(report_dir()).arg("report").args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The report of the folded fixture is stable: the function table with the stacks, and the
/// table by pid sorted by name.
#[test]
fn report_json_golden() {
    check_golden("report", "procs.json", &report_in_fixtures(&["procs.folded", "--format", "json", "--json-stacks"]));
    let by_pid = report_in_fixtures(&["procs.folded", "--format", "json", "--by", "pid", "--sort", "name"]);
    check_golden("report", "procs-pid.json", &by_pid);
    let mut diff = prof();
    let out = diff.current_dir(report_dir()).args(["diff", "procs.folded", "procs-nopid.folded", "--format", "json"]);
    let out = out.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    check_golden("report", "procs-diff.json", &String::from_utf8(out.stdout).unwrap());
}

/// Two processes in three modules, recorded at 99 Hz with cpu-clock for 2.5 s.
fn profile() -> Profile {
    let meta = Metadata {
        event: EventKind::CpuClock.into(),
        frequency_hz: 99,
        start_unix_ns: 1_700_000_000_000_000_000,
        end_unix_ns: 1_700_000_002_500_000_000,
        target: "./app".into(),
        total_samples: 1234,
        ..Metadata::default()
    };
    let mut b = ProfileBuilder::new(meta);
    let main = b.frame(Frame::new("main", "app", FrameKind::User));
    let parse = b.frame(Frame::new("parse", "app", FrameKind::User));
    let memcpy = b.frame(Frame::new("memcpy", "libc.so.6", FrameKind::User));
    let syscall = b.frame(Frame::new("do_syscall_64", "[kernel.kallsyms]", FrameKind::Kernel));
    let stacks = [
        (vec![main, parse, memcpy], 1, "app", 400),
        (vec![main, parse], 1, "app", 333),
        (vec![main, parse, parse, memcpy], 2, "app", 101),
        (vec![main, memcpy, syscall], 2, "app-worker", 7),
        (vec![syscall], 3, "sh", 59),
    ];
    for (frames, pid, comm, count) in stacks {
        let s = b.stack(frames);
        b.add(s, pid, comm, count);
    }
    b.finish()
}

/// Self and total samples per function, computed the plain way: leaf, and once per stack.
fn expected_counts(p: &Profile) -> BTreeMap<String, (u64, u64)> {
    let mut counts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for s in &p.samples {
        let stack = &p.stacks[s.stack as usize];
        let names: BTreeSet<&str> = stack.iter().map(|&f| p.frames[f as usize].name.as_str()).collect();
        for name in names {
            counts.entry(name.to_string()).or_default().1 += s.count;
        }
        let leaf = &p.frames[*stack.last().unwrap() as usize].name;
        counts.entry(leaf.clone()).or_default().0 += s.count;
    }
    counts
}

fn close(a: &Value, b: f64) -> bool {
    (a.as_f64().unwrap() - b).abs() < 1e-9
}

/// The parsed report of an archive agrees with the profile: metadata (event, frequency,
/// duration, unit), totals, every function's self and total samples and shares, the groups by
/// module, and the stacks (frames by index, counts summing to the total).
#[test]
fn report_json_numbers_match_the_profile() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("p.prof");
    let p = profile();
    prof::archive::write_file(&p, &archive).unwrap();
    let run = |extra: &[&str]| -> Value {
        let mut args = vec!["report".as_ref(), archive.as_os_str(), "--format".as_ref(), "json".as_ref()];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        serde_json::from_slice(&prof_ok(&args).stdout).unwrap()
    };
    let doc = run(&["--json-stacks", "--top", "100"]);
    assert_eq!(doc["format"], "prof-report");
    assert_eq!(doc["version"], 1);
    let meta = &doc["metadata"];
    assert_eq!((meta["event"].as_str(), meta["frequency_hz"].as_u64()), (Some("cpu-clock"), Some(99)));
    assert!(close(&meta["duration_secs"], 2.5));
    assert_eq!(meta["unit"], "samples");
    assert_eq!(meta["start"], "2023-11-14T22:13:20Z");
    let total = p.total();
    assert_eq!(total, 900);
    assert_eq!(doc["totals"]["total"], total);
    assert_eq!(doc["totals"]["samples_taken"], 1234);
    assert_eq!(doc["totals"]["processes"], 3);

    let expected = expected_counts(&p);
    let rows = doc["table"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), expected.len());
    for row in rows {
        let (self_count, total_count) = expected[row["name"].as_str().unwrap()];
        assert_eq!((row["self"].as_u64(), row["total"].as_u64()), (Some(self_count), Some(total_count)), "{row}");
        assert!(close(&row["self_pct"], self_count as f64 * 100.0 / total as f64), "{row}");
        assert!(close(&row["total_pct"], total_count as f64 * 100.0 / total as f64), "{row}");
    }
    assert_eq!((rows[0]["name"].as_str(), rows[0]["module"].as_str()), (Some("memcpy"), Some("libc.so.6")));
    let memcpy = rows.iter().find(|r| r["name"] == "memcpy").unwrap();
    assert_eq!((memcpy["self"].as_u64(), memcpy["total"].as_u64()), (Some(501), Some(508)));

    let frames = doc["frames"].as_array().unwrap();
    let stacks = doc["stacks"].as_array().unwrap();
    assert_eq!(stacks.iter().map(|s| s["count"].as_u64().unwrap()).sum::<u64>(), total);
    let sh = stacks.iter().find(|s| s["comm"] == "sh").unwrap();
    assert_eq!(sh["pid"], 3);
    let leaf = &frames[sh["frames"][0].as_u64().unwrap() as usize];
    assert_eq!((leaf["name"].as_str(), leaf["kind"].as_str()), (Some("do_syscall_64"), Some("kernel")));

    let by_module = run(&["--by", "module"]);
    let module = |name: &str| {
        let rows = by_module["table"]["rows"].as_array().unwrap();
        let row = rows.iter().find(|r| r["module"] == name).unwrap();
        (row["self"].as_u64().unwrap(), row["total"].as_u64().unwrap())
    };
    assert_eq!(module("app"), (333, 841));
    assert_eq!(module("libc.so.6"), (501, 508));
    assert_eq!(module("[kernel.kallsyms]"), (66, 66));
}

/// The diff's JSON has the schema's version, each side's samples, and per function the base and
/// new shares of the inputs, their delta and the significance test's verdict.
#[test]
fn diff_json_numbers_match_the_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.folded");
    let new = dir.path().join("new.folded");
    std::fs::write(&base, "app;main;a 600\napp;main;b 400\n").unwrap();
    std::fs::write(&new, "app;main;a 300\napp;main;b 700\n").unwrap();
    let out = prof_ok(&["diff".as_ref(), base.as_os_str(), new.as_os_str(), "--format".as_ref(), "json".as_ref()]);
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((d["format"].as_str(), d["version"].as_u64()), (Some("prof-diff"), Some(1)));
    assert_eq!((d["base"]["samples"].as_u64(), d["new"]["samples"].as_u64()), (Some(1000), Some(1000)));
    let f = |name: &str| d["functions"].as_array().unwrap().iter().find(|f| f["function"] == name).unwrap().clone();
    let b = f("b");
    assert!(close(&b["base_total_pct"], 40.0) && close(&b["new_total_pct"], 70.0) && close(&b["delta_points"], 30.0));
    assert_eq!(b["significant"], true);
    let main = f("main");
    assert!(close(&main["delta_points"], 0.0));
    assert_eq!(main["significant"], false);
}

/// Every field the documents have is named in docs/json-format.md (report with stacks, each
/// grouping, and the diff), so the schema stays documented as fields are added.
#[test]
fn report_json_fields_are_documented() {
    let docs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json-format.md")).unwrap();
    let named = |key: &str| {
        let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
        docs.match_indices(key).any(|(at, _)| {
            let before = docs[..at].chars().next_back().is_none_or(|c| !is_ident(c));
            let after = docs[at + key.len()..].chars().next().is_none_or(|c| !is_ident(c));
            before && after
        })
    };
    fn keys(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, v)| {
                out.insert(k.clone());
                keys(v, out);
            }),
            Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
            _ => {}
        }
    }
    let mut all = BTreeSet::new();
    for args in [
        &["procs.folded", "--format", "json", "--json-stacks"][..],
        &["procs.folded", "--format", "json", "--by", "comm"],
        &["procs.folded", "--format", "json", "--by", "pid"],
        &["procs.folded", "--format", "json", "--by", "module"],
    ] {
        keys(&serde_json::from_str(&report_in_fixtures(args)).unwrap(), &mut all);
    }
    let diff = std::fs::read_to_string(report_dir().join("procs-diff.json")).unwrap();
    keys(&serde_json::from_str(&diff).unwrap(), &mut all);
    let missing: Vec<&String> = all.iter().filter(|k| !named(k)).collect();
    assert!(missing.is_empty(), "fields not in docs/json-format.md: {missing:?}");
    assert!(all.len() > 40, "{all:?}");
}
