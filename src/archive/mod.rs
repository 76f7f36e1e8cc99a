//! The archive stage: the on-disk, versioned, zstd-compressed `.prof` format that `prof record`
//! writes and `prof report` / `prof diff` read back into a [`Profile`].
//!
//! An archive is a fixed 36-byte header (magic, version, flags, body lengths, CRC32 of the
//! uncompressed body, CRC32 of the header) followed by the zstd-compressed body, a sequence of
//! tagged, length-prefixed sections. `docs/archive-format.md` documents every byte.
//!
//! Reading never panics and uses bounded memory on any input: declared lengths are capped
//! ([`MAX_BODY_LEN`]), decompression stops at the declared length, every count is checked against
//! the bytes left before allocating and what its elements take in memory against one budget for
//! the decoded profile (2 GiB), strings must be UTF-8 and indices must be in range.

mod codec;
mod error;

pub use error::{ArchiveError, ChecksumPart};

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use crate::profile::{Metadata, Profile};

/// The first 8 bytes of every archive.
pub const MAGIC: [u8; 8] = *b"PROFARC\0";

/// The format version this build writes: 2 added each sample's cgroup (the `CGRP` section).
pub const VERSION: u16 = 2;

/// The oldest format version this build reads (version 1 archives have no cgroups).
pub const MIN_VERSION: u16 = 1;

/// Size of the fixed header in bytes.
pub const HEADER_LEN: usize = 36;

/// Largest uncompressed body a reader accepts (and a writer produces): 1 GiB.
///
/// This bounds the memory a hostile or corrupt file can make a reader allocate. Real profiles are
/// far smaller (a busy 10-minute system-wide recording is tens of MiB uncompressed), so the cap
/// only ever rejects damaged or malicious files.
pub const MAX_BODY_LEN: u64 = 1 << 30;

/// Largest compressed body a reader accepts: [`MAX_BODY_LEN`] plus 1/128, which is above zstd's
/// worst-case expansion of incompressible input (`ZSTD_COMPRESSBOUND`, about 1/256 plus 128 KiB).
pub const MAX_COMPRESSED_LEN: u64 = MAX_BODY_LEN + MAX_BODY_LEN / 128;

/// zstd level for the body.
///
/// Level 3 is zstd's default: on profile bodies (highly repetitive symbol and module names) it
/// gets most of the ratio of the higher levels while compressing at hundreds of MB/s, so writing
/// an archive at the end of `prof record` is instant; levels above ~10 cost many times the CPU
/// for a few percent smaller files.
const COMPRESSION_LEVEL: i32 = 3;

/// Smallest zstd window (log2) a reader accepts regardless of the body length: 8 MiB, above the
/// window of every standard level up to 19 for our body sizes, so third-party writers work.
const MIN_WINDOW_LOG: u32 = 23;

/// Largest zstd window (log2) a reader accepts: 128 MiB, zstd's own default decoder limit. Bounds
/// the decoder's memory whatever the frame header claims.
const MAX_WINDOW_LOG: u32 = 27;

/// Header field offsets (see `docs/archive-format.md`).
const OFF_VERSION: usize = 8;
const OFF_FLAGS: usize = 10;
const OFF_BODY_LEN: usize = 12;
const OFF_COMPRESSED_LEN: usize = 20;
const OFF_BODY_CRC: usize = 28;
const OFF_HEADER_CRC: usize = 32;

/// Writes `profile` as an archive into `w` (the whole archive is built in memory first, since
/// the header holds the body's lengths and checksum).
///
/// The profile must be consistent, as [`ProfileBuilder`](crate::profile::ProfileBuilder) makes
/// it: every frame and stack index in range. Readers reject archives where one is not.
pub fn write(profile: &Profile, mut w: impl Write) -> Result<(), ArchiveError> {
    let body = codec::encode_body(profile, MAX_BODY_LEN)?;
    // Two zstd frames: the `META` section alone, then the rest. They decompress, concatenated,
    // to the body (any reader of the format handles that), and a listing reads the metadata by
    // inflating only the small first frame ([`read_meta_file`]).
    let split = codec::meta_section_len(&body).min(body.len());
    let mut compressed = zstd::bulk::compress(&body[..split], COMPRESSION_LEVEL).map_err(ArchiveError::Compress)?;
    if split < body.len() {
        let rest = zstd::bulk::compress(&body[split..], COMPRESSION_LEVEL).map_err(ArchiveError::Compress)?;
        compressed.extend_from_slice(&rest);
    }
    let compressed_len = compressed.len() as u64;
    if compressed_len > MAX_COMPRESSED_LEN {
        return Err(ArchiveError::TooLarge {
            what: "compressed body",
            size: compressed_len,
            limit: MAX_COMPRESSED_LEN,
        });
    }
    let header = encode_header(body.len() as u64, compressed_len, crc32fast::hash(&body));
    w.write_all(&header).map_err(ArchiveError::Write)?;
    w.write_all(&compressed).map_err(ArchiveError::Write)?;
    w.flush().map_err(ArchiveError::Write)
}

