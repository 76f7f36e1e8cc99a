//! Pushing continuous profiles as OTLP profiles exports (`--push-otlp URL`), over real HTTP on
//! loopback. The receiver decodes every request with the official OpenTelemetry protos vendored
//! in `proto/github.com/open-telemetry/opentelemetry-proto/`, compiled at test time (protox) and
//! read as dynamic messages (prost-reflect), so nothing here depends on prof's own message
//! types: a field number, wire type or table layout prof gets wrong fails here.

mod common;
#[path = "common/push_store.rs"]
mod push_store;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{interval_meta, SEC, T0};
use prof::profile::{Frame, FrameKind, ProfileBuilder};
use prof::push::client::Client;
use prof::push::{Endpoint, Protocol, Pusher, Series};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, ReflectMessage, Value};
use push_store::{Receiver, Reply, Request};

// ---------------------------------------------------------------------------------------------
// Decoding with the official protos

/// The request message, from the vendored .proto files.
fn request_descriptor() -> MessageDescriptor {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("proto/github.com/open-telemetry/opentelemetry-proto");
    let mut compiler = protox::Compiler::new([&root]).expect("the vendored protos' directory");
    compiler
        .open_file("opentelemetry/proto/collector/profiles/v1development/profiles_service.proto")
        .expect("the vendored protos compile");
    let pool: DescriptorPool = compiler.descriptor_pool();
    pool.get_message_by_name("opentelemetry.proto.collector.profiles.v1development.ExportProfilesServiceRequest")
        .expect("ExportProfilesServiceRequest in the vendored protos")
}

/// A 200 answer whose `ExportProfilesServiceResponse` (encoded with the official protos) has a
/// `partial_success` of `rejected` profiles and `message`.
fn partial_success(rejected: i64, message: &str) -> Reply {
    let pool = request_descriptor().parent_pool().clone();
    let response = pool
        .get_message_by_name("opentelemetry.proto.collector.profiles.v1development.ExportProfilesServiceResponse")
        .expect("ExportProfilesServiceResponse in the vendored protos");
    let partial = response.get_field_by_name("partial_success").unwrap().kind();
    let mut p = DynamicMessage::new(partial.as_message().unwrap().clone());
    p.set_field_by_name("rejected_profiles", Value::I64(rejected));
    p.set_field_by_name("error_message", Value::String(message.to_string()));
    let mut m = DynamicMessage::new(response);
    m.set_field_by_name("partial_success", Value::Message(p));
    Reply { status: 200, content_type: "application/x-protobuf", body: m.encode_to_vec() }
}

/// Field `name` of `m` (the default value when not set).
fn field(m: &DynamicMessage, name: &str) -> Value {
    m.get_field_by_name(name)
        .unwrap_or_else(|| panic!("no field {name} in {}", m.descriptor().full_name()))
        .into_owned()
}

/// Repeated field `name` of `m`.
fn list(m: &DynamicMessage, name: &str) -> Vec<Value> {
    field(m, name).as_list().unwrap_or_else(|| panic!("{name} is not repeated")).to_vec()
}

/// Message field `name` of `m`.
fn message(m: &DynamicMessage, name: &str) -> DynamicMessage {
    field(m, name).as_message().unwrap_or_else(|| panic!("{name} is not a message")).clone()
}

fn int(m: &DynamicMessage, name: &str) -> i64 {
    match field(m, name) {
        Value::I32(n) => i64::from(n),
        Value::I64(n) => n,
        Value::U32(n) => i64::from(n),
        Value::U64(n) => n as i64,
        other => panic!("{name} is not an integer: {other:?}"),
    }
}

/// An index field, as a table position.
fn index(m: &DynamicMessage, name: &str) -> usize {
    usize::try_from(int(m, name)).unwrap_or_else(|_| panic!("negative {name}"))
}

/// An `AnyValue` as text: a string as is, an integer in decimal.
fn any_value(v: &DynamicMessage) -> String {
    let (f, value) = v.fields().next().expect("AnyValue has a value");
    match (f.name(), value) {
        ("string_value", Value::String(s)) => s.clone(),
        ("int_value", Value::I64(n)) => n.to_string(),
        (name, value) => panic!("unexpected AnyValue {name}: {value:?}"),
    }
}

