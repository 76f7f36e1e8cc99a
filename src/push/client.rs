//! One push: the store's URL, the `/ingest` request of one interval, and sending it with
//! timeouts, classified into accepted, retry later, or rejected for good.
//!
//! The request is what Pyroscope's `/ingest` handler parses (grafana/pyroscope
//! `pkg/ingester/pyroscope/ingest_handler.go`, `parseInputMetadataFromRequest` and
//! `readInputRawDataFromRequest`, and `pkg/og/convert/pprof/profile.go`, `loadPprofFromForm`),
//! and what its Go SDK sends (grafana/pyroscope-go `upstream/remote/remote.go`):
//!
//! - `POST <base>/ingest?name=<app>{k=v,…}&from=<unix s>&until=<unix s>&sampleRate=<Hz>&spyName=prof`.
//!   `name` is parsed by `labelset.Parse`: the application name becomes the `service_name`
//!   label, the rest are labels. `from`/`until` go through `attime.Parse` (digits: Unix
//!   seconds). The profile type (`process_cpu`) comes from the pprof's sample types, not from
//!   the name, so no `.cpu` suffix is appended (it would become part of `service_name`).
//! - Body `multipart/form-data` with the gzip'd pprof as a *file* part named `profile` (Go's
//!   `ReadForm` files only parts that have a filename; a part without one is silently ignored
//!   and the push "succeeds" with no profile).
//! - No `format` parameter: the handler checks `format` before the content type, and
//!   `format=pprof` makes it read the whole body as raw pprof, which a multipart body is not.
//!   A raw body with `format=pprof` works too (pyroscope-dotnet sends that); the multipart form
//!   is what the Go SDK sends (and Grafana Alloy's `pyroscope.receive_http` forwards as is), so
//!   it is the best-trodden path.
//!
//! Only the profile is sent (RELIABILITY #36/#39): the pprof's comments would carry the host
//! name, kernel, target (a command line) and notes, so those are cleared first.

use std::io::Read;
use std::time::Duration;

use crate::output::pprof;
use crate::profile::Profile;

use super::labels::Series;
use super::Protocol;

/// `spyName` of every push: which agent produced the profile (Pyroscope's `pyroscope_spy` label).
pub const SPY_NAME: &str = "prof";

/// Bytes of a rejection's response body kept for the log line: enough for Pyroscope's error
/// messages, little enough that a proxy's HTML error page does not flood the terminal.
const BODY_EXCERPT_BYTES: u64 = 512;

/// Bytes of a success response's body read for a refusal (an OTLP `partial_success`): its
/// message is meant for a person, a few hundred bytes.
const ACCEPTED_BODY_BYTES: u64 = 64 * 1024;

/// The store's base URL: `http[s]://[user[:password]@]host[:port][/path]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The URL requests are posted to: `scheme://host[:port]/path` and the protocol's path
    /// (`/ingest`, `/v1development/profiles`), without credentials.
    target: String,
    /// `scheme://host[:port]/path` for messages, without credentials.
    display: String,
    /// `Authorization` header value from the URL's user info (`Basic …`).
    authorization: Option<String>,
}

// Not derived: the credentials must never be printed.
impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.display)
            .field("credentials", &self.authorization.is_some())
            .finish()
    }
}

