//! OTLP profiles: a [`Profile`] as an OpenTelemetry `ExportProfilesServiceRequest` (the
//! `v1development` profiles signal of opentelemetry-proto v1.11.0, vendored in
//! `proto/github.com/open-telemetry/opentelemetry-proto/`), what `record --continuous
//! --push-otlp URL` posts for each interval.
//!
//! One request holds one resource, one scope and one profile:
//!
//! - Resource attributes: `service.name` (the application name), `host.name` (the recording's
//!   host, when known), `os.type` = `linux`, then the `--label`s (a label of the same key
//!   replaces one of these).
//! - Scope: `prof` and the version of prof that recorded the profile.
//! - Sample type `samples`/`count` with period type `cpu`/`nanoseconds` and period
//!   `1e9 / frequency` (no period when the frequency is unknown); a profile whose counts are
//!   CPU time (folded input) has sample type `cpu`/`nanoseconds` and no period. Start time and
//!   duration are the interval's.
//! - The dictionary is laid out as the pprof export's tables are (see [`pprof`](super::pprof)):
//!   one location per physical frame (its inlined calls are its lines, innermost first), one
//!   function per (name, source file), one mapping per binary (file name only, address ranges
//!   0), stacks leaf first. Entry 0 of every table is the zero value, as the format requires.
//! - Per-sample attributes (see [`sample_attributes`]): `process.pid`, `process.vpid` (the
//!   pid in the process's own pid namespace, for a process in a container), `thread.id` (when the
//!   sample has one), `thread.name` (the comm) and `process.executable.name` where known; for a
//!   sample whose cgroup is known, `process.linux.cgroup` (its v2 path) and what the path names:
//!   `container.id` and `container.runtime`, `k8s.pod.uid`.
//!
//! Host, kernel, target (a command line) and notes of the metadata are not sent, except the
//! host name as `host.name`. Every table index is checked against the format's 32-bit indices:
//! a profile too large for them is an error, never a panic or a wrapped index.

pub mod proto;

use prost::Message;
use rustc_hash::FxHashMap as HashMap;

use super::pprof::{can_be_main_binary, mapping_name, period_ns, physical_frames, to_i64};
use crate::profile::cgroup::Workload;
use crate::profile::{Cgroup, Frame, FrameId, FrameKind, Profile, Sample};

/// The path of OTLP/HTTP's profiles export, appended to the collector's base URL.
pub const EXPORT_PATH: &str = "/v1development/profiles";

/// The content type of a binary-protobuf OTLP/HTTP request.
pub const CONTENT_TYPE: &str = "application/x-protobuf";

/// The instrumentation scope name of every export.
pub const SCOPE_NAME: &str = "prof";

/// Why a profile cannot be exported.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    /// A dictionary table would need an index beyond `i32::MAX`.
    #[error("the profile has more {table} than OTLP's 32-bit dictionary indices can address")]
    TooLarge {
        /// Which table (`strings`, `locations`, …).
        table: &'static str,
    },
}

/// Why a collector's answer to an export (a 2xx response of content type [`CONTENT_TYPE`])
/// refuses the profile: `Some(reason)` when its `partial_success` rejects profiles. `None` when
/// it accepts everything, or the answer is not an `ExportProfilesServiceResponse` (a 2xx is
/// then taken as success, as the OTLP specification says for an empty body).
pub fn rejection(response: &[u8]) -> Option<String> {
    let partial = proto::ExportProfilesServiceResponse::decode(response).ok()?.partial_success?;
    (partial.rejected_profiles > 0).then(|| {
        let message: String = partial.error_message.chars().filter(|c| !c.is_control()).take(200).collect();
        match message.is_empty() {
            true => format!("the collector rejected {} profile(s)", partial.rejected_profiles),
            false => format!("the collector rejected {} profile(s): {message}", partial.rejected_profiles),
        }
    })
}

/// The resource an export describes, besides what the profile's metadata says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceInfo {
    /// `service.name`.
    pub service_name: String,
    /// Further resource attributes (`--label NAME=VALUE`), string-valued.
    pub labels: Vec<(String, String)>,
}