/// Fails when `m` or any message inside it has fields the official protos do not define.
fn assert_no_unknown_fields(m: &DynamicMessage) {
    let unknown: Vec<_> = m.unknown_fields().map(|u| u.number()).collect();
    assert!(unknown.is_empty(), "{} has unknown fields {unknown:?}", m.descriptor().full_name());
    for (_, value) in m.fields() {
        match value {
            Value::Message(inner) => assert_no_unknown_fields(inner),
            Value::List(items) => items.iter().filter_map(Value::as_message).for_each(assert_no_unknown_fields),
            _ => {}
        }
    }
}

/// One sample of an export, resolved through the dictionary.
#[derive(Clone, Debug)]
struct OtlpSample {
    value: i64,
    /// Attribute key → value as text.
    attributes: BTreeMap<String, String>,
    /// Function names of the stack, leaf first (a location's lines innermost first).
    functions: Vec<String>,
    /// Mapping file name of each location, leaf first ("" for none).
    mappings: Vec<String>,
}

/// One export as the official protos decode it.
#[derive(Clone, Debug)]
struct Export {
    path: String,
    /// Size of the request body, gzip'd and not.
    bytes: (usize, usize),
    content_type: String,
    resource: BTreeMap<String, String>,
    scope: (String, String),
    sample_type: (String, String),
    period_type: (String, String),
    period: i64,
    time_unix_nano: u64,
    duration_nano: u64,
    samples: Vec<OtlpSample>,
}

impl Export {
    fn total(&self) -> u64 {
        self.samples.iter().map(|s| s.value as u64).sum()
    }
}

