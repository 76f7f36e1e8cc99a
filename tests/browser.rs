//! A real browser test of `prof serve`: archives recorded with the real sampler (the split
//! workload's leaf_c goes from 20% to 40% halfway), the UI opened in Debian's headless Chromium
//! and driven by playwright-core (tests/browser/ui.mjs): drag-select, flamegraph and top table
//! show the hot function, hover, zoom, search, then diff mode flags leaf_c first. Screenshots are
//! saved under target/tmp/.

mod common;

use std::ffi::OsStr;
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{prof_ok, workload};

/// Node, npm and Chromium are needed; scripts/setup installs them. Skips outside CI if missing.
fn browser_available() -> bool {
    let missing: Vec<&str> = [("/usr/bin/chromium", "chromium"), ("node", "node"), ("npm", "npm")]
        .into_iter()
        .filter(|(cmd, _)| {
            Command::new("sh")
                .args(["-c", &format!("command -v {cmd}")])
                .output()
                .map(|o| !o.status.success())
                .unwrap_or(true)
        })
        .map(|(_, name)| name)
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "browser test needs {missing:?} in CI (scripts/setup installs them)"
    );
    println!("SKIPPED browser_ui_profile_and_diff: missing {missing:?} (run scripts/setup)");
    false
}

/// The UI, driven in headless Chromium, shows the workload's hot function and its diff.
#[test]
fn browser_ui_profile_and_diff() {
    let _m = bpf_test!("browser_ui_profile_and_diff");
    if !browser_available() {
        return;
    }
    let split = workload("split");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("archives");
    let script = format!("{0} 4 50 30 20; {0} 4 40 20 40", split.display());
    prof_ok(
        &[
            OsStr::new("record"),
            OsStr::new("--continuous"),
            d.as_os_str(),
            OsStr::new("--interval"),
            OsStr::new("1s"),
            OsStr::new("--"),
            OsStr::new("sh"),
            OsStr::new("-c"),
            OsStr::new(&script),
        ]
        .into_iter()
        .enumerate()
        .flat_map(|(i, a)| if i == 2 { vec![OsStr::new("--dir"), a] } else { vec![a] })
        .collect::<Vec<_>>(),
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = common::prof()
        .args(["serve", d.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}")])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(server.stderr.take().unwrap()).lines();
    let started = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(started.contains("serving"), "{started}");

    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if !browser_dir.join("node_modules/playwright-core").exists() {
        let st = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(&browser_dir)
            .status()
            .expect("npm runs");
        assert!(st.success(), "npm ci in tests/browser");
    }
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let out = Command::new("node")
        .arg(browser_dir.join("ui.mjs"))
        .arg(format!("http://127.0.0.1:{port}/"))
        .arg(out_dir)
        .args(["leaf_a", "leaf_c"])
        .output()
        .expect("node runs");
    let _ = server.kill();
    let _ = server.wait();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    for shot in ["ui-profile.png", "ui-diff.png"] {
        assert!(std::fs::metadata(out_dir.join(shot)).map(|m| m.len() > 10_000).unwrap_or(false), "{shot}");
    }
}
