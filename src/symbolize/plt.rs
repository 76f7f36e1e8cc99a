//! Names of PLT stubs (`<symbol>@plt`) in x86_64 ELF binaries, which have no symbols of their
//! own: without them an address in a stub is named after the symbol before it (`_init`) or left
//! as `module+0xoffset`.
//!
//! Each stub is an indirect jump through a GOT slot, and the dynamic relocation of that slot
//! names the symbol. So every entry of `.plt` (lazy binding), `.plt.sec` (IBT/CET binaries:
//! the stubs called, while the `.plt` entries become the lazy-binding halves) and `.plt.got`
//! (GOT entries bound at load time) is decoded: an optional `endbr64` and `bnd` prefix, then
//! `jmp *disp(%rip)` gives the slot, looked up in the `R_X86_64_JUMP_SLOT` and
//! `R_X86_64_GLOB_DAT` relocations; a lazy-binding half (`push $index`) names the `.rela.plt`
//! entry it pushes. Nothing assumes the entries come in relocation order. A slot bound by an
//! `R_X86_64_IRELATIVE` relocation (libc calling its own `strlen`) is named after the IFUNC
//! symbol at the resolver's address. Names are demangled. An entry that decodes to nothing
//! known (the `.plt` header) is [`PltHit::Unnamed`].
//!
//! Binaries are hostile: the sections read are bounded ([`MAX_SECTION_BYTES`], at most
//! [`MAX_PLT_ENTRIES`] entries), and anything malformed yields fewer names, never a panic.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::Path;

use object::elf;
use object::read::elf::{FileHeader, Rela, SectionHeader, SectionTable, Sym};
use object::read::{ReadCache, ReadRef};
use object::{Endianness, SymbolIndex};

/// Most entries named per binary (all PLT sections together). Programs have a few thousand
/// stubs at most; a crafted section claiming millions only gets this many, each a short name.
pub const MAX_PLT_ENTRIES: usize = 1 << 18;

/// Largest section (PLT, relocations, symbol table) read. Far above the `.rela.dyn` of the
/// largest shared libraries, and a cap on what one binary's PLT names can cost to read.
pub const MAX_SECTION_BYTES: u64 = 64 << 20;

/// Longest symbol name read, and kept after demangling (longer ones are cut at a character
/// boundary).
const MAX_NAME_BYTES: usize = 1024;

/// The name given to an address in a PLT section that no entry names: the `.plt` header (the
/// lazy-binding resolver's trampoline) or a stub whose symbol is unknown.
pub const UNNAMED_PLT: &str = "[plt]";

/// `endbr64`, which starts each stub of a binary built for IBT.
const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];

/// What an address in a PLT section is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PltHit<'a> {
    /// The stub of a symbol: `<symbol>@plt`.
    Stub(&'a str),
    /// The header or a stub with no known symbol (named [`UNNAMED_PLT`]).
    Unnamed,
}

impl PltHit<'_> {
    /// The frame name of the hit.
    pub fn name(&self) -> &str {
        match self {
            PltHit::Stub(name) => name,
            PltHit::Unnamed => UNNAMED_PLT,
        }
    }
}

/// The PLT stubs of one binary, by file offset.
#[derive(Debug, Default)]
pub struct PltNames {
    sections: Vec<PltSection>,
}

/// One PLT section: where it is in the file, its entry size and each entry's name.
#[derive(Debug)]
struct PltSection {
    /// File offset of its first byte.
    offset: u64,
    /// Bytes in the file.
    size: u64,
    /// Bytes per entry (8 or 16).
    stride: u64,
    /// Per entry in order: `<symbol>@plt`, or None for the header or an unknown stub.
    names: Vec<Option<Box<str>>>,
}

/// What a stub jumps through, as decoded from its first instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// `jmp *disp(%rip)`: the GOT slot at this virtual address.
    Slot(u64),
    /// `push $index`: the lazy-binding half of the stub of this `.rela.plt` entry.
    LazyIndex(u32),
    /// Something else (the `.plt` header pushes the GOT's second word).
    Unknown,
}

