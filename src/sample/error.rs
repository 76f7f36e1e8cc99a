//! Errors of the sampling stage, and where the details of a load failure come from: libbpf's
//! log (the verifier's output), kept as it is printed.

use std::sync::Mutex;

use libbpf_rs::PrintLevel;

use super::kernel::{self, KernelVersion};
use super::{kernel_release, privileges};

/// Errors of the sampling stage. Callers branch on permission and frequency problems.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// Missing capabilities; the message names them and the fix.
    #[error("{0}")]
    PermissionDenied(String),
    /// The kernel refused BPF or perf events although the capabilities are there (a seccomp
    /// filter, an LSM); the message says what to look at.
    #[error("{0}")]
    Refused(String),
    /// The requested frequency is above what the kernel allows.
    #[error(
        "sampling frequency {requested} Hz is above kernel.perf_event_max_sample_rate = {max}; \
         use a lower -F or raise it with `sysctl kernel.perf_event_max_sample_rate={requested}`"
    )]
    FrequencyTooHigh {
        /// Requested frequency.
        requested: u64,
        /// The kernel's limit.
        max: u64,
    },
    /// A feature of the full BPF program was asked for where only the fallback program loads
    /// (no kernel BTF, or a kernel without `bpf_loop`).
    #[error("{feature} is not available here: {reason}; without it prof samples with frame pointers (--unwind fp)")]
    NeedsFullProgram {
        /// What was asked for.
        feature: &'static str,
        /// Why the full program cannot load.
        reason: String,
    },
    /// The kernel has no BPF (ENOSYS).
    #[error(
        "eBPF is not available: bpf() returned ENOSYS (function not implemented) on kernel {kernel}; \
         the kernel was built without CONFIG_BPF_SYSCALL, or a seccomp filter hides the system call; \
         prof needs a kernel with BPF"
    )]
    BpfUnavailable {
        /// Kernel release.
        kernel: String,
    },
    /// The kernel is older than prof supports, and the version check was not turned off.
    #[error(
        "kernel {release} is older than {minimum}, the oldest prof supports (it needs the BPF ring buffer \
         and CAP_BPF, both new in 5.8); run prof on a newer kernel, or pass --no-kernel-version-check \
         to try anyway"
    )]
    KernelTooOld {
        /// The release uname(2) reported.
        release: String,
        /// The oldest supported version.
        minimum: KernelVersion,
    },
    /// Loading was refused while a finite `RLIMIT_MEMLOCK`, which prof could not raise, was in
    /// force on a kernel that charges BPF memory to it (before 5.11).
    #[error(
        "loading the BPF program was refused ({source}) with the memlock limit (RLIMIT_MEMLOCK) at \
         {limit} bytes ({} KiB), which this kernel charges BPF maps to, and prof was not allowed to \
         raise it; raise the memlock limit: `ulimit -l unlimited` in the shell that starts prof, \
         `prlimit --memlock=unlimited -- prof …`, LimitMEMLOCK=infinity in a systemd unit, or \
         `--ulimit memlock=-1` for a container",
        limit / 1024
    )]
    MemlockTooLow {
        /// The limit in force, in bytes.
        limit: u64,
        /// libbpf's error.
        source: libbpf_rs::Error,
    },
    /// Loading the BPF program failed (the verifier log tail is included).
    #[error("failed to load the BPF program on kernel {kernel}: {source}\n{log}")]
    Load {
        /// Kernel release.
        kernel: String,
        /// libbpf's error.
        source: libbpf_rs::Error,
        /// Tail of libbpf's log (verifier output).
        log: String,
    },
    /// The kernel's verifier rejected the program (its log says why).
    #[error("the verifier of kernel {kernel} rejected the BPF program ({source}); the end of its log:\n{log}")]
    Rejected {
        /// Kernel release.
        kernel: String,
        /// libbpf's error.
        source: libbpf_rs::Error,
        /// Tail of the verifier log.
        log: String,
    },
    /// A perf event could not be opened.
    #[error("failed to open the `{event}` perf event on CPU {cpu}: {source}")]
    PerfEvent {
        /// Event name.
        event: &'static str,
        /// CPU id.
        cpu: u32,
        /// The OS error.
        source: std::io::Error,
    },
    /// A target process does not exist.
    #[error("no process with PID {0}")]
    NoSuchProcess(u32),
    /// Another BPF or system error.
    #[error("{context}: {source}")]
    Bpf {
        /// What was being done.
        context: String,
        /// libbpf's error.
        source: libbpf_rs::Error,
    },
    /// Reading the list of online CPUs failed.
    #[error("failed to read the online CPUs: {0}")]
    Cpus(std::io::Error),
}

pub(super) fn bpf_err(context: impl Into<String>) -> impl FnOnce(libbpf_rs::Error) -> SampleError {
    let context = context.into();
    move |source| SampleError::Bpf { context, source }
}

/// libbpf's log lines, kept so a load failure can show the verifier's output.
static LIBBPF_LOG: Mutex<String> = Mutex::new(String::new());

