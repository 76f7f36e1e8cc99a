//! Writing a profile to the files the user asked for (`-o`, repeatable): the format follows the
//! extension, every file is written atomically (temp file in the same directory, then rename),
//! so an interrupted write never leaves a half-written file under the final name.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::archive;
use crate::output::flamegraph::{self, SvgOptions};
use crate::output::{folded, pprof, speedscope, Format, RenderOptions};
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
    /// The extension names no known format and no `--format` was given.
    #[error(
        "`{0}`: unknown output format; use a .prof, .folded, .svg, .pb.gz (pprof) or .speedscope.json extension, or --format"
    )]
    UnknownFormat(PathBuf),
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

impl OutputSpec {
    /// Resolves the format of `path` from its extension, or from `fallback` (`--format`).
    pub fn new(path: PathBuf, fallback: Option<Format>) -> Result<OutputSpec, EmitError> {
        let format = Format::from_path(&path).or(fallback).ok_or_else(|| EmitError::UnknownFormat(path.clone()))?;
        let dir = parent_dir(&path);
        if !dir.is_dir() {
            return Err(EmitError::NoDirectory(dir.to_path_buf()));
        }
        Ok(OutputSpec { path, format })
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes `path` atomically: `fill` writes into a temp file next to it, which is flushed,
/// synced and renamed over `path`.
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<&File>) -> Result<(), String>,
) -> Result<(), EmitError> {
    let err = |reason: String| EmitError::Write { path: path.to_path_buf(), reason };
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()))
        .suffix(".tmp")
        .tempfile_in(parent_dir(path))
        .map_err(|e| err(e.to_string()))?;
    {
        let mut w = BufWriter::new(tmp.as_file());
        fill(&mut w).map_err(err)?;
        w.flush().map_err(|e| err(e.to_string()))?;
    }
    tmp.as_file().sync_all().map_err(|e| err(e.to_string()))?;
    // Readable like any file the user creates (the temp file starts as 0600).
    let mode = 0o666 & !current_umask();
    use std::os::unix::fs::PermissionsExt;
    let _ = tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode));
    tmp.persist(path).map_err(|e| err(e.error.to_string()))?;
    Ok(())
}

fn current_umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Umask:")).and_then(|l| u32::from_str_radix(l[6..].trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// Writes `profile` to one output.
pub fn write_output(
    profile: &Profile,
    spec: &OutputSpec,
    render: &RenderOptions,
    svg: &SvgOptions,
) -> Result<(), EmitError> {
    match spec.format {
        Format::Archive => archive::write_file(profile, &spec.path)
            .map_err(|e| EmitError::Write { path: spec.path.clone(), reason: e.to_string() }),
        Format::Folded => write_atomic(&spec.path, |w| folded::write(profile, render, w).map_err(|e| e.to_string())),
        Format::Svg => {
            write_atomic(&spec.path, |w| flamegraph::write_svg(profile, render, svg, w).map_err(|e| e.to_string()))
        }
        Format::Pprof => write_atomic(&spec.path, |w| pprof::write(profile, w).map_err(|e| e.to_string())),
        Format::Speedscope => write_atomic(&spec.path, |w| speedscope::write(profile, w).map_err(|e| e.to_string())),
    }
}
