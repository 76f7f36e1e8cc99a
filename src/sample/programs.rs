//! Which BPF object is loaded, and access to it. The default object needs the kernel's BTF
//! (CO-RE, BTF-typed tracepoints, the table-driven unwinder); without BTF the fallback object
//! samples with frame pointers only. Both have the same maps, so the rest of the sampler uses
//! them through [`Programs`] without caring which one it is.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::Path;

use libbpf_rs::{Link, MapMut, ProgramMut};

use super::error::bpf_err;
use super::skel;
use super::SampleError;

/// Where the kernel publishes its BTF (CONFIG_DEBUG_INFO_BTF).
pub const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Whether libbpf can find the running kernel's BTF: [`KERNEL_BTF`], or one of the other places
/// libbpf looks (a vmlinux with BTF under /boot or /usr/lib/debug).
pub fn kernel_btf_available() -> bool {
    if Path::new(KERNEL_BTF).exists() {
        return true;
    }
    // SAFETY: btf__load_vmlinux_btf takes no arguments and returns an owned BTF object or an
    // error pointer; the object is freed right away.
    unsafe {
        let btf = libbpf_rs::libbpf_sys::btf__load_vmlinux_btf();
        if libbpf_rs::libbpf_sys::libbpf_get_error(btf as *const _) != 0 || btf.is_null() {
            return false;
        }
        libbpf_rs::libbpf_sys::btf__free(btf);
    }
    true
}

/// The loaded BPF object.
pub(super) enum Programs {
    /// The default object: CO-RE, BTF-typed tracepoints, unwinding by tables.
    Full(skel::ProfileSkel<'static>),
    /// The fallback for kernels without BTF: frame pointers only, no exit events.
    NoBtf(skel::nobtf::ProfileNobtfSkel<'static>),
}

/// Evaluates `$e` with `$s` bound to whichever skeleton `$p` holds (they have the same maps).
macro_rules! either {
    ($p:expr, $s:ident => $e:expr) => {
        match $p {
            Programs::Full($s) => $e,
            Programs::NoBtf($s) => $e,
        }
    };
}

impl Programs {
    /// The (process, stacks, comm) → samples map.
    pub(super) fn counts(&self) -> &MapMut<'static> {
        either!(self, s => &s.maps.counts)
    }

    /// The stack store: content hash → frames.
    pub(super) fn stacks(&self) -> &MapMut<'static> {
        either!(self, s => &s.maps.stacks)
    }

