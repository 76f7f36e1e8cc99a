//! Folded stacks: the `comm;outermost;…;innermost COUNT` text format of Brendan Gregg's
//! `stackcollapse-*` scripts, `inferno-collapse-*` and `flamegraph.pl`, written from a
//! [`Profile`] and parsed back into one.
//!
//! # Writing
//!
//! One line per unique stack, sorted in byte order and newline-terminated. The root frame is the
//! sample's `comm` (`comm [pid]` with [`RenderOptions::pid_in_name`]), kernel frames carry the
//! `_[k]` suffix and inlined user frames `_[i]`, which is how flame graph palettes tell them apart.
//! Samples whose lines come out identical (same names, different pids or modules) are merged,
//! counts summed and saturating at `u64::MAX`.
//!
//! Names are made safe for the format, so that the output is read back unchanged by prof, inferno
//! and `flamegraph.pl`:
//! - `;` (the frame separator) becomes `:`, e.g. Rust's `[u8; 8]` becomes `[u8: 8]`;
//! - control characters (newline, carriage return, tab, …) and bidirectional formatting
//!   characters (which could make a name display as another) become a space;
//! - leading and trailing whitespace is removed (the tools trim lines), and a name left empty
//!   becomes `[unknown]`;
//! - a space before a trailing number (`worker 2`) becomes `_` (`worker_2`), because the tools
//!   would read that number as a second, differential count;
//! - a leading `# ` becomes `#_`, because inferno skips lines starting with `# ` as comments.
//!
//! The count is the profile's weight: samples, or for an off-CPU profile (`prof record
//! --off-cpu`) nanoseconds blocked, whose stacks start (under the comm) with a frame naming why
//! the thread waited, `[off-cpu: sleeping]`, `[off-cpu: uninterruptible]`,
//! `[off-cpu: preempted]` or `[off-cpu: other]`; a wall-clock profile (`--wall`) has those and
//! `[on-cpu]`, all in nanoseconds.
//!
//! Two ambiguities remain and are not escaped: a user function whose name really ends in `_[k]`,
//! `_[i]` or `_[j]` reads back as annotated, and without `pid_in_name` a comm that looks like
//! `name [123]` reads back as comm `name` in pid 123.
//!
//! # Parsing
//!
//! [`parse`] reads prof's output and that of `perf script | inferno-collapse-perf` or
//! `stackcollapse-perf.pl`: the count is the last whitespace-separated token, the first frame is
//! the comm (`name [123]` gives pid 123, otherwise the pid is 0), `_[k]` marks kernel frames, `_[i]`
//! inlined frames and `_[j]` JIT frames (kept as user frames, suffix removed), and
//! [`MISSING_USER_STACK`]/[`MISSING_KERNEL_STACK`] become placeholders. Modules are not in the
//! format and read back empty, except for Python frames: a name of their form,
//! `qualname (file.py:line)` (prof's and py-spy's), reads back as a Python frame
//! ([`Frame::from_python_label`]). A file with `[off-cpu: …]` frames reads back as an off-CPU
//! profile (weights in nanoseconds, event `off-cpu`), or with `[on-cpu]` frames too as a
//! wall-clock one (event `wall`), unless `--weights` says otherwise.

use rustc_hash::FxHashMap as HashMap;
use std::borrow::Cow;
use std::io::{self, BufWriter, Write};

use thiserror::Error;

use super::RenderOptions;
use crate::profile::{
    EventKind, Frame, FrameId, FrameKind, Metadata, Profile, ProfileBuilder, ThreadState, WeightUnit,
    MISSING_KERNEL_STACK, MISSING_USER_STACK,
};

/// Suffix of kernel frames.
const KERNEL_SUFFIX: &str = "_[k]";
/// Suffix of inlined frames.
const INLINE_SUFFIX: &str = "_[i]";
/// Suffix of JIT frames (read, never written: prof has no JIT frames of its own).
const JIT_SUFFIX: &str = "_[j]";
/// What an empty name is written as, so that no frame is blank.
const UNKNOWN_NAME: &str = "[unknown]";

