//! The `PT_LOAD` segments of an ELF file ([`load_segments`]) and the load bias of one of its
//! mappings ([`load_bias`]): what turns a process's runtime PCs into the ELF virtual addresses
//! its unwind table is keyed by. Read by [`table_from_file`](super::table_from_file) from the
//! same open file as the table.

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};
use object::read::ReadRef;
use object::Endianness;

use super::CfiError;

/// One `PT_LOAD` segment of an ELF file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadSegment {
    /// Offset of the segment's bytes in the file.
    pub offset: u64,
    /// Virtual address the segment is linked at.
    pub vaddr: u64,
    /// Bytes in the file.
    pub filesz: u64,
    /// Bytes in memory (`filesz` plus zero-filled `.bss`).
    pub memsz: u64,
    /// Whether the segment is mapped executable (`PF_X`).
    pub executable: bool,
}

/// The `PT_LOAD` segments of an ELF image (32- or 64-bit, any architecture), in header order.
pub fn load_segments(data: &[u8]) -> Result<Vec<LoadSegment>, CfiError> {
    if data.as_ptr().align_offset(8) != 0 {
        // As in `table_from_elf`: the headers are read in place from an aligned copy.
        let copy = data.to_vec();
        return aligned_load_segments(copy.as_slice());
    }
    aligned_load_segments(data)
}

/// [`load_segments`] on aligned data (a slice, or a [`ReadCache`](object::read::ReadCache) of a
/// file).
pub fn aligned_load_segments<'d, R: ReadRef<'d>>(data: R) -> Result<Vec<LoadSegment>, CfiError> {
    match elf::FileHeader64::<Endianness>::parse(data) {
        Ok(header) => segments_of(header, data),
        Err(e) => match elf::FileHeader32::<Endianness>::parse(data) {
            Ok(header) => segments_of(header, data),
            Err(_) => Err(CfiError::NotElf(e)),
        },
    }
}

/// [`load_segments`] for one ELF class.
fn segments_of<'d, H: FileHeader<Endian = Endianness>, R: ReadRef<'d>>(
    header: &H,
    data: R,
) -> Result<Vec<LoadSegment>, CfiError> {
    let endian = header.endian().map_err(CfiError::NotElf)?;
    let phdrs = header.program_headers(endian, data).map_err(CfiError::NotElf)?;
    Ok(phdrs
        .iter()
        .filter(|ph| ph.p_type(endian) == elf::PT_LOAD)
        .map(|ph| LoadSegment {
            offset: ph.p_offset(endian).into(),
            vaddr: ph.p_vaddr(endian).into(),
            filesz: ph.p_filesz(endian).into(),
            memsz: ph.p_memsz(endian).into(),
            executable: ph.p_flags(endian) & elf::PF_X != 0,
        })
        .collect())
}

/// The page size mappings are aligned to. x86_64 only has 4 KiB base pages; a mapping's file
/// offset is its segment's offset rounded down to it.
const PAGE_SIZE: u64 = 4096;

/// The load bias of a mapping: runtime address = ELF vaddr + bias. `map_start` is the mapping's
/// start address and `map_offset` its file offset (from /proc/PID/maps).
///
/// The mapping belongs to a `PT_LOAD` segment whose file bytes, extended down to the page they
/// start in (the kernel maps a segment from its offset rounded down to a page), contain
/// `map_offset`; None if no segment does. Where two segments share a file page (every layout
/// that packs segments in the file, e.g. lld's or a RELRO segment after read-only data) the
/// offset alone cannot tell them apart: an executable segment is preferred, since only
/// executable mappings have PCs to unwind; then one whose bytes start at or before
/// `map_offset`. The bias wraps: it is "negative" when a non-PIE executable is mapped below its
/// link address.
pub fn load_bias(segments: &[LoadSegment], map_start: u64, map_offset: u64) -> Option<u64> {
    let in_pages = |s: &&LoadSegment| {
        s.filesz > 0
            && s.offset - s.offset % PAGE_SIZE <= map_offset
            && map_offset - s.offset.min(map_offset) < s.filesz
    };
    let seg = segments.iter().filter(in_pages).min_by_key(|s| (!s.executable, s.offset > map_offset))?;
    let vaddr_at_offset = map_offset.wrapping_sub(seg.offset).wrapping_add(seg.vaddr);
    Some(map_start.wrapping_sub(vaddr_at_offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bias maps the segment containing the mapping's offset, wrapping when negative.
    #[test]
    fn bias_uses_containing_segment() {
        let seg = |offset, vaddr, filesz, executable| LoadSegment { offset, vaddr, filesz, memsz: filesz, executable };
        let segs =
            [seg(0, 0x400000, 0x1000, false), seg(0x1000, 0x401000, 0x2000, true), seg(0x3e10, 0x404e10, 0x200, false)];
        assert_eq!(load_bias(&segs, 0x401000, 0x1000), Some(0));
        assert_eq!(load_bias(&segs, 0x7f00_0000_1000, 0x1000), Some(0x7f00_0000_1000 - 0x401000));
        assert_eq!(load_bias(&segs, 0x404000, 0x3000), Some(0), "first page of the data segment");
        assert_eq!(load_bias(&segs, 0x1000, 0x1000), Some(0x1000u64.wrapping_sub(0x401000)));
        assert_eq!(load_bias(&segs, 0x1000, 0x9000), None);
    }

    /// Where segments share a file page (lld packs them), the executable segment decides.
    #[test]
    fn bias_prefers_executable_in_shared_page() {
        let seg = |offset, vaddr, filesz, executable| LoadSegment { offset, vaddr, filesz, memsz: filesz, executable };
        let segs = [seg(0, 0, 0x1a3c, false), seg(0x1a40, 0x2a40, 0x3000, true)];
        let base = 0x5555_0000_0000;
        assert_eq!(load_bias(&segs, base + 0x2000, 0x1000), Some(base));
        assert_eq!(load_bias(&segs, base, 0), Some(base));
    }
}
