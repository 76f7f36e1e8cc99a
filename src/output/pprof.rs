//! pprof: Google's `profile.proto` format (`.pb.gz`, `.pprof`), written from a [`Profile`] and
//! read back into one, so prof's profiles open in `go tool pprof`, Pyroscope, Parca and the
//! other tools of that ecosystem, and their profiles open in prof.
//!
//! # Writing
//!
//! The message is encoded with prost ([`proto`]) and gzip-compressed, as the format requires
//! on disk. The output is deterministic: samples are ordered by their stacks' frames, pids and
//! comms, and every id and string index is given in order of first use, so the same profile
//! always gives the same bytes.
//!
//! - Sample types `samples/count` and `cpu/nanoseconds` (count × period), period type
//!   `cpu/nanoseconds`, period `1e9 / frequency`. A profile of unknown frequency (read from
//!   folded stacks) has only `samples/count` and no period.
//! - `time_nanos` and `duration_nanos` from the recording's wall-clock span.
//! - One location per distinct physical frame: a frame and the frames inlined into it, which
//!   become the location's lines, innermost (inlined) first as the format says. Locations have
//!   synthetic ids and address 0: prof's profiles keep symbols, not addresses.
//! - One function per (name, source file); the line of each frame is the location line's.
//! - One mapping per module (binary file name); kernel frames are in `[kernel.kallsyms]` (or in
//!   their kernel module's `[name]`). Build IDs are not recorded by prof: mappings leave them
//!   empty, and address ranges are 0. Mappings say they already have functions, so pprof does
//!   not try to symbolize them again.
//! - Placeholders such as `[missing user stack]` are functions of their own, with no mapping.
//! - Each sample has a numeric label `pid` and a string label `comm`; the comm is not a frame.
//! - The recording's metadata is kept as comments (`go tool pprof -comments`): host, kernel,
//!   event, frequency, target, samples taken, losses by reason and notes.
//!
//! # Reading
//!
//! [`read`] takes gzip-compressed or raw protobuf (decompressed size capped at
//! [`MAX_DECOMPRESSED_BYTES`]) and rebuilds a profile: frames from each location's lines
//! (the last line is the containing function, the earlier ones are inlined into it), stacks
//! outermost first, pid and comm from the labels of the same names (without them, pid 0 and the
//! main binary's file name), counts from the `samples/count` value if there is one, else the
//! first value. A mapping named `[kernel.kallsyms]` (or `[name]` like a kernel module's, but not
//! `[vdso]`, `[heap]` and the other user-space pseudo-files) or an address in the upper half of
//! the address space makes a frame a kernel frame. Modules are the mappings' file names without
//! their directories. A location without lines becomes a frame named `module+0xoffset`, as prof
//! names frames it could not symbolize. The comments prof writes restore the metadata.

pub mod proto;

use std::io::{self, Read, Write};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use prost::Message;
use rustc_hash::FxHashMap as HashMap;

use crate::profile::{
    Frame, FrameId, FrameKind, LossReason, Metadata, Profile, ProfileBuilder, MISSING_KERNEL_STACK, MISSING_USER_STACK,
};

/// Largest decompressed protobuf read: 1 GiB, as for archive bodies. A gzip bomb stops there
/// instead of filling memory.
pub const MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;

/// gzip level of written profiles. Profiles are written once and read many times, but a
/// continuous recorder writes one per interval: the default level (6) compresses within a few
/// percent of the best (9) in a fraction of its time.
const GZIP_LEVEL: u32 = 6;

/// The mapping of kernel frames (and what perf and prof call the kernel's symbols).
pub const KERNEL_MAPPING: &str = "[kernel.kallsyms]";

/// Bracketed mapping names that are user-space pseudo-files, not kernel modules.
const USER_PSEUDO_MAPPINGS: [&str; 11] =
    ["anon", "heap", "jit", "sigpage", "stack", "unknown", "uprobes", "vdso", "vectors", "vsyscall", "vvar"];

/// Start of the kernel's half of the (x86_64, arm64) address space.
const KERNEL_ADDRESS_START: u64 = 0xffff_8000_0000_0000;

