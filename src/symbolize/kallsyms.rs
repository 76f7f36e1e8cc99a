//! Kernel symbols from `/proc/kallsyms`.
//!
//! Why not blazesym's kallsyms resolver: it builds a `String` per symbol (~120k on this
//! kernel), and measured with `perf record` that parse was the largest user-space cost of a short
//! `prof record` (~25 ms of a ~110 ms run). This reads the file line by line and keeps only the
//! code symbols' names (with their modules) back to back in one buffer, with an index of
//! (address, offset of the name): ~5 MB for this kernel's 121k code symbols, where keeping the
//! whole file took 10.5 MB at the end of every recording. Names are sliced out only when an
//! address is looked up. User-space symbolization stays with blazesym.

use std::io::{BufRead, Read};
use std::path::Path;

/// The text (code) symbols of the running kernel and its modules, sorted by address.
#[derive(Debug, Default)]
pub struct Kallsyms {
    /// The code symbols' `NAME[\t[MODULE]]` lines, each ending in `\n`.
    text: Vec<u8>,
    /// (address, byte offset of the name in `text`), sorted by address.
    index: Vec<(u64, u32)>,
}

/// Why kernel symbols are unavailable.
#[derive(Debug, thiserror::Error)]
pub enum KallsymsError {
    /// The file could not be read.
    #[error("failed to read `{path}`: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Every address is 0: `kernel.kptr_restrict` hides them from this process.
    #[error("{}", hidden_message(*kptr_restrict))]
    Hidden {
        /// The value of `kernel.kptr_restrict` when it was noticed (`None`: unreadable).
        kptr_restrict: Option<u8>,
    },
}

/// Where the sysctl that hides kernel addresses is.
const KPTR_RESTRICT: &str = "/proc/sys/kernel/kptr_restrict";

/// How much of kallsyms [`addresses_hidden`] reads: the first ~1,500 symbols, plenty of code
/// symbols, and cheap for the kernel to format.
const PROBE_BYTES: u64 = 64 << 10;

/// The value of `kernel.kptr_restrict` (0, 1 or 2), if readable.
fn kptr_restrict() -> Option<u8> {
    std::fs::read_to_string(KPTR_RESTRICT).ok()?.trim().parse().ok()
}

/// The warning for hidden kernel addresses, like perf's: what is hidden, by what, what it costs
/// the profile, and how to fix it.
fn hidden_message(kptr_restrict: Option<u8>) -> String {
    let why = match kptr_restrict {
        Some(2) => "kernel.kptr_restrict = 2 hides them even from root".to_string(),
        Some(1) => "kernel.kptr_restrict = 1 shows them only with CAP_SYSLOG".to_string(),
        Some(v) => format!("kernel.kptr_restrict = {v}"),
        None => "kernel.kptr_restrict".to_string(),
    };
    format!(
        "kernel addresses are hidden: /proc/kallsyms shows only zeros ({why}); kernel frames stay unnamed, \
         as `[kernel.kallsyms]+0xADDRESS`, user stacks are not affected; to name kernel frames, run \
         `sysctl kernel.kptr_restrict=0` (or 1, with CAP_SYSLOG) before recording"
    )
}

/// [`KallsymsError::Hidden`] when `path` (normally `/proc/kallsyms`) lists code symbols but shows
/// all their addresses as 0, as `kernel.kptr_restrict` makes it. Reads only the start of the
/// file, so it is cheap enough to check before a recording starts, to warn while the user can
/// still fix it. An unreadable file is not "hidden" (the full load at symbolization reports it).
pub fn probe(path: &Path) -> Result<(), KallsymsError> {
    if addresses_hidden(path) {
        return Err(KallsymsError::Hidden { kptr_restrict: kptr_restrict() });
    }
    Ok(())
}

/// See [`probe`].
fn addresses_hidden(path: &Path) -> bool {
    let mut text = Vec::new();
    let Ok(file) = std::fs::File::open(path) else { return false };
    if file.take(PROBE_BYTES).read_to_end(&mut text).is_err() {
        return false;
    }
    let mut code = text.split(|&b| b == b'\n').filter_map(split_line).filter(|(_, kind, _)| is_code(*kind));
    code.next().is_some_and(|(addr, _, _)| addr == 0) && code.all(|(addr, _, _)| addr == 0)
}

