//! Symbols of the vDSO, the small shared object the kernel maps into every process as
//! `[vdso]` (`__vdso_clock_gettime`, `__vdso_gettimeofday`, `__vdso_time`, `__vdso_getcpu`…).
//! It has no file to open: its image is read from memory, `/proc/PID/mem` at the `[vdso]`
//! mapping, and its dynamic symbols parsed. The image is the same in every process of one
//! kernel and ABI, so prof's own ([`VdsoSymbols::own`]) names the frames of processes that have
//! exited; a process whose mapping differs in size (another ABI) needs its own image.
//!
//! An address in `[vdso]` is an offset from the mapping's start, where the image's ELF header
//! is; symbol values are turned into such offsets through the image's `PT_LOAD` segments.

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader, Sym};
use object::Endianness;

use crate::process::vdso::read_image;

/// Most function symbols kept (the vDSO exports about a dozen).
const MAX_SYMBOLS: usize = 4096;

/// The function symbols of one vDSO image.
#[derive(Debug, PartialEq, Eq)]
pub struct VdsoSymbols {
    /// Bytes of the image (the size of its mapping).
    size: u64,
    /// (start, end, name) as offsets in the image, sorted by start.
    functions: Vec<(u64, u64, Box<str>)>,
}

impl VdsoSymbols {
    /// The symbols of the image `image` (the bytes of a `[vdso]` mapping); None when it is not
    /// an ELF image with function symbols.
    pub fn parse(image: &[u8]) -> Option<VdsoSymbols> {
        let header = elf::FileHeader64::<Endianness>::parse(image).ok()?;
        let endian = header.endian().ok()?;
        let loads: Vec<(u64, u64, u64)> = header
            .program_headers(endian, image)
            .ok()?
            .iter()
            .filter(|ph| ph.p_type(endian) == elf::PT_LOAD)
            .map(|ph| (ph.p_vaddr(endian), ph.p_memsz(endian), ph.p_offset(endian)))
            .collect();
        let sections = header.sections(endian, image).ok()?;
        let table = sections.symbols(endian, image, elf::SHT_DYNSYM).ok()?;
        let mut functions = Vec::new();
        for sym in table.iter() {
            if sym.st_type() != elf::STT_FUNC
                || sym.st_shndx(endian) == elf::SHN_UNDEF
                || functions.len() >= MAX_SYMBOLS
            {
                continue;
            }
            let (value, size) = (sym.st_value(endian), sym.st_size(endian).max(1));
            // The segment holding the symbol maps it to an offset in the image.
            let Some(start) = loads.iter().find_map(|&(vaddr, memsz, offset)| {
                let into = value.checked_sub(vaddr).filter(|&d| d < memsz)?;
                offset.checked_add(into)
            }) else {
                continue;
            };
            let Ok(name) = sym.name(endian, table.strings()) else { continue };
            if name.is_empty() {
                continue;
            }
            let end = start.saturating_add(size);
            let global = sym.st_bind() == elf::STB_GLOBAL;
            functions.push((start, end, global, String::from_utf8_lossy(name).into_owned().into_boxed_str()));
        }
        // One name per address: the global one (`__vdso_clock_gettime`, as perf names it)
        // before its weak alias (`clock_gettime`).
        functions.sort_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)).then(a.3.cmp(&b.3)));
        functions.dedup_by_key(|f| f.0);
        if functions.is_empty() {
            return None;
        }
        let functions = functions.into_iter().map(|(start, end, _, name)| (start, end, name)).collect();
        Some(VdsoSymbols { size: image.len() as u64, functions })
    }

    /// The vDSO of prof's own process (from `/proc/self/maps` and `/proc/self/mem`).
    pub fn own() -> Option<VdsoSymbols> {
        VdsoSymbols::parse(&crate::process::vdso::own_image()?)
    }

    /// The vDSO of process `tgid` at its `[vdso]` mapping `start..end`, while it runs.
    pub fn of_process(tgid: u32, start: u64, end: u64) -> Option<VdsoSymbols> {
        VdsoSymbols::parse(&read_image(&tgid.to_string(), start, end)?)
    }

    /// Bytes of the image.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The function containing offset `offset` from the image's start.
    pub fn lookup(&self, offset: u64) -> Option<&str> {
        let i = self.functions.partition_point(|f| f.0 <= offset).checked_sub(1)?;
        let (_, end, name) = &self.functions[i];
        (offset < *end).then_some(&**name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// prof's own vDSO names `__vdso_clock_gettime` (not its weak alias) at its own address,
    /// and the same image read through the process's PID gives the same symbols.
    #[test]
    fn vdso_own_symbols() {
        let own = VdsoSymbols::own().expect("a vDSO with symbols");
        let (start, _, name) = own.functions.iter().find(|f| f.2.contains("clock_gettime")).expect("clock_gettime");
        assert_eq!(&**name, "__vdso_clock_gettime");
        assert_eq!(own.lookup(*start), Some("__vdso_clock_gettime"));
        assert_eq!(own.lookup(0), None, "the ELF header is no function");
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let m = crate::process::maps::parse_maps(&maps).into_iter().find(|m| m.path == "[vdso]").unwrap();
        assert_eq!(own.size(), m.end - m.start);
        assert_eq!(VdsoSymbols::of_process(std::process::id(), m.start, m.end).as_ref(), Some(&own));
    }

    /// Bytes that are not an ELF image give nothing.
    #[test]
    fn vdso_malformed_gives_nothing() {
        assert_eq!(VdsoSymbols::parse(b""), None);
        assert_eq!(VdsoSymbols::parse(&[0x7f; 8192]), None);
    }
}
