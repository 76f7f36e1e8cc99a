//! The kernel's unwind-table rows, in chunks that exist only while a table uses them.
//!
//! Rows are addressed by one index space (the [`crate::unwind::alloc::RangeAlloc`] of the table
//! manager hands out ranges of it); the BPF program finds row `i` in entry `i % CHUNK_ROWS` of
//! chunk `i / CHUNK_ROWS`, an array map in the `unwind_rows` array of maps. A chunk is created
//! when the first table is written into it and freed when the last one in it is released, so the
//! kernel memory follows the binaries actually mapped (one chunk is 512 KiB) instead of a fixed
//! array sized for the largest binary anyone might run.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::os::fd::AsFd;

use libbpf_rs::{MapCore, MapFlags, MapHandle, MapType};

use super::skel::types;
use super::unwind_maps::{decode_row, encode_row, ArrayMmap};
use crate::unwind::UnwindRow;

/// Rows per chunk (`PROF_ROW_CHUNK_ROWS`).
pub const CHUNK_ROWS: u32 = 1 << 16;
/// The most rows the walker can address (`PROF_MAX_UNWIND_ROWS`: 25 binary-search steps).
pub const MAX_ROWS: u32 = 1 << 25;
/// Bytes of one chunk in the kernel.
pub const CHUNK_BYTES: u64 = CHUNK_ROWS as u64 * std::mem::size_of::<types::prof_unwind_row>() as u64;

/// One chunk: its map (the descriptor keeps it alive with the outer map's reference), its rows
/// mapped into this process, and how many rows of stored tables it holds.
struct Chunk {
    rows: ArrayMmap<types::prof_unwind_row>,
    _map: MapHandle,
    used: u32,
}

/// The chunks of the row index space `0..capacity`.
pub struct RowChunks {
    capacity: u32,
    chunks: BTreeMap<u32, Chunk>,
    /// The most chunks that existed at once.
    peak: usize,
}

impl std::fmt::Debug for RowChunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowChunks").field("capacity", &self.capacity).field("chunks", &self.chunks.len()).finish()
    }
}

/// Why rows could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    /// Unwinding by tables is off (`--unwind fp`): there are no chunks.
    #[error("unwind tables are off (--unwind fp)")]
    Off,
    /// The range is outside `0..capacity`.
    #[error("rows {first}..{end} are outside the {capacity} rows the walker can address")]
    OutOfRange {
        /// First row.
        first: u32,
        /// One past the last row.
        end: u64,
        /// The row index space.
        capacity: u32,
    },
    /// Creating, mapping or installing a chunk failed (memory accounting, usually).
    #[error("failed to create an unwind-row chunk of {} KiB", CHUNK_BYTES / 1024)]
    Create(#[source] std::io::Error),
}

/// Chunks needed for `rows` rows (the outer map's size).
pub fn chunks_for(rows: u32) -> u32 {
    rows.div_ceil(CHUNK_ROWS).max(1)
}

impl RowChunks {
    /// No chunk yet; `capacity` rows addressable (rounded up to whole chunks, at most
    /// [`MAX_ROWS`]).
    pub fn new(capacity: u32) -> RowChunks {
        let capacity = (chunks_for(capacity.min(MAX_ROWS)) * CHUNK_ROWS).min(MAX_ROWS);
        RowChunks { capacity, chunks: BTreeMap::new(), peak: 0 }
    }

    /// Creates the first chunk before any table needs it: installing a chunk in `outer` waits
    /// for an RCU grace period (15-25 ms here), which would otherwise fall between the first
    /// process's capture and the kernel learning its mappings (its samples meanwhile walk with
    /// frame pointers only). On error the first write tries again and reports it.
    pub fn create_first(&mut self, outer: &impl MapCore) -> Result<(), ChunkError> {
        self.chunk(outer, 0).map(|_| ())
    }

    /// Rows addressable.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Kernel memory of the chunks that exist now.
    pub fn bytes(&self) -> u64 {
        self.chunks.len() as u64 * CHUNK_BYTES
    }

    /// The most kernel memory the chunks took at once.
    pub fn peak_bytes(&self) -> u64 {
        self.peak as u64 * CHUNK_BYTES
    }

