//! JIT symbol maps (`/tmp/perf-PID.map`): `START SIZE name` lines in hex, written by JIT
//! runtimes (V8/node --perf-basic-prof, the JVM with perf-map-agent, LuaJIT, …).

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Most of a perf map read: its last 32 MiB.
///
/// A parsed map is kept for the life of its process, so this bounds what one profiled process
/// can make prof hold: at most ~16 bytes per line plus the names (a crafted map of minimal
/// 6-byte lines, ~5.6 million symbols, takes ~100 MB; real lines of ~60 bytes take about their
/// own size). Real maps are far smaller: `node --perf-basic-prof` writes ~80 bytes per
/// compiled function, so 32 MiB is ~400,000 functions. The runtimes append and never truncate,
/// so a larger map is read from its end: the newest symbols (which win over older ones at the
/// same address) are the ones kept.
const MAX_PERF_MAP_BYTES: u64 = 32 * 1024 * 1024;

/// Bytes of the shortest valid line: `0 1 f` and its newline.
const MIN_LINE_LEN: usize = 6;

/// A perf map that exists but is not used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PerfMapRefused {
    /// Owned by someone other than root and the process's owner: another user could name the
    /// process's code whatever they like (perf refuses such maps too).
    #[error("ignored perf map `{path}`: owned by uid {owner}, not by root or the process's owner (uid {expected})")]
    ForeignOwner {
        /// The map's path.
        path: String,
        /// The map's owner.
        owner: u32,
        /// The owner of the process.
        expected: u32,
    },
}

/// One symbol: its start address, size (saturated at `u32::MAX`; JIT functions are far
/// smaller) and where its name starts in [`PerfMap::names`]. 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    start: u64,
    size: u32,
    name: u32,
}

/// The symbols of one perf map, sorted by start address.
///
/// Compact, since it lives as long as its process: one 16-byte entry per symbol and every name
/// in one string, each followed by a newline (which a name, being part of a line, never
/// contains).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PerfMap {
    entries: Vec<Entry>,
    names: String,
    /// Lines that could not be parsed.
    pub bad_lines: usize,
}

