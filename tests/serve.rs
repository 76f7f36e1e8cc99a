//! `prof serve`: every endpoint over real HTTP, the Host-header (DNS rebinding) check, read-only
//! methods, path traversal attempts, security headers, and hostile symbol names escaped.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use prof::profile::{Frame, FrameKind, ProfileBuilder};

use common::{SEC, T0};
const HOSTILE: &str = "<script>alert(1)</script>\"onload=x&\u{9b}\u{202e}";

fn write_interval(dir: &Path, i: u64, leaf: &str, n: u64) {
    let meta = common::interval_meta(i, n);
    let mut b = ProfileBuilder::new(meta);
    let main = b.frame(Frame::new("main", "app", FrameKind::User));
    let f = b.frame(Frame::new(leaf, "app", FrameKind::User));
    let s = b.stack(vec![main, f]);
    b.add(s, 1, "app", n);
    let other = b.stack(vec![main]);
    b.add(other, 2, "daemon", 5);
    prof::archive::write_file(&b.finish(), &dir.join(prof::store::archive_name(T0 + i * 10 * SEC, 7, i))).unwrap();
}

struct Ui {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    _dir: tempfile::TempDir,
}

impl Drop for Ui {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn start() -> Ui {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..4 {
        write_interval(dir.path(), i, if i < 2 { "old_work" } else { HOSTILE }, 300);
    }
    serve_dir(dir)
}

fn serve_dir(dir: tempfile::TempDir) -> Ui {
    let path = dir.path().to_path_buf();
    serve_path(dir, path)
}

/// Serves `path` (a directory or a profile file, kept in `dir`).
fn serve_path(dir: tempfile::TempDir, path: std::path::PathBuf) -> Ui {
    let server = prof::serve::bind(path, "127.0.0.1:0".parse().unwrap(), false).unwrap();
    let addr = server.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&stop);
    std::thread::spawn(move || server.run(&s));
    Ui { addr, stop, _dir: dir }
}

/// Sends a raw request and returns (status, headers, body).
fn raw(addr: SocketAddr, request: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").expect("a header block");
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, buf[split + 4..].to_vec())
}

fn get(ui: &Ui, path: &str) -> (u16, String, Vec<u8>) {
    raw(ui.addr, &format!("GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", ui.addr))
}

/// GETs `path`, which must answer 200 with JSON.
fn get_json(ui: &Ui, path: &str) -> serde_json::Value {
    let (status, _, body) = get(ui, path);
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

fn range(from_i: u64, to_i: u64) -> String {
    format!("from={}&to={}", T0 + from_i * 10 * SEC, T0 + to_i * 10 * SEC)
}

/// The page and its assets are served with a CSP that forbids inline and remote scripts, and the
/// page itself has no inline script.
#[test]
fn serve_page_and_assets_with_security_headers() {
    let ui = start();
    let (status, head, body) = get(&ui, "/");
    assert_eq!(status, 200);
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("<script type=\"module\" src=\"/app.js\"></script>"));
    assert_eq!(html.matches("<script").count(), 1, "only the external script");
    assert!(!html.contains("http://") && !html.contains("https://"), "no remote resources");
    for h in [
        "Content-Security-Policy: default-src 'none'; script-src 'self'",
        "X-Content-Type-Options: nosniff",
        "X-Frame-Options: DENY",
    ] {
        assert!(head.contains(h), "missing {h}: {head}");
    }
    assert!(!head.contains("unsafe-inline"));
    // Every file of web/ is served as it is, with its type; no script writes HTML.
    let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let mut served = 0;
    for entry in std::fs::read_dir(&web).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let ty = match path.extension().and_then(|e| e.to_str()) {
            Some("js") => "text/javascript",
            Some("css") => "text/css",
            _ => continue,
        };
        let (status, head, body) = get(&ui, &format!("/{name}"));
        assert_eq!(status, 200, "{name}");
        assert!(head.contains(ty), "{name}: {head}");
        assert_eq!(body, std::fs::read(&path).unwrap(), "{name}");
        if ty == "text/javascript" && name != "app.js" {
            let preload = format!("<link rel=\"modulepreload\" href=\"/{name}\">");
            assert!(html.contains(&preload), "index.html does not preload {name}: the page would wait for it");
        }
        if ty == "text/javascript" {
            assert!(!String::from_utf8(body).unwrap().contains("innerHTML"), "{name}: symbol names must go in as text");
        }
        served += 1;
    }
    assert!(served >= 6, "app.js, flame.js, fuzzy.js, diff.js, dom.js, app.css");
}

