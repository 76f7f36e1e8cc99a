//! Serving: the local, read-only web UI over an archive directory (`prof serve DIR`) or one
//! profile file (`prof serve FILE`, read once at start; [`Source`]).
//!
//! [`App::handle`] maps a request (method, raw path and query, Host header) to a [`Reply`];
//! [`bind`] and [`Server::run`] serve it on a loopback socket. Security, by construction rather
//! than by filtering: the request path is never decoded or joined to a filesystem path (static
//! assets are embedded, archives are reached only through the directory listing, a profile file
//! is read once at start and never opened again), only GET/HEAD are answered, requests whose
//! Host is not this server are refused (DNS rebinding), and every reply carries a
//! Content-Security-Policy that allows no inline or remote script.
//!
//! What a client can make the server hold is bounded ([`Limits`]): a request head of 16 KiB
//! (longer: 431), no request body (413), 10 s to send the head (then the connection is closed),
//! 1,024 connections being read (more close the oldest), 64 requests waiting for the 4 worker
//! threads (more: 503). One thread reads all connections with `poll(2)`, so idle connections and
//! headers that never end cost a file descriptor each, not a thread. Every reply closes its
//! connection.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

mod http;
mod open;
mod processes;
mod routes;
mod source;

pub use open::{open_browser, OpenError};
pub use routes::Reply;
pub use source::Source;

/// The Content-Security-Policy of every reply: scripts, styles and data only from this server,
/// nothing inline, no frames, no plugins.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The UI: what it serves and the Host headers this server answers to.
#[derive(Clone, Debug)]
pub struct App {
    source: Arc<Source>,
    allowed_hosts: Vec<String>,
    /// What earlier requests read from the directory (see [`routes::Cache`]).
    cache: Arc<Mutex<routes::Cache>>,
    /// Held while the interval list is read, so that two requests (or the read at start and the
    /// first page) read each archive once: the second waits and finds the list cached.
    listing: Arc<Mutex<()>>,
    /// What `/api/processes.json` read from the directory.
    processes: Arc<Mutex<processes::Cache>>,
}

impl App {
    /// The UI of `source` answering to requests addressed to `addr` (its IP or `localhost`).
    pub fn new(source: Source, addr: SocketAddr) -> App {
        let port = addr.port();
        let mut allowed_hosts =
            vec![addr.to_string(), format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}")];
        allowed_hosts.dedup();
        App {
            source: Arc::new(source),
            allowed_hosts,
            cache: Arc::default(),
            listing: Arc::default(),
            processes: Arc::default(),
        }
    }

    /// True when `host` (the Host header) names this server.
    pub fn host_allowed(&self, host: Option<&str>) -> bool {
        host.is_some_and(|h| self.allowed_hosts.iter().any(|a| a.eq_ignore_ascii_case(h.trim())))
    }
}

/// Errors of `prof serve`.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A non-loopback address without `--allow-remote`.
    #[error(
        "refusing to listen on `{0}`: it is reachable from other machines and the UI shows your \
         profiles (symbol names, command names); use 127.0.0.1 or pass --allow-remote"
    )]
    NotLoopback(SocketAddr),
    /// The socket could not be bound.
    #[error("cannot listen on `{addr}`: {reason}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The path to serve cannot be opened.
    #[error("cannot serve `{path}` (expected an archive directory or a profile file): {reason}")]
    Open {
        /// The path.
        path: PathBuf,
        /// The OS error.
        reason: std::io::Error,
    },
    /// The file is not a profile prof reads.
    #[error(transparent)]
    Load(#[from] crate::input::LoadError),
}

/// What one client can make the server hold, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Threads answering requests: a page asks for the interval list and a range at once, and a
    /// slow merge must not hold up the quick requests.
    pub workers: usize,
    /// Complete requests waiting for a worker; a request arriving when it is full is answered 503.
    pub queue: usize,
    /// Connections whose request head is being read; a new one beyond this closes the oldest.
    pub connections: usize,
    /// Longest request head (request line and headers) in bytes; a longer one is answered 431.
    pub max_head: usize,
    /// Time from accepting a connection to its complete request head; then it is closed.
    pub read_timeout: Duration,
    /// Time a client has to take a whole reply; then its connection is closed.
    pub write_timeout: Duration,
}

impl Default for Limits {
    /// Browsers' request heads are under 2 KiB and arrive at once; a merge of a day of archives
    /// is the slowest reply to compute, and its download the slowest to take.
    fn default() -> Limits {
        Limits {
            workers: 4,
            queue: 64,
            connections: 1024,
            max_head: 16 * 1024,
            read_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// A bound server, ready to run.
pub struct Server {
    listener: std::net::TcpListener,
    app: App,
    limits: Limits,
    /// The address actually bound (port 0 picks one).
    pub addr: SocketAddr,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).field("limits", &self.limits).finish_non_exhaustive()
    }
}

/// Binds `listen` for `path` with the default [`Limits`]: an archive directory, or a profile
/// file read now ([`Source::open`]). A non-loopback address needs `allow_remote`.
pub fn bind(path: PathBuf, listen: SocketAddr, allow_remote: bool) -> Result<Server, ServeError> {
    bind_with(path, listen, allow_remote, Limits::default())
}

/// [`bind`] with other [`Limits`].
pub fn bind_with(path: PathBuf, listen: SocketAddr, allow_remote: bool, limits: Limits) -> Result<Server, ServeError> {
    if !listen.ip().is_loopback() && !allow_remote {
        return Err(ServeError::NotLoopback(listen));
    }
    let source = Source::open(&path)?;
    let bind_error = |e: std::io::Error| ServeError::Bind { addr: listen, reason: e.to_string() };
    let listener = std::net::TcpListener::bind(listen).map_err(bind_error)?;
    listener.set_nonblocking(true).map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    Ok(Server { listener, app: App::new(source, addr), limits, addr })
}

impl Server {
    /// Answers requests until `stop` is set (and returns within 100 ms of it, once the requests
    /// being answered are): this thread accepts connections and reads requests, and
    /// [`Limits::workers`] threads answer them.
    pub fn run(&self, stop: &Arc<AtomicBool>) {
        let (queue, waiting) = mpsc::sync_channel(self.limits.queue);
        let waiting = Mutex::new(waiting);
        std::thread::scope(|scope| {
            // Read the directory's interval list now, before the first page asks for it.
            scope.spawn(|| {
                let _ = self.app.interval_rows();
            });
            for _ in 0..self.limits.workers.max(1) {
                scope.spawn(|| http::answer_queued(&self.app, &waiting, &self.limits));
            }
            // Returning drops the queue's sender: the workers finish what they answer and return.
            http::accept_and_read(&self.listener, &self.limits, queue, stop);
        });
    }
}
