//! A check of a binary's compressed sections before blazesym opens it. blazesym inflates a
//! `SHF_COMPRESSED` section whole into memory, allocating the size its compression header
//! declares up front and then reading to the end of the stream without a limit: a crafted
//! binary (a header declaring terabytes, or a zlib/zstd bomb declaring little) would abort the
//! recorder on a failed allocation, which no `catch_unwind` can catch. So each compressed
//! section is inflated here first, streamed into nothing, and must produce exactly the bytes it
//! declares, within [`MAX_INFLATED_BYTES`] for the whole binary. Reads only the ELF and section
//! headers of a binary without compressed sections.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// Most bytes the compressed sections of one binary may inflate to, together. blazesym keeps
/// each inflated section in memory while the binary is open; 256 MiB is well above the
/// compressed DWARF of ordinary programs and keeps a crafted binary from taking the recorder's
/// memory. Beyond it the binary is symbolized from its ELF symbols only.
pub const MAX_INFLATED_BYTES: u64 = 256 << 20;

/// Most section headers read (a crafted count cannot make the check read gigabytes).
const MAX_SECTIONS: u64 = 1 << 16;

/// Most bytes of section names read.
const MAX_NAMES_BYTES: u64 = 1 << 20;

const SHF_COMPRESSED: u64 = 0x800;
const ELFCOMPRESS_ZLIB: u32 = 1;
const ELFCOMPRESS_ZSTD: u32 = 2;

/// What the check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing wrong (or nothing compressed).
    Ok,
    /// A compressed debug section is malformed or too large: use the ELF symbols only.
    NoDebugInfo(String),
    /// A compressed section blazesym needs for ELF symbols too is malformed or too large: do
    /// not open the binary at all.
    Refuse(String),
}

/// One section header, as far as the check needs it.
struct Section {
    name: u32,
    flags: u64,
    offset: u64,
    size: u64,
}

/// Checks the compressed sections of the ELF file at `path` (see the module docs). A file that
/// cannot be read or is not ELF is [`Verdict::Ok`]: blazesym reports those itself, safely.
pub fn check(path: &Path) -> Verdict {
    match check_file(path) {
        Ok(v) => v,
        Err(_) => Verdict::Ok,
    }
}

fn check_file(path: &Path) -> io::Result<Verdict> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut ident = [0u8; 64];
    file.read_exact(&mut ident)?;
    if &ident[..4] != b"\x7fELF" || ident[5] != 1 {
        return Ok(Verdict::Ok); // not ELF, or big-endian (not a host prof runs on)
    }
    let is64 = ident[4] == 2;
    let (shoff, shentsize, shnum, shstrndx) = if is64 {
        (u64_at(&ident, 40), u16_at(&ident, 58) as u64, u16_at(&ident, 60) as u64, u16_at(&ident, 62) as u64)
    } else {
        (u32_at(&ident, 32) as u64, u16_at(&ident, 46) as u64, u16_at(&ident, 48) as u64, u16_at(&ident, 50) as u64)
    };
    let entsize = if is64 { 64 } else { 40 };
    if shoff == 0 || shentsize != entsize {
        return Ok(Verdict::Ok); // no section headers, or not ones this reads (nor blazesym)
    }
    let (sections, shstrndx) = read_sections(&mut file, shoff, shnum, shstrndx, is64)?;
    if !sections.iter().any(|s| s.flags & SHF_COMPRESSED != 0) {
        return Ok(Verdict::Ok);
    }
    let names = match sections.get(shstrndx as usize) {
        Some(s) if s.flags & SHF_COMPRESSED == 0 => {
            let mut names = Vec::new();
            file.seek(SeekFrom::Start(s.offset))?;
            (&mut file).take(s.size.min(MAX_NAMES_BYTES)).read_to_end(&mut names)?;
            names
        }
        _ => Vec::new(),
    };
    let mut budget = MAX_INFLATED_BYTES;
    for s in sections.iter().filter(|s| s.flags & SHF_COMPRESSED != 0) {
        let name = section_name(&names, s.name);
        if let Err(why) = check_section(&mut file, len, s, is64, &mut budget) {
            let why = format!("section `{name}` {why}");
            return Ok(if name.starts_with(".debug") { Verdict::NoDebugInfo(why) } else { Verdict::Refuse(why) });
        }
    }
    Ok(Verdict::Ok)
}