/// Every API endpoint answers for a time range: intervals, SVG, folded, archive, top, diff.
#[test]
fn serve_api_endpoints() {
    let ui = start();
    let (status, _, body) = get(&ui, "/api/intervals");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 4);
    assert_eq!(v[0]["samples"], 300);

    let (status, head, body) = get(&ui, &format!("/api/range.svg?{}", range(0, 2)));
    assert_eq!(status, 200);
    assert!(head.contains("image/svg+xml"));
    // inferno's zoom/search code is left out, and the CSP forbids what inline script remains.
    let svg = String::from_utf8(body).unwrap();
    assert!(svg.contains("old_work") && !svg.contains("function zoom("), "static SVG of the range");
    assert!(head.contains("script-src 'self'") && !head.contains("unsafe-inline"));

    let (status, head, body) = get(&ui, &format!("/api/range.folded?{}", range(0, 4)));
    assert_eq!(status, 200);
    assert!(head.contains("attachment; filename=\"range.folded\""));
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("app;main;old_work 600\n") && text.contains("daemon;main 20\n"), "{text}");

    // range.json (what the UI draws): labels once, stacks as [count, label index…], and the
    // same stacks and counts as the folded download.
    let (status, _, body) = get(&ui, &format!("/api/range.json?{}", range(0, 4)));
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let names: Vec<&str> = v["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    let mut lines: Vec<String> = v["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let s = s.as_array().unwrap();
            let frames: Vec<&str> = s[1..].iter().map(|i| names[i.as_u64().unwrap() as usize]).collect();
            format!("{} {}", frames.join(";"), s[0])
        })
        .collect();
    lines.sort();
    let mut folded: Vec<String> = text.lines().map(str::to_string).collect();
    folded.sort();
    assert_eq!(lines, folded);
    assert_eq!(names.len(), names.iter().collect::<std::collections::HashSet<_>>().len(), "labels sent once");
    // Each label's module, for the top table the page computes: the binary of functions, ""
    // for the roots (process names).
    let modules: Vec<&str> = v["modules"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    assert_eq!(modules.len(), names.len());
    let module = |name: &str| modules[names.iter().position(|n| *n == name).unwrap()];
    assert_eq!((module("main"), module("old_work"), module("app")), ("app", "app", ""), "{v}");
    // What the counts are (the page computes its top table itself: none is sent).
    assert_eq!((v["unit"].as_str(), v["measure"].as_str()), (Some("samples"), Some("on-cpu")), "{v}");
    assert!(v.get("top").is_none(), "{v}");

    let (status, _, body) = get(&ui, &format!("/api/range.prof?{}", range(2, 4)));
    assert_eq!(status, 200);
    let p = prof::archive::read(&body).unwrap();
    assert_eq!(p.total(), 610);

    let (status, _, body) = get(&ui, &format!("/api/top.json?{}&comm=app", range(0, 4)));
    assert_eq!(status, 200);
    let rows: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(rows.as_array().unwrap().iter().all(|r| r["function"] != "daemon"));
    assert_eq!(rows[0]["self_pct"], 50.0);

    let q = format!("base_from={}&base_to={}&new_from={}&new_to={}", T0, T0 + 20 * SEC, T0 + 20 * SEC, T0 + 40 * SEC);
    let (status, _, body) = get(&ui, &format!("/api/diff.json?{q}"));
    assert_eq!(status, 200);
    let d: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(d["functions"][0]["significant"], true);
    let (status, _, body) = get(&ui, &format!("/api/diff.svg?{q}"));
    assert_eq!(status, 200);
    assert!(!String::from_utf8(body).unwrap().contains("function zoom("));
}

