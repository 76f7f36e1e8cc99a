//! Reading a pprof message back into a [`Profile`] (see the [module documentation](super) for
//! how its parts become frames, stacks and metadata).

use std::collections::hash_map::Entry;
use std::io::Read;

use flate2::read::MultiGzDecoder;
use prost::Message;
use rustc_hash::FxHashMap as HashMap;

use super::budget::Budget;
use super::{proto, PprofError, KERNEL_MAPPING, MAX_DECOMPRESSED_BYTES};
use crate::profile::{
    Cgroup, Frame, FrameId, FrameKind, LossReason, Metadata, Profile, ProfileBuilder, SampleOwner, SampledEvent,
    WeightUnit, MISSING_KERNEL_STACK, MISSING_USER_STACK,
};

/// Bracketed mapping names that are user-space pseudo-files, not kernel modules.
const USER_PSEUDO_MAPPINGS: [&str; 12] =
    ["anon", "heap", "jit", "python", "sigpage", "stack", "unknown", "uprobes", "vdso", "vectors", "vsyscall", "vvar"];

/// Start of the kernel's half of the (x86_64, arm64) address space.
const KERNEL_ADDRESS_START: u64 = 0xffff_8000_0000_0000;

/// The first bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// True when `bytes` start like a gzip stream (how `.pb.gz` profiles start).
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Reads a pprof profile, gzip-compressed or raw protobuf; `source` names it in errors and
/// becomes the target when the profile does not name one.
pub fn read(bytes: &[u8], source: &str) -> Result<Profile, PprofError> {
    let message = decode(bytes, source)?;
    from_proto(&message, source)
}

/// Reads `bytes` as a raw (uncompressed) pprof profile when they decode as one with sample
/// types and a string table starting with the empty string; `None` when they do not look like
/// pprof at all (so the caller can try other formats). A profile that looks like pprof but is
/// inconsistent is an error.
pub fn read_if_raw_pprof(bytes: &[u8], source: &str) -> Option<Result<Profile, PprofError>> {
    match Budget::new(source).charge_message(bytes) {
        Ok(()) => {}
        Err(PprofError::Decode { .. }) => return None,
        Err(e) => return Some(Err(e)),
    }
    let message = proto::Profile::decode(bytes).ok()?;
    let plausible = !message.sample_type.is_empty() && message.string_table.first().is_some_and(|s| s.is_empty());
    plausible.then(|| from_proto(&message, source))
}

/// Decompresses (when gzip'd) and decodes the protobuf message, after checking on the wire that
/// it fits in [`MAX_DECODED_MEMORY`](super::MAX_DECODED_MEMORY).
pub fn decode(bytes: &[u8], source: &str) -> Result<proto::Profile, PprofError> {
    decode_limited(bytes, source, MAX_DECOMPRESSED_BYTES)
}

/// [`decode`] with a decompressed-size limit.
pub(super) fn decode_limited(bytes: &[u8], source: &str, limit: u64) -> Result<proto::Profile, PprofError> {
    let decompressed;
    let raw = if is_gzip(bytes) {
        let mut out = Vec::new();
        MultiGzDecoder::new(bytes)
            .take(limit.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| PprofError::Gzip { file: source.to_string(), reason: e.to_string() })?;
        if out.len() as u64 > limit {
            return Err(PprofError::TooLarge { file: source.to_string(), limit });
        }
        decompressed = out;
        &decompressed[..]
    } else {
        bytes
    };
    Budget::new(source).charge_message(raw)?;
    proto::Profile::decode(raw).map_err(|e| PprofError::Decode { file: source.to_string(), reason: e.to_string() })
}

/// True for a mapping that holds kernel code: `[kernel.kallsyms]` (perf also writes
/// `[kernel.kallsyms]_text`), or a bracketed kernel-module-like name that is not a user-space
/// pseudo-file such as `[vdso]`.
fn is_kernel_mapping(name: &str) -> bool {
    if name.starts_with(KERNEL_MAPPING) {
        return true;
    }
    match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(inner) => {
            !inner.is_empty()
                && inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                && !USER_PSEUDO_MAPPINGS.contains(&inner)
        }
        None => false,
    }
}