    /// Per-CPU counters of samples and losses.
    pub(super) fn stats(&self) -> &MapMut<'static> {
        either!(self, s => &s.maps.stats)
    }

    /// The target filter.
    pub(super) fn targets(&self) -> &MapMut<'static> {
        either!(self, s => &s.maps.targets)
    }

    /// The `--cgroup` filter: ids of the selected cgroups.
    pub(super) fn cgroup_filter(&self) -> &MapMut<'static> {
        either!(self, s => &s.maps.cgroup_filter)
    }

    /// Processes already announced with a first-sample event.
    pub(super) fn announced(&self) -> &MapMut<'static> {
        either!(self, s => &s.maps.announced)
    }

    /// The ring buffer of process events.
    pub(super) fn events(&self) -> &MapMut<'static> {
        either!(self, s => &s.maps.events)
    }

    /// The ring buffer of samples handed over while a table they need is being built.
    pub(super) fn deferred(&self) -> &MapMut<'static> {
        either!(self, s => &s.maps.deferred)
    }

    /// Per process: its mappings in `unwind_mappings`.
    pub(super) fn proc_unwind(&self) -> &MapMut<'static> {
        either!(self, s => &s.maps.proc_unwind)
    }

    /// The unwind-table rows.
    pub(super) fn unwind_rows(&self) -> &MapMut<'static> {
        either!(self, s => &s.maps.unwind_rows)
    }

    /// The processes' executable mappings, for the unwinder.
    pub(super) fn unwind_mappings(&self) -> &MapMut<'static> {
        either!(self, s => &s.maps.unwind_mappings)
    }

    /// Per process: where its CPython runtime is and its version's offsets.
    pub(super) fn python_procs(&self) -> &MapMut<'static> {
        either!(self, s => &s.maps.python_procs)
    }

    /// The drain generation in the program's .bss (mapped into this process).
    pub(super) fn generation(&mut self) -> Option<&mut u32> {
        either!(self, s => s.maps.bss_data.as_deref_mut().map(|b| &mut b.gen))
    }

    /// The program run on every sample.
    pub(super) fn sampler(&self) -> &ProgramMut<'static> {
        either!(self, s => &s.progs.do_perf_event)
    }

    /// The sampling programs that were loaded (the perf-event and off-CPU programs, which hold
    /// the stack walkers), each with the instructions the verifier processed to accept it: the
    /// figure that decides how long loading takes.
    pub(super) fn verified(&self) -> Vec<VerifiedProgram> {
        let programs: Vec<&ProgramMut<'static>> = match self {
            Programs::Full(s) => vec![&s.progs.do_perf_event, &s.progs.do_sched_switch],
            Programs::NoBtf(s) => vec![&s.progs.do_perf_event],
        };
        programs
            .into_iter()
            .filter(|p| p.autoload())
            .filter_map(|p| {
                let instructions = verified_instructions(p.as_fd())?;
                Some(VerifiedProgram { name: p.name().to_string_lossy().into_owned(), instructions })
            })
            .collect()
    }

    /// Attaches the off-CPU program to the `sched_switch` tracepoint (the full object only:
    /// [`super::start`] refuses `--off-cpu` with the fallback).
    pub(super) fn attach_sched_switch(&self) -> Result<Link, SampleError> {
        match self {
            Programs::Full(s) => s.progs.do_sched_switch.attach().map_err(bpf_err("failed to attach to sched_switch")),
            Programs::NoBtf(_) => Err(SampleError::Bpf {
                context: "failed to attach to sched_switch".into(),
                source: libbpf_rs::Error::from(std::io::Error::from_raw_os_error(libc::EOPNOTSUPP)),
            }),
        }
    }

    /// Off-CPU: the threads switched out and not yet back.
    pub(super) fn offcpu_start(&self) -> &MapMut<'static> {
        either!(self, s => &s.maps.offcpu_start)
    }

    /// Whether this is the fallback object (no exit events: exits are found by polling).
    pub(super) fn is_fallback(&self) -> bool {
        matches!(self, Programs::NoBtf(_))
    }

    /// Attaches the process tracepoints: exec and exit always, fork when children are
    /// followed (the fallback object has no exit program, and its fork program needs tracefs).
    pub(super) fn attach_tracepoints(&self, follow_forks: bool) -> Result<Vec<Link>, SampleError> {
        let mut links = Vec::new();
        match self {
            Programs::Full(s) => {
                links.push(s.progs.handle_fork.attach().map_err(bpf_err("failed to attach to sched_process_fork"))?);
                links.push(s.progs.handle_exec.attach().map_err(bpf_err("failed to attach to sched_process_exec"))?);
                links.push(s.progs.handle_exit.attach().map_err(bpf_err("failed to attach to sched_process_exit"))?);
            }
            Programs::NoBtf(s) => {
                if follow_forks {
                    links.push(s.progs.handle_fork.attach().map_err(bpf_err("failed to attach to task_newtask"))?);
                }
                links.push(s.progs.handle_exec.attach().map_err(bpf_err("failed to attach to sched_process_exec"))?);
            }
        }
        Ok(links)
    }
}

/// A loaded BPF program and the instructions the verifier processed to accept it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedProgram {
    /// The program's name in the object (`do_perf_event`).
    pub name: String,
    /// The verifier's count of processed instructions (`verified_insns`, kernel 5.16+).
    pub instructions: u32,
}

/// The verifier's processed-instruction count of a loaded program, from the kernel's program
/// info (None when the kernel does not report it).
fn verified_instructions(fd: BorrowedFd<'_>) -> Option<u32> {
    let mut info = libbpf_rs::libbpf_sys::bpf_prog_info::default();
    let mut len = std::mem::size_of_val(&info) as u32;
    // SAFETY: `info` is a properly sized, zeroed bpf_prog_info and `len` its size; the kernel
    // writes at most `len` bytes and no array pointers are requested.
    let ret = unsafe { libbpf_rs::libbpf_sys::bpf_prog_get_info_by_fd(fd.as_raw_fd(), &mut info, &mut len) };
    (ret == 0 && info.verified_insns > 0).then_some(info.verified_insns)
}
