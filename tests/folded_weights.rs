//! Folded weights that are not sample counts: `perf record -e cpu-clock` collapsed by
//! `inferno-collapse-perf` weighs each stack by its samples times the period in nanoseconds.
//! prof detects them (or is told with `--weights`), carries the unit into every output, and
//! `prof diff` does not run its significance test (or the `--fail-on` gate) on them.
//!
//! Fixtures `tests/fixtures/report/cpu-clock-{199,499}hz.folded` were made as a user would:
//! `perf record -e cpu-clock -F 199 -g -- deep 2` (and `-F 499 … deep 1`), then
//! `perf script | inferno-collapse-perf`; their periods are 5,025,125 and 2,004,008 ns.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{prof_err, prof_ok};
use prof::output::folded;
use prof::profile::WeightUnit;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report").join(name)
}

/// (stack, weight) of each line of a folded file, read plainly.
fn lines(path: &Path) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| {
            let (stack, weight) = l.rsplit_once(' ').unwrap();
            (stack.to_string(), weight.parse().unwrap())
        })
        .collect()
}

fn weight_sum(path: &Path) -> u64 {
    lines(path).iter().map(|(_, w)| w).sum()
}

fn os(args: &[&str]) -> Vec<std::ffi::OsString> {
    args.iter().map(Into::into).collect()
}

fn run_ok(args: &[std::ffi::OsString]) -> String {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    String::from_utf8(prof_ok(&args).stdout).unwrap()
}

/// The heuristic: two or more weights sharing a divisor of at least 1000 are nanoseconds; a
/// count of 3 among them, or a single line, keeps them counts; `--weights` overrides both ways.
#[test]
fn folded_weights_heuristic() {
    let unit = |text: &str, declared| {
        folded::parse_with(text.as_bytes(), "t", false, declared).unwrap().profile.meta.weight_unit
    };
    assert_eq!(unit("a;b 3000\na;c 5000\n", None), WeightUnit::Nanoseconds);
    assert_eq!(unit("a;b 3\na;c 5000\n", None), WeightUnit::Samples);
    assert_eq!(unit("a;b 999\na;c 1998\n", None), WeightUnit::Samples);
    assert_eq!(unit("a;b 5000000\n", None), WeightUnit::Samples);
    assert_eq!(unit("a;b 3000\na;c 5000\n", Some(WeightUnit::Samples)), WeightUnit::Samples);
    assert_eq!(unit("a;b 3\n", Some(WeightUnit::Nanoseconds)), WeightUnit::Nanoseconds);
    let parsed = folded::parse_with(b"a;b 3000\na;c 5000\n", "t", false, None).unwrap();
    assert!(parsed.profile.meta.notes.iter().any(|n| n.contains("every weight is a multiple of 1000")));
}

/// The perf fixture is read as CPU time: the table's total is the weights' sum in ms, grouped
/// tables have an MS column, the SVG's subtitle says ms and its frames ns, JSON says
/// nanoseconds, speedscope weighs in nanoseconds, and the archive and pprof keep the unit.
#[test]
fn folded_weights_detected_in_every_output() {
    let input = fixture("cpu-clock-199hz.folded");
    let total = weight_sum(&input);
    assert!(lines(&input).iter().all(|(_, w)| w % 5_025_125 == 0));
    let ms = format!("{:.1} ms", total as f64 / 1e6);
    let table = run_ok(&[os(&["report"]), vec![input.clone().into()]].concat());
    assert!(table.ends_with(&format!("{ms} in total\n")), "{table}");
    let by_comm = run_ok(&[os(&["report"]), vec![input.clone().into()], os(&["--by", "comm"])].concat());
    assert!(by_comm.starts_with(" SELF%  TOTAL%       MS  COMM\n100.00  100.00"), "{by_comm}");
    assert!(by_comm.contains(&format!("{:.1}  deep", total as f64 / 1e6)), "{by_comm}");

    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name);
    let mut args = vec!["report".into(), input.clone().into_os_string()];
    for name in ["x.svg", "x.json", "x.speedscope.json", "x.prof", "x.pb.gz"] {
        args.extend(["-o".into(), out(name).into_os_string()]);
    }
    run_ok(&args);
    let svg = std::fs::read_to_string(out("x.svg")).unwrap();
    assert!(svg.contains(&ms), "subtitle");
    assert!(svg.contains(" ns, "), "frame titles in ns");
    let json: Value = serde_json::from_slice(&std::fs::read(out("x.json")).unwrap()).unwrap();
    assert_eq!(json["metadata"]["unit"], "nanoseconds");
    assert_eq!(json["totals"]["total"], total);
    let speedscope: Value = serde_json::from_slice(&std::fs::read(out("x.speedscope.json")).unwrap()).unwrap();
    assert_eq!(speedscope["profiles"][0]["unit"], "nanoseconds");
    assert_eq!(speedscope["profiles"][0]["endValue"], total);
    for read_back in ["x.prof", "x.pb.gz"] {
        let p = prof::input::load(&out(read_back), false).unwrap().profile;
        assert_eq!(p.meta.weight_unit, WeightUnit::Nanoseconds, "{read_back}");
        assert_eq!(p.total(), total, "{read_back}");
        assert!(!p.meta.notes.iter().any(|n| n == "weights: nanoseconds"), "{read_back}: {:?}", p.meta.notes);
    }
}