/// The first bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Why a pprof profile could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PprofError {
    /// The gzip stream is corrupt or truncated.
    #[error("`{file}`: cannot decompress the pprof profile: {reason}")]
    Gzip {
        /// Name of the input.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// The decompressed profile exceeds [`MAX_DECOMPRESSED_BYTES`].
    #[error("`{file}`: the decompressed pprof profile is larger than {limit} bytes")]
    TooLarge {
        /// Name of the input.
        file: String,
        /// The limit.
        limit: u64,
    },
    /// The bytes are not a protobuf `Profile` message.
    #[error("`{file}`: not a valid pprof profile (protobuf): {reason}")]
    Decode {
        /// Name of the input.
        file: String,
        /// The decoder's error.
        reason: String,
    },
    /// The message decodes but its references or values are inconsistent.
    #[error("`{file}`: invalid pprof profile: {reason}")]
    Invalid {
        /// Name of the input.
        file: String,
        /// What is inconsistent.
        reason: String,
    },
}

/// True when `bytes` start like a gzip stream (how `.pb.gz` profiles start).
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Writes `profile` as a gzip-compressed pprof profile to `w`.
pub fn write(profile: &Profile, w: impl Write) -> io::Result<()> {
    let bytes = to_proto(profile).encode_to_vec();
    let mut gz = GzEncoder::new(w, Compression::new(GZIP_LEVEL));
    gz.write_all(&bytes)?;
    gz.finish()?.flush()
}

/// The string table being built: index 0 is the empty string, as the format requires.
#[derive(Default)]
struct Strings {
    ids: HashMap<String, i64>,
    table: Vec<Vec<u8>>,
}

impl Strings {
    fn new() -> Self {
        let mut s = Strings::default();
        s.id("");
        s
    }

    fn id(&mut self, s: &str) -> i64 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.table.len() as i64;
        self.table.push(s.as_bytes().to_vec());
        self.ids.insert(s.to_string(), id);
        id
    }
}

/// Clamps a count to protobuf's signed 64-bit values.
fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The sampling period in nanoseconds, or `None` when the frequency is unknown.
pub fn period_ns(meta: &Metadata) -> Option<u64> {
    (meta.frequency_hz > 0).then(|| (1e9 / meta.frequency_hz as f64).round().max(1.0) as u64)
}

/// Splits a stack (frame ids, outermost first) into physical frames: each a frame followed by
/// the user frames inlined into it (same module).
fn physical_frames<'a>(profile: &'a Profile, stack: &'a [FrameId]) -> impl Iterator<Item = &'a [FrameId]> + 'a {
    let mut rest = stack;
    std::iter::from_fn(move || {
        let (&first, tail) = rest.split_first()?;
        let outer = &profile.frames[first as usize];
        let len = 1 + tail
            .iter()
            .take_while(|&&f| {
                let f = &profile.frames[f as usize];
                f.inlined && f.kind == FrameKind::User && outer.kind == FrameKind::User && f.module == outer.module
            })
            .count();
        let (group, tail) = rest.split_at(len);
        rest = tail;
        Some(group)
    })
}

/// The order in which samples are written: by their stacks' frames (compared as frames, not
/// ids), then pid, then comm. Independent of how the profile was built.
fn sample_order(profile: &Profile) -> Vec<usize> {
    let mut by_frame: Vec<FrameId> = (0..profile.frames.len() as FrameId).collect();
    by_frame.sort_by(|&a, &b| profile.frames[a as usize].cmp(&profile.frames[b as usize]));
    let mut rank = vec![0u32; profile.frames.len()];
    for (r, &f) in by_frame.iter().enumerate() {
        rank[f as usize] = r as u32;
    }
    let keys: Vec<Vec<u32>> = profile.stacks.iter().map(|s| s.iter().map(|&f| rank[f as usize]).collect()).collect();
    let mut order: Vec<usize> = (0..profile.samples.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&profile.samples[a], &profile.samples[b]);
        keys[a.stack as usize].cmp(&keys[b.stack as usize]).then(a.pid.cmp(&b.pid)).then_with(|| a.comm.cmp(&b.comm))
    });
    order
}

/// The mapping name of a frame, or `None` for frames that belong to no binary (placeholders,
/// user frames of unknown module).
fn mapping_name(frame: &Frame) -> Option<&str> {
    match frame.kind {
        FrameKind::Placeholder => None,
        FrameKind::Kernel if frame.module.is_empty() => Some(KERNEL_MAPPING),
        FrameKind::Kernel => Some(&frame.module),
        FrameKind::User if frame.module.is_empty() => None,
        FrameKind::User => Some(&frame.module),
    }
}

