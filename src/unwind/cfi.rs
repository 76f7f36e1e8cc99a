//! Reading an ELF file's call-frame information into an [`UnwindTable`] (stage 1, sampling: the
//! tables the in-kernel DWARF unwinder walks). Every FDE of `.eh_frame` and `.debug_frame` is
//! evaluated with gimli, each row converted to the few rules the BPF walker understands
//! ([`CfaRule`], [`FpRule`]), and the rows of all FDEs merged into one table sorted by PC.
//!
//! x86_64 only. Parsing is defensive: this reads arbitrary binaries found on the system, so a
//! malformed entry is skipped and counted ([`UnwindTable::skipped_fdes`]) rather than failing the
//! whole file, nothing panics on bad input, and memory stays proportional to the input size.
//!
//! Also here, because the loader reads them from the same file as the table: the `PT_LOAD`
//! segments of a file ([`load_segments`]) and the load bias of one of its mappings
//! ([`load_bias`]), kept in `cfi/segments.rs` and re-exported here.

mod segments;

pub use segments::{aligned_load_segments, load_bias, load_segments, LoadSegment};

use std::path::{Path, PathBuf};

use gimli::{
    BaseAddresses, DebugFrame, EhFrame, EndianSlice, LittleEndian, Reader, RegisterRule, UnwindContext, UnwindSection,
    UnwindTableRow, X86_64,
};
use object::elf;
use object::read::elf::{FileHeader, SectionHeader};
use object::read::{ReadCache, ReadRef};
use object::Endianness;
use rustc_hash::FxHashMap;

use super::table::{CfaRule, FpRule, TableSource, UnwindRow, UnwindTable, MAX_CFA_OFFSET, MAX_FP_OFFSET};

/// The reader every section is parsed with (x86_64 is little-endian).
type Slice<'a> = EndianSlice<'a, LittleEndian>;

/// Errors reading call-frame information.
#[derive(Debug, thiserror::Error)]
pub enum CfiError {
    /// The file could not be read.
    #[error("failed to read `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The data is not an ELF file, or its headers are truncated or malformed.
    #[error("not a valid ELF file")]
    NotElf(#[source] object::Error),
    /// An ELF file for another architecture than x86_64 (64-bit, little-endian).
    #[error(
        "unsupported architecture (ELF machine {machine}, {bits}-bit): unwind tables are built \
         for x86_64 only"
    )]
    UnsupportedArch {
        /// The header's `e_machine`.
        machine: u16,
        /// 32 or 64.
        bits: u8,
    },
    /// No FDE could be read from any call-frame section, and this one is broken: its bytes lie
    /// outside the file, or none of its entries parse. (A broken section next to a good one
    /// only counts in [`UnwindTable::skipped_fdes`].)
    #[error("malformed `{section}` section")]
    Malformed {
        /// `.eh_frame` or `.debug_frame`.
        section: &'static str,
        /// The first error met in the section.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The call-frame information implies a table larger than the caller can hold; refused
    /// before evaluating it.
    #[error("`.eh_frame` of {bytes} bytes needs at least {rows} rows, more than the {max} available")]
    TooLarge {
        /// Size of `.eh_frame`.
        bytes: u64,
        /// Lower bound of the rows it needs.
        rows: u64,
        /// Rows available.
        max: u64,
    },
    /// One of the errors above, about the file at `path`.
    #[error("failed to read the call-frame information of `{}`", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: Box<CfiError>,
    },
}

impl CfiError {
    /// The error without the [`CfiError::File`] context around it, for callers that branch on
    /// the kind (e.g. to skip binaries of another architecture quietly).
    pub fn root(&self) -> &CfiError {
        match self {
            CfiError::File { source, .. } => source.root(),
            other => other,
        }
    }
}

/// Reads the file at `path` and builds its unwind table with [`table_from_elf`]; errors name the
/// file.
pub fn table_from_path(path: &Path) -> Result<UnwindTable, CfiError> {
    let data = std::fs::read(path).map_err(|source| CfiError::Read { path: path.to_path_buf(), source })?;
    table_from_elf(&data).map_err(|e| CfiError::File { path: path.to_path_buf(), source: Box::new(e) })
}

