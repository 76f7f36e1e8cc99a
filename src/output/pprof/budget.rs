//! The memory budget of reading one pprof profile ([`MAX_DECODED_MEMORY`]): what decoding the
//! protobuf message will allocate, measured on the wire before prost decodes it, and what
//! rebuilding the profile allocates, charged as it goes.
//!
//! prost grows each repeated field one element at a time, so a field of `n` elements of `size`
//! bytes takes a vector of capacity `max(4, n.next_power_of_two())`; bytes fields are allocated
//! at their length. Scalars outside repeated fields take no memory of their own.

use std::mem::size_of;

use super::{proto, PprofError, MAX_DECODED_MEMORY};

/// What a field of a message allocates when decoded.
#[derive(Clone, Copy)]
enum Field {
    /// A repeated varint field (packed or not): 8 bytes per element.
    Varints,
    /// A repeated bytes field: a `Vec<u8>` per element plus its bytes.
    Bytes,
    /// A repeated message field: `size` bytes per element plus what the element's own fields
    /// allocate.
    Messages { size: usize, fields: &'static [(u32, Field)] },
}

/// Fields of `Label`, `Line`, `ValueType`, `Mapping` and `Function`: scalars only.
const SCALARS: &[(u32, Field)] = &[];

const SAMPLE: &[(u32, Field)] = &[
    (1, Field::Varints),
    (2, Field::Varints),
    (3, Field::Messages { size: size_of::<proto::Label>(), fields: SCALARS }),
];

const LOCATION: &[(u32, Field)] = &[(4, Field::Messages { size: size_of::<proto::Line>(), fields: SCALARS })];

/// The repeated fields of `Profile` (`period_type` is not repeated: it lives inside the message).
const PROFILE: &[(u32, Field)] = &[
    (1, Field::Messages { size: size_of::<proto::ValueType>(), fields: SCALARS }),
    (2, Field::Messages { size: size_of::<proto::Sample>(), fields: SAMPLE }),
    (3, Field::Messages { size: size_of::<proto::Mapping>(), fields: SCALARS }),
    (4, Field::Messages { size: size_of::<proto::Location>(), fields: LOCATION }),
    (5, Field::Messages { size: size_of::<proto::Function>(), fields: SCALARS }),
    (6, Field::Bytes),
    (13, Field::Varints),
];

/// Memory one read may still spend, out of [`MAX_DECODED_MEMORY`].
pub(super) struct Budget<'a> {
    left: u64,
    file: &'a str,
}

impl<'a> Budget<'a> {
    /// The whole budget, for reading the input named `file`.
    pub(super) fn new(file: &'a str) -> Self {
        Budget { left: MAX_DECODED_MEMORY, file }
    }

    /// Takes `bytes` from the budget, or says that `what` would take more memory than allowed.
    pub(super) fn charge(&mut self, bytes: u64, what: impl FnOnce() -> String) -> Result<(), PprofError> {
        match self.left.checked_sub(bytes) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(self.too_much(what())),
        }
    }

    /// The error saying that `what` would take more memory than allowed.
    fn too_much(&self, what: String) -> PprofError {
        PprofError::TooMuchMemory { file: self.file.to_string(), what, limit: MAX_DECODED_MEMORY }
    }

    /// Charges what prost allocates decoding `buf` as a `Profile` message. Wire-format errors
    /// are `Decode` errors (prost would reject the same bytes).
    pub(super) fn charge_message(&mut self, buf: &[u8]) -> Result<(), PprofError> {
        let mut used = 0u64;
        let result = message(buf, PROFILE, &mut used, MAX_DECODED_MEMORY);
        let decode = |reason: String| PprofError::Decode { file: self.file.to_string(), reason };
        match result {
            Ok(()) => self.charge(used, || format!("the protobuf message ({} bytes)", buf.len())),
            Err(Wire::OverBudget) => {
                Err(self.too_much(format!("the protobuf message ({} bytes, mostly tiny repeated entries)", buf.len())))
            }
            Err(Wire::Malformed(reason)) => Err(decode(reason)),
        }
    }
}

/// Why a wire-format walk stopped.
enum Wire {
    Malformed(String),
    /// More than the limit is needed; the walk stops there.
    OverBudget,
}

/// Capacity prost's vector reaches holding `n` elements pushed one at a time.
fn capacity(n: u64) -> u64 {
    if n == 0 {
        0
    } else {
        n.checked_next_power_of_two().unwrap_or(u64::MAX).max(4)
    }
}

