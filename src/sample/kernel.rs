//! What prof needs of the running kernel, checked before anything is loaded: its version (from
//! `uname(2)`) against the minimum, the sampling rate it allows, and the locked-memory limit
//! that BPF maps are charged to on kernels before 5.11.

use std::fmt;
use std::sync::Mutex;

use super::{perf_events, SampleError, SamplerOptions};

/// A kernel version, as far as prof compares them: `major.minor.patch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion {
    /// Major version (6 in 6.18.44).
    pub major: u32,
    /// Minor version (18 in 6.18.44).
    pub minor: u32,
    /// Patch level (44 in 6.18.44; 0 when the release has none).
    pub patch: u32,
}

impl KernelVersion {
    /// `major.minor` with patch level 0.
    pub const fn new(major: u32, minor: u32) -> KernelVersion {
        KernelVersion { major, minor, patch: 0 }
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.patch == 0 {
            write!(f, "{}.{}", self.major, self.minor)
        } else {
            write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
        }
    }
}

/// The oldest kernel prof records on: 5.8 brought the BPF ring buffer (process notifications)
/// and CAP_BPF/CAP_PERFMON.
pub const MIN_KERNEL: KernelVersion = KernelVersion::new(5, 8);

/// From 5.11 on, BPF memory is charged to the memory cgroup instead of `RLIMIT_MEMLOCK`.
pub const MEMCG_ACCOUNTING: KernelVersion = KernelVersion::new(5, 11);

/// Parses the start of a kernel release leniently: `6.18.44-fc-v1300` → 6.18.44, `5.15` →
/// 5.15.0, `4.19.0+` → 4.19.0. `None` when there is no `major.minor` at the start.
pub fn parse_release(release: &str) -> Option<KernelVersion> {
    let mut parts = release.trim().splitn(4, '.');
    let number = |s: &str| -> Option<u32> {
        let digits = s.find(|c: char| !c.is_ascii_digit()).map_or(s, |end| &s[..end]);
        digits.parse().ok()
    };
    let major = parts.next().filter(|s| s.bytes().all(|b| b.is_ascii_digit())).and_then(number)?;
    let minor = parts.next().and_then(number)?;
    let patch = parts.next().and_then(number).unwrap_or(0);
    Some(KernelVersion { major, minor, patch })
}

/// The running kernel's release as `uname(2)` reports it (what `uname -r` prints; a process
/// with the UNAME26 personality sees `2.6.x`), or `None` when uname fails.
pub fn uname_release() -> Option<String> {
    // SAFETY: utsname is plain bytes; uname fills it and NUL-terminates every field.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable utsname.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return None;
    }
    let bytes: Vec<u8> = uts.release.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The running kernel's version (from [`uname_release`]), `None` when it cannot be parsed.
/// Features newer than [`MIN_KERNEL`] (e.g. `bpf_loop`, 5.17) can be gated on it.
pub fn running_version() -> Option<KernelVersion> {
    uname_release().as_deref().and_then(parse_release)
}

/// Checks the running kernel against [`MIN_KERNEL`]. An older kernel is refused, unless
/// `allow_old`, then (like a release that cannot be parsed) it gives a warning to show.
pub fn check_version(allow_old: bool) -> Result<Option<String>, SampleError> {
    let release = uname_release().unwrap_or_default();
    version_verdict(&release, allow_old)
}

/// [`check_version`] for a given release string.
fn version_verdict(release: &str, allow_old: bool) -> Result<Option<String>, SampleError> {
    match parse_release(release) {
        Some(v) if v >= MIN_KERNEL => Ok(None),
        Some(_) if !allow_old => Err(SampleError::KernelTooOld { release: release.to_string(), minimum: MIN_KERNEL }),
        Some(_) => Ok(Some(format!(
            "kernel {release} is older than {MIN_KERNEL}, the oldest prof supports; recording anyway \
             (--no-kernel-version-check): loading or sampling may fail"
        ))),
        None => Ok(Some(format!(
            "cannot tell the kernel version from its release `{}`; assuming at least {MIN_KERNEL}",
            release.escape_debug()
        ))),
    }
}