impl PerfMap {
    /// Parses perf map text. Malformed lines are skipped and counted; a name offset beyond
    /// `u32::MAX` (text over 4 GiB) ends the map.
    pub fn parse(text: &str) -> PerfMap {
        // One entry per line at most, and a valid line (`0 1 f\n`) takes 6 bytes at least: sized
        // from the bytes present, whether they are symbols or blank lines.
        let lines = memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1;
        let capacity = lines.min(text.len() / MIN_LINE_LEN + 1);
        let mut map = PerfMap { entries: Vec::with_capacity(capacity), ..PerfMap::default() };
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let mut parts = line.trim().splitn(3, ' ');
            let parsed = (|| {
                let start = u64::from_str_radix(parts.next()?.trim_start_matches("0x"), 16).ok()?;
                let size = u64::from_str_radix(parts.next()?.trim_start_matches("0x"), 16).ok()?;
                let name = parts.next()?.trim();
                (!name.is_empty()).then_some((start, size, name))
            })();
            let Some((start, size, name)) = parsed else {
                map.bad_lines += 1;
                continue;
            };
            let Ok(offset) = u32::try_from(map.names.len()) else { break };
            map.names.push_str(name);
            map.names.push('\n');
            map.entries.push(Entry { start, size: u32::try_from(size).unwrap_or(u32::MAX), name: offset });
        }
        // Later entries win for the same start (code regions get reused by JITs): the sort is
        // stable, and of equal starts the last one's size and name are kept.
        map.entries.sort_by_key(|e| e.start);
        map.entries.dedup_by(|later, kept| {
            let same = later.start == kept.start;
            if same {
                *kept = *later;
            }
            same
        });
        map.entries.shrink_to_fit();
        map.names.shrink_to_fit();
        map
    }

    /// Reads a perf map file: only a regular file (never blocks on a FIFO), owned by root or by
    /// `owner_uid`; of a file larger than 32 MiB, the last 32 MiB from the first whole line.
    /// Returns `Ok(None)` when absent, unreadable or not a regular file, and an error when the
    /// map is refused for its owner (for a warning).
    pub fn read(path: &Path, owner_uid: Option<u32>) -> Result<Option<PerfMap>, PerfMapRefused> {
        use std::os::unix::fs::OpenOptionsExt;
        let Ok(file) =
            std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW).open(path)
        else {
            return Ok(None);
        };
        Self::read_file(file, &path.display().to_string(), owner_uid)
    }

    /// [`PerfMap::read`] of a file already open (`name` for messages).
    pub fn read_file(
        mut file: std::fs::File,
        name: &str,
        owner_uid: Option<u32>,
    ) -> Result<Option<PerfMap>, PerfMapRefused> {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = file.metadata() else { return Ok(None) };
        if !meta.is_file() {
            return Ok(None);
        }
        if let Some(expected) = owner_uid.filter(|&uid| meta.uid() != 0 && uid != meta.uid()) {
            return Err(PerfMapRefused::ForeignOwner { path: name.to_string(), owner: meta.uid(), expected });
        }
        Ok(Self::read_text(&mut file, meta.len()))
    }

    /// Reads and parses an open regular file of `len` bytes, its last 32 MiB at most.
    fn read_text(file: &mut std::fs::File, len: u64) -> Option<PerfMap> {
        let skip = len.saturating_sub(MAX_PERF_MAP_BYTES);
        if skip > 0 {
            // Back one byte, so that a cut exactly at a line start keeps that line.
            file.seek(SeekFrom::Start(skip - 1)).ok()?;
        }
        let mut bytes = Vec::with_capacity(usize::try_from(len.min(MAX_PERF_MAP_BYTES + 1)).unwrap_or(0));
        file.take(MAX_PERF_MAP_BYTES + 1).read_to_end(&mut bytes).ok()?;
        let mut text = &bytes[..];
        if skip > 0 {
            // Drop the partial line the cut fell into.
            text = memchr::memchr(b'\n', text).map_or(&[][..], |nl| &text[nl + 1..]);
        }
        Some(PerfMap::parse(&String::from_utf8_lossy(text)))
    }

    /// The symbol covering `addr`, if any.
    pub fn lookup(&self, addr: u64) -> Option<&str> {
        let idx = self.entries.partition_point(|e| e.start <= addr);
        let e = self.entries.get(idx.checked_sub(1)?)?;
        if addr - e.start >= u64::from(e.size) {
            return None;
        }
        let name = self.names.get(e.name as usize..)?;
        Some(name.split_once('\n').map_or(name, |(name, _)| name))
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the map has no symbols.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes the map holds on the heap (its entries and names).
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>() + self.names.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Valid lines resolve, malformed lines are skipped and counted, gaps resolve to nothing.
    #[test]
    fn perf_map_parses_and_looks_up() {
        let map = PerfMap::parse("1000 10 LazyCompile:*foo app.js:1\nnot a line\n2000 0x20 bar\n\n3000 zz baz\n");
        assert_eq!(map.len(), 2);
        assert_eq!(map.bad_lines, 2);
        assert_eq!(map.lookup(0x1000), Some("LazyCompile:*foo app.js:1"));
        assert_eq!(map.lookup(0x100f), Some("LazyCompile:*foo app.js:1"));
        assert_eq!(map.lookup(0x1010), None);
        assert_eq!(map.lookup(0x2010), Some("bar"));
        assert_eq!(map.lookup(0x0fff), None);
    }

    /// Of two symbols at the same start the later one wins, whatever their order elsewhere; a
    /// size above `u32::MAX` covers `u32::MAX` bytes.
    #[test]
    fn perf_map_later_symbol_at_same_start_wins() {
        let map = PerfMap::parse("1000 10 old\n500 10 other\n1000 20 new\nffff0000 100000000 huge\n");
        assert_eq!(map.len(), 3);
        assert_eq!(map.lookup(0x1015), Some("new"));
        assert_eq!(map.lookup(0x505), Some("other"));
        assert_eq!(map.lookup(0xffff_0000 + 0xffff_fffe), Some("huge"));
        assert_eq!(map.lookup(0xffff_0000 + 0xffff_ffff), None);
    }

    /// A map larger than the cap is read from its end, from its first whole line: the newest
    /// symbols are kept.
    #[test]
    fn perf_map_read_keeps_the_newest_symbols() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("perf-3.map");
        let line = |i: u64| format!("{:x} 10 f{i:07}\n", 0x1000_0000 + i * 0x10);
        let per_line = line(0).len() as u64;
        let lines = MAX_PERF_MAP_BYTES / per_line + 1000;
        let mut text = String::with_capacity((lines * per_line) as usize);
        (0..lines).for_each(|i| text.push_str(&line(i)));
        std::fs::write(&path, &text).unwrap();
        let map = PerfMap::read(&path, None).unwrap().unwrap();
        assert_eq!(map.bad_lines, 0);
        assert_eq!(map.len() as u64, MAX_PERF_MAP_BYTES / per_line);
        assert_eq!(map.lookup(0x1000_0000 + (lines - 1) * 0x10), Some(format!("f{:07}", lines - 1).as_str()));
        assert_eq!(map.lookup(0x1000_0000 + 999 * 0x10), None);
    }

    /// A map of blank lines holds nothing, and one start repeated keeps one entry (its names
    /// stay in the name string, which is never larger than the text).
    #[test]
    fn perf_map_heap_of_blank_and_repeated_lines() {
        let map = PerfMap::parse(&"\n".repeat(1 << 20));
        assert!(map.is_empty());
        assert_eq!(map.heap_bytes(), 0);
        let map = PerfMap::parse(&"0 1 f\n".repeat(1 << 16));
        assert_eq!(map.len(), 1);
        assert_eq!(map.heap_bytes(), 16 + 2 * (1 << 16));
    }

    /// An empty file is a valid, empty map, and a FIFO is refused without blocking.
    #[test]
    fn perf_map_empty_and_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("perf-1.map");
        std::fs::write(&empty, "").unwrap();
        assert!(PerfMap::read(&empty, None).unwrap().unwrap().is_empty());
        let fifo = dir.path().join("perf-2.map");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: c is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(PerfMap::read(&fifo, None), Ok(None));
    }
}