/// Decodes one request body and resolves every index through the dictionary, checking the
/// format's rules on the way (entry 0 of each table is the zero value, indices in range).
fn decode(desc: &MessageDescriptor, req: &Request) -> Result<Export, String> {
    if req.header("content-encoding") != Some("gzip") {
        return Err(format!("Content-Encoding {:?}, expected gzip", req.header("content-encoding")));
    }
    let mut body = Vec::new();
    flate2::read::GzDecoder::new(&req.body[..]).read_to_end(&mut body).map_err(|e| format!("gunzip: {e}"))?;
    let msg = DynamicMessage::decode(desc.clone(), &body[..]).map_err(|e| format!("decode: {e}"))?;
    assert_no_unknown_fields(&msg);
    let dict = message(&msg, "dictionary");
    let strings: Vec<String> = list(&dict, "string_table").iter().map(|v| v.as_str().unwrap().to_string()).collect();
    let table = |name: &str| -> Vec<DynamicMessage> {
        let t: Vec<DynamicMessage> = list(&dict, name).iter().map(|v| v.as_message().unwrap().clone()).collect();
        assert!(!t.is_empty(), "{name} has no zero entry");
        if name == "link_table" {
            assert!(t[0].fields().all(|(_, v)| v.as_bytes().is_some_and(|b| b.iter().all(|&x| x == 0))));
        } else {
            assert_eq!(t[0].fields().count(), 0, "{name}[0] is not the zero value: {:?}", t[0]);
        }
        t
    };
    assert_eq!(strings.first().map(String::as_str), Some(""), "string_table[0] must be empty");
    let (mappings, locations, functions) = (table("mapping_table"), table("location_table"), table("function_table"));
    let (attributes, stacks) = (table("attribute_table"), table("stack_table"));
    table("link_table");
    let string = |m: &DynamicMessage, name: &str| strings[index(m, name)].clone();
    let value_type = |m: &DynamicMessage, name: &str| {
        let vt = message(m, name);
        (string(&vt, "type_strindex"), string(&vt, "unit_strindex"))
    };

    let resources = list(&msg, "resource_profiles");
    assert_eq!(resources.len(), 1, "one resource per export");
    let rp = resources[0].as_message().unwrap();
    let resource = list(&message(rp, "resource"), "attributes")
        .iter()
        .map(|kv| {
            let kv = kv.as_message().unwrap();
            (field(kv, "key").as_str().unwrap().to_string(), any_value(&message(kv, "value")))
        })
        .collect();
    let scopes = list(rp, "scope_profiles");
    assert_eq!(scopes.len(), 1, "one scope per export");
    let sp = scopes[0].as_message().unwrap();
    let scope = message(sp, "scope");
    let scope =
        (field(&scope, "name").as_str().unwrap().to_string(), field(&scope, "version").as_str().unwrap().to_string());
    let profiles = list(sp, "profiles");
    assert_eq!(profiles.len(), 1, "one profile per export");
    let p = profiles[0].as_message().unwrap();

    let mut samples = Vec::new();
    for s in list(p, "samples") {
        let s = s.as_message().unwrap();
        let values = list(s, "values");
        assert_eq!(values.len(), 1, "one value per sample");
        let mut attrs = BTreeMap::new();
        for a in list(s, "attribute_indices") {
            let kv = &attributes[a.as_i32().unwrap() as usize];
            let key = string(kv, "key_strindex");
            assert!(attrs.insert(key.clone(), any_value(&message(kv, "value"))).is_none(), "{key} twice");
        }
        let (mut function_names, mut mapping_names) = (Vec::new(), Vec::new());
        for l in list(&stacks[index(s, "stack_index")], "location_indices") {
            let loc = &locations[l.as_i32().unwrap() as usize];
            let mapping = &mappings[index(loc, "mapping_index")];
            mapping_names.push(string(mapping, "filename_strindex"));
            for line in list(loc, "lines") {
                let f = &functions[index(line.as_message().unwrap(), "function_index")];
                function_names.push(string(f, "name_strindex"));
            }
        }
        samples.push(OtlpSample {
            value: values[0].as_i64().unwrap(),
            attributes: attrs,
            functions: function_names,
            mappings: mapping_names,
        });
    }
    Ok(Export {
        path: req.target.clone(),
        bytes: (req.body.len(), body.len()),
        content_type: req.header("content-type").unwrap_or("").to_string(),
        resource,
        scope,
        sample_type: value_type(p, "sample_type"),
        period_type: value_type(p, "period_type"),
        period: int(p, "period"),
        time_unix_nano: int(p, "time_unix_nano") as u64,
        duration_nano: int(p, "duration_nano") as u64,
        samples,
    })
}

// ---------------------------------------------------------------------------------------------
// A collector stand-in

/// What the collector stand-in received: each decoded export with the status it got, and the
/// requests it could not decode.
#[derive(Default)]
struct Log {
    exports: Vec<(Export, u16)>,
    errors: Vec<String>,
}

impl Log {
    /// The exports answered 2xx, in arrival order.
    fn stored(&self) -> Vec<Export> {
        self.exports.iter().filter(|(_, s)| (200..300).contains(s)).map(|(e, _)| e.clone()).collect()
    }
}

/// Decides the answer to a decoded export.
type Responder = Arc<Mutex<dyn FnMut(&Export) -> Reply + Send>>;