/// Rebuilds a [`Profile`] from a decoded message (see the [module documentation](super)). What
/// it builds (strings, frames, stacks, samples, notes) is charged against
/// [`MAX_DECODED_MEMORY`](super::MAX_DECODED_MEMORY) before it is allocated.
pub fn from_proto(p: &proto::Profile, source: &str) -> Result<Profile, PprofError> {
    let invalid = |reason: String| PprofError::Invalid { file: source.to_string(), reason };
    let mut budget = Budget::new(source);
    let table_len = p.string_table.iter().fold(0u64, |sum, s| sum.saturating_add(s.len() as u64));
    let table_size = (p.string_table.len() * std::mem::size_of::<String>()) as u64;
    budget.charge(table_len.saturating_add(table_size), || "the string table".to_string())?;
    let strings: Vec<String> = p.string_table.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect();
    let string = |i: i64| -> Result<&str, PprofError> {
        match usize::try_from(i).ok().and_then(|i| strings.get(i)) {
            Some(s) => Ok(s.as_str()),
            // An empty table has no index 0, which means "" everywhere.
            None if i == 0 => Ok(""),
            None => Err(invalid(format!("string index {i} is outside the string table ({} strings)", strings.len()))),
        }
    };
    if p.sample_type.is_empty() && !p.sample.is_empty() {
        return Err(invalid("samples but no sample types".to_string()));
    }
    let count_index = count_index(p, &string)?;
    let mut tables = Tables::new(p, &invalid)?;
    let mut meta = read_metadata(p, &string, source, &mut budget)?;
    let default_comm = default_comm(p, &string)?;

    let mut builder = ProfileBuilder::new(Metadata::default());
    let mut total: u64 = 0;
    for (n, sample) in p.sample.iter().enumerate() {
        let count = sample_count(p, n, sample, count_index, &invalid)?;
        if count == 0 {
            continue;
        }
        let stack = tables.stack(n, sample, &mut builder, &string, &invalid, &mut budget)?;
        let (pid, tid, comm, cgroup) = sample_labels(sample, &string)?;
        let comm = comm.unwrap_or(&default_comm);
        let path_len = cgroup.as_ref().map_or(0, |c| c.path.len());
        budget.charge((std::mem::size_of::<crate::profile::Sample>() + comm.len() + path_len) as u64, || {
            format!("sample {n}")
        })?;
        let stack = builder.stack(stack);
        builder.add_owned(stack, SampleOwner { pid, tid, comm, cgroup: cgroup.as_ref() }, count);
        if let Some(ns_pid) = ns_pid_label(sample, &string)? {
            builder.ns_pid(pid, ns_pid);
        }
        total = total.saturating_add(count);
    }
    if meta.total_samples == 0 {
        meta.total_samples = total;
    }
    // Values of CPU time rather than counts (no `samples/count` type to read instead).
    if let Some(t) = p.sample_type.get(count_index) {
        if string(t.unit)? == "nanoseconds" {
            meta.weight_unit = WeightUnit::Nanoseconds;
        }
    }
    *builder.meta_mut() = meta;
    Ok(builder.finish())
}

/// The index of the `samples/count` value among the sample types, else 0 (the first value).
fn count_index<'s>(
    p: &proto::Profile,
    string: &impl Fn(i64) -> Result<&'s str, PprofError>,
) -> Result<usize, PprofError> {
    for (i, t) in p.sample_type.iter().enumerate() {
        if string(t.r#type)? == "samples" && string(t.unit)? == "count" {
            return Ok(i);
        }
    }
    Ok(0)
}

/// The comm of samples without a comm label: the main binary's file name (the first mapping,
/// by convention), else `[unknown]`.
fn default_comm<'s>(
    p: &proto::Profile,
    string: &impl Fn(i64) -> Result<&'s str, PprofError>,
) -> Result<String, PprofError> {
    Ok(p.mapping
        .iter()
        .map(|m| string(m.filename))
        .next()
        .transpose()?
        .filter(|f| !f.is_empty() && !is_kernel_mapping(f))
        .and_then(|f| f.rsplit('/').next())
        .unwrap_or("[unknown]")
        .to_string())
}

/// The count of sample `n`: its value of the type at `count_index`, which must be there and not
/// negative.
fn sample_count(
    p: &proto::Profile,
    n: usize,
    sample: &proto::Sample,
    count_index: usize,
    invalid: &impl Fn(String) -> PprofError,
) -> Result<u64, PprofError> {
    if sample.value.len() != p.sample_type.len() {
        return Err(invalid(format!(
            "sample {n} has {} values for {} sample types",
            sample.value.len(),
            p.sample_type.len()
        )));
    }
    u64::try_from(sample.value[count_index])
        .map_err(|_| invalid(format!("sample {n} has a negative count ({})", sample.value[count_index])))
}

