//! `prof top` as a person uses it: the full-screen view run in a pseudo-terminal (tmux, whose
//! screen is read back with capture-pane and typed into with send-keys), on a live workload, a
//! command, and an archive directory being written; `--once` for scripts; hostile names on the
//! screen; the terminal restored on exit.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{prof, workload};
use prof::profile::{Frame, FrameKind, Metadata, ProfileBuilder};

/// How long the view may take to show what a test waits for: BPF loading and the first
/// interval take a few seconds, more on a loaded machine.
const SCREEN_TIMEOUT: Duration = Duration::from_secs(40);

/// A tmux server of the test's own (its own socket), running one pane of 160×40.
struct Tmux {
    socket: String,
    /// Holds `raw` (every byte the program wrote to the terminal), `stty` (the terminal's
    /// modes after it exited) and `status` (its exit status).
    dir: tempfile::TempDir,
}

impl Tmux {
    /// Runs `command` (a shell command line) in a new pane; the pane stays after it exits, so
    /// its exit status can be read, and the terminal's modes are saved then.
    fn start(name: &str, command: &str) -> Tmux {
        let socket = format!("prof-test-{}-{name}", std::process::id());
        let tmux = Tmux { socket, dir: tempfile::tempdir().unwrap() };
        let dir = tmux.dir.path().display().to_string();
        let script = format!("sleep 0.3; {command}; s=$?; stty -a > {dir}/stty; echo $s > {dir}/status.tmp; mv {dir}/status.tmp {dir}/status");
        let out = tmux
            .cmd()
            .args(["-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "160", "-y", "40"])
            .args(["sh", "-c", &script])
            .args([";", "set-option", "-g", "remain-on-exit", "on"])
            .args([";", "set-option", "-g", "status", "off"])
            .args([";", "pipe-pane", "-t", "t", &format!("cat > {dir}/raw")])
            .output()
            .expect("tmux runs (scripts/setup installs it)");
        assert!(out.status.success(), "tmux: {}", String::from_utf8_lossy(&out.stderr));
        tmux
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]).stdin(Stdio::null());
        c
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().expect("tmux runs");
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The screen as text.
    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "t"])
    }

    /// A tmux format of the pane (`#{alternate_on}`, …).
    fn pane(&self, format: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", "t", format]).trim().to_string()
    }

    /// Types keys (tmux key names: `Enter`, `Escape`, or literal text).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Waits until the screen satisfies `pred`, and returns it; fails showing the last screen.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + SCREEN_TIMEOUT;
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            assert!(Instant::now() < deadline, "the screen never showed {what}:\n{screen}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Checks that the program left the terminal as it found it: the alternate screen left
    /// and the cursor shown after the last time they were entered and hidden (in the bytes it
    /// wrote), canonical mode and echo back on (the modes after it exited).
    fn assert_restored(&self) {
        let raw = std::fs::read(self.dir.path().join("raw")).unwrap();
        let last = |seq: &[u8]| raw.windows(seq.len()).rposition(|w| w == seq);
        assert!(last(b"\x1b[?1049h").is_some(), "the view used the alternate screen");
        assert!(last(b"\x1b[?1049l") > last(b"\x1b[?1049h"), "the alternate screen is left");
        assert!(last(b"\x1b[?25h") > last(b"\x1b[?25l"), "the cursor is shown again");
        let stty = std::fs::read_to_string(self.dir.path().join("stty")).unwrap();
        let modes: Vec<&str> = stty.split([' ', ';', '\n']).collect();
        assert!(modes.contains(&"icanon") && modes.contains(&"echo"), "raw mode is left:\n{stty}");
        assert_eq!(self.pane("#{alternate_on}"), "0");
    }

    /// Waits for the pane's program to exit; returns its exit status.
    fn wait_exit(&self) -> String {
        let deadline = Instant::now() + SCREEN_TIMEOUT;
        loop {
            if let Ok(status) = std::fs::read_to_string(self.dir.path().join("status")) {
                return status.trim().to_string();
            }
            assert!(Instant::now() < deadline, "prof top did not exit:\n{}", self.screen());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().args(["kill-server"]).stderr(Stdio::null()).status();
    }
}

/// A table row of the screen or of `--once`: (self %, total %, function, process).
fn row<'a>(screen: &'a str, function: &str) -> Option<(f64, f64, &'a str)> {
    screen.lines().find_map(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        if cols.len() < 6 || cols[3] != function {
            return None;
        }
        let pct = |s: &str| s.trim_end_matches('%').parse::<f64>().ok();
        Some((pct(cols[0])?, pct(cols[1])?, cols[5]))
    })
}

/// The functions of the table's rows, top to bottom.
fn functions(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .filter(|l| l.split_whitespace().next().is_some_and(|c| c.ends_with('%')))
        .filter_map(|l| l.split_whitespace().nth(3))
        .collect()
}

/// The `prof` binary under test, for tmux's command lines.
fn prof_bin() -> &'static str {
    env!("CARGO_BIN_EXE_prof")
}