/// The comments that keep a profile's metadata (read back by [`read`]).
fn comments(meta: &Metadata) -> Vec<String> {
    let mut c = Vec::new();
    let mut add = |key: &str, value: &str| {
        if !value.is_empty() {
            c.push(format!("{key}: {value}"));
        }
    };
    add("prof", &meta.prof_version);
    add("host", &meta.hostname);
    add("kernel", &meta.kernel_release);
    add("event", &meta.event);
    if meta.frequency_hz > 0 {
        add("frequency", &format!("{} Hz", meta.frequency_hz));
    }
    add("target", &meta.target);
    add("samples taken", &meta.total_samples.to_string());
    for (reason, n) in &meta.losses {
        add(&format!("lost {}", reason.id()), &n.to_string());
    }
    for note in &meta.notes {
        add("note", note);
    }
    c
}

/// The pprof message of `profile` (see the module documentation for what goes where).
pub fn to_proto(profile: &Profile) -> proto::Profile {
    let meta = &profile.meta;
    let mut strings = Strings::new();
    let mut out = proto::Profile::default();
    let period = period_ns(meta);
    let value_type =
        |strings: &mut Strings, t: &str, u: &str| proto::ValueType { r#type: strings.id(t), unit: strings.id(u) };
    out.sample_type.push(value_type(&mut strings, "samples", "count"));
    if let Some(period) = period {
        out.sample_type.push(value_type(&mut strings, "cpu", "nanoseconds"));
        out.period_type = Some(value_type(&mut strings, "cpu", "nanoseconds"));
        out.period = to_i64(period);
    }
    out.time_nanos = to_i64(meta.start_unix_ns);
    out.duration_nanos = to_i64(meta.end_unix_ns.saturating_sub(meta.start_unix_ns));
    out.comment = comments(meta).iter().map(|c| strings.id(c)).collect();

    let pid_key = strings.id("pid");
    let comm_key = strings.id("comm");
    let mut locations: HashMap<&[FrameId], u64> = HashMap::default();
    let mut functions: HashMap<(&str, &str), u64> = HashMap::default();
    let mut mappings: HashMap<&str, usize> = HashMap::default();
    for i in sample_order(profile) {
        let sample = &profile.samples[i];
        let stack = &profile.stacks[sample.stack as usize];
        let mut location_ids: Vec<u64> = Vec::with_capacity(stack.len());
        for group in physical_frames(profile, stack) {
            if let Some(&id) = locations.get(group) {
                location_ids.push(id);
                continue;
            }
            let outer = &profile.frames[group[0] as usize];
            let mapping_id = match mapping_name(outer) {
                None => 0,
                Some(name) => {
                    let index = *mappings.entry(name).or_insert_with(|| {
                        out.mapping.push(proto::Mapping {
                            id: out.mapping.len() as u64 + 1,
                            filename: strings.id(name),
                            has_functions: true,
                            ..Default::default()
                        });
                        out.mapping.len() - 1
                    });
                    let m = &mut out.mapping[index];
                    for &f in group {
                        let f = &profile.frames[f as usize];
                        m.has_filenames |= f.file.is_some();
                        m.has_line_numbers |= f.line.is_some();
                        m.has_inline_frames |= f.inlined;
                    }
                    m.id
                }
            };
            // Lines innermost first: the frames inlined deepest, then the containing function.
            let line = group
                .iter()
                .rev()
                .map(|&f| {
                    let f = &profile.frames[f as usize];
                    let file = f.file.as_deref().unwrap_or("");
                    let function_id = *functions.entry((&f.name, file)).or_insert_with(|| {
                        let id = out.function.len() as u64 + 1;
                        // No system (mangled) name: prof keeps demangled names only, and an
                        // empty one tells pprof not to "demangle" (shorten) them again.
                        out.function.push(proto::Function {
                            id,
                            name: strings.id(&f.name),
                            system_name: 0,
                            filename: strings.id(file),
                            start_line: 0,
                        });
                        id
                    });
                    proto::Line { function_id, line: f.line.map_or(0, i64::from), column: 0 }
                })
                .collect();
            let id = out.location.len() as u64 + 1;
            out.location.push(proto::Location { id, mapping_id, address: 0, line, is_folded: false });
            locations.insert(group, id);
            location_ids.push(id);
        }
        // The leaf is first in pprof.
        location_ids.reverse();
        let mut value = vec![to_i64(sample.count)];
        if let Some(period) = period {
            value.push(to_i64(sample.count.saturating_mul(period)));
        }
        let label = vec![
            proto::Label { key: pid_key, num: i64::from(sample.pid), ..Default::default() },
            proto::Label { key: comm_key, str: strings.id(&sample.comm), ..Default::default() },
        ];
        out.sample.push(proto::Sample { location_id: location_ids, value, label });
    }
    out.string_table = strings.table;
    put_main_binary_first(&mut out);
    out
}

/// True for a mapping name that can be a program's main binary: not a shared library
/// (`.so`, `.so.6`), not a bracketed pseudo-file or the kernel. pprof's own heuristic.
fn can_be_main_binary(name: &[u8]) -> bool {
    let name = String::from_utf8_lossy(name);
    let name = name.trim();
    !name.is_empty() && !name.starts_with('[') && !name.ends_with(".so") && !name.contains(".so.")
}

/// Moves the mapping of the main binary to the front, as pprof expects (it shows mapping 0 as
/// the profile's `File`, and prof's reader names comm-less samples after it): the binary that
/// can be a program's (see [`can_be_main_binary`]) with the most samples, first used on ties.
/// Ids are renumbered so that they stay in order.
fn put_main_binary_first(p: &mut proto::Profile) {
    let mut weights = vec![0u64; p.mapping.len()];
    let mut seen: Vec<usize> = Vec::new();
    for s in &p.sample {
        seen.clear();
        for &l in &s.location_id {
            // Ids are 1-based positions here.
            let mapping_id = p.location[(l - 1) as usize].mapping_id;
            if mapping_id != 0 && !seen.contains(&((mapping_id - 1) as usize)) {
                seen.push((mapping_id - 1) as usize);
            }
        }
        for &m in &seen {
            weights[m] = weights[m].saturating_add(s.value[0].max(0) as u64);
        }
    }
    let main = (0..p.mapping.len())
        .filter(|&m| can_be_main_binary(&p.string_table[p.mapping[m].filename as usize]))
        .max_by(|&a, &b| weights[a].cmp(&weights[b]).then(b.cmp(&a)));
    let Some(main) = main.filter(|&m| m > 0) else { return };
    let mapping = p.mapping.remove(main);
    p.mapping.insert(0, mapping);
    let mut new_id = vec![0u64; p.mapping.len() + 1];
    for (i, m) in p.mapping.iter_mut().enumerate() {
        new_id[m.id as usize] = i as u64 + 1;
        m.id = i as u64 + 1;
    }
    for l in &mut p.location {
        l.mapping_id = new_id[l.mapping_id as usize];
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

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
    let message = proto::Profile::decode(bytes).ok()?;
    let plausible = !message.sample_type.is_empty() && message.string_table.first().is_some_and(|s| s.is_empty());
    plausible.then(|| from_proto(&message, source))
}

/// Decompresses (when gzip'd) and decodes the protobuf message.
pub fn decode(bytes: &[u8], source: &str) -> Result<proto::Profile, PprofError> {
    decode_limited(bytes, source, MAX_DECOMPRESSED_BYTES)
}

/// [`decode`] with a decompressed-size limit.
fn decode_limited(bytes: &[u8], source: &str, limit: u64) -> Result<proto::Profile, PprofError> {
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

/// Rebuilds a [`Profile`] from a decoded message (see the module documentation).
pub fn from_proto(p: &proto::Profile, source: &str) -> Result<Profile, PprofError> {
    let invalid = |reason: String| PprofError::Invalid { file: source.to_string(), reason };
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
    let mut count_index = 0;
    for (i, t) in p.sample_type.iter().enumerate() {
        if string(t.r#type)? == "samples" && string(t.unit)? == "count" {
            count_index = i;
            break;
        }
    }

    let mut mappings: HashMap<u64, &proto::Mapping> = HashMap::default();
    for m in &p.mapping {
        if m.id == 0 || mappings.insert(m.id, m).is_some() {
            return Err(invalid(format!("mapping id {} is zero or used twice", m.id)));
        }
    }
    let mut functions: HashMap<u64, &proto::Function> = HashMap::default();
    for f in &p.function {
        if f.id == 0 || functions.insert(f.id, f).is_some() {
            return Err(invalid(format!("function id {} is zero or used twice", f.id)));
        }
    }
    let mut location_index: HashMap<u64, usize> = HashMap::default();
    for (i, l) in p.location.iter().enumerate() {
        if l.id == 0 || location_index.insert(l.id, i).is_some() {
            return Err(invalid(format!("location id {} is zero or used twice", l.id)));
        }
    }

    let mut meta = read_metadata(p, &string, source)?;
    // Samples without a comm label belong to the main binary (the first mapping, by convention).
    let default_comm = p
        .mapping
        .iter()
        .map(|m| string(m.filename))
        .next()
        .transpose()?
        .filter(|f| !f.is_empty() && !is_kernel_mapping(f))
        .and_then(|f| f.rsplit('/').next())
        .unwrap_or("[unknown]")
        .to_string();

    let mut builder = ProfileBuilder::new(Metadata::default());
    // Frames of each location (outermost first), built on first use.
    let mut location_frames: Vec<Option<Vec<FrameId>>> = vec![None; p.location.len()];
    let mut total: u64 = 0;
    for (n, sample) in p.sample.iter().enumerate() {
        if sample.value.len() != p.sample_type.len() {
            return Err(invalid(format!(
                "sample {n} has {} values for {} sample types",
                sample.value.len(),
                p.sample_type.len()
            )));
        }
        let count = u64::try_from(sample.value[count_index])
            .map_err(|_| invalid(format!("sample {n} has a negative count ({})", sample.value[count_index])))?;
        if count == 0 {
            continue;
        }
        let mut stack: Vec<FrameId> = Vec::new();
        for &id in sample.location_id.iter().rev() {
            let &index = location_index
                .get(&id)
                .ok_or_else(|| invalid(format!("sample {n} references location {id}, which is not in the profile")))?;
            if location_frames[index].is_none() {
                let frames = location_to_frames(&p.location[index], &mappings, &functions, &string, &invalid)?;
                location_frames[index] = Some(frames.into_iter().map(|f| builder.frame(f)).collect());
            }
            stack.extend(location_frames[index].iter().flatten());
        }
        let mut pid = 0;
        let mut comm = None;
        for label in &sample.label {
            match string(label.key)? {
                "pid" if label.str != 0 => pid = string(label.str)?.parse().unwrap_or(0),
                "pid" => pid = label.num,
                "comm" if label.str != 0 => comm = Some(string(label.str)?),
                _ => {}
            }
        }
        let pid = u32::try_from(pid).unwrap_or(0);
        let stack = builder.stack(stack);
        builder.add(stack, pid, comm.unwrap_or(&default_comm), count);
        total = total.saturating_add(count);
    }
    if meta.total_samples == 0 {
        meta.total_samples = total;
    }
    *builder.meta_mut() = meta;
    Ok(builder.finish())
}

/// The frames of one location, outermost first.
fn location_to_frames<'s>(
    location: &proto::Location,
    mappings: &HashMap<u64, &proto::Mapping>,
    functions: &HashMap<u64, &proto::Function>,
    string: &impl Fn(i64) -> Result<&'s str, PprofError>,
    invalid: &impl Fn(String) -> PprofError,
) -> Result<Vec<Frame>, PprofError> {
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
        return Ok(vec![Frame::new(format!("{base}+{offset:#x}"), module, kind)]);
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
            "event" => meta.event = value.to_string(),
            "target" => meta.target = value.to_string(),
            "note" => meta.notes.push(value.to_string()),
            "frequency" => {
                if let Some(hz) = value.strip_suffix(" Hz").and_then(|v| v.parse().ok()) {
                    meta.frequency_hz = hz;
                }
            }
            "samples taken" => meta.total_samples = value.parse().unwrap_or(0),
            _ => {
                let reason = key.strip_prefix("lost ").and_then(LossReason::from_id);
                if let (Some(reason), Ok(n)) = (reason, value.parse::<u64>()) {
                    *meta.losses.entry(reason).or_default() += n;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, module: &str) -> Frame {
        Frame::new(name, module, FrameKind::User)
    }

    fn profile() -> Profile {
        let mut b = ProfileBuilder::new(Metadata {
            frequency_hz: 99,
            start_unix_ns: 1_000,
            end_unix_ns: 2_000,
            target: "t".into(),
            total_samples: 7,
            ..Metadata::default()
        });
        let main = b.frame(user("main", "app"));
        let outer = b.frame(Frame { line: Some(3), file: Some("a.c".into()), ..user("outer", "app") });
        let inl = b.frame(Frame { inlined: true, line: Some(9), ..user("inl", "app") });
        let k = b.frame(Frame::new("do_syscall_64", "[kernel.kallsyms]", FrameKind::Kernel));
        let ph = b.frame(Frame::placeholder(MISSING_USER_STACK));
        let s1 = b.stack(vec![main, outer, inl, k]);
        let s2 = b.stack(vec![ph, k]);
        b.add(s1, 10, "app", 5);
        b.add(s2, 11, "worker", 2);
        b.finish()
    }

    /// Inlined frames share one location, innermost line first; the leaf location is first.
    #[test]
    fn pprof_inlined_frames_are_lines_of_one_location() {
        let p = to_proto(&profile());
        assert_eq!(p.location.len(), 4, "{:?}", p.location);
        let s = p.sample.iter().find(|s| s.value[0] == 5).unwrap();
        assert_eq!(s.location_id.len(), 3);
        let inlined_loc = &p.location[(s.location_id[1] - 1) as usize];
        let names: Vec<String> = inlined_loc
            .line
            .iter()
            .map(|l| {
                String::from_utf8_lossy(&p.string_table[p.function[(l.function_id - 1) as usize].name as usize]).into()
            })
            .collect();
        assert_eq!(names, ["inl", "outer"]);
        assert_eq!(s.value[1], 5 * 10_101_010);
    }

    /// Writing and reading gives back the same frames, stacks, pids, comms and metadata.
    #[test]
    fn pprof_round_trip_keeps_frames_and_labels() {
        let original = profile();
        let mut bytes = Vec::new();
        write(&original, &mut bytes).unwrap();
        assert!(is_gzip(&bytes));
        let back = read(&bytes, "x.pb.gz").unwrap();
        let lines = |p: &Profile| {
            let mut v: Vec<(Vec<Frame>, u32, String, u64)> = p
                .samples
                .iter()
                .map(|s| (p.stack_frames(s.stack).cloned().collect(), s.pid, s.comm.clone(), s.count))
                .collect();
            v.sort();
            v
        };
        assert_eq!(lines(&back), lines(&original));
        assert_eq!(back.meta.frequency_hz, 99);
        assert_eq!((back.meta.start_unix_ns, back.meta.end_unix_ns), (1_000, 2_000));
        assert_eq!(back.meta.target, "t");
        assert_eq!(back.meta.total_samples, 7);
    }

    /// Decompression stops at the limit: a gzip bomb is an error, not an allocation.
    #[test]
    fn pprof_decompressed_size_is_capped() {
        let mut bytes = Vec::new();
        write(&profile(), &mut bytes).unwrap();
        let size = to_proto(&profile()).encode_to_vec().len() as u64;
        assert!(decode_limited(&bytes, "p", size).is_ok());
        let err = decode_limited(&bytes, "p.pb.gz", size - 1).unwrap_err();
        assert!(matches!(err, PprofError::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("`p.pb.gz`"), "{err}");
    }

    /// Malformed input is an error naming the file, never a panic.
    #[test]
    fn pprof_malformed_input_is_an_error() {
        for bytes in [&b"\x1f\x8b\x08garbage"[..], b"\x1f\x8b", b"\x0a\xff\xff\xff", b"\x0a\x05\x08\x01"] {
            let err = read(bytes, "bad.pb.gz").unwrap_err().to_string();
            assert!(err.contains("`bad.pb.gz`"), "{err}");
        }
        let mut p = to_proto(&profile());
        p.sample[0].location_id.push(999);
        let err = from_proto(&p, "f.pprof").unwrap_err().to_string();
        assert!(err.contains("`f.pprof`") && err.contains("location 999"), "{err}");
        let mut p = to_proto(&profile());
        p.function[0].name = 1 << 40;
        assert!(from_proto(&p, "f").is_err());
    }
}
