//! Pushing continuous profiles to a Pyroscope-compatible store, over real HTTP on loopback: a
//! receiver in this file parses every request as Pyroscope's `/ingest` handler does
//! (grafana/pyroscope `pkg/ingester/pyroscope/ingest_handler.go`: `labelset.Parse` of `name`,
//! `attime.Parse` of `from`/`until`, `sampleRate`, `spyName`, then the `format` / content-type
//! switch of `readInputRawDataFromRequest`; `pkg/og/convert/pprof/profile.go`: the multipart
//! form's `profile` file part, gunzipped and decoded as profile.proto). The pusher is tested
//! with synthetic archives (outages, queue overflow, rejections, deleted archives); the last
//! test records with the real sampler while the receiver is down for a while.

mod common;
#[path = "common/push_store.rs"]
mod push_store;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{interval_meta, SEC, T0};
use prof::output::pprof::proto;
use prof::profile::{Cgroup, Frame, FrameKind, ProfileBuilder, SampleOwner};
use prof::push::client::Client;
use prof::push::{Endpoint, Protocol, PushOptions, PushStats, Pusher, Series};
use push_store::{fast, free_port, Receiver, Reply, Request};

// ---------------------------------------------------------------------------------------------
// A receiver that parses requests as Pyroscope does

/// One request as Pyroscope's `/ingest` understood it.
#[derive(Clone, Debug)]
struct Ingest {
    /// The `service_name` Pyroscope derives (the `name` before `{`, unless a label overrides it).
    service_name: String,
    /// Labels from `name`, without the reserved ones Pyroscope drops.
    labels: BTreeMap<String, String>,
    from: u64,
    until: u64,
    sample_rate: Option<u32>,
    spy_name: String,
    /// The decoded profile.
    profile: proto::Profile,
}