    /// Writes `rows` at `first`, creating the chunks they fall in; `outer` is the program's
    /// `unwind_rows` array of maps. On error nothing is counted as stored.
    pub fn write(&mut self, outer: &impl MapCore, first: u32, rows: &[UnwindRow]) -> Result<(), ChunkError> {
        let end = u64::from(first) + rows.len() as u64;
        if end > u64::from(self.capacity) {
            return Err(ChunkError::OutOfRange { first, end, capacity: self.capacity });
        }
        let mut done = 0usize;
        while done < rows.len() {
            let at = first + done as u32;
            let (index, offset) = (at / CHUNK_ROWS, at % CHUNK_ROWS);
            let n = ((CHUNK_ROWS - offset) as usize).min(rows.len() - done);
            let chunk = match self.chunk(outer, index) {
                Ok(c) => c,
                Err(e) => {
                    self.release(outer, first, done as u32);
                    return Err(e);
                }
            };
            // The chunk was sized CHUNK_ROWS and offset + n <= CHUNK_ROWS: this cannot fail.
            chunk.rows.write(offset, rows[done..done + n].iter().map(encode_row));
            chunk.used += n as u32;
            done += n;
        }
        Ok(())
    }

    /// Row `index` as stored, if its chunk exists.
    pub fn read(&self, index: u32) -> Option<UnwindRow> {
        let chunk = self.chunks.get(&(index / CHUNK_ROWS))?;
        chunk.rows.read(index % CHUNK_ROWS).map(|r| decode_row(&r))
    }

    /// Forgets `n` rows at `first` (a table evicted); chunks left without rows are freed.
    pub fn release(&mut self, outer: &impl MapCore, first: u32, n: u32) {
        let mut left = n;
        let mut at = first;
        while left > 0 {
            let (index, offset) = (at / CHUNK_ROWS, at % CHUNK_ROWS);
            let k = (CHUNK_ROWS - offset).min(left);
            if let Some(chunk) = self.chunks.get_mut(&index) {
                chunk.used = chunk.used.saturating_sub(k);
                if chunk.used == 0 {
                    // A walk running now keeps the map alive until it ends (RCU); the next
                    // one finds no chunk and stops ("no unwind info") instead of reading rows
                    // of another table.
                    let _ = outer.delete(&index.to_ne_bytes());
                    self.chunks.remove(&index);
                }
            }
            left -= k;
            at = at.saturating_add(k);
        }
    }

    /// The chunk `index`, created and installed in `outer` if it does not exist.
    fn chunk(&mut self, outer: &impl MapCore, index: u32) -> Result<&mut Chunk, ChunkError> {
        let existing = self.chunks.len();
        match self.chunks.entry(index) {
            Entry::Occupied(chunk) => Ok(chunk.into_mut()),
            Entry::Vacant(slot) => {
                let chunk = create_chunk(outer, index).map_err(ChunkError::Create)?;
                self.peak = self.peak.max(existing + 1);
                Ok(slot.insert(chunk))
            }
        }
    }
}

/// A new chunk map, mapped into this process and stored at `index` of `outer`.
fn create_chunk(outer: &impl MapCore, index: u32) -> std::io::Result<Chunk> {
    let to_io = |e: libbpf_rs::Error| std::io::Error::other(e.to_string());
    let opts = libbpf_rs::libbpf_sys::bpf_map_create_opts {
        sz: std::mem::size_of::<libbpf_rs::libbpf_sys::bpf_map_create_opts>() as _,
        map_flags: libbpf_rs::libbpf_sys::BPF_F_MMAPABLE,
        ..Default::default()
    };
    let value_size = std::mem::size_of::<types::prof_unwind_row>() as u32;
    let map = MapHandle::create(MapType::Array, Some("prof_rows"), 4, value_size, CHUNK_ROWS, &opts).map_err(to_io)?;
    let rows = ArrayMmap::new(&map, CHUNK_ROWS)?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&map.as_fd()) as u32;
    outer.update(&index.to_ne_bytes(), &fd.to_ne_bytes(), MapFlags::ANY).map_err(to_io)?;
    Ok(Chunk { rows, _map: map, used: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index space is whole chunks, never more than the walker can search.
    #[test]
    fn unwind_row_chunks_capacity_rounds_to_chunks() {
        assert_eq!(RowChunks::new(1).capacity(), CHUNK_ROWS);
        assert_eq!(RowChunks::new(CHUNK_ROWS + 1).capacity(), 2 * CHUNK_ROWS);
        assert_eq!(RowChunks::new(u32::MAX).capacity(), MAX_ROWS);
        assert_eq!(chunks_for(0), 1);
        assert_eq!(chunks_for(3 * CHUNK_ROWS), 3);
    }
}