/// Fits `opts` to the running kernel before a [`super::Sampler`] starts, and returns the
/// warnings to show: the version check (an old kernel is refused unless
/// `opts.kernel_version_check` is off), and a frequency above
/// `kernel.perf_event_max_sample_rate`, read now, is lowered to it (refused when `strict_freq`).
/// [`super::Sampler::start`] itself refuses both instead of adapting.
pub fn fit_to_kernel(opts: &mut SamplerOptions, strict_freq: bool) -> Result<Vec<String>, SampleError> {
    let mut warnings: Vec<String> = check_version(!opts.kernel_version_check)?.into_iter().collect();
    let (hz, warning) = perf_events::fit_frequency(opts.frequency_hz, perf_events::max_sample_rate(), strict_freq)?;
    opts.frequency_hz = hz;
    warnings.extend(warning);
    Ok(warnings)
}

/// `RLIMIT_MEMLOCK` as prof left it for loading: the limit to put back once the maps exist, and
/// the finite limit in force during the load when raising it was refused.
struct MemlockState {
    saved: Option<libc::rlimit>,
    finite_at_load: Option<u64>,
}

static MEMLOCK: Mutex<MemlockState> = Mutex::new(MemlockState { saved: None, finite_at_load: None });

fn get_memlock() -> Option<libc::rlimit> {
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `r` is a valid, writable rlimit.
    (unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut r) } == 0).then_some(r)
}

fn set_memlock(r: libc::rlimit) -> bool {
    // SAFETY: `r` is a valid rlimit; setrlimit only reads it.
    unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &r) == 0 }
}

/// Raises `RLIMIT_MEMLOCK` to unlimited (or, when that is refused, the soft limit to the hard
/// one) for loading: kernels before 5.11 charge BPF maps to it. Never fails: from 5.11 on the
/// limit does not matter, and a container may refuse setrlimit. libbpf raises it too on those
/// kernels, once and for good; [`restore_memlock`] puts back the limit prof found.
pub(super) fn raise_memlock() {
    let Ok(mut state) = MEMLOCK.lock() else { return };
    let Some(old) = get_memlock() else { return };
    let unlimited = libc::rlimit { rlim_cur: libc::RLIM_INFINITY, rlim_max: libc::RLIM_INFINITY };
    let soft_to_hard = libc::rlimit { rlim_cur: old.rlim_max, rlim_max: old.rlim_max };
    if old.rlim_cur == libc::RLIM_INFINITY {
        state.finite_at_load = None;
        return;
    }
    if set_memlock(unlimited) {
        state.finite_at_load = None;
    } else if old.rlim_max > old.rlim_cur && set_memlock(soft_to_hard) {
        state.finite_at_load = (old.rlim_max != libc::RLIM_INFINITY).then_some(old.rlim_max);
    } else {
        state.finite_at_load = Some(old.rlim_cur);
        return;
    }
    // Keep the first limit found if a second sampler starts before the first restored it.
    state.saved.get_or_insert(old);
}

/// Puts back the `RLIMIT_MEMLOCK` that [`raise_memlock`] found, once the BPF maps exist, so a
/// command prof spawns inherits the limit prof was given.
pub(super) fn restore_memlock() {
    let Ok(mut state) = MEMLOCK.lock() else { return };
    if let Some(old) = state.saved.take() {
        set_memlock(old);
    }
}

/// The finite `RLIMIT_MEMLOCK` (bytes) in force while the BPF object loaded, when raising it
/// was refused; `None` when it was unlimited.
pub(super) fn memlock_at_load() -> Option<u64> {
    MEMLOCK.lock().ok().and_then(|s| s.finite_at_load)
}

