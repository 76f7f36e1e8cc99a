//! `prof diff`: matching, the significance test on synthetic profiles with known answers, golden
//! outputs, the regression gate and bad input — all without BPF.

mod common;

use std::path::Path;

use prof::diff::{diff, render, DiffOptions};
use prof::output::folded;
use prof::profile::{EventKind, Profile};

fn parse(text: &str) -> Profile {
    folded::parse(text.as_bytes(), "test", false).unwrap().profile
}

/// A profile of `n` samples drawn with a fixed-seed generator from leaves with the given percent
/// shares (`app;main;work;<leaf>`).
fn sampled(shares: &[(&str, u32)], n: u32, seed: u64) -> Profile {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut counts = vec![0u64; shares.len()];
    for _ in 0..n {
        let mut r = rng.u32(..100);
        for (i, (_, pct)) in shares.iter().enumerate() {
            if r < *pct {
                counts[i] += 1;
                break;
            }
            r -= pct;
        }
    }
    let text: String = shares.iter().zip(&counts).map(|((leaf, _), c)| format!("app;main;work;{leaf} {c}\n")).collect();
    parse(&text)
}

const SPLIT: [(&str, u32); 3] = [("leaf_a", 50), ("leaf_b", 30), ("leaf_c", 20)];
const SHIFTED: [(&str, u32); 3] = [("leaf_a", 40), ("leaf_b", 20), ("leaf_c", 40)];

/// The test is calibrated: over 40 pairs of samples of the same workload, pairs with any
/// "significant" function stay around α = 5% (at most 10%), i.e. noise is not reported as change.
#[test]
fn diff_same_workload_is_rarely_significant() {
    let pairs = 40u64;
    let false_alarms = (0..pairs)
        .filter(|&seed| {
            let d = diff(
                &sampled(&SPLIT, 1000, seed),
                "a",
                &sampled(&SPLIT, 1000, 1000 + seed),
                "b",
                &DiffOptions::default(),
            )
            .unwrap();
            d.functions.iter().any(|f| f.significant)
        })
        .count();
    println!("same workload: {false_alarms} of {pairs} pairs had a significant function");
    assert!(false_alarms * 10 <= pairs as usize, "{false_alarms} of {pairs}");
}

/// A function going from 20% to 40% is the top significant change and trips --fail-on 5.
#[test]
fn diff_share_doubling_is_top_significant_change() {
    let d =
        diff(&sampled(&SPLIT, 1000, 3), "base", &sampled(&SHIFTED, 1000, 4), "new", &DiffOptions::default()).unwrap();
    let top = &d.functions[0];
    assert_eq!(top.function, "leaf_c");
    assert!(top.significant && top.delta_points > 15.0, "{top:?}");
    assert_eq!(d.regressions(5.0).iter().map(|f| f.function.as_str()).collect::<Vec<_>>(), ["leaf_c"]);
    assert!(d.regressions(25.0).is_empty());
    // main and work are on every stack: never a change.
    assert!(d.functions.iter().filter(|f| f.function == "main").all(|f| !f.significant));
}

/// A change from 2 of 10 to 4 of 10 samples is not significant.
#[test]
fn diff_tiny_change_on_few_samples_is_not_significant() {
    let d = diff(&parse("x;f 2\nx;g 8\n"), "a", &parse("x;f 4\nx;g 6\n"), "b", &DiffOptions::default()).unwrap();
    assert!(d.functions.iter().all(|f| !f.significant), "{:?}", d.functions);
    let f = d.functions.iter().find(|f| f.function == "f").unwrap();
    assert!((f.delta_points - 20.0).abs() < 1e-9 && f.p_value.is_some_and(|p| p > 0.3));
}

/// Functions match across builds (Rust hashes, clone suffixes) unless --exact-names.
#[test]
fn diff_matches_functions_across_builds() {
    let base = parse("app;main;core::fmt::write::h0123456789abcdef 10\napp;main;parse.isra.0 10\n");
    let new = parse("app;main;core::fmt::write::hfedcba9876543210 10\napp;main;parse.constprop.1.cold 10\n");
    let d = diff(&base, "a", &new, "b", &DiffOptions::default()).unwrap();
    let names: Vec<&str> = d.functions.iter().map(|f| f.function.as_str()).collect();
    assert_eq!(d.functions.len(), 3, "{names:?}");
    assert!(names.contains(&"core::fmt::write") && names.contains(&"parse"));
    let exact = DiffOptions { match_builds: false, ..Default::default() };
    assert_eq!(diff(&base, "a", &new, "b", &exact).unwrap().functions.len(), 5);
}

