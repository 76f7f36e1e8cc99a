//! A first-fit allocator of index ranges in the kernel's fixed-size arrays (unwind-table rows,
//! process mappings): tables and mapping lists are stored contiguously and freed ranges coalesce.

use std::collections::BTreeMap;

/// First-fit allocator of `[start, start + len)` ranges in `0..capacity`.
#[derive(Debug, Default)]
pub struct RangeAlloc {
    /// Free ranges: start → length, never adjacent (coalesced).
    free: BTreeMap<u32, u32>,
}

impl RangeAlloc {
    /// An allocator with everything free.
    pub fn new(capacity: u32) -> RangeAlloc {
        let mut free = BTreeMap::new();
        if capacity > 0 {
            free.insert(0, capacity);
        }
        RangeAlloc { free }
    }

    /// The start of a free range of `n` entries, now taken; None when no free range is that long.
    pub fn alloc(&mut self, n: u32) -> Option<u32> {
        let (&start, &len) = self.free.iter().find(|(_, &len)| len >= n)?;
        self.free.remove(&start);
        if len > n {
            self.free.insert(start + n, len - n);
        }
        Some(start)
    }

    /// Frees `[start, start + n)` (which `alloc` returned).
    pub fn release(&mut self, start: u32, n: u32) {
        if n == 0 {
            return;
        }
        let (mut start, mut n) = (start, n);
        if let Some((&prev, &plen)) = self.free.range(..start).next_back() {
            if prev + plen == start {
                self.free.remove(&prev);
                start = prev;
                n += plen;
            }
        }
        if let Some(&next_len) = self.free.get(&(start + n)) {
            self.free.remove(&(start + n));
            n += next_len;
        }
        self.free.insert(start, n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Freed ranges coalesce, so a table that needs the whole array fits again.
    #[test]
    fn unwind_rows_allocator_coalesces() {
        let mut r = RangeAlloc::new(100);
        let a = r.alloc(30).unwrap();
        let b = r.alloc(30).unwrap();
        let c = r.alloc(40).unwrap();
        assert_eq!((a, b, c), (0, 30, 60));
        assert_eq!(r.alloc(1), None);
        r.release(b, 30);
        r.release(a, 30);
        assert_eq!(r.alloc(61), None);
        r.release(c, 40);
        assert_eq!(r.free.len(), 1);
        assert_eq!(r.alloc(100), Some(0));
    }
}