/// A receiver that decodes every POST to `/v1development/profiles` with the official protos.
fn collector(log: &Arc<Mutex<Log>>, responder: Responder) -> Receiver {
    let desc = request_descriptor();
    let log = Arc::clone(log);
    Receiver::start(
        0,
        Arc::new(move |req: Request| {
            let decoded = match (req.method.as_str(), req.target.as_str()) {
                ("POST", "/v1development/profiles") => decode(&desc, &req),
                (m, t) => Err(format!("{m} {t}: not the OTLP profiles export path")),
            };
            match decoded {
                Ok(export) => {
                    let reply = (responder.lock().unwrap())(&export);
                    log.lock().unwrap().exports.push((export, reply.status));
                    reply
                }
                Err(why) => {
                    let reply = Reply::text(400, &why);
                    log.lock().unwrap().errors.push(why);
                    reply
                }
            }
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// Synthetic archives and the pusher

/// Archive `i` (10 s from `T0 + 10 s × i`): process 4242 (`app`, main thread and thread 4243
/// `worker`) in `main → run → work_<i>` with `work_<i>` inlined into `run`, 5 + i samples, and
/// process 77 in a kernel-only stack, 2 samples.
fn write_archive(dir: &Path, i: u64) -> PathBuf {
    let mut meta = interval_meta(i, 7 + i);
    meta.hostname = "box-1".into();
    meta.prof_version = "9.9.9".into();
    let mut b = ProfileBuilder::new(meta);
    let start = b.frame(Frame::new("__libc_start_main", "libc.so.6", FrameKind::User));
    let main = b.frame(Frame::new("main", "app", FrameKind::User));
    let run = b.frame(Frame::new("run", "app", FrameKind::User));
    let mut work = Frame::new(format!("work_{i}"), "app", FrameKind::User);
    work.inlined = true;
    let work = b.frame(work);
    let schedule = b.frame(Frame::new("schedule", "", FrameKind::Kernel));
    let user = b.stack(vec![start, main, run, work]);
    let kernel = b.stack(vec![schedule]);
    b.add_thread(user, 4242, 4242, "app", 3 + i);
    b.add_thread(user, 4242, 4243, "worker", 2);
    b.add_thread(kernel, 77, 77, "kworker/0:1", 2);
    // app runs in a container, where it is pid 7
    b.ns_pid(4242, 7);
    let path = dir.join(prof::store::archive_name(T0 + i * 10 * SEC, 1, i));
    prof::archive::write_file(&b.finish(), &path).expect("write the archive");
    path
}

/// An OTLP pusher for `url` with short backoff and `grace`, app `myapp` and label `env=test`.
fn pusher(url: &str, grace: Duration) -> Pusher {
    pusher_with(url, push_store::fast(grace))
}

/// An OTLP pusher for `url` with `opts`, app `myapp` and label `env=test`.
fn pusher_with(url: &str, opts: prof::push::PushOptions) -> Pusher {
    let endpoint = Endpoint::parse_for(Protocol::Otlp, url).unwrap();
    let series = Series::new("myapp", &[("env".to_string(), "test".to_string())]).unwrap();
    Pusher::start(Client::new(endpoint, opts.timeout), Protocol::Otlp, series, opts).unwrap()
}

fn ok() -> Responder {
    Arc::new(Mutex::new(|_: &Export| Reply::text(200, "")))
}

/// Attributes as (key, value) pairs of text.
fn pairs(m: &BTreeMap<String, String>) -> Vec<(&str, &str)> {
    m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// One push is an OTLP profiles export the official protos decode: posted as protobuf to
/// `/v1development/profiles`, with the resource (service, host, OS, labels), prof's scope, the
/// sample and period types, the interval's time, every sample with its value, process and
/// thread attributes (`process.vpid` for a process in a container), and stacks whose function and mapping names resolve through the
/// dictionary, leaf first.
#[test]
fn push_otlp_export_decodes_with_the_official_protos() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(Log::default()));
    let rx = collector(&log, ok());
    let p = pusher(&rx.url(), Duration::from_secs(5));
    p.enqueue(write_archive(dir.path(), 3));
    let stats = p.finish();
    rx.stop();
    assert_eq!((stats.pushed, stats.retries, stats.not_pushed()), (1, 0, 0), "{stats:?}");
    let log = log.lock().unwrap();
    assert!(log.errors.is_empty(), "{:?}", log.errors);
    let e = &log.stored()[0];
    assert_eq!((e.path.as_str(), e.content_type.as_str()), ("/v1development/profiles", "application/x-protobuf"));
    assert_eq!(
        pairs(&e.resource),
        [("env", "test"), ("host.name", "box-1"), ("os.type", "linux"), ("service.name", "myapp")]
    );
    assert_eq!(e.scope, ("prof".to_string(), "9.9.9".to_string()));
    assert_eq!(e.sample_type, ("samples".to_string(), "count".to_string()));
    assert_eq!(e.period_type, ("cpu".to_string(), "nanoseconds".to_string()));
    assert_eq!(e.period, 10_101_010, "1e9 / 99 Hz");
    assert_eq!((e.time_unix_nano, e.duration_nano), (T0 + 30 * SEC, 10 * SEC));
    let archive = prof::archive::read_file(&prof::store::list(dir.path()).unwrap().0[0].path).unwrap();
    assert_eq!(e.total(), archive.total());
    assert_eq!(e.total(), 10);

    let by_tid = |tid: &str| e.samples.iter().find(|s| s.attributes.get("thread.id").map(String::as_str) == Some(tid));
    let main = by_tid("4242").expect("the main thread's sample");
    assert_eq!(main.value, 6);
    assert_eq!(
        pairs(&main.attributes),
        [
            ("process.executable.name", "app"),
            ("process.pid", "4242"),
            ("process.vpid", "7"),
            ("thread.id", "4242"),
            ("thread.name", "app")
        ]
    );
    // work_3 is inlined into run: one location with two lines, innermost first.
    assert_eq!(main.functions, ["work_3", "run", "main", "__libc_start_main"]);
    assert_eq!(main.mappings, ["app", "app", "libc.so.6"]);
    let worker = by_tid("4243").expect("the worker thread's sample");
    assert_eq!((worker.value, worker.attributes["thread.name"].as_str()), (2, "worker"));
    assert_eq!(worker.attributes["process.pid"], "4242");
    let kernel = by_tid("77").expect("the kernel thread's sample");
    assert_eq!(kernel.functions, ["schedule"]);
    assert_eq!(kernel.mappings, ["[kernel.kallsyms]"]);
    assert!(!kernel.attributes.contains_key("process.executable.name"), "{:?}", kernel.attributes);
    assert!(!kernel.attributes.contains_key("process.vpid"), "{:?}", kernel.attributes);
}

/// A collector answering 503 (then 429) gets the same interval again with backoff, later ones
/// wait, and each arrives once, in order; a 400 is not retried.
#[test]
fn push_otlp_retries_503_and_keeps_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(Log::default()));
    let mut script = push_store::RetryScript::default();
    let responder: Responder =
        Arc::new(Mutex::new(move |e: &Export| Reply::text(script.status((e.time_unix_nano - T0) / (10 * SEC)), "")));
    let rx = collector(&log, responder);
    let p = pusher(&rx.url(), Duration::from_secs(5));
    for i in 0..4 {
        p.enqueue(write_archive(dir.path(), i));
    }
    let stats = p.finish();
    rx.stop();
    assert_eq!((stats.pushed, stats.retries, stats.rejected, stats.not_pushed()), (3, 2, 1, 1), "{stats:?}");
    let log = log.lock().unwrap();
    assert!(log.errors.is_empty(), "{:?}", log.errors);
    let seen: Vec<(u64, u16, u64)> =
        log.exports.iter().map(|(e, s)| ((e.time_unix_nano - T0) / (10 * SEC), *s, e.total())).collect();
    assert_eq!(seen, [(0, 200, 7), (1, 503, 8), (1, 429, 8), (1, 200, 8), (2, 400, 9), (3, 200, 10)]);
}

/// A 200 whose `partial_success` rejects the profile counts it as rejected (not retried); one
/// that only carries a warning (0 rejected), or a body that is not protobuf, is success.
#[test]
fn push_otlp_partial_success_rejection_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(Log::default()));
    let responder: Responder = Arc::new(Mutex::new(|e: &Export| match (e.time_unix_nano - T0) / (10 * SEC) {
        0 => partial_success(1, "sample values out of range"),
        1 => partial_success(0, "a warning only"),
        _ => Reply { status: 200, content_type: "application/json", body: b"{}".to_vec() },
    }));
    let rx = collector(&log, responder);
    let (tx, messages) = std::sync::mpsc::sync_channel(16);
    let p = pusher_with(
        &rx.url(),
        prof::push::PushOptions { messages: Some(tx), ..push_store::fast(Duration::from_secs(5)) },
    );
    for i in 0..3 {
        p.enqueue(write_archive(dir.path(), i));
    }
    let stats = p.finish();
    rx.stop();
    assert_eq!((stats.pushed, stats.rejected, stats.retries, stats.not_pushed()), (2, 1, 0, 1), "{stats:?}");
    assert_eq!(log.lock().unwrap().exports.len(), 3, "the rejection was retried");
    let warnings: Vec<String> = messages.try_iter().map(|m| m.text).collect();
    assert!(warnings.iter().any(|w| w.contains("rejected 1 profile(s): sample values out of range")), "{warnings:?}");
}

