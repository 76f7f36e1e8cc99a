//! The HTTP/1.x the UI speaks, and no more: one GET or HEAD per connection, no request bodies,
//! `Connection: close` on every reply.
//!
//! One thread ([`accept_and_read`]) accepts connections and reads their request heads, all at
//! once with `poll(2)`, so a connection that sends nothing, or a header that never ends, costs a
//! file descriptor and at most [`Limits::max_head`] bytes, never a thread. A complete head goes
//! to a bounded queue that the [`Limits::workers`] threads ([`answer_queued`]) take from; they
//! run [`App::handle`] and write the reply.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use rustix::event::{poll, PollFd, PollFlags, Timespec};

use super::{App, Limits, Reply};

/// Headers a request may have; browsers send about 15. More is answered 431.
const MAX_HEADERS: usize = 64;

/// How often the accept loop looks at the stop flag and at expired connections when nothing
/// else wakes it: [`Server::run`](super::Server::run) returns within this time after a stop.
const TICK: Timespec = Timespec { tv_sec: 0, tv_nsec: 100_000_000 };

/// Connections accepted per wake-up, so that a flood of new connections does not keep the loop
/// from reading the ones it has.
const ACCEPTS_PER_TICK: usize = 256;

/// A request whose head was read completely, waiting for a worker.
#[derive(Debug)]
pub(super) struct Job {
    stream: TcpStream,
    request: Request,
}

/// What a worker needs of a request head.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Request {
    method: String,
    /// The raw request target (path and query, not decoded).
    target: String,
    host: Option<String>,
}

/// What the bytes received so far make of a request head.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Head {
    /// Not complete yet, and still within the limit.
    Partial,
    /// A complete GET/HEAD/… without a body.
    Complete(Request),
    /// Refused with this status and message; the connection is closed.
    Refused(u16, &'static str),
}

/// Parses the request head at the start of `buf` (`max_head` bytes at most are ever read).
pub(super) fn parse_head(buf: &[u8], max_head: usize) -> Head {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Partial) if buf.len() >= max_head => Head::Refused(431, "request header fields too large"),
        Ok(httparse::Status::Partial) => Head::Partial,
        Ok(httparse::Status::Complete(_)) => complete(&req),
        Err(httparse::Error::TooManyHeaders) => Head::Refused(431, "request header fields too large: too many"),
        Err(httparse::Error::Version) => {
            Head::Refused(505, "HTTP version not supported: this server speaks HTTP/1.0 and HTTP/1.1")
        }
        Err(_) => Head::Refused(400, "bad request: malformed request head"),
    }
}

/// The request of a complete head, or why it is refused: requests carry no body here.
fn complete(req: &httparse::Request<'_, '_>) -> Head {
    let named = |name: &'static str| req.headers.iter().filter(move |h| h.name.eq_ignore_ascii_case(name));
    if named("Transfer-Encoding").next().is_some() {
        return Head::Refused(413, "content too large: this server takes no request bodies");
    }
    let mut lengths = named("Content-Length").map(|h| {
        let digits = std::str::from_utf8(h.value).ok().map(str::trim).filter(|v| v.bytes().all(|b| b.is_ascii_digit()));
        digits.and_then(|v| v.parse::<u64>().ok())
    });
    match (lengths.next(), lengths.next()) {
        (None, _) | (Some(Some(0)), None) => {}
        (Some(Some(_)), None) => return Head::Refused(413, "content too large: this server takes no request bodies"),
        _ => return Head::Refused(400, "bad request: invalid or repeated Content-Length"),
    }
    let mut hosts = named("Host");
    let host = match (hosts.next(), hosts.next()) {
        (None, _) => None,
        (Some(h), None) => match std::str::from_utf8(h.value) {
            Ok(h) => Some(h.to_string()),
            Err(_) => return Head::Refused(400, "bad request: Host is not UTF-8"),
        },
        (Some(_), Some(_)) => return Head::Refused(400, "bad request: more than one Host"),
    };
    match (req.method, req.path) {
        (Some(method), Some(target)) => {
            Head::Complete(Request { method: method.to_string(), target: target.to_string(), host })
        }
        _ => Head::Refused(400, "bad request: malformed request line"),
    }
}

/// A connection whose request head is being read.
struct Reading {
    stream: TcpStream,
    received: Vec<u8>,
    /// When it is closed if its head is not complete ([`Limits::read_timeout`] after accepting).
    deadline: Instant,
}