/// The folded lines of `profile`, sorted in byte order, without line terminators.
pub fn lines(profile: &Profile, opts: &RenderOptions) -> Vec<String> {
    let labels: Vec<String> = profile.frames.iter().map(frame_label).collect();
    let mut counts: HashMap<String, u64> = HashMap::default();
    for sample in &profile.samples {
        let mut stack = match opts.group_by {
            Some(group) => sanitize_name(&group.label(profile.cgroup_of(sample))).into_owned() + ";",
            None => String::new(),
        };
        stack.push_str(&root_label(&sample.comm, sample.pid, profile.ns_pids.get(&sample.pid).copied(), opts));
        for &frame in &profile.stacks[sample.stack as usize] {
            stack.push(';');
            stack.push_str(&labels[frame as usize]);
        }
        let count = counts.entry(stack).or_insert(0);
        *count = count.saturating_add(sample.count);
    }
    let mut lines: Vec<String> = counts.into_iter().map(|(stack, count)| format!("{stack} {count}")).collect();
    lines.sort_unstable();
    lines
}

/// Writes the folded lines of `profile` to `w`, each terminated by a newline.
pub fn write(profile: &Profile, opts: &RenderOptions, w: impl Write) -> io::Result<()> {
    let mut w = BufWriter::new(w);
    for line in lines(profile, opts) {
        w.write_all(line.as_bytes())?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

/// The root frame of a sample's line: its comm, with ` [pid]` when asked for, ` [pid ns:N]`
/// for a process that is `N` in its own pid namespace.
pub fn root_label(comm: &str, pid: u32, ns_pid: Option<u32>, opts: &RenderOptions) -> String {
    let mut label = sanitize_name(comm).into_owned();
    if opts.pid_in_name {
        match ns_pid {
            Some(ns) => label.push_str(&format!(" [{pid} ns:{ns}]")),
            None => label.push_str(&format!(" [{pid}]")),
        }
    }
    label
}

/// A frame as written in a folded line: its safe name plus the kind's suffix.
pub fn frame_label(frame: &Frame) -> String {
    let mut label = sanitize_name(&frame.name).into_owned();
    match frame.kind {
        FrameKind::Kernel => label.push_str(KERNEL_SUFFIX),
        FrameKind::User if frame.inlined => label.push_str(INLINE_SUFFIX),
        FrameKind::User | FrameKind::Placeholder => {}
    }
    label
}

/// Makes a name safe for a folded line, following the rules in the module documentation.
fn sanitize_name(name: &str) -> Cow<'_, str> {
    let needs_mapping = name.chars().any(|c| c == ';' || super::text::is_unsafe(c));
    let mut name: Cow<'_, str> = if needs_mapping {
        Cow::Owned(
            name.chars()
                .map(|c| match c {
                    ';' => ':',
                    c if super::text::is_unsafe(c) => ' ',
                    c => c,
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(name)
    };
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Cow::Borrowed(UNKNOWN_NAME);
    }
    if trimmed.len() != name.len() {
        name = Cow::Owned(trimmed.to_string());
    }
    let last_space = name.char_indices().rev().find(|&(_, c)| c.is_whitespace());
    if let Some((at, space)) = last_space {
        let end = at + space.len_utf8();
        if is_count_like(&name[end..]) {
            name.to_mut().replace_range(at..end, "_");
        }
    }
    if name.starts_with("# ") {
        name.to_mut().replace_range(1..2, "_");
    }
    name
}

/// True for a token that inferno or `flamegraph.pl` could take as a sample count: digits and dots,
/// with at least one digit.
fn is_count_like(token: &str) -> bool {
    token.chars().any(|c| c.is_ascii_digit()) && token.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// A folded file read into a [`Profile`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedFolded {
    /// The samples. Pids are 0 unless root frames read `comm [pid]`; modules are empty; the
    /// metadata names the source as target and counts the samples.
    pub profile: Profile,
    /// Malformed lines skipped in lenient mode (always 0 otherwise).
    pub skipped_lines: usize,
    /// Greatest common divisor of the lines' weights (0 without lines).
    pub weight_gcd: u64,
    /// Lines read.
    pub weight_lines: usize,
}

/// Why a folded file could not be read.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FoldedError {
    /// A line is not `STACK COUNT`.
    #[error("`{file}` line {line}: {reason}")]
    Malformed {
        /// Name of the input, as given to [`parse`].
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },
    /// A line is not valid UTF-8 (only outside lenient mode, which decodes it lossily).
    #[error("`{file}` line {line}: not valid UTF-8 (lenient reading replaces the invalid bytes)")]
    InvalidUtf8 {
        /// Name of the input, as given to [`parse`].
        file: String,
        /// 1-based line number.
        line: usize,
    },
    /// The profile would take more memory than the input justifies ([`memory_limit`]).
    #[error(
        "`{file}` line {line}: the profile would take more than {limit} bytes of memory (at most \
         {MEMORY_PER_INPUT_BYTE} per input byte, 1 GiB in all); real folded stacks share most frames"
    )]
    TooMuchMemory {
        /// Name of the input, as given to [`parse`].
        file: String,
        /// 1-based line number where the limit was reached.
        line: usize,
        /// The limit in bytes.
        limit: u64,
    },
    /// The input holds no samples: it is empty, or every line is blank, a comment, skipped or
    /// counts 0.
    #[error("`{file}` has no samples: expected lines of `STACK COUNT`")]
    Empty {
        /// Name of the input, as given to [`parse`].
        file: String,
    },
}

