//! What an input that is not a profile looks like, from its first bytes (magic numbers) or its
//! first line, so that `prof report` and `prof diff` say `not a profile (looks like an ELF
//! executable)` instead of a folded-format error at line 1. Text whose first line reads as
//! folded stacks is never named here: its parse errors, with their line numbers, stay.

use std::io::Read;

/// How much of the start of a file (or of a gzip stream, decompressed) is looked at.
const HEAD_BYTES: usize = 4096;

/// Offset of the `ustar` magic in a tar header.
const TAR_MAGIC_OFFSET: usize = 257;

/// Magic numbers of formats someone may hand `prof report` by mistake, with what to call them.
/// prof's own archive and gzip (pprof) are recognized by the loader before these.
const SIGNATURES: &[(&[u8], &str)] = &[
    (
        b"PERFILE2",
        "a perf.data file; `perf script -i FILE | inferno-collapse-perf > FILE.folded` makes folded stacks of it",
    ),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a zip archive"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data that is not a prof archive"),
    (b"\xfd7zXZ\x00", "xz-compressed data"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"!<arch>\n", "an ar archive (a static library)"),
    (b"\x00asm", "a WebAssembly module"),
];

/// What `bytes` are by their magic number (ELF executables and libraries by their header), or
/// `None`.
pub fn by_magic(bytes: &[u8]) -> Option<&'static str> {
    if let Some(kind) = elf_kind(bytes) {
        return Some(kind);
    }
    if let Some((_, kind)) = SIGNATURES.iter().find(|(magic, _)| bytes.starts_with(magic)) {
        return Some(kind);
    }
    // bzip2: `BZh`, the block size digit, then the first block's magic (the digits of π).
    if bytes.starts_with(b"BZh") && bytes.get(4..10) == Some(b"\x31\x41\x59\x26\x53\x59") {
        return Some("bzip2-compressed data");
    }
    is_tar(bytes).then_some("a tar archive")
}

/// What a gzip stream holds when it is not a pprof profile, from its first decompressed bytes
/// (at most [`HEAD_BYTES`] are decompressed).
pub fn gzip_contents(bytes: &[u8]) -> &'static str {
    let mut head = Vec::with_capacity(HEAD_BYTES);
    // A stream that breaks off early still shows its start; what was read is judged.
    let _ = flate2::read::GzDecoder::new(bytes).take(HEAD_BYTES as u64).read_to_end(&mut head);
    if is_tar(&head) {
        "a gzip-compressed tar archive"
    } else if !head.is_empty() && is_text(&head) {
        "gzip-compressed text, not a pprof profile; for folded stacks: `zcat FILE | prof report -`"
    } else {
        "gzip-compressed data that is not a pprof profile"
    }
}

/// What a file is when its first line (blank lines and `# ` comments skipped, as the folded
/// parser skips them) is not a folded line `STACK COUNT`: binary data, source code, a script,
/// JSON, SVG, HTML or XML. `None` for a first line that reads as folded, and for other text (the
/// folded parser names the line and what is wrong with it).
pub fn by_first_line(bytes: &[u8]) -> Option<&'static str> {
    let head = &bytes[..bytes.len().min(HEAD_BYTES)];
    let first = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .find(|l| !l.trim_ascii().is_empty() && !l.starts_with(b"# "))?;
    if ends_with_count(first) {
        return None;
    }
    if !is_text(head) {
        return Some("binary data");
    }
    if first.split(|b| b.is_ascii_whitespace()).any(is_perf_timestamp) {
        return Some("`perf script` output; `inferno-collapse-perf FILE > FILE.folded` makes folded stacks of it");
    }
    let line = first.trim_ascii_start();
    let c_directive = |l: &[u8]| C_DIRECTIVES.iter().any(|d| l.trim_ascii_start().starts_with(d));
    if c_directive(line) {
        Some("C or C++ source")
    } else if line.starts_with(b"#!") {
        Some("a script")
    } else if line.starts_with(b"/*") || line.starts_with(b"//") {
        // A comment first (a licence header): C when a preprocessor directive follows.
        Some(if head.split(|&b| b == b'\n').any(c_directive) { "C or C++ source" } else { "source code" })
    } else if line.starts_with(b"{") || line.starts_with(b"[") {
        Some("JSON")
    } else if line.starts_with(b"<") {
        let lower = head.to_ascii_lowercase();
        let has = |tag: &[u8]| lower.windows(tag.len()).any(|w| w == tag);
        Some(if has(b"<svg") {
            "an SVG image"
        } else if has(b"<html") {
            "HTML"
        } else {
            "XML"
        })
    } else {
        None
    }
}

/// How C and C++ sources start a line, and no folded line does.
const C_DIRECTIVES: [&[u8]; 6] = [b"#include", b"#define", b"#pragma", b"#ifndef", b"#ifdef", b"#if "];

/// True when `line` ends as a folded line does: whitespace, then a count (digits).
fn ends_with_count(line: &[u8]) -> bool {
    let line = line.trim_ascii_end();
    let digits = line.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    digits > 0 && line.len() > digits && line[line.len() - digits - 1].is_ascii_whitespace()
}

/// True for `12410.912575:`, the time of a sample as `perf script` prints it.
fn is_perf_timestamp(token: &[u8]) -> bool {
    let Some(time) = token.strip_suffix(b":") else { return false };
    let all_digits = |part: &[u8]| !part.is_empty() && part.iter().all(u8::is_ascii_digit);
    time.split(|&b| b == b'.').map(all_digits).eq([true, true])
}

/// True for text: no NUL byte and valid UTF-8 (a character cut off at the end of `head` allowed).
fn is_text(head: &[u8]) -> bool {
    !head.contains(&0) && std::str::from_utf8(head).map_or_else(|e| e.error_len().is_none(), |_| true)
}

