//! Which CPUs are online: the kernel's CPU list format (`0-3,5,7-8`).

use std::io;

/// Parses a kernel CPU list such as `0-3,5,7-8` into sorted CPU ids.
pub fn parse_cpu_list(text: &str) -> Result<Vec<u32>, String> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((lo, hi)) => (lo, hi),
            None => (part, part),
        };
        let lo: u32 = lo.trim().parse().map_err(|_| format!("bad CPU number `{lo}` in `{text}`"))?;
        let hi: u32 = hi.trim().parse().map_err(|_| format!("bad CPU number `{hi}` in `{text}`"))?;
        if hi < lo || hi - lo > 1 << 16 {
            return Err(format!("bad CPU range `{part}` in `{text}`"));
        }
        cpus.extend(lo..=hi);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

/// The online CPUs, from `/sys/devices/system/cpu/online`.
pub fn online_cpus() -> io::Result<Vec<u32>> {
    let path = "/sys/devices/system/cpu/online";
    let text = std::fs::read_to_string(path)?;
    parse_cpu_list(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("`{path}`: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sparse masks, single CPUs and ranges parse to the exact set of CPUs.
    #[test]
    fn cpus_parse_sparse_list() {
        assert_eq!(parse_cpu_list("0-3,5-7\n").unwrap(), vec![0, 1, 2, 3, 5, 6, 7]);
        assert_eq!(parse_cpu_list("0").unwrap(), vec![0]);
        assert_eq!(parse_cpu_list("2,0").unwrap(), vec![0, 2]);
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("x").is_err());
    }
}