/// Writes `profile` to `path` atomically: into a temporary file in the same directory, made
/// private (mode 0600) and synced to disk, then renamed over `path` (and the directory synced).
/// On error `path` is untouched and the temporary file is removed. I/o errors name `path`.
pub fn write_file(profile: &Profile, path: &Path) -> Result<(), ArchiveError> {
    use crate::atomic_file::{write_atomic, AtomicWriteError, Durability};
    write_atomic(path, Durability::FileAndDirectory, 0o600, |w| write(profile, w)).map_err(|e| match e {
        AtomicWriteError::Io { path, action, source } => ArchiveError::Io { path, action, source },
        AtomicWriteError::Fill(ArchiveError::Write(source)) => {
            ArchiveError::Io { path: path.to_path_buf(), action: "write", source }
        }
        AtomicWriteError::Fill(e) => e.in_file(path),
    })
}

/// The checked fields of an archive's fixed header.
struct Header {
    body_len: u64,
    compressed_len: u64,
    body_crc: u32,
}

/// Checks the fixed header at the start of `bytes` (magic, version, header CRC, flags, length
/// caps) and that the file is exactly `36 + compressed_len` bytes (`file_len`).
fn check_header(bytes: &[u8], file_len: u64) -> Result<Header, ArchiveError> {
    let truncated = |expected: usize| ArchiveError::Truncated { expected: expected as u64, found: file_len };
    if bytes.len() < MAGIC.len() {
        return Err(if MAGIC.starts_with(bytes) { truncated(HEADER_LEN) } else { ArchiveError::BadMagic });
    }
    if !is_archive(bytes) {
        return Err(ArchiveError::BadMagic);
    }
    // The magic and version are the only fields every format version keeps in place, so the
    // version is checked before anything else of the header is interpreted.
    let version = u16::from_le_bytes(field(bytes, OFF_VERSION).ok_or_else(|| truncated(HEADER_LEN))?);
    if !(MIN_VERSION..=VERSION).contains(&version) {
        return Err(ArchiveError::UnsupportedVersion { found: version, supported: VERSION });
    }
    let Some(header) = bytes.get(..HEADER_LEN) else {
        return Err(truncated(HEADER_LEN));
    };
    let stored = u32::from_le_bytes(header_field(header, OFF_HEADER_CRC)?);
    let computed = crc32fast::hash(&header[..OFF_HEADER_CRC]);
    if stored != computed {
        return Err(ArchiveError::ChecksumMismatch { part: ChecksumPart::Header, stored, computed });
    }
    let flags = u16::from_le_bytes(header_field(header, OFF_FLAGS)?);
    if flags != 0 {
        return Err(ArchiveError::UnknownFlags { flags });
    }
    let body_len = u64::from_le_bytes(header_field(header, OFF_BODY_LEN)?);
    if body_len > MAX_BODY_LEN {
        return Err(ArchiveError::TooLarge { what: "uncompressed body", size: body_len, limit: MAX_BODY_LEN });
    }
    let compressed_len = u64::from_le_bytes(header_field(header, OFF_COMPRESSED_LEN)?);
    if compressed_len > MAX_COMPRESSED_LEN {
        return Err(ArchiveError::TooLarge {
            what: "compressed body",
            size: compressed_len,
            limit: MAX_COMPRESSED_LEN,
        });
    }
    let body_crc = u32::from_le_bytes(header_field(header, OFF_BODY_CRC)?);
    // Both lengths are capped far below u64::MAX, so this cannot overflow.
    let expected = HEADER_LEN as u64 + compressed_len;
    if file_len < expected {
        return Err(ArchiveError::Truncated { expected, found: file_len });
    }
    if file_len > expected {
        return Err(ArchiveError::TrailingData { expected, found: file_len });
    }
    Ok(Header { body_len, compressed_len, body_crc })
}

/// Reads an archive from memory, checking the header, both checksums and every length and index
/// (see `docs/archive-format.md` for the order of the checks).
pub fn read(bytes: &[u8]) -> Result<Profile, ArchiveError> {
    let header = check_header(bytes, bytes.len() as u64)?;
    debug_assert_eq!(bytes.len() as u64, HEADER_LEN as u64 + header.compressed_len);
    let payload = bytes.get(HEADER_LEN..).unwrap_or_default();
    let body = decompress(payload, header.body_len)?;
    let computed = crc32fast::hash(&body);
    if computed != header.body_crc {
        return Err(ArchiveError::ChecksumMismatch { part: ChecksumPart::Body, stored: header.body_crc, computed });
    }
    codec::decode_body(&body)
}