/// Builds the unwind table and load segments of an open ELF file, reading only its headers and
/// call-frame sections (not the whole file: binaries can be hundreds of megabytes). A file
/// whose `.eh_frame` implies more than `max_rows` rows (at least one row per 8 bytes) is refused
/// with [`CfiError::TooLarge`] before it is evaluated.
pub fn table_from_file(file: &std::fs::File, max_rows: u64) -> Result<(UnwindTable, Vec<LoadSegment>), CfiError> {
    let cache = ReadCache::new(file);
    let data = &cache;
    let header = x86_64_header(data)?;
    let endian = header.endian().map_err(CfiError::NotElf)?;
    let sections = header.sections(endian, data).map_err(CfiError::NotElf)?;
    if let Some((_, sh)) = sections.section_by_name(endian, b".eh_frame") {
        let bytes = sh.sh_size(endian);
        let rows = bytes / 8;
        if sh.sh_type(endian) != elf::SHT_NOBITS && rows > max_rows {
            return Err(CfiError::TooLarge { bytes, rows, max: max_rows });
        }
    }
    let table = build_table(data)?;
    Ok((table, aligned_load_segments(data)?))
}

/// Builds the unwind table of an ELF image (bytes of the whole file) from its `.eh_frame` and
/// `.debug_frame` sections; `.eh_frame` wins where both describe a PC. The `.debug_frame` of a
/// Go binary is not used (the walker follows Go's frame pointers, which cross its stack
/// switches).
///
/// A binary without either section gives an empty table with [`TableSource::None`]. FDEs that
/// fail to parse or evaluate are skipped and counted in [`UnwindTable::skipped_fdes`] (an FDE
/// that fails midway keeps the rows before the failure); only a section of which nothing at all
/// could be read is an error. The ELF headers are read in place, so `data` should be 8-byte
/// aligned (a `Vec<u8>` or a mapping is); other slices are copied first.
pub fn table_from_elf(data: &[u8]) -> Result<UnwindTable, CfiError> {
    if data.as_ptr().align_offset(8) != 0 {
        // A fresh allocation from the system allocator is aligned; if it is not either, the
        // header parse below reports a clean error.
        let copy = data.to_vec();
        return build_table(copy.as_slice());
    }
    build_table(data)
}

