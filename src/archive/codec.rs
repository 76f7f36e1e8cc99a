//! The uncompressed archive body: a sequence of tagged, length-prefixed sections (`META`, `FRMS`,
//! `STKS`, `SMPL`) encoded from and decoded into a [`Profile`]. Decoding checks every length and
//! count against the bytes left before allocating, validates UTF-8 and indices, and never panics.
//!
//! Memory is bounded twice, in one place ([`Decoder::count`] and [`Decoder::str`]): a count must
//! fit the bytes left in its section (so nothing is decoded that is not there), and what the
//! decoded elements take in memory is charged against [`MAX_DECODED_LEN`] for the whole body
//! (an entry of a few bytes, such as an empty frame, takes ~90 bytes in memory, so the body cap
//! alone would let a 1 GiB body of empty entries take ~9 GiB). Up-front reservations are never
//! larger than the bytes left in the section ([`Decoder::vec`]).
//!
//! The byte layout is documented in `docs/archive-format.md`.

use super::error::ArchiveError;
use crate::profile::{Cgroup, Frame, FrameKind, LossReason, Metadata, Profile, Sample, SampledEvent, WeightUnit};

/// Section holding [`Metadata`].
pub(crate) const TAG_META: [u8; 4] = *b"META";
/// Section holding the frame table.
pub(crate) const TAG_FRAMES: [u8; 4] = *b"FRMS";
/// Section holding the stacks.
pub(crate) const TAG_STACKS: [u8; 4] = *b"STKS";
/// Section holding the samples.
pub(crate) const TAG_SAMPLES: [u8; 4] = *b"SMPL";

/// Optional section holding the per-binary unwind report (after `SMPL`; readers that do not
/// know it skip it).
pub(crate) const TAG_UNWIND: [u8; 4] = *b"UNWD";
/// Optional section holding each sample's thread id, in the order of `SMPL` (after it; written
/// only when a thread is known; readers that do not know it skip it, and the threads are 0).
pub(crate) const TAG_THREADS: [u8; 4] = *b"TIDS";
/// Optional section (version 2) holding the cgroup table and each sample's cgroup, in the order
/// of `SMPL` (after it; written when the profile has a cgroup table or a sample has a cgroup).
pub(crate) const TAG_CGROUPS: [u8; 4] = *b"CGRP";
/// Optional section holding the pid of processes in their own pid namespace, where it differs
/// (after `SMPL`; written only when one is known; readers that do not know it skip it).
pub(crate) const TAG_NS_PIDS: [u8; 4] = *b"NSPD";

/// Smallest encoding of one cgroup: id and an empty path.
const MIN_CGROUP_LEN: usize = 8 + 4;

/// Smallest encoding of one unwind-report binary: name, table, samples, complete, unsymbolized,
/// empty list.
const MIN_UNWIND_BINARY_LEN: usize = 4 + 4 + 8 + 8 + 8 + 4;

/// The known sections, in the order they must appear.
const KNOWN: [[u8; 4]; 4] = [TAG_META, TAG_FRAMES, TAG_STACKS, TAG_SAMPLES];

/// Bytes of a section header: a 4-byte tag and a u64 payload length.
const SECTION_HEADER_LEN: usize = 12;

const KIND_USER: u8 = 0;
const KIND_KERNEL: u8 = 1;
const KIND_PLACEHOLDER: u8 = 2;

const FRAME_INLINED: u8 = 1 << 0;
const FRAME_HAS_FILE: u8 = 1 << 1;
const FRAME_HAS_LINE: u8 = 1 << 2;
const FRAME_KNOWN_FLAGS: u8 = FRAME_INLINED | FRAME_HAS_FILE | FRAME_HAS_LINE;