/// The pid and thread id (`tid` or `thread_id`; numeric, or a number as a string; 0 when
/// missing or out of range) and the comm of a sample, from its labels of those names.
fn sample_labels<'s>(
    sample: &proto::Sample,
    string: &impl Fn(i64) -> Result<&'s str, PprofError>,
) -> Result<SampleLabels<'s>, PprofError> {
    let (mut pid, mut tid) = (0, 0);
    let mut comm = None;
    let (mut cgroup_path, mut cgroup_id) = (None, None);
    for label in &sample.label {
        let value = || -> Result<i64, PprofError> {
            Ok(if label.str != 0 { string(label.str)?.parse().unwrap_or(0) } else { label.num })
        };
        match string(label.key)? {
            "pid" => pid = value()?,
            "tid" | "thread_id" => tid = value()?,
            "comm" if label.str != 0 => comm = Some(string(label.str)?),
            super::CGROUP_LABEL if label.str != 0 => cgroup_path = Some(string(label.str)?),
            super::CGROUP_ID_LABEL => cgroup_id = Some(u64::try_from(value()?).unwrap_or(0)),
            _ => {}
        }
    }
    let cgroup = (cgroup_path.is_some() || cgroup_id.is_some())
        .then(|| Cgroup { id: cgroup_id.unwrap_or(0), path: cgroup_path.unwrap_or_default().to_string() });
    Ok((u32::try_from(pid).unwrap_or(0), u32::try_from(tid).unwrap_or(0), comm, cgroup))
}

/// The sample's pid in its own pid namespace, from its numeric label `pid_ns` (None when
/// missing or out of range).
fn ns_pid_label<'s>(
    sample: &proto::Sample,
    string: &impl Fn(i64) -> Result<&'s str, PprofError>,
) -> Result<Option<u32>, PprofError> {
    for label in &sample.label {
        if string(label.key)? == super::NS_PID_LABEL {
            return Ok(u32::try_from(label.num).ok().filter(|&n| n != 0));
        }
    }
    Ok(None)
}

/// A sample's pid, thread, comm and cgroup, from its labels.
type SampleLabels<'s> = (u32, u32, Option<&'s str>, Option<Cgroup>);

/// The message's mappings, functions and locations by id, and the frames (interned in the
/// profile being built, outermost first) of each location used so far.
struct Tables<'p> {
    mappings: HashMap<u64, &'p proto::Mapping>,
    functions: HashMap<u64, &'p proto::Function>,
    locations: HashMap<u64, &'p proto::Location>,
    frames: HashMap<u64, Vec<FrameId>>,
}

impl<'p> Tables<'p> {
    /// Indexes the tables of `p`; an id that is zero or used twice is an error.
    fn new(p: &'p proto::Profile, invalid: &impl Fn(String) -> PprofError) -> Result<Self, PprofError> {
        Ok(Tables {
            mappings: by_id(&p.mapping, |m| m.id, "mapping", invalid)?,
            functions: by_id(&p.function, |f| f.id, "function", invalid)?,
            locations: by_id(&p.location, |l| l.id, "location", invalid)?,
            frames: HashMap::default(),
        })
    }

    /// The frames of sample `n`'s stack, outermost first. A location's frames are built and
    /// added to `builder` the first time a sample uses it.
    fn stack<'s>(
        &mut self,
        n: usize,
        sample: &proto::Sample,
        builder: &mut ProfileBuilder,
        string: &impl Fn(i64) -> Result<&'s str, PprofError>,
        invalid: &impl Fn(String) -> PprofError,
        budget: &mut Budget,
    ) -> Result<Vec<FrameId>, PprofError> {
        let mut stack: Vec<FrameId> = Vec::new();
        for &id in sample.location_id.iter().rev() {
            let frames = match self.frames.entry(id) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    let location = self.locations.get(&id).ok_or_else(|| {
                        invalid(format!("sample {n} references location {id}, which is not in the profile"))
                    })?;
                    let frames =
                        location_to_frames(location, &self.mappings, &self.functions, string, invalid, budget)?;
                    e.insert(frames.into_iter().map(|f| builder.frame(f)).collect())
                }
            };
            budget.charge((frames.len() * std::mem::size_of::<FrameId>()) as u64, || {
                format!("the stack of sample {n}")
            })?;
            stack.extend(frames.iter());
        }
        Ok(stack)
    }
}

/// `items` by id; an id that is zero or used twice is an error naming the `kind` of item.
fn by_id<'p, T>(
    items: &'p [T],
    id_of: impl Fn(&T) -> u64,
    kind: &str,
    invalid: &impl Fn(String) -> PprofError,
) -> Result<HashMap<u64, &'p T>, PprofError> {
    let mut by_id: HashMap<u64, &T> = HashMap::default();
    for item in items {
        let id = id_of(item);
        if id == 0 || by_id.insert(id, item).is_some() {
            return Err(invalid(format!("{kind} id {id} is zero or used twice")));
        }
    }
    Ok(by_id)
}