impl Ingest {
    /// Σ of the `samples/count` values.
    fn samples(&self) -> u64 {
        let strings = &self.profile.string_table;
        let idx = self
            .profile
            .sample_type
            .iter()
            .position(|t| strings[t.r#type as usize] == b"samples")
            .expect("a samples sample type");
        self.profile.sample.iter().map(|s| s.value[idx] as u64).sum()
    }

    /// The interval start the profile carries (`time_nanos`).
    fn start_ns(&self) -> u64 {
        self.profile.time_nanos as u64
    }

    /// The `pid` labels of the samples, sorted, without repeats.
    fn pids(&self) -> Vec<i64> {
        let strings = &self.profile.string_table;
        let mut pids: Vec<i64> = self
            .profile
            .sample
            .iter()
            .flat_map(|s| &s.label)
            .filter(|l| strings[l.key as usize] == b"pid")
            .map(|l| l.num)
            .collect();
        pids.sort();
        pids.dedup();
        pids
    }

    /// Every string of the profile.
    fn strings(&self) -> Vec<String> {
        self.profile.string_table.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect()
    }
}

/// What the receiver saw.
#[derive(Default)]
struct Log {
    /// Each parsed request with the status it got, in arrival order.
    requests: Vec<(Ingest, u16)>,
    /// When each request arrived.
    arrivals: Vec<Instant>,
    /// Requests Pyroscope would have refused, with why.
    errors: Vec<String>,
}

impl Log {
    /// The profiles stored (2xx), in arrival order.
    fn stored(&self) -> Vec<Ingest> {
        self.requests.iter().filter(|(_, s)| (200..300).contains(s)).map(|(i, _)| i.clone()).collect()
    }
}

/// Decides the status of a well-formed request (200 unless a test says otherwise).
type Responder = Arc<Mutex<dyn FnMut(&Ingest) -> u16 + Send>>;

fn always_ok() -> Responder {
    Arc::new(Mutex::new(|_: &Ingest| 200))
}

/// A receiver that parses each request as Pyroscope does and logs it; the responder decides
/// the status of well-formed ones.
fn receiver(port: u16, log: &Arc<Mutex<Log>>, responder: &Responder) -> Receiver {
    let (log, responder) = (Arc::clone(log), Arc::clone(responder));
    Receiver::start(
        port,
        Arc::new(move |req: Request| {
            let content_type = req.header("content-type");
            match parse_ingest(&req.method, &req.target, content_type, &req.body) {
                Ok(ingest) => {
                    let status = (responder.lock().unwrap())(&ingest);
                    let mut log = log.lock().unwrap();
                    log.requests.push((ingest, status));
                    log.arrivals.push(Instant::now());
                    Reply::text(status, if status == 400 { "invalid profile: test says no" } else { "" })
                }
                Err((status, why)) => {
                    log.lock().unwrap().errors.push(format!("{} {}: {why}", req.method, req.target));
                    Reply::text(status, &why)
                }
            }
        }),
    )
}

/// Pyroscope's label-name rule (`IsLabelNameRuneAllowed`).
fn label_name_ok(k: &str) -> bool {
    !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// Pyroscope's `labelset.Parse`, state by state: the service name up to `{` (validated), then
/// `key=value` pairs separated by `,`; names validated unless reserved; values trimmed.
fn parse_labelset(name: &str) -> Result<(String, BTreeMap<String, String>), String> {
    #[derive(PartialEq)]
    enum State {
        Name,
        Key,
        Value,
        Done,
    }
    let (mut state, mut key, mut value) = (State::Name, String::new(), String::new());
    let mut service = String::new();
    let mut labels = BTreeMap::new();
    for c in name.chars().chain(std::iter::once('{')) {
        match state {
            State::Name if c == '{' => {
                service = value.trim().to_string();
                let ok = !service.is_empty()
                    && service.chars().all(|c| label_name_ok(&c.to_string()) || c == '-' || c == '/');
                if !ok {
                    return Err(format!("invalid service name: {service:?}"));
                }
                state = State::Key;
            }
            State::Name => value.push(c),
            State::Key if c == '}' => state = State::Done,
            State::Key if c == '=' => {
                state = State::Value;
                value.clear();
            }
            State::Key => key.push(c),
            State::Value if c == ',' || c == '}' => {
                state = State::Key;
                let k = key.trim().to_string();
                if k != "__name__" && !label_name_ok(&k) {
                    return Err(format!("invalid label name: {k:?}"));
                }
                labels.insert(k, value.trim().to_string());
                key.clear();
            }
            State::Value => value.push(c),
            State::Done => {}
        }
    }
    // `IsLabelAllowedForIngestion`: reserved `__…` labels are dropped; a `service_name` label
    // wins over the name.
    labels.retain(|k, _| !k.starts_with("__"));
    let service_name = labels.get("service_name").cloned().unwrap_or(service);
    Ok((service_name, labels))
}

/// The `boundary` parameter of a multipart content type (`form.ParseBoundary`).
fn boundary_of(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The file parts of a multipart/form-data body, by form name (Go's `ReadForm` files a part
/// only when its Content-Disposition has a filename; other parts are plain values).
fn multipart_files(body: &[u8], boundary: &str) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let delim = format!("--{boundary}");
    let find = |hay: &[u8], needle: &[u8], from: usize| {
        hay[from..].windows(needle.len()).position(|w| w == needle).map(|p| p + from)
    };
    let mut pos = find(body, delim.as_bytes(), 0).ok_or("no first boundary")? + delim.len();
    let mut files = BTreeMap::new();
    loop {
        if body[pos..].starts_with(b"--") {
            return Ok(files);
        }
        if !body[pos..].starts_with(b"\r\n") {
            return Err("boundary not followed by CRLF".into());
        }
        pos += 2;
        let head_end = find(body, b"\r\n\r\n", pos).ok_or("part without header end")?;
        let head = String::from_utf8_lossy(&body[pos..head_end]).to_string();
        let content_start = head_end + 4;
        let next =
            find(body, format!("\r\n{delim}").as_bytes(), content_start).ok_or("part without closing boundary")?;
        let content = body[content_start..next].to_vec();
        pos = next + 2 + delim.len();
        let disposition = head
            .lines()
            .find_map(|l| l.split_once(':').filter(|(k, _)| k.trim().eq_ignore_ascii_case("content-disposition")))
            .map(|(_, v)| v.to_string())
            .ok_or("part without Content-Disposition")?;
        let params: BTreeMap<String, String> = disposition
            .split(';')
            .skip(1)
            .filter_map(|p| {
                p.trim().split_once('=').map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
            })
            .collect();
        if let (Some(name), Some(_filename)) = (params.get("name"), params.get("filename")) {
            files.entry(name.clone()).or_insert(content);
        }
    }
}

/// Parses a request as Pyroscope's `/ingest` handler does; errors carry the status Pyroscope
/// would answer (400 for metadata and body problems, 404/405 for a wrong route).
fn parse_ingest(method: &str, target: &str, content_type: Option<&str>, body: &[u8]) -> Result<Ingest, (u16, String)> {
    let bad = |why: String| (400u16, why);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != "/ingest" {
        return Err((404, format!("path {path:?} is not /ingest")));
    }
    if method != "POST" {
        return Err((405, format!("method {method} is not POST")));
    }
    // `r.URL.Query().Get(k)`: the first value.
    let q: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (service_name, labels) = parse_labelset(&get("name").unwrap_or_default()).map_err(bad)?;
    // `attime.Parse`: digits are a Unix time; 10 digits or fewer are seconds (13, 16, 19 digits
    // would be ms, µs, ns; 8 a date). prof must send seconds.
    let seconds = |k: &str| -> Result<u64, (u16, String)> {
        let v = get(k).ok_or_else(|| bad(format!("no {k}")))?;
        if v.is_empty() || v.len() > 10 || !v.bytes().all(|b| b.is_ascii_digit()) || v.len() == 8 {
            return Err(bad(format!("{k}={v:?} is not Unix seconds")));
        }
        Ok(v.parse().unwrap())
    };
    let (from, until) = (seconds("from")?, seconds("until")?);
    let sample_rate = match get("sampleRate") {
        Some(s) => Some(s.parse::<u32>().map_err(|_| bad(format!("sampleRate={s:?} is not a number")))?),
        None => None,
    };
    let spy_name = get("spyName").unwrap_or_else(|| "unknown".into());
    // `readInputRawDataFromRequest`: `format` decides first, then the content type.
    let format = get("format").unwrap_or_default();
    let ct = content_type.unwrap_or_default();
    let pprof_bytes = match format.as_str() {
        "trie" | "tree" | "lines" | "jfr" | "speedscope" => return Err(bad(format!("format={format} is not pprof"))),
        _ if ct == "binary/octet-stream+trie" || ct == "binary/octet-stream+tree" => {
            return Err(bad(format!("content type {ct} is not pprof")))
        }
        "pprof" => body.to_vec(),
        _ if ct.contains("multipart/form-data") => {
            let boundary = boundary_of(ct).ok_or_else(|| bad("malformed multipart content type header".into()))?;
            let mut files = multipart_files(body, &boundary).map_err(bad)?;
            if files.contains_key("prev_profile") {
                return Err(bad("prev_profile is not supported".into()));
            }
            // `form.ReadField`: a missing or empty `profile` file is "no profile" — Pyroscope
            // answers 200 and stores nothing, so it is an error here.
            match files.remove("profile") {
                Some(p) if !p.is_empty() => p,
                _ => return Err(bad("no `profile` file part: Pyroscope would store nothing".into())),
            }
        }
        _ => return Err(bad(format!("body of content type {ct:?} would be read as folded `groups`, not pprof"))),
    };
    let profile = prof::output::pprof::decode(&pprof_bytes, "ingest").map_err(|e| bad(e.to_string()))?;
    Ok(Ingest { service_name, labels, from, until, sample_rate, spy_name, profile })
}

// ---------------------------------------------------------------------------------------------
// Synthetic archives and the pusher

/// Writes archive `i` (10 s from `T0 + 10 s × i`, `5 + i` samples of `work_<i>`) into `dir`.
fn write_archive(dir: &Path, i: u64) -> PathBuf {
    let mut meta = interval_meta(i, 5 + i);
    meta.hostname = "secret-host".into();
    meta.target = "./app --password hunter2".into();
    meta.notes = vec!["a note that stays local".into()];
    let mut b = ProfileBuilder::new(meta);
    let main = b.frame(Frame::new("main", "app", FrameKind::User));
    let work = b.frame(Frame::new(format!("work_{i}"), "app", FrameKind::User));
    let stack = b.stack(vec![main, work]);
    b.add(stack, 4242, "app", 5 + i);
    let path = dir.join(prof::store::archive_name(T0 + i * 10 * SEC, 1, i));
    prof::archive::write_file(&b.finish(), &path).expect("write the archive");
    path
}

fn pusher(url: &str, opts: PushOptions) -> Pusher {
    let labels = vec![("env".to_string(), "test".to_string()), ("host.name".to_string(), "a-1".to_string())];
    pusher_with(url, opts, &labels)
}

fn pusher_with(url: &str, opts: PushOptions, labels: &[(String, String)]) -> Pusher {
    let endpoint = Endpoint::parse(url).unwrap();
    let series = Series::new("myapp", labels).unwrap();
    Pusher::start(Client::new(endpoint, opts.timeout), Protocol::Pyroscope, series, opts).unwrap()
}

/// Writes an archive (interval 0) with a sample of `(pid, comm, cgroup path, count)` each.
fn write_owned_archive(dir: &Path, samples: &[(u32, &str, Option<&str>, u64)]) -> PathBuf {
    let mut b = ProfileBuilder::new(interval_meta(0, samples.iter().map(|s| s.3).sum()));
    let main = b.frame(Frame::new("main", "app", FrameKind::User));
    let stack = b.stack(vec![main]);
    for &(pid, comm, path, count) in samples {
        let cgroup = path.map(|p| Cgroup { id: u64::from(pid), path: p.to_string() });
        b.add_owned(stack, SampleOwner { pid, tid: pid, comm, cgroup: cgroup.as_ref() }, count);
    }
    let path = dir.join(prof::store::archive_name(T0, 1, 0));
    prof::archive::write_file(&b.finish(), &path).expect("write the archive");
    path
}

/// Waits until `cond` holds (or fails after 10 s).
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The archive indices (from `work_<i>`) of stored profiles, in arrival order.
fn indices(stored: &[Ingest]) -> Vec<u64> {
    stored.iter().map(|i| (i.start_ns() - T0) / (10 * SEC)).collect()
}

/// Every archive handed over is accounted for exactly once.
fn assert_accounted(s: &PushStats) {
    assert_eq!(s.queued, s.pushed + s.rejected + s.dropped + s.missing + s.unreadable + s.unsent, "{s:?}");
}

/// One push is exactly the request Pyroscope parses: POST /ingest, `name=app{labels}`, Unix
/// seconds, sample rate, spy name, a multipart `profile` file part whose gzip'd pprof holds
/// the interval's samples and time — and nothing but the profile (no host, command line, notes).
#[test]
fn push_request_is_what_pyroscope_parses() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(Log::default()));
    let rx = receiver(0, &log, &always_ok());
    let p = pusher(&rx.url(), fast(Duration::from_secs(5)));
    p.enqueue(write_archive(dir.path(), 3));
    let stats = p.finish();
    assert_eq!((stats.pushed, stats.retries, stats.not_pushed()), (1, 0, 0), "{stats:?}");
    let log = log.lock().unwrap();
    assert!(log.errors.is_empty(), "Pyroscope would refuse: {:?}", log.errors);
    let got = &log.stored()[0];
    assert_eq!(got.service_name, "myapp");
    let labels: Vec<(&str, &str)> = got.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(labels, [("env", "test"), ("host.name", "a-1")]);
    assert_eq!((got.from, got.until), ((T0 + 30 * SEC) / SEC, (T0 + 40 * SEC) / SEC));
    assert_eq!(got.sample_rate, Some(99));
    assert_eq!(got.spy_name, "prof");
    assert_eq!(got.samples(), 8);
    assert_eq!(got.start_ns(), T0 + 30 * SEC);
    assert_eq!(got.profile.duration_nanos as u64, 10 * SEC);
    let strings = got.strings();
    assert!(strings.iter().any(|s| s == "work_3"), "{strings:?}");
    for secret in ["secret-host", "hunter2", "a note that stays local"] {
        assert!(!strings.iter().any(|s| s.contains(secret)), "{secret} was sent: {strings:?}");
    }
    rx.stop();
}

/// `--label service_name={container|host}`: one archive with samples in two containers and on
/// the host becomes one push per container and one for the host, each named by Pyroscope after
/// its `service_name` (the application name kept as `app_name`), each with only its samples.
#[test]
fn push_label_placeholders_split_the_interval_by_container() {
    const A: &str = "3f1c0b4a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b";
    const B: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let dir = tempfile::tempdir().unwrap();
    let archive = write_owned_archive(
        dir.path(),
        &[
            (10, "nginx", Some(&format!("/system.slice/docker-{A}.scope")), 7),
            (11, "nginx", Some(&format!("/system.slice/docker-{A}.scope")), 2),
            (20, "redis", Some(&format!("/kubepods.slice/cri-containerd-{B}.scope")), 4),
            (30, "sshd", Some("/system.slice/ssh.service"), 3),
            (40, "kworker/0:1", None, 1),
        ],
    );
    let log = Arc::new(Mutex::new(Log::default()));
    let rx = receiver(0, &log, &always_ok());
    let labels =
        vec![("service_name".to_string(), "{container|host}".to_string()), ("env".to_string(), "test".to_string())];
    let p = pusher_with(&rx.url(), fast(Duration::from_secs(5)), &labels);
    p.enqueue(archive);
    let stats = p.finish();
    rx.stop();
    assert_eq!((stats.queued, stats.pushed, stats.not_pushed()), (1, 1, 0), "{stats:?}");
    let log = log.lock().unwrap();
    assert!(log.errors.is_empty(), "Pyroscope would refuse: {:?}", log.errors);
    let got: Vec<(String, u64, Vec<i64>)> =
        log.stored().iter().map(|i| (i.service_name.clone(), i.samples(), i.pids())).collect();
    assert_eq!(
        got,
        [
            ("docker:3f1c0b4a9e8d".to_string(), 9, vec![10, 11]),
            ("containerd:0123456789ab".to_string(), 4, vec![20]),
            ("host".to_string(), 4, vec![30, 40]),
        ]
    );
    // Each push names only its own workloads: no other container's id or unit.
    let strings: Vec<Vec<String>> = log.stored().iter().map(Ingest::strings).collect();
    let has = |i: usize, what: &str| strings[i].iter().any(|s| s.contains(what));
    assert!(has(0, A) && !has(0, B) && !has(0, "ssh.service"), "{:?}", strings[0]);
    assert!(has(1, B) && !has(1, A), "{:?}", strings[1]);
    assert!(has(2, "ssh.service") && !has(2, A) && !has(2, B), "{:?}", strings[2]);
    for ingest in log.stored() {
        assert_eq!(ingest.labels.get("env").map(String::as_str), Some("test"));
        assert_eq!((ingest.from, ingest.until), (T0 / SEC, (T0 + 10 * SEC) / SEC));
    }
}

/// Beyond 64 label sets in one interval, the sets with the fewest samples go into one more
/// push, `prof_overflow`, and the warning counts them.
#[test]
fn push_label_placeholders_are_bounded_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let comms: Vec<String> = (0..67).map(|i| format!("w{i:02}")).collect();
    // w00 has 100 samples, w01 99, …: the three smallest are w64, w65, w66 (36 + 35 + 34).
    let samples: Vec<(u32, &str, Option<&str>, u64)> =
        comms.iter().enumerate().map(|(i, c)| (i as u32 + 1, c.as_str(), None, 100 - i as u64)).collect();
    let archive = write_owned_archive(dir.path(), &samples);
    let log = Arc::new(Mutex::new(Log::default()));
    let rx = receiver(0, &log, &always_ok());
    let (tx, messages) = std::sync::mpsc::sync_channel(16);
    let opts = PushOptions { messages: Some(tx), ..fast(Duration::from_secs(5)) };
    let p = pusher_with(&rx.url(), opts, &[("service_name".to_string(), "job-{comm}".to_string())]);
    p.enqueue(archive);
    let stats = p.finish();
    rx.stop();
    assert_eq!((stats.pushed, stats.not_pushed()), (1, 0), "{stats:?}");
    let log = log.lock().unwrap();
    let stored = log.stored();
    assert_eq!(stored.len(), 65);
    assert_eq!(stored[0].service_name, "job-w00");
    assert_eq!(stored[63].service_name, "job-w63");
    let last = &stored[64];
    assert_eq!((last.service_name.as_str(), last.samples(), last.pids()), ("prof_overflow", 105, vec![65, 66, 67]));
    let total: u64 = stored.iter().map(Ingest::samples).sum();
    assert_eq!(total, samples.iter().map(|s| s.3).sum::<u64>());
    let warnings: Vec<String> = messages.try_iter().filter(|m| m.warning).map(|m| m.text).collect();
    assert!(warnings.iter().any(|w| w.contains("3 label sets beyond the first 64")), "{warnings:?}");
}

/// The store goes away and comes back on the same port: every interval arrives exactly once,
/// in order, the failed attempts are counted as retries, and recording-side enqueues never
/// wait.
#[test]
fn push_outage_delivers_every_interval_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(Log::default()));
    let responder = always_ok();
    let rx = receiver(0, &log, &responder);
    let url = rx.url();
    let p = pusher(&url, fast(Duration::from_secs(5)));
    for i in 0..3 {
        p.enqueue(write_archive(dir.path(), i));
    }
    wait_for("the first 3 pushes", || p.stats().pushed == 3);
    let port = rx.stop();
    for i in 3..6 {
        let t = Instant::now();
        p.enqueue(write_archive(dir.path(), i));
        assert!(t.elapsed() < Duration::from_millis(50), "enqueue waited {:?}", t.elapsed());
    }
    wait_for("failed attempts", || p.stats().retries >= 3);
    std::thread::sleep(Duration::from_millis(300));
    let rx = receiver(port, &log, &responder);
    for i in 6..8 {
        p.enqueue(write_archive(dir.path(), i));
    }
    wait_for("all 8 pushes", || p.stats().pushed == 8);
    let stats = p.finish();
    rx.stop();
    assert_accounted(&stats);
    assert_eq!((stats.queued, stats.pushed, stats.not_pushed()), (8, 8, 0), "{stats:?}");
    assert!(stats.retries >= 3, "{stats:?}");
    let log = log.lock().unwrap();
    assert!(log.errors.is_empty(), "{:?}", log.errors);
    assert_eq!(indices(&log.stored()), (0..8).collect::<Vec<_>>(), "not once each, in order");
    for (i, got) in log.stored().iter().enumerate() {
        assert_eq!(got.samples(), 5 + i as u64);
    }
}

