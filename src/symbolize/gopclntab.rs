//! Go's function table, `.gopclntab`: names, files and lines of Go functions from binaries whose
//! symbol tables and DWARF were stripped (`go build -ldflags=-s -w`, Debian's `go`, `compile`,
//! `link`). The Go runtime keeps this table for its own tracebacks, so every Go binary has it.
//!
//! Layouts of Go 1.18 to 1.22 (header magic `0xfffffff0`: 1.18, 1.19; `0xfffffff1`: 1.20 and
//! later, whose function records gained a start line). The table is read from a binary another
//! user controls: every offset is checked against the table's bytes, names, pc-value walks and
//! inlining depth are bounded, malformed input gives `None` or an error, never a panic.
//!
//! Inlined frames come from each function's inline tree (`FUNCDATA_InlTree`, indexed by
//! `PCDATA_InlTreeIndex`). The trees live outside the table, addressed from the `gofunc` base in
//! `runtime.moduledata`: the caller reads them ([`go_binary`](super::go_binary)).

/// Largest `.gopclntab` read. Go's own toolchain binaries carry 2–8 MiB; 128 MiB is far above
/// any real program and keeps a crafted binary from taking the recorder's memory.
pub const MAX_PCLNTAB_BYTES: u64 = 128 << 20;

/// Longest function or file name read (Go's generic instantiations can be long).
const MAX_NAME_BYTES: usize = 4096;

/// Most inlined calls expanded at one address (Go inlines a few levels deep).
const MAX_INLINE_DEPTH: usize = 32;

/// Index of the pc-data table giving each pc's entry in the inline tree.
const PCDATA_INL_TREE_INDEX: u32 = 2;
/// Index of the function data holding the inline tree.
const FUNCDATA_INL_TREE: u32 = 3;

/// Most entries one pc-value walk decodes: a real function's table has one entry per change of
/// line or file, far below this; the bound keeps a crafted table from costing more per lookup.
const MAX_PCVALUE_STEPS: usize = 1 << 16;

/// Why a `.gopclntab` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PclnError {
    /// The binary could not be read.
    #[error("cannot read the binary: {0}")]
    Io(#[from] std::io::Error),
    /// The ELF headers are malformed.
    #[error("malformed ELF: {0}")]
    Elf(#[from] object::Error),
    /// A table of a Go version this does not read (before 1.18), or not a table at all.
    #[error("unsupported `.gopclntab` (magic {0:#010x}; Go 1.18 and later are read)")]
    Unsupported(u32),
    /// The header is truncated or points outside the table.
    #[error("malformed `.gopclntab` header")]
    Malformed,
    /// A section is larger than [`MAX_PCLNTAB_BYTES`].
    #[error("a Go section of {0} bytes is above the {MAX_PCLNTAB_BYTES}-byte limit")]
    TooLarge(u64),
}

/// A Go function an address is in (or inlined there), as the table names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoFunc {
    /// The function's name (`main.main`, `runtime.mallocgc`, `fmt.(*pp).doPrintf`).
    pub name: String,
    /// The source file of the address (in an inlining function: of the call), if the table has it.
    pub file: Option<String>,
    /// The line of the address, if the table has it.
    pub line: Option<u32>,
    /// True for a call inlined into the frame before it.
    pub inlined: bool,
}

/// What a lookup needs of one function record.
struct FuncRecord {
    /// The text offset looked up.
    pc: u32,
    /// Text offset of the function's entry.
    entry: u32,
    /// Offset of its name in the name table.
    name: u32,
    pcfile: u32,
    pcln: u32,
    npcdata: u32,
    cu: u32,
    nfuncdata: u32,
    /// Where its pc-data offsets start (function data offsets follow them).
    tables: usize,
}

/// A parsed `.gopclntab` (the bytes and the offsets its header gives).
#[derive(Debug)]
pub struct PclnTab {
    data: Vec<u8>,
    /// 1.20+: function records hold a start line before `funcID`.
    start_line: bool,
    /// Instruction size quantum of pc deltas.
    quantum: u64,
    ptr_size: usize,
    nfunc: usize,
    text_start: u64,
    funcnames: usize,
    cutab: usize,
    filetab: usize,
    pctab: usize,
    functab: usize,
}