/// What became of a connection after reading from it.
enum Next {
    Keep(Reading),
    Close,
    Answer(TcpStream, Request),
    Refuse(TcpStream, u16, &'static str),
}

/// Accepts connections and reads their request heads until `stop` is set, queueing each complete
/// request on `queue`. Connections beyond [`Limits::connections`] close the oldest being read;
/// a full queue is answered 503.
pub(super) fn accept_and_read(listener: &TcpListener, limits: &Limits, queue: SyncSender<Job>, stop: &AtomicBool) {
    let mut reading: VecDeque<Reading> = VecDeque::new();
    while !stop.load(Ordering::SeqCst) {
        let ready = wait_readable(listener, &reading);
        let now = Instant::now();
        let mut kept = VecDeque::with_capacity(reading.len());
        for (conn, ready) in reading.into_iter().zip(ready.iter().skip(1)) {
            let next = if *ready { read_more(conn, limits.max_head) } else { Next::Keep(conn) };
            match next {
                Next::Keep(conn) if conn.deadline > now => kept.push_back(conn),
                Next::Keep(_) | Next::Close => {}
                Next::Answer(stream, request) => match queue.try_send(Job { stream, request }) {
                    Ok(()) => {}
                    Err(TrySendError::Full(job)) => refuse(job.stream, 503, "service unavailable: too many requests"),
                    Err(TrySendError::Disconnected(_)) => return,
                },
                Next::Refuse(stream, status, message) => refuse(stream, status, message),
            }
        }
        reading = kept;
        if ready[0] {
            accept_new(listener, limits, &mut reading);
        }
    }
}

/// Waits up to [`TICK`] for the listener (first) or a connection being read to be readable.
fn wait_readable(listener: &TcpListener, reading: &VecDeque<Reading>) -> Vec<bool> {
    let mut fds = Vec::with_capacity(reading.len() + 1);
    fds.push(PollFd::new(listener, PollFlags::IN));
    fds.extend(reading.iter().map(|c| PollFd::new(&c.stream, PollFlags::IN)));
    match poll(&mut fds, Some(&TICK)) {
        Ok(_) => fds.iter().map(|fd| !fd.revents().is_empty()).collect(),
        // EINTR, or (ENOMEM) nothing to do but try again on the next tick.
        Err(_) => vec![false; fds.len()],
    }
}

/// Reads what `conn` has sent (nonblocking) and parses the head so far.
fn read_more(mut conn: Reading, max_head: usize) -> Next {
    let mut chunk = [0u8; 4096];
    loop {
        let room = (max_head - conn.received.len()).min(chunk.len());
        if room == 0 {
            break;
        }
        match conn.stream.read(&mut chunk[..room]) {
            Ok(0) => return Next::Close,
            Ok(n) => conn.received.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Next::Close,
        }
    }
    match parse_head(&conn.received, max_head) {
        Head::Partial => Next::Keep(conn),
        Head::Complete(request) => Next::Answer(conn.stream, request),
        Head::Refused(status, message) => Next::Refuse(conn.stream, status, message),
    }
}

/// Accepts what is waiting, closing the oldest connections being read beyond the limit (and
/// when file descriptors run out).
fn accept_new(listener: &TcpListener, limits: &Limits, reading: &mut VecDeque<Reading>) {
    for _ in 0..ACCEPTS_PER_TICK {
        match listener.accept() {
            Ok((stream, _)) => {
                if stream.set_nonblocking(true).is_err() {
                    continue;
                }
                if reading.len() >= limits.connections.max(1) {
                    reading.pop_front();
                }
                let deadline = Instant::now() + limits.read_timeout;
                reading.push_back(Reading { stream, received: Vec::new(), deadline });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                // Out of file descriptors: the oldest connection being read makes room. With none
                // to close, wait instead of spinning on a listener that stays readable.
                if reading.pop_front().is_none() {
                    std::thread::sleep(Duration::from_millis(10));
                }
                return;
            }
            // The client gave up before being accepted (ECONNABORTED), and the like.
            Err(_) => {}
        }
    }
}

/// Answers `status` on a connection whose request is refused, as far as the socket takes it
/// without waiting, and closes it.
fn refuse(mut stream: TcpStream, status: u16, message: &str) {
    let _ = stream.write_all(&encode(&Reply::error(status, message), false));
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// A worker: answers queued requests until the accept loop is gone.
pub(super) fn answer_queued(app: &App, queue: &Mutex<Receiver<Job>>, limits: &Limits) {
    loop {
        // A worker that panicked while waiting left the receiver as it was.
        let job = queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).recv();
        let Ok(Job { stream, request }) = job else { return };
        let reply = app.handle(&request.method, &request.target, request.host.as_deref());
        let bytes = encode(&reply, request.method == "HEAD");
        let _ = send(&stream, &bytes, Instant::now() + limits.write_timeout);
    }
}

/// Writes `bytes` to `stream` (blocking) unless the client has not taken them by `deadline`.
fn send(mut stream: &TcpStream, mut bytes: &[u8], deadline: Instant) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    while !bytes.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_write_timeout(Some(left))?;
        match stream.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    stream.shutdown(std::net::Shutdown::Write)
}

