//! Output stage: turns a [`Profile`](crate::profile::Profile) into the formats people read,
//! one file per format: [`folded`] stacks (also parsed back), [`flamegraph`] SVGs through
//! inferno, the [`top`] functions table, and the ecosystem's formats: [`pprof`] (also read back)
//! and [`speedscope`], and [`json`] reports for scripts. [`mod@write`] is the one dispatcher that writes them (and `prof diff`'s
//! outputs) to files; [`text`] is the one sanitizer of names shown to people (terminal, SVG
//! titles, JSON).

pub mod flamegraph;
pub mod folded;
pub mod json;
pub mod otlp;
pub mod pprof;
pub mod speedscope;
pub mod text;
pub mod top;
pub mod write;

pub use write::{write_output, Document, EmitError, OutputSpec, ProfileDocument};

use std::path::Path;

/// A file format prof writes, chosen from an output path's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// prof's own archive (`.prof`).
    Archive,
    /// Folded stacks, one `comm;frame;… COUNT` line per stack (`.folded`).
    Folded,
    /// An interactive flame graph (`.svg`).
    Svg,
    /// Google's pprof protobuf, gzip-compressed (`.pb.gz`, `.pprof`).
    Pprof,
    /// speedscope's JSON format (`.speedscope.json`).
    Speedscope,
    /// JSON for scripts: a report of a profile (docs/json-format.md) or a comparison
    /// (`prof diff -o x.json`).
    Json,
}

impl Format {
    /// The format for `path`'s extension (`.prof`, `.folded`, `.svg`, `.pb.gz`, `.pprof`,
    /// `.speedscope.json`, ASCII case-insensitive), or `None` when the extension is missing or
    /// unknown (a plain `.json` or `.gz` names no format).
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?;
        let stem_ext = || {
            let stem = Path::new(path.file_stem()?);
            stem.extension()?.to_str()
        };
        if ext.eq_ignore_ascii_case("gz") && stem_ext().is_some_and(|e| e.eq_ignore_ascii_case("pb")) {
            Some(Format::Pprof)
        } else if ext.eq_ignore_ascii_case("json") && stem_ext().is_some_and(|e| e.eq_ignore_ascii_case("speedscope")) {
            Some(Format::Speedscope)
        } else if ext.eq_ignore_ascii_case("pprof") {
            Some(Format::Pprof)
        } else if ext.eq_ignore_ascii_case("prof") {
            Some(Format::Archive)
        } else if ext.eq_ignore_ascii_case("folded") {
            Some(Format::Folded)
        } else if ext.eq_ignore_ascii_case("svg") {
            Some(Format::Svg)
        } else {
            None
        }
    }

    /// The file extension of the format, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Archive => "prof",
            Format::Folded => "folded",
            Format::Svg => "svg",
            Format::Pprof => "pb.gz",
            Format::Speedscope => "speedscope.json",
            Format::Json => "json",
        }
    }
}

/// Options shared by every text and graphical rendering of a profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Name each stack's root frame `comm [pid]` instead of `comm`, so that processes with the
    /// same name stay apart.
    pub pid_in_name: bool,
    /// `--by cgroup|container|unit`: each stack under a root frame naming its group (folded,
    /// SVG), one speedscope profile per group and process.
    pub group_by: Option<crate::profile::CgroupGrouping>,
}
