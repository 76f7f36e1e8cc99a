//! `prof serve` from the command line: where it listens when given no address (loopback only,
//! checked from the kernel's socket table), and the warning when `--allow-remote` binds beyond
//! loopback.

mod common;

use std::process::Command;

/// A `prof serve` child killed when dropped, with the stderr lines read until it said it serves.
struct Serving(common::Background);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.child.kill();
        let _ = self.0.child.wait();
    }
}

/// Starts `cmd` (which ends up running `prof serve`) and waits for its "serving" line.
fn serve(mut cmd: Command) -> Serving {
    Serving(common::Background::spawn(&mut cmd, "prof: serving"))
}

/// Listening TCP sockets (IPv4 and IPv6) of the network namespace of `pid`, as
/// (address in /proc hex, port).
fn listening(pid: u32) -> Vec<(String, u16)> {
    let mut out = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st …; st 0A is LISTEN
            if fields.get(3) == Some(&"0A") {
                let (addr, port) = fields[1].split_once(':').unwrap();
                out.push((addr.to_string(), u16::from_str_radix(port, 16).unwrap()));
            }
        }
    }
    out
}

/// Without an address, `prof serve` listens on 127.0.0.1:7070 and nowhere else. It runs in a new
/// network namespace (only loopback, and port 7070 surely free), where the kernel's socket table
/// shows every listening socket of the process.
#[test]
fn serve_default_address_is_loopback_only() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI runs as root: a network namespace must work");
        println!("SKIPPED serve_default_address_is_loopback_only: a network namespace needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("unshare");
    // unshare execs sh, which execs prof: the child's pid is prof's.
    cmd.args(["--net", "sh", "-c", "ip link set lo up && exec \"$0\" serve \"$1\""])
        .arg(env!("CARGO_BIN_EXE_prof"))
        .arg(dir.path());
    let s = serve(cmd);
    let text = s.0.stderr.join("\n");
    assert!(text.contains("on http://127.0.0.1:7070/"), "{text}");
    assert!(!text.contains("warning"), "{text}");
    // 127.0.0.1 in /proc/net/tcp is little-endian hex.
    assert_eq!(listening(s.0.child.id()), vec![("0100007F".to_string(), 7070)], "prof's sockets");
}

/// `--allow-remote` with a non-loopback address prints a warning that the profiles are reachable
/// from other machines; on loopback it does not, and without the flag a non-loopback address is a
/// usage error naming it.
#[test]
fn serve_allow_remote_beyond_loopback_warns() {
    let dir = tempfile::tempdir().unwrap();
    let prof = || {
        let mut cmd = common::prof();
        cmd.arg("serve").arg(dir.path());
        cmd
    };

    let mut remote = prof();
    remote.args(["--allow-remote", "--listen", "0.0.0.0:0"]);
    let s = serve(remote);
    let text = s.0.stderr.join("\n");
    assert!(text.contains("prof: warning: listening on 0.0.0.0:"), "{text}");
    assert!(text.contains("reachable from other machines"), "{text}");
    let port: u16 = text.split("on http://0.0.0.0:").nth(1).and_then(|r| r.split('/').next()?.parse().ok()).unwrap();
    assert!(listening(s.0.child.id()).contains(&("00000000".to_string(), port)), "not listening on 0.0.0.0:{port}");
    drop(s);

    let mut local = prof();
    local.args(["--allow-remote", "--listen", "127.0.0.1:0"]);
    let s = serve(local);
    assert!(!s.0.stderr.join("\n").contains("warning"), "{:?}", s.0.stderr);
    drop(s);

    let refused = prof().args(["--listen", "0.0.0.0:0"]).output().unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("--allow-remote") && err.contains("0.0.0.0"), "{err}");
}

/// The address in a "prof: serving … on http://ADDR/" line.
fn served_url(stderr: &[String]) -> String {
    let line = stderr.iter().find(|l| l.starts_with("prof: serving")).expect("a serving line");
    let url = line.split(" on ").nth(1).and_then(|r| r.split(' ').next()).unwrap();
    url.to_string()
}

/// The status line of a GET of `url` (http://127.0.0.1:PORT/), with its own Host header.
fn status_of(url: &str) -> String {
    use std::io::{Read, Write};
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(s, "GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    reply.lines().next().unwrap_or_default().to_string()
}

/// `--open` starts `$BROWSER` (a `%s` in it replaced by the address), else `xdg-open`, with the
/// address the server printed and answers on; with neither in PATH it says so in a note and
/// serves all the same.
#[test]
fn serve_open_launches_a_browser_or_says_none_is_there() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    let opened = bin.path().join("opened");
    let script = |name: &str, args: &str| {
        let path = bin.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\necho \"{args}\" > '{}'\n", opened.display())).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    let prof = |path: &std::path::Path, browser: Option<&str>| {
        let mut cmd = common::prof();
        cmd.arg("serve").arg(dir.path()).args(["--listen", "127.0.0.1:0", "--open"]).env("PATH", path);
        match browser {
            Some(b) => cmd.env("BROWSER", b),
            None => cmd.env_remove("BROWSER"),
        };
        cmd
    };
    let launched = |s: &Serving| {
        let url = served_url(&s.0.stderr);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::read_to_string(&opened).map_or(true, |t| t.trim().is_empty()) {
            assert!(std::time::Instant::now() < deadline, "the browser was not started: {:?}", s.0.stderr);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let got = std::fs::read_to_string(&opened).unwrap();
        std::fs::remove_file(&opened).unwrap();
        (url, got.trim().to_string())
    };

    let empty = tempfile::tempdir().unwrap();
    let s = Serving(common::Background::spawn(&mut prof(empty.path(), None), "prof: note:"));
    let text = s.0.stderr.join("\n");
    assert!(text.contains("no browser to open") && text.contains("xdg-open"), "{text}");
    let url = served_url(&s.0.stderr);
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with('/'), "{url}");
    assert!(!url.ends_with(":0/"), "the port bound is printed, not the one asked: {url}");
    assert_eq!(status_of(&url), "HTTP/1.1 200 OK");
    drop(s);

    script("xdg-open", "$1");
    let s = Serving(common::Background::spawn(&mut prof(bin.path(), Some("")), "prof: opened"));
    let (url, got) = launched(&s);
    assert_eq!(got, url);
    assert!(s.0.stderr.iter().any(|l| l.contains("xdg-open")), "{:?}", s.0.stderr);
    assert_eq!(status_of(&url), "HTTP/1.1 200 OK");
    drop(s);

    script("my-browser", "$1 $2");
    let s = Serving(common::Background::spawn(
        &mut prof(bin.path(), Some("missing-browser:my-browser --new-window=%s")),
        "prof: opened",
    ));
    let (url, got) = launched(&s);
    assert_eq!(got, format!("--new-window={url}"), "%s replaced, the first program found used");
    assert!(s.0.stderr.iter().any(|l| l.contains("my-browser")), "{:?}", s.0.stderr);
}