/// With the store down and a queue of 3, the oldest queued archives are dropped and counted;
/// the newest ones are pushed once the store is back.
#[test]
fn push_full_queue_drops_the_oldest() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(Log::default()));
    let port = free_port();
    let p =
        pusher(&format!("http://127.0.0.1:{port}"), PushOptions { queue_capacity: 3, ..fast(Duration::from_secs(5)) });
    for i in 0..10 {
        p.enqueue(write_archive(dir.path(), i));
    }
    let rx = receiver(port, &log, &always_ok());
    let stats = p.finish();
    rx.stop();
    assert_accounted(&stats);
    let stored = indices(&log.lock().unwrap().stored());
    // The thread may have taken archive 0 before the queue filled; either way the last 3 are
    // there and everything else was dropped.
    assert!(stored == [7, 8, 9] || stored == [0, 7, 8, 9], "{stored:?}");
    assert_eq!(stats.dropped, 10 - stored.len() as u64, "{stats:?}");
    assert_eq!(stats.pushed, stored.len() as u64);
}

/// 503 and 429 are retried (the same interval again, later ones wait); 400 is counted as
/// rejected and not retried; order is kept.
#[test]
fn push_status_codes_decide_retry_or_reject() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(Log::default()));
    let mut script = push_store::RetryScript::default();
    let responder: Responder = Arc::new(Mutex::new(move |i: &Ingest| script.status((i.start_ns() - T0) / (10 * SEC))));
    let rx = receiver(0, &log, &responder);
    let p = pusher(&rx.url(), fast(Duration::from_secs(5)));
    for i in 0..4 {
        p.enqueue(write_archive(dir.path(), i));
    }
    let stats = p.finish();
    rx.stop();
    assert_accounted(&stats);
    assert_eq!((stats.pushed, stats.retries, stats.rejected), (3, 2, 1), "{stats:?}");
    let log = log.lock().unwrap();
    let seen: Vec<(u64, u16)> = log.requests.iter().map(|(i, s)| ((i.start_ns() - T0) / (10 * SEC), *s)).collect();
    assert_eq!(seen, [(0, 200), (1, 503), (1, 429), (1, 200), (2, 400), (3, 200)]);
}

