//! Finding a CPython interpreter in a process: a mapped `python3.X` executable (the
//! interpreter linked in, as Debian's) or `libpython3.X.so`, the address of its `_PyRuntime`
//! from the symbol tables (biased by where the file is mapped), and its version from
//! `Py_Version` (3.11+) or the file's name (3.10). What is learned of a binary is kept per
//! binary ([`Detector`]), so each new process costs a look at its mappings only.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use object::elf::{SHN_LORESERVE, SHN_UNDEF, SHT_DYNSYM, SHT_SYMTAB};
use object::read::elf::{ElfFile64, SectionHeader, Sym};
use object::read::{ReadCache, StringTable};
use object::{Endianness, Object, ObjectSection, ReadRef, SectionIndex};

use super::offsets::{for_version, Offsets, Version};
use crate::process::{BinaryKey, MappingInfo};
use crate::unwind::cfi::{aligned_load_segments, load_bias, LoadSegment};

/// Why a process that maps a CPython cannot be walked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DetectError {
    /// A version prof has no offsets for.
    #[error("`{module}` is CPython {version}: prof reads Python frames of 3.10 to 3.13")]
    Unsupported {
        /// The binary's file name.
        module: String,
        /// Its version.
        version: Version,
    },
    /// The binary has `_PyRuntime` but no version prof can read.
    #[error("`{module}` has `_PyRuntime` but no `Py_Version` and no version in its name")]
    NoVersion {
        /// The binary's file name.
        module: String,
    },
}

/// A CPython interpreter found in a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PythonProcess {
    /// Its version's offsets (and the version).
    pub offsets: &'static Offsets,
    /// The runtime address of `_PyRuntime`.
    pub runtime: u64,
}

/// What a binary holds, independent of where it is mapped.
#[derive(Clone, Debug)]
struct BinaryFacts {
    /// Link-time address of `_PyRuntime`.
    runtime_vaddr: u64,
    /// The binary's version's offsets.
    offsets: &'static Offsets,
    /// Its load segments, for the bias of a mapping.
    segments: Vec<LoadSegment>,
}

/// Binaries remembered: far more than the Python builds one machine runs.
const MAX_BINARIES: usize = 1024;

/// Finds CPython in processes, remembering each binary's facts.
#[derive(Debug, Default)]
pub struct Detector {
    binaries: HashMap<BinaryKey, Result<Option<BinaryFacts>, DetectError>>,
}

impl Detector {
    /// The CPython interpreter among a process's executable mappings (see
    /// [`crate::process::ProcessTable::latest`]): Ok(None) when there is none.
    pub fn detect(&mut self, mappings: &[MappingInfo]) -> Result<Option<PythonProcess>, DetectError> {
        for m in mappings {
            let Some((key, path)) = &m.binary else { continue };
            if !is_python_name(&m.module) {
                continue;
            }
            if self.binaries.len() >= MAX_BINARIES && !self.binaries.contains_key(key) {
                self.binaries.clear();
            }
            let facts = self.binaries.entry(*key).or_insert_with(|| binary_facts(path, &m.module));
            let Some(facts) = facts.clone()? else { continue };
            let Some(bias) = load_bias(&facts.segments, m.start, m.offset) else { continue };
            return Ok(Some(PythonProcess { offsets: facts.offsets, runtime: facts.runtime_vaddr.wrapping_add(bias) }));
        }
        Ok(None)
    }
}

/// True for the names CPython's interpreter comes in: `python3.11`, `python3`,
/// `libpython3.11.so.1.0`, `libpython3.12d.so`.
fn is_python_name(module: &str) -> bool {
    module.starts_with("python") || module.starts_with("libpython")
}

/// The version in a file name: `python3.10`, `libpython3.10.so.1.0`.
fn version_from_name(module: &str) -> Option<Version> {
    let rest = module.strip_prefix("lib").unwrap_or(module).strip_prefix("python")?;
    let (major, rest) = rest.split_once('.')?;
    let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some(Version { major: major.parse().ok()?, minor: minor.parse().ok()? })
}

