//! pprof: Google's `profile.proto` format (`.pb.gz`, `.pprof`), written from a
//! [`Profile`](crate::profile::Profile) and read back into one, so prof's profiles open in
//! `go tool pprof`, Pyroscope, Parca and the other tools of that ecosystem, and their profiles
//! open in prof.
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
//!   folded stacks) has only `samples/count` and no period. A profile whose counts are
//!   nanoseconds has the one sample type `cpu/nanoseconds`, or `off_cpu/nanoseconds` for
//!   off-CPU time (`prof record --off-cpu`), `wall/nanoseconds` for wall-clock time (`--wall`).
//! - `time_nanos` and `duration_nanos` from the recording's wall-clock span.
//! - One location per distinct physical frame: a frame and the frames inlined into it, which
//!   become the location's lines, innermost (inlined) first as the format says. Locations have
//!   synthetic ids and address 0: prof's profiles keep symbols, not addresses.
//! - One function per (name, source file); the line of each frame is the location line's.
//! - One mapping per module (binary file name); kernel frames are in `[kernel.kallsyms]` (or in
//!   their kernel module's `[name]`). Build IDs are not recorded by prof: mappings leave them
//!   empty, and address ranges are 0. Mappings say they already have functions, so pprof does
//!   not try to symbolize them again.
//! - Python functions' frames are in the mapping `[python]`, their functions named
//!   `qualname (file.py:line)` with the Python file as file name.
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
//! `[vdso]`, `[heap]`, `[python]` and the other user-space pseudo-files) or an address in the upper half of
//! the address space makes a frame a kernel frame. Modules are the mappings' file names without
//! their directories. A location without lines becomes a frame named `module+0xoffset`, as prof
//! names frames it could not symbolize. The comments prof writes restore the metadata.

mod budget;
pub mod proto;
mod read;
mod write;

pub use read::{decode, from_proto, is_gzip, read, read_if_raw_pprof};
pub(crate) use write::{can_be_main_binary, mapping_name, physical_frames, to_i64};
pub use write::{to_proto, write};

use crate::profile::Metadata;

/// Largest decompressed protobuf read: 1 GiB, as for archive bodies. A gzip bomb stops there
/// instead of filling memory.
pub const MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;

/// Most memory one read may spend on the decoded protobuf message, and again on the profile
/// rebuilt from it: 1 GiB each.
///
/// Protobuf is compact: an empty sample is 2 bytes on the wire and 72 in memory, a location id
/// 1 byte and 8, so the 1 GiB decompression cap alone would let a 1 MB gzip file ask for tens of
/// GiB; and a location with many lines, or a sample listing one location many times, makes
/// frames and stacks out of strings and ids the file holds once. Every element and string is
/// therefore charged before it is allocated ([`decode`] measures the message on the wire first,
/// [`from_proto`] charges frames, stacks, samples and notes). Real profiles decode to 5–6× their
/// protobuf size (Go's CPU profile in `tests/fixtures/export`: 5.2×, prof's export of
/// `real.prof`: 6.3×), so a profile of up to ~170 MB uncompressed, far above what profilers
/// write, fits.
pub const MAX_DECODED_MEMORY: u64 = 1 << 30;

/// Sample label (numeric) of the process's pid in its own pid namespace, where it differs
/// from `pid` (a process in a container).
pub const NS_PID_LABEL: &str = "pid_ns";
/// Sample label of the cgroup v2 path (`/system.slice/nginx.service`), when known.
pub const CGROUP_LABEL: &str = "cgroup";
/// Sample label (numeric) of the cgroup v2 id.
pub const CGROUP_ID_LABEL: &str = "cgroup_id";
/// Sample label of the container id the cgroup path names.
pub const CONTAINER_LABEL: &str = "container_id";
/// Sample label of the systemd unit the cgroup path names.
pub const UNIT_LABEL: &str = "systemd_unit";
/// Sample label of the Kubernetes pod uid the cgroup path names.
pub const POD_LABEL: &str = "pod_uid";

