//! A Go binary as the symbolizer reads it: its `.gopclntab` ([`PclnTab`]), the loadable
//! segments that turn file offsets into link-time addresses, and the inline trees, found through
//! `runtime.moduledata`'s `gofunc` base (function data offsets count from there).
//!
//! `runtime.moduledata` has no symbol in a stripped binary. It lies in `.noptrdata` and starts
//! with a pointer to the table's header, so it is found by that value and accepted only when its
//! name-table pointer, text start and `rodata` fields agree with the table and the section
//! headers. A position-independent binary has those pointers as relocations (zero in the file):
//! it gets names, files and lines, without inlined frames.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use object::read::elf::{ElfFile64, ProgramHeader};
use object::{Endianness, Object, ObjectSection};

use super::gopclntab::{GoFunc, PclnError, PclnTab, MAX_PCLNTAB_BYTES};

/// Candidates for `runtime.moduledata` checked (a value equal to the table's address elsewhere
/// in `.noptrdata` is rare; the bound keeps a crafted section from costing more).
const MAX_MODULEDATA_CANDIDATES: usize = 16;

/// A Go binary's table, with what is needed to look up file offsets and inlined calls.
#[derive(Debug)]
pub struct GoBinary {
    table: PclnTab,
    /// Loadable segments as (file offset, size in the file, address).
    segments: Vec<(u64, u64, u64)>,
    /// The open binary and its `gofunc` address, when `runtime.moduledata` was found.
    inline: Option<(File, u64)>,
}

impl GoBinary {
    /// Reads the `.gopclntab` of the 64-bit ELF file at `path`: `Ok(None)` when it has none
    /// (not a Go binary, or one linked externally as a position-independent executable, where
    /// the table has no section of its own).
    pub fn open(path: &Path) -> Result<Option<GoBinary>, PclnError> {
        let file = File::open(path)?;
        let cache = object::ReadCache::new(&file);
        let elf = ElfFile64::<Endianness, _>::parse(&cache)?;
        let Some(section) = elf.section_by_name(".gopclntab") else {
            return Ok(None);
        };
        let Some(bytes) = read_range(&file, section.file_range())? else {
            return Ok(None);
        };
        let text = elf.section_by_name(".text").map_or(0, |s| s.address());
        let table = PclnTab::parse(bytes, text)?;
        let endian = elf.endian();
        let segments = elf
            .elf_program_headers()
            .iter()
            .filter(|ph| ph.p_type(endian) == object::elf::PT_LOAD)
            .map(|ph| (ph.p_offset(endian), ph.p_filesz(endian), ph.p_vaddr(endian)))
            .collect();
        let rodata = elf.section_by_name(".rodata").map(|s| s.address());
        let noptrdata = elf.section_by_name(".noptrdata").and_then(|s| s.file_range());
        let gofunc =
            read_range(&file, noptrdata)?.and_then(|data| find_gofunc(&table, &data, section.address(), rodata));
        drop(elf);
        drop(cache);
        Ok(Some(GoBinary { table, segments, inline: gofunc.map(|g| (file, g)) }))
    }

    /// The table.
    pub fn table(&self) -> &PclnTab {
        &self.table
    }

    /// True when inlined frames can be given (`runtime.moduledata` was found).
    pub fn has_inline_trees(&self) -> bool {
        self.inline.is_some()
    }

    /// The frames at file offset `offset` of the binary, outermost first (see
    /// [`PclnTab::frames`]); `None` outside the table's functions.
    pub fn frames_at_offset(&self, offset: u64) -> Option<Vec<GoFunc>> {
        let &(start, _, vaddr) =
            self.segments.iter().find(|&&(start, size, _)| offset >= start && offset - start < size)?;
        let vaddr = vaddr.checked_add(offset - start)?;
        let (size, name_at, parent_at) = self.table.inline_entry_layout();
        let read_entry = |tree: u32, index: u32| -> Option<(u32, u32)> {
            let (file, gofunc) = self.inline.as_ref()?;
            let at =
                gofunc.checked_add(u64::from(tree))?.checked_add(u64::from(index).checked_mul(u64::from(size))?)?;
            let mut entry = [0u8; 20];
            let entry = &mut entry[..size as usize];
            file.read_exact_at(entry, self.file_offset(at, size.into())?).ok()?;
            let word = |i: usize| u32::from_le_bytes([entry[i], entry[i + 1], entry[i + 2], entry[i + 3]]);
            Some((word(name_at), word(parent_at)))
        };
        self.table.frames(vaddr, &read_entry)
    }

    /// The file offset of `len` bytes at link-time address `vaddr`, inside one segment.
    fn file_offset(&self, vaddr: u64, len: u64) -> Option<u64> {
        self.segments.iter().find_map(|&(offset, size, start)| {
            let into = vaddr.checked_sub(start)?;
            (into.checked_add(len)? <= size).then(|| offset + into)
        })
    }
}