/// The request of `profile`, encoded as protobuf (the body of an OTLP/HTTP export).
pub fn encode(profile: &Profile, resource: &ResourceInfo) -> Result<Vec<u8>, OtlpError> {
    Ok(export_request(profile, resource)?.encode_to_vec())
}

/// The `ExportProfilesServiceRequest` of `profile` (see the [module documentation](self)).
pub fn export_request(
    profile: &Profile,
    resource: &ResourceInfo,
) -> Result<proto::ExportProfilesServiceRequest, OtlpError> {
    let meta = &profile.meta;
    let mut dict = Dictionary::new(profile);
    let (sample_type, period_type, period) = if meta.weight_unit.is_count() {
        let period = period_ns(meta);
        let period_type = match period {
            Some(_) => Some(dict.value_type("cpu", "nanoseconds")?),
            None => None,
        };
        (dict.value_type("samples", "count")?, period_type, period.map_or(0, to_i64))
    } else {
        (dict.value_type("cpu", "nanoseconds")?, None, 0)
    };
    let executables = executables(profile);
    let workloads: Vec<Workload> = profile.cgroups.iter().map(Cgroup::workload).collect();
    let mut samples = Vec::with_capacity(profile.samples.len());
    for sample in &profile.samples {
        let stack_index = dict.stack(sample.stack)?;
        let mut attribute_indices = Vec::new();
        let cgroup = sample.cgroup.and_then(|i| Some((profile.cgroups.get(i as usize)?, workloads.get(i as usize)?)));
        let process =
            SampleProcess { executable: executables.get(&sample.pid).copied(), ns_pid: profile.ns_pid_of(sample.pid) };
        for (key, value) in sample_attributes(sample, process, cgroup) {
            attribute_indices.push(dict.attribute(key, value)?);
        }
        samples.push(proto::Sample {
            stack_index,
            attribute_indices,
            link_index: 0,
            values: vec![to_i64(sample.count)],
        });
    }
    let out = proto::Profile {
        sample_type: Some(sample_type),
        samples,
        time_unix_nano: meta.start_unix_ns,
        duration_nano: meta.end_unix_ns.saturating_sub(meta.start_unix_ns),
        period_type,
        period,
        attribute_indices: Vec::new(),
    };
    let version = if meta.prof_version.is_empty() { env!("CARGO_PKG_VERSION") } else { &meta.prof_version };
    let scope = proto::InstrumentationScope { name: SCOPE_NAME.to_string(), version: version.to_string() };
    Ok(proto::ExportProfilesServiceRequest {
        resource_profiles: vec![proto::ResourceProfiles {
            resource: Some(proto::Resource { attributes: resource_attributes(&meta.hostname, resource) }),
            scope_profiles: vec![proto::ScopeProfiles {
                scope: Some(scope),
                profiles: vec![out],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
        dictionary: Some(dict.finish()),
    })
}

/// The resource's attributes: `service.name`, `host.name`, `os.type`, then the labels (a label
/// replaces an attribute of the same key; keys stay unique, as OTLP requires).
fn resource_attributes(hostname: &str, resource: &ResourceInfo) -> Vec<proto::KeyValue> {
    let mut attrs: Vec<(String, String)> = vec![("service.name".into(), resource.service_name.clone())];
    if !hostname.is_empty() {
        attrs.push(("host.name".into(), hostname.to_string()));
    }
    attrs.push(("os.type".into(), "linux".into()));
    for (k, v) in &resource.labels {
        match attrs.iter_mut().find(|(key, _)| key == k) {
            Some(existing) => existing.1 = v.clone(),
            None => attrs.push((k.clone(), v.clone())),
        }
    }
    attrs.into_iter().map(|(key, v)| proto::KeyValue { key, value: Some(proto::AnyValue::string(v)) }).collect()
}

/// A per-sample attribute value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AttributeValue<'a> {
    /// An integer (`process.pid`, `thread.id`).
    Int(i64),
    /// A string (`thread.name`, `process.executable.name`).
    Str(&'a str),
}

/// What a profile knows of a sample's process beyond the sample itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct SampleProcess<'a> {
    /// Its executable's name (see [`executables`]), when known.
    pub executable: Option<&'a str>,
    /// Its pid in its own pid namespace, when that differs from the host's.
    pub ns_pid: Option<u32>,
}

/// The attributes of one sample, in this order: `process.pid`; `process.vpid` for a process
/// in another pid namespace; `thread.id` when the sample has a thread id; `thread.name` (the
/// comm) when not empty; `process.executable.name` when known; with the sample's cgroup and
/// what its path names (`cgroup`), `process.linux.cgroup` (the path, when known),
/// `container.id` and `container.runtime`, `k8s.pod.uid`, each where known.
pub fn sample_attributes<'a>(
    sample: &'a Sample,
    process: SampleProcess<'a>,
    cgroup: Option<(&'a Cgroup, &'a Workload)>,
) -> impl Iterator<Item = (&'static str, AttributeValue<'a>)> + 'a {
    let pid = Some(("process.pid", AttributeValue::Int(i64::from(sample.pid))));
    let vpid = process.ns_pid.map(|n| ("process.vpid", AttributeValue::Int(i64::from(n))));
    let tid = (sample.tid != 0).then(|| ("thread.id", AttributeValue::Int(i64::from(sample.tid))));
    let comm = (!sample.comm.is_empty()).then_some(("thread.name", AttributeValue::Str(sample.comm.as_str())));
    let exe = process.executable.map(|e| ("process.executable.name", AttributeValue::Str(e)));
    let path = cgroup
        .filter(|(c, _)| !c.path.is_empty())
        .map(|(c, _)| ("process.linux.cgroup", AttributeValue::Str(c.path.as_str())));
    let container = cgroup.and_then(|(_, w)| w.container.as_ref());
    let id = container.map(|c| ("container.id", AttributeValue::Str(c.id.as_str())));
    let runtime = container.map(|c| ("container.runtime", AttributeValue::Str(c.runtime.name())));
    let pod = cgroup.and_then(|(_, w)| w.pod_uid.as_deref()).map(|p| ("k8s.pod.uid", AttributeValue::Str(p)));
    [pid, vpid, tid, comm, exe, path, id, runtime, pod].into_iter().flatten()
}

/// The executable of each process, where the profile shows it: the binary of the outermost
/// user frame, of the process's first sample that has one, that can be a program's main
/// binary (not a shared library, not a bracketed pseudo-file such as `[vdso]` or `[unknown]`,
/// not a JIT map). Processes with only kernel frames or only library frames have none.
pub fn executables(profile: &Profile) -> HashMap<u32, &str> {
    let mut out: HashMap<u32, &str> = HashMap::default();
    for sample in &profile.samples {
        if out.contains_key(&sample.pid) {
            continue;
        }
        let Some(stack) = profile.stacks.get(sample.stack as usize) else { continue };
        let exe = stack.iter().filter_map(|&f| profile.frames.get(f as usize)).find(|f| could_be_executable(f));
        if let Some(f) = exe {
            out.insert(sample.pid, f.module.as_str());
        }
    }
    out
}

/// True for a user frame whose module can be the program's executable.
fn could_be_executable(f: &Frame) -> bool {
    f.kind == FrameKind::User
        && !f.inlined
        && can_be_main_binary(f.module.as_bytes())
        && !(f.module.starts_with("perf-") && f.module.ends_with(".map"))
}

/// The next index of a table of `len` entries, if it fits the format's `int32` indices.
fn next_index(len: usize, table: &'static str) -> Result<i32, OtlpError> {
    i32::try_from(len).map_err(|_| OtlpError::TooLarge { table })
}

/// The dictionary being built; each entry is added on first use (entry 0 of each table is the
/// zero value), so indices are in order of first use and the same profile gives the same bytes.
struct Dictionary<'a> {
    profile: &'a Profile,
    dict: proto::ProfilesDictionary,
    strings: HashMap<&'a str, i32>,
    locations: HashMap<&'a [FrameId], i32>,
    functions: HashMap<(&'a str, &'a str), i32>,
    mappings: HashMap<&'a str, i32>,
    /// Stack-table index per profile stack id, 0 until the stack is first used.
    stacks: Vec<i32>,
    attributes: HashMap<(&'static str, AttributeValue<'a>), i32>,
}