/// [`table_from_elf`] on aligned data (a slice, or a [`ReadCache`] of a file).
fn build_table<'d, R: ReadRef<'d>>(data: R) -> Result<UnwindTable, CfiError> {
    let header = x86_64_header(data)?;
    let endian = header.endian().map_err(CfiError::NotElf)?;
    let sections = header.sections(endian, data).map_err(CfiError::NotElf)?;
    let find = |name: &[u8]| sections.section_by_name(endian, name).map(|(_, sh)| sh);
    // The bytes of a section, or None when it is absent, has no bytes in the file (a separate
    // debug file's NOBITS copy) or is compressed (decompression is not enabled in `object`; such
    // `.debug_frame`s live in debug files anyway).
    let bytes = |name: &str| -> Result<Option<(u64, &'d [u8])>, object::Error> {
        let Some(sh) = find(name.as_bytes()) else {
            return Ok(None);
        };
        if sh.sh_type(endian) == elf::SHT_NOBITS || sh.sh_flags(endian) & u64::from(elf::SHF_COMPRESSED) != 0 {
            return Ok(None);
        }
        let bytes = sh.data(endian, data)?;
        Ok((!bytes.is_empty()).then_some((sh.sh_addr(endian), bytes)))
    };

    let mut bases = BaseAddresses::default();
    if let Some(sh) = find(b".text") {
        bases = bases.set_text(sh.sh_addr(endian));
    }
    if let Some(sh) = find(b".got") {
        bases = bases.set_got(sh.sh_addr(endian));
    }

    let mut ctx = Box::new(UnwindContext::new());
    // A section whose bytes lie outside the file counts as one skipped entry, like an entry
    // list that breaks off: the other section may still be good.
    let eh = match bytes(".eh_frame") {
        Ok(Some((addr, bytes))) => {
            let bases = bases.clone().set_eh_frame(addr);
            let mut section = EhFrame::new(bytes, LittleEndian);
            section.set_address_size(8);
            Some(read_section(&section, &bases, &mut ctx, true))
        }
        Ok(None) => None,
        Err(e) => Some(SectionRows::unreadable(e)),
    };
    // Go's `.debug_frame` is left out: its rows at the runtime's stack switches (systemstack,
    // mcall, morestack) compute the caller's frame on the wrong stack and end the walk there,
    // while the frame pointers Go keeps on x86_64 lead across them. Go's own code has no
    // `.eh_frame`; the C parts of a cgo binary keep theirs.
    let go = find(b".gopclntab").is_some() || find(b".note.go.buildid").is_some();
    let debug = match if go { Ok(None) } else { bytes(".debug_frame") } {
        Ok(Some((_, bytes))) => {
            let mut section = DebugFrame::new(bytes, LittleEndian);
            section.set_address_size(8);
            Some(read_section(&section, &bases, &mut ctx, false))
        }
        Ok(None) => None,
        Err(e) => Some(SectionRows::unreadable(e)),
    };

    let fdes_of = |s: &Option<SectionRows>| s.as_ref().map_or(0, |s| s.fdes);
    let (eh_fdes, debug_fdes) = (fdes_of(&eh), fdes_of(&debug));
    if eh_fdes + debug_fdes == 0 {
        // Nothing usable: an error if a section was there but broken, else simply no CFI.
        for (name, rows) in [(".eh_frame", eh), (".debug_frame", debug)] {
            if let Some(error) = rows.and_then(|r| r.first_error) {
                return Err(CfiError::Malformed { section: name, source: error });
            }
        }
        return Ok(UnwindTable::default());
    }

    let skipped_fdes = eh.as_ref().map_or(0, |s| s.skipped) + debug.as_ref().map_or(0, |s| s.skipped);
    let source = match (eh_fdes > 0, debug_fdes > 0) {
        (true, true) => TableSource::Both,
        (true, false) => TableSource::EhFrame,
        (false, true) => TableSource::DebugFrame,
        (false, false) => TableSource::None,
    };

    let rows = combine(eh.map_or_else(Vec::new, |s| s.spans), debug.map_or_else(Vec::new, |s| s.spans));
    let unsupported_rows = rows.iter().filter(|r| r.cfa == CfaRule::Unsupported).count();
    Ok(UnwindTable { rows, source, fdes: eh_fdes + debug_fdes, unsupported_rows, skipped_fdes })
}

/// The ELF header of `data` if it is a 64-bit little-endian x86_64 file.
fn x86_64_header<'d, R: ReadRef<'d>>(data: R) -> Result<&'d elf::FileHeader64<Endianness>, CfiError> {
    match elf::FileHeader64::<Endianness>::parse(data) {
        Ok(header) => {
            let endian = header.endian().map_err(CfiError::NotElf)?;
            let machine = header.e_machine(endian);
            if machine != elf::EM_X86_64 || !header.is_little_endian() {
                return Err(CfiError::UnsupportedArch { machine, bits: 64 });
            }
            Ok(header)
        }
        Err(e) => match elf::FileHeader32::<Endianness>::parse(data) {
            Ok(header) => {
                let machine = header.endian().map_or(0, |endian| header.e_machine(endian));
                Err(CfiError::UnsupportedArch { machine, bits: 32 })
            }
            Err(_) => Err(CfiError::NotElf(e)),
        },
    }
}

/// One row of one FDE: the rule for `start..end` (ELF virtual addresses).
#[derive(Clone, Copy, Debug)]
struct Span {
    start: u64,
    end: u64,
    cfa: CfaRule,
    fp: FpRule,
}