impl PltNames {
    /// The PLT names of the ELF file at `path`; none if it cannot be read or is not an x86_64
    /// ELF file. Reads only the headers and the sections involved.
    pub fn read(path: &Path) -> PltNames {
        match File::open(path) {
            Ok(file) => PltNames::parse_from(&ReadCache::new(&file)),
            Err(_) => PltNames::default(),
        }
    }

    /// The PLT names of an ELF image held in memory (the bytes of the whole file).
    pub fn parse(data: &[u8]) -> PltNames {
        PltNames::parse_from(data)
    }

    fn parse_from<'d, R: ReadRef<'d>>(data: R) -> PltNames {
        build(data).unwrap_or_default()
    }

    /// What the byte at file offset `offset` is: None when it is in no PLT section.
    pub fn lookup(&self, offset: u64) -> Option<PltHit<'_>> {
        let s = self.sections.iter().find(|s| offset >= s.offset && offset - s.offset < s.size)?;
        let index = usize::try_from((offset - s.offset) / s.stride).ok()?;
        Some(match s.names.get(index) {
            Some(Some(name)) => PltHit::Stub(name),
            _ => PltHit::Unnamed,
        })
    }

    /// Stubs named, over all sections.
    pub fn named(&self) -> usize {
        self.sections.iter().map(|s| s.names.iter().filter(|n| n.is_some()).count()).sum()
    }

    /// Every named stub as (file offset of its entry, name), in file order (for checks).
    pub fn entries(&self) -> Vec<(u64, &str)> {
        let mut all: Vec<(u64, &str)> = self
            .sections
            .iter()
            .flat_map(|s| {
                s.names.iter().zip(0u64..).filter_map(move |(n, i)| Some((s.offset + i * s.stride, n.as_deref()?)))
            })
            .collect();
        all.sort_unstable_by_key(|(off, _)| *off);
        all
    }
}

/// The PLT sections, by name, with their default entry size (0: 8 or 16, decided by whether
/// the entries start with `endbr64`).
const PLT_SECTIONS: [(&str, u64); 3] = [(".plt", 16), (".plt.sec", 16), (".plt.got", 0)];

fn build<'d, R: ReadRef<'d>>(data: R) -> Option<PltNames> {
    let header = elf::FileHeader64::<Endianness>::parse(data).ok()?;
    let endian = header.endian().ok()?;
    if header.e_machine(endian) != elf::EM_X86_64 {
        return None;
    }
    let sections = header.sections(endian, data).ok()?;

    // Decode every entry first, to know which GOT slots and lazy indexes to look up.
    let mut decoded: Vec<(PltSection, Vec<Target>)> = Vec::new();
    let mut budget = MAX_PLT_ENTRIES;
    for (name, default_stride) in PLT_SECTIONS {
        let Some((_, sh)) = sections.section_by_name(endian, name.as_bytes()) else { continue };
        let Some(bytes) = section_bytes(sh, endian, data) else { continue };
        let (offset, addr, size) = (sh.sh_offset(endian), sh.sh_addr(endian), bytes.len() as u64);
        if bytes.is_empty() || offset.checked_add(size).is_none() {
            continue;
        }
        let stride = match (sh.sh_entsize(endian), default_stride) {
            (e @ (8 | 16), _) => e,
            (_, 0) if bytes.starts_with(&ENDBR64) => 16,
            (_, 0) => 8,
            (_, d) => d,
        };
        let targets: Vec<Target> = bytes
            .chunks(stride as usize)
            .take(budget)
            .zip(0u64..)
            .map(|(entry, i)| decode(entry, addr.wrapping_add(i.wrapping_mul(stride))))
            .collect();
        budget -= targets.len();
        decoded.push((PltSection { offset, size, stride, names: Vec::new() }, targets));
    }
    if decoded.is_empty() {
        return None;
    }

    let slots: HashSet<u64> = decoded
        .iter()
        .flat_map(|(_, t)| t)
        .filter_map(|t| if let Target::Slot(s) = t { Some(*s) } else { None })
        .collect();
    let lookup = Relocations::read(&sections, endian, data, &slots);
    let mut names = SymbolNames::new(&sections, endian, data);
    let sections = decoded
        .into_iter()
        .map(|(mut section, targets)| {
            section.names = targets
                .into_iter()
                .map(|t| {
                    let bound = match t {
                        Target::Slot(slot) => *lookup.by_slot.get(&slot)?,
                        Target::LazyIndex(i) => *lookup.lazy.get(i as usize)?,
                        Target::Unknown => return None,
                    };
                    Some(names.name(bound)?.into_boxed_str())
                })
                .collect();
            section
        })
        .collect();
    Some(PltNames { sections })
}