/// Bytes of memory the parsed profile may take per byte of input (see [`memory_limit`]).
pub const MEMORY_PER_INPUT_BYTE: u64 = 8;

/// The memory the profile parsed from `input_len` bytes of folded text may take: 8 bytes per
/// input byte, at least 64 MiB and at most 1 GiB. New frames, stacks and samples are charged
/// as they are interned, twice over for the slack of growing tables (a frame of a few bytes of
/// text takes ~250 bytes: the frame twice, in the table and its index, and its name twice).
///
/// Real folded files repeat their frames on line after line and take less memory than their
/// text; only text of nothing but distinct frames (crafted, 32 MiB of it took 2.5 GB) comes near
/// 8×. Bounding by the input keeps the profile within a small multiple of what was read.
pub fn memory_limit(input_len: usize) -> u64 {
    (input_len as u64).saturating_mul(MEMORY_PER_INPUT_BYTE).clamp(64 << 20, 1 << 30)
}

/// Parses folded stacks. `source_name` names the input in errors and becomes the profile's
/// target. In `lenient` mode malformed lines are skipped and counted, and invalid UTF-8 is
/// decoded lossily; otherwise the first such line is an error. Blank lines and `# ` comments are
/// ignored. Counts must be whole numbers (`12` or `12.0`); a count above `u64::MAX` and sums that
/// overflow saturate. The profile may take at most [`memory_limit`] bytes.
pub fn parse(text: &[u8], source_name: &str, lenient: bool) -> Result<ParsedFolded, FoldedError> {
    parse_with(text, source_name, lenient, None)
}

/// The smallest common divisor of all weights that makes them nanoseconds rather than sample
/// counts (see [`parse_with`]): 1 µs. Sampling periods are far above it (cpu-clock at 4000 Hz
/// is 250,000 ns, at 99 Hz 10,101,010 ns), while several sample counts sharing a divisor of
/// 1000 or more does not happen by chance (one count of 1, 2 or 999 rules it out).
pub const MIN_PERIOD_NS: u64 = 1000;

/// [`parse`], with the unit of the weights declared (`--weights ns|samples`) or, when `weights`
/// is `None`, detected: the weights are read as nanoseconds of CPU time when there are at least
/// two lines and every weight is a multiple of one number of at least [`MIN_PERIOD_NS`] (their
/// greatest common divisor), which is what `perf script | inferno-collapse-perf` gives for
/// perf's `cpu-clock` (each line's weight is its samples times the period in ns). Either way
/// the profile's [`WeightUnit`] says so and a note explains it.
pub fn parse_with(
    text: &[u8],
    source_name: &str,
    lenient: bool,
    weights: Option<WeightUnit>,
) -> Result<ParsedFolded, FoldedError> {
    let mut parsed = parse_text(text, source_name, lenient)?;
    let timed_event = timed_event(&parsed.profile);
    let meta = &mut parsed.profile.meta;
    match weights {
        Some(WeightUnit::Nanoseconds) => {
            meta.weight_unit = WeightUnit::Nanoseconds;
            meta.notes.push("weights declared as nanoseconds of CPU time (--weights ns)".to_string());
        }
        Some(WeightUnit::Samples) => {}
        None if timed_event.is_some() => {
            // prof's off-CPU or wall-clock output: the weights are nanoseconds.
            meta.weight_unit = WeightUnit::Nanoseconds;
            meta.event = timed_event.map(Into::into).unwrap_or_default();
        }
        None => {
            if parsed.weight_lines >= 2 && parsed.weight_gcd >= MIN_PERIOD_NS {
                meta.weight_unit = WeightUnit::Nanoseconds;
                meta.notes.push(format!(
                    "weights read as nanoseconds of CPU time: every weight is a multiple of {} (a sampling \
                     period, as perf's cpu-clock gives); --weights samples reads them as sample counts",
                    parsed.weight_gcd
                ));
            }
        }
    }
    Ok(parsed)
}