/// Code (text and weak) symbol types, the ones frames are named by.
fn is_code(kind: u8) -> bool {
    matches!(kind, b't' | b'T' | b'w' | b'W')
}

/// Largest kallsyms read (the running kernel's is ~5 MB).
const MAX_KALLSYMS_BYTES: u64 = 256 << 20;

impl Kallsyms {
    /// Reads and indexes a kallsyms file (normally `/proc/kallsyms`).
    pub fn load(path: &Path) -> Result<Kallsyms, KallsymsError> {
        let io = |source| KallsymsError::Io { path: path.display().to_string(), source };
        let file = std::fs::File::open(path).map_err(io)?;
        Kallsyms::read(std::io::BufReader::with_capacity(64 << 10, file.take(MAX_KALLSYMS_BYTES))).map_err(io)?
    }

    /// Reads a kallsyms file keeping only the symbols that name `addrs` (see
    /// [`Kallsyms::parse_for`]): what symbolizing a recording once needs, a few KB where the
    /// whole table takes ~5 MB.
    pub fn load_for(path: &Path, addrs: &[u64]) -> Result<Kallsyms, KallsymsError> {
        let io = |source| KallsymsError::Io { path: path.display().to_string(), source };
        let file = std::fs::File::open(path).map_err(io)?;
        let input = std::io::BufReader::with_capacity(64 << 10, file.take(MAX_KALLSYMS_BYTES));
        Kallsyms::read_for(input, addrs).map_err(io)?
    }

    /// Indexes kallsyms text keeping only the symbols that name `addrs`: its
    /// [`Kallsyms::lookup`] of each of `addrs` is the full table's; other addresses may get
    /// another symbol, or none.
    pub fn parse_for(text: &[u8], addrs: &[u64]) -> Result<Kallsyms, KallsymsError> {
        Kallsyms::read_for(text, addrs)
            .unwrap_or_else(|source| Err(KallsymsError::Io { path: "kallsyms text".into(), source }))
    }

    /// One pass over the lines (the file is not in address order: modules follow the core
    /// kernel): the wanted addresses, sorted, cut the address space into slots, `(a[i-1],
    /// a[i]]`, and each slot keeps its highest code symbol (the last in the file among aliases,
    /// as [`Kallsyms::lookup`] picks). An address's symbol is its slot's, or, in an empty slot,
    /// the one of the address below it.
    fn read_for(input: impl BufRead, addrs: &[u64]) -> std::io::Result<Result<Kallsyms, KallsymsError>> {
        let mut wanted = addrs.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        // Per slot: (symbol address, `NAME[\t[MODULE]]`).
        let mut best: Vec<Option<(u64, Vec<u8>)>> = vec![None; wanted.len()];
        let shown = for_each_code_symbol(input, |addr, name| {
            let slot = wanted.partition_point(|&a| a < addr);
            let Some(held) = best.get_mut(slot) else { return };
            if held.as_ref().is_none_or(|(a, _)| addr >= *a) {
                let symbol = held.get_or_insert_with(|| (addr, Vec::new()));
                symbol.0 = addr;
                symbol.1.clear();
                symbol.1.extend_from_slice(name);
            }
        })?;
        if !shown {
            return Ok(Err(KallsymsError::Hidden { kptr_restrict: kptr_restrict() }));
        }
        let mut table = Kallsyms::default();
        let mut below: Option<&(u64, Vec<u8>)> = None;
        for held in &best {
            let Some(symbol) = held.as_ref().or(below) else { continue };
            if below.is_none_or(|b| b.0 != symbol.0) {
                table.index.push((symbol.0, table.text.len() as u32));
                table.text.extend_from_slice(&symbol.1);
                table.text.push(b'\n');
            }
            below = Some(symbol);
        }
        Ok(Ok(table))
    }

    /// Indexes kallsyms text: `ADDRESS TYPE NAME[\t[MODULE]]` lines.
    pub fn parse(text: &[u8]) -> Result<Kallsyms, KallsymsError> {
        // Reading a slice cannot fail; were it to, the error says so rather than a panic.
        Kallsyms::read(text).unwrap_or_else(|source| Err(KallsymsError::Io { path: "kallsyms text".into(), source }))
    }