/// The bytes of a section that has bytes in the file, within [`MAX_SECTION_BYTES`].
fn section_bytes<'d, R: ReadRef<'d>>(
    sh: &elf::SectionHeader64<Endianness>,
    endian: Endianness,
    data: R,
) -> Option<&'d [u8]> {
    if sh.sh_type(endian) == elf::SHT_NOBITS || sh.sh_size(endian) > MAX_SECTION_BYTES {
        return None;
    }
    sh.data(endian, data).ok()
}

/// Decodes the start of a stub at virtual address `vaddr`: `[endbr64] [bnd] jmp *disp(%rip)`
/// or `[endbr64] push $index`.
fn decode(entry: &[u8], vaddr: u64) -> Target {
    let mut at = 0usize;
    if entry.starts_with(&ENDBR64) {
        at += ENDBR64.len();
    }
    if entry.get(at) == Some(&0xf2) {
        at += 1; // bnd prefix (MPX-era linkers emit `bnd jmp`)
    }
    let imm32 = |from: usize| -> Option<[u8; 4]> { entry.get(from..from + 4)?.try_into().ok() };
    match (entry.get(at), entry.get(at + 1)) {
        (Some(0xff), Some(0x25)) => match imm32(at + 2) {
            Some(disp) => {
                // rip-relative: from the end of the 6-byte jmp
                let next = vaddr.wrapping_add(at as u64 + 6);
                Target::Slot(next.wrapping_add_signed(i64::from(i32::from_le_bytes(disp))))
            }
            None => Target::Unknown,
        },
        (Some(0x68), _) => imm32(at + 1).map_or(Target::Unknown, |i| Target::LazyIndex(u32::from_le_bytes(i))),
        _ => Target::Unknown,
    }
}

/// What the dynamic linker binds a GOT slot to, by its relocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bound {
    /// `JUMP_SLOT` or `GLOB_DAT`: symbol `.1` of the symbol table in section `.0`.
    Symbol(usize, u32),
    /// `IRELATIVE`: what the IFUNC resolver at address `.1` returns; named after the IFUNC
    /// symbol at that address in the symbol table in section `.0` (libc's own calls to
    /// `strlen`, `memcpy`…, which objdump shows as `*ABS*+0x…@plt`).
    Ifunc(usize, u64),
    /// Anything else.
    Nothing,
}

impl Bound {
    /// The binding relocation `r` (from a section linked to symbol table `link`) makes.
    fn of(r: &elf::Rela64<Endianness>, endian: Endianness, link: usize) -> Bound {
        match (r.r_type(endian, false), r.r_sym(endian, false)) {
            (elf::R_X86_64_JUMP_SLOT | elf::R_X86_64_GLOB_DAT, sym) if sym != 0 => Bound::Symbol(link, sym),
            (elf::R_X86_64_IRELATIVE, _) => Bound::Ifunc(link, r.r_addend(endian) as u64),
            _ => Bound::Nothing,
        }
    }
}

/// The bindings of the GOT slots stubs jump through.
struct Relocations {
    /// Bindings of the slots asked for.
    by_slot: HashMap<u64, Bound>,
    /// `.rela.plt` in order (what a lazy-binding half's index refers to).
    lazy: Vec<Bound>,
}

