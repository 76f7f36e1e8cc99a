//! Re-reading a process's mappings when a sampled address falls outside all of them: code mapped
//! after the process was first captured (a library loaded with `dlopen`, code remapped into
//! anonymous huge pages) is otherwise unknown to symbolization. The walker of `--unwind auto`
//! notices this in the kernel and asks for a capture; with `--unwind fp` the kernel's walker
//! does not, so the recording checks each drain's user stacks ([`super::ProcessTable::refresh`]).
//!
//! The re-reads are bounded: at most one per process per [`MIN_INTERVAL`], at most
//! [`MAX_PER_DRAIN`] per drain, and an address that a re-read could not place (a stray return
//! address from code without frame pointers) does not ask again; those are remembered up to
//! [`MAX_REMEMBERED`] per process.

use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Shortest time between two re-reads of one process's mappings: once per drain at the default
/// drain interval. A process whose stacks keep showing new unplaceable addresses (garbage return
/// addresses) then costs one read of its maps file per second, not one per drain of a faster
/// drain loop.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Processes re-read per drain at most: a system-wide recording where hundreds of processes
/// load code at once catches up over a few drains instead of stalling one.
pub const MAX_PER_DRAIN: usize = 32;

/// Unplaceable addresses remembered per process (8 bytes each): beyond that the set starts
/// over, costing at most one more re-read.
pub const MAX_REMEMBERED: usize = 1024;

/// What is known about one process's re-reads.
#[derive(Debug, Default)]
pub(super) struct RefreshState {
    /// When its mappings were last re-read.
    last: Option<Instant>,
    /// Addresses a re-read left outside every mapping: they do not ask again.
    unplaceable: HashSet<u64>,
}

impl RefreshState {
    /// True when a re-read is allowed at `now` for an address not yet known as unplaceable.
    pub(super) fn due(&self, addr: u64, now: Instant) -> bool {
        !self.unplaceable.contains(&addr) && self.last.is_none_or(|t| now.saturating_duration_since(t) >= MIN_INTERVAL)
    }

    /// A re-read happened at `now`; `still_outside` are the addresses it did not place.
    pub(super) fn reread(&mut self, now: Instant, still_outside: impl IntoIterator<Item = u64>) {
        self.last = Some(now);
        for addr in still_outside {
            if self.unplaceable.len() >= MAX_REMEMBERED {
                self.unplaceable.clear();
            }
            self.unplaceable.insert(addr);
        }
    }
}

/// True for an address that may be user-space code: not 0 and not in the upper (kernel) half of
/// the address space, where a frame-pointer walk's garbage often points.
pub fn is_user_code_address(addr: u64) -> bool {
    addr != 0 && addr < 1 << 63
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An address is due once, then not again within the interval nor ever after a re-read left
    /// it outside; another address is due after the interval; the remembered set stays bounded.
    #[test]
    fn refresh_rate_limited_and_unplaceable_remembered() {
        let t0 = Instant::now();
        let mut s = RefreshState::default();
        assert!(s.due(0x1000, t0));
        s.reread(t0, [0x1000]);
        assert!(!s.due(0x2000, t0 + MIN_INTERVAL / 2));
        assert!(s.due(0x2000, t0 + MIN_INTERVAL));
        assert!(!s.due(0x1000, t0 + MIN_INTERVAL * 10));
        s.reread(t0, 0..(MAX_REMEMBERED as u64 + 10));
        assert!(s.unplaceable.len() <= MAX_REMEMBERED);
        assert!(!is_user_code_address(0));
        assert!(!is_user_code_address(0xffff_ffff_8100_0000));
        assert!(is_user_code_address(0x7f00_0000_1000));
    }
}