/// Through the API too, a range is exact to the nanosecond: one interval's bounds from
/// `/api/intervals` give exactly its samples (not the next interval's too, though that one's
/// name, in milliseconds, starts before the bound), and the duration in the title and in
/// `duration_ns` is the sum of the selected intervals' real durations, not the span over a gap.
#[test]
fn serve_range_is_exact_to_the_nanosecond() {
    let dir = tempfile::tempdir().unwrap();
    for i in [0, 1, 2, 3, 4, 6, 7] {
        common::write_odd_interval(dir.path(), i);
    }
    let ui = serve_dir(dir);
    let (_, _, body) = get(&ui, "/api/intervals");
    let rows: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (rows[3]["start_unix_ns"].as_u64(), rows[3]["samples"].as_u64()),
        (Some(common::odd_start(3)), Some(103))
    );
    let json = |from: &serde_json::Value, to: &serde_json::Value| {
        let (status, _, body) = get(&ui, &format!("/api/range.json?from={from}&to={to}"));
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()
    };
    let one = json(&rows[3]["start_unix_ns"], &rows[3]["end_unix_ns"]);
    assert_eq!((one["total"].as_u64(), one["intervals"].as_u64()), (Some(103), Some(1)));
    assert_eq!(one["duration_ns"].as_u64(), Some(2 * SEC));
    assert!(one["title"].as_str().unwrap().ends_with("(2.0 s)"), "{}", one["title"]);
    // Intervals 3, 4, 6 and 7 (5 was never recorded): 8 s of samples over a 10 s span.
    let gap = json(&rows[3]["start_unix_ns"], &rows[6]["end_unix_ns"]);
    assert_eq!((gap["total"].as_u64(), gap["intervals"].as_u64()), (Some(103 + 104 + 106 + 107), Some(4)));
    assert!(gap["title"].as_str().unwrap().ends_with("(8.0 s)"), "{}", gap["title"]);
    let (status, _, body) =
        get(&ui, &format!("/api/range.prof?from={}&to={}", rows[0]["end_unix_ns"], rows[1]["end_unix_ns"]));
    assert_eq!(status, 200);
    assert_eq!(prof::archive::read(&body).unwrap().total(), 101);
}

/// Hostile symbol names are escaped in the SVG and JSON, never raw markup, C1 controls or bidi
/// overrides.
#[test]
fn serve_escapes_hostile_names() {
    let ui = start();
    let svg = String::from_utf8(get(&ui, &format!("/api/range.svg?{}", range(2, 4))).2).unwrap();
    assert!(!svg.contains("<script>alert"), "raw markup in the SVG");
    assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "name missing or not escaped");
    let (_, head, body) = get(&ui, &format!("/api/top.json?{}", range(2, 4)));
    assert!(head.contains("application/json") && head.contains("nosniff"));
    let rows: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(rows.as_array().unwrap().iter().any(|r| r["function"] == HOSTILE));
    let text = String::from_utf8(body).unwrap();
    assert!(!text.contains('\u{9b}') && !text.contains('\u{202e}'), "raw C1 or bidi character in the JSON");
}

/// Requests whose Host is not this server get 403 (DNS rebinding); localhost works; a missing
/// Host is refused.
#[test]
fn serve_host_header_check() {
    let ui = start();
    let port = ui.addr.port();
    for host in ["evil.example", "evil.example:80", &format!("attacker.test:{port}"), "127.0.0.1:1"] {
        let (status, _, _) =
            raw(ui.addr, &format!("GET /api/intervals HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"));
        assert_eq!(status, 403, "{host}");
    }
    let (status, _, _) = raw(ui.addr, "GET /api/intervals HTTP/1.0\r\n\r\n");
    assert_eq!(status, 403, "no Host");
    let (status, _, _) =
        raw(ui.addr, &format!("GET /api/intervals HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"));
    assert_eq!(status, 200);
}

/// Read-only: anything but GET/HEAD is 405. Traversal attempts are 404: paths are never mapped to
/// files.
#[test]
fn serve_read_only_and_no_traversal() {
    let ui = start();
    for method in ["POST", "PUT", "DELETE"] {
        let (status, _, _) = raw(
            ui.addr,
            &format!(
                "{method} /api/intervals HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ui.addr
            ),
        );
        assert_eq!(status, 405, "{method}");
    }
    let (status, _, body) = raw(ui.addr, &format!("HEAD / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", ui.addr));
    assert_eq!((status, body.len()), (200, 0));
    for path in [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/api/../../etc/passwd",
        "//etc/passwd",
        "/web/app.js",
        "/api/range.svg/../../../etc/passwd",
        "/app.js%00.txt",
        "/Cargo.toml",
    ] {
        let (status, _, body) = get(&ui, path);
        assert_eq!(status, 404, "{path}");
        assert!(!String::from_utf8_lossy(&body).contains("root:"), "{path}");
    }
}