/// The event of a profile with the frames `prof record --off-cpu` marks its stacks with
/// (`[off-cpu: sleeping]`, …; its weights are nanoseconds blocked), or `--wall` (with
/// `[on-cpu]` too; nanoseconds of wall-clock time); None for other profiles.
fn timed_event(profile: &Profile) -> Option<EventKind> {
    let states: Vec<ThreadState> = profile.frames.iter().filter_map(|f| ThreadState::from_marker(&f.name)).collect();
    match states.contains(&ThreadState::OnCpu) {
        true => Some(EventKind::Wall),
        false => (!states.is_empty()).then_some(EventKind::OffCpu),
    }
}

/// [`parse`] without deciding the unit of the weights.
fn parse_text(text: &[u8], source_name: &str, lenient: bool) -> Result<ParsedFolded, FoldedError> {
    // The input is validated (or decoded) once, and frame names are interned as slices of it:
    // no copy per line or per frame.
    let (text, invalid_line) = match std::str::from_utf8(text) {
        Ok(text) => (Cow::Borrowed(text), None),
        // Newlines are never part of an invalid sequence: decoding the whole input is decoding
        // each line.
        Err(_) if lenient => (String::from_utf8_lossy(text), None),
        // The lines before the invalid one are read (an error there comes first), then it is
        // the error.
        Err(e) => {
            let valid = std::str::from_utf8(&text[..e.valid_up_to()]).unwrap_or_default();
            let complete_lines = valid.rfind('\n').map_or("", |end| &valid[..=end]);
            (Cow::Borrowed(complete_lines), Some(1 + memchr::memchr_iter(b'\n', valid.as_bytes()).count()))
        }
    };
    let mut parser = Parser::new(source_name, lenient, memory_limit(text.len()));
    for (index, line) in split(&text, b'\n').enumerate() {
        parser.line(line, index + 1)?;
    }
    if let Some(line) = invalid_line {
        return Err(FoldedError::InvalidUtf8 { file: source_name.to_string(), line });
    }
    parser.finish()
}

/// The state of [`parse`]: the profile being built and the frame names seen so far.
struct Parser<'a, 's> {
    source_name: &'s str,
    lenient: bool,
    builder: ProfileBuilder,
    /// Frame ids by folded name (suffix included), borrowed from the input.
    frame_ids: HashMap<&'a str, FrameId>,
    /// The current line's frame ids (reused from line to line).
    frames: Vec<FrameId>,
    skipped_lines: usize,
    total: u64,
    /// Greatest common divisor of the weights of the lines read, and how many there were.
    weight_gcd: u64,
    weight_lines: usize,
    /// Bytes of memory the profile may take, and may still take.
    limit: u64,
    budget: u64,
    /// Frames, stacks and samples of the builder already charged.
    charged: (usize, usize, usize),
}

impl<'a, 's> Parser<'a, 's> {
    fn new(source_name: &'s str, lenient: bool, budget: u64) -> Self {
        Parser {
            source_name,
            lenient,
            builder: ProfileBuilder::new(Metadata::default()),
            frame_ids: HashMap::default(),
            frames: Vec::new(),
            skipped_lines: 0,
            total: 0,
            weight_gcd: 0,
            weight_lines: 0,
            limit: budget,
            budget,
            charged: (0, 0, 0),
        }
    }

