//! Writing a [`Profile`] as a pprof message (see the [module documentation](super) for what
//! goes where).

use std::io::{self, Write};

use flate2::write::GzEncoder;
use flate2::Compression;
use prost::Message;
use rustc_hash::FxHashMap as HashMap;

use super::{
    period_ns, proto, CGROUP_ID_LABEL, CGROUP_LABEL, CONTAINER_LABEL, KERNEL_MAPPING, NS_PID_LABEL, POD_LABEL,
    UNIT_LABEL,
};
use crate::profile::{Frame, FrameId, FrameKind, Metadata, Profile};

/// gzip level of written profiles. Profiles are written once and read many times, but a
/// continuous recorder writes one per interval: the default level (6) compresses within a few
/// percent of the best (9) in a fraction of its time.
const GZIP_LEVEL: u32 = 6;

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
pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Splits a stack (frame ids, outermost first) into physical frames: each a frame followed by
/// the user frames inlined into it (same module).
pub(crate) fn physical_frames<'a>(
    profile: &'a Profile,
    stack: &'a [FrameId],
) -> impl Iterator<Item = &'a [FrameId]> + 'a {
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
        keys[a.stack as usize]
            .cmp(&keys[b.stack as usize])
            .then(a.pid.cmp(&b.pid))
            .then(a.tid.cmp(&b.tid))
            .then_with(|| a.comm.cmp(&b.comm))
            .then_with(|| profile.cgroup_of(a).cmp(&profile.cgroup_of(b)))
    });
    order
}

/// The mapping name of a frame, or `None` for frames that belong to no binary (placeholders,
/// user frames of unknown module).
pub(crate) fn mapping_name(frame: &Frame) -> Option<&str> {
    match frame.kind {
        FrameKind::Placeholder => None,
        FrameKind::Kernel if frame.module.is_empty() => Some(KERNEL_MAPPING),
        FrameKind::Kernel => Some(&frame.module),
        FrameKind::User if frame.module.is_empty() => None,
        FrameKind::User => Some(&frame.module),
    }
}

/// The comments that keep a profile's metadata (read back by [`read`](fn@super::read)).
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
    add("event", &meta.event.to_string());
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

/// The pprof message of `profile` (see the [module documentation](super) for what goes where).
pub fn to_proto(profile: &Profile) -> proto::Profile {
    let meta = &profile.meta;
    let mut strings = Strings::new();
    let mut out = proto::Profile::default();
    let period = period_ns(meta).filter(|_| meta.weight_unit.is_count());
    let value_type =
        |strings: &mut Strings, t: &str, u: &str| proto::ValueType { r#type: strings.id(t), unit: strings.id(u) };
    if meta.weight_unit.is_count() {
        out.sample_type.push(value_type(&mut strings, "samples", "count"));
    } else if meta.event.is_off_cpu() {
        // Off-CPU time: nanoseconds threads were blocked (not CPU time).
        out.sample_type.push(value_type(&mut strings, "off_cpu", "nanoseconds"));
    } else if meta.event.is_wall() {
        out.sample_type.push(value_type(&mut strings, "wall", "nanoseconds"));
    } else {
        // Counts that are CPU time: the one value is nanoseconds.
        out.sample_type.push(value_type(&mut strings, "cpu", "nanoseconds"));
    }
    if let Some(period) = period {
        out.sample_type.push(value_type(&mut strings, "cpu", "nanoseconds"));
        out.period_type = Some(value_type(&mut strings, "cpu", "nanoseconds"));
        out.period = to_i64(period);
    }
    out.time_nanos = to_i64(meta.start_unix_ns);
    out.duration_nanos = to_i64(meta.end_unix_ns.saturating_sub(meta.start_unix_ns));
    out.comment = comments(meta).iter().map(|c| strings.id(c)).collect();

    let pid_key = strings.id("pid");
    let tid_key = profile.samples.iter().any(|s| s.tid != 0).then(|| strings.id("tid"));
    let comm_key = strings.id("comm");
    let ns_pid_key = (!profile.ns_pids.is_empty()).then(|| strings.id(NS_PID_LABEL));
    let cgroup_labels = cgroup_labels(profile, &mut strings);
    let mut tables = Tables::new(profile, out, strings);
    for i in sample_order(profile) {
        let sample = &profile.samples[i];
        let stack = &profile.stacks[sample.stack as usize];
        let mut location_ids: Vec<u64> = Vec::with_capacity(stack.len());
        for group in physical_frames(profile, stack) {
            location_ids.push(tables.location(group));
        }
        // The leaf is first in pprof.
        location_ids.reverse();
        let mut value = vec![to_i64(sample.count)];
        if let Some(period) = period {
            value.push(to_i64(sample.count.saturating_mul(period)));
        }
        let mut label = vec![
            proto::Label { key: pid_key, num: i64::from(sample.pid), ..Default::default() },
            proto::Label { key: comm_key, str: tables.strings.id(&sample.comm), ..Default::default() },
        ];
        if let Some(key) = tid_key.filter(|_| sample.tid != 0) {
            label.push(proto::Label { key, num: i64::from(sample.tid), ..Default::default() });
        }
        if let Some((key, &ns_pid)) = ns_pid_key.zip(profile.ns_pids.get(&sample.pid)) {
            label.push(proto::Label { key, num: i64::from(ns_pid), ..Default::default() });
        }
        if let Some(labels) = sample.cgroup.and_then(|c| cgroup_labels.get(c as usize)) {
            label.extend_from_slice(labels);
        }
        tables.out.sample.push(proto::Sample { location_id: location_ids, value, label });
    }
    let Tables { mut out, strings, .. } = tables;
    out.string_table = strings.table;
    put_main_binary_first(&mut out);
    out
}

/// The labels of each cgroup of the profile that a sample is in: `cgroup` (its path, when
/// known), `cgroup_id`, and what the path names: `container_id`, `systemd_unit`, `pod_uid`
/// (none for cgroups no sample is in, so their names are not written).
fn cgroup_labels(profile: &Profile, strings: &mut Strings) -> Vec<Vec<proto::Label>> {
    let mut used = vec![false; profile.cgroups.len()];
    for c in profile.samples.iter().filter_map(|s| s.cgroup) {
        if let Some(u) = used.get_mut(c as usize) {
            *u = true;
        }
    }
    profile
        .cgroups
        .iter()
        .zip(used)
        .map(|(c, used)| {
            let mut labels = Vec::new();
            if !used {
                return labels;
            }
            let mut text = |key: &str, value: &str| {
                let (key, str) = (strings.id(key), strings.id(value));
                labels.push(proto::Label { key, str, ..Default::default() });
            };
            if !c.path.is_empty() {
                text(CGROUP_LABEL, &c.path);
            }
            let w = c.workload();
            if let Some(container) = &w.container {
                text(CONTAINER_LABEL, &container.id);
            }
            if let Some(unit) = &w.systemd_unit {
                text(UNIT_LABEL, unit);
            }
            if let Some(pod) = &w.pod_uid {
                text(POD_LABEL, pod);
            }
            labels.push(proto::Label { key: strings.id(CGROUP_ID_LABEL), num: to_i64(c.id), ..Default::default() });
            labels
        })
        .collect()
}

/// The message being built and its string table, with the ids of the locations (by physical
/// frame), functions (by name and file) and mappings (by name) added so far. Each is added on
/// first use, so ids are in order of first use.
struct Tables<'a> {
    profile: &'a Profile,
    out: proto::Profile,
    strings: Strings,
    locations: HashMap<&'a [FrameId], u64>,
    functions: HashMap<(&'a str, &'a str), u64>,
    mappings: HashMap<&'a str, usize>,
}