impl PclnTab {
    /// Parses the table bytes. `text_fallback` is the start of `.text`, used when the header's
    /// text start is 0 (position-independent binaries fill it in with a relocation at load).
    pub fn parse(data: Vec<u8>, text_fallback: u64) -> Result<PclnTab, PclnError> {
        let magic = u32_at(&data, 0).ok_or(PclnError::Malformed)?;
        let start_line = match magic {
            0xffff_fff0 => false,
            0xffff_fff1 => true,
            other => return Err(PclnError::Unsupported(other)),
        };
        let (pad1, pad2, quantum, ptr_size) = match data.get(4..8) {
            Some(b) => (b[0], b[1], b[2], b[3]),
            None => return Err(PclnError::Malformed),
        };
        if pad1 != 0 || pad2 != 0 || !matches!(quantum, 1 | 2 | 4) || !matches!(ptr_size, 4 | 8) {
            return Err(PclnError::Malformed);
        }
        let ptr_size = usize::from(ptr_size);
        let word = |i: usize| word_at(&data, 8 + i * ptr_size, ptr_size).ok_or(PclnError::Malformed);
        let offset = |i: usize| -> Result<usize, PclnError> {
            let v = usize::try_from(word(i)?).map_err(|_| PclnError::Malformed)?;
            if v > data.len() {
                return Err(PclnError::Malformed);
            }
            Ok(v)
        };
        let nfunc = usize::try_from(word(0)?).map_err(|_| PclnError::Malformed)?;
        let text_start = match word(2)? {
            0 => text_fallback,
            t => t,
        };
        let (funcnames, cutab, filetab, pctab, functab) = (offset(3)?, offset(4)?, offset(5)?, offset(6)?, offset(7)?);
        // The function table: nfunc + 1 (entry, record offset) pairs, the last one the end of text.
        let functab_end = nfunc.checked_add(1).and_then(|n| n.checked_mul(8)).and_then(|n| n.checked_add(functab));
        if functab_end.is_none_or(|end| end > data.len()) {
            return Err(PclnError::Malformed);
        }
        Ok(PclnTab {
            data,
            start_line,
            quantum: u64::from(quantum),
            ptr_size,
            nfunc,
            text_start,
            funcnames,
            cutab,
            filetab,
            pctab,
            functab,
        })
    }

    /// Number of functions in the table.
    pub fn len(&self) -> usize {
        self.nfunc
    }

    /// True for a table without functions.
    pub fn is_empty(&self) -> bool {
        self.nfunc == 0
    }

    /// Pointer size of the binary the table belongs to.
    pub fn ptr_size(&self) -> usize {
        self.ptr_size
    }

    /// The function containing the link-time address `vaddr`, with its file and line there
    /// (without inlined calls: for the address of inlined code, the inlined function's file and
    /// line, as `go tool addr2line` gives them).
    pub fn lookup(&self, vaddr: u64) -> Option<GoFunc> {
        let f = self.func_at(vaddr)?;
        Some(self.position(&f, f.pc, self.string(self.funcnames, f.name)?))
    }

    /// The frames at link-time address `vaddr`, outermost first: the function, then each call
    /// inlined into it, down to the code at `vaddr`; each frame's file and line is where
    /// execution is inside that frame (the call site of the next). `inline_entry(tree, index)`
    /// reads entry `index` of the inline tree at offset `tree` from `gofunc` as (name offset,
    /// parent pc), or gives `None` (no inlined frames from there on).
    pub fn frames(&self, vaddr: u64, inline_entry: &dyn Fn(u32, u32) -> Option<(u32, u32)>) -> Option<Vec<GoFunc>> {
        let f = self.func_at(vaddr)?;
        let outer = self.string(self.funcnames, f.name)?;
        let mut inner = Vec::new(); // innermost first
        let mut at = f.pc;
        if let Some(tree) = self.funcdata(&f, FUNCDATA_INL_TREE) {
            while inner.len() < MAX_INLINE_DEPTH {
                let Some(index) = self.pcdata(&f, PCDATA_INL_TREE_INDEX, at).and_then(|i| u32::try_from(i).ok()) else {
                    break;
                };
                let Some((name, parent_pc)) = inline_entry(tree, index) else { break };
                let (Some(name), Some(parent)) = (self.string(self.funcnames, name), f.entry.checked_add(parent_pc))
                else {
                    break;
                };
                inner.push(self.position(&f, at, name));
                at = parent;
            }
        }
        let mut frames = vec![self.position(&f, at, outer)];
        frames.extend(inner.into_iter().rev().map(|mut g| {
            g.inlined = true;
            g
        }));
        Some(frames)
    }

