//! Writing what the user asked for (`-o`, repeatable) for every command: `record`, `report` and
//! `diff` all go through [`OutputSpec`] (the format follows the extension, checked before any
//! work) and [`write_output`] (every file atomically, see [`crate::atomic_file`]). A
//! [`Document`] is what can be written: a profile ([`ProfileDocument`]) or, from `diff`, a
//! comparison of two.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::flamegraph::{self, SvgOptions};
use super::{folded, pprof, speedscope, Format, RenderOptions};
use crate::archive;
use crate::atomic_file::{parent_dir, write_atomic, AtomicWriteError, Durability, Mode};
use crate::profile::Profile;

/// One requested output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputSpec {
    /// Destination path.
    pub path: PathBuf,
    /// Format to write.
    pub format: Format,
}

/// Errors while choosing or writing outputs.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// The extension names no format the document can be written in, and no `--format` was given.
    #[error("`{path}`: unknown {hint}")]
    UnknownFormat {
        /// The output.
        path: PathBuf,
        /// What is known instead ([`Document::FORMAT_HINT`]).
        hint: &'static str,
    },
    /// The directory of an output does not exist.
    #[error("`{0}`: directory does not exist")]
    NoDirectory(PathBuf),
    /// Writing failed.
    #[error("failed to write `{path}`: {reason}")]
    Write {
        /// Destination.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
}

/// Something the output stage writes to files.
pub trait Document {
    /// Names the formats in the error for an unknown extension.
    const FORMAT_HINT: &'static str;

    /// The format `path`'s extension names for this kind of document, if any.
    fn format_of(path: &Path) -> Option<Format>;

    /// Writes the document in `format` (one of [`Document::format_of`]'s).
    fn write(&self, format: Format, w: &mut BufWriter<&File>) -> Result<(), String>;

    /// Writes the document to `path` atomically (readable like any file the user creates, its
    /// data synced). Documents with formats of other needs override this.
    fn write_file(&self, format: Format, path: &Path) -> Result<(), EmitError> {
        write_plain_file(self, format, path)
    }
}

/// [`Document::write_file`]'s default: atomically, mode 0666 less the umask, data synced.
fn write_plain_file<D: Document + ?Sized>(doc: &D, format: Format, path: &Path) -> Result<(), EmitError> {
    write_atomic(path, Durability::File, Mode::Umask(0o666), |w| doc.write(format, w)).map_err(|e| {
        let reason = match e {
            AtomicWriteError::Io { source, .. } => source.to_string(),
            AtomicWriteError::Fill(reason) => reason,
        };
        EmitError::Write { path: path.to_path_buf(), reason }
    })
}

impl OutputSpec {
    /// Resolves the format of `path` for a document of type `D` from its extension, or from
    /// `fallback` (`--format`), and checks that its directory exists.
    pub fn new<D: Document>(path: PathBuf, fallback: Option<Format>) -> Result<OutputSpec, EmitError> {
        let format = D::format_of(&path)
            .or(fallback)
            .ok_or_else(|| EmitError::UnknownFormat { path: path.clone(), hint: D::FORMAT_HINT })?;
        let dir = parent_dir(&path);
        if !dir.is_dir() {
            return Err(EmitError::NoDirectory(dir.to_path_buf()));
        }
        Ok(OutputSpec { path, format })
    }
}

/// Writes `doc` to one output.
pub fn write_output(doc: &impl Document, spec: &OutputSpec) -> Result<(), EmitError> {
    doc.write_file(spec.format, &spec.path)
}

/// A profile with how to render it.
#[derive(Clone, Copy, Debug)]
pub struct ProfileDocument<'a> {
    /// The profile.
    pub profile: &'a Profile,
    /// Options of the text and graphical formats.
    pub render: &'a RenderOptions,
    /// Title and behaviour of the SVG.
    pub svg: &'a SvgOptions,
}

impl Document for ProfileDocument<'_> {
    const FORMAT_HINT: &'static str =
        "output format; use a .prof, .folded, .svg, .pb.gz (pprof) or .speedscope.json extension, or --format";

    fn format_of(path: &Path) -> Option<Format> {
        Format::from_path(path)
    }

    fn write(&self, format: Format, w: &mut BufWriter<&File>) -> Result<(), String> {
        let p = self.profile;
        match format {
            Format::Archive => archive::write(p, w).map_err(|e| e.to_string()),
            Format::Folded => folded::write(p, self.render, w).map_err(|e| e.to_string()),
            Format::Svg => flamegraph::write_svg(p, self.render, self.svg, w).map_err(|e| e.to_string()),
            Format::Pprof => pprof::write(p, w).map_err(|e| e.to_string()),
            Format::Speedscope => speedscope::write(p, w).map_err(|e| e.to_string()),
            Format::Json => Err("a profile has no JSON format (only `prof diff` writes .json)".to_string()),
        }
    }

    /// Archives are written private and durable ([`archive::write_file`]); the rest as any file.
    fn write_file(&self, format: Format, path: &Path) -> Result<(), EmitError> {
        if format == Format::Archive {
            return archive::write_file(self.profile, path)
                .map_err(|e| EmitError::Write { path: path.to_path_buf(), reason: e.to_string() });
        }
        write_plain_file(self, format, path)
    }
}