impl Endpoint {
    /// Parses the `--push` URL: `http` or `https`, a host, an optional port and path prefix
    /// (a gateway that serves Pyroscope under `/pyroscope`), no query or fragment. A trailing
    /// `/ingest` is accepted and not doubled. User info becomes HTTP basic authentication
    /// (Grafana Cloud's user id and token) and is never printed.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        Endpoint::parse_for(Protocol::Pyroscope, url)
    }

    /// Parses the URL of a store that speaks `protocol`, as [`Endpoint::parse`] does, with that
    /// protocol's path ([`Protocol::path`]) appended unless the URL already ends in it.
    pub fn parse_for(protocol: Protocol, url: &str) -> Result<Endpoint, String> {
        let suffix = protocol.path();
        let url = url.trim();
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(format!("`{}`: expected a URL like http://pyroscope:4040", redact(url)));
        };
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!("`{}`: only http:// and https:// are supported", redact(url)));
        }
        if rest.contains(['?', '#']) {
            return Err(format!("`{}`: give the store's base URL without a query; prof adds {suffix}", redact(url)));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if host.is_empty() || host.starts_with(':') {
            return Err(format!("`{}`: the URL has no host", redact(url)));
        }
        if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("`{}`: the host contains spaces or control characters", redact(url)));
        }
        let port = match host.strip_prefix('[') {
            // An IPv6 literal: `[addr]` or `[addr]:port`.
            Some(v6) => match v6.split_once(']') {
                Some((_, "")) => None,
                Some((_, p)) => Some(p.strip_prefix(':').unwrap_or(p)),
                None => return Err(format!("`{}`: unclosed `[` in the host", redact(url))),
            },
            None => host.split_once(':').map(|(_, p)| p),
        };
        if let Some(port) = port {
            if port.parse::<u16>().is_err() {
                return Err(format!("`{}`: bad port `{port}`", redact(url)));
            }
        }
        let path = path.trim_end_matches('/');
        let path = path.strip_suffix(suffix).unwrap_or(path);
        let display = format!("{scheme}://{host}{path}");
        let authorization = userinfo.map(|u| {
            let (user, password) = u.split_once(':').unwrap_or((u, ""));
            let decode = |s: &str| percent_decode(s);
            format!("Basic {}", base64(format!("{}:{}", decode(user), decode(password)).as_bytes()))
        });
        Ok(Endpoint { target: format!("{display}{suffix}"), display, authorization })
    }

    /// The URL without credentials, for messages.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The URL requests are posted to (without credentials).
    pub fn target(&self) -> &str {
        &self.target
    }
}

/// `url` with any user info replaced by `***`, for error messages.
pub fn redact(url: &str) -> String {
    let start = url.find("://").map_or(0, |s| s + 3);
    let authority_end = url[start..].find('/').map_or(url.len(), |e| start + e);
    match url[start..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..start], &url[start + at..]),
        None => url.to_string(),
    }
}

/// Decodes `%XX` escapes (user info may escape `:` and `@`); invalid escapes stay as they are.
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Standard base64 with padding (RFC 4648), for the basic-auth header.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// One encoded request: an `/ingest` request, or an OTLP export.
#[derive(Clone, Debug)]
pub struct IngestRequest {
    /// The full URL with the query.
    pub url: String,
    /// `multipart/form-data; boundary=…` (Pyroscope), `application/x-protobuf` (OTLP).
    pub content_type: String,
    /// The `Content-Encoding` of the body (`gzip`), if any.
    pub content_encoding: Option<&'static str>,
    /// The body.
    pub body: Vec<u8>,
    /// How a 2xx response may still refuse the request (OTLP's `partial_success`); `None`:
    /// any 2xx is success.
    pub check_accepted: Option<AcceptCheck>,
    /// Which error statuses are worth retrying ([`retry_pyroscope`], [`retry_otlp`]).
    pub retryable: fn(u16) -> bool,
}

