//! End-to-end recordings (real BPF sampler) where a process's identity is ambiguous: its binary
//! replaced at its path while it runs, a PID reused by another program, a process in another
//! mount and PID namespace. Symbols must come from what each process really maps. Needs root
//! or CAP_BPF+CAP_PERFMON; skips with a reason outside CI, fails in CI.

mod common;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{prof_ok, workload, workload_with};

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// The split workload built with every function of its hot path renamed (`new_leaf_a`, …):
/// the same code at the same offsets under other names, so symbols read from the wrong file
/// show up as `new_*` names.
fn renamed_split() -> std::path::PathBuf {
    workload_with(
        "split",
        "split_renamed",
        &[
            "-O0",
            "-g",
            "-fno-omit-frame-pointer",
            "-Dleaf_a=new_leaf_a",
            "-Dleaf_b=new_leaf_b",
            "-Dleaf_c=new_leaf_c",
            "-Ddispatch=new_dispatch",
            "-Drun=new_run",
        ],
    )
}

/// Runs a binary just written, retrying while another test's fork still holds it open for
/// writing (ETXTBSY).
fn spawn_fresh(cmd: &mut Command) -> std::process::Child {
    for _ in 0..100 {
        match cmd.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(Duration::from_millis(10))
            }
            other => return other.unwrap(),
        }
    }
    panic!("{cmd:?} stayed busy (ETXTBSY) for 1 s");
}

/// Records `pid` for 2 s into an archive in `dir`.
fn record_pid(dir: &Path, pid: u32) -> prof::profile::Profile {
    let archive = dir.join("x.prof");
    prof_ok(&[os("record"), os("-p"), os(&pid.to_string()), os("-d"), os("2"), os("-o"), archive.as_os_str()]);
    common::assert_conserved(&archive)
}

/// Names of the functions in `p`'s stacks.
fn function_names(p: &prof::profile::Profile) -> Vec<(String, String)> {
    p.frames.iter().map(|f| (f.name.clone(), f.module.clone())).collect()
}

/// A file bind-mounted over another, unmounted when dropped (also when the test fails).
struct BindMount(std::path::PathBuf);

impl BindMount {
    fn new(source: &Path, target: &Path) -> BindMount {
        let st = Command::new("mount").arg("--bind").arg(source).arg(target).status().unwrap();
        assert!(st.success(), "mount --bind failed");
        BindMount(target.to_path_buf())
    }
}

impl Drop for BindMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A binary replaced at its path while its process runs (a new file renamed over it; then a new
/// file bind-mounted over the path, which keeps the path without ` (deleted)`): the process's
/// frames carry the old binary's names, none of the new one's, since binaries are identified by
/// (device, inode) and read through the process's own mapping.
#[test]
fn record_binary_replaced_in_place_keeps_old_symbols() {
    let _m = bpf_test!("record_binary_replaced_in_place_keeps_old_symbols");
    let (old, new) = (workload("split"), renamed_split());
    for how in ["rename", "bind mount"] {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("app");
        std::fs::copy(&old, &app).unwrap();
        let mut child = spawn_fresh(Command::new(&app).arg("5"));
        std::thread::sleep(Duration::from_millis(100));
        let staged = dir.path().join("app.new");
        std::fs::copy(&new, &staged).unwrap();
        let mount = match how {
            "rename" => {
                std::fs::rename(&staged, &app).unwrap();
                None
            }
            _ => Some(BindMount::new(&staged, &app)),
        };
        let mapped_inode = {
            use std::os::unix::fs::MetadataExt;
            let exe = std::fs::metadata(format!("/proc/{}/exe", child.id())).unwrap().ino();
            assert_ne!(std::fs::metadata(&app).unwrap().ino(), exe, "{how}: the path still names the old file");
            exe
        };
        let p = record_pid(dir.path(), child.id());
        let mounted = mount.is_some();
        drop(mount);
        let _ = child.kill();
        let _ = child.wait();
        let names = function_names(&p);
        let module = if mounted { "app" } else { "app (deleted)" };
        let old_leaves: Vec<_> = names.iter().filter(|(n, _)| n.starts_with("leaf_")).collect();
        println!("{how} (mapped inode {mapped_inode}): {} leaf frames", old_leaves.len());
        assert!(!old_leaves.is_empty(), "{how}: no frame of the old binary: {names:?}");
        assert!(old_leaves.iter().all(|(_, m)| m == module), "{how}: {old_leaves:?}");
        assert!(names.iter().all(|(n, _)| !n.starts_with("new_")), "{how}: the new binary's names leaked: {names:?}");
    }
}