/// Smallest encoding of one CPU number (u32).
const MIN_CPU_LEN: usize = 4;
/// Smallest encoding of one loss: empty id string (u32 length) and a u64 count.
const MIN_LOSS_LEN: usize = 4 + 8;
/// Smallest encoding of one note: an empty string.
const MIN_NOTE_LEN: usize = 4;
/// Smallest encoding of one frame: two empty strings, kind and flags.
const MIN_FRAME_LEN: usize = 4 + 4 + 1 + 1;
/// Smallest encoding of one stack: an empty frame list.
const MIN_STACK_LEN: usize = 4;
/// Smallest encoding of one frame index in a stack.
const MIN_FRAME_ID_LEN: usize = 4;
/// Smallest encoding of one sample: stack, pid, empty comm, count.
const MIN_SAMPLE_LEN: usize = 4 + 4 + 4 + 8;

/// Most memory the decoded tables of one body may take: 2 GiB, the sizes of the elements
/// ([`std::mem::size_of`]) plus the bytes of their strings and lists.
///
/// Real bodies are charged about 1.9× their size (`tests/fixtures/export/real.prof`: names of
/// tens of bytes, stacks of tens of frames), so a body at the 1 GiB cap
/// ([`super::MAX_BODY_LEN`]) fits; what does not is a body of near-empty entries, which only a
/// damaged or crafted file holds. With the body itself,
/// reading one archive takes at most about 3 GiB whatever the input.
pub(crate) const MAX_DECODED_LEN: u64 = 2 << 30;

/// The last note of a profile whose counts are nanoseconds (docs/archive-format.md): the unit
/// travels as a note, so that archives keep their version and older readers show it.
const NANOSECONDS_NOTE: &str = "weights: nanoseconds";

/// Encodes a profile into an uncompressed body of at most `limit` bytes.
pub(crate) fn encode_body(profile: &Profile, limit: u64) -> Result<Vec<u8>, ArchiveError> {
    let mut enc = Encoder { buf: Vec::new() };
    enc.section(TAG_META, |e| e.meta(&profile.meta))?;
    enc.section(TAG_FRAMES, |e| {
        e.count(profile.frames.len(), "frame table")?;
        profile.frames.iter().try_for_each(|f| e.frame(f))
    })?;
    enc.section(TAG_STACKS, |e| {
        e.count(profile.stacks.len(), "stack table")?;
        profile.stacks.iter().try_for_each(|s| {
            e.count(s.len(), "stack")?;
            s.iter().for_each(|&f| e.u32(f));
            Ok(())
        })
    })?;
    enc.section(TAG_SAMPLES, |e| {
        e.count(profile.samples.len(), "sample table")?;
        profile.samples.iter().try_for_each(|s| {
            e.u32(s.stack);
            e.u32(s.pid);
            e.str(&s.comm, "comm")?;
            e.u64(s.count);
            Ok(())
        })
    })?;
    if profile.samples.iter().any(|s| s.tid != 0) {
        enc.section(TAG_THREADS, |e| {
            e.count(profile.samples.len(), "thread table")?;
            profile.samples.iter().for_each(|s| e.u32(s.tid));
            Ok(())
        })?;
    }
    if !profile.cgroups.is_empty() || profile.samples.iter().any(|s| s.cgroup.is_some()) {
        enc.section(TAG_CGROUPS, |e| {
            e.count(profile.cgroups.len(), "cgroup table")?;
            for c in &profile.cgroups {
                e.u64(c.id);
                e.str(&c.path, "cgroup path")?;
            }
            e.count(profile.samples.len(), "sample cgroups")?;
            profile.samples.iter().for_each(|s| e.u32(s.cgroup.map_or(0, |i| i.saturating_add(1))));
            Ok(())
        })?;
    }
    if !profile.ns_pids.is_empty() {
        enc.section(TAG_NS_PIDS, |e| {
            e.count(profile.ns_pids.len(), "namespace pid table")?;
            for (&pid, &ns_pid) in &profile.ns_pids {
                e.u32(pid);
                e.u32(ns_pid);
            }
            Ok(())
        })?;
    }
    let u = &profile.meta.unwind;
    if !u.is_empty() || !u.modes.is_empty() {
        enc.section(TAG_UNWIND, |e| {
            e.str(&u.modes.to_string(), "unwind mode")?;
            e.count(u.binaries.len(), "unwind report")?;
            for (name, b) in &u.binaries {
                e.str(name, "unwind binary")?;
                e.str(&b.table, "unwind table")?;
                e.u64(b.samples);
                e.u64(b.complete);
                e.u64(b.unsymbolized);
                e.count(b.stopped.len(), "unwind stops")?;
                for (status, n) in &b.stopped {
                    e.str(status.id(), "unwind status")?;
                    e.u64(*n);
                }
            }
            Ok(())
        })?;
    }
    let size = enc.buf.len() as u64;
    if size > limit {
        return Err(ArchiveError::TooLarge { what: "uncompressed body", size, limit });
    }
    Ok(enc.buf)
}

struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Writes a u32 element count, refusing counts that do not fit.
    fn count(&mut self, n: usize, what: &'static str) -> Result<(), ArchiveError> {
        let n32 = u32::try_from(n).map_err(|_| ArchiveError::TooLarge {
            what,
            size: n as u64,
            limit: u64::from(u32::MAX),
        })?;
        self.u32(n32);
        Ok(())
    }

    fn str(&mut self, s: &str, what: &'static str) -> Result<(), ArchiveError> {
        self.count(s.len(), what)?;
        self.buf.extend_from_slice(s.as_bytes());
        Ok(())
    }

    /// Writes a section: tag, u64 payload length (patched after), payload.
    fn section(
        &mut self,
        tag: [u8; 4],
        payload: impl FnOnce(&mut Self) -> Result<(), ArchiveError>,
    ) -> Result<(), ArchiveError> {
        self.buf.extend_from_slice(&tag);
        let len_at = self.buf.len();
        self.u64(0);
        payload(self)?;
        let len = (self.buf.len() - len_at - 8) as u64;
        self.buf[len_at..len_at + 8].copy_from_slice(&len.to_le_bytes());
        Ok(())
    }

    fn meta(&mut self, m: &Metadata) -> Result<(), ArchiveError> {
        self.str(&m.prof_version, "prof version")?;
        self.str(&m.hostname, "hostname")?;
        self.str(&m.kernel_release, "kernel release")?;
        self.count(m.cpus.len(), "cpu list")?;
        m.cpus.iter().for_each(|&c| self.u32(c));
        self.str(&m.event.to_string(), "event")?;
        self.u64(m.frequency_hz);
        self.u64(m.start_unix_ns);
        self.u64(m.end_unix_ns);
        self.str(&m.target, "target")?;
        self.u64(m.total_samples);
        self.count(m.losses.len(), "loss list")?;
        for (reason, &n) in &m.losses {
            self.str(reason.id(), "loss reason")?;
            self.u64(n);
        }
        let unit_note = (!m.weight_unit.is_count()).then_some(NANOSECONDS_NOTE);
        self.count(m.notes.len() + usize::from(unit_note.is_some()), "note list")?;
        m.notes.iter().map(String::as_str).chain(unit_note).try_for_each(|n| self.str(n, "note"))
    }

    fn frame(&mut self, f: &Frame) -> Result<(), ArchiveError> {
        self.str(&f.name, "frame name")?;
        self.str(&f.module, "frame module")?;
        self.u8(match f.kind {
            FrameKind::User => KIND_USER,
            FrameKind::Kernel => KIND_KERNEL,
            FrameKind::Placeholder => KIND_PLACEHOLDER,
        });
        let mut flags = 0;
        if f.inlined {
            flags |= FRAME_INLINED;
        }
        if f.file.is_some() {
            flags |= FRAME_HAS_FILE;
        }
        if f.line.is_some() {
            flags |= FRAME_HAS_LINE;
        }
        self.u8(flags);
        if let Some(file) = &f.file {
            self.str(file, "frame file")?;
        }
        if let Some(line) = f.line {
            self.u32(line);
        }
        Ok(())
    }
}