/// The section headers (at most [`MAX_SECTIONS`], read at once) and the index of the name
/// table, resolving extended numbering (counts kept in section 0).
fn read_sections(
    file: &mut File,
    shoff: u64,
    shnum: u64,
    shstrndx: u64,
    is64: bool,
) -> io::Result<(Vec<Section>, u64)> {
    let entsize: u64 = if is64 { 64 } else { 40 };
    let mut first = vec![0u8; entsize as usize];
    file.seek(SeekFrom::Start(shoff))?;
    file.read_exact(&mut first)?;
    let (zero, link) = parse_section(&first, is64);
    let count = if shnum == 0 { zero.size } else { shnum }.min(MAX_SECTIONS);
    let names_index = if shstrndx == 0xffff { link as u64 } else { shstrndx };
    let mut table = vec![0u8; (count * entsize) as usize];
    file.seek(SeekFrom::Start(shoff))?;
    file.read_exact(&mut table)?;
    let sections = table.chunks_exact(entsize as usize).map(|h| parse_section(h, is64).0).collect();
    Ok((sections, names_index))
}

/// One section header, and its `sh_link`.
fn parse_section(h: &[u8], is64: bool) -> (Section, u32) {
    if is64 {
        let s = Section { name: u32_at(h, 0), flags: u64_at(h, 8), offset: u64_at(h, 24), size: u64_at(h, 32) };
        (s, u32_at(h, 40))
    } else {
        let s = Section {
            name: u32_at(h, 0),
            flags: u32_at(h, 8) as u64,
            offset: u32_at(h, 16) as u64,
            size: u32_at(h, 20) as u64,
        };
        (s, u32_at(h, 24))
    }
}

/// Inflates one compressed section into nothing; `Err` says what is wrong with it.
fn check_section(file: &mut File, len: u64, s: &Section, is64: bool, budget: &mut u64) -> Result<(), String> {
    let chdr_len = if is64 { 24 } else { 12 };
    if s.size < chdr_len || s.offset.checked_add(s.size).is_none_or(|end| end > len) {
        return Err(format!("lies outside the file ({} bytes at offset {})", s.size, s.offset));
    }
    let mut chdr = [0u8; 24];
    let io = |e: io::Error| format!("cannot be read: {e}");
    file.seek(SeekFrom::Start(s.offset)).map_err(io)?;
    file.read_exact(&mut chdr[..chdr_len as usize]).map_err(io)?;
    let (kind, declared) =
        if is64 { (u32_at(&chdr, 0), u64_at(&chdr, 8)) } else { (u32_at(&chdr, 0), u32_at(&chdr, 4) as u64) };
    if declared > *budget {
        return Err(format!(
            "declares {declared} bytes uncompressed, more than the {} MiB allowed per binary",
            MAX_INFLATED_BYTES >> 20
        ));
    }
    let data = (&mut *file).take(s.size - chdr_len);
    // One byte more than declared is enough to know it lies.
    let limit = declared + 1;
    let inflated = match kind {
        ELFCOMPRESS_ZLIB => io::copy(&mut flate2::read::ZlibDecoder::new(data).take(limit), &mut io::sink()),
        ELFCOMPRESS_ZSTD => match zstd::stream::read::Decoder::new(data) {
            Ok(d) => io::copy(&mut d.take(limit), &mut io::sink()),
            Err(e) => Err(e),
        },
        other => return Err(format!("has an unknown compression type ({other})")),
    };
    match inflated {
        Ok(n) if n == declared => {
            *budget -= declared;
            Ok(())
        }
        Ok(n) if n > declared => Err(format!("inflates to more than the {declared} bytes it declares")),
        Ok(n) => Err(format!("inflates to {n} bytes, not the {declared} it declares")),
        Err(e) => Err(format!("does not inflate: {e}")),
    }
}