/// `--weights samples` reads the same file as counts (the old reading, now asked for);
/// `--weights` on an archive is refused, since archives record their unit.
#[test]
fn folded_weights_declared() {
    let input = fixture("cpu-clock-199hz.folded");
    let table = run_ok(&[os(&["report"]), vec![input.into()], os(&["--weights", "samples"])].concat());
    let total = weight_sum(&fixture("cpu-clock-199hz.folded"));
    assert!(table.ends_with(&format!("{total} samples in total\n")), "{table}");

    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("p.prof");
    run_ok(
        &[os(&["report"]), vec![fixture("procs.folded").into()], os(&["-o"]), vec![archive.clone().into()]].concat(),
    );
    let err = prof_err(&["report".as_ref(), archive.as_os_str(), "--weights".as_ref(), "ns".as_ref()]);
    let expected = "is an archive, which records what its counts are: --weights applies to folded input only";
    assert!(err.contains(expected), "{err}");
}

/// `prof diff` of two cpu-clock recordings compares shares, marks no function significant (the
/// test is not run: "n/a"), says why, and `--fail-on` fails with that reason instead of gating;
/// the JSON has the shares of the inputs, their delta, and no p-values.
#[test]
fn folded_weights_diff_refuses_significance() {
    let (base, new) = (fixture("cpu-clock-199hz.folded"), fixture("cpu-clock-499hz.folded"));
    let table = run_ok(&[os(&["diff"]), vec![base.clone().into(), new.clone().into()]].concat());
    let base_ms = format!("{:.1} ms", weight_sum(&base) as f64 / 1e6);
    assert!(table.lines().next().unwrap().ends_with(&format!("cpu-clock-199hz.folded ({base_ms})")), "{table}");
    assert!(table.contains("significance not tested"), "{table}");
    assert!(table.contains("n/a"), "{table}");
    assert!(!table.contains("q="), "{table}");

    let err = prof_err(&["diff".as_ref(), base.as_os_str(), new.as_os_str(), "--fail-on".as_ref(), "1".as_ref()]);
    assert!(err.contains("--fail-on 1: the gate needs the significance test, which needs sample counts"), "{err}");

    let json =
        run_ok(&[os(&["diff"]), vec![base.clone().into(), new.clone().into()], os(&["--format", "json"])].concat());
    let d: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(d["unit"], "nanoseconds");
    assert_eq!(d["test"], Value::Null);
    let share = |path: &Path, leaf: &str| {
        let on_stack: u64 = lines(path).iter().filter(|(s, _)| s.split(';').any(|f| f == leaf)).map(|(_, w)| w).sum();
        on_stack as f64 * 100.0 / weight_sum(path) as f64
    };
    let functions = d["functions"].as_array().unwrap();
    assert!(functions.iter().all(|f| f["p_value"].is_null() && f["q_value"].is_null() && f["significant"] == false));
    let leaf_a = functions.iter().find(|f| f["function"] == "leaf_a").unwrap();
    let (b, n) = (share(&base, "leaf_a"), share(&new, "leaf_a"));
    assert!((leaf_a["base_total_pct"].as_f64().unwrap() - b).abs() < 1e-9, "{leaf_a}");
    assert!((leaf_a["new_total_pct"].as_f64().unwrap() - n).abs() < 1e-9, "{leaf_a}");
    assert!((leaf_a["delta_points"].as_f64().unwrap() - (n - b)).abs() < 1e-9, "{leaf_a}");
}

/// End to end as a user does it, when perf and inferno-collapse-perf are installed
/// (scripts/setup installs both; in CI their absence fails the test): a fresh
/// `perf record -e cpu-clock -F 250` of the deep workload, collapsed, is read as nanoseconds
/// (every weight a multiple of the 4,000,000 ns period) and its total is the weights' sum.
#[test]
fn folded_weights_fresh_perf_recording() {
    let have = |tool: &str| Command::new(tool).arg("--help").output().is_ok_and(|o| o.status.success());
    if !have("perf") || !have("inferno-collapse-perf") {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "perf or inferno-collapse-perf missing in CI");
        println!("SKIPPED folded_weights_fresh_perf_recording: perf or inferno-collapse-perf not installed");
        return;
    }
    let workload = common::workload("deep");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("perf.data");
    let rec = Command::new("perf")
        .args(["record", "-q", "-e", "cpu-clock", "-F", "250", "-g", "-o"])
        .arg(&data)
        .arg("--")
        .arg(&workload)
        .arg("1")
        .output()
        .unwrap();
    if !rec.status.success() {
        let why = String::from_utf8_lossy(&rec.stderr);
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "perf record failed in CI: {why}");
        println!("SKIPPED folded_weights_fresh_perf_recording: perf record failed: {why}");
        return;
    }
    let script = Command::new("perf").arg("script").arg("-i").arg(&data).output().unwrap();
    assert!(script.status.success(), "{}", String::from_utf8_lossy(&script.stderr));
    let mut collapse = Command::new("inferno-collapse-perf")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    collapse.stdin.take().unwrap().write_all(&script.stdout).unwrap();
    let collapsed = collapse.wait_with_output().unwrap();
    assert!(collapsed.status.success());
    let folded_path = dir.path().join("cpu.folded");
    std::fs::write(&folded_path, &collapsed.stdout).unwrap();
    let weights = lines(&folded_path);
    assert!(weights.len() >= 2, "{weights:?}");
    assert!(weights.iter().all(|(_, w)| w % 4_000_000 == 0), "{weights:?}");
    let json = run_ok(&[os(&["report"]), vec![folded_path.clone().into()], os(&["--format", "json"])].concat());
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["metadata"]["unit"], "nanoseconds");
    assert_eq!(doc["totals"]["total"], weight_sum(&folded_path));
}