/// The view on a command (`-- split`): its hot functions with plausible shares, sorting by
/// self and total, pausing, a regex filter, zooming into a function's callers and callees and back, and
/// q leaving the alternate screen with the cursor shown and exit status 0.
#[test]
fn top_tui_command_keys_zoom_and_restore() {
    let _m = bpf_test!("top_tui_command_keys_zoom_and_restore");
    let split = workload("split");
    let tmux = Tmux::start("cmd", &format!("{} top -d 1 -- {} 60", prof_bin(), split.display()));
    let screen = tmux.wait_for("leaf_a with a share", |s| row(s, "leaf_a").is_some_and(|r| r.1 > 0.0));
    assert!(screen.starts_with("prof top · ") && screen.contains("sort: self"), "{screen}");
    assert_eq!(tmux.pane("#{alternate_on}"), "1");
    // Only the command is sampled: its three leaves split it 50/30/20; let the window fill.
    std::thread::sleep(Duration::from_secs(3));
    let screen = tmux.screen();
    let (_, a, comm) = row(&screen, "leaf_a").unwrap();
    let (_, b, _) = row(&screen, "leaf_b").unwrap();
    println!("leaf_a {a}% leaf_b {b}% total");
    assert!((35.0..=65.0).contains(&a) && (15.0..=45.0).contains(&b) && a > b, "{screen}");
    assert_eq!(comm, "w_split");
    // By self, the top row is the spinning code; by total, a function every stack passes.
    let (spin_self, _, _) = row(&screen, functions(&screen)[0]).unwrap();
    assert!(spin_self > 80.0, "{screen}");
    // Paused, the table stays as it was while intervals keep coming (2 s: two refreshes).
    tmux.keys(&["p"]);
    let paused = tmux.wait_for("the pause", |s| s.contains("PAUSED"));
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(tmux.screen(), paused, "a paused view does not change");
    tmux.keys(&["p"]);
    tmux.wait_for("the pause's end", |s| !s.contains("PAUSED") && s != paused);
    tmux.keys(&["t"]);
    let screen = tmux.wait_for("sort by total", |s| s.contains("sort: total"));
    assert!(row(&screen, functions(&screen)[0]).unwrap().1 > 99.0, "{screen}");
    tmux.keys(&["s"]);
    tmux.wait_for("sort by self", |s| s.contains("sort: self"));
    // A filter: leaves only, by function name.
    tmux.keys(&["/", "leaf_", "Enter"]);
    let screen = tmux.wait_for("the filter", |s| s.contains("filter: /leaf_/"));
    let mut shown = functions(&screen);
    shown.sort();
    assert_eq!(shown, ["leaf_a", "leaf_b", "leaf_c"], "{screen}");
    // Zoom into the first (selected) leaf: dispatch calls it, it calls the spinning code.
    tmux.keys(&["t", "Enter"]);
    let screen = tmux.wait_for("the zoom", |s| s.contains("Callers above, callees below"));
    let lines: Vec<&str> = screen.lines().collect();
    let at = |prefix: &str| lines.iter().position(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("{screen}"));
    assert!(lines[at("caller")].contains("dispatch") && lines[at("▶")].contains("leaf_a"), "{screen}");
    assert!(at("caller") < at("▶") && at("▶") < at("callee"), "{screen}");
    tmux.keys(&["Escape"]);
    tmux.wait_for("the table again", |s| s.contains("Function") && !s.contains("Callers above"));
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(), "0", "{}", tmux.screen());
    tmux.assert_restored();
}

