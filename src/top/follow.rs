//! Following an archive directory that a continuous recording writes: each poll reads the
//! archives that appeared since the last one (written atomically, so a listed archive is
//! whole), newest last.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::archive;
use crate::profile::Profile;
use crate::store;

/// Archives read at most per poll: after a long pause (or at the start, in a directory of days
/// of intervals) only the newest are read, which are all a decaying window would show anyway.
pub const MAX_PER_POLL: usize = 16;

/// Reads an archive directory's new intervals as they appear.
#[derive(Debug)]
pub struct DirFollower {
    dir: PathBuf,
    /// The archives listed by the previous poll (by path): whatever is listed now and was not
    /// then is new, whatever order its name sorts in.
    seen: HashSet<PathBuf>,
}

/// What one poll found.
#[derive(Debug, Default)]
pub struct Polled {
    /// The new intervals, oldest first.
    pub profiles: Vec<Profile>,
    /// Archives or entries that were skipped, and why.
    pub warnings: Vec<String>,
}

impl DirFollower {
    /// Follows `dir`; the first poll reads its newest archives.
    pub fn new(dir: &Path) -> Self {
        DirFollower { dir: dir.to_path_buf(), seen: HashSet::new() }
    }

    /// The directory followed.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads the archives that appeared since the previous poll (the newest `max` of them, at
    /// most [`MAX_PER_POLL`]); corrupt ones are skipped with a warning. Fails only when the
    /// directory cannot be listed.
    pub fn poll(&mut self, max: usize) -> std::io::Result<Polled> {
        let (entries, mut warnings) = store::list(&self.dir)?;
        let new: Vec<&store::Entry> = entries.iter().filter(|e| !self.seen.contains(&e.path)).collect();
        let skip = new.len().saturating_sub(max.min(MAX_PER_POLL));
        let mut profiles = Vec::new();
        for e in &new[skip..] {
            match archive::read_file(&e.path) {
                Ok(p) => profiles.push(p),
                // Removed by retention between the listing and the read: not worth a word.
                Err(archive::ArchiveError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => warnings.push(format!("{}; skipped", crate::error_text::error_chain(&err))),
            }
        }
        // Only warnings about archives: the directory's other files are none of top's business.
        warnings.retain(|w| w.contains(store::EXTENSION));
        self.seen = entries.into_iter().map(|e| e.path).collect();
        Ok(Polled { profiles, warnings })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Frame, FrameKind, Metadata, ProfileBuilder};

    fn write(dir: &Path, seq: u64, comm: &str) {
        let mut b = ProfileBuilder::new(Metadata { total_samples: 1, ..Metadata::default() });
        let f = b.frame(Frame::new("f", "m", FrameKind::User));
        let s = b.stack(vec![f]);
        b.add(s, 1, comm, 1);
        let name = store::archive_name(1_800_000_000_000_000_000 + seq * 1_000_000_000, 42, seq);
        archive::write_file(&b.finish(), &dir.join(name)).unwrap();
    }

    fn comms(p: &Polled) -> Vec<&str> {
        p.profiles.iter().map(|p| p.samples[0].comm.as_str()).collect()
    }

    /// The first poll reads the newest archives, later polls only the new ones; a corrupt
    /// archive is a warning.
    #[test]
    fn follow_reads_new_archives_once() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..4 {
            write(dir.path(), i, &format!("p{i}"));
        }
        let mut f = DirFollower::new(dir.path());
        assert_eq!(comms(&f.poll(2).unwrap()), ["p2", "p3"]);
        assert!(f.poll(2).unwrap().profiles.is_empty());
        write(dir.path(), 4, "p4");
        std::fs::write(dir.path().join(store::archive_name(1_900_000_000_000_000_000, 42, 9)), b"junk").unwrap();
        let p = f.poll(8).unwrap();
        assert_eq!(comms(&p), ["p4"]);
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    }
}
