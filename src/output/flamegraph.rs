//! Flame graph SVGs, drawn by inferno from the profile's [folded lines](super::folded).
//!
//! Colors come from inferno's `java` palette, which reads the folded suffixes: kernel frames
//! (`_[k]`) are orange, inlined frames (`_[i]`) aqua, and user frames yellow (C++/Rust paths),
//! green (Java-like names) or red. prof's placeholders are grey, process roots blue and Python
//! functions (`qualname (file.py:line)`, see [`Frame::python`](crate::profile::Frame::python))
//! lavender. The SVG
//! keeps inferno's JavaScript, so clicking zooms and Ctrl-F searches.

use std::collections::BTreeSet;
use std::io::{self, Write};

use inferno::flamegraph::color::{Color, MultiPalette, Palette, PaletteMap};
use inferno::flamegraph::{self as inferno_flamegraph, Options};
use thiserror::Error;

use super::text::escape_controls;
use super::{folded, RenderOptions};
use crate::profile::{Metadata, Profile};
use crate::profile::{MISSING_KERNEL_STACK, MISSING_USER_STACK};

/// Color of prof's placeholder frames: grey, because they are not code.
const PLACEHOLDER_COLOR: Color = Color { r: 180, g: 180, b: 180 };
/// Color of the root (process) frames: a pale blue that no function color uses.
const ROOT_COLOR: Color = Color { r: 150, g: 180, b: 230 };

/// Color of Python functions' frames: a lavender no other frame has, so the Python frames
/// merged into a native stack stand out from the interpreter's C functions around them.
const PYTHON_COLOR: Color = Color { r: 200, g: 165, b: 240 };

/// How the flame graph is titled and colored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SvgOptions {
    /// Title at the top of the graph.
    pub title: String,
    /// Optional second line under the title.
    pub subtitle: Option<String>,
    /// Pick colors from a hash of each function name instead of at random, so that the same
    /// profile always gives a byte-identical SVG (and a function keeps its color across graphs).
    pub deterministic: bool,
    /// Leave out inferno's inline JavaScript (zoom/search), for pages whose Content-Security-Policy
    /// forbids inline scripts.
    pub no_javascript: bool,
}

/// Why a flame graph could not be drawn.
#[derive(Debug, Error)]
pub enum SvgError {
    /// The profile has no samples; an empty graph would only hide that.
    #[error("the profile has no samples: there is nothing to draw")]
    Empty,
    /// The sample counts add up to more than `u64::MAX`, which inferno cannot lay out.
    #[error("the profile's sample counts add up to more than 2^64: cannot draw them")]
    CountOverflow,
    /// Writing the SVG failed.
    #[error("failed to write the flame graph")]
    Io(#[from] io::Error),
}

/// Draws `profile` as an interactive flame graph SVG into `w`; control characters in the title
/// and subtitle are escaped ([`escape_controls`]), frame names are cleaned as in
/// [folded lines](super::folded).
pub fn write_svg(profile: &Profile, render: &RenderOptions, svg: &SvgOptions, w: impl Write) -> Result<(), SvgError> {
    let total =
        profile.samples.iter().try_fold(0u64, |sum, s| sum.checked_add(s.count)).ok_or(SvgError::CountOverflow)?;
    if total == 0 {
        return Err(SvgError::Empty);
    }
    let lines = folded::lines(profile, render);

    let mut palette_map = PaletteMap::default();
    palette_map.insert(MISSING_USER_STACK, PLACEHOLDER_COLOR);
    palette_map.insert(MISSING_KERNEL_STACK, PLACEHOLDER_COLOR);
    let roots: BTreeSet<&str> = lines.iter().map(|line| root_of(line)).collect();
    for root in roots {
        palette_map.insert(root, ROOT_COLOR);
    }
    for frame in profile.frames.iter().filter(|f| f.is_python()) {
        palette_map.insert(folded::frame_label(frame), PYTHON_COLOR);
    }

    let mut opts = Options::default();
    // The title names the target (a command line, a comm): no control character reaches the
    // SVG, where most are not even valid XML.
    opts.title = escape_controls(&svg.title).into_owned();
    opts.subtitle = svg.subtitle.as_deref().map(|s| escape_controls(s).into_owned());
    opts.colors = Palette::Multi(MultiPalette::Java);
    opts.deterministic = svg.deterministic;
    opts.no_javascript = svg.no_javascript;
    opts.count_name = match (profile.meta.weight_unit.is_count(), profile.meta.event.is_off_cpu()) {
        (true, _) => "samples",
        (false, true) => "ns blocked",
        (false, false) => "ns",
    }
    .to_string();
    opts.palette_map = Some(&mut palette_map);
    inferno_flamegraph::from_lines(&mut opts, lines.iter().map(String::as_str), w)?;
    Ok(())
}

/// The root frame of a folded line (the part before the first `;`, or before the count).
fn root_of(line: &str) -> &str {
    match line.find(';') {
        Some(end) => &line[..end],
        None => line.rsplit_once(' ').map_or(line, |(stack, _)| stack),
    }
}

/// A title naming the target and duration, e.g. `prof: ./burner (10.0 s)`, and a subtitle with
/// the sample count, frequency, event and losses, e.g. `990 samples · 99 Hz · cpu-clock`.
/// Unknown parts (empty target, zero duration or frequency, empty event) are left out.
pub fn default_title(meta: &Metadata) -> (String, Option<String>) {
    let mut title = "prof".to_string();
    if !meta.target.is_empty() {
        title.push_str(": ");
        title.push_str(&meta.target);
    }
    let duration = meta.duration_secs();
    if duration > 0.0 {
        title.push_str(&format!(" ({duration:.1} s)"));
    }

    let mut parts = vec![meta.amount(meta.total_samples)];
    if meta.frequency_hz > 0 {
        parts.push(format!("{} Hz", meta.frequency_hz));
    }
    if !meta.event.is_unknown() {
        parts.push(meta.event.to_string());
    }
    let losses = meta.losses.values().fold(0u64, |sum, &n| sum.saturating_add(n));
    if losses > 0 {
        parts.push(plural(losses, "loss"));
    }
    (title, Some(parts.join(" · ")))
}

/// `1 sample`, `2 samples`, `3 losses`.
fn plural(n: u64, noun: &str) -> String {
    format!("{n} {}", super::text::noun_for(n, noun))
}