/// Decodes an uncompressed body into a profile.
pub(crate) fn decode_body(body: &[u8]) -> Result<Profile, ArchiveError> {
    let mut profile = Profile::default();
    let mut next_known = 0;
    let mut pos = 0;
    let mut budget = MAX_DECODED_LEN;
    while pos < body.len() {
        let left = body.len() - pos;
        if left < SECTION_HEADER_LEN {
            return Err(ArchiveError::corrupt(
                pos,
                format!("a section header needs {SECTION_HEADER_LEN} bytes, only {left} left"),
            ));
        }
        let mut header = Decoder { body, pos, end: pos + SECTION_HEADER_LEN, section: *b"????", budget: 0 };
        let tag: [u8; 4] = header.array("section tag")?;
        let len = u64::from_le_bytes(header.array("section length")?);
        let start = header.pos;
        let left = (body.len() - start) as u64;
        if len > left {
            return Err(ArchiveError::corrupt(
                pos + 4,
                format!("section `{}` declares {len} bytes, only {left} left", tag_name(tag)),
            ));
        }
        // `len <= left`, so it fits in usize.
        let end = start + len as usize;
        if let Some(index) = KNOWN.iter().position(|&k| k == tag) {
            if index != next_known {
                let reason = match KNOWN.get(next_known) {
                    Some(&expected) if index > next_known => {
                        format!("section `{}` before the required section `{}`", tag_name(tag), tag_name(expected))
                    }
                    _ => format!("duplicate or out-of-order section `{}`", tag_name(tag)),
                };
                return Err(ArchiveError::corrupt(pos, reason));
            }
            next_known += 1;
            let mut dec = Decoder { body, pos: start, end, section: tag, budget };
            match tag {
                TAG_META => profile.meta = dec.meta()?,
                TAG_FRAMES => profile.frames = dec.frames()?,
                TAG_STACKS => profile.stacks = dec.stacks(profile.frames.len())?,
                _ => profile.samples = dec.samples(profile.stacks.len())?,
            }
            dec.finish()?;
            budget = dec.budget;
        }
        if tag == TAG_THREADS && next_known == KNOWN.len() {
            let mut dec = Decoder { body, pos: start, end, section: tag, budget };
            dec.threads(&mut profile.samples)?;
            dec.finish()?;
            budget = dec.budget;
        }
        if tag == TAG_CGROUPS && next_known == KNOWN.len() {
            let mut dec = Decoder { body, pos: start, end, section: tag, budget };
            profile.cgroups = dec.cgroups(&mut profile.samples)?;
            dec.finish()?;
            budget = dec.budget;
        }
        if tag == TAG_NS_PIDS && next_known == KNOWN.len() {
            let mut dec = Decoder { body, pos: start, end, section: tag, budget };
            profile.ns_pids = dec.ns_pids()?;
            dec.finish()?;
            budget = dec.budget;
        }
        if tag == TAG_UNWIND && next_known == KNOWN.len() {
            let mut dec = Decoder { body, pos: start, end, section: tag, budget };
            profile.meta.unwind = dec.unwind_report()?;
            dec.finish()?;
            budget = dec.budget;
        }
        // Unknown sections are skipped.
        pos = end;
    }
    if let Some(&missing) = KNOWN.get(next_known) {
        return Err(ArchiveError::corrupt(body.len(), format!("missing the required section `{}`", tag_name(missing))));
    }
    Ok(profile)
}

/// Bytes of the first section of an encoded body (header and payload): the `META` section, as
/// [`encode_body`] writes it first.
pub(crate) fn meta_section_len(body: &[u8]) -> usize {
    let len = body.get(4..SECTION_HEADER_LEN).and_then(|b| b.try_into().ok()).map_or(0, u64::from_le_bytes);
    SECTION_HEADER_LEN.saturating_add(usize::try_from(len).unwrap_or(usize::MAX))
}

