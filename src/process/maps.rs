//! Parsing `/proc/PID/maps`: the executable mappings of a process, captured when the process is
//! first seen so that it can be symbolized after it exits.

/// One executable mapping of a process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Offset of `start` in the file.
    pub offset: u64,
    /// Device of the file (as `st_dev`), 0 for anonymous mappings.
    pub dev: u64,
    /// Inode of the file, 0 for anonymous mappings.
    pub inode: u64,
    /// Path as the kernel shows it (may end in ` (deleted)`), or a pseudo name such as
    /// `[vdso]`; empty for anonymous mappings (JIT code).
    pub path: String,
}

impl Mapping {
    /// True when `addr` falls inside the mapping.
    pub fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }

    /// True for a mapping backed by a file (not anonymous, not `[vdso]` and friends).
    pub fn is_file(&self) -> bool {
        self.inode != 0 && self.path.starts_with('/')
    }

    /// True when the file was deleted after being mapped.
    pub fn is_deleted(&self) -> bool {
        self.path.ends_with(" (deleted)")
    }

    /// The module name shown in frames: the file name, keeping a ` (deleted)` mark.
    pub fn module_name(&self) -> String {
        if self.path.is_empty() {
            return "[anon]".to_string();
        }
        match self.path.rsplit_once('/') {
            Some((_, name)) if !name.is_empty() => name.to_string(),
            _ => self.path.clone(),
        }
    }
}

/// Parses the text of a maps file, keeping executable mappings only. Malformed lines are skipped.
pub fn parse_maps(text: &str) -> Vec<Mapping> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Mapping> {
    // 55d0c3a00000-55d0c3a02000 r-xp 00002000 fd:01 1234567     /usr/bin/foo (deleted)
    let mut fields = line.splitn(6, ' ');
    let range = fields.next()?;
    let perms = fields.next()?;
    let offset = fields.next()?;
    let dev = fields.next()?;
    let inode = fields.next()?;
    let path = fields.next().unwrap_or("").trim_start().to_string();
    if perms.as_bytes().get(2) != Some(&b'x') {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    let (major, minor) = dev.split_once(':')?;
    let major = u32::from_str_radix(major, 16).ok()?;
    let minor = u32::from_str_radix(minor, 16).ok()?;
    Some(Mapping {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        offset: u64::from_str_radix(offset, 16).ok()?,
        dev: libc::makedev(major, minor),
        inode: inode.parse().ok()?,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
55d0c3a00000-55d0c3a01000 r--p 00000000 fd:01 1234567                    /usr/bin/foo
55d0c3a01000-55d0c3a02000 r-xp 00001000 fd:01 1234567                    /usr/bin/foo
7f0000000000-7f0000001000 r-xp 00000000 00:00 0 
7f1000000000-7f1000100000 r-xp 00028000 fd:01 42                         /tmp/x (deleted)
7ffd1a5f0000-7ffd1a5f2000 r-xp 00000000 00:00 0                          [vdso]
garbage line
";

    /// Only executable mappings are kept, with offsets, devices, inodes and deleted marks.
    #[test]
    fn maps_parse_executable_mappings() {
        let maps = parse_maps(MAPS);
        assert_eq!(maps.len(), 4);
        assert_eq!(maps[0].start, 0x55d0c3a01000);
        assert_eq!(maps[0].offset, 0x1000);
        assert_eq!(maps[0].inode, 1234567);
        assert_eq!(maps[0].dev, libc::makedev(0xfd, 1));
        assert_eq!(maps[0].module_name(), "foo");
        assert!(maps[0].is_file());
        assert_eq!(maps[1].path, "");
        assert!(!maps[1].is_file());
        assert!(maps[2].is_deleted());
        assert_eq!(maps[2].module_name(), "x (deleted)");
        assert_eq!(maps[3].path, "[vdso]");
        assert!(!maps[3].is_file());
    }
}