/// Bad parameters are 400, an empty range 404, and a non-loopback address is refused without
/// --allow-remote.
#[test]
fn serve_bad_requests_and_bind_policy() {
    let ui = start();
    assert_eq!(get(&ui, "/api/range.svg?from=yesterday").0, 400);
    assert_eq!(get(&ui, &format!("/api/range.svg?from={}&to={}", T0 + 1000 * SEC, T0 + 2000 * SEC)).0, 404);
    let dir = tempfile::tempdir().unwrap();
    let err = prof::serve::bind(dir.path().to_path_buf(), "0.0.0.0:0".parse().unwrap(), false).unwrap_err();
    assert!(err.to_string().contains("--allow-remote"), "{err}");
    assert!(prof::serve::bind(dir.path().join("missing"), "127.0.0.1:0".parse().unwrap(), false).is_err());
}

/// The server remembers what it read, but an archive written (or removed) after a request shows
/// in the next one: in the intervals and in a range asked for before.
#[test]
fn serve_sees_archives_written_between_requests() {
    let ui = start();
    let count = |body: &[u8]| serde_json::from_slice::<serde_json::Value>(body).unwrap().as_array().unwrap().len();
    let total = |ui: &Ui| prof::archive::read(&get(ui, &format!("/api/range.prof?{}", range(0, 6))).2).unwrap().total();
    assert_eq!(count(&get(&ui, "/api/intervals").2), 4);
    assert_eq!(total(&ui), 4 * 305);
    assert_eq!(total(&ui), 4 * 305, "same answer from the cache");
    write_interval(ui._dir.path(), 4, "late_work", 100);
    assert_eq!(count(&get(&ui, "/api/intervals").2), 5);
    assert_eq!(total(&ui), 4 * 305 + 105);
    let last = ui._dir.path().join(prof::store::archive_name(T0 + 4 * 10 * SEC, 7, 4));
    std::fs::remove_file(last).unwrap();
    assert_eq!(count(&get(&ui, "/api/intervals").2), 4);
    assert_eq!(total(&ui), 4 * 305);
}

/// Archives with lost process notifications (the ring buffer was full) and their warning: each
/// interval row carries its `events_lost`, a range's JSON their sum with every loss by reason and
/// the notes, and the page has the list that shows them (filled by `renderLosses` in app.js).
#[test]
fn serve_shows_lost_notifications() {
    use prof::profile::LossReason;
    let dir = tempfile::tempdir().unwrap();
    let warning = "process notifications lost: 40 of 100 (40.0%, the ring buffer was full before prof read them)";
    for (i, events_lost, stack_faults) in [(0u64, 40u64, 3u64), (1, 0, 0), (2, 2, 1)] {
        let mut meta = common::interval_meta(i, 50);
        if events_lost > 0 {
            meta.losses.insert(LossReason::EventsLost, events_lost);
        }
        if stack_faults > 0 {
            meta.losses.insert(LossReason::UserStackFault, stack_faults);
        }
        if i == 0 {
            meta.notes.push(warning.to_string());
        }
        let mut b = ProfileBuilder::new(meta);
        let main = b.frame(Frame::new("main", "app", FrameKind::User));
        let s = b.stack(vec![main]);
        b.add(s, 1, "app", 50);
        prof::archive::write_file(&b.finish(), &dir.path().join(prof::store::archive_name(T0 + i * 10 * SEC, 7, i)))
            .unwrap();
    }
    let ui = serve_dir(dir);
    let rows: serde_json::Value = serde_json::from_slice(&get(&ui, "/api/intervals").2).unwrap();
    let events: Vec<u64> = rows.as_array().unwrap().iter().map(|r| r["events_lost"].as_u64().unwrap()).collect();
    assert_eq!(events, [40, 0, 2], "{rows}");
    assert_eq!(rows[0]["lost"], 3, "per-sample losses stay apart from notifications");

    let (status, _, body) = get(&ui, &format!("/api/range.json?{}", range(0, 3)));
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["losses"]["events"], 42, "{}", v["losses"]);
    assert_eq!(v["losses"]["samples"], 4);
    assert_eq!(v["losses"]["by_reason"]["events_lost"], 42);
    assert_eq!(v["losses"]["by_reason"]["user_stack_efault"], 4);
    assert_eq!(v["notes"], serde_json::json!([warning]));
    // A range without losses says so (zeros), not nothing.
    let v: serde_json::Value =
        serde_json::from_slice(&get(&ui, &format!("/api/range.json?{}", range(1, 2))).2).unwrap();
    assert_eq!((v["losses"]["events"].as_u64(), v["losses"]["samples"].as_u64()), (Some(0), Some(0)));

    let html = String::from_utf8(get(&ui, "/").2).unwrap();
    assert!(html.contains("<ul id=\"losses\""), "the page has the list of losses");
    let js = String::from_utf8(get(&ui, "/app.js").2).unwrap();
    assert!(js.contains("renderLosses(data.losses, data.notes") && js.contains("process notifications lost"));
    assert!(js.contains("events_lost"), "the timeline's bars count lost notifications");
}

