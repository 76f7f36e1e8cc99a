//! Cgroup v2 ids and paths: the id a sample carries (`bpf_get_current_cgroup_id`, the inode
//! number of the cgroup's directory in the cgroup2 mount) resolved to the directory's path by
//! walking the mount, and the paths `prof record --cgroup` names resolved to ids.
//!
//! The tree belongs to whoever can create cgroups: the walk is bounded (depth, directories,
//! name and path lengths), never follows links, and is repeated on a miss at most once per
//! [`RESCAN_INTERVAL`]. A cgroup removed since keeps the last path seen for it.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `statfs` magic of a cgroup v2 filesystem (`CGROUP2_SUPER_MAGIC`).
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// Deepest level walked below the mount (systemd and Kubernetes nest 5 or 6 levels).
pub const MAX_DEPTH: usize = 32;

/// Most directories remembered by one walk: a host with thousands of containers has tens of
/// thousands of cgroups; a tree beyond is hostile or broken, and its rest shows as `cgroup:<id>`.
pub const MAX_CGROUPS: usize = 100_000;

/// Longest path kept (the kernel's `PATH_MAX`).
pub const MAX_PATH_LEN: usize = 4096;

/// Most bytes of paths one walk keeps: a delegated subtree (which an unprivileged user may be
/// given) of long names made to fill memory stops here, and its rest shows as `cgroup:<id>`.
pub const MAX_PATH_BYTES: usize = 32 << 20;

/// Least time between two walks of the mount asked for by ids not found: a burst of samples of
/// a cgroup that is gone costs one walk, not one per sample.
pub const RESCAN_INTERVAL: Duration = Duration::from_secs(1);

/// Bytes of `/proc/self/mountinfo` read at most to find the cgroup2 mount.
const MAX_MOUNTINFO_LEN: u64 = 4 << 20;

/// Why a `--cgroup` path cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// No cgroup2 filesystem is mounted.
    #[error("no cgroup v2 filesystem is mounted (none in /proc/self/mountinfo): mount one with `mount -t cgroup2 none /sys/fs/cgroup`")]
    NoMount,
    /// The path is not a cgroup v2 directory.
    #[error("--cgroup `{path}`: {reason}")]
    NotCgroup {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A cgroup selected by `prof record --cgroup`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectedCgroup {
    /// Its id (the directory's inode number).
    pub id: u64,
    /// Its level: 0 for the mount's root, 1 for a directory in it, …
    pub level: u32,
    /// Its path below the mount (`/prof-test/a`).
    pub path: String,
}

/// The cgroup2 mount point, from `/proc/self/mountinfo` (`/sys/fs/cgroup` on a unified
/// system, `/sys/fs/cgroup/unified` on a hybrid one).
pub fn cgroup2_mount() -> Option<PathBuf> {
    let file = std::fs::File::open("/proc/self/mountinfo").ok()?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX_MOUNTINFO_LEN), &mut text).ok()?;
    text.lines().find_map(|line| {
        // `id parent major:minor root mount-point options [optional…] - fstype source super`
        let (left, right) = line.split_once(" - ")?;
        if right.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        Some(PathBuf::from(unescape_mount(left.split_whitespace().nth(4)?)))
    })
}

