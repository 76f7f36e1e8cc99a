//! Reading profiles back, whatever wrote them: prof's archive, a pprof profile (from prof or any
//! other profiler) or a folded file, told apart by content (`prof report`, `prof diff`).

use std::io::Read;
use std::path::Path;

use crate::archive;
use crate::output::folded;
use crate::output::pprof;
use crate::profile::{Profile, WeightUnit};

mod looks_like;

/// Errors while loading a profile.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Reading the file failed.
    #[error("failed to read `{path}`: {source}")]
    Io {
        /// The input.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The input is a directory, is empty, or looks like something else (an executable, an
    /// image, source code, compressed data that is not a profile).
    #[error("`{path}`: not a profile ({what})")]
    NotAProfile {
        /// The input.
        path: String,
        /// What it is instead: `looks like an ELF executable`, `the file is empty`, ….
        what: String,
    },
    /// The archive is invalid.
    #[error(transparent)]
    Archive(#[from] archive::ArchiveError),
    /// The folded file is invalid.
    #[error(transparent)]
    Folded(#[from] folded::FoldedError),
    /// The pprof profile is invalid.
    #[error(transparent)]
    Pprof(#[from] pprof::PprofError),
    /// `--weights` was given for an input that records its own unit.
    #[error("`{path}` is {kind}, which records what its counts are: --weights applies to folded input only")]
    WeightsNotFolded {
        /// The input.
        path: String,
        /// `an archive` or `a pprof profile`.
        kind: &'static str,
    },
}

/// How to read inputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Skip malformed lines of folded input instead of failing.
    pub lenient: bool,
    /// The unit of folded weights (`--weights`); `None` detects it
    /// ([`folded::parse_with`]).
    pub weights: Option<WeightUnit>,
}

/// Largest folded input read into memory.
const MAX_FOLDED_BYTES: u64 = 4 << 30;

/// A loaded profile and how many malformed lines were skipped (lenient folded input).
#[derive(Debug)]
pub struct Loaded {
    /// The profile.
    pub profile: Profile,
    /// Skipped lines.
    pub skipped_lines: usize,
}

/// Loads an archive (recognized by its magic), a pprof profile (gzip-compressed, or raw
/// protobuf that decodes as one; a `.pb.gz`/`.pprof`/`.pb` name must be one) or a folded file;
/// `-` reads stdin. An input that is none of these (a directory, an empty file, an executable,
/// an image, source code, …) is a [`LoadError::NotAProfile`] saying what it looks like.
pub fn load(path: &Path, lenient: bool) -> Result<Loaded, LoadError> {
    load_with(path, &LoadOptions { lenient, weights: None })
}

/// [`load`] with [`LoadOptions`]: declared weights are refused for archives and pprof.
pub fn load_with(path: &Path, opts: &LoadOptions) -> Result<Loaded, LoadError> {
    let name = path.display().to_string();
    let not_folded = |kind| match opts.weights {
        Some(_) => Err(LoadError::WeightsNotFolded { path: name.clone(), kind }),
        None => Ok(()),
    };
    let io_err = |source| LoadError::Io { path: name.clone(), source };
    let not_a_profile = |what: String| LoadError::NotAProfile { path: name.clone(), what };
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        std::io::stdin().lock().take(MAX_FOLDED_BYTES).read_to_end(&mut bytes).map_err(io_err)?;
    } else {
        let mut f = std::fs::File::open(path).map_err(io_err)?;
        if f.metadata().is_ok_and(|m| m.is_dir()) {
            return Err(not_a_profile("a directory".into()));
        }
        let mut prefix = [0u8; 8];
        let n = f.read(&mut prefix).map_err(io_err)?;
        if archive::is_archive(&prefix[..n]) {
            not_folded("an archive")?;
            drop(f);
            return Ok(Loaded { profile: archive::read_file(path)?, skipped_lines: 0 });
        }
        // One allocation of the file's size (plus one byte, so that read_to_end sees the end
        // without growing the buffer): growing it as the read goes copies and faults the pages
        // of large folded files again and again.
        let size = f.metadata().map_or(0, |m| m.len()).min(MAX_FOLDED_BYTES);
        // A file larger than memory allows is an error naming it, not an abort.
        bytes.try_reserve_exact(usize::try_from(size + 1).unwrap_or(usize::MAX)).map_err(|_| {
            io_err(std::io::Error::new(
                std::io::ErrorKind::OutOfMemory,
                format!("cannot hold its {size} bytes in memory"),
            ))
        })?;
        bytes.extend_from_slice(&prefix[..n]);
        f.take(MAX_FOLDED_BYTES).read_to_end(&mut bytes).map_err(io_err)?;
    }
    if archive::is_archive(&bytes) {
        not_folded("an archive")?;
        return Ok(Loaded { profile: archive::read(&bytes)?, skipped_lines: 0 });
    }
    if bytes.is_empty() {
        return Err(not_a_profile("the file is empty".into()));
    }
    if let Some(kind) = looks_like::by_magic(&bytes) {
        return Err(not_a_profile(format!("looks like {kind}")));
    }
    if pprof::is_gzip(&bytes) || names_pprof(path) {
        not_folded("a pprof profile")?;
        return match pprof::read(&bytes, &name) {
            Ok(profile) => Ok(Loaded { profile, skipped_lines: 0 }),
            // Compressed data of another kind, unless its name says it is pprof (then the
            // decoder's error says what is wrong with it).
            Err(pprof::PprofError::Decode { .. }) if pprof::is_gzip(&bytes) && !names_pprof(path) => {
                Err(not_a_profile(format!("looks like {}", looks_like::gzip_contents(&bytes))))
            }
            Err(e) => Err(e.into()),
        };
    }
    if let Some(profile) = pprof::read_if_raw_pprof(&bytes, &name) {
        not_folded("a pprof profile")?;
        return Ok(Loaded { profile: profile?, skipped_lines: 0 });
    }
    if let Some(kind) = looks_like::by_first_line(&bytes) {
        return Err(not_a_profile(format!("looks like {kind}")));
    }
    let parsed = folded::parse_with(&bytes, &name, opts.lenient, opts.weights)?;
    Ok(Loaded { profile: parsed.profile, skipped_lines: parsed.skipped_lines })
}

/// Runs `base` and `new`, two loads of `prof diff`, at the same time: `base` on a second thread,
/// `new` on this one. Reading and parsing the inputs is most of a diff's time, and the two are
/// independent. Without a second thread (the system refuses one), `base` runs after `new`.
pub fn load_pair<A: Send, B>(base: impl FnOnce() -> A + Send, new: impl FnOnce() -> B) -> (A, B) {
    let base = std::sync::Mutex::new(Some(base));
    // Takes the `base` job out and runs it: only the first call finds it.
    let run_base = || base.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take().map(|job| job());
    std::thread::scope(|s| {
        let spawned = std::thread::Builder::new().name("prof-load-base".into()).spawn_scoped(s, run_base);
        let new = new();
        let base = match spawned {
            Ok(thread) => thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => run_base(),
        };
        (base.expect("the base job runs exactly once"), new)
    })
}

/// True for a file name that says pprof: `.pb.gz`, `.pprof` or `.pb`.
fn names_pprof(path: &Path) -> bool {
    use crate::output::Format;
    Format::from_path(path) == Some(Format::Pprof) || path.extension().is_some_and(|e| e.eq_ignore_ascii_case("pb"))
}