/// What one section contributed.
struct SectionRows {
    /// Rows of every FDE, sorted by start and not overlapping.
    spans: Vec<Span>,
    /// FDEs parsed.
    fdes: usize,
    /// FDEs skipped or cut short, plus one if the entry list broke off.
    skipped: usize,
    /// The first error met, kept for when nothing at all could be read.
    first_error: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl SectionRows {
    /// A section whose bytes could not be located in the file.
    fn unreadable(error: object::Error) -> Self {
        SectionRows { spans: Vec::new(), fdes: 0, skipped: 1, first_error: Some(Box::new(error)) }
    }
}

/// The longest CIE accepted. A CIE's initial instructions are evaluated again for every FDE that
/// uses it; compilers emit CIEs of a few dozen bytes, so this only stops crafted files from
/// making the work quadratic in their size.
const MAX_CIE_LEN: usize = 4096;

/// Reads every FDE of `section` (`.eh_frame` when `eh`, else `.debug_frame`).
///
/// Entries are found by their length fields here rather than with gimli's entry iterator, which
/// stops at the first entry it cannot parse: a bad CIE then only loses the FDEs that use it.
fn read_section<'a, S>(section: &S, bases: &BaseAddresses, ctx: &mut UnwindContext<usize>, eh: bool) -> SectionRows
where
    S: UnwindSection<Slice<'a>>,
{
    let mut out = SectionRows { spans: Vec::new(), fdes: 0, skipped: 0, first_error: None };
    let mut cies: FxHashMap<usize, gimli::CommonInformationEntry<Slice<'a>>> = FxHashMap::default();
    let mut get_cie = |section: &S, bases: &BaseAddresses, offset: S::Offset| {
        let key: usize = gimli::UnwindOffset::into(offset);
        if let Some(cie) = cies.get(&key) {
            return Ok(cie.clone());
        }
        let cie = section.cie_from_offset(bases, offset)?;
        cies.insert(key, cie.clone());
        Ok(cie)
    };

    let mut entries = EntryOffsets { data: section.section().slice(), offset: 0, eh };
    for entry in &mut entries {
        let offset = match entry {
            Ok(offset) => offset,
            Err(error) => {
                out.skipped += 1;
                out.first_error.get_or_insert_with(|| Box::new(error));
                break;
            }
        };
        let fde = match section.partial_fde_from_offset(bases, S::Offset::from(offset)) {
            Ok(partial) => partial.parse(&mut get_cie),
            // A CIE: parsed on demand by the FDEs that use it.
            Err(gimli::Error::NotCiePointer(_)) => continue,
            Err(e) => Err(e),
        };
        let result: Result<(), Box<dyn std::error::Error + Send + Sync>> = match fde {
            Ok(fde) if fde.cie().entry_len() > MAX_CIE_LEN => Err("CIE too long".into()),
            Ok(fde) => {
                out.fdes += 1;
                fde_spans(section, bases, ctx, &fde, &mut out.spans).map_err(Into::into)
            }
            Err(e) => Err(e.into()),
        };
        if let Err(error) = result {
            out.skipped += 1;
            out.first_error.get_or_insert(error);
        }
    }
    normalize(&mut out.spans);
    out
}

/// The offsets of a CFI section's entries, from their length fields alone. Ends at the section's
/// end or at `.eh_frame`'s zero terminator; yields one error and ends where a length does not
/// fit the section.
struct EntryOffsets<'a> {
    data: &'a [u8],
    offset: usize,
    eh: bool,
}

impl Iterator for EntryOffsets<'_> {
    type Item = Result<usize, gimli::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let start = self.offset;
            let rest = self.data.get(start..).filter(|r| !r.is_empty())?;
            let mut reader = Slice::new(rest, LittleEndian);
            let (length, header) = match read_length(&mut reader) {
                Ok(found) => found,
                Err(e) => {
                    self.offset = self.data.len();
                    return Some(Err(e));
                }
            };
            if length == 0 {
                if self.eh {
                    // The terminator: what follows (padding) is not entries.
                    self.offset = self.data.len();
                    return None;
                }
                // Zero-length `.debug_frame` entries are a known assembler bug: skip them.
                self.offset = start + header;
                continue;
            }
            let end = u64::try_from(start)
                .ok()
                .and_then(|s| s.checked_add(header as u64)?.checked_add(length))
                .filter(|&end| end <= self.data.len() as u64);
            return match end {
                Some(end) => {
                    self.offset = end as usize;
                    Some(Ok(start))
                }
                None => {
                    self.offset = self.data.len();
                    Some(Err(gimli::Error::UnexpectedEof(gimli::ReaderOffsetId(start as u64))))
                }
            };
        }
    }
}

/// An entry's initial length and the size of the length field itself (4, or 12 for the 64-bit
/// form).
fn read_length(reader: &mut Slice<'_>) -> gimli::Result<(u64, usize)> {
    match reader.read_u32()? {
        0xffff_ffff => Ok((reader.read_u64()?, 12)),
        length if length >= 0xffff_fff0 => Err(gimli::Error::UnknownReservedLength(length)),
        length => Ok((u64::from(length), 4)),
    }
}

