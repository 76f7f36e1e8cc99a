//! Writing what the user asked for (`-o`, repeatable) for every command: `record`, `report` and
//! `diff` all go through [`OutputSpec`] (the format follows the extension, checked before any
//! work) and [`write_output`] (every file atomically, see [`crate::atomic_file`]). A
//! [`Document`] is what can be written: a profile ([`ProfileDocument`]) or, from `diff`, a
//! comparison of two.
//!
//! The output `-` ([`STDOUT`]) is standard output, in the `--format` given or else folded
//! stacks (text a pipe can take). Any other output is a file that is replaced by a rename, so
//! a path that exists and is not a regular file (a symbolic link such as `/dev/stdout`, a
//! device, a FIFO, a directory) is refused: when the output is chosen ([`OutputSpec::new`],
//! before anything is recorded) and again just before the rename ([`write_atomic`]).

use std::borrow::Cow;
use std::fs::File;
use std::io::BufWriter;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use super::flamegraph::{self, SvgOptions};
use super::{folded, json, pprof, speedscope, Format, RenderOptions};
use crate::archive;
use crate::atomic_file::{non_regular_kind, parent_dir, write_atomic, AtomicWriteError, Durability, NotRegularFile};
use crate::profile::Profile;

/// The output path that means standard output.
pub const STDOUT: &str = "-";

/// The format written to standard output when no `--format` is given: folded stacks, text that
/// every flame graph tool reads from a pipe.
pub const STDOUT_DEFAULT_FORMAT: Format = Format::Folded;

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
    /// The output exists and is not a regular file; writing it would replace it.
    #[error(
        "`{path}` is a {kind}, not a regular file: prof replaces an output by renaming a new file over it, \
         which would replace the {kind} itself; give the path of a regular file, or `-o -` to write to standard output"
    )]
    NotRegularFile {
        /// The output.
        path: PathBuf,
        /// What it is: `symbolic link`, `FIFO`, `character device`, `directory`, ….
        kind: &'static str,
    },
    /// The same output was asked for twice (`-o x.svg -o ./x.svg`, `-o - -o -`): one would
    /// overwrite the other, or standard output would get two documents run together.
    #[error("`{0}` is given twice as an output")]
    Repeated(PathBuf),
    /// Writing standard output failed.
    #[error("failed to write standard output: {0}")]
    Stdout(String),
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

    /// Writes the document to `path` atomically (mode 0600, its data synced). Documents with
    /// formats of other needs override this.
    fn write_file(&self, format: Format, path: &Path) -> Result<(), EmitError> {
        write_plain_file(self, format, path)
    }
}

/// The mode of every output file: readable by its owner only, whatever the umask, as archives
/// are. A profile shows what every process on the machine ran (command lines, paths, symbol
/// names), and prof usually runs as root, often under a service manager's umask; whoever wants
/// to share a file chmods it.
pub const OUTPUT_MODE: u32 = 0o600;

/// [`Document::write_file`]'s default: atomically, mode [`OUTPUT_MODE`], data synced.
fn write_plain_file<D: Document + ?Sized>(doc: &D, format: Format, path: &Path) -> Result<(), EmitError> {
    write_atomic(path, Durability::File, OUTPUT_MODE, |w| doc.write(format, w)).map_err(|e| emit_error(path, e))
}

/// An error of [`write_atomic`] as the output stage reports it.
fn emit_error(path: &Path, e: AtomicWriteError<String>) -> EmitError {
    let reason = match e {
        AtomicWriteError::Io { source, .. } => match NotRegularFile::of(&source) {
            Some(n) => return EmitError::NotRegularFile { path: path.to_path_buf(), kind: n.kind },
            None => source.to_string(),
        },
        AtomicWriteError::Fill(reason) => reason,
    };
    EmitError::Write { path: path.to_path_buf(), reason }
}

/// Writes `doc` to standard output (a duplicate of its descriptor, so the same buffered writer
/// as files), flushed.
fn write_stdout<D: Document + ?Sized>(doc: &D, format: Format) -> Result<(), EmitError> {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    lock.flush().map_err(|e| EmitError::Stdout(e.to_string()))?;
    let fd = stdout.as_fd().try_clone_to_owned().map_err(|e| EmitError::Stdout(e.to_string()))?;
    let file = File::from(fd);
    let mut w = BufWriter::new(&file);
    doc.write(format, &mut w).map_err(EmitError::Stdout)?;
    w.flush().map_err(|e| EmitError::Stdout(e.to_string()))
}