/// Reads section after section from a decompressing reader of a body of `body_len` bytes until
/// `META` and decodes it; sections before it (unknown tags) are skipped without keeping them.
pub(crate) fn decode_meta_from(body: &mut impl std::io::Read, body_len: u64) -> Result<Metadata, ArchiveError> {
    let mut pos: u64 = 0;
    loop {
        let mut header = [0u8; SECTION_HEADER_LEN];
        read_exact_at(body, &mut header, pos, "a section header")?;
        let tag: [u8; 4] = header[..4].try_into().unwrap_or_default();
        let len = u64::from_le_bytes(header[4..].try_into().unwrap_or_default());
        pos += SECTION_HEADER_LEN as u64;
        let left = body_len.saturating_sub(pos);
        if len > left {
            return Err(ArchiveError::corrupt(
                (pos - 8) as usize,
                format!("section `{}` declares {len} bytes, only {left} left", tag_name(tag)),
            ));
        }
        if tag == TAG_META {
            // Grown as bytes arrive, not sized from the declared length.
            let mut payload = Vec::new();
            let read = std::io::Read::read_to_end(&mut std::io::Read::take(&mut *body, len), &mut payload)
                .map_err(ArchiveError::Decompress)?;
            if (read as u64) < len {
                return Err(ArchiveError::corrupt(
                    (pos + read as u64) as usize,
                    "the body ends inside the `META` section",
                ));
            }
            let mut dec = Decoder { body: &payload, pos: 0, end: payload.len(), section: tag, budget: MAX_DECODED_LEN };
            let meta = dec.meta()?;
            dec.finish()?;
            return Ok(meta);
        }
        if KNOWN.contains(&tag) {
            return Err(ArchiveError::corrupt(
                (pos - SECTION_HEADER_LEN as u64) as usize,
                format!("section `{}` before the required section `META`", tag_name(tag)),
            ));
        }
        let skipped = std::io::copy(&mut std::io::Read::take(&mut *body, len), &mut std::io::sink())
            .map_err(ArchiveError::Decompress)?;
        if skipped < len {
            return Err(ArchiveError::corrupt((pos + skipped) as usize, "the body ends inside a section"));
        }
        pos += len;
    }
}

/// Reads exactly `buf.len()` bytes at body offset `pos` (for messages) from `body`.
fn read_exact_at(body: &mut impl std::io::Read, buf: &mut [u8], pos: u64, what: &str) -> Result<(), ArchiveError> {
    body.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            ArchiveError::corrupt(pos as usize, format!("the body ends before {what}"))
        } else {
            ArchiveError::Decompress(e)
        }
    })
}

/// A tag for messages: ASCII as is, anything else escaped.
fn tag_name(tag: [u8; 4]) -> String {
    tag.escape_ascii().to_string()
}

/// Reads one section's payload, `body[pos..end]`; offsets in errors are body offsets.
struct Decoder<'a> {
    body: &'a [u8],
    pos: usize,
    end: usize,
    section: [u8; 4],
    /// Bytes of memory the decoded elements may still take (out of [`MAX_DECODED_LEN`] for the
    /// whole body).
    budget: u64,
}