/// `/api/processes.json` lists the range's processes (samples, distinct PIDs), most samples
/// first, and each interval overlapping the range with its samples by process; intervals
/// outside the range are not counted.
#[test]
fn serve_processes_by_interval() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..3 {
        write_interval(dir.path(), i, "work", 100 + i);
    }
    // A second PID of `app` in interval 3.
    let mut b = ProfileBuilder::new(common::interval_meta(3, 40));
    let main = b.frame(Frame::new("main", "app", FrameKind::User));
    let s = b.stack(vec![main]);
    b.add(s, 9, "app", 40);
    prof::archive::write_file(&b.finish(), &dir.path().join(prof::store::archive_name(T0 + 30 * SEC, 7, 3))).unwrap();
    let ui = serve_dir(dir);

    let (status, _, body) = get(&ui, &format!("/api/processes.json?{}", range(1, 4)));
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v["processes"],
        serde_json::json!([
            {"comm": "app", "pids": 2, "samples": 101 + 102 + 40},
            {"comm": "daemon", "pids": 1, "samples": 10},
        ])
    );
    let intervals = v["intervals"].as_array().unwrap();
    assert_eq!(intervals.len(), 3, "{v}");
    assert_eq!(intervals[0]["start_unix_ns"], T0 + 10 * SEC);
    assert_eq!(intervals[0]["end_unix_ns"], T0 + 20 * SEC);
    assert_eq!(intervals[0]["samples"], 106);
    assert_eq!(intervals[0]["by_process"], serde_json::json!([[0, 101], [1, 5]]));
    assert_eq!(intervals[2]["by_process"], serde_json::json!([[0, 40]]));
    // Asked again (from the cache), the same answer.
    assert_eq!(get(&ui, &format!("/api/processes.json?{}", range(1, 4))).2, body);
    let (status, _, body) = get(&ui, &format!("/api/processes.json?{}", range(0, 1)));
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["intervals"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(get(&ui, "/api/processes.json?from=x").0, 400);
}