/// The frames of one location, outermost first.
fn location_to_frames<'s>(
    location: &proto::Location,
    mappings: &HashMap<u64, &proto::Mapping>,
    functions: &HashMap<u64, &proto::Function>,
    string: &impl Fn(i64) -> Result<&'s str, PprofError>,
    invalid: &impl Fn(String) -> PprofError,
    budget: &mut Budget,
) -> Result<Vec<Frame>, PprofError> {
    // Each frame copies its name, module and file, and the builder keeps a new frame twice (its
    // table and its index): charged before it is built.
    let mut charge = |name: &str, module: &str, file: &str| {
        let size = std::mem::size_of::<Frame>() + name.len() + module.len() + file.len();
        budget.charge(2 * size as u64, || format!("the frames of location {}", location.id))
    };
    let mapping = match location.mapping_id {
        0 => None,
        id => Some(*mappings.get(&id).ok_or_else(|| {
            invalid(format!("location {} references mapping {id}, which is not in the profile", location.id))
        })?),
    };
    let path = mapping.map(|m| string(m.filename)).transpose()?.unwrap_or("");
    // Modules are file names in prof (`libc.so.6`), mappings often full paths.
    let module = path.rsplit('/').next().unwrap_or(path);
    let kind = if is_kernel_mapping(module) || location.address >= KERNEL_ADDRESS_START {
        FrameKind::Kernel
    } else {
        FrameKind::User
    };
    if location.line.is_empty() {
        // Not symbolized: name it as prof names frames it cannot symbolize.
        let offset = match mapping {
            Some(m) => location.address.wrapping_sub(m.memory_start).wrapping_add(m.file_offset),
            None => location.address,
        };
        let base = if module.is_empty() { "[unknown]" } else { module };
        let name = format!("{base}+{offset:#x}");
        charge(&name, module, "")?;
        return Ok(vec![Frame::new(name, module, kind)]);
    }
    let last = location.line.len() - 1;
    let mut frames = Vec::with_capacity(location.line.len());
    for (i, line) in location.line.iter().enumerate().rev() {
        let function = functions.get(&line.function_id).ok_or_else(|| {
            invalid(format!(
                "location {} references function {}, which is not in the profile",
                location.id, line.function_id
            ))
        })?;
        let mut name = string(function.name)?;
        if name.is_empty() {
            name = string(function.system_name)?;
        }
        let file = string(function.filename)?;
        charge(name, module, file)?;
        if mapping.is_none() && location.line.len() == 1 && (name == MISSING_USER_STACK || name == MISSING_KERNEL_STACK)
        {
            frames.push(Frame::placeholder(name));
            continue;
        }
        let name = if name.is_empty() { "[unknown]" } else { name };
        frames.push(Frame {
            name: name.to_string(),
            module: module.to_string(),
            kind,
            inlined: i != last,
            file: (!file.is_empty()).then(|| file.to_string()),
            line: u32::try_from(line.line).ok().filter(|&l| l > 0),
        });
    }
    Ok(frames)
}

/// Metadata from the message's time fields and period, and from the comments prof writes.
fn read_metadata<'s>(
    p: &proto::Profile,
    string: &impl Fn(i64) -> Result<&'s str, PprofError>,
    source: &str,
    budget: &mut Budget,
) -> Result<Metadata, PprofError> {
    let mut meta = Metadata {
        start_unix_ns: u64::try_from(p.time_nanos).unwrap_or(0),
        target: source.to_string(),
        ..Metadata::default()
    };
    meta.end_unix_ns = meta.start_unix_ns.saturating_add(u64::try_from(p.duration_nanos).unwrap_or(0));
    if let Some(t) = &p.period_type {
        if string(t.unit)? == "nanoseconds" && p.period > 0 {
            meta.frequency_hz = (1e9 / p.period as f64).round() as u64;
        }
    }
    for &c in &p.comment {
        let Some((key, value)) = string(c)?.split_once(": ") else { continue };
        match key {
            "prof" => meta.prof_version = value.to_string(),
            "host" => meta.hostname = value.to_string(),
            "kernel" => meta.kernel_release = value.to_string(),
            "event" => meta.event = SampledEvent::from_name(value),
            "target" => meta.target = value.to_string(),
            "note" => {
                budget.charge((std::mem::size_of::<String>() + value.len()) as u64, || "the notes".to_string())?;
                meta.notes.push(value.to_string());
            }
            "frequency" => {
                if let Some(hz) = value.strip_suffix(" Hz").and_then(|v| v.parse().ok()) {
                    meta.frequency_hz = hz;
                }
            }
            "samples taken" => meta.total_samples = value.parse().unwrap_or(0),
            _ => {
                let reason = key.strip_prefix("lost ").and_then(LossReason::from_id);
                if let (Some(reason), Ok(n)) = (reason, value.parse::<u64>()) {
                    let sum = meta.losses.entry(reason).or_default();
                    *sum = sum.saturating_add(n);
                }
            }
        }
    }
    let note = format!("read from pprof `{source}`: addresses and build IDs are not kept");
    if !meta.notes.contains(&note) {
        meta.notes.push(note);
    }
    Ok(meta)
}