/// Golden outputs of a fixed pair: the two-column folded form, the JSON table, the text table
/// and a deterministic differential SVG.
#[test]
fn diff_golden_outputs() {
    let base =
        parse("app;main;work;leaf_a 500\napp;main;work;leaf_b 300\napp;main;work;leaf_c 200\napp;main;read_[k] 50\n");
    let new = parse("app;main;work;leaf_a 400\napp;main;work;leaf_b 200\napp;main;work;leaf_c 400\napp;main;gone 50\n");
    let d = diff(&base, "base.folded", &new, "new.folded", &DiffOptions::default()).unwrap();
    let mut out = Vec::new();
    render::write_folded(&d, &mut out).unwrap();
    common::check_golden("diff", "pair.folded", &String::from_utf8(out).unwrap());
    let mut out = Vec::new();
    render::write_json(&d, &mut out).unwrap();
    let json = String::from_utf8(out).unwrap();
    serde_json_check(&json);
    common::check_golden("diff", "pair.json", &json);
    let mut out = Vec::new();
    render::write_table(&d, 10, &mut out).unwrap();
    common::check_golden("diff", "pair.txt", &String::from_utf8(out).unwrap());
    for negate in [false, true] {
        let mut out = Vec::new();
        render::write_svg(&d, &render::DiffSvgOptions { negate, deterministic: true, no_javascript: false }, &mut out)
            .unwrap();
        let svg = String::from_utf8(out).unwrap();
        assert!(svg.contains("base.folded (1050 samples)") && svg.contains("normalized by total samples"));
        common::check_golden("diff", if negate { "pair-negate.svg" } else { "pair.svg" }, &svg);
    }
}

fn serde_json_check(json: &str) {
    let v: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
    assert_eq!(v["base"]["samples"], 1050);
    assert!(v["functions"].as_array().unwrap().iter().any(|f| f["function"] == "leaf_c"));
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn folded_of(p: &Profile) -> String {
    folded::lines(p, &Default::default()).join("\n") + "\n"
}

/// `--fail-on 5` exits 3 and names the function that grew; without a regression it exits 0.
#[test]
fn diff_cli_fail_on_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.folded", &folded_of(&sampled(&SPLIT, 2000, 11)));
    let new = write(dir.path(), "new.folded", &folded_of(&sampled(&SHIFTED, 2000, 12)));
    let out = common::prof().args(["diff", &base, &new, "--fail-on", "5"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("regression: leaf_c grew +"), "{err}");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.lines().nth(4).unwrap_or("").ends_with("leaf_c"), "{table}");
    let out = common::prof().args(["diff", &base, &base, "--fail-on", "5"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    // Outputs by extension.
    let svg = dir.path().join("d.svg");
    let json = dir.path().join("d.json");
    let two = dir.path().join("d.folded");
    let out = common::prof()
        .args([
            "diff",
            &base,
            &new,
            "-o",
            svg.to_str().unwrap(),
            "-o",
            json.to_str().unwrap(),
            "-o",
            two.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    assert!(std::fs::read_to_string(&two).unwrap().lines().all(|l| l.split(' ').count() == 3));
}

/// Bad inputs: a malformed line names file and line (exit 1; --lenient warns once), an empty
/// profile is an error, and profiles of different frequency are refused with --no-normalize.
#[test]
fn diff_cli_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.folded", "a;b 3\na;c 4\n");
    let bad = write(dir.path(), "bad.folded", "a;b 3\na;c -4\n");
    let out = common::prof().args(["diff", &good, &bad]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("bad.folded") && err.contains("line 2"), "{err}");
    let out = common::prof().args(["diff", "--lenient", &good, &bad]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("skipped 1 malformed line"));

    let empty = write(dir.path(), "empty.folded", "");
    let out = common::prof().args(["diff", &good, &empty]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty.folded`: not a profile (the file is empty)"));

    let mut p99 = parse("a;b 30\na;c 40\n");
    p99.meta.frequency_hz = 99;
    p99.meta.event = EventKind::CpuClock.into();
    let mut p999 = p99.clone();
    p999.meta.frequency_hz = 999;
    let (a, b) = (dir.path().join("a.prof"), dir.path().join("b.prof"));
    prof::archive::write_file(&p99, &a).unwrap();
    prof::archive::write_file(&p999, &b).unwrap();
    let out = common::prof().args(["diff", "--no-normalize"]).arg(&a).arg(&b).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("frequencies differ (99 Hz vs 999 Hz)"));
    let out = common::prof().args(["diff"]).arg(&a).arg(&b).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("note: frequencies differ"));
}