    /// Indexes the kallsyms lines of `input`, keeping only the code symbols. The outer error is
    /// a failed read, the inner one a file without usable addresses.
    fn read(input: impl BufRead) -> std::io::Result<Result<Kallsyms, KallsymsError>> {
        let mut text = Vec::new();
        let mut index = Vec::new();
        let shown = for_each_code_symbol(input, |addr, name| {
            if text.len() + name.len() < u32::MAX as usize {
                index.push((addr, text.len() as u32));
                text.extend_from_slice(name);
                text.push(b'\n');
            }
        })?;
        if !shown {
            return Ok(Err(KallsymsError::Hidden { kptr_restrict: kptr_restrict() }));
        }
        // Offsets grow in file order, so this is the file's order among aliases of an address,
        // as a stable sort by address would give, without its buffer.
        index.sort_unstable();
        Ok(Ok(Kallsyms { text, index }))
    }

    /// The function containing `addr` and its module (`None` for the core kernel): the nearest
    /// code symbol at or below it. Addresses below the first symbol are unknown.
    pub fn lookup(&self, addr: u64) -> Option<(&str, Option<&str>)> {
        let i = self.index.partition_point(|&(a, _)| a <= addr).checked_sub(1)?;
        let off = self.index[i].1 as usize;
        let rest = &self.text[off..];
        let line_end = memchr(b'\n', rest).unwrap_or(rest.len());
        let rest = &rest[..line_end];
        let (name, module) = match memchr(b'\t', rest) {
            Some(t) => (&rest[..t], Some(&rest[t + 1..])),
            None => (rest, None),
        };
        let name = std::str::from_utf8(name).ok()?;
        let module = module
            .and_then(|m| std::str::from_utf8(m).ok())
            .map(|m| m.trim().trim_start_matches('[').trim_end_matches(']'))
            .filter(|m| !m.is_empty());
        Some((name, module))
    }

    /// Number of code symbols.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when there are no code symbols.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Calls `each` with the address and `NAME[\t[MODULE]]` of every code symbol of the kallsyms
/// lines of `input`, in file order. False when the lines had symbols but all at address 0
/// (hidden).
fn for_each_code_symbol(mut input: impl BufRead, mut each: impl FnMut(u64, &[u8])) -> std::io::Result<bool> {
    let (mut any, mut any_nonzero) = (false, false);
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let Some((addr, kind, name_off)) = split_line(&line) else { continue };
        any = true;
        any_nonzero |= addr != 0;
        if is_code(kind) {
            each(addr, &line[name_off..]);
        }
    }
    Ok(!any || any_nonzero)
}