/// A mountinfo path with its octal escapes (`\040` for a space) decoded.
fn unescape_mount(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let octal = b.get(i + 1..i + 4).filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal.and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok()) {
            Some(c) => {
                out.push(c);
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Resolves a `--cgroup` argument: an absolute path under the cgroup2 `mount`, or a path
/// relative to it (`system.slice/nginx.service`, and `/system.slice` too: a leading `/` names
/// the mount's root). It must be a directory of the cgroup2 filesystem.
pub fn select(arg: &str, mount: &Path) -> Result<SelectedCgroup, CgroupError> {
    let not = |reason: String| CgroupError::NotCgroup { path: arg.to_string(), reason };
    let given = Path::new(arg);
    let candidate = if given.is_absolute() && given.starts_with(mount) {
        given.to_path_buf()
    } else {
        let below = mount.join(arg.trim_start_matches('/'));
        // `/sys/fs/cgroup/cpu/x` on a hybrid machine, `/proc/self`: a path outside the mount.
        if given.is_absolute() && !below.exists() && given.exists() {
            return Err(not(format!("not under the cgroup v2 mount `{}`", mount.display())));
        }
        below
    };
    let real = std::fs::canonicalize(&candidate).map_err(|e| not(format!("`{}`: {e}", candidate.display())))?;
    let rel = real
        .strip_prefix(mount)
        .map_err(|_| not(format!("`{}` is not under the cgroup v2 mount `{}`", real.display(), mount.display())))?;
    let meta = std::fs::metadata(&real).map_err(|e| not(format!("`{}`: {e}", real.display())))?;
    if !meta.is_dir() {
        return Err(not(format!("`{}` is not a directory", real.display())));
    }
    let fs = rustix::fs::statfs(&real).map_err(|e| not(format!("`{}`: {e}", real.display())))?;
    // `f_type` is an i64 here and narrower on other architectures.
    #[allow(clippy::useless_conversion)]
    let f_type = i64::from(fs.f_type);
    if f_type != CGROUP2_SUPER_MAGIC {
        return Err(not(format!(
            "`{}` is not on a cgroup v2 filesystem (the cgroup2 mount is `{}`)",
            real.display(),
            mount.display()
        )));
    }
    let level = rel.components().count();
    if level >= 64 {
        return Err(not(format!("`{}` is {level} levels deep; prof selects cgroups up to 63 levels", real.display())));
    }
    let path = format!("/{}", rel.to_string_lossy());
    Ok(SelectedCgroup { id: meta.ino(), level: level as u32, path })
}

/// Paths of cgroup ids, learnt by walking the cgroup2 mount.
#[derive(Debug)]
pub struct CgroupPaths {
    /// The mount, once looked up (None inside: there is none).
    mount: Option<Option<PathBuf>>,
    paths: HashMap<u64, String>,
    last_walk: Option<Instant>,
    /// Cgroups and bytes of paths one walk keeps ([`MAX_CGROUPS`], [`MAX_PATH_BYTES`]; lower in
    /// tests). With the paths of cgroups gone since, the table holds at most twice these.
    limits: (usize, usize),
}

impl Default for CgroupPaths {
    fn default() -> CgroupPaths {
        CgroupPaths { mount: None, paths: HashMap::new(), last_walk: None, limits: (MAX_CGROUPS, MAX_PATH_BYTES) }
    }
}

impl CgroupPaths {
    /// Paths found below `mount` (tests; [`CgroupPaths::default`] finds the mount itself).
    pub fn with_mount(mount: PathBuf) -> CgroupPaths {
        CgroupPaths { mount: Some(Some(mount)), ..CgroupPaths::default() }
    }

    /// The path of cgroup `id` below the mount (`/` for its root): known, or found by a new walk
    /// when the last one is older than [`RESCAN_INTERVAL`]; None when not found.
    pub fn path(&mut self, id: u64, now: Instant) -> Option<&str> {
        if !self.paths.contains_key(&id)
            && self.last_walk.is_none_or(|t| now.saturating_duration_since(t) >= RESCAN_INTERVAL)
        {
            self.walk(now);
        }
        self.paths.get(&id).map(String::as_str)
    }

    /// Walks the mount and learns every cgroup found within the limits. Cgroups gone since
    /// keep their last path (their samples may still be drained) while the table stays within
    /// twice the limits; beyond, some are forgotten and show as `cgroup:<id>`.
    fn walk(&mut self, now: Instant) {
        self.last_walk = Some(now);
        let mount = self.mount.get_or_insert_with(cgroup2_mount).clone();
        let Some(mount) = mount else { return };
        let Ok(root) = std::fs::symlink_metadata(&mount) else { return };
        let (max_cgroups, max_bytes) = self.limits;
        let mut found = HashMap::from([(root.ino(), "/".to_string())]);
        let mut bytes = 1usize;
        let mut pending = vec![(mount, String::new(), 0usize)];
        'walk: while let Some((dir, path, depth)) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                // Cgroups are directories; the files in them (controls) are most entries.
                let Ok(kind) = entry.file_type() else { continue };
                if !kind.is_dir() || kind.is_symlink() {
                    continue;
                }
                let name = entry.file_name();
                let child = format!("{path}/{}", name.to_string_lossy());
                if child.len() > MAX_PATH_LEN {
                    continue;
                }
                let Ok(meta) = entry.metadata() else { continue };
                if found.len() >= max_cgroups || bytes.saturating_add(child.len()) > max_bytes {
                    break 'walk;
                }
                bytes += child.len();
                found.insert(meta.ino(), child.clone());
                if depth + 1 < MAX_DEPTH {
                    pending.push((entry.path(), child, depth + 1));
                }
            }
        }
        for (id, path) in std::mem::take(&mut self.paths) {
            let fits = found.len() < 2 * max_cgroups && bytes.saturating_add(path.len()) <= 2 * max_bytes;
            if fits && !found.contains_key(&id) {
                bytes += path.len();
                found.insert(id, path);
            }
        }
        self.paths = found;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Octal escapes of mountinfo are decoded; a lone or short backslash stays.
    #[test]
    fn cgroup_mountinfo_unescapes() {
        assert_eq!(unescape_mount(r"/mnt/a\040b"), "/mnt/a b");
        assert_eq!(unescape_mount(r"/x\\"), r"/x\\");
        assert_eq!(unescape_mount(r"/x\04"), r"/x\04");
    }

    /// `--cgroup` paths that are no cgroup v2 directory are refused, each error naming the path
    /// as given and why: missing, outside the mount, not a directory, not on cgroup2 (a tempdir
    /// stands in for the mount).
    #[test]
    fn cgroup_select_refuses_what_is_not_a_cgroup() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("f"), "").unwrap();
        let err = |arg: &str| select(arg, dir.path()).unwrap_err().to_string();
        let e = err("nope/x");
        assert!(e.starts_with("--cgroup `nope/x`: ") && e.contains("/nope/x"), "{e}");
        let e = err("/proc/self");
        assert!(e.starts_with("--cgroup `/proc/self`: not under the cgroup v2 mount"), "{e}");
        let e = err("a/../../..");
        assert!(e.contains("is not under the cgroup v2 mount"), "{e}");
        assert!(err("/f").contains("is not a directory"), "{}", err("/f"));
        for arg in ["a", "/a", &dir.path().join("a").to_string_lossy()] {
            assert!(err(arg).contains("is not on a cgroup v2 filesystem"), "{arg}: {}", err(arg));
        }
    }

    /// The walk keeps at most its limits of cgroups and path bytes and goes [`MAX_DEPTH`] levels
    /// down; cgroups made and removed round after round keep the table within twice the limits,
    /// the newest round known.
    #[test]
    fn cgroup_paths_stay_within_limits() {
        let dir = tempfile::tempdir().unwrap();
        let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
        let mut paths = CgroupPaths { limits: (4, 1 << 20), ..CgroupPaths::with_mount(dir.path().to_path_buf()) };
        let mut t = Instant::now();
        let round_dirs = |r: usize| (0..3).map(move |i| format!("r{r}-{i}"));
        for round in 0..20 {
            for name in round_dirs(round) {
                std::fs::create_dir(dir.path().join(name)).unwrap();
            }
            if round > 0 {
                for name in round_dirs(round - 1) {
                    std::fs::remove_dir(dir.path().join(name)).unwrap();
                }
            }
            // Walked each round (the file system may reuse a removed directory's inode number,
            // which cgroup2 never does, and a known id would not ask for a walk).
            t += RESCAN_INTERVAL;
            paths.walk(t);
            let newest = ino(&dir.path().join(format!("r{round}-2")));
            assert_eq!(
                paths.paths.get(&newest).map(String::as_str),
                Some(format!("/r{round}-2").as_str()),
                "round {round}"
            );
            assert!(paths.paths.len() <= 8, "round {round}: {} paths", paths.paths.len());
        }
        // Bytes: a name longer than the budget is not kept.
        let long = dir.path().join("x".repeat(200));
        std::fs::create_dir(&long).unwrap();
        let mut small = CgroupPaths { limits: (100, 100), ..CgroupPaths::with_mount(dir.path().to_path_buf()) };
        assert_eq!(small.path(ino(&long), t), None);
        // Depth: level MAX_DEPTH is found, the one below it is not.
        let mut chain = dir.path().to_path_buf();
        for _ in 0..=MAX_DEPTH {
            chain.push("d");
        }
        std::fs::create_dir_all(&chain).unwrap();
        let mut deep = CgroupPaths::with_mount(dir.path().to_path_buf());
        assert_eq!(deep.path(ino(&chain), t), None);
        let last = deep.path(ino(chain.parent().unwrap()), t).map(|p| p.matches('/').count());
        assert_eq!(last, Some(MAX_DEPTH));
    }

    /// A directory tree stands in for a mount: ids are inode numbers, paths are below the root,
    /// names with control characters are kept as they are, a removed directory keeps its path,
    /// and an unknown id walks again only after the interval.
    #[test]
    fn cgroup_paths_walk_a_tree() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.slice").join("b\u{1b}[31m.service");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::write(dir.path().join("a.slice").join("cgroup.procs"), "").unwrap();
        let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
        let mut paths = CgroupPaths::with_mount(dir.path().to_path_buf());
        let t0 = Instant::now();
        assert_eq!(paths.path(ino(&a), t0), Some("/a.slice/b\u{1b}[31m.service"));
        assert_eq!(paths.path(ino(dir.path()), t0), Some("/"));
        let later = dir.path().join("c");
        std::fs::create_dir(&later).unwrap();
        assert_eq!(paths.path(ino(&later), t0), None, "within the interval: no walk");
        assert_eq!(paths.path(ino(&later), t0 + RESCAN_INTERVAL), Some("/c"));
        let gone = ino(&a);
        std::fs::remove_dir(&a).unwrap();
        assert_eq!(paths.path(gone, t0 + RESCAN_INTERVAL * 3), Some("/a.slice/b\u{1b}[31m.service"));
    }
}