/// Appends the rows of `fde` to `out`, clipped to the FDE's range. Rows read before an
/// evaluation error are kept.
fn fde_spans<'a, S>(
    section: &S,
    bases: &BaseAddresses,
    ctx: &mut UnwindContext<usize>,
    fde: &gimli::FrameDescriptionEntry<Slice<'a>>,
    out: &mut Vec<Span>,
) -> gimli::Result<()>
where
    S: UnwindSection<Slice<'a>>,
{
    let (first, last) = (fde.initial_address(), fde.end_address());
    if first >= last {
        return Ok(());
    }
    let mut rows = fde.rows(section, bases, ctx)?;
    while let Some(row) = rows.next_row()? {
        let (start, end) = (row.start_address(), row.end_address().min(last));
        if start < first || start >= end {
            continue;
        }
        let (cfa, fp) = convert(row, section);
        out.push(Span { start, end, cfa, fp });
    }
    Ok(())
}

/// The rules of one gimli row. Rows that end the stack or cannot be evaluated carry
/// [`FpRule::Unchanged`] so that runs of them merge.
fn convert<'a, S>(row: &UnwindTableRow<usize>, section: &S) -> (CfaRule, FpRule)
where
    S: UnwindSection<Slice<'a>>,
{
    const UNSUPPORTED: (CfaRule, FpRule) = (CfaRule::Unsupported, FpRule::Unchanged);
    match row.register(X86_64::RA) {
        Some(RegisterRule::Undefined) => return (CfaRule::End, FpRule::Unchanged),
        Some(RegisterRule::Offset(-8)) => {}
        _ => return UNSUPPORTED,
    }
    let cfa = match row.cfa() {
        gimli::CfaRule::RegisterAndOffset { register, offset } => match (cfa_offset(*offset), *register) {
            (Some(offset), X86_64::RSP) => CfaRule::Sp(offset),
            (Some(offset), X86_64::RBP) => CfaRule::Fp(offset),
            _ => return UNSUPPORTED,
        },
        gimli::CfaRule::Expression(expr) => match expr.get(section) {
            Ok(expr) => match plt_offset(expr.0.slice()) {
                Some(offset) => CfaRule::Plt(offset),
                None => return UNSUPPORTED,
            },
            Err(_) => return UNSUPPORTED,
        },
    };
    let fp = match row.register(X86_64::RBP) {
        None | Some(RegisterRule::Undefined) | Some(RegisterRule::SameValue) => FpRule::Unchanged,
        Some(RegisterRule::Offset(n)) if n % 8 == 0 && (-MAX_FP_OFFSET..=MAX_FP_OFFSET).contains(&n) => {
            // Within ±MAX_FP_OFFSET (1016): fits in i32.
            FpRule::AtCfa(n as i32)
        }
        Some(_) => return UNSUPPORTED,
    };
    (cfa, fp)
}

/// A CFA offset the kernel row can hold: non-negative, a multiple of 8, at most
/// [`MAX_CFA_OFFSET`].
fn cfa_offset(offset: i64) -> Option<u32> {
    u32::try_from(offset).ok().filter(|&o| o % 8 == 0 && u64::from(o) <= MAX_CFA_OFFSET)
}

/// The `N` of the CFA expression GNU ld emits for lazy-binding `.plt` entries,
/// `DW_OP_breg7 (rsp) N; DW_OP_breg16 (rip) 0; DW_OP_lit15; DW_OP_and; DW_OP_lit11; DW_OP_ge;
/// DW_OP_lit3; DW_OP_shl; DW_OP_plus`: CFA = rsp + N, plus 8 once the entry's `push` has run
/// (from byte 11 of each 16-byte entry on).
///
/// Only this exact form is recognized: the BPF walker hard-codes the threshold 11, which is what
/// every binary on the reference system uses (1769 `.plt` FDEs under /usr/bin and
/// /lib/x86_64-linux-gnu, all `lit11`, all `N = 8`). Other thresholds (older linkers' MPX
/// `.plt` used other entry layouts) are left [`CfaRule::Unsupported`].
fn plt_offset(expr: &[u8]) -> Option<u32> {
    use gimli::constants::*;
    let mut r = Slice::new(expr, LittleEndian);
    let op = |r: &mut Slice<'_>, want: gimli::DwOp| r.read_u8().ok().filter(|&b| b == want.0);
    op(&mut r, DW_OP_breg7)?;
    let offset = r.read_sleb128().ok()?;
    op(&mut r, DW_OP_breg16)?;
    r.read_sleb128().ok().filter(|&o| o == 0)?;
    let tail = [DW_OP_lit15, DW_OP_and, DW_OP_lit11, DW_OP_ge, DW_OP_lit3, DW_OP_shl, DW_OP_plus];
    for want in tail {
        op(&mut r, want)?;
    }
    if !r.is_empty() {
        return None;
    }
    cfa_offset(offset)
}

