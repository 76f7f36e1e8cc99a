//! The outputs of `prof diff`: the change table (text and JSON), the two-column folded form
//! that difffolded.pl writes (`stack base new`), and inferno's differential flamegraph.

use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};

use inferno::flamegraph::{self, Options, Palette};

use super::Diff;
use crate::output::text::{escape_controls, write_json as write_escaped_json};
use crate::output::{Document, Format};

/// The largest total of one side a differential flame graph is drawn for: inferno computes
/// `150 * difference` in a signed 64-bit number.
const MAX_DRAWN_TOTAL: u64 = (i64::MAX / 256) as u64;

/// A diff with how to draw its flamegraph: what `prof diff -o` writes (`.svg`, `.folded`,
/// `.json`) through the output stage's dispatcher ([`crate::output::write_output`]).
#[derive(Clone, Copy, Debug)]
pub struct DiffDocument<'a> {
    /// The comparison.
    pub diff: &'a Diff,
    /// Options of the differential flamegraph.
    pub svg: &'a DiffSvgOptions,
}

impl Document for DiffDocument<'_> {
    const FORMAT_HINT: &'static str = "diff output format; use .svg, .folded or .json";

    fn format_of(path: &std::path::Path) -> Option<Format> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("svg") => Some(Format::Svg),
            Some("folded") => Some(Format::Folded),
            Some("json") => Some(Format::Json),
            _ => None,
        }
    }

    fn write(&self, format: Format, w: &mut BufWriter<&std::fs::File>) -> Result<(), String> {
        match format {
            Format::Svg => write_svg(self.diff, self.svg, w),
            Format::Folded => write_folded(self.diff, w),
            Format::Json => write_json(self.diff, w),
            other => return Err(format!("a diff cannot be written as .{}", other.extension())),
        }
        .map_err(|e| e.to_string())
    }
}

/// Writes the top `n` functions by change: base %, new %, delta in points (total and self) and
/// whether the change is significant. Names and sources are shown with control characters
/// escaped ([`escape_controls`]).
pub fn write_table(d: &Diff, n: usize, mut w: impl Write) -> io::Result<()> {
    writeln!(w, "base: {} ({})", escape_controls(&d.base.source), d.base.unit.amount(d.base.samples))?;
    writeln!(w, "new:  {} ({})", escape_controls(&d.new.source), d.new.unit.amount(d.new.samples))?;
    for note in &d.notes {
        writeln!(w, "note: {}", escape_controls(note))?;
    }
    let rows: Vec<_> = d.functions.iter().take(n).collect();
    let names: Vec<_> = rows.iter().map(|f| escape_controls(&f.function)).collect();
    let width = names.iter().map(|f| f.chars().count()).max().unwrap_or(8).clamp(8, 60);
    writeln!(
        w,
        "{:>7} {:>7} {:>8}  {:>7} {:>7} {:>8}  {:>8}  {:<width$}",
        "BASE%", "NEW%", "DELTA", "BSELF%", "NSELF%", "SDELTA", "SIGNIF", "FUNCTION"
    )?;
    for (f, name) in rows.iter().zip(&names) {
        let sig = match (f.significant, f.q_value) {
            (true, Some(q)) => format!("q={:.0e}", q.max(1e-99)),
            (_, None) => "n/a".to_string(),
            _ => "-".to_string(),
        };
        writeln!(
            w,
            "{:>7.2} {:>7.2} {:>+8.2}  {:>7.2} {:>7.2} {:>+8.2}  {:>8}  {name}",
            f.base_total_pct,
            f.new_total_pct,
            f.delta_points,
            f.base_self_pct,
            f.new_self_pct,
            f.self_delta_points,
            sig
        )?;
    }
    if !d.significance_tested {
        return writeln!(
            w,
            "{} functions compared by share; significance not tested (see the note)",
            d.functions.len()
        );
    }
    let significant = d.functions.iter().filter(|f| f.significant).count();
    writeln!(
        w,
        "{significant} of {} functions changed significantly (two-proportion z-test, Benjamini–Hochberg q ≤ {})",
        d.functions.len(),
        d.alpha
    )
}

#[derive(serde::Serialize)]
struct JsonSide<'a> {
    source: &'a str,
    samples: u64,
    event: &'a str,
    frequency_hz: u64,
}

#[derive(serde::Serialize)]
struct JsonDiff<'a> {
    format: &'static str,
    version: u32,
    base: JsonSide<'a>,
    new: JsonSide<'a>,
    unit: &'static str,
    normalized: bool,
    test: Option<&'static str>,
    alpha: f64,
    notes: &'a [String],
    functions: &'a [super::FunctionChange],
}

fn json_side(s: &super::Side) -> JsonSide<'_> {
    JsonSide { source: &s.source, samples: s.samples, event: &s.event, frequency_hz: s.frequency_hz }
}