impl<'a> Tables<'a> {
    fn new(profile: &'a Profile, out: proto::Profile, strings: Strings) -> Self {
        Tables {
            profile,
            out,
            strings,
            locations: HashMap::default(),
            functions: HashMap::default(),
            mappings: HashMap::default(),
        }
    }

    /// The id of the location of `group`, a physical frame (see [`physical_frames`]).
    fn location(&mut self, group: &'a [FrameId]) -> u64 {
        if let Some(&id) = self.locations.get(group) {
            return id;
        }
        let profile = self.profile;
        let mapping_id = self.mapping(group);
        // Lines innermost first: the frames inlined deepest, then the containing function.
        let line = group
            .iter()
            .rev()
            .map(|&f| {
                let f = &profile.frames[f as usize];
                proto::Line { function_id: self.function(f), line: f.line.map_or(0, i64::from), column: 0 }
            })
            .collect();
        let id = self.out.location.len() as u64 + 1;
        self.out.location.push(proto::Location { id, mapping_id, address: 0, line, is_folded: false });
        self.locations.insert(group, id);
        id
    }

    /// The id of the mapping of `group`'s outermost frame, 0 for none; the mapping says which
    /// debug information (files, lines, inlining) its frames have.
    fn mapping(&mut self, group: &[FrameId]) -> u64 {
        let Some(name) = mapping_name(&self.profile.frames[group[0] as usize]) else { return 0 };
        let index = *self.mappings.entry(name).or_insert_with(|| {
            self.out.mapping.push(proto::Mapping {
                id: self.out.mapping.len() as u64 + 1,
                filename: self.strings.id(name),
                has_functions: true,
                ..Default::default()
            });
            self.out.mapping.len() - 1
        });
        let m = &mut self.out.mapping[index];
        for &f in group {
            let f = &self.profile.frames[f as usize];
            m.has_filenames |= f.file.is_some();
            m.has_line_numbers |= f.line.is_some();
            m.has_inline_frames |= f.inlined;
        }
        m.id
    }

    /// The id of the function of frame `f` (its name and source file).
    fn function(&mut self, f: &'a Frame) -> u64 {
        let file = f.file.as_deref().unwrap_or("");
        *self.functions.entry((&f.name, file)).or_insert_with(|| {
            let id = self.out.function.len() as u64 + 1;
            // No system (mangled) name: prof keeps demangled names only, and an empty one tells
            // pprof not to "demangle" (shorten) them again.
            self.out.function.push(proto::Function {
                id,
                name: self.strings.id(&f.name),
                system_name: 0,
                filename: self.strings.id(file),
                start_line: 0,
            });
            id
        })
    }
}

/// True for a mapping name that can be a program's main binary: not a shared library
/// (`.so`, `.so.6`), not a bracketed pseudo-file or the kernel. pprof's own heuristic.
pub(crate) fn can_be_main_binary(name: &[u8]) -> bool {
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