/// The NUL-terminated name at `off` in the section name table (lossy; `?` when out of range).
fn section_name(names: &[u8], off: u32) -> String {
    let rest = names.get(off as usize..).unwrap_or(b"?");
    let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    String::from_utf8_lossy(&rest[..end]).into_owned()
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or_default())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A minimal ELF file (32- or 64-bit) with a name table and one section named `name` with
    /// `flags` and `content`.
    fn elf(is64: bool, name: &str, flags: u64, content: &[u8]) -> Vec<u8> {
        let (ehsize, entsize) = if is64 { (64usize, 64usize) } else { (52, 40) };
        let names = format!("\0.shstrtab\0{name}\0").into_bytes();
        let names_at = ehsize;
        let content_at = names_at + names.len();
        let shoff = content_at + content.len();
        let mut f = vec![0u8; ehsize];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = if is64 { 2 } else { 1 };
        f[5] = 1;
        let put16 = |f: &mut Vec<u8>, at: usize, v: u16| f[at..at + 2].copy_from_slice(&v.to_le_bytes());
        if is64 {
            f[40..48].copy_from_slice(&(shoff as u64).to_le_bytes());
            put16(&mut f, 58, entsize as u16);
            put16(&mut f, 60, 3);
            put16(&mut f, 62, 1);
        } else {
            f[32..36].copy_from_slice(&(shoff as u32).to_le_bytes());
            put16(&mut f, 46, entsize as u16);
            put16(&mut f, 48, 3);
            put16(&mut f, 50, 1);
        }
        f.extend_from_slice(&names);
        f.extend_from_slice(content);
        let header = |name_off: u32, flags: u64, offset: usize, size: usize| {
            let mut h = vec![0u8; entsize];
            h[..4].copy_from_slice(&name_off.to_le_bytes());
            if is64 {
                h[8..16].copy_from_slice(&flags.to_le_bytes());
                h[24..32].copy_from_slice(&(offset as u64).to_le_bytes());
                h[32..40].copy_from_slice(&(size as u64).to_le_bytes());
            } else {
                h[8..12].copy_from_slice(&(flags as u32).to_le_bytes());
                h[16..20].copy_from_slice(&(offset as u32).to_le_bytes());
                h[20..24].copy_from_slice(&(size as u32).to_le_bytes());
            }
            h
        };
        f.extend_from_slice(&vec![0u8; entsize]);
        f.extend_from_slice(&header(1, 0, names_at, names.len()));
        f.extend_from_slice(&header(11, flags, content_at, content.len()));
        f
    }

    /// A compression header (zlib) declaring `size`, then `data` compressed with zlib.
    fn zlib_section(is64: bool, size: u64, data: &[u8]) -> Vec<u8> {
        let mut c = 1u32.to_le_bytes().to_vec();
        if is64 {
            c.extend_from_slice(&0u32.to_le_bytes());
            c.extend_from_slice(&size.to_le_bytes());
            c.extend_from_slice(&1u64.to_le_bytes());
        } else {
            c.extend_from_slice(&(size as u32).to_le_bytes());
            c.extend_from_slice(&1u32.to_le_bytes());
        }
        let mut z = flate2::write::ZlibEncoder::new(c, flate2::Compression::fast());
        z.write_all(data).unwrap();
        z.finish().unwrap()
    }

    fn verdict(bytes: &[u8]) -> Verdict {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), bytes).unwrap();
        check(file.path())
    }

    /// In both ELF classes: an honest compressed section passes; one that inflates to more or
    /// less than it declares, or declares more than the cap, is refused; a debug section costs
    /// only the DWARF, any other section the binary. Non-ELF files and plain sections pass.
    #[test]
    fn elf_check_compressed_sections() {
        let data = vec![7u8; 10_000];
        for is64 in [true, false] {
            let ok = elf(is64, ".debug_info", SHF_COMPRESSED, &zlib_section(is64, 10_000, &data));
            assert_eq!(verdict(&ok), Verdict::Ok, "64-bit: {is64}");
            let lying = elf(is64, ".debug_info", SHF_COMPRESSED, &zlib_section(is64, 100, &data));
            assert!(matches!(verdict(&lying), Verdict::NoDebugInfo(w) if w.contains("more than the 100 bytes")));
            let short = elf(is64, ".debug_str", SHF_COMPRESSED, &zlib_section(is64, 20_000, &data));
            assert!(matches!(verdict(&short), Verdict::NoDebugInfo(w) if w.contains("inflates to 10000 bytes")));
            let huge = elf(is64, ".symtab", SHF_COMPRESSED, &zlib_section(is64, u32::MAX as u64, &data));
            assert!(matches!(verdict(&huge), Verdict::Refuse(w) if w.starts_with("section `.symtab` declares")));
            assert_eq!(verdict(&elf(is64, ".debug_info", 0, &data)), Verdict::Ok);
        }
        assert_eq!(verdict(b"#!/bin/sh\necho not an ELF file\n"), Verdict::Ok);
    }
}
