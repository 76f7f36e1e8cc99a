//! Output stage: turns a [`Profile`](crate::profile::Profile) into the formats people read,
//! one file per format: [`folded`] stacks (also parsed back), [`flamegraph`] SVGs through
//! inferno, and the [`top`] functions table.

pub mod flamegraph;
pub mod folded;
pub mod top;

use std::path::Path;

/// Name of the placeholder frame that keeps the samples whose user stack was lost.
pub const MISSING_USER_STACK: &str = "[missing user stack]";
/// Name of the placeholder frame that keeps the samples whose kernel stack was lost.
pub const MISSING_KERNEL_STACK: &str = "[missing kernel stack]";

/// A file format prof writes, chosen from an output path's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// prof's own archive (`.prof`).
    Archive,
    /// Folded stacks, one `comm;frame;… COUNT` line per stack (`.folded`).
    Folded,
    /// An interactive flame graph (`.svg`).
    Svg,
}

impl Format {
    /// The format for `path`'s extension (`.prof`, `.folded`, `.svg`, ASCII case-insensitive),
    /// or `None` when the extension is missing or unknown.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?;
        if ext.eq_ignore_ascii_case("prof") {
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
        }
    }
}

/// Options shared by every text and graphical rendering of a profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Name each stack's root frame `comm [pid]` instead of `comm`, so that processes with the
    /// same name stay apart.
    pub pid_in_name: bool,
}
