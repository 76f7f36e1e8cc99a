//! `prof serve` under hostile clients: a thousand connections held open (idle, or sending a
//! header that never ends) neither delay a normal request nor add threads, a 1 MiB header is
//! refused without being kept in memory, request bodies are refused, and a head that takes too
//! long is cut off.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `prof serve` over an empty directory, in its own process so that its threads and memory are
/// its own; killed on drop.
struct Served {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_binary() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let mut child = common::prof()
        .args(["serve", dir.path().to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
    // "prof: serving `DIR` on http://127.0.0.1:PORT/ (Ctrl-C to stop)"
    let addr = line.split("http://").nth(1).and_then(|rest| rest.split('/').next()).unwrap_or_default();
    let addr = addr.parse().unwrap_or_else(|_| panic!("no address in {line:?}"));
    Served { child, addr, _dir: dir }
}

/// A field of `/proc/PID/status` (`Threads`, `VmRSS` in kB).
fn status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(&format!("{field}:"))).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Sends `request` and returns the status of the reply, or None if the connection was closed
/// (or reset) without one.
fn status_of(addr: SocketAddr, request: &[u8]) -> Option<u16> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // The server may refuse and close before all of a large request is sent.
    let _ = s.write_all(request);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let head = String::from_utf8_lossy(&buf);
    head.strip_prefix("HTTP/1.1 ").and_then(|rest| rest.get(..3)).and_then(|code| code.parse().ok())
}

/// True when the server closes (or resets) `stream` within `wait`.
fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    match stream.read(&mut [0u8; 1]) {
        Ok(n) => n == 0,
        Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
    }
}

