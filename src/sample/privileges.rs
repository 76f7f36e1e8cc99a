//! Checking, before anything is created, that this process may load BPF programs and open
//! system-wide perf events, and explaining the fix when it may not.

use std::fmt::Write as _;

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// The effective capability set of this process, from `/proc/self/status`.
fn effective_caps() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
    u64::from_str_radix(line["CapEff:".len()..].trim(), 16).ok()
}

fn read_sysctl(name: &str) -> String {
    let path = format!("/proc/sys/kernel/{name}");
    std::fs::read_to_string(&path).map(|s| s.trim().to_string()).unwrap_or_else(|_| "unknown".into())
}

/// Returns `Err(message)` naming the missing capabilities, the relevant sysctls and the fix,
/// or `Ok(())` when the process has CAP_BPF + CAP_PERFMON, or CAP_SYS_ADMIN.
pub fn check() -> Result<(), String> {
    let caps = effective_caps().unwrap_or(0);
    let has = |c: u32| caps & (1u64 << c) != 0;
    if has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON)) {
        return Ok(());
    }
    Err(describe_missing(has(CAP_BPF), has(CAP_PERFMON)))
}

/// The message for a process that lacks CAP_BPF and/or CAP_PERFMON.
pub fn describe_missing(has_bpf: bool, has_perfmon: bool) -> String {
    let missing: Vec<&str> = [(has_bpf, "CAP_BPF"), (has_perfmon, "CAP_PERFMON")]
        .into_iter()
        .filter(|(has, _)| !has)
        .map(|(_, name)| name)
        .collect();
    let mut msg = format!(
        "permission denied: prof needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN, or root) to load its BPF \
         program and sample all CPUs; missing: {}",
        missing.join(" and ")
    );
    let _ = write!(
        msg,
        "\n  kernel.perf_event_paranoid = {} (system-wide sampling without CAP_PERFMON needs -1)\
         \n  kernel.unprivileged_bpf_disabled = {} (BPF without CAP_BPF needs 0, and tracing programs need CAP_BPF anyway)\
         \nfix: run prof as root (sudo prof record …), or grant the capabilities to the binary:\
         \n  sudo setcap cap_bpf,cap_perfmon,cap_sys_ptrace,cap_sys_admin+ep $(command -v prof)\
         \n(cap_sys_ptrace and cap_sys_admin let prof read other users' /proc/PID/maps and map_files for symbols)",
        read_sysctl("perf_event_paranoid"),
        read_sysctl("unprivileged_bpf_disabled"),
    );
    msg
}

/// The message for a system call the kernel refused with EPERM/EACCES although this process
/// has the capabilities ([`check`] passed): something above capabilities blocks it.
pub fn describe_refused(syscall: &str, error: &str) -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let seccomp = status.lines().find_map(|l| l.strip_prefix("Seccomp:")).map(str::trim).unwrap_or("unknown");
    let seccomp = match seccomp {
        "0" => "none",
        "1" => "strict mode",
        "2" => "a filter is installed",
        other => other,
    };
    format!(
        "the kernel refused {syscall} ({error}) although prof has CAP_BPF and CAP_PERFMON: a policy above \
         capabilities blocks it: a seccomp filter (container runtimes' default profiles block bpf() and \
         perf_event_open()), an LSM (SELinux, AppArmor, lockdown) or a BPF token restriction\
         \n  seccomp of this process: {seccomp}\
         \n  kernel.unprivileged_bpf_disabled = {}, kernel.perf_event_paranoid = {}\
         \nfix: run prof on the host, or in a container allowed to use bpf() and perf_event_open() \
         (e.g. `--privileged`, or a seccomp profile that allows them)",
        read_sysctl("unprivileged_bpf_disabled"),
        read_sysctl("perf_event_paranoid"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message names exactly the capability that is missing.
    #[test]
    fn privileges_message_names_missing_capability() {
        let m = describe_missing(true, false);
        assert!(m.contains("missing: CAP_PERFMON"), "{m}");
        let m = describe_missing(false, true);
        assert!(m.contains("missing: CAP_BPF\n"), "{m}");
        let m = describe_missing(false, false);
        assert!(m.contains("missing: CAP_BPF and CAP_PERFMON"), "{m}");
        assert!(m.contains("perf_event_paranoid = "), "{m}");
    }
}