/// True for a tar archive: `ustar\0` (POSIX) or `ustar  ` (GNU) in the first header.
fn is_tar(bytes: &[u8]) -> bool {
    matches!(bytes.get(TAR_MAGIC_OFFSET..TAR_MAGIC_OFFSET + 6), Some(b"ustar\0" | b"ustar "))
}

/// What an ELF file is from its header: an executable (ET_EXEC, or ET_DYN with an interpreter:
/// a position-independent executable), a shared library, an object file or a core dump.
fn elf_kind(bytes: &[u8]) -> Option<&'static str> {
    use object::elf::{FileHeader32, FileHeader64};
    use object::Endianness;
    if !bytes.starts_with(&object::elf::ELFMAG) {
        return None;
    }
    let kind = match object::FileKind::parse(bytes) {
        Ok(object::FileKind::Elf32) => elf_type::<FileHeader32<Endianness>>(bytes),
        Ok(object::FileKind::Elf64) => elf_type::<FileHeader64<Endianness>>(bytes),
        _ => None,
    };
    // A header too short or inconsistent to read is still ELF by its magic.
    Some(kind.unwrap_or("an ELF file"))
}

/// [`elf_kind`] for one ELF class.
fn elf_type<Elf: object::read::elf::FileHeader<Endian = object::Endianness>>(bytes: &[u8]) -> Option<&'static str> {
    use object::elf;
    use object::read::elf::ProgramHeader;
    let header = Elf::parse(bytes).ok()?;
    let endian = header.endian().ok()?;
    Some(match header.e_type(endian) {
        elf::ET_EXEC => "an ELF executable",
        elf::ET_REL => "an ELF object file",
        elf::ET_CORE => "an ELF core dump",
        elf::ET_DYN => {
            let headers = header.program_headers(endian, bytes).ok()?;
            if headers.iter().any(|ph| ph.p_type(endian) == elf::PT_INTERP) {
                "an ELF executable"
            } else {
                "an ELF shared library"
            }
        }
        _ => "an ELF file",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Folded lines, with or without a leading blank line or `# ` comment, are never named;
    /// lines that are not folded are named by what they start with.
    #[test]
    fn input_first_line_kinds() {
        for folded in ["main;f 3\n", "\n# comment\na;b 1\n", "a;b\t7\r\n", "#include;x 2\n", "{a};b 1\n", "x 5"] {
            assert_eq!(by_first_line(folded.as_bytes()), None, "{folded:?}");
        }
        assert_eq!(by_first_line(b"a;b c\n"), None, "other text is the folded parser's to report");
        assert_eq!(by_first_line(b"#include <stdio.h>\nint x;\n"), Some("C or C++ source"));
        assert_eq!(by_first_line(b"  #pragma once\n"), Some("C or C++ source"));
        assert_eq!(by_first_line(b"#define X 1\n"), None, "a valid folded line, whatever it means");
        assert_eq!(by_first_line(b"#!/bin/sh\necho 1\n"), Some("a script"));
        assert_eq!(by_first_line(b"// SPDX\nfn main() {}\n"), Some("source code"));
        assert_eq!(by_first_line(b"/* licence */\n\n#include <stdio.h>\n"), Some("C or C++ source"));
        assert_eq!(by_first_line(b"{\"shared\": {}}\n"), Some("JSON"));
        assert_eq!(by_first_line(b"<?xml version=\"1.0\"?>\n<svg x=\"1\">\n"), Some("an SVG image"));
        assert_eq!(by_first_line(b"<!DOCTYPE html>\n<HTML>\n"), Some("HTML"));
        assert_eq!(by_first_line(b"<?xml version=\"1.0\"?>\n<a/>\n"), Some("XML"));
        assert_eq!(by_first_line(b"abc\x00def\n"), Some("binary data"));
        assert_eq!(by_first_line(b"\xff\xfe\x01x\n"), Some("binary data"));
        assert_eq!(by_first_line(b"a;caf\xe9 3\n"), None, "a folded line with a bad byte keeps its line error");
        let perf_script = "`perf script` output; `inferno-collapse-perf FILE > FILE.folded` makes folded stacks of it";
        for line in [
            "prof 27736 12410.912575:    1001001 cpu-clock: \n\tffffffff815a7f61 f+0xc1 ([k])\n",
            "a 1/1 1.5: cycles:\n",
        ] {
            assert_eq!(by_first_line(line.as_bytes()), Some(perf_script), "{line:?}");
        }
        assert_eq!(by_first_line(b"a 1.5 b:\n"), None, "no timestamp");
    }

    /// Magic numbers are recognized at the start only, and truncated ELF headers are still ELF.
    #[test]
    fn input_magic_kinds() {
        assert_eq!(by_magic(b"\x89PNG\r\n\x1a\n\0\0"), Some("a PNG image"));
        assert_eq!(by_magic(b"\x28\xb5\x2f\xfd\x00"), Some("zstd-compressed data that is not a prof archive"));
        assert_eq!(by_magic(b"BZh91AY&SY"), Some("bzip2-compressed data"));
        assert_eq!(by_magic(b"BZh9 not bzip2"), None);
        assert_eq!(by_magic(b"\x7fELF\x02\x01"), Some("an ELF file"));
        assert_eq!(by_magic(b"main;\x89PNG 3\n"), None);
        let mut tar = vec![0u8; 512];
        tar[257..263].copy_from_slice(b"ustar ");
        assert_eq!(by_magic(&tar), Some("a tar archive"));
        tar[257..263].copy_from_slice(b"ustar\0");
        assert_eq!(by_magic(&tar), Some("a tar archive"));
    }
}