    /// Reads one line (without its `\n`; a trailing `\r` is trimmed with the other whitespace).
    fn line(&mut self, line: &'a str, line_no: usize) -> Result<(), FoldedError> {
        let line = line.trim();
        if line.is_empty() || line.starts_with("# ") {
            return Ok(());
        }
        let (stack, count) = match parse_line(line) {
            Ok(parsed) => parsed,
            Err(_) if self.lenient => {
                self.skipped_lines += 1;
                return Ok(());
            }
            Err(reason) => {
                return Err(FoldedError::Malformed { file: self.source_name.to_string(), line: line_no, reason })
            }
        };
        let mut names = split(stack, b';');
        let (comm, pid, ns_pid) = split_pid(names.next().unwrap_or_default());
        self.frames.clear();
        let mut cost = 0u64;
        for name in names {
            let id = match self.frame_ids.get(name) {
                Some(&id) => id,
                None => {
                    // The frame twice (table and index) with its name, and the entries of both
                    // indexes.
                    cost += (2 * (std::mem::size_of::<Frame>() + name.len()) + 64) as u64;
                    let id = self.builder.frame(parse_frame(name));
                    self.frame_ids.insert(name, id);
                    id
                }
            };
            self.frames.push(id);
        }
        let depth = self.frames.len();
        let stack_id = self.builder.stack(self.frames.to_vec());
        self.builder.add(stack_id, pid, comm, count);
        if let Some(ns) = ns_pid {
            self.builder.ns_pid(pid, ns);
        }
        self.total = self.total.saturating_add(count);
        self.weight_gcd = gcd(self.weight_gcd, count);
        self.weight_lines += 1;
        let (_, stacks, samples) = self.builder.counts();
        if stacks > self.charged.1 {
            cost += (depth * std::mem::size_of::<FrameId>() + 64) as u64;
        }
        if samples > self.charged.2 {
            cost += (std::mem::size_of::<crate::profile::Sample>() + comm.len() + 32) as u64;
        }
        self.charged = self.builder.counts();
        // Vectors and hash tables grow by doubling: up to twice their entries while they do.
        match self.budget.checked_sub(2 * cost) {
            Some(left) => self.budget = left,
            None => {
                let file = self.source_name.to_string();
                return Err(FoldedError::TooMuchMemory { file, line: line_no, limit: self.limit });
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<ParsedFolded, FoldedError> {
        let Parser { source_name, mut builder, skipped_lines, total, weight_gcd, weight_lines, .. } = self;
        if total == 0 {
            return Err(FoldedError::Empty { file: source_name.to_string() });
        }
        let meta = builder.meta_mut();
        meta.target = source_name.to_string();
        meta.total_samples = total;
        meta.notes.push(format!("read from folded stacks `{source_name}`: pids and modules unknown"));
        if skipped_lines > 0 {
            meta.notes.push(format!("skipped {skipped_lines} malformed lines"));
        }
        Ok(ParsedFolded { profile: builder.finish(), skipped_lines, weight_gcd, weight_lines })
    }
}

/// Greatest common divisor (Euclid); `gcd(0, n)` is `n`.
fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `text` split at each `sep` (an ASCII byte), like `str::split` but with SIMD search: lines
/// and frames are where parsing large files spends its time.
fn split(text: &str, sep: u8) -> impl Iterator<Item = &str> {
    debug_assert!(sep.is_ascii());
    let ends = memchr::memchr_iter(sep, text.as_bytes()).chain(std::iter::once(text.len()));
    ends.scan(0, move |start, end| {
        // An ASCII separator is always on a character boundary.
        let part = &text[*start..end];
        *start = end + 1;
        Some(part)
    })
}

/// Splits a trimmed, non-empty line into its stack and count, or says what is wrong.
fn parse_line(line: &str) -> Result<(&str, u64), String> {
    let Some((stack, count)) = line.rsplit_once(char::is_whitespace) else {
        return Err(if parse_count(line).is_ok() {
            "expected `STACK COUNT`, found an empty stack".to_string()
        } else {
            "expected `STACK COUNT`, found no count".to_string()
        });
    };
    let stack = stack.trim_end();
    let count = parse_count(count)?;
    // A second count would be the stack's last whitespace-separated token, made of digits and
    // dots only: look back over those, not over the whole stack.
    let tail = stack.bytes().rev().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
    let (head, last) = stack.split_at(stack.len() - tail);
    if head.ends_with(char::is_whitespace) && is_count_like(last) {
        return Err(format!(
            "expected `STACK COUNT`, found two counts (`{last}` and {count}): differential folded \
             files are not supported"
        ));
    }
    Ok((stack, count))
}

/// Parses a sample count: digits, optionally followed by a fraction of zeros.
fn parse_count(token: &str) -> Result<u64, String> {
    let (whole, fraction) = token.split_once('.').unwrap_or((token, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if let Some(magnitude) = whole.strip_prefix('-') {
        if !magnitude.is_empty() && digits(magnitude) && digits(fraction) {
            return Err(format!("count `{token}` is negative"));
        }
    }
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return Err(format!("expected `STACK COUNT`, found `{token}` instead of a count"));
    }
    if fraction.chars().any(|c| c != '0') {
        return Err(format!(
            "count `{token}` is fractional: prof counts whole samples (scale the counts to \
             integers first)"
        ));
    }
    // Only digits are left, so the one possible failure is overflow: saturate, as sums do.
    Ok(whole.parse().unwrap_or(u64::MAX))
}

/// Splits a root frame `name [123]` into comm `name` and pid 123, `name [123 ns:7]` also into
/// namespace pid 7; other roots have pid 0.
fn split_pid(root: &str) -> (&str, u32, Option<u32>) {
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let with_pid = || {
        let (comm, inside) = root.strip_suffix(']')?.rsplit_once(" [")?;
        let (pid, ns) = match inside.split_once(" ns:") {
            Some((pid, ns)) if digits(ns) => (pid, Some(ns.parse().ok()?)),
            Some(_) => return None,
            None => (inside, None),
        };
        if !digits(pid) {
            return None;
        }
        Some((comm, pid.parse().ok()?, ns))
    };
    with_pid().unwrap_or((root, 0, None))
}

/// A frame from its folded name: suffixes give the kind, prof's placeholders are recognized.
fn parse_frame(name: &str) -> Frame {
    if name == MISSING_USER_STACK || name == MISSING_KERNEL_STACK {
        Frame::placeholder(name)
    } else if let Some(kernel) = name.strip_suffix(KERNEL_SUFFIX) {
        Frame::new(kernel, "", FrameKind::Kernel)
    } else if let Some(inlined) = name.strip_suffix(INLINE_SUFFIX) {
        Frame { inlined: true, ..Frame::new(inlined, "", FrameKind::User) }
    } else if let Some(python) = Frame::from_python_label(name) {
        python
    } else {
        let user = name.strip_suffix(JIT_SUFFIX).unwrap_or(name);
        Frame::new(user, "", FrameKind::User)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With invalid UTF-8, the lines before it are still read first (their errors win), and the
    /// line number counts every line, blank ones too; lenient reading decodes it lossily.
    #[test]
    fn folded_invalid_utf8_line_numbers() {
        let err = |text: &[u8]| parse(text, "f", false).expect_err("accepted");
        let invalid = |line| FoldedError::InvalidUtf8 { file: "f".into(), line };
        assert_eq!(err(b"\xff;a 1\n"), invalid(1));
        assert_eq!(err(b"a 1\n\n# c\nb;\xff"), invalid(4));
        assert_eq!(err(b"a 1\nb;x\xe2\x82 2\nc 3\n"), invalid(2));
        assert!(matches!(err(b"a 1\nbad\n\xff 2\n"), FoldedError::Malformed { line: 2, .. }));
        let parsed = parse(b"a;x\xe2\x82 1\r\nb;\xff\xfe\n", "f", true).expect("lenient");
        assert_eq!(parsed.skipped_lines, 1);
        assert!(parsed.profile.frames.iter().any(|f| f.name == "x\u{fffd}"));
    }

    /// A second count is found after any whitespace, and only as the last token of the stack.
    #[test]
    fn folded_two_counts_are_found_as_the_last_token() {
        assert!(parse_line("a;b\u{2003}10 5").unwrap_err().contains("two counts"));
        assert!(parse_line("a;b 1.0 5").unwrap_err().contains("two counts"));
        assert_eq!(parse_line("a;b10 5"), Ok(("a;b10", 5)));
        assert_eq!(parse_line("a;b x10 5"), Ok(("a;b x10", 5)));
        assert_eq!(parse_line("1.0;2 5"), Ok(("1.0;2", 5)));
        assert_eq!(parse_line("10\t 5"), Ok(("10", 5)));
    }

    /// Root frames give a pid, `[pid ns:N]` also the namespace pid; anything else stays the
    /// comm with pid 0.
    #[test]
    fn folded_root_splits_pid_and_namespace_pid() {
        assert_eq!(split_pid("nginx [4242]"), ("nginx", 4242, None));
        assert_eq!(split_pid("nginx [4242 ns:7]"), ("nginx", 4242, Some(7)));
        assert_eq!(split_pid("a b [1 ns:2]"), ("a b", 1, Some(2)));
        for root in ["nginx [4242 ns:]", "nginx [4242 ns:x]", "nginx [ ns:7]", "nginx [42 43]", "nginx []", "nginx"] {
            assert_eq!(split_pid(root), (root, 0, None));
        }
        let opts = RenderOptions { pid_in_name: true, group_by: None };
        assert_eq!(root_label("nginx", 4242, Some(7), &opts), "nginx [4242 ns:7]");
        assert_eq!(root_label("nginx", 4242, None, &opts), "nginx [4242]");
        assert_eq!(root_label("nginx", 4242, Some(7), &RenderOptions::default()), "nginx");
    }
}