impl<'a> Dictionary<'a> {
    fn new(profile: &'a Profile) -> Self {
        let dict = proto::ProfilesDictionary {
            mapping_table: vec![proto::Mapping::default()],
            location_table: vec![proto::Location::default()],
            function_table: vec![proto::Function::default()],
            link_table: vec![proto::Link { trace_id: vec![0; 16], span_id: vec![0; 8] }],
            string_table: vec![String::new()],
            attribute_table: vec![proto::KeyValueAndUnit::default()],
            stack_table: vec![proto::Stack::default()],
        };
        let mut strings = HashMap::default();
        strings.insert("", 0);
        Dictionary {
            profile,
            dict,
            strings,
            locations: HashMap::default(),
            functions: HashMap::default(),
            mappings: HashMap::default(),
            stacks: vec![0; profile.stacks.len()],
            attributes: HashMap::default(),
        }
    }

    fn finish(self) -> proto::ProfilesDictionary {
        self.dict
    }

    fn string(&mut self, s: &'a str) -> Result<i32, OtlpError> {
        if let Some(&i) = self.strings.get(s) {
            return Ok(i);
        }
        let i = next_index(self.dict.string_table.len(), "strings")?;
        self.dict.string_table.push(s.to_string());
        self.strings.insert(s, i);
        Ok(i)
    }