/// The bytes of a section's file range (`None` for a section without bytes in the file), within
/// the cap.
fn read_range(file: &File, range: Option<(u64, u64)>) -> Result<Option<Vec<u8>>, PclnError> {
    let Some((offset, size)) = range else {
        return Ok(None);
    };
    if size > MAX_PCLNTAB_BYTES {
        return Err(PclnError::TooLarge(size));
    }
    let mut data = vec![0; usize::try_from(size).map_err(|_| PclnError::TooLarge(size))?];
    file.read_exact_at(&mut data, offset)?;
    Ok(Some(data))
}

/// The `gofunc` field of the `runtime.moduledata` in `noptrdata` that describes `table` (at
/// address `pclntab`): found by its first field, checked by its name-table pointer, its text
/// start and its `rodata` field (the start of `.rodata`, when that section is named).
fn find_gofunc(table: &PclnTab, noptrdata: &[u8], pclntab: u64, rodata: Option<u64>) -> Option<u64> {
    // Field offsets (64-bit): the header pointer, six slices, ftab, findfunctab, minpc, maxpc,
    // then text at 176; 1.20 added covctrs/ecovctrs before `end`, moving rodata and gofunc.
    const NAMES: usize = 8;
    const TEXT: usize = 176;
    let gofunc_at = if table.has_start_line() { 320 } else { 304 };
    let word = |at: usize| {
        let b = noptrdata.get(at..at.checked_add(8)?)?;
        Some(u64::from_le_bytes(b.try_into().ok()?))
    };
    let names = pclntab.checked_add(table.funcnametab_offset() as u64)?;
    (0..noptrdata.len() / 8)
        .map(|i| i * 8)
        .filter(|&at| word(at) == Some(pclntab))
        .take(MAX_MODULEDATA_CANDIDATES)
        .find_map(|md| {
            let ok = word(md + NAMES)? == names
                && word(md + TEXT)? == table.text_start()
                && rodata.is_none_or(|r| word(md + gofunc_at - 8) == Some(r));
            let gofunc = word(md + gofunc_at)?;
            (ok && gofunc != 0).then_some(gofunc)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1.20-layout header (magic, pads, quantum 1, pointer size 8; one function spanning the
    /// text) whose name table is at offset 72 and text starts at `text`.
    fn table(text: u64) -> PclnTab {
        let mut b = Vec::new();
        b.extend(0xffff_fff1u32.to_le_bytes());
        b.extend([0, 0, 1, 8]);
        for w in [1u64, 0, text, 72, 72, 72, 72, 72] {
            b.extend(w.to_le_bytes());
        }
        b.extend([0u8; 16]);
        PclnTab::parse(b, 0).unwrap()
    }

    /// A moduledata at `at` in a fake `.noptrdata` for a table at 0x5000 (names at 0x5048).
    fn noptrdata(at: usize, names: u64, text: u64, rodata: u64, gofunc: u64) -> Vec<u8> {
        let mut d = vec![0u8; at + 400];
        let mut put = |off: usize, v: u64| d[at + off..at + off + 8].copy_from_slice(&v.to_le_bytes());
        put(0, 0x5000);
        put(8, names);
        put(176, text);
        put(312, rodata);
        put(320, gofunc);
        d
    }

    /// The moduledata whose fields agree with the table is found (also after a decoy that
    /// points at the table but disagrees); one that disagrees anywhere is not used.
    #[test]
    fn go_binary_finds_gofunc_only_in_a_consistent_moduledata() {
        let t = table(0x40_1000);
        let good = noptrdata(64, 0x5048, 0x40_1000, 0x6000, 0x7000);
        assert_eq!(find_gofunc(&t, &good, 0x5000, Some(0x6000)), Some(0x7000));
        assert_eq!(find_gofunc(&t, &good, 0x5000, None), Some(0x7000));
        let mut decoy = noptrdata(0, 0x9999, 0x40_1000, 0x6000, 0x8000);
        decoy.truncate(64);
        decoy.extend(&good[64..]);
        assert_eq!(find_gofunc(&t, &decoy, 0x5000, Some(0x6000)), Some(0x7000));
        assert_eq!(find_gofunc(&t, &good, 0x5000, Some(0x6100)), None, "rodata disagrees");
        assert_eq!(find_gofunc(&t, &noptrdata(8, 0x5048, 0x40_2000, 0x6000, 0x7000), 0x5000, None), None);
        assert_eq!(find_gofunc(&t, &noptrdata(8, 0x5048, 0x40_1000, 0x6000, 0), 0x5000, None), None);
        assert_eq!(find_gofunc(&t, &good[..200], 0x5000, None), None, "cut short");
    }

    /// A file that is not ELF is an error; an ELF file without `.gopclntab` is not a Go binary.
    #[test]
    fn go_binary_open_non_go() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk");
        std::fs::write(&junk, b"not an elf file at all").unwrap();
        assert!(GoBinary::open(&junk).is_err());
        assert!(matches!(GoBinary::open(Path::new("/bin/sh")), Ok(None)));
    }
}