/// Pyroscope's: 408, 429 and every 5xx may pass.
pub fn retry_pyroscope(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

/// OTLP/HTTP's: only 429, 502, 503 and 504 are retryable; any other error status is final.
pub fn retry_otlp(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// A refusal inside a success response: a 2xx whose body has `content_type` is read and
/// passed to `refusal`; `Some(reason)` makes the push rejected.
#[derive(Clone, Copy, Debug)]
pub struct AcceptCheck {
    /// The content type of bodies that can hold a refusal.
    pub content_type: &'static str,
    /// The refusal in such a body, if any.
    pub refusal: fn(&[u8]) -> Option<String>,
}

/// Removes everything but the profile itself: host name, kernel, target (a command line for
/// `record -- CMD`) and notes would otherwise travel as pprof comments.
fn scrub(profile: &mut Profile) {
    let meta = &mut profile.meta;
    meta.hostname.clear();
    meta.kernel_release.clear();
    meta.target.clear();
    meta.notes.clear();
    meta.cpus.clear();
    meta.unwind = Default::default();
}

/// The `/ingest` request of one interval's profile (whose metadata is scrubbed of all but the
/// profile's own: host name, kernel, target and notes are cleared).
pub fn ingest_request(endpoint: &Endpoint, series: &Series, profile: &mut Profile) -> std::io::Result<IngestRequest> {
    scrub(profile);
    let meta = &profile.meta;
    let from = meta.start_unix_ns / 1_000_000_000;
    let until = (meta.end_unix_ns / 1_000_000_000).max(from);
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("name", &series.name_param());
    query.append_pair("from", &from.to_string());
    query.append_pair("until", &until.to_string());
    if meta.frequency_hz > 0 {
        query.append_pair("sampleRate", &meta.frequency_hz.to_string());
    }
    query.append_pair("spyName", SPY_NAME);
    let url = format!("{}?{}", endpoint.target, query.finish());

    let mut pprof_bytes = Vec::new();
    pprof::write(profile, &mut pprof_bytes)?;
    let (content_type, body) = multipart(&pprof_bytes);
    Ok(IngestRequest {
        url,
        content_type,
        content_encoding: None,
        body,
        check_accepted: None,
        retryable: retry_pyroscope,
    })
}

/// A multipart/form-data body (RFC 7578) with `pprof` as the file part `profile`; returns the
/// content type (with the boundary) and the body.
pub fn multipart(pprof: &[u8]) -> (String, Vec<u8>) {
    let mut rng = fastrand::Rng::new();
    // A boundary must not occur in the content; 24 random hex digits practically never do,
    // and the check makes sure.
    let boundary = loop {
        let b = format!("prof-{:016x}{:08x}", rng.u64(..), rng.u32(..));
        if !pprof.windows(b.len()).any(|w| w == b.as_bytes()) {
            break b;
        }
    };
    let mut body = Vec::with_capacity(pprof.len() + 256);
    body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    body.extend_from_slice(b"Content-Disposition: form-data; name=\"profile\"; filename=\"profile.pprof\"\r\n");
    body.extend_from_slice(b"Content-Type: application/octet-stream\r\n\r\n");
    body.extend_from_slice(pprof);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// What became of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: stored.
    Accepted,
    /// Worth retrying: no connection, a timeout, or a status the protocol says may pass
    /// ([`IngestRequest::retryable`]). The reason.
    Retry(String),
    /// The store refused this profile for good (other 4xx, or a redirect). The reason.
    Rejected(String),
}

/// The HTTP client of the pusher: one agent (connection reuse), timeouts on everything.
pub struct Client {
    agent: ureq::Agent,
    endpoint: Endpoint,
}

impl Client {
    /// A client for `endpoint`; `timeout` bounds connecting and each whole request, so a
    /// hung store cannot hold the push thread. Proxies come from the usual environment
    /// variables (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`).
    pub fn new(endpoint: Endpoint, timeout: Duration) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // A redirected POST would lose its body or its credentials; report it instead.
            .max_redirects(0)
            .timeout_connect(Some(timeout))
            .timeout_global(Some(timeout))
            .user_agent(concat!("prof/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Client { agent, endpoint }
    }

    /// The store's endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Sends `req`, giving up after `timeout` (at most the client's).
    pub fn send(&self, req: &IngestRequest, timeout: Duration) -> Outcome {
        let mut builder = self
            .agent
            .post(&req.url)
            .config()
            .timeout_global(Some(timeout))
            .timeout_connect(Some(timeout))
            .build()
            .header("Content-Type", &req.content_type);
        if let Some(encoding) = req.content_encoding {
            builder = builder.header("Content-Encoding", encoding);
        }
        if let Some(auth) = &self.endpoint.authorization {
            builder = builder.header("Authorization", auth);
        }
        let mut response = match builder.send(&req.body[..]) {
            Ok(r) => r,
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
            if let Some(check) = req.check_accepted.filter(|c| content_type.starts_with(c.content_type)) {
                let mut body = Vec::new();
                let _ = response.body_mut().as_reader().take(ACCEPTED_BODY_BYTES).read_to_end(&mut body);
                if let Some(reason) = (check.refusal)(&body) {
                    return Outcome::Rejected(reason);
                }
            }
            return Outcome::Accepted;
        }
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
        let mut excerpt = Vec::new();
        let _ = response.body_mut().as_reader().take(BODY_EXCERPT_BYTES).read_to_end(&mut excerpt);
        let text = excerpt_text(&excerpt);
        let reason = match (&location, text.is_empty()) {
            (Some(to), _) => format!("HTTP {status}, redirect to `{to}`: give the final URL"),
            (None, true) => format!("HTTP {status}"),
            (None, false) => format!("HTTP {status}: {text}"),
        };
        if (req.retryable)(status) {
            Outcome::Retry(reason)
        } else {
            Outcome::Rejected(reason)
        }
    }
}

/// A response body as one printable line.
fn excerpt_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    line.chars().filter(|c| !c.is_control()).take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pyroscope's statuses that may pass, and OTLP/HTTP's narrower list: a 500 or 408 from an
    /// OpenTelemetry collector is final.
    #[test]
    fn retryable_statuses_by_protocol() {
        let retried = |f: fn(u16) -> bool| {
            [400, 408, 413, 429, 500, 501, 502, 503, 504].into_iter().filter(|s| f(*s)).collect::<Vec<_>>()
        };
        assert_eq!(retried(retry_pyroscope), [408, 429, 500, 501, 502, 503, 504]);
        assert_eq!(retried(retry_otlp), [429, 502, 503, 504]);
    }

    /// Base URLs with a port, a path prefix or a trailing `/ingest` all post to `…/ingest`;
    /// credentials become basic auth and are never shown.
    #[test]
    fn push_endpoint_parses_base_urls_and_hides_credentials() {
        let e = Endpoint::parse("http://pyroscope:4040").unwrap();
        assert_eq!((e.target.as_str(), e.display()), ("http://pyroscope:4040/ingest", "http://pyroscope:4040"));
        assert_eq!(Endpoint::parse("http://gw/pyroscope/").unwrap().target, "http://gw/pyroscope/ingest");
        assert_eq!(Endpoint::parse("HTTPS://h:443/ingest").unwrap().target, "https://h:443/ingest");
        assert_eq!(Endpoint::parse("http://[::1]:4040").unwrap().target, "http://[::1]:4040/ingest");
        let e = Endpoint::parse("https://123456:glc_s%40cret@profiles.example.net").unwrap();
        assert_eq!(e.display(), "https://profiles.example.net");
        assert_eq!(e.authorization.as_deref(), Some(format!("Basic {}", base64(b"123456:glc_s@cret")).as_str()));
        assert!(!format!("{e:?}").contains("cret"));
        for bad in ["pyroscope:4040", "ftp://h", "http://h/ingest?x=1", "http://", "http://h:port", "http://u:p@"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad} accepted");
        }
        for bad in ["u:p@h:4040", "ftp://u:p@h", "http://u:p@h/x?y", "http://u:p@:4040", "http://u:p@h:port"] {
            let err = Endpoint::parse(bad).unwrap_err();
            assert!(!err.contains("u:p"), "credentials in {err}");
        }
    }

    /// OTLP URLs post to `…/v1development/profiles`, given with or without that path.
    #[test]
    fn push_endpoint_appends_the_otlp_path_once() {
        for url in ["http://collector:4318", "http://collector:4318/", "http://collector:4318/v1development/profiles"] {
            let e = Endpoint::parse_for(Protocol::Otlp, url).unwrap();
            assert_eq!(
                (e.target(), e.display()),
                ("http://collector:4318/v1development/profiles", "http://collector:4318")
            );
        }
        let e = Endpoint::parse_for(Protocol::Otlp, "https://gw/otlp").unwrap();
        assert_eq!(e.target(), "https://gw/otlp/v1development/profiles");
    }

    /// Base64 as RFC 4648's test vectors.
    #[test]
    fn push_base64_matches_rfc4648() {
        for (input, out) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE=")]
        {
            assert_eq!(base64(input.as_bytes()), out);
        }
    }

    /// The multipart body has one file part `profile` holding the bytes unchanged.
    #[test]
    fn push_multipart_has_the_profile_file_part() {
        let (ct, body) = multipart(b"\x1f\x8bdata");
        let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.starts_with(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"profile\"; filename="))
        );
        assert!(text.ends_with(&format!("\r\n\x1f\u{fffd}data\r\n--{boundary}--\r\n")), "{text:?}");
    }
}