    fn value_type(&mut self, t: &'a str, unit: &'a str) -> Result<proto::ValueType, OtlpError> {
        Ok(proto::ValueType { type_strindex: self.string(t)?, unit_strindex: self.string(unit)? })
    }

    fn attribute(&mut self, key: &'static str, value: AttributeValue<'a>) -> Result<i32, OtlpError> {
        if let Some(&i) = self.attributes.get(&(key, value.clone())) {
            return Ok(i);
        }
        let i = next_index(self.dict.attribute_table.len(), "attributes")?;
        let any = match value {
            AttributeValue::Int(n) => proto::AnyValue::int(n),
            AttributeValue::Str(s) => proto::AnyValue::string(s),
        };
        let key_strindex = self.string(key)?;
        self.dict.attribute_table.push(proto::KeyValueAndUnit { key_strindex, value: Some(any), unit_strindex: 0 });
        self.attributes.insert((key, value), i);
        Ok(i)
    }

    /// The stack-table index of profile stack `id` (leaf first); 0 (the empty stack) for an id
    /// the profile does not have or a stack without frames.
    fn stack(&mut self, id: u32) -> Result<i32, OtlpError> {
        let profile = self.profile;
        let Some(frames) = profile.stacks.get(id as usize).filter(|s| !s.is_empty()) else { return Ok(0) };
        if self.stacks[id as usize] != 0 {
            return Ok(self.stacks[id as usize]);
        }
        let mut location_indices = Vec::with_capacity(frames.len());
        for group in physical_frames(profile, frames) {
            location_indices.push(self.location(group)?);
        }
        location_indices.reverse();
        let i = next_index(self.dict.stack_table.len(), "stacks")?;
        self.dict.stack_table.push(proto::Stack { location_indices });
        self.stacks[id as usize] = i;
        Ok(i)
    }

