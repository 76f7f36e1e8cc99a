//! Reading another process's memory: `process_vm_readv`, one bounded read at a time. What it
//! returns is the target's to choose: callers check every pointer and length they read.

/// Bytes of another address space.
pub trait Memory {
    /// Fills `buf` from `addr`; false when any byte of the range is unreadable (unmapped, the
    /// process gone, an address that overflows).
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool;

    /// The 8-byte little-endian word at `addr`.
    fn u64_at(&self, addr: u64) -> Option<u64> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b).then(|| u64::from_le_bytes(b))
    }

    /// The 4-byte little-endian word at `addr`.
    fn u32_at(&self, addr: u64) -> Option<u32> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b).then(|| u32::from_le_bytes(b))
    }

    /// The byte at `addr`.
    fn u8_at(&self, addr: u64) -> Option<u8> {
        let mut b = [0u8; 1];
        self.read(addr, &mut b).then_some(b[0])
    }

    /// The pointer at `base + offset`: None when unreadable or when the sum overflows.
    fn field(&self, base: u64, offset: u64) -> Option<u64> {
        self.u64_at(base.checked_add(offset)?)
    }
}

/// The memory of a live process, read with `process_vm_readv` (needs `CAP_SYS_PTRACE` or the
/// same user, like ptrace; prof runs as root).
#[derive(Clone, Copy, Debug)]
pub struct ProcessMemory {
    pid: u32,
}

impl ProcessMemory {
    /// The memory of process `pid`.
    pub fn new(pid: u32) -> ProcessMemory {
        ProcessMemory { pid }
    }
}

impl Memory for ProcessMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        if buf.is_empty() {
            return true;
        }
        if addr.checked_add(buf.len() as u64).is_none() {
            return false;
        }
        let Ok(pid) = libc::pid_t::try_from(self.pid) else { return false };
        let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        let remote = libc::iovec { iov_base: addr as *mut libc::c_void, iov_len: buf.len() };
        // SAFETY: `local` describes `buf`, which is writable for its whole length and lives
        // across the call; the remote range is only read by the kernel, in the other process.
        let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
        n >= 0 && n as usize == buf.len()
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! An address space made of byte ranges, for tests of hostile layouts.
    use super::Memory;

    /// Byte ranges at addresses; reads must fall inside one range.
    #[derive(Default)]
    pub struct FakeMemory {
        pub ranges: Vec<(u64, Vec<u8>)>,
    }

    impl FakeMemory {
        /// Adds `bytes` at `addr`.
        pub fn put(&mut self, addr: u64, bytes: Vec<u8>) {
            self.ranges.push((addr, bytes));
        }
    }

    impl Memory for FakeMemory {
        fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
            for (start, bytes) in &self.ranges {
                let Some(off) = addr.checked_sub(*start) else { continue };
                let Ok(off) = usize::try_from(off) else { continue };
                if let Some(src) = off.checked_add(buf.len()).and_then(|end| bytes.get(off..end)) {
                    buf.copy_from_slice(src);
                    return true;
                }
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our own memory reads back what it holds; an unmapped or overflowing range fails.
    #[test]
    fn memory_reads_live_process() {
        let value: u64 = 0x1122_3344_5566_7788;
        let mem = ProcessMemory::new(std::process::id());
        assert_eq!(mem.u64_at(&value as *const u64 as u64), Some(value));
        assert_eq!(mem.u64_at(8), None);
        assert_eq!(mem.u64_at(u64::MAX - 3), None);
        assert_eq!(mem.field(u64::MAX, 8), None);
    }
}