/// Adds to `used` what decoding the message `buf` with repeated fields `fields` allocates,
/// stopping as soon as that exceeds `limit`.
fn message(buf: &[u8], fields: &[(u32, Field)], used: &mut u64, limit: u64) -> Result<(), Wire> {
    // Elements per repeated field of this message (in the order of `fields`).
    let mut counts = [0u64; 8];
    let vectors = |counts: &[u64; 8]| {
        fields.iter().zip(counts).fold(0u64, |sum, (&(_, field), &n)| {
            let size = match field {
                Field::Varints => 8,
                Field::Bytes => size_of::<Vec<u8>>(),
                Field::Messages { size, .. } => size,
            };
            sum.saturating_add(capacity(n).saturating_mul(size as u64))
        })
    };
    let mut pos = 0;
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        let (number, wire_type) = (key >> 3, key & 7);
        let field = fields.iter().position(|&(n, _)| u64::from(n) == number);
        match wire_type {
            0 => {
                varint(buf, &mut pos)?;
                if let Some(i) = field {
                    counts[i] += 1;
                }
            }
            1 | 5 => {
                let len = if wire_type == 1 { 8 } else { 4 };
                take(buf, &mut pos, len)?;
            }
            2 => {
                let len = varint(buf, &mut pos)?;
                let len = usize::try_from(len).map_err(|_| Wire::Malformed("length too large".into()))?;
                let payload = take(buf, &mut pos, len)?;
                if let Some(i) = field {
                    match fields[i].1 {
                        // Packed: one element per byte that ends a varint.
                        Field::Varints => counts[i] += payload.iter().filter(|&&b| b < 0x80).count() as u64,
                        Field::Bytes => {
                            counts[i] += 1;
                            *used = used.saturating_add(len as u64);
                        }
                        Field::Messages { fields: nested, .. } => {
                            counts[i] += 1;
                            message(payload, nested, used, limit.saturating_sub(vectors(&counts)))?;
                        }
                    }
                }
            }
            _ => return Err(Wire::Malformed(format!("unsupported wire type {wire_type} (field {number})"))),
        }
        if used.saturating_add(vectors(&counts)) > limit {
            return Err(Wire::OverBudget);
        }
    }
    *used = used.saturating_add(vectors(&counts));
    Ok(())
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, Wire> {
    let mut value = 0u64;
    for shift in (0..70).step_by(7) {
        let &byte = buf.get(*pos).ok_or_else(|| Wire::Malformed("the message ends inside a varint".into()))?;
        *pos += 1;
        if shift < 64 {
            value |= u64::from(byte & 0x7f) << shift;
        }
        if byte < 0x80 {
            return Ok(value);
        }
    }
    Err(Wire::Malformed("a varint longer than 10 bytes".into()))
}

fn take<'b>(buf: &'b [u8], pos: &mut usize, len: usize) -> Result<&'b [u8], Wire> {
    let end = pos.checked_add(len).filter(|&e| e <= buf.len());
    let bytes =
        end.and_then(|e| buf.get(*pos..e)).ok_or_else(|| Wire::Malformed("a field runs past the end".into()))?;
    *pos += len;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    /// The walk measures at least what prost's decoded message holds, and rejects what prost
    /// rejects as malformed.
    #[test]
    fn pprof_budget_measures_the_message() {
        let p = proto::Profile {
            sample: vec![
                proto::Sample {
                    location_id: vec![1, 2, 300],
                    value: vec![5],
                    label: vec![proto::Label::default()]
                };
                5
            ],
            string_table: vec![b"".to_vec(), b"abc".to_vec()],
            comment: vec![1, 2],
            ..Default::default()
        };
        let bytes = p.encode_to_vec();
        let mut used = 0;
        assert!(message(&bytes, PROFILE, &mut used, u64::MAX).is_ok());
        let held = 8 * size_of::<proto::Sample>() as u64
            + 5 * (4 * 8 + 4 * 8 + 4 * size_of::<proto::Label>() as u64)
            + 4 * size_of::<Vec<u8>>() as u64
            + 3
            + 4 * 8;
        assert_eq!(used, held);
        let mut budget = Budget::new("t");
        assert!(matches!(budget.charge_message(&bytes[..bytes.len() - 1]), Err(PprofError::Decode { .. })));
    }
}
