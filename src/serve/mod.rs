//! Serving: the local, read-only web UI over an archive directory (`prof serve DIR`).
//!
//! [`App::handle`] maps a request (method, raw path and query, Host header) to a [`Reply`];
//! [`bind`] and [`Server::run`] serve it on a loopback socket. Security, by construction rather
//! than by filtering: the request path is never decoded or joined to a filesystem path (static
//! assets are embedded, archives are reached only through the directory listing), only GET/HEAD are
//! answered, requests whose Host is not this server are refused (DNS rebinding), and every reply
//! carries a Content-Security-Policy that allows no inline or remote script.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod routes;

pub use routes::Reply;

/// The Content-Security-Policy of every reply: scripts, styles and data only from this server,
/// nothing inline, no frames, no plugins.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The UI: the archive directory and the Host headers this server answers to.
#[derive(Clone, Debug)]
pub struct App {
    dir: PathBuf,
    allowed_hosts: Vec<String>,
    /// What earlier requests read from the directory (see [`routes::Cache`]).
    cache: Arc<Mutex<routes::Cache>>,
    /// Held while the interval list is read, so that two requests (or the read at start and the
    /// first page) read each archive once: the second waits and finds the list cached.
    listing: Arc<Mutex<()>>,
}

impl App {
    /// The UI of `dir` answering to requests addressed to `addr` (its IP or `localhost`).
    pub fn new(dir: PathBuf, addr: SocketAddr) -> App {
        let port = addr.port();
        let mut allowed_hosts =
            vec![addr.to_string(), format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}")];
        allowed_hosts.dedup();
        App { dir, allowed_hosts, cache: Arc::default(), listing: Arc::default() }
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
    /// The directory is not there.
    #[error("`{0}` is not a directory")]
    NoDirectory(PathBuf),
}

/// Threads answering requests.
pub const WORKERS: usize = 4;

/// A bound server, ready to run.
pub struct Server {
    inner: tiny_http::Server,
    app: App,
    /// The address actually bound (port 0 picks one).
    pub addr: SocketAddr,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish_non_exhaustive()
    }
}

/// Binds `listen` for the archive directory `dir`. A non-loopback address needs `allow_remote`.
pub fn bind(dir: PathBuf, listen: SocketAddr, allow_remote: bool) -> Result<Server, ServeError> {
    if !dir.is_dir() {
        return Err(ServeError::NoDirectory(dir));
    }
    if !listen.ip().is_loopback() && !allow_remote {
        return Err(ServeError::NotLoopback(listen));
    }
    let inner =
        tiny_http::Server::http(listen).map_err(|e| ServeError::Bind { addr: listen, reason: e.to_string() })?;
    let addr = inner.server_addr().to_ip().unwrap_or(listen);
    Ok(Server { inner, app: App::new(dir, addr), addr })
}

impl Server {
    /// Answers requests until `stop` is set, on [`WORKERS`] threads: a page asks for the
    /// interval list and a range at once, and a slow merge must not hold up the quick requests.
    pub fn run(&self, stop: &Arc<AtomicBool>) {
        std::thread::scope(|scope| {
            // Read the directory's interval list now, before the first page asks for it.
            scope.spawn(|| {
                let _ = self.app.interval_rows();
            });
            for _ in 0..WORKERS {
                scope.spawn(|| self.serve(stop));
            }
        });
    }

    fn serve(&self, stop: &Arc<AtomicBool>) {
        while !stop.load(Ordering::SeqCst) {
            let request = match self.inner.recv_timeout(Duration::from_millis(200)) {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(_) => continue,
            };
            let host = request.headers().iter().find(|h| h.field.equiv("Host")).map(|h| h.value.as_str().to_string());
            let reply = self.app.handle(request.method().as_str(), request.url(), host.as_deref());
            let head = request.method() == &tiny_http::Method::Head;
            let _ = request.respond(reply.into_response(head));
        }
    }
}