/// Reads a binary's `_PyRuntime`, version and segments. Ok(None): not a CPython (no
/// `_PyRuntime`), or not an ELF file prof can read.
fn binary_facts(path: &Path, module: &str) -> Result<Option<BinaryFacts>, DetectError> {
    let Ok(file) = File::open(path) else { return Ok(None) };
    let cache = ReadCache::new(&file);
    let Ok(elf) = ElfFile64::<Endianness, _>::parse(&cache) else { return Ok(None) };
    let [runtime, py_version] = find_symbols(&elf, ["_PyRuntime", "Py_Version"]);
    let Some((runtime, _)) = runtime else { return Ok(None) };
    // Its 4 bytes only: reading the section (.rodata, megabytes) would take milliseconds.
    let py_version = py_version.and_then(|(address, section)| {
        let section = elf.section_by_index(section).ok()?;
        let (offset, size) = section.file_range()?;
        let at = address.checked_sub(section.address()).filter(|at| at.saturating_add(4) <= size)?;
        let bytes = cache.read_bytes_at(offset.checked_add(at)?, 4).ok()?;
        Some(u32::from_le_bytes(bytes.try_into().ok()?))
    });
    let version = match py_version {
        Some(hex) => Version { major: (hex >> 24) as u8, minor: (hex >> 16) as u8 },
        None => version_from_name(module).ok_or_else(|| DetectError::NoVersion { module: module.to_string() })?,
    };
    let offsets =
        for_version(version).ok_or_else(|| DetectError::Unsupported { module: module.to_string(), version })?;
    let Ok(segments) = aligned_load_segments(&cache) else { return Ok(None) };
    Ok(Some(BinaryFacts { runtime_vaddr: runtime, offsets, segments }))
}

/// The address and section of each of `names` in the dynamic symbol table, else in the full
/// one. Each table's strings are read whole, once: a name compared through the file cache
/// would cost a read per symbol (4 ms per name for Debian's python3.11, in the time between a
/// process's first sample and the kernel walking its Python frames).
fn find_symbols<'data, const N: usize>(
    elf: &ElfFile64<'data, Endianness, &'data ReadCache<&File>>,
    names: [&str; N],
) -> [Option<(u64, SectionIndex)>; N] {
    let mut found = [None; N];
    let endian = elf.endian();
    let sections = elf.elf_section_table();
    for kind in [SHT_DYNSYM, SHT_SYMTAB] {
        let Ok(table) = sections.symbols(endian, elf.data(), kind) else { continue };
        let Some(strings) = sections.section(table.string_section()).ok().and_then(|s| s.data(endian, elf.data()).ok())
        else {
            continue;
        };
        let strings = StringTable::new(strings, 0, strings.len() as u64);
        for sym in table.symbols() {
            let shndx = sym.st_shndx(endian);
            if shndx == SHN_UNDEF || shndx >= SHN_LORESERVE {
                continue;
            }
            let Ok(name) = sym.name(endian, strings) else { continue };
            for (slot, want) in found.iter_mut().zip(names) {
                if slot.is_none() && name == want.as_bytes() {
                    *slot = Some((sym.st_value(endian), SectionIndex(usize::from(shndx))));
                }
            }
        }
        if found.iter().all(Option::is_some) {
            break;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Versions come from the names CPython's binaries have; other names give none.
    #[test]
    fn detect_version_from_file_names() {
        let v = |minor| Some(Version { major: 3, minor });
        assert_eq!(version_from_name("python3.10"), v(10));
        assert_eq!(version_from_name("libpython3.10.so.1.0"), v(10));
        assert_eq!(version_from_name("libpython3.12d.so"), v(12));
        assert_eq!(version_from_name("python3"), None);
        assert_eq!(version_from_name("pythonx.y"), None);
        assert!(is_python_name("python3.11") && is_python_name("libpython3.13.so.1.0"));
        assert!(!is_python_name("libc.so.6"));
    }

    /// Debian's python3: `_PyRuntime` where object's symbol iterator puts it, and the version
    /// from `Py_Version` (the name given has none).
    #[test]
    fn detect_reads_runtime_and_version_from_symbols() {
        let path = std::fs::canonicalize("/usr/bin/python3").expect("/usr/bin/python3: run scripts/setup");
        let facts = binary_facts(&path, "python3").unwrap().expect("a CPython");
        assert_eq!(facts.offsets.version, Version { major: 3, minor: 11 });
        let data = std::fs::read(&path).unwrap();
        let elf = object::File::parse(&*data).unwrap();
        use object::ObjectSymbol;
        let runtime = elf.dynamic_symbols().find(|s| s.name() == Ok("_PyRuntime")).unwrap();
        assert_eq!(facts.runtime_vaddr, runtime.address());
        // Not an ELF file, or one without `_PyRuntime`: not a CPython.
        assert!(matches!(binary_facts(Path::new("/etc/hostname"), "python3"), Ok(None)));
        assert!(matches!(binary_facts(Path::new("/bin/sh"), "python3"), Ok(None)));
    }
}