    /// Layout of an inline tree entry of this table's Go version: (size, offset of the name
    /// offset, offset of the parent pc). 1.18/1.19: parent, funcID, file, line, name, parent pc;
    /// 1.20+: funcID, name, parent pc, start line.
    pub fn inline_entry_layout(&self) -> (u32, usize, usize) {
        if self.start_line {
            (16, 4, 8)
        } else {
            (20, 12, 16)
        }
    }

    /// The text start the table's offsets count from.
    pub fn text_start(&self) -> u64 {
        self.text_start
    }

    /// Offset of the function name table in the table (`moduledata.funcnametab` points there).
    pub fn funcnametab_offset(&self) -> usize {
        self.funcnames
    }

    /// The record of the function containing `vaddr`.
    fn func_at(&self, vaddr: u64) -> Option<FuncRecord> {
        let pc = u32::try_from(vaddr.checked_sub(self.text_start)?).ok()?;
        let entry_of = |i: usize| u32_at(&self.data, self.functab + i * 8);
        if pc >= entry_of(self.nfunc)? || pc < entry_of(0)? {
            return None;
        }
        // The last function whose entry is <= pc (entries are sorted).
        let (mut lo, mut hi) = (0usize, self.nfunc);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if entry_of(mid)? <= pc {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let entry = entry_of(lo)?;
        let record = self.functab.checked_add(usize::try_from(u32_at(&self.data, self.functab + lo * 8 + 4)?).ok()?)?;
        let field = |i: usize| u32_at(&self.data, record.checked_add(i * 4)?);
        if field(0)? != entry {
            return None; // the record is not this function's
        }
        // Fixed fields: 9 words (10 with the start line), then funcID, flag, pad, nfuncdata.
        let fixed = if self.start_line { 44 } else { 40 };
        let nfuncdata = *self.data.get(record.checked_add(fixed - 1)?)?;
        Some(FuncRecord {
            pc,
            entry,
            name: field(1)?,
            pcfile: field(5)?,
            pcln: field(6)?,
            npcdata: field(7)?,
            cu: field(8)?,
            nfuncdata: u32::from(nfuncdata),
            tables: record.checked_add(fixed)?,
        })
    }

    /// `name` with the file and line of text offset `pc` in function `f`.
    fn position(&self, f: &FuncRecord, pc: u32, name: String) -> GoFunc {
        let file = self
            .pcvalue(f.pcfile, f.entry, pc)
            .and_then(|index| u32::try_from(index).ok())
            .and_then(|index| self.file(f.cu, index));
        let line = self.pcvalue(f.pcln, f.entry, pc).and_then(|l| u32::try_from(l).ok());
        GoFunc { name, file, line, inlined: false }
    }

    /// The value pc-data table `table` of `f` gives text offset `pc`.
    fn pcdata(&self, f: &FuncRecord, table: u32, pc: u32) -> Option<i64> {
        if table >= f.npcdata {
            return None;
        }
        let off = u32_at(&self.data, f.tables.checked_add(usize::try_from(table).ok()? * 4)?)?;
        self.pcvalue(off, f.entry, pc)
    }

    /// Offset from `gofunc` of function data `index` of `f`, if it has one.
    fn funcdata(&self, f: &FuncRecord, index: u32) -> Option<u32> {
        if index >= f.nfuncdata {
            return None;
        }
        let slot = usize::try_from(f.npcdata.checked_add(index)?).ok()?.checked_mul(4)?;
        let off = u32_at(&self.data, f.tables.checked_add(slot)?)?;
        (off != u32::MAX).then_some(off)
    }

    /// Whether function records carry a start line (Go 1.20 and later).
    pub fn has_start_line(&self) -> bool {
        self.start_line
    }

    /// The file at `index` of compilation unit `cu` (`cutab` maps it into `filetab`).
    fn file(&self, cu: u32, index: u32) -> Option<String> {
        let slot = usize::try_from(cu.checked_add(index)?).ok()?.checked_mul(4)?.checked_add(self.cutab)?;
        let off = u32_at(&self.data, slot)?;
        if off == u32::MAX {
            return None;
        }
        self.string(self.filetab, off)
    }

    /// The NUL-terminated string at `base + off`, at most [`MAX_NAME_BYTES`].
    fn string(&self, base: usize, off: u32) -> Option<String> {
        let start = base.checked_add(usize::try_from(off).ok()?)?;
        let rest = self.data.get(start..)?;
        let rest = &rest[..rest.len().min(MAX_NAME_BYTES)];
        let len = rest.iter().position(|&b| b == 0)?;
        (len > 0).then(|| String::from_utf8_lossy(&rest[..len]).into_owned())
    }

    /// The value a pc-value table (at `pctab + off`) gives text offset `target` of the function
    /// entered at text offset `entry`; `None` for no table, a target past its end, or bad bytes.
    fn pcvalue(&self, off: u32, entry: u32, target: u32) -> Option<i64> {
        if off == 0 {
            return None;
        }
        let mut at = self.pctab.checked_add(usize::try_from(off).ok()?)?;
        let (mut value, mut pc) = (-1i64, u64::from(entry));
        for step in 0..MAX_PCVALUE_STEPS {
            let delta = uvarint(&self.data, &mut at)?;
            if delta == 0 && step > 0 {
                return None; // end of table
            }
            let delta = if delta & 1 != 0 { !(i64::from(delta >> 1)) } else { i64::from(delta >> 1) };
            value = value.checked_add(delta)?;
            pc = pc.checked_add(u64::from(uvarint(&self.data, &mut at)?).checked_mul(self.quantum)?)?;
            if u64::from(target) < pc {
                return Some(value);
            }
        }
        None
    }
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn word_at(data: &[u8], at: usize, size: usize) -> Option<u64> {
    let b = data.get(at..at.checked_add(size)?)?;
    let mut v = [0u8; 8];
    v[..size].copy_from_slice(b);
    Some(u64::from_le_bytes(v))
}

/// A Go varint as the runtime reads it: 7 bits a byte, at most 32 bits.
fn uvarint(data: &[u8], at: &mut usize) -> Option<u32> {
    let mut v = 0u32;
    for shift in (0..35).step_by(7) {
        let b = *data.get(*at)?;
        *at += 1;
        v |= u32::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends a Go varint.
    fn put_uvarint(out: &mut Vec<u8>, mut v: u32) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    /// Appends a pc-value table of (value, pc delta) pairs, starting from value -1.
    fn put_pcvalue(out: &mut Vec<u8>, pairs: &[(i64, u32)]) {
        let mut prev = -1i64;
        for &(value, pcdelta) in pairs {
            let d = value - prev;
            let zig = if d < 0 { ((!d as u32) << 1) | 1 } else { (d as u32) << 1 };
            put_uvarint(out, zig);
            put_uvarint(out, pcdelta);
            prev = value;
        }
        out.push(0);
    }

    const TEXT: u64 = 0x401000;

    /// A Go 1.20-layout table of two functions: `main.a` at text offset 0x0 (0x40 bytes, line
    /// 10, 12 from 0x10, 11 from 0x20, file `a.go`; 0x10..0x20 is inline tree entry 0, whose
    /// tree is function data 3 at `gofunc` + 0) and `main.b` at 0x40 (0x20 bytes, line 20 in
    /// `b.go`, no pc or function data). `main.inl` is the name at offset 14.
    fn table_bytes() -> Vec<u8> {
        let names = b"main.a\0main.b\0main.inl\0".to_vec();
        let cutab: Vec<u8> = [0u32, 5].iter().flat_map(|v| v.to_le_bytes()).collect();
        let files = b"a.go\0b.go\0".to_vec();
        let mut pcs = vec![0u8]; // offset 0 means "no table"
        let a_file = pcs.len() as u32;
        put_pcvalue(&mut pcs, &[(0, 0x40)]);
        let a_line = pcs.len() as u32;
        put_pcvalue(&mut pcs, &[(10, 0x10), (12, 0x10), (11, 0x20)]);
        let a_inline = pcs.len() as u32;
        put_pcvalue(&mut pcs, &[(-1, 0x10), (0, 0x10), (-1, 0x20)]);
        let b_file = pcs.len() as u32;
        put_pcvalue(&mut pcs, &[(1, 0x20)]);
        let b_line = pcs.len() as u32;
        put_pcvalue(&mut pcs, &[(20, 0x20)]);

        let header = 8 + 8 * 8;
        let funcnames = header;
        let cu = funcnames + names.len();
        let filetab = cu + cutab.len();
        let pctab = filetab + files.len();
        let functab = pctab + pcs.len();
        let record = |entry: u32, name: u32, pcfile: u32, pcln: u32, pcdata: &[u32], funcdata: &[u32]| -> Vec<u8> {
            let fixed = [entry, name, 0, 0, 0, pcfile, pcln, pcdata.len() as u32, 0, 0];
            let tail = [0u8, 0, 0, funcdata.len() as u8];
            let tables = pcdata.iter().chain(funcdata);
            fixed.iter().flat_map(|v| v.to_le_bytes()).chain(tail).chain(tables.flat_map(|v| v.to_le_bytes())).collect()
        };
        let rec_a = record(0, 0, a_file, a_line, &[0, 0, a_inline], &[u32::MAX, u32::MAX, u32::MAX, 0]);
        let rec_b = record(0x40, 7, b_file, b_line, &[], &[]);
        let tab_len = 3 * 8;
        let mut ftab = Vec::new();
        for (entry, off) in [(0u32, tab_len), (0x40, tab_len + rec_a.len() as u32), (0x60, 0)] {
            ftab.extend(entry.to_le_bytes());
            ftab.extend(off.to_le_bytes());
        }
        let mut out = Vec::new();
        out.extend(0xffff_fff1u32.to_le_bytes());
        out.extend([0, 0, 1, 8]);
        for w in [2u64, 2, TEXT, funcnames as u64, cu as u64, filetab as u64, pctab as u64, functab as u64] {
            out.extend(w.to_le_bytes());
        }
        for part in [names, cutab, files, pcs, ftab, rec_a, rec_b] {
            out.extend(part);
        }
        out
    }

    fn func(name: &str, file: &str, line: u32) -> Option<GoFunc> {
        Some(GoFunc { name: name.into(), file: Some(file.into()), line: Some(line), inlined: false })
    }

    /// Names, files and lines of a well-formed table, and nothing outside its functions.
    #[test]
    fn gopclntab_lookup_names_files_lines() {
        let t = PclnTab::parse(table_bytes(), 0).unwrap();
        assert_eq!((t.len(), t.has_start_line(), t.ptr_size()), (2, true, 8));
        assert_eq!(t.lookup(TEXT), func("main.a", "a.go", 10));
        assert_eq!(t.lookup(TEXT + 0xf), func("main.a", "a.go", 10));
        assert_eq!(t.lookup(TEXT + 0x1f), func("main.a", "a.go", 12));
        assert_eq!(t.lookup(TEXT + 0x20), func("main.a", "a.go", 11));
        assert_eq!(t.lookup(TEXT + 0x45), func("main.b", "b.go", 20));
        assert_eq!(t.lookup(TEXT + 0x60), None);
        assert_eq!(t.lookup(TEXT - 1), None);
    }

    /// Inlined calls: inside the inlined range the function is at the call site (the parent pc's
    /// line) and the inlined call, marked, at the address's line; outside it, or when the tree
    /// cannot be read, the function alone; a tree that loops stops at the depth bound.
    #[test]
    fn gopclntab_inline_frames() {
        let t = PclnTab::parse(table_bytes(), 0).unwrap();
        let tree = |tree: u32, index: u32| (tree == 0 && index == 0).then_some((14, 0x8));
        let inl = GoFunc { name: "main.inl".into(), file: Some("a.go".into()), line: Some(12), inlined: true };
        assert_eq!(t.frames(TEXT + 0x14, &tree), Some(vec![func("main.a", "a.go", 10).unwrap(), inl]));
        assert_eq!(t.frames(TEXT + 0x24, &tree), Some(vec![func("main.a", "a.go", 11).unwrap()]));
        assert_eq!(t.frames(TEXT + 0x14, &|_, _| None), Some(vec![func("main.a", "a.go", 12).unwrap()]));
        assert_eq!(t.frames(TEXT + 0x44, &tree), Some(vec![func("main.b", "b.go", 20).unwrap()]));
        let looping = t.frames(TEXT + 0x14, &|_, _| Some((14, 0x14))).unwrap();
        assert_eq!(looping.len(), MAX_INLINE_DEPTH + 1);
        assert_eq!(t.inline_entry_layout(), (16, 4, 8));
    }

    /// A header of an older Go, a wrong pad or pointer size, and offsets past the end are
    /// refused with an error.
    #[test]
    fn gopclntab_rejects_bad_headers() {
        let mut old = table_bytes();
        old[..4].copy_from_slice(&0xffff_fffbu32.to_le_bytes());
        assert!(matches!(PclnTab::parse(old, 0), Err(PclnError::Unsupported(0xffff_fffb))));
        let mut pad = table_bytes();
        pad[4] = 1;
        assert!(matches!(PclnTab::parse(pad, 0), Err(PclnError::Malformed)));
        let mut ptr = table_bytes();
        ptr[7] = 3;
        assert!(matches!(PclnTab::parse(ptr, 0), Err(PclnError::Malformed)));
        let mut nfunc = table_bytes();
        nfunc[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(PclnTab::parse(nfunc, 0), Err(PclnError::Malformed)));
    }

    /// Every truncation of the table parses to an error or to lookups that answer without
    /// panicking; a table cut inside the function records loses those functions only.
    #[test]
    fn gopclntab_truncated_never_panics() {
        let full = table_bytes();
        for len in 0..full.len() {
            if let Ok(t) = PclnTab::parse(full[..len].to_vec(), 0) {
                for pc in (TEXT - 4..TEXT + 0x64).step_by(3) {
                    if let Some(f) = t.lookup(pc) {
                        assert!(f.name == "main.a" || f.name == "main.b", "{f:?}");
                    }
                    let _ = t.frames(pc, &|_, _| Some((14, 0x8)));
                }
            }
        }
    }

    /// Corrupting any byte (or two) of the table never panics and never yields a name from
    /// outside the name table; pc-value walks stay bounded.
    #[test]
    fn gopclntab_corrupted_never_panics() {
        let full = table_bytes();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for i in 0..full.len() {
            for value in [0x00, 0xff, 0x80, (next() & 0xff) as u8] {
                let mut bytes = full.clone();
                bytes[i] = value;
                let j = (next() as usize) % bytes.len();
                bytes[j] ^= (next() & 0xff) as u8;
                if let Ok(t) = PclnTab::parse(bytes, 0) {
                    for pc in (TEXT - 4..TEXT + 0x64).step_by(5) {
                        if let Some(f) = t.lookup(pc) {
                            assert!(f.name.len() <= MAX_NAME_BYTES);
                        }
                        let frames = t.frames(pc, &|_, i| Some((14, i.wrapping_mul(8)))).unwrap_or_default();
                        assert!(frames.len() <= MAX_INLINE_DEPTH + 1);
                    }
                }
            }
        }
    }

    /// A pc-value table of endless continuation bytes or of more entries than the bound ends
    /// with `None`.
    #[test]
    fn gopclntab_pcvalue_bounded() {
        let mut t = PclnTab::parse(table_bytes(), 0).unwrap();
        let endless = t.data.len();
        t.data.extend([0x80u8; 64]);
        let long = t.data.len();
        for _ in 0..MAX_PCVALUE_STEPS + 1 {
            t.data.extend([2u8, 0]); // value +1, pc +0: never reaches the target
        }
        let base = t.pctab;
        assert_eq!(t.pcvalue((endless - base) as u32, 0, 0), None);
        assert_eq!(t.pcvalue((long - base) as u32, 0, 0), None);
    }
}
