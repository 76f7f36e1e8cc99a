//! Reading CPython objects out of another process: `str` (compact ASCII, Latin-1, UCS-2 and
//! UCS-4 forms), `bytes`, and the name of an object's type. Lengths are capped and characters
//! a terminal would act on are replaced: the target process chose these bytes.

use super::memory::Memory;
use super::offsets::{Offsets, BYTES_DATA, OBJECT_TYPE, TYPE_NAME, UNICODE_STATE, VAR_SIZE};

/// The longest string read (characters): more than any path or qualified name needs, little
/// enough that a hostile length costs nothing.
pub const MAX_STRING_CHARS: u64 = 4096;

/// The longest `bytes` object read (a code object's line table): a function of 10,000 lines
/// needs about 40 KiB.
pub const MAX_BYTES: u64 = 1 << 20;

/// The longest type name compared (`code`, `str`).
const MAX_TYPE_NAME: usize = 16;

/// The `str` object at `addr`, or None when it is not a readable compact string within
/// [`MAX_STRING_CHARS`]. Control characters become `?`.
pub fn read_str(mem: &dyn Memory, offsets: &Offsets, addr: u64) -> Option<String> {
    let len = mem.field(addr, VAR_SIZE)?;
    if len > MAX_STRING_CHARS {
        return None;
    }
    let state = mem.u32_at(addr.checked_add(UNICODE_STATE)?)?;
    let kind = (state >> 2) & 7;
    let compact = state & (1 << 5) != 0;
    let ascii = state & (1 << 6) != 0;
    if !compact {
        return None;
    }
    let (data, width) = match (ascii, kind) {
        (true, 1) => (u64::from(offsets.unicode_ascii_data), 1),
        (false, 1 | 2 | 4) => (u64::from(offsets.unicode_compact_data), kind as usize),
        _ => return None,
    };
    let mut buf = vec![0u8; len as usize * width];
    if !mem.read(addr.checked_add(data)?, &mut buf) {
        return None;
    }
    let chars = buf.chunks_exact(width).map(|c| {
        let code = c.iter().rev().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
        char::from_u32(code).filter(|c| !c.is_control()).unwrap_or('?')
    });
    Some(chars.collect())
}

/// The contents of the `bytes` object at `addr`, at most [`MAX_BYTES`].
pub fn read_bytes(mem: &dyn Memory, addr: u64) -> Option<Vec<u8>> {
    let len = mem.field(addr, VAR_SIZE)?;
    if len > MAX_BYTES {
        return None;
    }
    let mut buf = vec![0u8; len as usize];
    mem.read(addr.checked_add(BYTES_DATA)?, &mut buf).then_some(buf)
}

/// The address of the type of the object at `addr`.
pub fn type_of(mem: &dyn Memory, addr: u64) -> Option<u64> {
    mem.field(addr, OBJECT_TYPE)
}

/// True when the type at `type_addr` is named `name` (its `tp_name`, a C string).
pub fn type_is_named(mem: &dyn Memory, type_addr: u64, name: &str) -> bool {
    let Some(name_addr) = mem.field(type_addr, TYPE_NAME) else { return false };
    let mut buf = [0u8; MAX_TYPE_NAME];
    let want = name.as_bytes();
    if want.len() >= MAX_TYPE_NAME {
        return false;
    }
    // Read the name and its terminating NUL only: the string may end just before a page
    // that is not mapped.
    let got = &mut buf[..=want.len()];
    mem.read(name_addr, got) && &got[..want.len()] == want && got[want.len()] == 0
}

#[cfg(test)]
mod tests {
    use super::super::memory::fake::FakeMemory;
    use super::super::offsets::{for_version, Version};
    use super::*;

    fn v311() -> &'static Offsets {
        for_version(Version { major: 3, minor: 11 }).unwrap()
    }

    /// A compact string object: header with length and state, characters at `data`.
    fn str_object(len: u64, state: u32, data: u64, chars: &[u8]) -> Vec<u8> {
        let mut obj = vec![0u8; data as usize];
        obj[16..24].copy_from_slice(&len.to_le_bytes());
        obj[32..36].copy_from_slice(&state.to_le_bytes());
        obj.extend_from_slice(chars);
        obj
    }

    /// ASCII, UCS-2 strings decode; controls are replaced; a hostile length, a non-compact
    /// string and an unknown kind are refused.
    #[test]
    fn objects_read_str_forms_and_refuse_hostile() {
        let o = v311();
        let mut mem = FakeMemory::default();
        let ascii = (1 << 2) | (1 << 5) | (1 << 6);
        mem.put(0x1000, str_object(5, ascii, 48, b"ab\x1bcd"));
        let ucs2 = (2 << 2) | (1 << 5);
        mem.put(0x2000, str_object(2, ucs2, 72, &[0xe9, 0x00, 0x3b, 0x04]));
        mem.put(0x3000, str_object(MAX_STRING_CHARS + 1, ascii, 48, b""));
        mem.put(0x4000, str_object(1, 1 << 2, 48, b"x"));
        mem.put(0x5000, str_object(1, (3 << 2) | (1 << 5), 72, b"xxxx"));
        mem.put(0x6000, str_object(1000, ascii, 48, b"short"));
        assert_eq!(read_str(&mem, o, 0x1000).as_deref(), Some("ab?cd"));
        assert_eq!(read_str(&mem, o, 0x2000).as_deref(), Some("éл"));
        assert_eq!(read_str(&mem, o, 0x3000), None, "length over the cap");
        assert_eq!(read_str(&mem, o, 0x4000), None, "not compact");
        assert_eq!(read_str(&mem, o, 0x5000), None, "kind 3");
        assert_eq!(read_str(&mem, o, 0x6000), None, "length beyond readable memory");
        assert_eq!(read_str(&mem, o, u64::MAX - 8), None);
    }

    /// A bytes object reads within its length; a length over the cap is refused.
    #[test]
    fn objects_read_bytes_capped() {
        let mut mem = FakeMemory::default();
        let mut obj = vec![0u8; 32];
        obj[16..24].copy_from_slice(&3u64.to_le_bytes());
        obj.extend_from_slice(b"xyz");
        mem.put(0x1000, obj.clone());
        obj[16..24].copy_from_slice(&(MAX_BYTES + 1).to_le_bytes());
        mem.put(0x2000, obj);
        assert_eq!(read_bytes(&mem, 0x1000).as_deref(), Some(&b"xyz"[..]));
        assert_eq!(read_bytes(&mem, 0x2000), None);
    }
}