/// `--label service.name=svc-{comm}` replaces the resource's `service.name` per thread name:
/// one export per name, each with only its samples, `env` kept.
#[test]
fn push_otlp_label_placeholders_split_by_service() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(Log::default()));
    let rx = collector(&log, ok());
    let opts = push_store::fast(Duration::from_secs(5));
    let endpoint = Endpoint::parse_for(Protocol::Otlp, &rx.url()).unwrap();
    let labels = [("service.name".to_string(), "svc-{comm}".to_string()), ("env".to_string(), "test".to_string())];
    let series = Series::new("myapp", &labels).unwrap();
    let p = Pusher::start(Client::new(endpoint, opts.timeout), Protocol::Otlp, series, opts).unwrap();
    p.enqueue(write_archive(dir.path(), 1));
    let stats = p.finish();
    rx.stop();
    assert_eq!((stats.pushed, stats.not_pushed()), (1, 0), "{stats:?}");
    let log = log.lock().unwrap();
    assert!(log.errors.is_empty(), "{:?}", log.errors);
    let got: Vec<(String, String, u64, Vec<String>)> = log
        .stored()
        .iter()
        .map(|e| {
            let mut comms: Vec<String> = e.samples.iter().map(|s| s.attributes["thread.name"].clone()).collect();
            comms.dedup();
            (e.resource["service.name"].clone(), e.resource["env"].clone(), e.total(), comms)
        })
        .collect();
    let row = |svc: &str, n: u64, comm: &str| (svc.to_string(), "test".to_string(), n, vec![comm.to_string()]);
    assert_eq!(
        got,
        [row("svc-app", 4, "app"), row("svc-kworker/0:1", 2, "kworker/0:1"), row("svc-worker", 2, "worker")]
    );
}

