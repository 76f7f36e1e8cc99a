//! The vDSO's image: the small shared object the kernel maps into every process as `[vdso]`
//! (`__vdso_clock_gettime`…). It has no file: its bytes are read from memory, and since they are
//! the same in every process of one kernel and ABI, prof's own image stands for the others whose
//! `[vdso]` mapping has the same size. The symbolizer names its functions from it and the unwind
//! tables are built from its `.eh_frame`.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// The module name of the vDSO's mapping in `/proc/PID/maps`.
pub const VDSO_MODULE: &str = "[vdso]";

/// Largest `[vdso]` mapping read (x86_64's is two pages; the cap only matters for a maps line
/// that lies).
pub const MAX_VDSO_BYTES: u64 = 1 << 20;

/// The bytes of `start..end` in the memory of process `who` (`self` or a PID), at most
/// [`MAX_VDSO_BYTES`].
pub fn read_image(who: &str, start: u64, end: u64) -> Option<Vec<u8>> {
    let len = end.checked_sub(start).filter(|&l| l > 0 && l <= MAX_VDSO_BYTES)?;
    let mem = File::open(format!("/proc/{who}/mem")).ok()?;
    let mut image = vec![0u8; usize::try_from(len).ok()?];
    mem.read_exact_at(&mut image, start).ok()?;
    Some(image)
}

/// The vDSO image of prof's own process (from `/proc/self/maps` and `/proc/self/mem`).
pub fn own_image() -> Option<Vec<u8>> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let m = super::maps::parse_maps(&maps).into_iter().find(|m| m.path == VDSO_MODULE)?;
    read_image("self", m.start, m.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// prof's own image is an ELF object; empty ranges, ranges above the cap and unmapped
    /// memory give nothing.
    #[test]
    fn vdso_image_own_and_refused_ranges() {
        let own = own_image().expect("a vDSO");
        assert_eq!(&own[..4], b"\x7fELF");
        assert_eq!(read_image("self", 4096, 4096), None);
        assert_eq!(read_image("self", 0, MAX_VDSO_BYTES + 1), None);
        assert_eq!(read_image("self", 0, 4096), None, "page 0 is never mapped");
    }
}
