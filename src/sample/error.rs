//! Errors of the sampling stage, and where the details of a load failure come from: libbpf's
//! log (the verifier's output), kept as it is printed.

use std::sync::Mutex;

use libbpf_rs::PrintLevel;

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
    /// A feature that needs the kernel's BTF was asked for on a kernel without it.
    #[error(
        "{feature} needs the kernel's BTF ({}, CONFIG_DEBUG_INFO_BTF=y), which this kernel \
         does not have; without it prof samples with frame pointers (--unwind fp)",
        super::programs::KERNEL_BTF
    )]
    NeedsBtf {
        /// What was asked for.
        feature: &'static str,
    },
    /// The kernel has no BPF (ENOSYS).
    #[error("eBPF is not available in this kernel (bpf() returned ENOSYS)")]
    BpfUnavailable,
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
    // The capabilities were checked before loading: EACCES or EPERM now is either the verifier
    // rejecting the program (its log says why) or a policy above capabilities refusing bpf().
    let verifier = log_tail().contains("processed ") || log_tail().contains("verifier");
    if source.kind() == libbpf_rs::ErrorKind::PermissionDenied && !verifier {
        return SampleError::Refused(privileges::describe_refused("bpf()", &source.to_string()));
    }
    if source.to_string().contains("ENOSYS") || source.kind() == libbpf_rs::ErrorKind::Unsupported {
        return SampleError::BpfUnavailable;
    }
    if verifier && source.kind() == libbpf_rs::ErrorKind::PermissionDenied {
        return SampleError::Rejected { kernel: kernel_release(), source, log: log_tail() };
    }
    SampleError::Load { kernel: kernel_release(), source, log: log_tail() }
}