impl<'a> Decoder<'a> {
    fn left(&self) -> usize {
        self.end - self.pos
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ArchiveError> {
        if n > self.left() {
            return Err(ArchiveError::corrupt(
                self.pos,
                format!("{what} needs {n} bytes, only {} left in section `{}`", self.left(), tag_name(self.section)),
            ));
        }
        let bytes = self
            .body
            .get(self.pos..self.pos + n)
            .ok_or_else(|| ArchiveError::corrupt(self.pos, format!("{what} runs past the end of the body")))?;
        self.pos += n;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ArchiveError> {
        let at = self.pos;
        self.take(N, what)?.try_into().map_err(|_| ArchiveError::corrupt(at, format!("{what} needs {N} bytes")))
    }

    fn u8(&mut self, what: &str) -> Result<u8, ArchiveError> {
        Ok(u8::from_le_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &str) -> Result<u32, ArchiveError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, ArchiveError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// Reads a u32 count of `T`s, each encoded in at least `min_len` (> 0) bytes, and checks
    /// that `count * min_len` bytes are left in the section and that `count` `T`s fit in the
    /// memory budget (which they are charged), so that the caller can decode `count` elements
    /// without trusting the input.
    fn count<T>(&mut self, what: &str, min_len: usize) -> Result<usize, ArchiveError> {
        let at = self.pos;
        let n = self.u32(what)?;
        let need = u64::from(n) * min_len as u64;
        if need > self.left() as u64 {
            return Err(ArchiveError::corrupt(
                at,
                format!(
                    "{what} declares {n} entries (at least {need} bytes), only {} bytes left in \
                     section `{}`",
                    self.left(),
                    tag_name(self.section)
                ),
            ));
        }
        self.charge(at, what, u64::from(n) * std::mem::size_of::<T>() as u64)?;
        // `need <= left`, so `n` fits in usize when `min_len > 0`.
        Ok(n as usize)
    }

    /// Takes `bytes` of memory from the budget, or says that `what` (at body offset `at`) needs
    /// more memory than a reader allows.
    fn charge(&mut self, at: usize, what: &str, bytes: u64) -> Result<(), ArchiveError> {
        if bytes > self.budget {
            return Err(ArchiveError::corrupt(
                at,
                format!(
                    "{what} would take {bytes} bytes of memory, more than the {} left of the \
                     {MAX_DECODED_LEN} bytes a reader allows for a profile",
                    self.budget
                ),
            ));
        }
        self.budget -= bytes;
        Ok(())
    }

    /// An empty vector for `n` elements (a count from [`Decoder::count`]) reserving no more
    /// memory than the bytes left in the section: it grows as elements are actually decoded.
    fn vec<T>(&self, n: usize) -> Vec<T> {
        Vec::with_capacity(n.min(self.left() / std::mem::size_of::<T>().max(1)))
    }

    fn str(&mut self, what: &str) -> Result<String, ArchiveError> {
        let len = self.u32(what)? as usize;
        let at = self.pos;
        let bytes = self.take(len, what)?;
        self.charge(at, what, len as u64)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => Err(ArchiveError::corrupt(at + e.valid_up_to(), format!("{what} is not valid UTF-8"))),
        }
    }

    fn finish(&self) -> Result<(), ArchiveError> {
        if self.pos != self.end {
            return Err(ArchiveError::corrupt(
                self.pos,
                format!("{} unexpected bytes at the end of section `{}`", self.left(), tag_name(self.section)),
            ));
        }
        Ok(())
    }

    fn meta(&mut self) -> Result<Metadata, ArchiveError> {
        let mut m = Metadata {
            prof_version: self.str("prof version")?,
            hostname: self.str("hostname")?,
            kernel_release: self.str("kernel release")?,
            ..Metadata::default()
        };
        let n = self.count::<u32>("cpu list", MIN_CPU_LEN)?;
        m.cpus = (0..n).map(|_| self.u32("cpu")).collect::<Result<_, _>>()?;
        m.event = SampledEvent::from_name(&self.str("event")?);
        m.frequency_hz = self.u64("frequency")?;
        m.start_unix_ns = self.u64("start time")?;
        m.end_unix_ns = self.u64("end time")?;
        m.target = self.str("target")?;
        m.total_samples = self.u64("total samples")?;
        let n = self.count::<(String, u64)>("loss list", MIN_LOSS_LEN)?;
        let mut unknown = Vec::new();
        for _ in 0..n {
            let at = self.pos;
            let id = self.str("loss reason")?;
            let count = self.u64("loss count")?;
            match LossReason::from_id(&id) {
                Some(reason) => {
                    if m.losses.insert(reason, count).is_some() {
                        return Err(ArchiveError::corrupt(at, format!("loss reason `{id}` is listed twice")));
                    }
                }
                None => unknown.push((id, count)),
            }
        }
        let n = self.count::<String>("note list", MIN_NOTE_LEN)?;
        m.notes = (0..n).map(|_| self.str("note")).collect::<Result<_, _>>()?;
        if m.notes.last().is_some_and(|n| n == NANOSECONDS_NOTE) {
            m.notes.pop();
            m.weight_unit = WeightUnit::Nanoseconds;
        }
        for (id, count) in unknown {
            m.notes.push(format!(
                "the archive lists {count} losses of a reason this prof does not know \
                 (`{}`); they are not shown",
                id.escape_debug()
            ));
        }
        Ok(m)
    }

    fn unwind_report(&mut self) -> Result<crate::profile::unwind::UnwindReport, ArchiveError> {
        use crate::profile::unwind::{UnknownUnwindMode, UnwindStatus};
        let at = self.pos;
        let modes = self.str("unwind mode")?;
        let modes = modes.parse().map_err(|e: UnknownUnwindMode| {
            ArchiveError::corrupt(at, format!("{e} in the unwind report (modes `{}`)", modes.escape_debug()))
        })?;
        let mut r = crate::profile::unwind::UnwindReport { modes, ..Default::default() };
        let n = self.count::<(String, crate::profile::unwind::BinaryUnwind)>("unwind report", MIN_UNWIND_BINARY_LEN)?;
        for _ in 0..n {
            let name = self.str("unwind binary")?;
            let mut b = crate::profile::unwind::BinaryUnwind {
                table: self.str("unwind table")?,
                samples: self.u64("unwind samples")?,
                complete: self.u64("unwind complete")?,
                unsymbolized: self.u64("unwind unsymbolized")?,
                ..Default::default()
            };
            let stops = self.count::<(UnwindStatus, u64)>("unwind stops", MIN_LOSS_LEN)?;
            for _ in 0..stops {
                let at = self.pos;
                let id = self.str("unwind status")?;
                let count = self.u64("unwind stop count")?;
                // Statuses a later prof adds are kept out of the figures, not fatal.
                if let Some(status) = UnwindStatus::from_id(&id) {
                    if b.stopped.insert(status, count).is_some() {
                        return Err(ArchiveError::corrupt(at, format!("unwind status `{id}` is listed twice")));
                    }
                }
            }
            r.binaries.insert(name, b);
        }
        Ok(r)
    }

    fn frames(&mut self) -> Result<Vec<Frame>, ArchiveError> {
        let n = self.count::<Frame>("frame table", MIN_FRAME_LEN)?;
        let mut frames = self.vec(n);
        for i in 0..n {
            let name = self.str("frame name")?;
            let module = self.str("frame module")?;
            let at = self.pos;
            let kind = match self.u8("frame kind")? {
                KIND_USER => FrameKind::User,
                KIND_KERNEL => FrameKind::Kernel,
                KIND_PLACEHOLDER => FrameKind::Placeholder,
                k => return Err(ArchiveError::corrupt(at, format!("frame {i} has unknown kind {k}"))),
            };
            let at = self.pos;
            let flags = self.u8("frame flags")?;
            if flags & !FRAME_KNOWN_FLAGS != 0 {
                return Err(ArchiveError::corrupt(at, format!("frame {i} has unknown flags {flags:#04x}")));
            }
            let file = if flags & FRAME_HAS_FILE != 0 { Some(self.str("frame file")?) } else { None };
            let line = if flags & FRAME_HAS_LINE != 0 { Some(self.u32("frame line")?) } else { None };
            frames.push(Frame { name, module, kind, inlined: flags & FRAME_INLINED != 0, file, line });
        }
        Ok(frames)
    }

    /// Reads a u32 (`what`) that entry `referrer.1` of the `referrer.0` table uses as an index
    /// into the `target.0` table of `target.1` entries, and checks it is one.
    fn index(&mut self, what: &str, referrer: (&str, usize), target: (&str, usize)) -> Result<u32, ArchiveError> {
        let at = self.pos;
        let index = self.u32(what)?;
        let ((referrer, i), (target, count)) = (referrer, target);
        if index as usize >= count {
            return Err(ArchiveError::corrupt(
                at,
                format!("{referrer} {i} refers to {target} {index}, but there are {count} {target}s"),
            ));
        }
        Ok(index)
    }

    fn stacks(&mut self, frame_count: usize) -> Result<Vec<Vec<u32>>, ArchiveError> {
        let n = self.count::<Vec<u32>>("stack table", MIN_STACK_LEN)?;
        let mut stacks = self.vec(n);
        for i in 0..n {
            let depth = self.count::<u32>("stack", MIN_FRAME_ID_LEN)?;
            let mut stack = self.vec(depth);
            for _ in 0..depth {
                stack.push(self.index("frame index", ("stack", i), ("frame", frame_count))?);
            }
            stacks.push(stack);
        }
        Ok(stacks)
    }

    /// Reads the u32 count of a table of one u32 per sample (`what`), which must be `samples`.
    fn per_sample(&mut self, what: &str, samples: usize) -> Result<(), ArchiveError> {
        let at = self.pos;
        let n = self.count::<u32>(what, 4)?;
        if n != samples {
            return Err(ArchiveError::corrupt(at, format!("the {what} has {n} entries for {samples} samples")));
        }
        Ok(())
    }

    /// Reads the thread of each sample (`TIDS`): one per sample, in their order.
    fn threads(&mut self, samples: &mut [Sample]) -> Result<(), ArchiveError> {
        self.per_sample("thread table", samples.len())?;
        for s in samples.iter_mut() {
            s.tid = self.u32("sample thread")?;
        }
        Ok(())
    }

    /// Reads the pids in their own pid namespace (`NSPD`): (pid, namespace pid) pairs.
    fn ns_pids(&mut self) -> Result<std::collections::BTreeMap<u32, u32>, ArchiveError> {
        let n = self.count::<(u32, u32)>("namespace pid table", 8)?;
        let mut pids = std::collections::BTreeMap::new();
        for _ in 0..n {
            let pid = self.u32("pid")?;
            pids.insert(pid, self.u32("namespace pid")?);
        }
        Ok(pids)
    }

    /// Reads the cgroup table and the cgroup of each sample (`CGRP`): 0 for none, else an
    /// index into the table plus one.
    fn cgroups(&mut self, samples: &mut [Sample]) -> Result<Vec<Cgroup>, ArchiveError> {
        let n = self.count::<Cgroup>("cgroup table", MIN_CGROUP_LEN)?;
        let mut cgroups = self.vec(n);
        for _ in 0..n {
            let id = self.u64("cgroup id")?;
            cgroups.push(Cgroup { id, path: self.str("cgroup path")? });
        }
        self.per_sample("sample cgroup table", samples.len())?;
        for (i, s) in samples.iter_mut().enumerate() {
            let at = self.pos;
            s.cgroup = match self.u32("sample cgroup")? {
                0 => None,
                c if (c as usize) <= cgroups.len() => Some(c - 1),
                c => {
                    return Err(ArchiveError::corrupt(
                        at,
                        format!("sample {i} refers to cgroup {}, but there are {} cgroups", c - 1, cgroups.len()),
                    ))
                }
            };
        }
        Ok(cgroups)
    }

    fn samples(&mut self, stack_count: usize) -> Result<Vec<Sample>, ArchiveError> {
        let n = self.count::<Sample>("sample table", MIN_SAMPLE_LEN)?;
        let mut samples = self.vec(n);
        for i in 0..n {
            let stack = self.index("sample stack", ("sample", i), ("stack", stack_count))?;
            let pid = self.u32("sample pid")?;
            let comm = self.str("sample comm")?;
            let count = self.u64("sample count")?;
            samples.push(Sample { stack, pid, tid: 0, comm, cgroup: None, count });
        }
        Ok(samples)
    }
}