impl Relocations {
    fn read<'d, R: ReadRef<'d>>(
        sections: &SectionTable<'d, elf::FileHeader64<Endianness>, R>,
        endian: Endianness,
        data: R,
        slots: &HashSet<u64>,
    ) -> Relocations {
        let mut by_slot = HashMap::new();
        let mut lazy = Vec::new();
        for (_, sh) in sections.enumerate() {
            if sh.sh_type(endian) != elf::SHT_RELA || sh.sh_size(endian) > MAX_SECTION_BYTES {
                continue;
            }
            let Ok(Some((relas, link))) = sh.rela(endian, data) else { continue };
            let is_rela_plt = sections.section_name(endian, sh).is_ok_and(|n| n == b".rela.plt");
            for r in relas {
                let bound = Bound::of(r, endian, link.0);
                if is_rela_plt {
                    lazy.push(bound); // kept even when Nothing, so the indexes stay right
                }
                if bound != Bound::Nothing && slots.contains(&r.r_offset(endian)) {
                    by_slot.entry(r.r_offset(endian)).or_insert(bound);
                }
            }
        }
        Relocations { by_slot, lazy }
    }
}

type SymbolTable<'d, R> = object::read::elf::SymbolTable<'d, elf::FileHeader64<Endianness>, R>;

/// Symbol names read from the symbol tables relocations link to, each table parsed once.
struct SymbolNames<'s, 'd, R: ReadRef<'d>> {
    sections: &'s SectionTable<'d, elf::FileHeader64<Endianness>, R>,
    endian: Endianness,
    data: R,
    tables: HashMap<usize, Option<SymbolTable<'d, R>>>,
    /// Per symbol table: the name of the IFUNC symbol at each address.
    ifuncs: HashMap<usize, HashMap<u64, &'d [u8]>>,
}

impl<'s, 'd, R: ReadRef<'d>> SymbolNames<'s, 'd, R> {
    fn new(sections: &'s SectionTable<'d, elf::FileHeader64<Endianness>, R>, endian: Endianness, data: R) -> Self {
        SymbolNames { sections, endian, data, tables: HashMap::new(), ifuncs: HashMap::new() }
    }

    /// The stub name ([`stub_name`]) of what a slot is bound to; None when unknown (no
    /// symbol, a missing or oversized table, an empty name).
    fn name(&mut self, bound: Bound) -> Option<String> {
        let endian = self.endian;
        let bytes = match bound {
            Bound::Symbol(table, sym) => {
                let symbols = self.table(table)?;
                symbols.symbol(SymbolIndex(sym as usize)).ok()?.name(endian, symbols.strings()).ok()?
            }
            Bound::Ifunc(table, addr) => {
                if !self.ifuncs.contains_key(&table) {
                    let ifuncs = self.ifunc_names(table);
                    self.ifuncs.insert(table, ifuncs);
                }
                *self.ifuncs.get(&table)?.get(&addr)?
            }
            Bound::Nothing => return None,
        };
        if bytes.is_empty() {
            return None;
        }
        Some(stub_name(&String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_NAME_BYTES)])))
    }

    /// The symbol table in section `table`, parsed on first use; None if it is not one or is
    /// larger than [`MAX_SECTION_BYTES`].
    fn table(&mut self, table: usize) -> Option<&SymbolTable<'d, R>> {
        let (sections, endian, data) = (self.sections, self.endian, self.data);
        self.tables
            .entry(table)
            .or_insert_with(|| {
                let sh = sections.section(object::SectionIndex(table)).ok()?;
                if sh.sh_size(endian) > MAX_SECTION_BYTES {
                    return None;
                }
                sections.symbol_table_by_index(endian, data, object::SectionIndex(table)).ok()
            })
            .as_ref()
    }

    /// The IFUNC symbols of symbol table `table` by address, one name each where aliases
    /// share one: public before `_`-prefixed, then the shortest (`rawmemchr`, not
    /// `__rawmemchr`).
    fn ifunc_names(&mut self, table: usize) -> HashMap<u64, &'d [u8]> {
        let endian = self.endian;
        let mut best: HashMap<u64, &'d [u8]> = HashMap::new();
        let Some(symbols) = self.table(table) else { return best };
        let rank = |n: &[u8]| (n.first() == Some(&b'_'), n.len());
        for sym in symbols.iter() {
            if sym.st_type() != elf::STT_GNU_IFUNC || sym.st_shndx(endian) == elf::SHN_UNDEF {
                continue;
            }
            let Ok(name) = sym.name(endian, symbols.strings()) else { continue };
            if name.is_empty() {
                continue;
            }
            let slot = best.entry(sym.st_value(endian)).or_insert(name);
            if (rank(name), name) < (rank(slot), *slot) {
                *slot = name;
            }
        }
        best
    }
}

