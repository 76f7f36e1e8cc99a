//! What the UI serves: an archive directory (time ranges of it, merged on request) or one
//! profile file (`.prof`, pprof, folded), read once when the server starts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::ServeError;
use crate::profile::Profile;

/// Where the UI's profiles come from.
#[derive(Debug)]
pub enum Source {
    /// An archive directory of `prof record --continuous`: its intervals, time ranges merged.
    Dir(PathBuf),
    /// One profile, read at start; the file is not opened again.
    File {
        /// The file's name (without its directory), shown by the UI.
        name: String,
        /// Its size in bytes when it was read.
        bytes: u64,
        /// The profile.
        profile: Arc<Profile>,
    },
}

impl Source {
    /// A directory is served as an archive directory; anything else is loaded as a profile
    /// (an archive, pprof or folded file, recognized by content as `prof report` does).
    pub fn open(path: &Path) -> Result<Source, ServeError> {
        let meta = std::fs::metadata(path).map_err(|e| ServeError::Open { path: path.to_path_buf(), reason: e })?;
        if meta.is_dir() {
            return Ok(Source::Dir(path.to_path_buf()));
        }
        let loaded = crate::input::load(path, false)?;
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        Ok(Source::File { name, bytes: meta.len(), profile: Arc::new(loaded.profile) })
    }

    /// True when one profile is served (no timeline: every range is that profile).
    pub fn is_single(&self) -> bool {
        matches!(self, Source::File { .. })
    }
}

/// A profile the UI shows: a merged range of the directory, or the one file served.
#[derive(Clone, Debug)]
pub(super) struct Shown {
    /// The samples.
    pub profile: Arc<Profile>,
    /// The time its intervals cover (the sum of their durations, not the span from the first
    /// start to the last end, which includes any gap between recordings).
    pub covered_ns: u64,
    /// How many intervals (archives) it merges.
    pub intervals: usize,
    /// Archives of the range left out (unreadable, or another kind of time), one line each.
    pub warnings: Vec<String>,
}

impl Shown {
    /// The one profile of a file: its own duration, one interval.
    pub fn whole(profile: &Arc<Profile>) -> Shown {
        Shown {
            profile: Arc::clone(profile),
            covered_ns: profile.meta.end_unix_ns.saturating_sub(profile.meta.start_unix_ns),
            intervals: 1,
            warnings: Vec::new(),
        }
    }
}