/// The reply on the wire: status line, the reply's headers, Date, Content-Length, `Connection:
/// close`, and the body unless it answers a HEAD.
pub(super) fn encode(reply: &Reply, head: bool) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (name, value) in reply.headers() {
        out += &format!("{name}: {value}\r\n");
    }
    if reply.status == 405 {
        out += "Allow: GET, HEAD\r\n";
    }
    out += &format!("Date: {}\r\n", httpdate::fmt_http_date(SystemTime::now()));
    // A 204 has no body and must not announce one.
    if reply.status != 204 {
        out += &format!("Content-Length: {}\r\n", reply.body.len());
    }
    out += "Connection: close\r\n\r\n";
    let mut bytes = out.into_bytes();
    if !head {
        bytes.extend_from_slice(&reply.body);
    }
    bytes
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, target: &str, host: Option<&str>) -> Head {
        Head::Complete(Request { method: method.into(), target: target.into(), host: host.map(Into::into) })
    }

    /// GET and HEAD heads of HTTP/1.1 and 1.0 parse; a head cut short waits for more.
    #[test]
    fn http_parse_complete_and_partial_heads() {
        let head = b"GET /api/intervals?from=1 HTTP/1.1\r\nHost: 127.0.0.1:7070\r\nAccept: */*\r\n\r\n";
        assert_eq!(parse_head(head, 16384), request("GET", "/api/intervals?from=1", Some("127.0.0.1:7070")));
        assert_eq!(parse_head(b"HEAD / HTTP/1.0\r\n\r\n", 16384), request("HEAD", "/", None));
        assert_eq!(parse_head(&head[..30], 16384), Head::Partial);
        let post = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(parse_head(post, 16384), request("POST", "/", Some("h")));
    }

    /// Bodies, oversized or malformed heads, repeated Host and other versions are refused.
    #[test]
    fn http_parse_refusals() {
        let status = |bytes: &[u8]| match parse_head(bytes, 64) {
            Head::Refused(status, _) => status,
            other => panic!("{other:?}"),
        };
        assert_eq!(status(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"), 413);
        assert_eq!(status(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 413);
        assert_eq!(status(b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
        assert_eq!(status(b"GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n"), 400);
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
        assert_eq!(status(b"GET / HTTP/2.0\r\n\r\n"), 505);
        assert_eq!(status(b"GET / HTTP/1.1\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), 431);
        assert_eq!(status(b"G\0T / HTTP/1.1\r\n\r\n"), 400);
        let many: String = (0..MAX_HEADERS + 1).map(|i| format!("X-{i}: 1\r\n")).collect();
        match parse_head(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes(), 16384) {
            Head::Refused(431, _) => {}
            other => panic!("{other:?}"),
        }
    }

    /// A reply carries the security headers, Content-Length and `Connection: close`; HEAD leaves
    /// the body out, 204 announces none, 405 says what is allowed.
    #[test]
    fn http_encode_reply() {
        let reply = Reply::error(404, "not found");
        let text = String::from_utf8(encode(&reply, false)).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"), "{text}");
        for h in ["Content-Security-Policy: ", "X-Frame-Options: DENY", "Content-Length: 10", "Connection: close"] {
            assert!(text.contains(h), "{h}: {text}");
        }
        assert!(text.ends_with("\r\n\r\nnot found\n"));
        assert!(String::from_utf8(encode(&reply, true)).unwrap().ends_with("Connection: close\r\n\r\n"));
        let no_content = Reply { status: 204, body: Vec::new(), ..Reply::error(204, "") };
        assert!(!String::from_utf8(encode(&no_content, false)).unwrap().contains("Content-Length"));
        assert!(String::from_utf8(encode(&Reply::error(405, "no"), false)).unwrap().contains("Allow: GET, HEAD\r\n"));
    }
}