/// The stub name of symbol `symbol`: `<symbol>@plt`, the symbol demangled as blazesym
/// demangles (Rust without its hash, C++) and cut to 1024 bytes.
pub fn stub_name(symbol: &str) -> String {
    let mut name = demangle(symbol).unwrap_or_else(|| symbol.to_string());
    if name.len() > MAX_NAME_BYTES {
        let mut cut = MAX_NAME_BYTES;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
    }
    name + "@plt"
}

/// A Rust or C++ symbol name demangled the way blazesym demangles the names it finds (Rust
/// without the hash), so a stub is named like the function it calls; None for other names.
fn demangle(name: &str) -> Option<String> {
    if let Ok(rust) = rustc_demangle::try_demangle(name) {
        return Some(format!("{rust:#}"));
    }
    cpp_demangle::Symbol::new(name).ok()?.demangle().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The three stub shapes decode to their GOT slot (rip-relative from the jmp's end), a
    /// lazy-binding half to its index, and the `.plt` header to nothing.
    #[test]
    fn plt_decode_stub_shapes() {
        // jmp *0x10(%rip); push $3; jmp .plt
        let lazy = [0xff, 0x25, 0x10, 0, 0, 0, 0x68, 3, 0, 0, 0, 0xe9, 0, 0, 0, 0];
        assert_eq!(decode(&lazy, 0x1000), Target::Slot(0x1016));
        // endbr64; bnd jmp *-0x10(%rip)
        let ibt_bnd = [0xf3, 0x0f, 0x1e, 0xfa, 0xf2, 0xff, 0x25, 0xf0, 0xff, 0xff, 0xff, 0x0f, 0x1f, 0x44, 0, 0];
        assert_eq!(decode(&ibt_bnd, 0x2000), Target::Slot(0x2000 + 11 - 0x10));
        // endbr64; jmp *0x20(%rip) (binutils 2.40+: no bnd)
        let ibt = [0xf3, 0x0f, 0x1e, 0xfa, 0xff, 0x25, 0x20, 0, 0, 0, 0x66, 0x0f, 0x1f, 0x44, 0, 0];
        assert_eq!(decode(&ibt, 0x3000), Target::Slot(0x3000 + 10 + 0x20));
        // endbr64; push $7; bnd jmp .plt
        let half = [0xf3, 0x0f, 0x1e, 0xfa, 0x68, 7, 0, 0, 0, 0xf2, 0xe9, 0, 0, 0, 0, 0x90];
        assert_eq!(decode(&half, 0x4000), Target::LazyIndex(7));
        // push GOT+8(%rip); jmp *GOT+16(%rip): the header
        let header = [0xff, 0x35, 1, 0, 0, 0, 0xff, 0x25, 2, 0, 0, 0, 0x0f, 0x1f, 0x40, 0];
        assert_eq!(decode(&header, 0x5000), Target::Unknown);
        // cut short, and a wrapping address
        assert_eq!(decode(&[0xff, 0x25, 1], 0), Target::Unknown);
        assert_eq!(decode(&[0x68], 0), Target::Unknown);
        assert_eq!(decode(&[0xff, 0x25, 0, 0, 0, 0], u64::MAX), Target::Slot(5));
    }

    /// Rust and C++ names are demangled like blazesym's; C names and cut mangled names stay.
    #[test]
    fn plt_names_demangled() {
        assert_eq!(demangle("_Znwm").as_deref(), Some("operator new(unsigned long)"));
        assert_eq!(demangle("_ZN4core9panicking5panic17h0123456789abcdefE").as_deref(), Some("core::panicking::panic"));
        assert_eq!(demangle("memcpy"), None);
        assert_eq!(demangle("_ZN4core9pani"), None);
    }

    /// Bytes that are not an x86_64 ELF file, or only its start, give no names.
    #[test]
    fn plt_not_elf_gives_nothing() {
        assert_eq!(PltNames::parse(b"").named(), 0);
        assert_eq!(PltNames::parse(b"\x7fELF\x02\x01\x01").named(), 0);
        assert!(PltNames::parse(&[0u8; 4096]).lookup(0).is_none());
    }
}