/// Reads only the metadata of the archive at `path`: the header is checked as by
/// [`read_file`], then the body is decompressed only as far as its `META` section. Listing a
/// directory of thousands of archives (`prof report DIR --list`, `prof serve`) costs one small
/// read per file instead of a full decode. The body checksum covers the whole body, so it is not
/// verified here: [`read_file`] verifies it when the profile itself is read.
pub fn read_meta_file(path: &Path) -> Result<Metadata, ArchiveError> {
    let io_err = |action| move |source| ArchiveError::Io { path: path.to_path_buf(), action, source };
    let mut file = File::open(path).map_err(io_err("open"))?;
    let file_len = file.metadata().map_err(io_err("stat"))?.len();
    let mut head = Vec::with_capacity(HEADER_LEN);
    (&mut file).take(HEADER_LEN as u64).read_to_end(&mut head).map_err(io_err("read"))?;
    let header = check_header(&head, file_len).map_err(|e| e.in_file(path))?;
    let mut decoder = zstd::stream::read::Decoder::new(file.take(header.compressed_len))
        .map_err(|e| ArchiveError::Decompress(e).in_file(path))?;
    decoder.window_log_max(window_log(header.body_len)).map_err(|e| ArchiveError::Decompress(e).in_file(path))?;
    let mut body = decoder.take(header.body_len);
    codec::decode_meta_from(&mut body, header.body_len).map_err(|e| e.in_file(path))
}

/// Reads the archive at `path`; errors name the file.
pub fn read_file(path: &Path) -> Result<Profile, ArchiveError> {
    let io_err = |action| move |source| ArchiveError::Io { path: path.to_path_buf(), action, source };
    let file = File::open(path).map_err(io_err("open"))?;
    let limit = HEADER_LEN as u64 + MAX_COMPRESSED_LEN;
    let len = file.metadata().map_err(io_err("stat"))?.len();
    let too_large = |size| ArchiveError::TooLarge { what: "archive file", size, limit }.in_file(path);
    if len > limit {
        return Err(too_large(len));
    }
    // `len <= limit` (about 1 GiB), so it fits in usize on 64-bit; on 32-bit, capacity is a hint.
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io_err("read"))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    read(&bytes).map_err(|e| e.in_file(path))
}

/// True when `bytes_prefix` (the first bytes of a file, at least 8) starts with the archive
/// magic; used to tell archives from folded-stack text files.
pub fn is_archive(bytes_prefix: &[u8]) -> bool {
    bytes_prefix.starts_with(&MAGIC)
}

/// Builds the fixed header for a body of `body_len` bytes compressed to `compressed_len` bytes.
fn encode_header(body_len: u64, compressed_len: u64, body_crc: u32) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..OFF_VERSION].copy_from_slice(&MAGIC);
    h[OFF_VERSION..OFF_FLAGS].copy_from_slice(&VERSION.to_le_bytes());
    h[OFF_FLAGS..OFF_BODY_LEN].copy_from_slice(&0u16.to_le_bytes());
    h[OFF_BODY_LEN..OFF_COMPRESSED_LEN].copy_from_slice(&body_len.to_le_bytes());
    h[OFF_COMPRESSED_LEN..OFF_BODY_CRC].copy_from_slice(&compressed_len.to_le_bytes());
    h[OFF_BODY_CRC..OFF_HEADER_CRC].copy_from_slice(&body_crc.to_le_bytes());
    let header_crc = crc32fast::hash(&h[..OFF_HEADER_CRC]);
    h[OFF_HEADER_CRC..].copy_from_slice(&header_crc.to_le_bytes());
    h
}

/// The `N` bytes at `off` in the fixed header.
fn header_field<const N: usize>(header: &[u8], off: usize) -> Result<[u8; N], ArchiveError> {
    field(header, off).ok_or(ArchiveError::Truncated { expected: HEADER_LEN as u64, found: header.len() as u64 })
}

/// The `N` bytes at `off`, if present.
fn field<const N: usize>(bytes: &[u8], off: usize) -> Option<[u8; N]> {
    bytes.get(off..off.checked_add(N)?)?.try_into().ok()
}

/// Decompresses `payload`, which must inflate to exactly `body_len` bytes. Never produces (or
/// allocates for) more than `body_len + 1` bytes, whatever the zstd frames claim.
fn decompress(payload: &[u8], body_len: u64) -> Result<Vec<u8>, ArchiveError> {
    let mut decoder = zstd::stream::read::Decoder::with_buffer(payload).map_err(ArchiveError::Decompress)?;
    decoder.window_log_max(window_log(body_len)).map_err(ArchiveError::Decompress)?;
    // Grow as data actually arrives rather than trusting the declared length up front.
    let mut body = Vec::with_capacity(usize::try_from(body_len.min(1 << 20)).unwrap_or(0));
    decoder.take(body_len + 1).read_to_end(&mut body).map_err(ArchiveError::Decompress)?;
    let actual = body.len() as u64;
    if actual > body_len {
        return Err(ArchiveError::Corrupt {
            offset: body_len,
            reason: format!("the compressed body inflates beyond the declared {body_len} bytes"),
        });
    }
    if actual < body_len {
        return Err(ArchiveError::Corrupt {
            offset: actual,
            reason: format!("the body ends after {actual} bytes, the header declares {body_len}"),
        });
    }
    Ok(body)
}

/// The largest zstd window (log2) accepted for a body of `body_len` bytes: the body length
/// rounded up to a power of two, within [`MIN_WINDOW_LOG`]..=[`MAX_WINDOW_LOG`].
fn window_log(body_len: u64) -> u32 {
    let bits = u64::BITS - body_len.saturating_sub(1).leading_zeros();
    bits.clamp(MIN_WINDOW_LOG, MAX_WINDOW_LOG)
}