/// Sorts one section's spans by start and makes them disjoint: of spans starting at the same
/// PC the first in the section wins, and a span is cut where the next one starts. Overlapping
/// FDEs only come from broken or odd inputs; cutting keeps every PC described by at most one
/// rule, and leaves the rest of an outer FDE without information rather than with a wrong rule.
fn normalize(spans: &mut Vec<Span>) {
    // A stable sort allocates a buffer as large as the spans (7 MB for prof's own binary): not
    // when the FDEs are already in address order.
    if !spans.is_sorted_by_key(|s| s.start) {
        spans.sort_by_key(|s| s.start);
    }
    spans.dedup_by_key(|s| s.start);
    for i in 1..spans.len() {
        let next = spans[i].start;
        let prev = &mut spans[i - 1];
        prev.end = prev.end.min(next);
    }
}

/// The table rows from each section's spans (sorted, disjoint): `.debug_frame` rows only where
/// no `.eh_frame` row applies.
fn combine(eh: Vec<Span>, debug: Vec<Span>) -> Vec<UnwindRow> {
    let mut spans = eh;
    if !debug.is_empty() {
        let covered = coverage(&spans);
        for span in &debug {
            subtract(span, &covered, &mut spans);
        }
    }
    merge(spans)
}

/// The PC ranges `spans` (sorted, disjoint) describe, adjacent ranges joined.
fn coverage(spans: &[Span]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for s in spans {
        match out.last_mut() {
            Some(last) if last.1 >= s.start => last.1 = last.1.max(s.end),
            _ => out.push((s.start, s.end)),
        }
    }
    out
}

/// Appends to `out` the parts of `span` that no range of `covered` (sorted, disjoint) covers.
/// With disjoint spans the total output is at most spans + ranges.
fn subtract(span: &Span, covered: &[(u64, u64)], out: &mut Vec<Span>) {
    let mut i = covered.partition_point(|&(_, end)| end <= span.start);
    let mut from = span.start;
    while from < span.end {
        let Some(&(start, end)) = covered.get(i).filter(|&&(start, _)| start < span.end) else {
            out.push(Span { start: from, ..*span });
            return;
        };
        if start > from {
            out.push(Span { start: from, end: start, ..*span });
        }
        from = from.max(end);
        i += 1;
    }
}

/// The final rows from disjoint spans: sorted, a [`CfaRule::NoInfo`] row where a span ends and
/// the next one does not start right there, runs of equal rules collapsed.
fn merge(mut spans: Vec<Span>) -> Vec<UnwindRow> {
    spans.sort_unstable_by_key(|s| s.start);
    let mut rows: Vec<UnwindRow> = Vec::with_capacity(spans.len() + spans.len() / 4 + 1);
    let push = |rows: &mut Vec<UnwindRow>, row: UnwindRow| match rows.last() {
        Some(last) if (last.cfa, last.fp) == (row.cfa, row.fp) => {}
        _ => rows.push(row),
    };
    let mut covered_to: Option<u64> = None;
    for span in spans {
        if let Some(end) = covered_to.filter(|&end| end < span.start) {
            push(&mut rows, no_info(end));
        }
        push(&mut rows, UnwindRow { pc: span.start, cfa: span.cfa, fp: span.fp });
        covered_to = Some(span.end);
    }
    if let Some(end) = covered_to {
        push(&mut rows, no_info(end));
    }
    rows
}

