//! A real browser test of `prof serve`: archives recorded with the real sampler (the split
//! workload's leaf_c goes from 10% to 50% of the calls halfway), the UI opened in Debian's headless Chromium
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
/// Tests run in parallel: one of them installs, the others wait for it (two `npm ci` at once in
/// a fresh clone write the same node_modules).
fn browser_dir() -> std::path::PathBuf {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _installing = INSTALL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
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

/// Runs tests/browser/SCRIPT with node on `args` (the page's address first) and returns what it
/// printed as JSON; fails the test if it failed.
fn script_json(script: &str, args: &[&OsStr]) -> serde_json::Value {
    let out = Command::new("node").arg(browser_dir().join(script)).args(args).output().expect("node runs");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{script} prints JSON: {e}"))
}

/// The spans of 10 s intervals from a minute ago (interval `i` from `i * 10` s), inside the
/// page's default selection (the directory's last hour).
fn recent_spans() -> impl Fn(u64) -> (u64, u64) {
    let t0 = prof::profile::unix_ns(std::time::SystemTime::now()) - 60 * common::SEC;
    move |i| (t0 + i * 10 * common::SEC, t0 + (i + 1) * 10 * common::SEC)
}

/// An interval's metadata for `span`.
fn recent_meta(span: (u64, u64)) -> prof::profile::Metadata {
    let mut meta = common::interval_meta(0, 0);
    (meta.start_unix_ns, meta.end_unix_ns) = span;
    meta
}

/// Writes the archive `b` builds (its total is its samples) into `dir`, named as the recorder
/// names interval `i` starting at `start`.
fn write_interval(dir: &Path, b: prof::profile::ProfileBuilder, start: u64, i: u64) {
    let mut p = b.finish();
    p.meta.total_samples = p.total();
    prof::archive::write_file(&p, &dir.join(prof::store::archive_name(start, 7, i))).unwrap();
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
    // leaves out the intervals next to the switch. A large change (leaf_c +40 points, leaf_a -30)
    // stays significant on the few samples a loaded CI machine gives it: 20 -> 40 once came out
    // as +10.8 points and not significant there. leaf_a stays the hottest over the whole range.
    let script = format!("{0} 6 70 20 10; {0} 6 40 10 50", split.display());
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

    let v = script_json("losses.mjs", &[OsStr::new(&format!("http://{addr}/"))]);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
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
    let v = script_json("single.mjs", &[OsStr::new(&format!("http://{addr}/")), shot.as_os_str()]);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
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

/// The cgroup picker beside the process picker: it lists the selection's cgroups by path, each
/// parent before those below it, with their samples (a parent's include its children's), names
/// as text (markup in a cgroup's name is not interpreted); picking one filters the flamegraph and
/// top table to that cgroup and those below it, puts it in the URL (a reload keeps it), and
/// "all cgroups" brings every sample back. Synthetic archives, no BPF. Screenshots:
/// target/tmp/ui-cgroup.png, ui-cgroup-dark.png.
#[test]
fn browser_ui_cgroup_picker() {
    use prof::profile::{Cgroup, Frame, FrameKind, ProfileBuilder, SampleOwner};
    if !browser_available("browser_ui_cgroup_picker") {
        return;
    }
    let docker = format!("/system.slice/docker-{}.scope", "3f".repeat(32));
    let cgroups = [
        Cgroup { id: 21, path: docker.clone() },
        Cgroup { id: 22, path: "/user.slice/user-1000.slice/session-2.scope".into() },
        Cgroup { id: 23, path: "/user.slice/<img src=x onerror=alert(1)>".into() },
    ];
    let dir = tempfile::tempdir().unwrap();
    let now = prof::profile::unix_ns(std::time::SystemTime::now());
    let t0 = now - 60 * common::SEC;
    for i in 0..2u64 {
        let mut meta = common::interval_meta(0, 0);
        (meta.start_unix_ns, meta.end_unix_ns) = (t0 + i * 10 * common::SEC, t0 + (i + 1) * 10 * common::SEC);
        let mut b = ProfileBuilder::new(meta);
        let main = b.frame(Frame::new("main", "app", FrameKind::User));
        for (leaf, comm, cgroup, n) in [
            ("web_fn", "nginx", Some(&cgroups[0]), 70),
            ("batch_fn", "batch", Some(&cgroups[1]), 30),
            ("odd_fn", "odd", Some(&cgroups[2]), 1),
            ("loose_fn", "kworker", None, 5),
        ] {
            let f = b.frame(Frame::new(leaf, "app", FrameKind::User));
            let s = b.stack(vec![main, f]);
            b.add_owned(s, SampleOwner { pid: 10, tid: 10, comm, cgroup }, n);
        }
        let mut p = b.finish();
        p.meta.total_samples = p.total();
        prof::archive::write_file(&p, &dir.path().join(prof::store::archive_name(t0 + i * 10 * common::SEC, 7, i)))
            .unwrap();
    }
    let (addr, stop) = serve_in_thread(dir.path().to_path_buf());
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let url = format!("http://{addr}/");
    let args = [OsStr::new(&url), out_dir.as_os_str(), OsStr::new("/system.slice")];
    let v = script_json("cgroup.mjs", &args);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    println!("{v}");
    assert_eq!(v["errors"], serde_json::json!([]), "page errors");
    let options: Vec<(String, String)> = v["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["value"].as_str().unwrap().to_string(), o["text"].as_str().unwrap().replace('\u{a0}', " ")))
        .collect();
    let expected = [
        ("", "all cgroups (212 samples)".to_string()),
        ("/system.slice", "/system.slice (140 samples)".to_string()),
        (&docker, format!("  {docker} (140 samples)")),
        ("/user.slice", "/user.slice (62 samples)".to_string()),
        (
            "/user.slice/<img src=x onerror=alert(1)>",
            "  /user.slice/<img src=x onerror=alert(1)> (2 samples)".to_string(),
        ),
        ("/user.slice/user-1000.slice", "  /user.slice/user-1000.slice (60 samples)".to_string()),
        (
            "/user.slice/user-1000.slice/session-2.scope",
            "    /user.slice/user-1000.slice/session-2.scope (60 samples)".to_string(),
        ),
    ];
    let expected: Vec<(String, String)> = expected.into_iter().map(|(a, b)| (a.to_string(), b)).collect();
    assert_eq!(options, expected);
    let functions = |key: &str| -> Vec<String> {
        v[key]["functions"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect()
    };
    assert_eq!(v["before"], serde_json::json!(["batch_fn", "loose_fn", "main", "odd_fn", "web_fn"]));
    for key in ["picked", "reloaded"] {
        assert_eq!(functions(key), ["main", "web_fn"], "{key}: {v}");
        assert_eq!(v[key]["value"], "/system.slice", "{key}");
        assert_eq!(v[key]["hash"], "/system.slice", "{key}");
        assert!(v[key]["title"].as_str().unwrap().contains("140 samples"), "{key}: {v}");
    }
    assert_eq!(functions("all"), ["batch_fn", "loose_fn", "main", "odd_fn", "web_fn"]);
    assert_eq!((v["all"]["value"].as_str(), v["all"]["hash"].as_str()), (Some(""), None));
    for shot in ["ui-cgroup.png", "ui-cgroup-dark.png"] {
        assert!(std::fs::metadata(out_dir.join(shot)).map(|m| m.len() > 10_000).unwrap_or(false), "{shot}");
    }
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

/// The diff mode's interactive differential flamegraph, in the browser: archives where
/// `grow_fn` goes from 10% to 30% of the samples and `shrink_fn` from 30% to 10%, `old_fn`
/// (5%) is only in base and `new_fn` (5%) only in new, `same_fn` stays, and `noise_fn` and the
/// idle task change by 0.2 points, within sampling noise. Frames are as wide as the mean of both shares, red where the share
/// grew, blue where it shrank, grey where it stayed; tooltips give both shares and counts, the
/// change and the function's q-value; `/` searches, a click zooms, Esc zooms out, `f` switches
/// the layout, *hide idle* drops the idle task's frames; the timeline marks base and new in two
/// colours (both where they overlap) and the header names them in those colours. Synthetic
/// archives, no BPF. Screenshots: target/tmp/ui-diff-flame.png, ui-diff-flame-dark.png.
#[test]
fn browser_ui_diff_flamegraph() {
    use prof::profile::{Frame, FrameKind, ProfileBuilder};
    if !browser_available("browser_ui_diff_flamegraph") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let span = recent_spans();
    for i in 0..4u64 {
        let meta = recent_meta(span(i));
        let mut b = ProfileBuilder::new(meta);
        let main = b.frame(Frame::new("main", "app", FrameKind::User));
        let (grow, shrink, old, new, noise, idle_n) =
            if i < 2 { (100, 300, 50, 0, 20, 330) } else { (300, 100, 0, 50, 22, 328) };
        let frames = [("grow_fn", grow), ("shrink_fn", shrink), ("same_fn", 200), ("old_fn", old), ("new_fn", new)];
        for (name, n) in frames.into_iter().chain([("noise_fn", noise)]) {
            if n == 0 {
                continue;
            }
            let f = b.frame(Frame::new(name, "app", FrameKind::User));
            let s = b.stack(vec![main, f]);
            b.add(s, 1, "app", n);
        }
        let idle = b.frame(Frame::new("do_idle", "[kernel.kallsyms]", FrameKind::Kernel));
        let s = b.stack(vec![idle]);
        b.add(s, 0, "swapper/0", idle_n);
        write_interval(dir.path(), b, span(i).0, i);
    }
    let (addr, stop) = serve_in_thread(dir.path().to_path_buf());
    let range = |a: u64, b: u64| format!("{}-{}", span(a).0, span(b).1);
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let out = Command::new("node")
        .arg(browser_dir().join("diff.mjs"))
        .arg(format!("http://{addr}/"))
        .args([range(0, 1), range(2, 3), range(0, 2), range(1, 3)])
        .arg(out_dir)
        .args(["grow_fn", "shrink"])
        .output()
        .expect("node runs");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("diff.mjs prints JSON");
    assert_eq!(v["errors"], serde_json::json!([]), "page errors");

    let frames = |key: &str| v[key].as_array().unwrap_or_else(|| panic!("{key}: {v}")).clone();
    let find = |frames: &[serde_json::Value], text: &str| -> serde_json::Value {
        frames.iter().find(|f| f["text"] == text).unwrap_or_else(|| panic!("no frame {text} in {frames:?}")).clone()
    };
    let rgb = |f: &serde_json::Value| -> [i64; 3] {
        let c: Vec<i64> = f["rgb"].as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect();
        [c[0], c[1], c[2]]
    };
    let reddish = |f: &serde_json::Value| {
        let [r, g, b] = rgb(f);
        r > b + 60 && r > g + 40
    };
    let bluish = |f: &serde_json::Value| {
        let [r, g, b] = rgb(f);
        b > r + 60 && b > g + 20
    };
    let greyish = |f: &serde_json::Value| {
        let [r, g, b] = rgb(f);
        r.max(g).max(b) - r.min(g).min(b) < 20
    };
    let width = |f: &serde_json::Value| f["width"].as_str().unwrap().trim_end_matches('%').parse::<f64>().unwrap();

    // Adjacent ranges (intervals 0–1 against 2–3), light theme.
    let all = frames("frames");
    let (grow, shrink, same, idle) =
        (find(&all, "grow_fn"), find(&all, "shrink_fn"), find(&all, "same_fn"), find(&all, "do_idle"));
    let (old, new, noise) = (find(&all, "old_fn"), find(&all, "new_fn"), find(&all, "noise_fn"));
    let title = grow["title"].as_str().unwrap();
    for part in ["base 10.00% (200 samples), new 30.00% (600 samples)", "+20.00 points", "changed significantly (q = "]
    {
        assert!(title.contains(part), "grow_fn tooltip lacks {part:?}: {title}");
    }
    let title = shrink["title"].as_str().unwrap();
    assert!(
        title.contains("base 30.00% (600 samples), new 10.00% (200 samples)") && title.contains("-20.00 points"),
        "{title}"
    );
    assert!(same["title"].as_str().unwrap().contains("no significant change"), "{same}");
    assert!(idle["title"].as_str().unwrap().contains("(kernel)"), "{idle}");
    assert!(reddish(&grow) && reddish(&new), "grow_fn or new_fn is not red: {grow} {new}");
    assert!(bluish(&old), "old_fn is not blue: {old}");
    assert!(new["title"].as_str().unwrap().contains("base 0.00% (0 samples), new 5.00% (100 samples)"), "{new}");
    assert!(bluish(&shrink), "shrink_fn is not blue: {shrink}");
    assert!(greyish(&same), "an unchanged frame is not grey: {same}");
    assert!(greyish(&noise) && greyish(&idle), "changes within noise are not grey: {noise} {idle}");
    assert!(noise["title"].as_str().unwrap().contains("+0.20 points (z = 0.4)"), "{noise}");
    // Widths: the mean of both shares (grow_fn, shrink_fn and same_fn 20% each, idle 32.9%); what
    // vanished or appeared is half as wide as its share on the side that has it, and coloured.
    for (f, w) in [(&grow, 20.0), (&shrink, 20.0), (&same, 20.0), (&idle, 32.9), (&old, 2.5), (&new, 2.5)] {
        assert!((width(f) - w).abs() < 0.01, "width {w}% expected: {f}");
    }
    let details = v["details"].as_str().unwrap();
    assert!(
        details.contains("grow_fn") && details.contains("base 10.00%") && details.contains("new 30.00%"),
        "{details}"
    );
    assert!(v["legend"].as_str().unwrap().contains("Width: mean of the base and new shares"), "{v}");
    assert!(v["svgLink"].as_str().unwrap().starts_with("/api/diff.svg?base_from="), "{v}");
    let table = v["table"].as_array().unwrap();
    assert!(table.len() >= 2 && table[..2].iter().all(|r| r.as_str().unwrap().contains("yes")), "{table:?}");
    // The ranges in the header and on the timeline, in their two colours.
    let head = v["head"].as_str().unwrap();
    assert!(
        head.starts_with("base ") && head.contains(" vs new ") && head.contains("(20 s, 2000 samples) vs new "),
        "{head}"
    );
    let head_colours = v["headColours"].as_array().unwrap();
    assert_eq!(head_colours.len(), 2);
    assert_ne!(head_colours[0], head_colours[1], "base and new named in one colour");
    let marks = |key: &str| -> Vec<(bool, bool, String, String)> {
        frames(key)
            .iter()
            .map(|m| {
                let s = |k: &str| m[k].as_str().unwrap().to_string();
                (m["base"].as_bool().unwrap(), m["new"].as_bool().unwrap(), s("colour"), s("image"))
            })
            .collect()
    };
    let light = marks("marks");
    assert_eq!(
        light.iter().map(|m| (m.0, m.1)).collect::<Vec<_>>(),
        [(true, false), (true, false), (false, true), (false, true)]
    );
    assert_ne!(light[0].2, light[3].2, "base and new underlined in one colour");
    assert!(frames("marks").iter().all(|m| m["underline"] == "8px"), "{v}");

    // Search (after `/`), Esc, click to zoom, Esc to zoom out, `f`.
    assert_eq!(v["searchFocused"], "search");
    assert_eq!(v["matches"], serde_json::json!(["shrink_fn"]));
    assert!(v["dimmed"].as_u64().unwrap() >= 3, "frames that do not match are not dimmed: {v}");
    assert_eq!(v["matched"], "matched 30.00% of base, 10.00% of new samples");
    assert_eq!((v["searchAfterEsc"].as_str(), v["matchesAfterEsc"].as_u64()), (Some(""), Some(0)));
    let zoomed = frames("zoomed");
    assert_eq!(find(&zoomed, "grow_fn")["width"], "100%", "{zoomed:?}");
    assert_eq!(zoomed.iter().filter(|f| f["cls"].as_str().unwrap().contains("ancestor")).count(), 3, "{zoomed:?}");
    assert!(!zoomed.iter().any(|f| f["text"] == "shrink_fn"), "{zoomed:?}");
    assert_eq!(v["ancestorsAfterEsc"], 2, "Esc zooms out one level");
    let top_of = |key: &str| {
        let fs = frames(key);
        let root = fs.iter().find(|f| f["cls"].as_str().unwrap().contains("root")).unwrap()["top"].as_f64().unwrap();
        (root, fs.iter().map(|f| f["top"].as_f64().unwrap()).fold(0.0, f64::max))
    };
    let (root, deepest) = top_of("flameLayout");
    assert!(root > 0.0 && root == deepest, "flamegraph layout: root at {root}, deepest {deepest}");
    assert!(v["flameActive"].as_str().unwrap().contains("active"), "{v}");
    assert_eq!(top_of("icicleLayout").0, 0.0);

    // Hide idle: no idle task on either side; the shares are of the other samples.
    let no_idle = frames("noIdle");
    assert!(!no_idle.iter().any(|f| f["text"] == "do_idle" || f["text"] == "swapper/0"), "{no_idle:?}");
    let title = find(&no_idle, "grow_fn")["title"].as_str().unwrap().to_string();
    assert!(title.contains("base 14.93% (200 samples), new 44.64% (600 samples)"), "{title}");

    // Dark theme, overlapping ranges (0–2 against 1–3): still red and blue; the two middle bars
    // carry both marks.
    assert_eq!(v["darkTheme"], "dark");
    let dark = frames("darkFrames");
    let (grow, shrink) = (find(&dark, "grow_fn"), find(&dark, "shrink_fn"));
    assert!(reddish(&grow) && bluish(&shrink), "dark theme colours: {grow} {shrink}");
    assert!(greyish(&find(&dark, "same_fn")), "{dark:?}");
    let dark_marks = marks("darkMarks");
    assert_eq!(
        dark_marks.iter().map(|m| (m.0, m.1)).collect::<Vec<_>>(),
        [(true, false), (true, true), (true, true), (false, true)]
    );
    assert!(
        dark_marks[1].3.contains("linear-gradient") && dark_marks[2].3.contains("linear-gradient"),
        "{dark_marks:?}"
    );
    assert!(dark_marks[0].3 == "none" && dark_marks[3].3 == "none", "{dark_marks:?}");
    assert_ne!(v["colours"], v["darkColours"], "the dark theme has its own range colours");
    for shot in ["ui-diff-flame.png", "ui-diff-flame-dark.png"] {
        assert!(std::fs::metadata(out_dir.join(shot)).map(|m| m.len() > 10_000).unwrap_or(false), "{shot}");
    }
}

/// A flame tree of 50,001 nodes stays a bounded page: the first drawing, a search, a zoom and a
/// reset each leave at most 4,001 elements in #flame (2,000 frames, a block for each run of
/// frames left out, the root); a search highlights exactly the frames it matches and reports
/// their exact share, also of frames too narrow to draw (their block is highlighted); a click
/// zooms into a deep chain and draws it whole; Reset zoom undoes it, with the first view's
/// elements kept aside. Timings are for
/// scripts/bench-ui, not asserted (a shared CI machine can be slow by any factor).
/// Screenshot: target/tmp/ui-big.png.
#[test]
fn browser_ui_big_tree_stays_bounded() {
    if !browser_available("browser_ui_big_tree_stays_bounded") {
        return;
    }
    // main → mod0..mod19 → a chain of 49 frames per stack, 1,020 stacks: every third stack has
    // 20 samples (0.147%, above the 0.1% cut: 16,660 frames that could be drawn), the others
    // 10 (0.074%, below it).
    const STACKS: usize = 1020;
    const CHAIN: usize = 49;
    let count = |i: usize| if i.is_multiple_of(3) { 20u64 } else { 10 };
    let mut folded = String::new();
    for i in 0..STACKS {
        let chain: Vec<String> = (1..=CHAIN).map(|d| format!("fn{i}_{d}")).collect();
        folded.push_str(&format!("main;mod{};{} {}\n", i % 20, chain.join(";"), count(i)));
    }
    let nodes = 1 + 20 + STACKS * CHAIN;
    assert!(nodes >= 50_000);
    let total: u64 = (0..STACKS).map(count).sum();
    let share = |f: &dyn Fn(usize) -> bool| {
        format!(
            "matched {:.2}% of samples",
            100.0 * (0..STACKS).filter(|&i| f(i)).map(count).sum::<u64>() as f64 / total as f64
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.folded");
    std::fs::write(&file, folded).unwrap();
    let (addr, stop) = serve_in_thread(file);

    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-big.png");
    let url = format!("http://{addr}/");
    let args = [&url, shot.to_str().unwrap(), "^mod3$", "fn7_", "fn3_1"].map(OsStr::new);
    let v = script_json("big.mjs", &args);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    println!("{nodes} nodes: {v}");
    assert_eq!(v["errors"], serde_json::json!([]), "page errors");
    let bound = 4001;
    for at in ["/drawn", "/exact/elements", "/narrow/elements", "/zoom/elements", "/reset/elements"] {
        let n = v.pointer(at).and_then(serde_json::Value::as_u64).unwrap();
        assert!((100..=bound).contains(&n) || at == "/zoom/elements", "{at}: {n} elements in #flame, bound {bound}");
    }
    assert!(v["narrowBlocks"].as_u64().unwrap() >= 20, "frames left out are shown as blocks: {v}");

    // An exact search: one frame highlighted, none missed, the share exact.
    assert_eq!(v["exact"]["matched"], share(&|i| i % 20 == 3), "{v}");
    let exact = v["exact"]["highlighted"].as_array().unwrap();
    assert_eq!(exact.len(), 1, "{v}");
    assert_eq!((exact[0]["label"].as_str(), exact[0]["narrow"].as_bool()), (Some("mod3"), Some(false)));
    assert_eq!(v["exact"]["missed"], 0);
    // A search for frames all too narrow to draw: their share, and the block standing for them.
    assert_eq!(v["narrow"]["matched"], share(&|i| i == 7), "{v}");
    let narrow = v["narrow"]["highlighted"].as_array().unwrap();
    assert_eq!(narrow.len(), 1, "{v}");
    assert_eq!(narrow[0]["narrow"], true, "{v}");
    // fn7_1 and its neighbours by name under mod7 (fn767_1, fn787_1: 10 samples each).
    assert!(
        narrow[0]["title"].as_str().unwrap().starts_with("3 frames too narrow to draw one by one: 30 samples"),
        "{v}"
    );

    // Zoomed into fn3_1: all, main and mod3 above it; it and its whole chain full width.
    assert_eq!(v["zoom"]["ancestors"], serde_json::json!([format!("all ({total} samples)"), "main", "mod3"]), "{v}");
    let chain: Vec<String> = (1..=CHAIN).map(|d| format!("fn3_{d}")).collect();
    assert_eq!(v["zoom"]["full"], serde_json::json!(chain), "{v}");
    assert_eq!(v["zoom"]["narrow"], 0, "{v}");
    assert_eq!(v["reset"]["ancestors"], 0, "{v}");
    assert_eq!(v["reset"]["elements"], v["drawn"], "Reset zoom draws the first view again: {v}");
    assert_eq!(v["reset"]["reused"], true, "Reset zoom puts the first view's elements back: {v}");
}

/// An off-CPU directory (and one older on-CPU archive) in the page: every amount is time
/// ("ms blocked"), the axis is labelled in time, the on-CPU archive is left out of the range
/// with a note, and the diff of two off-CPU ranges compares shares without a significance test.
#[test]
fn browser_ui_shows_off_cpu_time() {
    use prof::profile::{EventKind, Frame, FrameKind, ProfileBuilder, ThreadState, WeightUnit};
    if !browser_available("browser_ui_shows_off_cpu_time") {
        return;
    }
    const MS: u64 = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let span = recent_spans();
    for i in 0..5u64 {
        let mut meta = recent_meta(span(i));
        // The oldest archive is an on-CPU recording into the same directory.
        let off_cpu = i > 0;
        if off_cpu {
            meta.event = EventKind::OffCpu.into();
            meta.weight_unit = WeightUnit::Nanoseconds;
        }
        let mut b = ProfileBuilder::new(meta);
        let main = b.frame(Frame::new("main", "app", FrameKind::User));
        let sleep = b.frame(Frame::new("wait_for_work", "app", FrameKind::User));
        let read = b.frame(Frame::new("read_pipe", "app", FrameKind::User));
        let cpu = b.frame(Frame::new("on_cpu_only", "app", FrameKind::User));
        if off_cpu {
            let marker = b.frame(Frame::placeholder(ThreadState::Sleeping.marker()));
            // wait_for_work 7 s then 5 s of every 10 s interval, read_pipe 3 s then 5 s.
            let (w, r) = if i < 3 { (7000, 3000) } else { (5000, 5000) };
            let s = b.stack(vec![marker, main, sleep]);
            b.add(s, 1, "app", w * MS);
            let s = b.stack(vec![marker, main, read]);
            b.add(s, 1, "app", r * MS);
        } else {
            let s = b.stack(vec![main, cpu]);
            b.add(s, 1, "app", 500);
        }
        write_interval(dir.path(), b, span(i).0, i);
    }
    let (addr, stop) = serve_in_thread(dir.path().to_path_buf());
    let range = |a: u64, b: u64| format!("{}-{}", span(a).0, span(b).1);
    let url = format!("http://{addr}/");
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let (from, to) = (span(0).0.to_string(), span(4).1.to_string());
    let args = [&url, &from, &to, &range(1, 2), &range(3, 4), out_dir.to_str().unwrap(), "wait_for_work"];
    let v = script_json("offcpu.mjs", &args.map(OsStr::new));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(v["errors"], serde_json::json!([]), "page errors");
    let text = |key: &str| v[key].as_str().unwrap_or_else(|| panic!("{key}: {v}")).to_string();

    // The timeline: time per interval, the newest interval's kind; each bar in its own unit.
    assert_eq!(text("yUnit"), "time blocked");
    let labels: Vec<String> = v["yLabels"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().into()).collect();
    assert!(labels.iter().any(|l| l == "10 s") && labels.iter().all(|l| !l.contains("sample")), "{labels:?}");
    let bars = v["barTitles"].as_array().unwrap();
    assert_eq!(bars.len(), 5);
    assert!(bars[0].as_str().unwrap().contains(": 500 samples,"), "{}", bars[0]);
    assert!(bars[1].as_str().unwrap().contains(": 10.00 s blocked,"), "{}", bars[1]);
    // The range: 40 s blocked in the four off-CPU intervals; the on-CPU one is left out.
    assert!(text("range").ends_with("5 intervals, 40.00 s blocked; 1 of another kind left out)"), "{}", text("range"));
    assert_eq!(text("rootTitle"), "all: 40.00 s blocked (100.00%)");
    assert_eq!(text("root"), "all (40.00 s blocked)");
    // wait_for_work: 7 + 7 + 5 + 5 = 24 s of 40.
    assert_eq!(text("frameTitle"), "wait_for_work: 24.00 s blocked (60.00%)");
    assert!(text("caption").contains("shares of 40.00 s blocked."), "{}", text("caption"));
    // Why threads waited is a frame of its own colour.
    assert!(text("stateFrame").split(' ').any(|c| c == "state"), "{}", text("stateFrame"));
    assert_eq!(text("stateTitle"), "[off-cpu: sleeping] (thread state): 40.00 s blocked (100.00%)");
    assert_eq!(text("matched"), "matched 60.00% of time blocked");
    let notes = text("notes");
    assert!(notes.contains("1 archive of time on the CPU skipped"), "{notes}");
    assert!(notes.starts_with("0 blocks lost or degraded;"), "{notes}");
    assert!(!text("frameTitle").contains("sample") && !notes.contains("on_cpu_only"), "{v}");
    let picker = v["picker"].as_array().unwrap();
    assert!(picker.iter().any(|p| p.as_str().unwrap().contains("s blocked")), "{picker:?}");

    // The diff: shares compared, no significance test on nanoseconds; 70% → 50% is coloured.
    let title = text("diffTitle");
    assert!(title.contains("compared by share") && title.contains("not tested"), "{title}");
    assert!(text("diffHead").contains("20.00 s blocked"), "{}", text("diffHead"));
    assert_eq!(text("diffRoot"), "all (base 20.00 s blocked, new 20.00 s blocked)");
    let tip = text("diffFrameTitle");
    assert!(tip.contains("base 70.00% (14.00 s blocked), new 50.00% (10.00 s blocked)"), "{tip}");
    assert!(tip.contains("-20.00 points") && !tip.contains("z ="), "{tip}");
    assert!(text("diffFrameClass").contains("shrink"), "{}", text("diffFrameClass"));
    let table = v["diffTable"].as_array().unwrap();
    assert!(table.iter().all(|r| r.as_str().unwrap().contains("not tested")), "{table:?}");
    assert!(text("diffLegend").contains("time is not tested for noise") && !text("diffLegend").contains("|z|"), "{v}");
}