impl OutputSpec {
    /// Resolves the format of `path` for a document of type `D` from its extension, or from
    /// `fallback` (`--format`), and checks that its directory exists and that the path is not
    /// something other than a regular file. `-` is standard output, in `fallback` or else
    /// [`STDOUT_DEFAULT_FORMAT`].
    pub fn new<D: Document>(path: PathBuf, fallback: Option<Format>) -> Result<OutputSpec, EmitError> {
        if path.as_os_str() == STDOUT {
            return Ok(OutputSpec { path, format: fallback.unwrap_or(STDOUT_DEFAULT_FORMAT) });
        }
        let format = D::format_of(&path)
            .or(fallback)
            .ok_or_else(|| EmitError::UnknownFormat { path: path.clone(), hint: D::FORMAT_HINT })?;
        let dir = parent_dir(&path);
        if !dir.is_dir() {
            return Err(EmitError::NoDirectory(dir.to_path_buf()));
        }
        if let Some(kind) = non_regular_kind(&path) {
            return Err(EmitError::NotRegularFile { path, kind });
        }
        Ok(OutputSpec { path, format })
    }

    /// The output is standard output (`-o -`).
    pub fn is_stdout(&self) -> bool {
        self.path.as_os_str() == STDOUT
    }

    /// How messages name the output: its path, or `standard output`.
    pub fn name(&self) -> Cow<'_, str> {
        if self.is_stdout() {
            Cow::Borrowed("standard output")
        } else {
            self.path.to_string_lossy()
        }
    }
}

/// The outputs for `paths` ([`OutputSpec::new`] each), refusing one asked for twice: the same
/// file under two spellings (its directory is compared after resolving it) or `-` twice.
pub fn output_specs<D: Document>(paths: &[PathBuf], fallback: Option<Format>) -> Result<Vec<OutputSpec>, EmitError> {
    let mut seen = std::collections::HashSet::new();
    let mut specs = Vec::with_capacity(paths.len());
    for path in paths {
        let spec = OutputSpec::new::<D>(path.clone(), fallback)?;
        let identity = match (spec.is_stdout(), path.file_name()) {
            (false, Some(name)) => std::fs::canonicalize(parent_dir(path)).unwrap_or_default().join(name),
            _ => path.clone(),
        };
        if !seen.insert(identity) {
            return Err(EmitError::Repeated(path.clone()));
        }
        specs.push(spec);
    }
    Ok(specs)
}

/// Writes `doc` to one output: standard output, or a file replaced atomically.
pub fn write_output(doc: &impl Document, spec: &OutputSpec) -> Result<(), EmitError> {
    if spec.is_stdout() {
        return write_stdout(doc, spec.format);
    }
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
    /// What the JSON report holds.
    pub json: &'a json::JsonOptions,
}

impl Document for ProfileDocument<'_> {
    const FORMAT_HINT: &'static str =
        "output format; use a .prof, .folded, .svg, .pb.gz (pprof), .speedscope.json or .json extension, or --format";

    /// [`Format::from_path`], and a plain `.json` for the JSON report.
    fn format_of(path: &Path) -> Option<Format> {
        Format::from_path(path)
            .or_else(|| path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")).then_some(Format::Json))
    }

    fn write(&self, format: Format, w: &mut BufWriter<&File>) -> Result<(), String> {
        let p = self.profile;
        match format {
            Format::Archive => archive::write(p, w).map_err(|e| e.to_string()),
            Format::Folded => folded::write(p, self.render, w).map_err(|e| e.to_string()),
            Format::Svg => flamegraph::write_svg(p, self.render, self.svg, w).map_err(|e| e.to_string()),
            Format::Pprof => pprof::write(p, w).map_err(|e| e.to_string()),
            Format::Speedscope => speedscope::write_grouped(p, self.render.group_by, w).map_err(|e| e.to_string()),
            Format::Json => json::write(p, self.json, w).map_err(|e| e.to_string()),
        }
    }

    /// Archives are written durable ([`archive::write_file`]); the rest with their data synced;
    /// all of them 0600.
    fn write_file(&self, format: Format, path: &Path) -> Result<(), EmitError> {
        if format == Format::Archive {
            return archive::write_file(self.profile, path).map_err(|e| match non_regular_kind(path) {
                Some(kind) => EmitError::NotRegularFile { path: path.to_path_buf(), kind },
                None => EmitError::Write { path: path.to_path_buf(), reason: e.to_string() },
            });
        }
        write_plain_file(self, format, path)
    }
}
