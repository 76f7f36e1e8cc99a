//! The sampling event on each CPU, through CPU hotplug: a CPU taken offline loses its perf
//! event for good (the kernel removes it from the CPU's context, and it stays dead when the CPU
//! comes back), so the event is opened and the program attached again once the CPU is online.
//! A CPU that comes online for the first time is sampled too. Each change is returned as a note
//! naming the CPU and when, so the profile says which interval had fewer CPUs.
//!
//! Offline and back between two checks is caught too: an event that is scheduled on an online
//! CPU accumulates "enabled" time, a dead one does not ([`enabled_ns`]).

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd};
use std::time::{Duration, Instant};

use libbpf_rs::Link;

use super::programs::Programs;
use super::{cpus, perf_events, EventKind};

/// How long an event on an online CPU may go without enabled time before it is taken as dead.
const STALL: Duration = Duration::from_millis(500);

/// One CPU's event.
struct CpuSlot {
    /// The program attached to the CPU's event (owns the event; None while the CPU is offline).
    link: Option<Link>,
    /// A second descriptor of the same event, to read its enabled time.
    probe: Option<OwnedFd>,
    /// Enabled time at the last check, and when that was.
    enabled: u64,
    checked: Instant,
    /// Since when the CPU is offline (not sampled).
    offline_since: Option<Instant>,
}

/// The sampling events of every CPU, kept attached through hotplug.
pub(super) struct PerCpu {
    event: EventKind,
    frequency_hz: u64,
    started: Instant,
    cpus: BTreeMap<u32, CpuSlot>,
}

impl PerCpu {
    /// Events attached at start: (CPU, the attached program, a second descriptor of its event).
    pub(super) fn new(event: EventKind, frequency_hz: u64, attached: Vec<(u32, Link, Option<OwnedFd>)>) -> PerCpu {
        let now = Instant::now();
        let cpus = attached
            .into_iter()
            .map(|(cpu, link, probe)| {
                let enabled = probe.as_ref().and_then(enabled_ns).unwrap_or(0);
                (cpu, CpuSlot { link: Some(link), probe, enabled, checked: now, offline_since: None })
            })
            .collect();
        PerCpu { event, frequency_hz, started: now, cpus }
    }

    /// True while any CPU's event is attached.
    pub(super) fn is_running(&self) -> bool {
        self.cpus.values().any(|c| c.link.is_some())
    }

    /// Every CPU sampled at some point of the recording, in order (some may be offline now).
    pub(super) fn cpus(&self) -> Vec<u32> {
        self.cpus.keys().copied().collect()
    }

    /// Detaches every event (sampling stops); the CPUs sampled stay listed.
    pub(super) fn detach_all(&mut self) {
        for slot in self.cpus.values_mut() {
            (slot.link, slot.probe) = (None, None);
        }
    }

    /// Follows CPUs going offline and coming (back) online since the last check, reattaching
    /// where needed. Returns one note per change.
    pub(super) fn check(&mut self, programs: &Programs) -> Vec<String> {
        if !self.is_running() {
            return Vec::new();
        }
        let Ok(online) = cpus::online_cpus() else { return Vec::new() };
        let now = Instant::now();
        let mut notes = Vec::new();
        let started = self.started;
        let at = |t: Instant| t.duration_since(started).as_secs_f64();
        let known: Vec<u32> = self.cpus.keys().copied().collect();
        for cpu in known {
            let is_online = online.contains(&cpu);
            let Some(slot) = self.cpus.get_mut(&cpu) else { continue };
            let note = match (slot.offline_since, is_online) {
                (None, false) => {
                    slot.offline_since = Some(now);
                    (slot.link, slot.probe) = (None, None);
                    notes.push(format!("CPU {cpu} went offline at +{:.1} s: not sampled while offline", at(now)));
                    continue;
                }
                (Some(since), true) => format!(
                    "CPU {cpu} was offline from +{:.1} s to +{:.1} s ({:.1} s not sampled); sampled again",
                    at(since),
                    at(now),
                    now.duration_since(since).as_secs_f64()
                ),
                (None, true) if self.stalled(cpu, now) => {
                    format!("CPU {cpu} went offline and came back before +{:.1} s; sampled again", at(now))
                }
                _ => continue,
            };
            if self.reattach(programs, cpu) {
                notes.push(note);
            }
        }
        let new: Vec<u32> = online.iter().copied().filter(|c| !self.cpus.contains_key(c)).collect();
        for cpu in new {
            // A CPU joins only once sampled; one that fails to attach is tried again next time.
            if let Some(slot) = self.attach(programs, cpu) {
                self.cpus.insert(cpu, slot);
                notes.push(format!("CPU {cpu} came online at +{:.1} s: sampled from then on", at(now)));
            }
        }
        notes
    }

    /// True when `cpu`'s event has gained no enabled time for [`STALL`]: it is dead (the CPU
    /// was offline in between). Updates the last reading otherwise.
    fn stalled(&mut self, cpu: u32, now: Instant) -> bool {
        let Some(slot) = self.cpus.get_mut(&cpu) else { return false };
        let Some(enabled) = slot.probe.as_ref().and_then(enabled_ns) else { return false };
        if enabled != slot.enabled {
            (slot.enabled, slot.checked) = (enabled, now);
            return false;
        }
        now.duration_since(slot.checked) >= STALL
    }

    /// Opens the event on `cpu` again and attaches the program; false (and the CPU stays
    /// offline) when that fails, e.g. because it went offline again.
    fn reattach(&mut self, programs: &Programs, cpu: u32) -> bool {
        let Some(slot) = self.cpus.get_mut(&cpu) else { return false };
        // The old event is dead: close it before opening the new one.
        (slot.link, slot.probe) = (None, None);
        let Some(attached) = self.attach(programs, cpu) else { return false };
        self.cpus.insert(cpu, attached);
        true
    }

    /// A new event on `cpu` with the program attached; None when opening or attaching fails.
    fn attach(&self, programs: &Programs, cpu: u32) -> Option<CpuSlot> {
        let fd = perf_events::open_event(self.event, self.frequency_hz, cpu).ok()?;
        let probe = fd.try_clone().ok();
        let link = programs.sampler().attach_perf_event(fd.as_raw_fd()).ok()?;
        // The link owns the event descriptor from now on and closes it on detach.
        let _ = fd.into_raw_fd();
        let enabled = probe.as_ref().and_then(enabled_ns).unwrap_or(0);
        Some(CpuSlot { link: Some(link), probe, enabled, checked: Instant::now(), offline_since: None })
    }
}

/// The event's enabled time in nanoseconds (its `read_format` has the total enabled and running
/// times: value, enabled, running).
fn enabled_ns(fd: &OwnedFd) -> Option<u64> {
    let mut buf = [0u64; 3];
    // SAFETY: `buf` is 24 writable bytes owned by this frame; read writes at most that many.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), std::mem::size_of_val(&buf)) };
    (n == std::mem::size_of_val(&buf) as isize).then_some(buf[1])
}