/// An archive deleted (by retention) before its turn is counted as missing; the others are
/// pushed.
#[test]
fn push_deleted_archive_is_counted_missing() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(Log::default()));
    let port = free_port();
    let p = pusher(&format!("http://127.0.0.1:{port}"), fast(Duration::from_secs(5)));
    let paths: Vec<PathBuf> = (0..3).map(|i| write_archive(dir.path(), i)).collect();
    for path in &paths {
        p.enqueue(path.clone());
    }
    // Archive 0 is being retried (read already); 1 waits in the queue and goes away.
    wait_for("a failed attempt", || p.stats().retries >= 1);
    std::fs::remove_file(&paths[1]).unwrap();
    let rx = receiver(port, &log, &always_ok());
    let stats = p.finish();
    rx.stop();
    assert_accounted(&stats);
    assert_eq!((stats.pushed, stats.missing), (2, 1), "{stats:?}");
    assert_eq!(indices(&log.lock().unwrap().stored()), [0, 2]);
}

/// With the store down for good, `finish` returns after the grace period and reports what was
/// not pushed.
#[test]
fn push_finish_is_bounded_and_reports_unsent() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let p = pusher(&format!("http://127.0.0.1:{port}"), fast(Duration::from_millis(300)));
    for i in 0..4 {
        p.enqueue(write_archive(dir.path(), i));
    }
    let t = Instant::now();
    let stats = p.finish();
    assert!(t.elapsed() < Duration::from_secs(2), "finish took {:?}", t.elapsed());
    assert_accounted(&stats);
    assert_eq!((stats.pushed, stats.unsent), (0, 4), "{stats:?}");
    assert!(stats.retries >= 1);
}