/// An off-CPU archive after on-CPU ones: the interval rows say which are time and what kind;
/// a range over both is the newest kind only (range.json says so, the others are named in its
/// notes), and so are the processes of the range.
#[test]
fn serve_says_what_the_counts_are() {
    use prof::profile::{EventKind, WeightUnit};
    let dir = tempfile::tempdir().unwrap();
    for i in 0..2 {
        write_interval(dir.path(), i, "work", 100);
    }
    let mut meta = common::interval_meta(2, 0);
    meta.event = EventKind::OffCpu.into();
    meta.weight_unit = WeightUnit::Nanoseconds;
    let mut b = ProfileBuilder::new(meta);
    let wait = b.frame(Frame::new("wait", "app", FrameKind::User));
    let s = b.stack(vec![wait]);
    b.add(s, 3, "sleeper", 7_000_000_000);
    let mut p = b.finish();
    p.meta.total_samples = p.total();
    prof::archive::write_file(&p, &dir.path().join(prof::store::archive_name(T0 + 20 * SEC, 7, 2))).unwrap();
    let ui = serve_dir(dir);

    let v: serde_json::Value = serde_json::from_slice(&get(&ui, "/api/intervals").2).unwrap();
    let kinds: Vec<_> =
        v.as_array().unwrap().iter().map(|r| (r.get("unit").cloned(), r.get("measure").cloned())).collect();
    let ns = (Some(serde_json::json!("nanoseconds")), Some(serde_json::json!("off-cpu")));
    assert_eq!(kinds, [(None, None), (None, None), ns], "{v}");
    assert_eq!(v[2]["samples"], 7_000_000_000u64);

    let v: serde_json::Value =
        serde_json::from_slice(&get(&ui, &format!("/api/range.json?{}", range(0, 3))).2).unwrap();
    assert_eq!((v["unit"].as_str(), v["measure"].as_str()), (Some("nanoseconds"), Some("off-cpu")), "{v}");
    assert_eq!(v["total"], 7_000_000_000u64);
    let notes = v["notes"].to_string();
    assert!(notes.contains("2 archives of time on the CPU skipped"), "{notes}");
    let v: serde_json::Value =
        serde_json::from_slice(&get(&ui, &format!("/api/range.json?{}", range(0, 2))).2).unwrap();
    assert_eq!(
        (v["unit"].as_str(), v["measure"].as_str(), v["total"].as_u64()),
        (Some("samples"), Some("on-cpu"), Some(210))
    );

    let v: serde_json::Value =
        serde_json::from_slice(&get(&ui, &format!("/api/processes.json?{}", range(0, 3))).2).unwrap();
    assert_eq!(v["processes"], serde_json::json!([{"comm": "sleeper", "pids": 1, "samples": 7_000_000_000u64}]));
    assert_eq!(v["intervals"].as_array().unwrap().len(), 1, "{v}");
}

/// `/api/processes.json` lists the range's cgroups by path, each with the samples in it and below
/// it (a parent sums its children, samples without a cgroup are in none), and `cgroup=PATH`
/// keeps a range's samples of that cgroup and those below it in every range endpoint.
#[test]
fn serve_cgroups_listed_and_filtered() {
    use prof::profile::{Cgroup, SampleOwner};
    let dir = tempfile::tempdir().unwrap();
    let web = Cgroup { id: 11, path: "/system.slice/nginx.service".into() };
    let db = Cgroup { id: 12, path: "/system.slice/postgres.service".into() };
    let near = Cgroup { id: 13, path: "/system.slice.x/a".into() };
    for i in 0..2 {
        let mut b = ProfileBuilder::new(common::interval_meta(i, 0));
        let main = b.frame(Frame::new("main", "app", FrameKind::User));
        for (leaf, cgroup, n) in [("serve_fn", Some(&web), 30), ("query_fn", Some(&db), 20), ("x_fn", Some(&near), 4)]
            .into_iter()
            .chain([("loose_fn", None, 6)])
        {
            let f = b.frame(Frame::new(leaf, "app", FrameKind::User));
            let s = b.stack(vec![main, f]);
            b.add_owned(s, SampleOwner { pid: 7, tid: 7, comm: leaf, cgroup }, n);
        }
        let name = prof::store::archive_name(T0 + i * 10 * SEC, 7, i);
        prof::archive::write_file(&b.finish(), &dir.path().join(name)).unwrap();
    }
    let ui = serve_dir(dir);
    let v = get_json(&ui, &format!("/api/processes.json?{}", range(0, 2)));
    assert_eq!(
        v["cgroups"],
        serde_json::json!([
            {"path": "/system.slice", "samples": 100},
            {"path": "/system.slice/nginx.service", "samples": 60},
            {"path": "/system.slice/postgres.service", "samples": 40},
            {"path": "/system.slice.x", "samples": 8},
            {"path": "/system.slice.x/a", "samples": 8},
        ])
    );
    let leaves = |cgroup: &str| {
        let v = get_json(&ui, &format!("/api/top.json?{}&cgroup={cgroup}", range(0, 2)));
        let mut names: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["self_count"].as_u64() > Some(0))
            .map(|r| format!("{} {}", r["function"].as_str().unwrap(), r["self_count"]))
            .collect();
        names.sort();
        names
    };
    assert_eq!(leaves("/system.slice"), ["query_fn 40", "serve_fn 60"]);
    assert_eq!(leaves("/system.slice/nginx.service/"), ["serve_fn 60"]);
    assert_eq!(leaves("/nowhere"), Vec::<String>::new());
    let (_, _, folded) = get(&ui, &format!("/api/range.folded?{}&cgroup=%2Fsystem.slice.x", range(0, 2)));
    assert_eq!(String::from_utf8(folded).unwrap(), "x_fn;main;x_fn 8\n");
}

