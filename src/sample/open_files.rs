//! The open-files limit (`RLIMIT_NOFILE`). prof keeps one descriptor per binary that sampled
//! processes map (so a binary stays readable after its process exits or the file is replaced),
//! which under process churn over many binaries passes the usual soft limit of 1,024; the soft
//! limit is raised to the hard one, as Go programs do. A command prof starts gets the limit prof
//! was given back, because programs using `select(2)` break with descriptors above 1,023.

use std::sync::OnceLock;

/// The limit prof was started with, once raised.
static ORIGINAL: OnceLock<libc::rlimit> = OnceLock::new();

/// Raises the soft open-files limit to the hard limit. Never fails: a refused raise leaves the
/// limit as it was.
pub(super) fn raise() {
    let mut old = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one rlimit into `old`, a valid local.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut old) } != 0 || old.rlim_cur >= old.rlim_max {
        return;
    }
    let raised = libc::rlimit { rlim_cur: old.rlim_max, rlim_max: old.rlim_max };
    // SAFETY: setrlimit reads one rlimit from `raised`, a valid local.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        let _ = ORIGINAL.set(old);
    }
}

/// The limit to give back to a command prof starts (None: prof did not change it).
pub(super) fn original() -> Option<libc::rlimit> {
    ORIGINAL.get().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After `raise`, the soft limit equals the hard one, and `original` is what was there
    /// before (or None when there was nothing to raise).
    #[test]
    fn open_files_raise_to_hard_and_keep_the_original() {
        let mut before = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: valid local out-parameter.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut before) }, 0);
        raise();
        let mut after = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: valid local out-parameter.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut after) }, 0);
        assert_eq!(after.rlim_cur, after.rlim_max);
        match original() {
            Some(o) => assert_eq!((o.rlim_cur, o.rlim_max), (before.rlim_cur, before.rlim_max)),
            None => assert_eq!(before.rlim_cur, before.rlim_max),
        }
    }
}