fn libbpf_print(level: PrintLevel, msg: String) {
    if let Ok(mut log) = LIBBPF_LOG.lock() {
        log.push_str(&msg);
        const KEEP: usize = 64 * 1024;
        if log.len() > 2 * KEEP {
            let cut = log.len() - KEEP;
            let cut = (cut..log.len()).find(|&i| log.is_char_boundary(i)).unwrap_or(log.len());
            log.drain(..cut);
        }
    }
    if level == PrintLevel::Warn {
        if let Ok(mut warnings) = LIBBPF_WARNINGS.lock() {
            if warnings.len() < MAX_LIBBPF_WARNINGS {
                warnings.push(format!("libbpf: {}", msg.trim_end()));
            }
        }
    }
}

/// libbpf's warnings since the last [`take_libbpf_warnings`], at most [`MAX_LIBBPF_WARNINGS`].
static LIBBPF_WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// More libbpf warnings than this are not kept: the first ones say what went wrong.
const MAX_LIBBPF_WARNINGS: usize = 32;

/// libbpf's warnings since the last call (the sampler adds them to its notes when
/// `PROF_LIBBPF_DEBUG` is set).
pub(super) fn take_libbpf_warnings() -> Vec<String> {
    LIBBPF_WARNINGS.lock().map(|mut w| std::mem::take(&mut *w)).unwrap_or_default()
}

fn log_tail() -> String {
    let log = LIBBPF_LOG.lock().map(|l| l.clone()).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Sends libbpf's log to [`LIBBPF_LOG`] (shown when loading fails) and its warnings to
/// [`take_libbpf_warnings`].
pub(super) fn capture_libbpf_log() {
    libbpf_rs::set_print(Some((PrintLevel::Debug, libbpf_print)));
}

/// What a failure to open or load the BPF object means: missing privileges, no BPF in the
/// kernel, or a rejection (with the verifier's log).
pub(super) fn load_error(source: libbpf_rs::Error) -> SampleError {
    // ENOSYS (io::ErrorKind::Unsupported) from libbpf's first bpf() call, its probe loading a
    // trivial program: the kernel has no bpf(), or a filter hides it.
    if source.kind() == libbpf_rs::ErrorKind::Unsupported {
        return SampleError::BpfUnavailable { kernel: kernel_release() };
    }
    // The capabilities were checked before loading: EACCES or EPERM now is the verifier
    // rejecting the program (its log says why), a memlock limit prof could not raise (before
    // 5.11), or a policy above capabilities refusing bpf().
    let log = log_tail();
    let verifier = log.contains("processed ") || log.contains("verifier");
    if source.kind() == libbpf_rs::ErrorKind::PermissionDenied && !verifier {
        return refused_load(source, kernel::memlock_at_load(), kernel::running_version());
    }
    if verifier && source.kind() == libbpf_rs::ErrorKind::PermissionDenied {
        return SampleError::Rejected { kernel: kernel_release(), source, log };
    }
    SampleError::Load { kernel: kernel_release(), source, log }
}

/// A load refused with EPERM/EACCES by something other than the verifier: the memlock limit
/// when it was finite and `kernel` charges BPF memory to it, otherwise a policy.
fn refused_load(source: libbpf_rs::Error, memlock: Option<u64>, kernel: Option<KernelVersion>) -> SampleError {
    match memlock {
        Some(limit) if kernel::memlock_may_refuse(memlock, kernel) => SampleError::MemlockTooLow { limit, source },
        _ => SampleError::Refused(privileges::describe_refused("bpf()", &source.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eperm() -> libbpf_rs::Error {
        libbpf_rs::Error::from_raw_os_error(libc::EPERM)
    }

    /// EPERM with a finite memlock limit on a kernel that charges BPF maps to it names the
    /// memlock limit, its value and how to raise it; on a kernel that does not, or with no
    /// limit, it is a refusal by a policy.
    #[test]
    fn error_eperm_with_finite_memlock_names_the_limit() {
        let m = refused_load(eperm(), Some(65536), Some(KernelVersion::new(5, 4))).to_string();
        for needle in ["memlock limit", "65536 bytes (64 KiB)", "ulimit -l unlimited", "LimitMEMLOCK=infinity"] {
            assert!(m.contains(needle), "{needle:?} missing in {m}");
        }
        assert!(m.contains("Operation not permitted"), "{m}");
        let m = refused_load(eperm(), Some(65536), Some(KernelVersion::new(6, 18))).to_string();
        assert!(m.contains("the kernel refused bpf()") && !m.contains("memlock limit"), "{m}");
        let m = refused_load(eperm(), None, Some(KernelVersion::new(5, 4))).to_string();
        assert!(m.contains("the kernel refused bpf()") && !m.contains("memlock limit"), "{m}");
    }

    /// ENOSYS from libbpf is "eBPF is not available", not a refusal.
    #[test]
    fn error_enosys_is_bpf_unavailable() {
        let e = load_error(libbpf_rs::Error::from_raw_os_error(libc::ENOSYS));
        assert!(matches!(e, SampleError::BpfUnavailable { .. }), "{e:?}");
        assert!(e.to_string().starts_with("eBPF is not available"), "{e}");
    }
}