/// `prof serve FILE` serves one profile (an archive, pprof `.pb.gz` or folded file) with the
/// same endpoints: `/api/meta.json` says `single` (no timeline), the intervals are one row, every
/// range endpoint gives the whole profile whatever the times asked, and a diff is refused. The
/// file is read once at start (rewritten afterwards, the first content is still served), and
/// the Host check and CSP apply as for a directory.
#[test]
fn serve_one_profile_file() {
    // Markup, but nothing the folded writer changes (controls are replaced there).
    const LEAF: &str = "<script>alert(1)</script>\"onload=x&";
    let mut b = ProfileBuilder::new(common::interval_meta(0, 35));
    let main = b.frame(Frame::new("main", "app", FrameKind::User));
    let f = b.frame(Frame::new(LEAF, "app", FrameKind::User));
    let s = b.stack(vec![main, f]);
    b.add(s, 1, "app", 30);
    let only_main = b.stack(vec![main]);
    b.add(only_main, 2, "daemon", 5);
    let profile = b.finish();

    let (status, _, body) = get(&start(), "/api/meta.json");
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["single"], false);

    for name in ["run.prof", "run.pb.gz", "run.folded"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        let mut bytes = Vec::new();
        match name {
            "run.prof" => prof::archive::write(&profile, &mut bytes).unwrap(),
            "run.pb.gz" => prof::output::pprof::write(&profile, &mut bytes).unwrap(),
            _ => bytes = format!("app;main;{LEAF} 30\ndaemon;main 5\n").into_bytes(),
        }
        std::fs::write(&path, &bytes).unwrap();
        let ui = serve_path(dir, path.clone());

        let (status, head, body) = get(&ui, "/api/meta.json");
        assert_eq!(status, 200, "{name}");
        assert!(head.contains("script-src 'self'") && !head.contains("unsafe-inline"), "{name}: {head}");
        let meta: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((meta["single"].as_bool(), meta["name"].as_str()), (Some(true), Some(name)));

        let rows: serde_json::Value = serde_json::from_slice(&get(&ui, "/api/intervals").2).unwrap();
        assert_eq!(rows.as_array().unwrap().len(), 1, "{name}: {rows}");
        assert_eq!(rows[0]["bytes"].as_u64(), Some(bytes.len() as u64), "{name}");

        // Rewritten after the start: not read again.
        std::fs::write(&path, "other;stack 1\n").unwrap();
        for query in ["", "?from=0&to=1", &format!("?{}", range(5, 9))] {
            let (status, _, body) = get(&ui, &format!("/api/range.folded{query}"));
            assert_eq!(status, 200, "{name}{query}");
            let text = String::from_utf8(body).unwrap();
            assert_eq!(text, format!("app;main;{LEAF} 30\ndaemon;main 5\n"), "{name}{query}");
            let v: serde_json::Value = serde_json::from_slice(&get(&ui, &format!("/api/range.json{query}")).2).unwrap();
            assert_eq!((v["total"].as_u64(), v["intervals"].as_u64()), (Some(35), Some(1)), "{name}{query}");
        }
        let v: serde_json::Value = serde_json::from_slice(&get(&ui, "/api/top.json?comm=daemon").2).unwrap();
        assert_eq!(v[0]["self_count"].as_u64(), Some(5), "{name}: {v}");
        assert_eq!(get(&ui, "/api/diff.json?base_from=0&base_to=1&new_from=1&new_to=2").0, 400, "{name}");
        let (status, _, body) = get(&ui, "/api/range.svg");
        assert_eq!(status, 200);
        assert!(!String::from_utf8(body).unwrap().contains("<script>alert"), "{name}: hostile name escaped");
        let forged = raw(ui.addr, "GET /api/range.folded HTTP/1.1\r\nHost: evil.example\r\n\r\n");
        assert_eq!(forged.0, 403, "{name}");
    }

    // Not a profile, or not there: refused when binding, saying what it is.
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "#!/bin/sh\necho hi\n").unwrap();
    let err = prof::serve::bind(text, "127.0.0.1:0".parse().unwrap(), false).unwrap_err().to_string();
    assert!(err.contains("not a profile"), "{err}");
    let err = prof::serve::bind(dir.path().join("missing.prof"), "127.0.0.1:0".parse().unwrap(), false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.prof") && err.contains("archive directory or a profile file"), "{err}");
}