    /// The location of a physical frame: the outer frame and the frames inlined into it.
    fn location(&mut self, group: &'a [FrameId]) -> Result<i32, OtlpError> {
        if let Some(&i) = self.locations.get(group) {
            return Ok(i);
        }
        let profile = self.profile;
        let mapping_index = match group.first().and_then(|&f| mapping_name(&profile.frames[f as usize])) {
            Some(name) => self.mapping(name)?,
            None => 0,
        };
        let mut lines = Vec::with_capacity(group.len());
        for &f in group.iter().rev() {
            let frame = &profile.frames[f as usize];
            lines.push(proto::Line {
                function_index: self.function(frame)?,
                line: frame.line.map_or(0, i64::from),
                column: 0,
            });
        }
        let i = next_index(self.dict.location_table.len(), "locations")?;
        self.dict.location_table.push(proto::Location {
            mapping_index,
            address: 0,
            lines,
            attribute_indices: Vec::new(),
        });
        self.locations.insert(group, i);
        Ok(i)
    }

    fn mapping(&mut self, name: &'a str) -> Result<i32, OtlpError> {
        if let Some(&i) = self.mappings.get(name) {
            return Ok(i);
        }
        let i = next_index(self.dict.mapping_table.len(), "mappings")?;
        let filename_strindex = self.string(name)?;
        self.dict.mapping_table.push(proto::Mapping { filename_strindex, ..Default::default() });
        self.mappings.insert(name, i);
        Ok(i)
    }