/// Two pushers that end together (`--push` and `--push-otlp` with both stores down) spend one
/// grace period between them, not one each.
#[test]
fn push_otlp_two_pushers_share_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}", push_store::free_port());
    let grace = Duration::from_millis(400);
    let otlp = pusher(&url, grace);
    let endpoint = Endpoint::parse(&url).unwrap();
    let series = Series::new("myapp", &[]).unwrap();
    let opts = push_store::fast(grace);
    let pyroscope = Pusher::start(Client::new(endpoint, opts.timeout), Protocol::Pyroscope, series, opts).unwrap();
    for i in 0..2 {
        let path = write_archive(dir.path(), i);
        otlp.enqueue(path.clone());
        pyroscope.enqueue(path);
    }
    let t = std::time::Instant::now();
    otlp.begin_finish();
    pyroscope.begin_finish();
    let stats = [otlp.finish(), pyroscope.finish()];
    let took = t.elapsed();
    println!("two pushers finished in {took:?} with a {grace:?} grace period");
    assert!(took < grace + Duration::from_millis(300), "{took:?}");
    for s in stats {
        assert_eq!((s.pushed, s.unsent), (0, 2), "{s:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// End to end with the sampler

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// `prof record --continuous --push-otlp` of the two-thread workload: every archive written
/// reaches the collector once, in order, with its samples; the workload's samples carry its
/// pid, each thread's id and name and the executable's name, and its hot functions resolve
/// through the dictionary.
#[test]
fn push_otlp_record_continuous_exports_each_interval() {
    let _m = bpf_test!("push_otlp_record_continuous_exports_each_interval");
    let bin = common::workload("threads");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("archives");
    let log = Arc::new(Mutex::new(Log::default()));
    let rx = collector(&log, ok());
    let url = rx.url();
    let out = common::prof_ok(&[
        os("record"),
        os("--continuous"),
        os("--dir"),
        d.as_os_str(),
        os("--interval"),
        os("1s"),
        os("--push-otlp"),
        os(&url),
        os("--app-name"),
        os("e2e"),
        os("--label"),
        os("env=test"),
        os("--"),
        bin.as_os_str(),
        os("3"),
    ]);
    rx.stop();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stderr}");
    let (entries, _) = prof::store::list(&d).unwrap();
    let archives: Vec<prof::profile::Profile> =
        entries.iter().map(|e| prof::archive::read_file(&e.path).expect("archive reads")).collect();
    let log = log.lock().unwrap();
    assert!(log.errors.is_empty(), "{:?}", log.errors);
    let stored = log.stored();
    let written: Vec<(u64, u64)> = archives.iter().map(|a| (a.meta.start_unix_ns, a.total())).collect();
    let received: Vec<(u64, u64)> = stored.iter().map(|e| (e.time_unix_nano, e.total())).collect();
    println!("{} intervals written, {} received: {received:?}", archives.len(), stored.len());
    let sizes: Vec<(usize, usize)> = stored.iter().map(|e| e.bytes).collect();
    println!("export sizes (gzip'd, protobuf bytes): {sizes:?}");
    assert!(archives.len() >= 3, "only {} archives", archives.len());
    assert_eq!(received, written, "every written interval, once, in order, with its samples");
    let n = archives.len();
    assert!(stderr.contains(&format!("prof: pushed {n} of {n} intervals to `{url}`")), "{stderr}");
    for e in &stored {
        assert_eq!((e.resource["service.name"].as_str(), e.resource["env"].as_str()), ("e2e", "test"));
        assert_eq!(e.sample_type, ("samples".to_string(), "count".to_string()));
    }
    let samples: Vec<&OtlpSample> = stored.iter().flat_map(|e| &e.samples).collect();
    let thread = |name: &str| -> Vec<&OtlpSample> {
        samples.iter().copied().filter(|s| s.attributes.get("thread.name").map(String::as_str) == Some(name)).collect()
    };
    let (a, b) = (thread("thr_a"), thread("thr_b"));
    let count = |v: &[&OtlpSample]| v.iter().map(|s| s.value).sum::<i64>();
    println!("thr_a {} samples, thr_b {} samples", count(&a), count(&b));
    // 3 s at 99 Hz per busy thread is ~300 each on an idle machine; a loaded one (CI shares its
    // 2 CPUs) gives far fewer: the check is that both threads are there with their attributes.
    assert!(count(&a) >= 10 && count(&b) >= 10, "thr_a {} thr_b {}", count(&a), count(&b));
    let pid = &a[0].attributes["process.pid"];
    for s in a.iter().chain(&b) {
        assert_eq!(&s.attributes["process.pid"], pid, "{:?}", s.attributes);
        assert_ne!(&s.attributes["thread.id"], pid, "a worker thread has its own id");
    }
    // The leaf (first location's innermost line) is spin_a / spin_b, called from run.
    let hot = |v: &[&OtlpSample], f: &str| -> i64 {
        v.iter().filter(|s| s.functions.len() >= 2 && s.functions[..2] == [f, "run"]).map(|s| s.value).sum()
    };
    let leaves: Vec<(&str, i64)> = a.iter().map(|s| (s.functions[0].as_str(), s.value)).collect();
    assert!(hot(&a, "spin_a") * 10 >= count(&a) * 8, "thr_a's leaf is mostly spin_a: {leaves:?}");
    assert!(hot(&b, "spin_b") * 10 >= count(&b) * 8, "thr_b's leaf is mostly spin_b");
    let exe: Vec<&str> =
        a.iter().filter_map(|s| s.attributes.get("process.executable.name")).map(String::as_str).collect();
    assert!(!exe.is_empty() && exe.iter().all(|&e| e == "w_threads"), "{exe:?}");
}