/// A row saying nothing describes the code from `pc` on.
fn no_info(pc: u64) -> UnwindRow {
    UnwindRow { pc, cfa: CfaRule::NoInfo, fp: FpRule::Unchanged }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes of the GNU ld lazy-binding PLT CFA expression with `DW_OP_breg7 (rsp)` offset `n`
    /// (a one-byte SLEB) and threshold `lit`.
    fn plt_expr(n: u8, lit: gimli::DwOp) -> Vec<u8> {
        use gimli::constants::*;
        vec![
            DW_OP_breg7.0,
            n,
            DW_OP_breg16.0,
            0,
            DW_OP_lit15.0,
            DW_OP_and.0,
            lit.0,
            DW_OP_ge.0,
            DW_OP_lit3.0,
            DW_OP_shl.0,
            DW_OP_plus.0,
        ]
    }

    fn span(start: u64, end: u64, cfa: CfaRule) -> Span {
        Span { start, end, cfa, fp: FpRule::Unchanged }
    }

    /// The standard PLT expression is recognized with its rsp offset.
    #[test]
    fn plt_standard_expression() {
        assert_eq!(plt_offset(&plt_expr(8, gimli::DW_OP_lit11)), Some(8));
        assert_eq!(plt_offset(&plt_expr(16, gimli::DW_OP_lit11)), Some(16));
    }

    /// Other thresholds, trailing operations, truncation and bad offsets are not PLT rules.
    #[test]
    fn plt_rejects_variants() {
        assert_eq!(plt_offset(&plt_expr(8, gimli::DW_OP_lit10)), None);
        let mut longer = plt_expr(8, gimli::DW_OP_lit11);
        longer.push(gimli::DW_OP_deref.0);
        assert_eq!(plt_offset(&longer), None);
        let full = plt_expr(8, gimli::DW_OP_lit11);
        for len in 0..full.len() {
            assert_eq!(plt_offset(&full[..len]), None, "truncated to {len}");
        }
        assert_eq!(plt_offset(&plt_expr(12, gimli::DW_OP_lit11)), None);
        assert_eq!(plt_offset(&plt_expr(0x78, gimli::DW_OP_lit11)), None, "-8 as SLEB");
    }

    /// CFA offsets must be non-negative multiples of 8 within the row's range.
    #[test]
    fn cfa_offset_limits() {
        assert_eq!(cfa_offset(8), Some(8));
        assert_eq!(cfa_offset(0), Some(0));
        assert_eq!(cfa_offset(MAX_CFA_OFFSET as i64), Some(MAX_CFA_OFFSET as u32));
        assert_eq!(cfa_offset(MAX_CFA_OFFSET as i64 + 8), None);
        assert_eq!(cfa_offset(-8), None);
        assert_eq!(cfa_offset(12), None);
        assert_eq!(cfa_offset(i64::MIN), None);
    }

    /// Gaps between spans get a NoInfo row, adjacent spans none, and equal rules collapse.
    #[test]
    fn merge_closes_gaps_and_collapses() {
        let rows = merge(vec![
            span(0x30, 0x40, CfaRule::Sp(8)),
            span(0x10, 0x18, CfaRule::Sp(8)),
            span(0x18, 0x20, CfaRule::Sp(16)),
            span(0x20, 0x30, CfaRule::Sp(16)),
        ]);
        let got: Vec<(u64, CfaRule)> = rows.iter().map(|r| (r.pc, r.cfa)).collect();
        assert_eq!(
            got,
            vec![(0x10, CfaRule::Sp(8)), (0x18, CfaRule::Sp(16)), (0x30, CfaRule::Sp(8)), (0x40, CfaRule::NoInfo),]
        );
        assert!(merge(Vec::new()).is_empty());
    }

    /// A NoInfo end marker never hides a row starting at the same PC.
    #[test]
    fn merge_end_marker_yields_to_real_row() {
        let rows = merge(vec![span(0x10, 0x20, CfaRule::Sp(8)), span(0x20, 0x28, CfaRule::End)]);
        assert_eq!(rows[1], UnwindRow { pc: 0x20, cfa: CfaRule::End, fp: FpRule::Unchanged });
        assert_eq!(rows[2].cfa, CfaRule::NoInfo);
        assert_eq!(rows.len(), 3);
    }

    /// Where both sections describe a PC `.eh_frame` wins; `.debug_frame` fills the rest, and
    /// its rule resumes after an `.eh_frame` range inside one of its rows.
    #[test]
    fn combine_prefers_eh_frame() {
        let eh = vec![span(0x10, 0x20, CfaRule::Sp(8)), span(0x50, 0x60, CfaRule::Fp(16))];
        let debug = vec![span(0x0, 0x40, CfaRule::Sp(24)), span(0x40, 0x58, CfaRule::End)];
        let got: Vec<(u64, CfaRule)> = combine(eh, debug).iter().map(|r| (r.pc, r.cfa)).collect();
        assert_eq!(
            got,
            vec![
                (0x0, CfaRule::Sp(24)),
                (0x10, CfaRule::Sp(8)),
                (0x20, CfaRule::Sp(24)),
                (0x40, CfaRule::End),
                (0x50, CfaRule::Fp(16)),
                (0x60, CfaRule::NoInfo),
            ]
        );
    }

    /// Overlapping spans of one section become disjoint; the first of equal starts wins.
    #[test]
    fn normalize_makes_disjoint() {
        let mut spans = vec![
            span(0x10, 0x100, CfaRule::Sp(8)),
            span(0x10, 0x20, CfaRule::Sp(16)),
            span(0x40, 0x50, CfaRule::Sp(24)),
        ];
        normalize(&mut spans);
        let got: Vec<(u64, u64, CfaRule)> = spans.iter().map(|s| (s.start, s.end, s.cfa)).collect();
        assert_eq!(got, vec![(0x10, 0x40, CfaRule::Sp(8)), (0x40, 0x50, CfaRule::Sp(24))]);
    }

    /// Subtracting covered ranges keeps only the uncovered pieces of a span.
    #[test]
    fn subtract_keeps_uncovered_pieces() {
        let covered = [(0x10, 0x20), (0x30, 0x38)];
        let mut out = Vec::new();
        subtract(&span(0x0, 0x40, CfaRule::Sp(8)), &covered, &mut out);
        let got: Vec<(u64, u64)> = out.iter().map(|s| (s.start, s.end)).collect();
        assert_eq!(got, vec![(0x0, 0x10), (0x20, 0x30), (0x38, 0x40)]);
        out.clear();
        subtract(&span(0x12, 0x1f, CfaRule::Sp(8)), &covered, &mut out);
        assert!(out.is_empty());
        subtract(&span(0x18, 0x34, CfaRule::Sp(8)), &covered, &mut out);
        let got: Vec<(u64, u64)> = out.iter().map(|s| (s.start, s.end)).collect();
        assert_eq!(got, vec![(0x20, 0x30)]);
    }

    /// Entry offsets follow length fields, stop at the `.eh_frame` terminator and report a
    /// length running past the section.
    #[test]
    fn entries_walk_lengths() {
        let mut data = Vec::new();
        data.extend_from_slice(&4u32.to_le_bytes());
        data.extend_from_slice(&[0; 4]);
        data.extend_from_slice(&8u32.to_le_bytes());
        data.extend_from_slice(&[1; 8]);
        data.extend_from_slice(&0u32.to_le_bytes());
        data.extend_from_slice(&[0xff; 6]);
        let eh: Vec<_> = EntryOffsets { data: &data, offset: 0, eh: true }.collect();
        assert_eq!(eh, vec![Ok(0), Ok(8)]);
        let debug: Vec<_> = EntryOffsets { data: &data, offset: 0, eh: false }.collect();
        assert_eq!(debug.len(), 3);
        assert!(debug[2].is_err(), "0xffffffff + truncated 64-bit length");
        let long = 100u32.to_le_bytes();
        let got: Vec<_> = EntryOffsets { data: &long, offset: 0, eh: true }.collect();
        assert!(matches!(got.as_slice(), [Err(_)]));
    }

    /// Non-ELF and empty inputs are errors, not panics.
    #[test]
    fn elf_rejects_garbage() {
        assert!(matches!(table_from_elf(b""), Err(CfiError::NotElf(_))));
        assert!(matches!(table_from_elf(&[0x7f; 100]), Err(CfiError::NotElf(_))));
        assert!(matches!(load_segments(b"\x7fELF"), Err(CfiError::NotElf(_))));
    }
}