    fn function(&mut self, f: &'a Frame) -> Result<i32, OtlpError> {
        let file = f.file.as_deref().unwrap_or("");
        if let Some(&i) = self.functions.get(&(f.name.as_str(), file)) {
            return Ok(i);
        }
        let i = next_index(self.dict.function_table.len(), "functions")?;
        let (name_strindex, filename_strindex) = (self.string(&f.name)?, self.string(file)?);
        // No system (mangled) name: prof keeps demangled names only.
        self.dict.function_table.push(proto::Function {
            name_strindex,
            system_name_strindex: 0,
            filename_strindex,
            start_line: 0,
        });
        self.functions.insert((&f.name, file), i);
        Ok(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Metadata, ProfileBuilder, WeightUnit};

    /// A profile of one stack `clone3 (libc) → worker (app) → leaf (app)` sampled in two
    /// threads of process 10, and a JIT-only stack of process 20.
    fn profile(weight_unit: WeightUnit) -> Profile {
        let meta = Metadata { frequency_hz: 99, weight_unit, ..Metadata::default() };
        let mut b = ProfileBuilder::new(meta);
        let clone = b.frame(Frame::new("clone3", "libc.so.6", FrameKind::User));
        let worker = b.frame(Frame::new("worker", "app", FrameKind::User));
        let leaf = b.frame(Frame::new("leaf", "app", FrameKind::User));
        let jit = b.frame(Frame::new("jitted", "perf-20.map", FrameKind::User));
        let stack = b.stack(vec![clone, worker, leaf]);
        let jit_stack = b.stack(vec![jit]);
        b.add_thread(stack, 10, 11, "w", 3);
        b.add_thread(stack, 10, 12, "w", 4);
        b.add_thread(jit_stack, 20, 20, "node", 1);
        b.finish()
    }

    /// Samples share stacks, locations and attributes through the dictionary; the same profile
    /// always encodes to the same bytes.
    #[test]
    fn otlp_dictionary_interns_and_is_deterministic() {
        let p = profile(WeightUnit::Samples);
        let req = export_request(&p, &ResourceInfo::default()).unwrap();
        let dict = req.dictionary.as_ref().unwrap();
        // The zero entry and two stacks; the zero entry and one location per frame.
        assert_eq!((dict.stack_table.len(), dict.location_table.len()), (3, 5));
        let samples = &req.resource_profiles[0].scope_profiles[0].profiles[0].samples;
        assert_eq!(samples[0].stack_index, samples[1].stack_index);
        // process.pid=10, thread.name=w and the executable are shared; the thread ids are not.
        let shared: Vec<_> =
            samples[0].attribute_indices.iter().filter(|a| samples[1].attribute_indices.contains(a)).collect();
        assert_eq!(shared.len(), 3);
        assert_eq!(encode(&p, &ResourceInfo::default()).unwrap(), encode(&p, &ResourceInfo::default()).unwrap());
    }

    /// A sample in a Kubernetes container carries its cgroup path, container id and runtime and
    /// pod uid; one without a cgroup none of them.
    #[test]
    fn otlp_cgroup_attributes() {
        let id = "d1".repeat(32);
        let uid = "7e2b9c4d-1a3f-4b5e-8c6d-0f1e2d3c4b5a";
        let c = Cgroup { id: 5, path: format!("/kubepods/burstable/pod{uid}/{id}") };
        let w = c.workload();
        let p = profile(WeightUnit::Samples);
        let keys = |cgroup| {
            sample_attributes(&p.samples[0], SampleProcess::default(), cgroup).map(|(k, _)| k).collect::<Vec<_>>()
        };
        assert_eq!(
            keys(Some((&c, &w))),
            [
                "process.pid",
                "thread.id",
                "thread.name",
                "process.linux.cgroup",
                "container.id",
                "container.runtime",
                "k8s.pod.uid"
            ]
        );
        assert_eq!(keys(None), ["process.pid", "thread.id", "thread.name"]);
        let values: Vec<String> = sample_attributes(&p.samples[0], SampleProcess::default(), Some((&c, &w)))
            .filter_map(|(_, v)| match v {
                AttributeValue::Str(s) => Some(s.to_string()),
                AttributeValue::Int(_) => None,
            })
            .collect();
        assert_eq!(values, ["w", c.path.as_str(), id.as_str(), "container", uid]);
    }

    /// A process in another pid namespace carries `process.vpid`, its pid there; one whose
    /// namespace pid is its host pid, and one of unknown namespace, does not.
    #[test]
    fn otlp_namespace_pid_is_vpid() {
        let mut p = profile(WeightUnit::Samples);
        p.ns_pids.insert(10, 1);
        p.ns_pids.insert(20, 20);
        let req = export_request(&p, &ResourceInfo::default()).unwrap();
        let dict = req.dictionary.as_ref().unwrap();
        let samples = &req.resource_profiles[0].scope_profiles[0].profiles[0].samples;
        let vpids: Vec<Vec<i64>> = samples
            .iter()
            .map(|s| {
                s.attribute_indices
                    .iter()
                    .map(|&i| &dict.attribute_table[i as usize])
                    .filter(|kv| dict.string_table[kv.key_strindex as usize] == "process.vpid")
                    .filter_map(|kv| match kv.value.as_ref()?.value {
                        Some(proto::Value::IntValue(n)) => Some(n),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        assert_eq!(vpids, [vec![1], vec![1], vec![]]);
    }

    /// The executable is the outermost user binary that is not a library; a JIT map is none.
    #[test]
    fn otlp_executable_skips_libraries_and_jit_maps() {
        let p = profile(WeightUnit::Samples);
        let exes = executables(&p);
        assert_eq!(exes.get(&10).copied(), Some("app"));
        assert_eq!(exes.get(&20), None);
    }

    /// Counts that are CPU time are sent as `cpu`/`nanoseconds` without a period; sample counts
    /// as `samples`/`count` with the period of the frequency.
    #[test]
    fn otlp_sample_type_follows_the_weight_unit() {
        for (unit, expected, period) in [
            (WeightUnit::Samples, ("samples", "count"), 10_101_010),
            (WeightUnit::Nanoseconds, ("cpu", "nanoseconds"), 0),
        ] {
            let req = export_request(&profile(unit), &ResourceInfo::default()).unwrap();
            let strings = &req.dictionary.as_ref().unwrap().string_table;
            let out = &req.resource_profiles[0].scope_profiles[0].profiles[0];
            let st = out.sample_type.as_ref().unwrap();
            let name = |i: i32| strings[i as usize].as_str();
            assert_eq!((name(st.type_strindex), name(st.unit_strindex)), expected);
            assert_eq!((out.period, out.period_type.is_some()), (period, period != 0));
        }
    }
}
