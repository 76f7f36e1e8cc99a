//! Opening one sampling perf event per online CPU: hardware cycles when the machine has a PMU,
//! the `cpu-clock` software event otherwise (virtual machines).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use perf_event_open_sys as sys;

use super::SampleError;
use crate::profile::EventKind;

/// Opens a sampling event of `kind` on `cpu` for all processes, in frequency mode.
pub fn open_event(kind: EventKind, frequency_hz: u64, cpu: u32) -> io::Result<OwnedFd> {
    let mut attr = sys::bindings::perf_event_attr {
        size: std::mem::size_of::<sys::bindings::perf_event_attr>() as u32,
        ..Default::default()
    };
    match kind {
        EventKind::Cycles => {
            attr.type_ = sys::bindings::PERF_TYPE_HARDWARE;
            attr.config = sys::bindings::PERF_COUNT_HW_CPU_CYCLES as u64;
        }
        EventKind::CpuClock => {
            attr.type_ = sys::bindings::PERF_TYPE_SOFTWARE;
            attr.config = sys::bindings::PERF_COUNT_SW_CPU_CLOCK as u64;
        }
        // Recorded from the sched_switch tracepoint, not a sampling event.
        EventKind::OffCpu | EventKind::Wall => return Err(io::Error::from_raw_os_error(libc::EINVAL)),
    }
    attr.__bindgen_anon_1.sample_freq = frequency_hz;
    attr.set_freq(1);
    // Reading the event gives its enabled time too: how a dead event (its CPU went offline) is
    // told from a live one.
    attr.read_format =
        (sys::bindings::PERF_FORMAT_TOTAL_TIME_ENABLED | sys::bindings::PERF_FORMAT_TOTAL_TIME_RUNNING) as u64;
    // SAFETY: `attr` is a fully initialized perf_event_attr with `size` set; the kernel only
    // reads it. pid -1 + a CPU samples every task on that CPU.
    let fd = unsafe { sys::perf_event_open(&mut attr, -1, cpu as i32, -1, sys::bindings::PERF_FLAG_FD_CLOEXEC as u64) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: perf_event_open returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// True when an error from opening a hardware event means "no such hardware here".
pub fn is_unsupported(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::ENOENT | libc::EOPNOTSUPP | libc::ENODEV | libc::EINVAL))
}

/// `kernel.perf_event_max_sample_rate`, when readable.
pub fn max_sample_rate() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_max_sample_rate").ok()?.trim().parse().ok()
}

/// The rate to sample at when `requested` Hz is asked for and the kernel allows at most
/// `limit` (`kernel.perf_event_max_sample_rate`, `None` when unknown): `requested` when
/// allowed; above it, the limit and a warning naming both rates, or with `strict` an error
/// with the limit and the fix.
pub fn fit_frequency(requested: u64, limit: Option<u64>, strict: bool) -> Result<(u64, Option<String>), SampleError> {
    match limit {
        Some(max) if requested > max && strict => Err(SampleError::FrequencyTooHigh { requested, max }),
        Some(max) if requested > max => Ok((
            max,
            Some(format!(
                "sampling at {max} Hz instead of the requested {requested} Hz: kernel.perf_event_max_sample_rate \
                 is {max} (--strict-freq refuses instead; `sysctl kernel.perf_event_max_sample_rate={requested}` \
                 raises the limit)"
            )),
        )),
        _ => Ok((requested, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::fit_frequency;

    /// A rate within the limit is kept; above it, lowered to the limit with a warning naming
    /// both, or refused in strict mode with the limit and the sysctl fix.
    #[test]
    fn perf_events_fit_frequency_falls_back_or_refuses() {
        assert_eq!(fit_frequency(99, Some(100_000), false).unwrap(), (99, None));
        assert_eq!(fit_frequency(100_000, Some(100_000), true).unwrap(), (100_000, None));
        assert_eq!(fit_frequency(5_000_000, None, true).unwrap(), (5_000_000, None));
        let (hz, warning) = fit_frequency(250_000, Some(100_000), false).unwrap();
        let warning = warning.unwrap();
        assert_eq!(hz, 100_000);
        assert!(warning.contains("100000 Hz") && warning.contains("250000 Hz"), "{warning}");
        let err = fit_frequency(250_000, Some(100_000), true).unwrap_err().to_string();
        assert!(err.contains("perf_event_max_sample_rate = 100000"), "{err}");
        assert!(err.contains("sysctl kernel.perf_event_max_sample_rate=250000"), "{err}");
    }
}
