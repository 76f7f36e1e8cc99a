//! A process's executable mappings through the kernel's `PROCMAP_QUERY` ioctl on its maps file
//! (Linux 6.11+): the kernel hands over the executable mappings one by one, with their path,
//! instead of formatting every mapping of the process as text (each file-backed one with its
//! path escaped) for prof to parse and mostly discard. On older kernels the ioctl is unknown and
//! [`executable_mappings`] says so, and the caller reads the text.

use std::fs::File;
use std::os::fd::AsRawFd;

use super::maps::Mapping;

/// `_IOWR('f', 17, struct procmap_query)` from `<linux/fs.h>`.
const PROCMAP_QUERY: libc::c_ulong = 0xC068_6611;
/// Only mappings that may execute.
const QUERY_VMA_EXECUTABLE: u64 = 0x04;
/// The mapping that covers the address, or else the next one above it.
const QUERY_COVERING_OR_NEXT_VMA: u64 = 0x10;
/// Room for a path: the kernel's `PATH_MAX`; a longer one fails the query (`ENAMETOOLONG`)
/// and the caller reads the text instead.
const NAME_BUF: usize = 4096;
/// At most this many executable mappings are taken from one process (the kernel's default
/// `vm.max_map_count` is 65530 mappings of any kind).
pub const MAX_MAPPINGS: usize = 65_536;

/// `struct procmap_query` from `<linux/fs.h>` (104 bytes, every field naturally aligned).
#[repr(C)]
#[derive(Default)]
struct ProcmapQuery {
    size: u64,
    query_flags: u64,
    query_addr: u64,
    vma_start: u64,
    vma_end: u64,
    vma_flags: u64,
    vma_page_size: u64,
    vma_offset: u64,
    inode: u64,
    dev_major: u32,
    dev_minor: u32,
    vma_name_size: u32,
    build_id_size: u32,
    vma_name_addr: u64,
    build_id_addr: u64,
}

const _: () = assert!(std::mem::size_of::<ProcmapQuery>() == 104);

/// Why the ioctl gave no answer.
#[derive(Debug, PartialEq, Eq)]
pub enum QueryError {
    /// The kernel does not know `PROCMAP_QUERY` (before 6.11), or refused this query (a path
    /// longer than `PATH_MAX`, more mappings than [`MAX_MAPPINGS`]): read the text instead.
    Unsupported,
    /// The file could not be queried (e.g. the process's memory is gone): no answer either way.
    Failed,
}

/// The executable mappings of the process whose maps file (`/proc/PID/maps` or
/// `/proc/PID/task/TID/maps`) `maps` is, lowest first, as [`super::maps::parse_maps`] would
/// give them from the text (the `[vsyscall]` page included). A process without memory (a
/// zombie) has none.
pub fn executable_mappings(maps: &File) -> Result<Vec<Mapping>, QueryError> {
    let mut name = vec![0u8; NAME_BUF];
    let mut out = Vec::new();
    let mut addr = 0u64;
    loop {
        let mut q = ProcmapQuery {
            size: std::mem::size_of::<ProcmapQuery>() as u64,
            query_flags: QUERY_VMA_EXECUTABLE | QUERY_COVERING_OR_NEXT_VMA,
            query_addr: addr,
            vma_name_addr: name.as_mut_ptr() as u64,
            vma_name_size: NAME_BUF as u32,
            ..ProcmapQuery::default()
        };
        // SAFETY: `q` is a live `struct procmap_query` of the size it declares; the kernel
        // writes at most `vma_name_size` bytes to `name`, which has that many, and nothing
        // else (no build ID buffer is given).
        let rc = unsafe { libc::ioctl(maps.as_raw_fd(), PROCMAP_QUERY, &mut q as *mut ProcmapQuery) };
        if rc != 0 {
            return match std::io::Error::last_os_error().raw_os_error() {
                // no executable mapping at or above `addr`: the walk is over
                Some(libc::ENOENT) => {
                    if !out.is_empty() {
                        out.extend(gate_area());
                    }
                    Ok(out)
                }
                // the process has no memory (any more): a zombie, as its empty text says
                Some(libc::ESRCH) => Ok(Vec::new()),
                Some(libc::ENOTTY | libc::EINVAL | libc::ENAMETOOLONG | libc::E2BIG) => Err(QueryError::Unsupported),
                _ => Err(QueryError::Failed),
            };
        }
        if q.vma_end <= addr || q.vma_start >= q.vma_end || out.len() == MAX_MAPPINGS {
            // the kernel never goes backwards; should it, or should there be too many, the text
            // has the answer
            return Err(QueryError::Unsupported);
        }
        // `vma_name_size` counts the terminating NUL; 0 means no name (anonymous memory).
        let len = (q.vma_name_size as usize).min(NAME_BUF).saturating_sub(1);
        out.push(Mapping {
            start: q.vma_start,
            end: q.vma_end,
            offset: q.vma_offset,
            dev: libc::makedev(q.dev_major, q.dev_minor),
            inode: q.inode,
            path: String::from_utf8_lossy(&name[..len]).into_owned(),
        });
        addr = q.vma_end;
    }
}

/// The `[vsyscall]` page, which the text lists last for every 64-bit process but which is no
/// mapping of the process's own and the ioctl does not report: taken once from prof's own maps
/// (None where the kernel has no such page).
fn gate_area() -> Option<Mapping> {
    static GATE: std::sync::OnceLock<Option<Mapping>> = std::sync::OnceLock::new();
    GATE.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/self/maps").ok()?;
        super::maps::parse_maps(&text).into_iter().find(|m| m.path == "[vsyscall]")
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On this process, the ioctl's answer is the text's: the same executable mappings with
    /// the same paths, devices, inodes and offsets (kernels before 6.11 say they cannot).
    #[test]
    fn query_agrees_with_the_text() {
        let file = File::open("/proc/self/maps").unwrap();
        let text = std::fs::read_to_string("/proc/self/maps").unwrap();
        match executable_mappings(&file) {
            Ok(found) => {
                let parsed = super::super::maps::parse_maps(&text);
                assert!(found.len() >= 3, "{found:?}");
                assert_eq!(found, parsed);
            }
            Err(e) => {
                assert_eq!(e, QueryError::Unsupported, "only an old kernel may refuse");
                let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
                let mut v = release.trim().split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
                let (major, minor) = (v.next().unwrap_or(0), v.next().unwrap_or(0));
                assert!((major, minor) < (6, 11), "kernel {release} has PROCMAP_QUERY");
            }
        }
    }
}
