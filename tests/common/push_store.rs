//! A profile store stand-in for the push tests: an HTTP/1.1 receiver on 127.0.0.1 that reads
//! each request whole (`Content-Length` or chunked), hands it to the test's handler, and
//! answers with the reply the handler returns (`Connection: close`); and what the
//! push tests share: fast retry options and the status script of the retry tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// One request as received.
pub struct Request {
    /// `POST`, ….
    pub method: String,
    /// The request target (path and query).
    pub target: String,
    /// Header names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Request {
    /// The first header of this (lowercase) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// An answer.
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body's content type.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A `text/plain` answer.
    pub fn text(status: u16, text: &str) -> Reply {
        Reply { status, content_type: "text/plain", body: text.as_bytes().to_vec() }
    }
}

/// What the test does with a request: the answer.
pub type Handler = Arc<dyn Fn(Request) -> Reply + Send + Sync>;

/// A receiver listening on 127.0.0.1; [`Receiver::stop`] closes the listener (connections are
/// refused) and [`Receiver::start`] on the same port brings it back.
pub struct Receiver {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Listens on `port` (0: any free port) and answers each request with `handler`.
    pub fn start(port: u16, handler: Handler) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the receiver");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => serve(stream, &handler),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            }
        });
        Receiver { port, stop, thread: Some(thread) }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Closes the listener; returns the port, to start again on.
    pub fn stop(mut self) -> u16 {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().expect("receiver thread");
        }
        self.port
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Reads one HTTP/1.1 request, answers it with the handler's reply.
fn serve(stream: TcpStream, handler: &Handler) {
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header line");
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').expect("header has a colon");
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let mut request = Request { method, target, headers, body: Vec::new() };
    if let Some(len) = request.header("content-length") {
        request.body.resize(len.parse::<usize>().expect("numeric content-length"), 0);
        reader.read_exact(&mut request.body).expect("body");
    } else if request.header("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).unwrap();
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap(), 16).expect("chunk size");
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).unwrap();
            if size == 0 {
                break;
            }
            request.body.extend_from_slice(&chunk[..size]);
        }
    }
    let reply = handler(request);
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reply.status,
        reply.content_type,
        reply.body.len()
    );
    let _ = stream.write_all(&reply.body);
}

/// Push options with short backoff for tests, and `grace` to drain the queue at the end.
pub fn fast(grace: Duration) -> prof::push::PushOptions {
    prof::push::PushOptions {
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        timeout: Duration::from_secs(5),
        grace,
        ..prof::push::PushOptions::default()
    }
}

/// The statuses of the retry tests, by interval index: interval 1 gets 503, then 429, then
/// 200; interval 2 gets 400 (for good); every other 200.
#[derive(Default)]
pub struct RetryScript {
    attempts: BTreeMap<u64, u32>,
}

impl RetryScript {
    /// The status of this attempt to push `interval`.
    pub fn status(&mut self, interval: u64) -> u16 {
        let n = self.attempts.entry(interval).or_default();
        *n += 1;
        match (interval, *n) {
            (1, 1) => 503,
            (1, 2) => 429,
            (2, _) => 400,
            _ => 200,
        }
    }
}