/// True when a permission error of a load may come from `RLIMIT_MEMLOCK`: the limit was finite
/// and the kernel charges BPF memory to it (before 5.11, or a version that cannot be told).
pub(super) fn memlock_may_refuse(memlock: Option<u64>, kernel: Option<KernelVersion>) -> bool {
    memlock.is_some() && kernel.is_none_or(|v| v < MEMCG_ACCOUNTING)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(major: u32, minor: u32, patch: u32) -> Option<KernelVersion> {
        Some(KernelVersion { major, minor, patch })
    }

    /// Releases parse leniently from their start; garbage is `None`, never a panic.
    #[test]
    fn kernel_parse_release_is_lenient() {
        assert_eq!(parse_release("6.18.44-fc-v1300"), v(6, 18, 44));
        assert_eq!(parse_release("5.15.0-91-generic"), v(5, 15, 0));
        assert_eq!(parse_release("2.6.78-fc-v1300"), v(2, 6, 78));
        assert_eq!(parse_release("5.8"), v(5, 8, 0));
        assert_eq!(parse_release("4.19.0+"), v(4, 19, 0));
        assert_eq!(parse_release("6.1-rc3"), v(6, 1, 0));
        assert_eq!(parse_release(" 5.10.0 \n"), v(5, 10, 0));
        assert_eq!(parse_release("6.18.44.1"), v(6, 18, 44));
        for garbage in ["", "6", "6.", "x.y", "-5.8", "5..8", ".5.8", "linux-6.1", "99999999999.1", "5.x", "\u{0}"] {
            assert_eq!(parse_release(garbage), None, "{garbage:?}");
        }
        assert_eq!(KernelVersion::new(5, 8).to_string(), "5.8");
        assert!(KernelVersion::new(5, 8) < KernelVersion { major: 5, minor: 8, patch: 1 });
        assert!(KernelVersion::new(5, 17) > KernelVersion::new(5, 8));
    }

    /// An old kernel is refused with the release, the minimum and the override; with the
    /// override, and for a release that cannot be parsed, it is a warning.
    #[test]
    fn kernel_version_verdicts() {
        assert!(version_verdict("6.18.44-fc", false).unwrap().is_none());
        assert!(version_verdict("5.8.0", false).unwrap().is_none());
        let err = version_verdict("5.4.0-150-generic", false).unwrap_err().to_string();
        for needle in ["5.4.0-150-generic", "5.8", "--no-kernel-version-check"] {
            assert!(err.contains(needle), "{needle:?} missing in {err}");
        }
        let warning = version_verdict("2.6.78", true).unwrap().unwrap();
        assert!(warning.contains("2.6.78") && warning.contains("5.8"), "{warning}");
        let warning = version_verdict("garbage\n", false).unwrap().unwrap();
        assert!(warning.contains("garbage\\n"), "{warning}");
    }

    /// Memlock is blamed only where it applies: a finite limit on a kernel before 5.11.
    #[test]
    fn kernel_memlock_blamed_only_before_memcg_accounting() {
        assert!(memlock_may_refuse(Some(65536), v(5, 10, 0)));
        assert!(memlock_may_refuse(Some(65536), None));
        assert!(!memlock_may_refuse(Some(65536), v(5, 11, 0)));
        assert!(!memlock_may_refuse(None, v(5, 4, 0)));
    }

    /// Raising the memlock limit for loading lifts the soft limit (to unlimited, or at least to
    /// the hard limit when raising the hard one is not allowed), and restoring puts back the
    /// limit found. Run in a forked child, so the test process's limit is untouched; the child
    /// only calls getrlimit/setrlimit and exits with a code saying which step failed.
    #[test]
    fn kernel_memlock_raise_and_restore() {
        // SAFETY: the child calls only getrlimit/setrlimit (through functions that take an
        // uncontended mutex, unused by any other test) and _exit; it allocates nothing.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let code = match get_memlock() {
                None => 10,
                Some(found) => {
                    let hard = found.rlim_max;
                    let soft = if hard == libc::RLIM_INFINITY { 65536 } else { hard / 2 };
                    let small = libc::rlimit { rlim_cur: soft, rlim_max: hard };
                    if !set_memlock(small) {
                        11
                    } else {
                        raise_memlock();
                        let raised = get_memlock().map_or(0, |r| r.rlim_cur);
                        let at_load = memlock_at_load();
                        restore_memlock();
                        let restored = get_memlock().map(|r| (r.rlim_cur, r.rlim_max));
                        let expected_at_load = (raised != libc::RLIM_INFINITY).then_some(raised);
                        if raised != libc::RLIM_INFINITY && raised != hard {
                            12
                        } else if at_load != expected_at_load {
                            13
                        } else if restored != Some((soft, hard)) {
                            14
                        } else {
                            0
                        }
                    }
                }
            };
            // SAFETY: _exit ends the forked child without running the parent's destructors.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: `pid` is our child; `status` is writable.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status), "child died: {status}");
        assert_eq!(libc::WEXITSTATUS(status), 0, "memlock raise/restore failed at step {}", libc::WEXITSTATUS(status));
    }

    /// The running kernel's version comes from uname and parses (this machine runs a modern
    /// kernel with a normal release string).
    #[test]
    fn kernel_running_version_parses() {
        let release = uname_release().expect("uname works");
        let version = running_version().expect("the release parses");
        assert!(release.starts_with(&format!("{}.{}", version.major, version.minor)), "{release} vs {version}");
    }
}
