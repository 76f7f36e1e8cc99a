//! What a binary's contents were when it was opened, to notice a binary rewritten in place (same
//! inode, new contents, as `cp` over it does) before naming addresses from it: its GNU build ID,
//! or its size and modification time when it has none.

use std::fs::File;
use std::os::unix::fs::MetadataExt;

use object::read::elf::{ElfFile32, ElfFile64};
use object::read::ReadCache;
use object::{Endianness, Object};

/// The identity of a binary's contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stamp {
    /// Its GNU build ID.
    BuildId(Vec<u8>),
    /// No build ID: its size and modification time (ns since the epoch).
    Modified {
        /// `st_size`.
        len: u64,
        /// `st_mtime` in ns.
        mtime_ns: i128,
    },
    /// Neither could be read.
    Unknown,
}

impl Stamp {
    /// The stamp of an open file, now.
    pub fn of(file: &File) -> Stamp {
        if let Some(id) = build_id(file) {
            return Stamp::BuildId(id);
        }
        match file.metadata() {
            Ok(m) => Stamp::Modified {
                len: m.len(),
                mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            },
            Err(_) => Stamp::Unknown,
        }
    }

    /// How `self` (then) differs from `now`, for a message; None when the contents may be the
    /// same (equal, or either unknown).
    pub fn change_to(&self, now: &Stamp) -> Option<String> {
        match (self, now) {
            (Stamp::Unknown, _) | (_, Stamp::Unknown) => None,
            (a, b) if a == b => None,
            (Stamp::BuildId(a), Stamp::BuildId(b)) => Some(format!("build ID {} then, {} now", hex(a), hex(b))),
            (Stamp::BuildId(a), _) => Some(format!("build ID {} then, none now", hex(a))),
            (_, Stamp::BuildId(b)) => Some(format!("no build ID then, {} now", hex(b))),
            _ => Some("size or modification time changed".to_string()),
        }
    }
}

/// The GNU build ID of an ELF file, if it has one.
fn build_id(file: &File) -> Option<Vec<u8>> {
    let cache = ReadCache::new(file);
    let id = match ElfFile64::<Endianness, _>::parse(&cache) {
        Ok(elf) => elf.build_id(),
        Err(_) => ElfFile32::<Endianness, _>::parse(&cache).ok()?.build_id(),
    };
    id.ok().flatten().map(<[u8]>::to_vec)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