/// Splits `ffffffff81000000 T _stext` into (address, type, offset of the name in the line).
fn split_line(line: &[u8]) -> Option<(u64, u8, usize)> {
    let sp = memchr(b' ', line)?;
    let addr = u64::from_str_radix(std::str::from_utf8(&line[..sp]).ok()?, 16).ok()?;
    let kind = *line.get(sp + 1)?;
    if line.get(sp + 2) != Some(&b' ') || line.len() <= sp + 3 {
        return None;
    }
    Some((addr, kind, sp + 3))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = "\
ffffffff81000000 T _stext
ffffffff81000100 t do_one_initcall
ffffffff81000200 D some_data
ffffffff81000300 T schedule
ffffffff81000400 W weak_fn
ffffffffc0001000 t nf_hook\t[nf_tables]
garbage
ffffffffc0002000 T ext4_read\t[ext4]
";

    /// Code symbols resolve to the nearest symbol at or below, with modules; data symbols are
    /// skipped, bad lines ignored, addresses before the first symbol unknown.
    #[test]
    fn kallsyms_lookup_nearest_code_symbol() {
        let k = Kallsyms::parse(FIXTURE.as_bytes()).unwrap();
        assert_eq!(k.len(), 6);
        assert_eq!(k.lookup(0xffffffff81000300), Some(("schedule", None)));
        assert_eq!(k.lookup(0xffffffff810003ff), Some(("schedule", None)));
        // some_data is not code: the address stays in do_one_initcall
        assert_eq!(k.lookup(0xffffffff81000250), Some(("do_one_initcall", None)));
        assert_eq!(k.lookup(0xffffffff81000401), Some(("weak_fn", None)));
        assert_eq!(k.lookup(0xffffffffc0001010), Some(("nf_hook", Some("nf_tables"))));
        assert_eq!(k.lookup(0xffffffffc0002abc), Some(("ext4_read", Some("ext4"))));
        assert_eq!(k.lookup(0x1000), None);
    }

    /// Read for some addresses only, each names what the whole table names (nearest code
    /// symbol at or below, the last alias, modules after the core kernel, none below the first
    /// symbol), keeping one symbol per address at most.
    #[test]
    fn kallsyms_read_for_addresses_agrees_with_whole_table() {
        let text = format!("{FIXTURE}ffffffff81000300 T schedule_alias\nffffffff81000050 t out_of_order\n");
        let whole = Kallsyms::parse(text.as_bytes()).unwrap();
        let addrs = [
            0x1000,
            0xffffffff81000000,
            0xffffffff81000060,
            0xffffffff81000250,
            0xffffffff81000251,
            0xffffffff81000300,
            0xffffffff810003ff,
            0xffffffff81000401,
            0xffffffffc0001010,
            0xffffffffc0002abc,
            0xffffffffffffffff,
        ];
        let some = Kallsyms::parse_for(text.as_bytes(), &addrs).unwrap();
        for a in addrs {
            assert_eq!(some.lookup(a), whole.lookup(a), "{a:#x}");
        }
        assert_eq!(whole.lookup(0xffffffff81000300), Some(("schedule_alias", None)));
        assert_eq!(some.lookup(0xffffffff81000060), Some(("out_of_order", None)));
        assert!(some.len() <= addrs.len() && some.len() < whole.len(), "{}", some.len());
        assert!(Kallsyms::parse_for(text.as_bytes(), &[]).unwrap().is_empty());
        let hidden = "0000000000000000 T _stext\n";
        assert!(matches!(Kallsyms::parse_for(hidden.as_bytes(), &addrs), Err(KallsymsError::Hidden { .. })));
    }

    /// The running kernel's table: addresses spread over it (every symbol's start, a byte
    /// into it and its last byte before the next) name the same symbol read either way.
    #[test]
    fn kallsyms_read_for_addresses_agrees_on_this_kernel() {
        let Ok(whole) = Kallsyms::load(Path::new("/proc/kallsyms")) else {
            assert!(std::env::var_os("CI").is_none(), "/proc/kallsyms unreadable or hidden in CI");
            println!("SKIPPED: /proc/kallsyms unreadable or hidden");
            return;
        };
        let mut addrs: Vec<u64> =
            whole.index.iter().step_by(97).flat_map(|&(a, _)| [a, a + 1, a.wrapping_sub(1)]).collect();
        addrs.push(0);
        let some = Kallsyms::load_for(Path::new("/proc/kallsyms"), &addrs).unwrap();
        assert!(addrs.len() > 1000, "{}", addrs.len());
        for &a in &addrs {
            assert_eq!(some.lookup(a), whole.lookup(a), "{a:#x}");
        }
        assert!(some.text.len() * 10 < whole.text.len(), "{} of {} bytes", some.text.len(), whole.text.len());
    }

    /// All-zero addresses (kptr_restrict) are reported as hidden, not as a symbol table.
    #[test]
    fn kallsyms_hidden_addresses_are_an_error() {
        let text = "0000000000000000 T _stext\n0000000000000000 T schedule\n";
        assert!(matches!(Kallsyms::parse(text.as_bytes()), Err(KallsymsError::Hidden { .. })));
    }

    /// The quick probe: hidden when the code symbols at the start are all 0 (data symbols at 0,
    /// like per-CPU ones, do not count), not when any is real, nor for a missing or empty file.
    #[test]
    fn kallsyms_probe_detects_hidden_addresses() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let hidden = file("hidden", "0000000000000000 A fixed_percpu_data\n0000000000000000 T _stext\n");
        assert!(addresses_hidden(&hidden));
        assert!(!addresses_hidden(&file("real", FIXTURE)));
        let percpu = file("percpu", "0000000000000000 A fixed_percpu_data\nffffffff81000000 T _stext\n");
        assert!(!addresses_hidden(&percpu));
        assert!(!addresses_hidden(&file("empty", "")));
        assert!(!addresses_hidden(&dir.path().join("missing")));
    }

    /// The warning names the sysctl's value and the fix.
    #[test]
    fn kallsyms_hidden_message_names_value_and_fix() {
        let m = KallsymsError::Hidden { kptr_restrict: Some(2) }.to_string();
        assert!(m.contains("kernel.kptr_restrict = 2 hides them even from root"), "{m}");
        assert!(m.contains("`sysctl kernel.kptr_restrict=0`") && m.contains("[kernel.kallsyms]+0x"), "{m}");
    }
}
