//! A real browser test of `prof serve`: archives recorded with the real sampler (the split
//! workload's leaf_c goes from 20% to 40% halfway), the UI opened in Debian's headless Chromium
//! and driven by playwright-core (tests/browser/ui.mjs): drag-select, flamegraph and top table
//! show the hot function, hover, zoom, search, the time axis, the timeline stacked by process,
//! the process picker, themes, keyboard shortcuts and the flamegraph/icicle toggle, then diff
//! mode flags leaf_c first. Screenshots (light and dark) are saved under target/tmp/.

mod common;

use std::ffi::OsStr;
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{prof_ok, workload};

/// Node, npm and Chromium are needed; scripts/setup installs them. Skips `test` outside CI if
/// missing.
fn browser_available(test: &str) -> bool {
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
    println!("SKIPPED {test}: missing {missing:?} (run scripts/setup)");
    false
}

/// `prof serve PATH` on a free loopback port, on a thread of this test: its address, and the
/// flag that stops it.
fn serve_in_thread(path: std::path::PathBuf) -> (std::net::SocketAddr, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    let server = prof::serve::bind(path, "127.0.0.1:0".parse().unwrap(), false).unwrap();
    let addr = server.addr;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = std::sync::Arc::clone(&stop);
    std::thread::spawn(move || server.run(&s));
    (addr, stop)
}

/// tests/browser, with playwright-core installed (`npm ci`) if it is not yet.
fn browser_dir() -> std::path::PathBuf {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if !browser_dir.join("node_modules/playwright-core").exists() {
        let st = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(&browser_dir)
            .status()
            .expect("npm runs");
        assert!(st.success(), "npm ci in tests/browser");
    }
    browser_dir
}

/// The UI, driven in headless Chromium, shows the workload's hot function and its diff.
#[test]
fn browser_ui_profile_and_diff() {
    let _m = bpf_test!("browser_ui_profile_and_diff");
    if !browser_available("browser_ui_profile_and_diff") {
        return;
    }
    let split = workload("split");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("archives");
    // Six seconds per phase: on a busy machine the workload gets a fraction of a CPU, and the diff
    // leaves out the intervals next to the switch.
    let script = format!("{0} 6 50 30 20; {0} 6 40 20 40", split.display());
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

    let browser_dir = browser_dir();
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
    for shot in ["ui-profile.png", "ui-profile-dark.png", "ui-picker-dark.png", "ui-diff.png"] {
        assert!(std::fs::metadata(out_dir.join(shot)).map(|m| m.len() > 10_000).unwrap_or(false), "{shot}");
    }
}

/// The page shows what a range lost: under the flamegraph, the lost samples and process
/// notifications (summed over the range) and the recording's notes; on the timeline, the bar of
/// an interval that lost notifications says how many and is outlined. Synthetic archives, no BPF.
#[test]
fn browser_ui_shows_lost_notifications() {
    use prof::profile::{Frame, FrameKind, LossReason, ProfileBuilder};
    if !browser_available("browser_ui_shows_lost_notifications") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let warning = "process notifications lost: 40 of 100 (40.0%, the ring buffer was full before prof read them)";
    // Archives of the last few minutes, so the page's default range (the last hour) has them.
    let now = prof::profile::unix_ns(std::time::SystemTime::now());
    let t0 = now - 60 * common::SEC;
    for (i, events_lost) in [(0u64, 40u64), (1, 0), (2, 2)] {
        let mut meta = common::interval_meta(0, 50);
        (meta.start_unix_ns, meta.end_unix_ns) = (t0 + i * 10 * common::SEC, t0 + (i + 1) * 10 * common::SEC);
        if events_lost > 0 {
            meta.losses.insert(LossReason::EventsLost, events_lost);
        }
        if i == 0 {
            meta.losses.insert(LossReason::UserStackFault, 3);
            meta.notes.push(warning.to_string());
        }
        let mut b = ProfileBuilder::new(meta);
        let main = b.frame(Frame::new("main", "app", FrameKind::User));
        let s = b.stack(vec![main]);
        b.add(s, 1, "app", 50);
        let name = prof::store::archive_name(t0 + i * 10 * common::SEC, 7, i);
        prof::archive::write_file(&b.finish(), &dir.path().join(name)).unwrap();
    }
    let (addr, stop) = serve_in_thread(dir.path().to_path_buf());

    let out = Command::new("node")
        .arg(browser_dir().join("losses.mjs"))
        .arg(format!("http://{addr}/"))
        .output()
        .expect("node runs");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("losses.mjs prints JSON");
    println!("{v}");
    assert_eq!(v["errors"], serde_json::json!([]), "page errors");
    let items: Vec<&str> = v["items"].as_array().unwrap().iter().map(|i| i["text"].as_str().unwrap()).collect();
    assert_eq!(items, ["3 samples lost or degraded; 42 process notifications lost (ring buffer full)", warning], "{v}");
    assert_eq!(v["items"][0]["cls"], "lost", "losses are highlighted");
    let bars = v["bars"].as_array().unwrap();
    assert_eq!(bars.len(), 3, "{v}");
    let outlined: Vec<bool> = bars.iter().map(|b| b["outlined"].as_bool().unwrap()).collect();
    assert_eq!(outlined, [true, false, true]);
    assert!(bars[0]["title"].as_str().unwrap().ends_with(": 50 samples, 3 lost, 40 process notifications lost"), "{v}");
}

/// `prof serve FILE` in the browser: the page names the file, shows no timeline, drag hint or
/// diff mode (there is no time to select), and draws the profile's flamegraph and top table.
/// Screenshot: target/tmp/ui-single.png.
#[test]
fn browser_ui_serves_one_file() {
    use prof::profile::{Frame, FrameKind, ProfileBuilder};
    if !browser_available("browser_ui_serves_one_file") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut b = ProfileBuilder::new(common::interval_meta(0, 60));
    let main = b.frame(Frame::new("main", "app", FrameKind::User));
    let hot = b.frame(Frame::new("hot_loop", "app", FrameKind::User));
    let s = b.stack(vec![main, hot]);
    b.add(s, 1, "app", 60);
    let file = dir.path().join("one.prof");
    prof::archive::write_file(&b.finish(), &file).unwrap();
    let (addr, stop) = serve_in_thread(file);

    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-single.png");
    let out = Command::new("node")
        .arg(browser_dir().join("single.mjs"))
        .arg(format!("http://{addr}/"))
        .arg(&shot)
        .output()
        .expect("node runs");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("single.mjs prints JSON");
    println!("{v}");
    assert_eq!(v["errors"], serde_json::json!([]), "page errors");
    assert_eq!(v["status"], "one.prof");
    assert_eq!(
        (v["chart"].as_bool(), v["hint"].as_bool(), v["diff"].as_bool()),
        (Some(false), Some(false), Some(false)),
        "{v}"
    );
    assert!(v["title"].as_str().unwrap().contains("60 samples"), "{v}");
    assert_eq!(v["top"], "hot_loop", "{v}");
}

/// The page's pure modules under Node (tests/browser/units.mjs): the top table computed from the
/// flame tree (self and total, recursion counted once per stack, following the zoom, sorting by
/// each column) and the sandwich view's merged callers and callees, on a tree whose answers are
/// worked out by hand.
#[test]
fn browser_modules_table_and_sandwich() {
    if !browser_available("browser_modules_table_and_sandwich") {
        return;
    }
    let out = Command::new("node").arg(browser_dir().join("units.mjs")).output().expect("node runs");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}