fn get(addr: SocketAddr, path: &str) -> Option<u16> {
    status_of(addr, format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
}

/// Raises this process's open-file limit (inherited by the server it starts) to hold `n`
/// connections on both ends.
fn allow_open_files(n: u64) {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit read and write the one struct passed, which lives on the stack.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur < n {
            lim.rlim_cur = n.min(lim.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        }
    }
    assert!(lim.rlim_cur >= n, "open files limited to {} (hard limit)", lim.rlim_cur);
}

const HELD: usize = 1000;
/// Of the held connections, how many send a header one byte at a time and never end it.
const SLOW: usize = 50;
/// The bound asserted on a normal request's latency while the connections are held: the
/// requirement is 100 ms; the bound leaves room for a machine busy with other builds.
const LATENCY_BOUND: Duration = Duration::from_millis(500);

/// A thousand connections held open (most idle, some sending a header that never ends) leave a
/// normal request answered at once, and the server's threads stay a handful.
#[test]
fn serve_limits_many_connections_bounded_threads() {
    allow_open_files(3 * HELD as u64);
    let served = serve_binary();
    let pid = served.child.id();
    assert_eq!(get(served.addr, "/"), Some(200));
    let threads_idle = status_field(pid, "Threads");

    let mut held: Vec<TcpStream> = (0..HELD).map(|_| TcpStream::connect(served.addr).unwrap()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let slow: Vec<TcpStream> = held.drain(..SLOW).collect();
    let dripping = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut slow = slow;
            for s in &mut slow {
                let _ = s.write_all(b"GET / HTTP/1.1\r\nX-Never-Ends: ");
            }
            while !stop.load(Ordering::SeqCst) {
                for s in &mut slow {
                    let _ = s.write_all(b"a");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    // Let the server accept them all.
    std::thread::sleep(Duration::from_millis(500));

    let mut latencies = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        assert_eq!(get(served.addr, "/app.css"), Some(200));
        latencies.push(t.elapsed());
    }
    let threads_held = status_field(pid, "Threads");
    stop.store(true, Ordering::SeqCst);
    dripping.join().unwrap();
    latencies.sort();
    println!(
        "{HELD} connections held ({SLOW} sending a header that never ends): normal request median {:?}, \
         max {:?}; server threads {threads_idle} idle, {threads_held} while held",
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1],
    );
    assert!(latencies[latencies.len() - 1] < LATENCY_BOUND, "{latencies:?}");
    assert!(threads_held <= threads_idle + 2 && threads_held <= 16, "{threads_idle} → {threads_held} threads");
    // The idle connections were still open on the server's side: the request was answered
    // while they were held, not after they were dropped.
    assert!(!closed_within(&mut held[HELD - SLOW - 1], Duration::from_millis(50)), "held connections closed early");
}

/// A request with a 1 MiB header is answered 431 (or its connection closed) and the server's
/// memory does not grow by it.
#[test]
fn serve_limits_huge_header_refused_without_memory() {
    let served = serve_binary();
    let pid = served.child.id();
    assert_eq!(get(served.addr, "/"), Some(200));
    let rss_before = status_field(pid, "VmRSS");
    let huge = format!("GET / HTTP/1.1\r\nHost: {}\r\nX-Huge: {}\r\n\r\n", served.addr, "a".repeat(1 << 20));
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(status_of(served.addr, huge.as_bytes()));
    }
    let rss_after = status_field(pid, "VmRSS");
    println!("ten requests with a 1 MiB header: {statuses:?}; server RSS {rss_before} kB → {rss_after} kB");
    assert!(statuses.iter().all(|s| matches!(s, Some(431) | None)), "{statuses:?}");
    assert!(statuses.contains(&Some(431)), "never answered 431: {statuses:?}");
    assert!(rss_after < rss_before + 4 * 1024, "RSS grew from {rss_before} kB to {rss_after} kB");
    assert_eq!(get(served.addr, "/"), Some(200), "still serving");
}

/// The library's server with short limits, on a thread; stopped on drop.
struct InProcess {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_in_process(limits: prof::serve::Limits) -> InProcess {
    let dir = tempfile::tempdir().unwrap();
    let server =
        prof::serve::bind_with(dir.path().to_path_buf(), "127.0.0.1:0".parse().unwrap(), false, limits).unwrap();
    let addr = server.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&stop);
    let thread = Some(std::thread::spawn(move || server.run(&s)));
    InProcess { addr, stop, thread, _dir: dir }
}

/// Requests with a body are refused (413), a malformed length is 400, and a POST without a
/// body still gets the UI's 405.
#[test]
fn serve_limits_request_bodies_refused() {
    let ui = serve_in_process(prof::serve::Limits::default());
    let addr = ui.addr;
    let post =
        |extra: &str| status_of(addr, format!("POST /api/intervals HTTP/1.1\r\nHost: {addr}\r\n{extra}").as_bytes());
    assert_eq!(post("Content-Length: 5\r\n\r\nhello"), Some(413));
    assert_eq!(post("Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), Some(413));
    assert_eq!(post("Content-Length: five\r\n\r\n"), Some(400));
    assert_eq!(post("Content-Length: 0\r\n\r\n"), Some(405));
    assert_eq!(status_of(addr, format!("GET / HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes()), Some(200));
    assert_eq!(status_of(addr, b"GET / HTTP/2.0\r\n\r\n"), Some(505));
}

/// A connection that sends nothing, or a header that never ends, is closed once the read
/// timeout has passed; a normal request is served meanwhile.
#[test]
fn serve_limits_slow_header_closed_after_timeout() {
    let timeout = Duration::from_secs(1);
    let ui = serve_in_process(prof::serve::Limits { read_timeout: timeout, ..Default::default() });
    let mut idle = TcpStream::connect(ui.addr).unwrap();
    let mut slow = TcpStream::connect(ui.addr).unwrap();
    let t = Instant::now();
    slow.write_all(b"GET / HTTP/1.1\r\nX-Never-Ends: ").unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let closed_after = loop {
        assert!(t.elapsed() < 10 * timeout, "still open after {:?}", t.elapsed());
        if slow.write_all(b"a").is_err() {
            break t.elapsed();
        }
        match slow.read(&mut [0u8; 64]) {
            Ok(_) => break t.elapsed(),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => break t.elapsed(),
        }
    };
    println!("a header that never ends: closed after {closed_after:?} (read timeout {timeout:?})");
    assert!(closed_after >= timeout && closed_after < 3 * timeout, "{closed_after:?}");
    assert_eq!(get(ui.addr, "/"), Some(200));
    assert!(closed_within(&mut idle, 2 * timeout), "idle connection still open");
    assert!(t.elapsed() < 3 * timeout, "idle connection closed after {:?}", t.elapsed());
}

/// Beyond the connections it reads at once, a new connection closes the oldest one being read,
/// and is itself answered.
#[test]
fn serve_limits_oldest_connection_closed_beyond_limit() {
    let ui = serve_in_process(prof::serve::Limits { connections: 2, ..Default::default() });
    let mut oldest = TcpStream::connect(ui.addr).unwrap();
    let _second = TcpStream::connect(ui.addr).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(get(ui.addr, "/"), Some(200));
    assert!(closed_within(&mut oldest, Duration::from_secs(2)), "oldest connection still open");
}