/// Writes the whole table as JSON (every function, not only the top N), with every control and
/// bidirectional formatting character in a string escaped.
pub fn write_json(d: &Diff, w: impl Write) -> io::Result<()> {
    let doc = JsonDiff {
        format: "prof-diff",
        version: crate::output::json::VERSION,
        base: json_side(&d.base),
        new: json_side(&d.new),
        unit: if d.base.unit == d.new.unit { d.base.unit.name() } else { "mixed" },
        normalized: d.normalized,
        test: d
            .significance_tested
            .then_some("two-proportion z-test per function (total share), Benjamini-Hochberg adjusted"),
        alpha: d.alpha,
        notes: &d.notes,
        functions: &d.functions,
    };
    let mut w = w;
    write_escaped_json(&mut w, &doc, true).map_err(io::Error::other)?;
    writeln!(w)
}

/// Writes `stack base new` lines (base scaled to new's total when normalized), sorted.
pub fn write_folded(d: &Diff, w: impl Write) -> io::Result<()> {
    let mut w = BufWriter::with_capacity(FOLDED_BUFFER_BYTES, w);
    d.for_each_stack(|labels, b, n| {
        write_stack(labels, &mut w)?;
        writeln!(w, " {b} {n}")
    })?;
    w.flush()
}

/// Buffer of [`write_folded`]: the folded form of a large diff is ~100 MB, which in the usual
/// 8 KiB writes is ~13,000 system calls; in 1 MiB writes, ~100.
const FOLDED_BUFFER_BYTES: usize = 1 << 20;

/// Writes the labels of a stack joined by `;`.
fn write_stack(labels: &[&str], mut w: impl Write) -> io::Result<()> {
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            w.write_all(b";")?;
        }
        w.write_all(label.as_bytes())?;
    }
    Ok(())
}

/// Options of the differential flamegraph.
#[derive(Clone, Debug, Default)]
pub struct DiffSvgOptions {
    /// Draw BASE's shape (frames that vanished stay visible) instead of NEW's.
    pub negate: bool,
    /// Same input, same bytes.
    pub deterministic: bool,
    /// Leave out inferno's inline JavaScript (for pages that forbid inline scripts).
    pub no_javascript: bool,
}

/// Draws the differential flamegraph: widths from NEW (or BASE with `negate`), red where a
/// frame grew, blue where it shrank, stronger for bigger changes.
pub fn write_svg(d: &Diff, opts: &DiffSvgOptions, w: impl Write) -> io::Result<()> {
    let mut o = Options::default();
    o.title = format!(
        "prof diff: {} ({}) → {} ({})",
        escape_controls(&d.base.source),
        d.base.unit.amount(d.base.samples),
        escape_controls(&d.new.source),
        d.new.unit.amount(d.new.samples)
    );
    o.subtitle = Some(format!(
        "{}; widths from {}, red = grew, blue = shrank",
        if d.normalized { "normalized by total samples" } else { "not normalized (raw counts)" },
        if opts.negate { "BASE" } else { "NEW" }
    ));
    o.negate_differentials = opts.negate;
    o.deterministic = opts.deterministic;
    o.no_javascript = opts.no_javascript;
    o.colors = Palette::Basic(flamegraph::color::BasicPalette::Hot);
    // The lines, sorted, in one buffer rather than one allocation each. inferno sorts them again
    // (by whole line, which can differ from the stack order in corner cases), and that is cheap
    // on sorted input.
    let mut text = String::new();
    let mut ends: Vec<usize> = Vec::with_capacity(d.merged.len());
    let (mut base_total, mut new_total) = (Some(0u64), Some(0u64));
    let built: Result<(), std::fmt::Error> = d.for_each_stack(|labels, b, n| {
        base_total = base_total.and_then(|t| t.checked_add(b));
        new_total = new_total.and_then(|t| t.checked_add(n));
        for (i, label) in labels.iter().enumerate() {
            if i > 0 {
                text.push(';');
            }
            text.push_str(label);
        }
        writeln!(text, " {b} {n}")?;
        ends.push(text.len());
        Ok(())
    });
    built.map_err(io::Error::other)?;
    // inferno sums each side's counts, takes a frame's difference as a signed number and
    // multiplies the largest one by 150 to colour it: refuse totals it cannot lay out (a crafted
    // archive can hold any count; no real profile has 2^55 samples).
    let drawable = |t: Option<u64>| t.is_some_and(|t| t <= MAX_DRAWN_TOTAL);
    if !drawable(base_total) || !drawable(new_total) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the profiles' sample counts are too large to draw (a profile's total above 2^55)",
        ));
    }
    let lines = ends.iter().scan(0, |start, &end| {
        let line = &text[*start..end];
        *start = end;
        Some(line)
    });
    flamegraph::from_lines(&mut o, lines, w).map_err(io::Error::other)
}