// ---------------------------------------------------------------------------------------------
// End to end with the sampler

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// `prof record --continuous --push` with the store down for a few seconds in the middle: every
/// archive written to the directory reaches the store once, in order, with its samples, and the
/// summary says so. `PROF_PUSH_OUTAGE_SECS=30 PROF_PUSH_RECORD_SECS=90` makes it the issue's
/// 30 s outage, with time for the backoff to find the store again while still recording.
#[test]
fn push_record_continuous_survives_store_outage() {
    let _m = bpf_test!("push_record_continuous_survives_store_outage");
    let outage: u64 = std::env::var("PROF_PUSH_OUTAGE_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("archives");
    let log = Arc::new(Mutex::new(Log::default()));
    let responder = always_ok();
    let rx = receiver(0, &log, &responder);
    let url = rx.url();
    let record_secs: u64 =
        std::env::var("PROF_PUSH_RECORD_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(outage + 8);
    let duration = record_secs.to_string();
    let bg = common::Background::start(&[
        os("record"),
        os("--continuous"),
        os("--dir"),
        d.as_os_str(),
        os("--interval"),
        os("1s"),
        os("-d"),
        os(&duration),
        os("--push"),
        os(&url),
        os("--app-name"),
        os("e2e"),
        os("--label"),
        os("env=test"),
    ]);
    // The store goes down once it has an interval or two (the first interval symbolizes
    // everything and may take a while on a loaded machine).
    let deadline = Instant::now() + Duration::from_secs(20);
    while log.lock().unwrap().stored().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let down_at = Instant::now();
    let port = rx.stop();
    let stored_before = log.lock().unwrap().stored().len();
    std::thread::sleep(Duration::from_secs(outage));
    let rx = receiver(port, &log, &responder);
    let up_at = Instant::now();
    println!("receiver down for {:.1} s; {stored_before} intervals stored before", down_at.elapsed().as_secs_f64());
    let (status, stderr) = bg.finish();
    let exited_at = Instant::now();
    rx.stop();
    println!("{stderr}");
    assert!(status.success(), "prof failed: {stderr}");

    let (entries, warnings) = prof::store::list(&d).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let archives: Vec<prof::profile::Profile> =
        entries.iter().map(|e| prof::archive::read_file(&e.path).expect("archive reads")).collect();
    let log = log.lock().unwrap();
    assert!(log.errors.is_empty(), "Pyroscope would refuse: {:?}", log.errors);
    let stored = log.stored();
    println!("{} intervals written, {} received", archives.len(), stored.len());
    if let Some(first) = log.arrivals.iter().find(|&&t| t > up_at) {
        println!(
            "first push after the receiver came back: {:.1} s later ({:.1} s before prof exited)",
            first.duration_since(up_at).as_secs_f64(),
            exited_at.saturating_duration_since(*first).as_secs_f64()
        );
    }
    assert!(archives.len() as u64 >= outage + 3, "only {} archives", archives.len());
    let written: Vec<(u64, u64)> = archives.iter().map(|a| (a.meta.start_unix_ns, a.total())).collect();
    let received: Vec<(u64, u64)> = stored.iter().map(|i| (i.start_ns(), i.samples())).collect();
    assert_eq!(received, written, "every written interval, once, in order, with its samples");
    for (got, a) in stored.iter().zip(&archives) {
        assert_eq!((got.service_name.as_str(), got.labels.get("env").map(String::as_str)), ("e2e", Some("test")));
        assert_eq!((got.from, got.until), (a.meta.start_unix_ns / SEC, a.meta.end_unix_ns / SEC));
        assert_eq!(got.sample_rate, Some(99));
    }
    assert!(stored_before >= 1 && stored_before < archives.len(), "the outage was not in the middle");
    let n = archives.len();
    assert!(stderr.contains(&format!("prof: pushed {n} of {n} intervals")), "{stderr}");
    assert!(stderr.contains("failing since"), "the outage was not reported: {stderr}");
    // The outage is noted in a later archive's metadata.
    assert!(archives.iter().any(|a| a.meta.notes.iter().any(|n| n.contains("push to") && n.contains("failing since"))));
}