/// The mapping of kernel frames (and what perf and prof call the kernel's symbols).
pub const KERNEL_MAPPING: &str = "[kernel.kallsyms]";

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
    /// Decoding the message, or rebuilding the profile from it, would take more memory than
    /// [`MAX_DECODED_MEMORY`].
    #[error(
        "`{file}`: {what} would take more than {limit} bytes of memory; a real profile this large is not plausible"
    )]
    TooMuchMemory {
        /// Name of the input.
        file: String,
        /// What would take the memory, e.g. `the protobuf message (sample 12 …)`.
        what: String,
        /// The limit ([`MAX_DECODED_MEMORY`]).
        limit: u64,
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

/// The sampling period in nanoseconds, or `None` when the frequency is unknown.
pub fn period_ns(meta: &Metadata) -> Option<u64> {
    (meta.frequency_hz > 0).then(|| (1e9 / meta.frequency_hz as f64).round().max(1.0) as u64)
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::read::decode_limited;
    use super::*;
    use crate::profile::{Frame, FrameKind, Profile, ProfileBuilder, MISSING_USER_STACK};

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
        b.add_thread(s2, 11, 12, "worker", 2);
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

    /// Writing and reading gives back the same frames, stacks, pids, threads, comms and
    /// metadata.
    #[test]
    fn pprof_round_trip_keeps_frames_and_labels() {
        let original = profile();
        let mut bytes = Vec::new();
        write(&original, &mut bytes).unwrap();
        assert!(is_gzip(&bytes));
        let back = read(&bytes, "x.pb.gz").unwrap();
        let lines = |p: &Profile| {
            let mut v: Vec<(Vec<Frame>, u32, u32, String, u64)> = p
                .samples
                .iter()
                .map(|s| (p.stack_frames(s.stack).cloned().collect(), s.pid, s.tid, s.comm.clone(), s.count))
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

    /// A sample's cgroup becomes the labels `cgroup`, `cgroup_id` and what the path names
    /// (`container_id`, `systemd_unit`, `pod_uid`); reading them back gives the cgroup again, and
    /// a cgroup whose path is not known only its id.
    #[test]
    fn pprof_cgroup_labels_round_trip() {
        use crate::profile::{Cgroup, SampleOwner};
        let id = "c0".repeat(32);
        let uid = "7e2b9c4d-1a3f-4b5e-8c6d-0f1e2d3c4b5a";
        let pod = Cgroup {
            id: 41,
            path: format!("/kubepods.slice/kubepods-pod{}.slice/cri-containerd-{id}.scope", uid.replace('-', "_")),
        };
        let gone = Cgroup { id: 42, path: String::new() };
        let mut b = ProfileBuilder::new(Metadata { frequency_hz: 99, ..Metadata::default() });
        let main = b.frame(user("main", "app"));
        let s = b.stack(vec![main]);
        b.add_owned(s, SampleOwner { pid: 1, tid: 1, comm: "a", cgroup: Some(&pod) }, 2);
        b.add_owned(s, SampleOwner { pid: 2, tid: 2, comm: "b", cgroup: Some(&gone) }, 3);
        b.add_owned(s, SampleOwner { pid: 3, tid: 3, comm: "c", cgroup: None }, 4);
        let original = b.finish();
        let p = to_proto(&original);
        let text = |i: i64| String::from_utf8_lossy(&p.string_table[i as usize]).into_owned();
        let labels = |pid: i64| -> Vec<(String, String)> {
            let s = p.sample.iter().find(|s| s.label.iter().any(|l| text(l.key) == "pid" && l.num == pid)).unwrap();
            s.label
                .iter()
                .filter(|l| !["pid", "tid", "comm"].contains(&text(l.key).as_str()))
                .map(|l| (text(l.key), if l.str != 0 { text(l.str) } else { l.num.to_string() }))
                .collect()
        };
        let expected: Vec<(String, String)> = [
            ("cgroup", pod.path.as_str()),
            ("container_id", id.as_str()),
            ("systemd_unit", &format!("cri-containerd-{id}.scope")),
            ("pod_uid", uid),
            ("cgroup_id", "41"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(labels(1), expected);
        assert_eq!(labels(2), [("cgroup_id".to_string(), "42".to_string())]);
        assert!(labels(3).is_empty());
        let mut bytes = Vec::new();
        write(&original, &mut bytes).unwrap();
        let back = read(&bytes, "x.pb.gz").unwrap();
        let cgroups = |p: &Profile| {
            let mut v: Vec<(u32, Option<Cgroup>)> =
                p.samples.iter().map(|s| (s.pid, p.cgroup_of(s).cloned())).collect();
            v.sort();
            v
        };
        assert_eq!(cgroups(&back), cgroups(&original));
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