/// With a workload running, system-wide `--once` prints one table in which the workload's
/// functions appear under its process name; with `-p` only that process is in the table, and
/// its leaves split it as the workload does.
#[test]
fn top_once_system_wide_and_pid() {
    let _m = bpf_test!("top_once_system_wide_and_pid");
    let mut split = Command::new(workload("split")).arg("30").spawn().expect("split runs");
    let out = prof().args(["top", "--once", "-d", "3", "--top", "1000000"]).output().expect("prof runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.starts_with("  self%  total%   samples  function"), "{text}");
    let mine: Vec<&str> = text.lines().filter(|l| l.contains("w_split")).collect();
    let (_, run_total, comm) = row(&text, "dispatch").unwrap_or_else(|| panic!("{mine:#?}"));
    println!("system-wide: dispatch {run_total}% total");
    assert!(run_total > 5.0 && comm == "w_split", "{mine:#?}");

    let pid = split.id().to_string();
    let out = prof().args(["top", "--once", "-d", "3", "--top", "1000000", "-p", &pid]).output().expect("prof runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    split.kill().ok();
    split.wait().ok();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.lines().skip(1).all(|l| l.ends_with(" w_split")), "only the process given:\n{text}");
    let (_, a, _) = row(&text, "leaf_a").unwrap_or_else(|| panic!("{text}"));
    println!("-p: leaf_a {a}% total");
    assert!((30.0..=70.0).contains(&a), "{text}");
}

/// `prof top DIR` follows an archive directory a continuous recording is writing: the view
/// shows the recorded workload's functions as intervals appear, and `--once` prints the
/// newest interval.
#[test]
fn top_follows_a_continuous_recording() {
    let _m = bpf_test!("top_follows_a_continuous_recording");
    let dir = tempfile::tempdir().unwrap();
    let archives = dir.path().join("archives");
    let split = workload("split");
    let rec = common::Background::start(&[
        "record".as_ref(),
        "--continuous".as_ref(),
        "--dir".as_ref(),
        archives.as_os_str(),
        "--interval".as_ref(),
        "1s".as_ref(),
        "--".as_ref(),
        split.as_os_str(),
        "20".as_ref(),
    ]);
    let tmux = Tmux::start("dir", &format!("{} top -d 1 {}", prof_bin(), archives.display()));
    let screen = tmux.wait_for("leaf_a from the archives", |s| row(s, "leaf_a").is_some());
    assert!(screen.contains("w_split (+1 arg)"), "the recording's target is shown:\n{screen}");
    // Intervals keep arriving: the header's sample count is of the newest one.
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(), "0");
    let out = prof().args(["top".as_ref(), "--once".as_ref(), archives.as_os_str()]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success() && row(&text, "leaf_a").is_some(), "{text}");
    rec.signal(libc::SIGINT);
    let (status, stderr) = rec.finish();
    assert!(status.success(), "{stderr}");
}

/// Writes one archive whose function, module and process names carry terminal escapes (clear
/// the screen, set the window title) into `dir`, as a recorder would name it.
fn write_hostile_archive(dir: &Path) {
    let mut b = ProfileBuilder::new(Metadata { target: "evil\x1b]2;pwned\x07".into(), ..Metadata::default() });
    let main = b.frame(Frame::new("main", "app", FrameKind::User));
    let evil = b.frame(Frame::new("hot\x1b[2J\u{9b}31m", "lib\x1b[5mx.so", FrameKind::User));
    let s = b.stack(vec![main, evil]);
    b.add(s, 7, "comm\x1b]2;pwned\x07", 400);
    // More rows than the screen holds, f000 the hottest and f099 the coldest.
    for i in 0..100u64 {
        let f = b.frame(Frame::new(format!("f{i:03}"), "app", FrameKind::User));
        let s = b.stack(vec![main, f]);
        b.add(s, 7, "app", 200 - i);
    }
    let now = prof::profile::unix_ns(std::time::SystemTime::now());
    let name = prof::store::archive_name(now, 1, 0);
    prof::archive::write_file(&b.finish(), &dir.join(name)).unwrap();
}

/// Escape sequences in function, module, process and target names are shown escaped: the
/// screen shows them as text, the pane's title is not changed, and `--once` prints no escape.
/// End and Home scroll a table longer than the screen.
#[test]
fn top_shows_hostile_names_escaped() {
    let dir = tempfile::tempdir().unwrap();
    write_hostile_archive(dir.path());
    let tmux = Tmux::start("hostile", &format!("{} top {}", prof_bin(), dir.path().display()));
    let title = tmux.pane("#{pane_title}");
    let screen = tmux.wait_for("the hostile row", |s| s.contains(r"hot\x1b[2J\u{9b}31m"));
    assert!(screen.contains(r"comm\x1b]2;pwned\x07") && screen.contains(r"evil\x1b]2;pwned\x07"), "{screen}");
    assert!(screen.contains(r"lib\x1b[5mx.so"), "{screen}");
    assert_eq!(tmux.pane("#{pane_title}"), title);
    assert!(screen.contains("f000") && !screen.contains("f099"), "{screen}");
    tmux.keys(&["End"]);
    tmux.wait_for("the last row", |s| s.contains("f099") && !s.contains("f000"));
    tmux.keys(&["Home"]);
    tmux.wait_for("the first row", |s| s.contains("f000") && !s.contains("f099"));
    // Ctrl-C quits too (raw mode reads it as a key), and restores the terminal.
    tmux.keys(&["C-c"]);
    assert_eq!(tmux.wait_exit(), "0");
    tmux.assert_restored();

    let out = prof().args(["top".as_ref(), "--once".as_ref(), dir.path().as_os_str()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\x1b') && !text.contains('\u{9b}'), "{text:?}");
    assert!(text.contains(r"hot\x1b[2J\u{9b}31m"), "{text}");
}

/// Without a terminal (stdout a pipe), the full-screen view is refused with a pointer to
/// `--once`, before anything is sampled; a directory without archives is named; -p with a
/// command is a usage error.
#[test]
fn top_needs_a_terminal_or_once() {
    let out = prof().arg("top").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs a terminal") && err.contains("prof top --once"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let out = prof().args(["top".as_ref(), "--once".as_ref(), dir.path().as_os_str()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no archive yet"));
    let out = prof().args(["top", "--once", "-p", "1", "--", "true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}