/// The diff (and every range) takes `no_idle=1`, as `prof record --no-idle`: the idle task's
/// samples (pid 0, `swapper/N`) are dropped from both sides, so the idle task's frames leave
/// the table and the totals shrink by its samples; other samples of pid 0 stay.
#[test]
fn serve_diff_hides_idle() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..4u64 {
        let mut b = ProfileBuilder::new(common::interval_meta(i, 0));
        let idle = b.frame(Frame::new("do_idle", "kernel", FrameKind::Kernel));
        let work = b.frame(Frame::new(if i < 2 { "old_work" } else { "new_work" }, "app", FrameKind::User));
        let s = b.stack(vec![idle]);
        b.add(s, 0, "swapper/0", 900 + 100 * i);
        let s = b.stack(vec![work]);
        b.add(s, 0, "folded_like", 50);
        let s = b.stack(vec![work]);
        b.add(s, 7, "app", 100);
        let mut p = b.finish();
        p.meta.total_samples = p.total();
        prof::archive::write_file(&p, &dir.path().join(prof::store::archive_name(T0 + i * 10 * SEC, 7, i))).unwrap();
    }
    let ui = serve_dir(dir);
    let q = format!("base_from={}&base_to={}&new_from={}&new_to={}", T0, T0 + 20 * SEC, T0 + 20 * SEC, T0 + 40 * SEC);
    let diff = |extra: &str| {
        let (status, _, body) = get(&ui, &format!("/api/diff.json?{q}{extra}"));
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let d: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let functions: Vec<String> =
            d["functions"].as_array().unwrap().iter().map(|f| f["function"].as_str().unwrap().to_string()).collect();
        (d["base"]["samples"].as_u64().unwrap(), d["new"]["samples"].as_u64().unwrap(), functions)
    };
    let (base, new, functions) = diff("");
    assert_eq!((base, new), (900 + 1000 + 300, 1100 + 1200 + 300));
    assert!(functions.iter().any(|f| f.starts_with("do_idle")), "{functions:?}");
    for on in ["&no_idle=1", "&no_idle=true"] {
        let (base, new, functions) = diff(on);
        assert_eq!((base, new), (300, 300), "{on}");
        assert!(!functions.iter().any(|f| f.starts_with("do_idle")), "{on}: {functions:?}");
        assert!(
            functions.iter().any(|f| f == "old_work") && functions.iter().any(|f| f == "new_work"),
            "{functions:?}"
        );
    }
    assert_eq!(diff("&no_idle=0").0, 2200);
    assert_eq!(get(&ui, &format!("/api/diff.json?{q}&no_idle=yes")).0, 400);
    // range.json too (the UI's diff graph reads each side with it): no idle frame, no swapper.
    let names = |extra: &str| {
        let v: serde_json::Value =
            serde_json::from_slice(&get(&ui, &format!("/api/range.json?{}{extra}", range(0, 4))).2).unwrap();
        let names: Vec<String> =
            v["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect();
        (v["total"].as_u64().unwrap(), names)
    };
    let (total, all) = names("");
    assert_eq!(total, 900 + 1000 + 1100 + 1200 + 600);
    assert!(all.iter().any(|n| n.starts_with("do_idle")) && all.iter().any(|n| n.starts_with("swapper")), "{all:?}");
    let (total, kept) = names("&no_idle=1");
    assert_eq!(total, 600);
    assert!(!kept.iter().any(|n| n.starts_with("do_idle") || n.starts_with("swapper")), "{kept:?}");
    assert!(kept.iter().any(|n| n == "old_work") && kept.iter().any(|n| n == "folded_like"), "{kept:?}");
}
