//! Errors of the archive stage: what went wrong reading or writing a `.prof` file, in variants a
//! caller can branch on (unsupported version, corrupt input, size limits, i/o).

use std::io;
use std::path::PathBuf;

/// The part of an archive a checksum covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumPart {
    /// The fixed header (bytes 0..32).
    Header,
    /// The uncompressed body.
    Body,
}

impl std::fmt::Display for ChecksumPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ChecksumPart::Header => "header",
            ChecksumPart::Body => "body",
        })
    }
}

/// Why a `.prof` archive could not be read or written.
///
/// The file-level functions ([`read_file`](super::read_file), [`write_file`](super::write_file))
/// wrap format errors in [`ArchiveError::File`] so that the message names the file; use
/// [`ArchiveError::inner`] to branch on the underlying variant either way.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// A file system operation on `path` failed.
    #[error("cannot {action} `{}`", path.display())]
    Io {
        /// The file (or directory) the operation was on.
        path: PathBuf,
        /// What was being done: `open`, `read`, `write`, `sync`, `rename over`, ….
        action: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// Writing to the caller's writer failed (see [`write`](super::write)).
    #[error("cannot write the archive")]
    Write(#[source] io::Error),
    /// The input does not start with the archive magic `PROFARC\0`.
    #[error("not a prof archive: missing the `PROFARC` magic")]
    BadMagic,
    /// The archive was written in a format version this prof cannot read.
    #[error(
        "unsupported archive format version {found} (this prof reads versions 1 to {supported}); use a newer prof"
    )]
    UnsupportedVersion {
        /// The version in the file.
        found: u16,
        /// The newest version this build reads (the one it writes).
        supported: u16,
    },
    /// The input ends before the length its header declares.
    #[error("archive is truncated: expected {expected} bytes, found {found}")]
    Truncated {
        /// Bytes the header (or the fixed header size) requires.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The input continues after the compressed body its header declares.
    #[error("archive has trailing data: expected {expected} bytes, found {found}")]
    TrailingData {
        /// Bytes the header declares (header plus compressed body).
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// A CRC32 does not match the bytes it covers.
    #[error("archive {part} checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        /// Which checksum failed.
        part: ChecksumPart,
        /// The checksum stored in the header.
        stored: u32,
        /// The checksum of the bytes actually present.
        computed: u32,
    },
    /// The header sets flags this version does not know.
    #[error("archive uses unknown flags {flags:#06x}; use a newer prof")]
    UnknownFlags {
        /// The flags field.
        flags: u16,
    },
    /// A declared or actual size is above the limit that bounds memory use.
    #[error("{what} is too large: {size} bytes, the limit is {limit}")]
    TooLarge {
        /// What is too large: `uncompressed body`, `compressed body`, `archive file`.
        what: &'static str,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// The body is inconsistent: bad lengths, indices out of range, invalid UTF-8, ….
    #[error("archive is corrupt at body byte {offset}: {reason}")]
    Corrupt {
        /// Byte offset in the *uncompressed* body where the problem was found.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The zstd payload could not be decompressed (includes zstd's message).
    #[error("cannot decompress the archive body: {0}")]
    Decompress(io::Error),
    /// The body could not be compressed (includes zstd's message).
    #[error("cannot compress the archive body: {0}")]
    Compress(io::Error),
    /// An error about the archive at `path`; the message names the file, then the error.
    #[error("`{}`: {error}", path.display())]
    File {
        /// The archive file.
        path: PathBuf,
        /// What is wrong with it.
        error: Box<ArchiveError>,
    },
}

impl ArchiveError {
    /// The error without its file context: the inner error of [`ArchiveError::File`], else `self`.
    pub fn inner(&self) -> &ArchiveError {
        match self {
            ArchiveError::File { error, .. } => error.inner(),
            other => other,
        }
    }

    /// Adds the file name to a format error; i/o errors already name their file.
    pub(crate) fn in_file(self, path: &std::path::Path) -> ArchiveError {
        match self {
            e @ (ArchiveError::Io { .. } | ArchiveError::File { .. }) => e,
            e => ArchiveError::File { path: path.to_path_buf(), error: Box::new(e) },
        }
    }

    pub(crate) fn corrupt(offset: usize, reason: impl Into<String>) -> ArchiveError {
        ArchiveError::Corrupt { offset: offset as u64, reason: reason.into() }
    }
}
