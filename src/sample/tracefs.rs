//! Field offsets of a classic tracepoint's record, read from its tracefs `format` file. The
//! fallback BPF object (for kernels without BTF) cannot use CO-RE to find them, and the layout
//! of `task_newtask` differs between kernels.

use std::path::PathBuf;

/// Where tracefs is usually mounted: its own mount point, or under debugfs on older systems.
const TRACEFS_ROOTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// The `format` file of tracepoint `category/name` in the first tracefs found.
fn format_path(category: &str, name: &str) -> Option<PathBuf> {
    TRACEFS_ROOTS
        .iter()
        .map(|root| PathBuf::from(root).join("events").join(category).join(name).join("format"))
        .find(|p| p.exists())
}

/// Offset of `field` in a tracepoint record described by `format`, if it has `size` bytes.
pub fn field_offset(format: &str, field: &str, size: u32) -> Option<u32> {
    format.lines().find_map(|line| {
        let mut decl = None;
        let mut offset = None;
        let mut field_size = None;
        for part in line.split(';').map(str::trim) {
            if let Some(d) = part.strip_prefix("field:") {
                decl = d.rsplit(|c: char| c.is_whitespace() || c == '*').next();
            } else if let Some(o) = part.strip_prefix("offset:") {
                offset = o.parse::<u32>().ok();
            } else if let Some(s) = part.strip_prefix("size:") {
                field_size = s.parse::<u32>().ok();
            }
        }
        (decl == Some(field) && field_size == Some(size)).then_some(offset).flatten()
    })
}

/// Offsets of `pid` (4 bytes) and `clone_flags` (8 bytes) in `task_newtask`'s record, or None
/// when tracefs is not mounted or the format is not what the fallback program reads.
pub fn newtask_offsets() -> Option<(u32, u32)> {
    let text = std::fs::read_to_string(format_path("task", "task_newtask")?).ok()?;
    Some((field_offset(&text, "pid", 4)?, field_offset(&text, "clone_flags", 8)?))
}

/// Mounts tracefs at /sys/kernel/tracing when no tracefs is visible, as perf does when it needs
/// tracepoints. Returns true when it mounted it.
pub fn mount_if_missing() -> bool {
    if TRACEFS_ROOTS.iter().any(|r| std::path::Path::new(r).join("events").exists()) {
        return false;
    }
    rustix::mount::mount("nodev", TRACEFS_ROOTS[0], "tracefs", rustix::mount::MountFlags::empty(), None).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORMAT_6_18: &str = "name: task_newtask\nID: 205\nformat:\n\
        \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
        \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
        \tfield:pid_t pid;\toffset:8;\tsize:4;\tsigned:1;\n\
        \tfield:char comm[16];\toffset:12;\tsize:16;\tsigned:0;\n\
        \tfield:u64 clone_flags;\toffset:32;\tsize:8;\tsigned:0;\n\
        \tfield:short oom_score_adj;\toffset:40;\tsize:2;\tsigned:1;\n";

    #[test]
    fn tracefs_offsets_come_from_the_format() {
        assert_eq!(field_offset(FORMAT_6_18, "pid", 4), Some(8));
        assert_eq!(field_offset(FORMAT_6_18, "clone_flags", 8), Some(32));
        // common_pid is not pid; a field of another size is not what the program reads
        assert_eq!(field_offset(FORMAT_6_18, "oom_score_adj", 4), None);
        assert_eq!(field_offset(FORMAT_6_18, "missing", 4), None);
        let moved = FORMAT_6_18.replace("offset:8;", "offset:24;");
        assert_eq!(field_offset(&moved, "pid", 4), Some(24));
        assert_eq!(field_offset("garbage;;field:;offset:x;", "pid", 4), None);
    }
}
