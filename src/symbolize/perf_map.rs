//! JIT symbol maps (`/tmp/perf-PID.map`): `START SIZE name` lines in hex, written by JIT
//! runtimes (V8/node --perf-basic-prof, the JVM with perf-map-agent, LuaJIT, …).

use std::io::Read;
use std::path::Path;

/// Largest perf map read; larger files are read up to this size.
const MAX_PERF_MAP_BYTES: u64 = 256 * 1024 * 1024;

/// The symbols of one perf map, sorted by start address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PerfMap {
    entries: Vec<(u64, u64, String)>,
    /// Lines that could not be parsed.
    pub bad_lines: usize,
}

impl PerfMap {
    /// Parses perf map text. Malformed lines are skipped and counted.
    pub fn parse(text: &str) -> PerfMap {
        let mut map = PerfMap::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let mut parts = line.trim().splitn(3, ' ');
            let parsed = (|| {
                let start = u64::from_str_radix(parts.next()?.trim_start_matches("0x"), 16).ok()?;
                let size = u64::from_str_radix(parts.next()?.trim_start_matches("0x"), 16).ok()?;
                let name = parts.next()?.trim();
                (!name.is_empty()).then(|| (start, start.saturating_add(size), name.to_string()))
            })();
            match parsed {
                Some(e) => map.entries.push(e),
                None => map.bad_lines += 1,
            }
        }
        // Later entries win for the same start (code regions get reused by JITs).
        map.entries.sort_by_key(|e| e.0);
        map
    }

    /// Reads a perf map file: only a regular file (never blocks on a FIFO), owned by root or by
    /// `owner_uid`. Returns None when absent or refused.
    pub fn read(path: &Path, owner_uid: Option<u32>) -> Option<PerfMap> {
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
        let file =
            std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW).open(path).ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() {
            return None;
        }
        if meta.uid() != 0 && owner_uid.is_some_and(|uid| uid != meta.uid()) {
            return None;
        }
        let mut text = String::new();
        let mut bytes = Vec::new();
        file.take(MAX_PERF_MAP_BYTES).read_to_end(&mut bytes).ok()?;
        text.push_str(&String::from_utf8_lossy(&bytes));
        Some(PerfMap::parse(&text))
    }

    /// The symbol covering `addr`, if any.
    pub fn lookup(&self, addr: u64) -> Option<&str> {
        let idx = self.entries.partition_point(|e| e.0 <= addr);
        let (start, end, name) = self.entries.get(idx.checked_sub(1)?)?;
        (*start <= addr && addr < *end).then_some(name.as_str())
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the map has no symbols.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
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

    /// An empty file is a valid, empty map, and a FIFO is refused without blocking.
    #[test]
    fn perf_map_empty_and_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("perf-1.map");
        std::fs::write(&empty, "").unwrap();
        assert!(PerfMap::read(&empty, None).unwrap().is_empty());
        let fifo = dir.path().join("perf-2.map");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: c is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(PerfMap::read(&fifo, None).is_none());
    }
}
