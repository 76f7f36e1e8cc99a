//! A code object's line table: from an instruction's index to its source line. Two formats:
//! the location table of 3.11+ (CPython's `Objects/locations.md`: entries of a first byte
//! with the high bit set, a code and a length in code units, then varints) and the line
//! table of 3.10 (`Objects/lnotab_notes.txt`: pairs of a byte-offset delta and a signed line
//! delta, -128 for no line). Both are read as the target wrote them: any byte sequence ends
//! in an answer or None, never a panic or a loop past its end.

/// Which format a line table is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// 3.10's `co_linetable`: (byte delta, line delta) pairs.
    Pairs,
    /// 3.11+'s location table.
    Locations,
}

/// Location-table code: the entry has no location.
const LOC_NONE: u8 = 15;
/// Location-table code: line delta, end line, columns as varints.
const LOC_LONG: u8 = 14;
/// Location-table code: line delta only.
const LOC_NO_COLUMNS: u8 = 13;
/// 3.10 line delta marking a range without a line.
const NO_LINE: i8 = -128;

/// The source line of the instruction at `index` (in 2-byte code units), given the table and
/// the code object's first line. None when the instruction has no line, lies past the table,
/// or the table is malformed.
pub fn line_of(format: Format, table: &[u8], first_line: i32, index: u32) -> Option<u32> {
    let line = match format {
        Format::Pairs => pairs_line(table, i64::from(first_line), u64::from(index) * 2),
        Format::Locations => locations_line(table, i64::from(first_line), u64::from(index)),
    }?;
    u32::try_from(line).ok()
}

fn pairs_line(table: &[u8], mut line: i64, offset: u64) -> Option<i64> {
    let mut end = 0u64;
    for pair in table.chunks_exact(2) {
        let start = end;
        end += u64::from(pair[0]);
        let delta = pair[1] as i8;
        let here = if delta == NO_LINE {
            None
        } else {
            line += i64::from(delta);
            Some(line)
        };
        if start <= offset && offset < end {
            return here;
        }
    }
    None
}

fn locations_line(table: &[u8], mut line: i64, index: u64) -> Option<i64> {
    let mut pos = 0usize;
    let mut addr = 0u64;
    while let Some(&first) = table.get(pos) {
        if first & 0x80 == 0 {
            return None;
        }
        let code = (first >> 3) & 15;
        let len = u64::from(first & 7) + 1;
        let delta = match code {
            LOC_LONG | LOC_NO_COLUMNS => signed_varint(table.get(pos + 1..)?)?,
            10..=12 => i64::from(code - 10),
            _ => 0,
        };
        line += delta;
        if addr <= index && index < addr + len {
            return (code != LOC_NONE).then_some(line);
        }
        addr += len;
        pos += 1;
        while table.get(pos).is_some_and(|b| b & 0x80 == 0) {
            pos += 1;
        }
    }
    None
}

/// A location table's unsigned varint: 6 bits a byte, bit 6 set while more follow.
fn varint(bytes: &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate() {
        if i >= 10 {
            return None;
        }
        value |= u64::from(b & 63) << (6 * i);
        if b & 64 == 0 {
            return Some(value);
        }
    }
    None
}

/// A location table's signed varint: the low bit is the sign of the rest.
fn signed_varint(bytes: &[u8]) -> Option<i64> {
    let v = varint(bytes)?;
    let magnitude = i64::try_from(v >> 1).ok()?;
    Some(if v & 1 != 0 { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3.11 location table: short, one-line, no-column (negative delta), long and
    /// no-location entries, each spanning its length in code units.
    #[test]
    fn linetable_locations_entries() {
        let table = [
            0x80 | (13 << 3) | 1, // no columns, 2 units, line +2 (varint 4)
            4,
            0x80 | (11 << 3), // one line, 1 unit, line +1
            5,
            9,
            0x80 | (3 << 3) | 2, // short form, 3 units, same line
            7,
            0x80 | (13 << 3), // no columns, 1 unit, line -1 (varint 3)
            3,
            0x80 | (14 << 3), // long, 1 unit, line +40 (varint 80: 0x50 = 16 | 64 cont, then 1)
            16 | 64,
            1,
            0,
            1,
            1,
            0x80 | (15 << 3) | 1, // no location, 2 units
        ];
        let line = |i| line_of(Format::Locations, &table, 10, i);
        assert_eq!(line(0), Some(12));
        assert_eq!(line(1), Some(12));
        assert_eq!(line(2), Some(13));
        assert_eq!(line(5), Some(13));
        assert_eq!(line(6), Some(12));
        assert_eq!(line(7), Some(52));
        assert_eq!(line(8), None);
        assert_eq!(line(10), None, "past the table");
    }

    /// A 3.10 line table: byte deltas accumulate, -128 marks a range without a line, empty
    /// ranges carry a line change only.
    #[test]
    fn linetable_pairs_entries() {
        let table = [6u8, 1, 0, 2, 4, 0x80, 8, (-1i8) as u8];
        let line = |i| line_of(Format::Pairs, &table, 1, i);
        assert_eq!(line(0), Some(2));
        assert_eq!(line(2), Some(2));
        assert_eq!(line(3), None);
        assert_eq!(line(5), Some(3));
        assert_eq!(line(9), None);
    }

    /// Malformed tables (no entry byte, a varint running off the end or too long) give None.
    #[test]
    fn linetable_malformed_is_none() {
        assert_eq!(line_of(Format::Locations, &[0x05], 1, 0), None);
        assert_eq!(line_of(Format::Locations, &[0x80 | (13 << 3), 64], 1, 0), None);
        assert_eq!(
            line_of(Format::Locations, &[0x80 | (14 << 3), 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64], 1, 0),
            None
        );
        assert_eq!(line_of(Format::Locations, &[], 1, 0), None);
        assert_eq!(line_of(Format::Pairs, &[1], 1, 0), None);
        assert_eq!(line_of(Format::Locations, &[0x80 | (13 << 3), 3], 0, 0), None, "line below 0");
    }
}
