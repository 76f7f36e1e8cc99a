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
    let (shoff, shentsize, mut shnum, mut shstrndx) = if is64 {
        (u64_at(&ident, 40), u16_at(&ident, 58) as u64, u16_at(&ident, 60) as u64, u16_at(&ident, 62) as u64)
    } else {
        (u32_at(&ident, 32) as u64, u16_at(&ident, 46) as u64, u16_at(&ident, 48) as u64, u16_at(&ident, 50) as u64)
    };
    if shoff == 0 || shentsize < if is64 { 64 } else { 40 } {
        return Ok(Verdict::Ok);
    }
    let read_header = |file: &mut File, i: u64| -> io::Result<(Section, u32)> {
        let mut h = [0u8; 64];
        file.seek(SeekFrom::Start(shoff.saturating_add(i.saturating_mul(shentsize))))?;
        file.read_exact(&mut h[..if is64 { 64 } else { 40 }])?;
        let link = if is64 { u32_at(&h, 40) } else { u32_at(&h, 24) };
        let s = if is64 {
            Section { name: u32_at(&h, 0), flags: u64_at(&h, 8), offset: u64_at(&h, 24), size: u64_at(&h, 32) }
        } else {
            Section {
                name: u32_at(&h, 0),
                flags: u32_at(&h, 8) as u64,
                offset: u32_at(&h, 16) as u64,
                size: u32_at(&h, 20) as u64,
            }
        };
        Ok((s, link))
    };
    // Extended numbering: the counts live in section 0.
    if shnum == 0 || shstrndx == 0xffff {
        let (zero, link) = read_header(&mut file, 0)?;
        if shnum == 0 {
            shnum = zero.size;
        }
        if shstrndx == 0xffff {
            shstrndx = link as u64;
        }
    }
    let mut sections = Vec::new();
    for i in 0..shnum.min(MAX_SECTIONS) {
        sections.push(read_header(&mut file, i)?.0);
    }
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
