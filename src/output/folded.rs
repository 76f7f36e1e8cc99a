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
//! - control characters (newline, carriage return, tab, …) become a space;
//! - leading and trailing whitespace is removed (the tools trim lines), and a name left empty
//!   becomes `[unknown]`;
//! - a space before a trailing number (`worker 2`) becomes `_` (`worker_2`), because the tools
//!   would read that number as a second, differential count;
//! - a leading `# ` becomes `#_`, because inferno skips lines starting with `# ` as comments.
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
//! format and read back empty.

use rustc_hash::FxHashMap as HashMap;
use std::borrow::Cow;
use std::io::{self, BufWriter, Write};

use thiserror::Error;

use super::{RenderOptions, MISSING_KERNEL_STACK, MISSING_USER_STACK};
use crate::profile::{Frame, FrameId, FrameKind, Metadata, Profile, ProfileBuilder};

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
        let mut stack = root_label(&sample.comm, sample.pid, opts);
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

/// The root frame of a sample's line: its comm, with ` [pid]` when asked for.
pub fn root_label(comm: &str, pid: u32, opts: &RenderOptions) -> String {
    let mut label = sanitize_name(comm).into_owned();
    if opts.pid_in_name {
        label.push_str(&format!(" [{pid}]"));
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
    let needs_mapping = name.chars().any(|c| c == ';' || c.is_control());
    let mut name: Cow<'_, str> = if needs_mapping {
        Cow::Owned(
            name.chars()
                .map(|c| match c {
                    ';' => ':',
                    c if c.is_control() => ' ',
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
    /// The input holds no samples: it is empty, or every line is blank, a comment, skipped or
    /// counts 0.
    #[error("`{file}` has no samples: expected lines of `STACK COUNT`")]
    Empty {
        /// Name of the input, as given to [`parse`].
        file: String,
    },
}

/// Parses folded stacks. `source_name` names the input in errors and becomes the profile's
/// target. In `lenient` mode malformed lines are skipped and counted, and invalid UTF-8 is
/// decoded lossily; otherwise the first such line is an error. Blank lines and `# ` comments are
/// ignored. Counts must be whole numbers (`12` or `12.0`); a count above `u64::MAX` and sums that
/// overflow saturate.
pub fn parse(text: &[u8], source_name: &str, lenient: bool) -> Result<ParsedFolded, FoldedError> {
    let mut builder = ProfileBuilder::new(Metadata::default());
    let mut frame_ids: HashMap<String, FrameId> = HashMap::default();
    let mut skipped_lines = 0;
    let mut total: u64 = 0;
    for (index, raw) in text.split(|&b| b == b'\n').enumerate() {
        let line_no = index + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let decoded = match std::str::from_utf8(raw) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) if lenient => String::from_utf8_lossy(raw),
            Err(_) => return Err(FoldedError::InvalidUtf8 { file: source_name.to_string(), line: line_no }),
        };
        let line = decoded.trim();
        if line.is_empty() || line.starts_with("# ") {
            continue;
        }
        let (stack, count) = match parse_line(line) {
            Ok(parsed) => parsed,
            Err(_) if lenient => {
                skipped_lines += 1;
                continue;
            }
            Err(reason) => return Err(FoldedError::Malformed { file: source_name.to_string(), line: line_no, reason }),
        };
        let mut names = stack.split(';');
        let (comm, pid) = split_pid(names.next().unwrap_or_default());
        let frames: Vec<FrameId> = names
            .map(|name| match frame_ids.get(name) {
                Some(&id) => id,
                None => {
                    let id = builder.frame(parse_frame(name));
                    frame_ids.insert(name.to_string(), id);
                    id
                }
            })
            .collect();
        let stack_id = builder.stack(frames);
        builder.add(stack_id, pid, comm, count);
        total = total.saturating_add(count);
    }
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
    Ok(ParsedFolded { profile: builder.finish(), skipped_lines })
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
    if let Some((_, last)) = stack.rsplit_once(char::is_whitespace) {
        if is_count_like(last) {
            return Err(format!(
                "expected `STACK COUNT`, found two counts (`{last}` and {count}): differential \
                 folded files are not supported"
            ));
        }
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

/// Splits a root frame `name [123]` into comm `name` and pid 123; other roots have pid 0.
fn split_pid(root: &str) -> (&str, u32) {
    let with_pid = || {
        let (comm, pid) = root.strip_suffix(']')?.rsplit_once(" [")?;
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        Some((comm, pid.parse().ok()?))
    };
    with_pid().unwrap_or((root, 0))
}

/// A frame from its folded name: suffixes give the kind, prof's placeholders are recognized.
fn parse_frame(name: &str) -> Frame {
    if name == MISSING_USER_STACK || name == MISSING_KERNEL_STACK {
        Frame::placeholder(name)
    } else if let Some(kernel) = name.strip_suffix(KERNEL_SUFFIX) {
        Frame::new(kernel, "", FrameKind::Kernel)
    } else if let Some(inlined) = name.strip_suffix(INLINE_SUFFIX) {
        Frame { inlined: true, ..Frame::new(inlined, "", FrameKind::User) }
    } else {
        let user = name.strip_suffix(JIT_SUFFIX).unwrap_or(name);
        Frame::new(user, "", FrameKind::User)
    }
}
