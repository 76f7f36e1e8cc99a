//! Keeping the samples of some processes only: `--comm`, `--pid`, `--tid`, `--cgroup` and
//! `--container` of `prof report` and `prof diff`, applied to a [`Profile`] before anything is written, so every output (table,
//! folded, SVG, pprof, speedscope, archive, JSON) shows the same samples.
//!
//! A sample is kept when its comm matches one of the `--comm` patterns (when any are given), its
//! pid is one of the `--pid` values and its thread one of the `--tid` values (when any are
//! given), and, with `--no-idle`, it is not the idle task's. A pattern matches a comm that
//! equals it, or that the regular expression matches as a whole (`python.*`, `kworker/.*`), so
//! names with regex characters (`python3.11`, `kworker/0:1`) also match literally.
//!
//! A `--cgroup` pattern matches a sample's cgroup path that equals it, lies below it
//! (`/system.slice` keeps `/system.slice/nginx.service`) or that it matches as a whole regular
//! expression; `--container` matches a container id by prefix (`0123abcd` or
//! `docker:0123abcd`).

use super::{Cgroup, Metadata, Profile, ProfileBuilder, StackId};

/// Most bytes a compiled `--comm` pattern may take: bounds what a pathological pattern costs.
const MAX_PATTERN_BYTES: usize = 1 << 20;

/// Comms named in the error when nothing matched.
const MAX_NAMED_COMMS: usize = 8;

/// Why a filter cannot be built or applied.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// A `--comm` pattern compiles into more than the size limit.
    #[error("{option} `{pattern}`: not a valid regular expression: {reason}")]
    BadPattern {
        /// The option (`--comm`, `--cgroup`).
        option: &'static str,
        /// The value given.
        pattern: String,
        /// What the regex parser said.
        reason: String,
    },
    /// `--pid` on a profile that records no process ids (folded stacks without `comm [pid]`).
    #[error(
        "`{source_name}` has no process ids, so --pid cannot select samples: folded stacks carry pids \
         only in `comm [pid]` root frames (prof writes them with --pid-in-name); use the archive (.prof) \
         or a pprof file instead, or select by name with --comm"
    )]
    NoPids {
        /// The input.
        source_name: String,
    },
    /// `--tid` on a profile that records no thread ids (folded stacks, pprof of other tools,
    /// archives written before prof recorded threads).
    #[error(
        "`{source_name}` has no thread ids, so --tid cannot select samples: prof records them in \
         archives (.prof) and its pprof files since it samples per thread; select by process with \
         --pid or by name with --comm"
    )]
    NoThreads {
        /// The input.
        source_name: String,
    },
    /// `--cgroup` or `--container` on a profile that records no cgroups.
    #[error(
        "`{source_name}` has no cgroups, so --cgroup and --container cannot select samples: prof \
         records them in archives (.prof) and its pprof files since it samples cgroups"
    )]
    NoCgroups {
        /// The input.
        source_name: String,
    },
    /// No sample is left.
    #[error("no sample of `{source_name}` matches {filter}; its busiest comms: {comms}")]
    NothingMatched {
        /// The input.
        source_name: String,
        /// The filter as given (`--comm x --pid 1`).
        filter: String,
        /// The busiest comms of the input with their pids, to pick from.
        comms: String,
    },
}

/// One `--comm` value: the name, and the anchored regular expression when it is one.
#[derive(Clone, Debug)]
struct CommPattern {
    name: String,
    regex: regex::Regex,
}

/// Which samples to keep, by process name (comm), process and thread id, cgroup and container.
#[derive(Clone, Debug, Default)]
pub struct SampleFilter {
    comms: Vec<CommPattern>,
    pids: Vec<u32>,
    tids: Vec<u32>,
    cgroups: Vec<CommPattern>,
    containers: Vec<String>,
    no_idle: bool,
}

/// Compiles `--comm` or `--cgroup` values into whole-name patterns (a value that is not a
/// valid pattern matches itself).
fn patterns(names: &[String], option: &'static str) -> Result<Vec<CommPattern>, FilterError> {
    names
        .iter()
        .map(|name| {
            let regex = regex::RegexBuilder::new(&format!("^(?:{name})$"))
                .size_limit(MAX_PATTERN_BYTES)
                .build()
                .or_else(|e| match e {
                    // A name that is not a valid pattern (`a(b`) still matches itself.
                    regex::Error::Syntax(_) => regex::Regex::new(&format!("^{}$", regex::escape(name))),
                    e => Err(e),
                })
                .map_err(|e| FilterError::BadPattern { option, pattern: name.clone(), reason: e.to_string() })?;
            Ok(CommPattern { name: name.clone(), regex })
        })
        .collect()
}

impl SampleFilter {
    /// A filter keeping samples whose comm matches one of `comms` (all comms when empty) and
    /// whose pid is one of `pids` (all pids when empty).
    pub fn new(comms: &[String], pids: &[u32]) -> Result<SampleFilter, FilterError> {
        Ok(SampleFilter { comms: patterns(comms, "--comm")?, pids: pids.to_vec(), ..SampleFilter::default() })
    }

    /// The filter keeping, in addition, only samples in cgroups `cgroups` matches (a path, one
    /// below it, or a whole-path pattern) and in containers whose id starts with one of
    /// `containers` (all when empty).
    pub fn with_cgroups(mut self, cgroups: &[String], containers: &[String]) -> Result<SampleFilter, FilterError> {
        self.cgroups = patterns(cgroups, "--cgroup")?;
        self.containers = containers.to_vec();
        Ok(self)
    }

    /// Whether a sample in `cgroup` (None: not known) is kept by `--cgroup` and `--container`.
    pub fn matches_cgroup(&self, cgroup: Option<&Cgroup>) -> bool {
        if self.cgroups.is_empty() && self.containers.is_empty() {
            return true;
        }
        let Some(cgroup) = cgroup else { return false };
        let path = cgroup.name();
        let path_ok = self.cgroups.is_empty()
            || self.cgroups.iter().any(|p| cgroup.is_within(&p.name) || p.regex.is_match(&path));
        let container_ok = self.containers.is_empty()
            || cgroup.workload().container.is_some_and(|c| {
                self.containers.iter().any(|want| {
                    let (runtime, id) = match want.split_once(':') {
                        Some((runtime, id)) => (Some(runtime), id),
                        None => (None, want.as_str()),
                    };
                    !id.is_empty() && c.id.starts_with(id) && runtime.is_none_or(|r| r == c.runtime.name())
                })
            });
        path_ok && container_ok
    }

    /// The filter keeping, in addition, only samples of these threads (all when empty).
    pub fn with_threads(mut self, tids: &[u32]) -> SampleFilter {
        self.tids = tids.to_vec();
        self
    }

    /// The filter dropping, in addition, the idle task's samples when `no_idle` is set
    /// ([`super::Sample::is_idle`]).
    pub fn without_idle(mut self, no_idle: bool) -> SampleFilter {
        self.no_idle = no_idle;
        self
    }

    /// True when the filter keeps every sample.
    pub fn is_empty(&self) -> bool {
        self.comms.is_empty()
            && self.pids.is_empty()
            && self.tids.is_empty()
            && self.cgroups.is_empty()
            && self.containers.is_empty()
            && !self.no_idle
    }

    /// Whether a sample of process `pid` named `comm` is kept (by comm and pid only).
    pub fn matches(&self, pid: u32, comm: &str) -> bool {
        let comm_ok = self.comms.is_empty() || self.comms.iter().any(|p| p.name == comm || p.regex.is_match(comm));
        comm_ok && (self.pids.is_empty() || self.pids.contains(&pid))
    }

    /// Whether a sample of thread `tid` of process `pid` named `comm` is kept.
    pub fn matches_thread(&self, pid: u32, tid: u32, comm: &str) -> bool {
        self.matches(pid, comm) && (self.tids.is_empty() || self.tids.contains(&tid))
    }

    /// The filter as options (`--comm a,b --pid 1`), for notes and messages.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.comms.is_empty() {
            let names: Vec<&str> = self.comms.iter().map(|p| p.name.as_str()).collect();
            parts.push(format!("--comm {}", names.join(",")));
        }
        if !self.pids.is_empty() {
            let pids: Vec<String> = self.pids.iter().map(u32::to_string).collect();
            parts.push(format!("--pid {}", pids.join(",")));
        }
        if !self.tids.is_empty() {
            let tids: Vec<String> = self.tids.iter().map(u32::to_string).collect();
            parts.push(format!("--tid {}", tids.join(",")));
        }
        if !self.cgroups.is_empty() {
            let names: Vec<&str> = self.cgroups.iter().map(|p| p.name.as_str()).collect();
            parts.push(format!("--cgroup {}", names.join(",")));
        }
        if !self.containers.is_empty() {
            parts.push(format!("--container {}", self.containers.join(",")));
        }
        if self.no_idle {
            parts.push("--no-idle".to_string());
        }
        parts.join(" ")
    }

    /// The samples of `profile` (read from `source_name`) that the filter keeps, with only the
    /// frames and stacks they use. The metadata's sample total becomes the kept total and a note
    /// says what was kept; the losses stay those of the whole profile (they are not recorded per
    /// process). An empty filter returns the profile unchanged.
    pub fn apply(&self, profile: Profile, source_name: &str) -> Result<Profile, FilterError> {
        if self.is_empty() {
            return Ok(profile);
        }
        if !self.pids.is_empty() && !profile.samples.is_empty() && profile.samples.iter().all(|s| s.pid == 0) {
            return Err(FilterError::NoPids { source_name: source_name.to_string() });
        }
        if !self.tids.is_empty() && !profile.samples.is_empty() && profile.samples.iter().all(|s| s.tid == 0) {
            return Err(FilterError::NoThreads { source_name: source_name.to_string() });
        }
        let by_cgroup = !(self.cgroups.is_empty() && self.containers.is_empty());
        if by_cgroup && !profile.samples.is_empty() && profile.samples.iter().all(|s| s.cgroup.is_none()) {
            return Err(FilterError::NoCgroups { source_name: source_name.to_string() });
        }
        let all = profile.total();
        let mut meta = profile.meta.clone();
        let mut builder = ProfileBuilder::new(Metadata::default());
        let mut frame_map: Vec<Option<u32>> = vec![None; profile.frames.len()];
        let mut stack_map: Vec<Option<StackId>> = vec![None; profile.stacks.len()];
        let mut kept = 0u64;
        let keep = |s: &&super::Sample| {
            self.matches_thread(s.pid, s.tid, &s.comm)
                && !(self.no_idle && s.is_idle())
                && self.matches_cgroup(profile.cgroup_of(s))
        };
        for sample in profile.samples.iter().filter(keep) {
            let stack = match stack_map[sample.stack as usize] {
                Some(id) => id,
                None => {
                    let mut frames = Vec::with_capacity(profile.stacks[sample.stack as usize].len());
                    for &f in &profile.stacks[sample.stack as usize] {
                        let id = match frame_map[f as usize] {
                            Some(id) => id,
                            None => builder.frame(profile.frames[f as usize].clone()),
                        };
                        frame_map[f as usize] = Some(id);
                        frames.push(id);
                    }
                    let id = builder.stack(frames);
                    stack_map[sample.stack as usize] = Some(id);
                    id
                }
            };
            builder.add_owned(stack, profile.owner(sample), sample.count);
            kept = kept.saturating_add(sample.count);
        }
        if kept == 0 {
            return Err(FilterError::NothingMatched {
                source_name: source_name.to_string(),
                filter: self.describe(),
                comms: busiest_comms(&profile),
            });
        }
        meta.total_samples = kept;
        meta.notes.push(format!(
            "filtered with {}: {kept} of {all} samples kept (losses are those of the whole profile)",
            self.describe()
        ));
        *builder.meta_mut() = meta;
        Ok(builder.finish())
    }
}

/// The comms with the most samples, `name (pid 1, 2)`, for a message.
fn busiest_comms(profile: &Profile) -> String {
    let mut by_comm: std::collections::BTreeMap<&str, (u64, std::collections::BTreeSet<u32>)> = Default::default();
    for s in &profile.samples {
        let e = by_comm.entry(s.comm.as_str()).or_default();
        e.0 = e.0.saturating_add(s.count);
        e.1.insert(s.pid);
    }
    let mut comms: Vec<_> = by_comm.into_iter().collect();
    comms.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(b.0)));
    let named: Vec<String> = comms
        .iter()
        .take(MAX_NAMED_COMMS)
        .map(|(comm, (_, pids))| {
            let pids: Vec<String> = pids.iter().take(4).map(u32::to_string).collect();
            let more = if pids.len() < 4 { "" } else { ", …" };
            format!("{comm} (pid {}{more})", pids.join(", "))
        })
        .collect();
    let rest = comms.len().saturating_sub(MAX_NAMED_COMMS);
    if rest > 0 {
        format!("{} and {rest} more", named.join(", "))
    } else {
        named.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Frame, FrameKind};

    fn profile() -> Profile {
        let mut b = ProfileBuilder::new(Metadata { total_samples: 99, ..Metadata::default() });
        let f = b.frame(Frame::new("f", "a", FrameKind::User));
        let g = b.frame(Frame::new("g", "b", FrameKind::User));
        let s1 = b.stack(vec![f]);
        let s2 = b.stack(vec![f, g]);
        b.add(s1, 10, "python3.11", 5);
        b.add(s2, 11, "python3.11", 7);
        b.add(s2, 20, "kworker/0:1", 3);
        b.finish()
    }

    /// Names match literally and as whole-name patterns; pids and comms combine with "and";
    /// the kept profile has only the frames and stacks its samples use, and says what it kept.
    #[test]
    fn filter_comm_and_pid() {
        let f = SampleFilter::new(&["python3.11".into()], &[]).unwrap();
        assert!(f.matches(1, "python3.11") && f.matches(1, "python3x11") && !f.matches(1, "python3.11-x"));
        let f = SampleFilter::new(&["kworker/.*".into(), "a(b".into()], &[]).unwrap();
        assert!(f.matches(1, "kworker/0:1") && f.matches(1, "a(b") && !f.matches(1, "xkworker/1"));
        let f = SampleFilter::new(&["python.*".into()], &[11]).unwrap();
        let p = f.apply(profile(), "x").unwrap();
        assert_eq!(p.total(), 7);
        assert_eq!(p.meta.total_samples, 7);
        assert_eq!(p.samples.len(), 1);
        assert_eq!((p.frames.len(), p.stacks.len()), (2, 1));
        assert!(p.meta.notes.last().unwrap().contains("--comm python.* --pid 11: 7 of 15 samples kept"));
        let mut threads = profile();
        threads.samples.iter_mut().for_each(|s| s.tid = s.pid + 100);
        let p = SampleFilter::new(&[], &[]).unwrap().with_threads(&[111]).apply(threads, "x").unwrap();
        assert_eq!((p.total(), p.samples[0].tid), (7, 111));
        assert!(p.meta.notes.last().unwrap().contains("--tid 111: 7 of 15 samples kept"));
        let p = SampleFilter::new(&[], &[20]).unwrap().apply(profile(), "x").unwrap();
        assert_eq!(p.samples[0].comm, "kworker/0:1");
        assert_eq!(p.frames.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["f", "g"]);
    }

    /// --cgroup keeps a cgroup, those below it and whole-path pattern matches; --container
    /// matches ids by prefix, with or without the runtime; both combine with the rest by "and".
    #[test]
    fn filter_cgroup_and_container() {
        let id = "ab".repeat(32);
        let docker = Cgroup { id: 5, path: format!("/system.slice/docker-{id}.scope") };
        let nginx = Cgroup { id: 6, path: "/system.slice/nginx.service".into() };
        let mut b = ProfileBuilder::new(Metadata::default());
        let f = b.frame(Frame::new("f", "a", FrameKind::User));
        let s = b.stack(vec![f]);
        let owner = |pid, cgroup| crate::profile::SampleOwner { pid, tid: pid, comm: "w", cgroup };
        b.add_owned(s, owner(1, Some(&docker)), 2);
        b.add_owned(s, owner(2, Some(&nginx)), 3);
        b.add_owned(s, owner(3, None), 4);
        let p = b.finish();
        let kept = |cgroups: &[&str], containers: &[&str]| {
            let cgroups: Vec<String> = cgroups.iter().map(|c| c.to_string()).collect();
            let containers: Vec<String> = containers.iter().map(|c| c.to_string()).collect();
            let f = SampleFilter::new(&[], &[]).unwrap().with_cgroups(&cgroups, &containers).unwrap();
            f.apply(p.clone(), "x").map(|p| p.total()).unwrap_or(0)
        };
        assert_eq!(kept(&["/system.slice"], &[]), 5);
        assert_eq!(kept(&["/system.slice/"], &[]), 5);
        assert_eq!(kept(&["/system.sl"], &[]), 0);
        assert_eq!(kept(&[".*nginx.*"], &[]), 3);
        assert_eq!(kept(&[], &["abab"]), 2);
        assert_eq!(kept(&[], &["docker:abab"]), 2);
        assert_eq!(kept(&[], &["podman:abab"]), 0);
        assert_eq!(kept(&["/system.slice/nginx.service"], &["abab"]), 0);
        let f = SampleFilter::new(&[], &[]).unwrap().with_cgroups(&["/system.slice".into()], &[]).unwrap();
        let out = f.apply(p.clone(), "x").unwrap();
        assert_eq!(out.cgroups.len(), 2);
        assert!(out.meta.notes.last().unwrap().contains("--cgroup /system.slice: 5 of 9 samples kept"));
    }

    /// Nothing matched names the busiest comms; --pid on a profile without pids says why.
    #[test]
    fn filter_errors_explain() {
        let e = SampleFilter::new(&["java".into()], &[]).unwrap().apply(profile(), "x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "no sample of `x` matches --comm java; its busiest comms: python3.11 (pid 10, 11), kworker/0:1 (pid 20)"
        );
        let mut p = profile();
        p.samples.iter_mut().for_each(|s| s.pid = 0);
        let e = SampleFilter::new(&[], &[1]).unwrap().apply(p, "x.folded").unwrap_err();
        assert!(matches!(e, FilterError::NoPids { .. }), "{e}");
        let e = SampleFilter::new(&[], &[]).unwrap().with_threads(&[3]).apply(profile(), "x.folded").unwrap_err();
        assert!(matches!(e, FilterError::NoThreads { .. }), "{e}");
        let e = SampleFilter::new(&[], &[]).unwrap().with_cgroups(&["/a".into()], &[]).unwrap().apply(profile(), "x");
        assert!(matches!(e, Err(FilterError::NoCgroups { .. })), "{e:?}");
        let e = SampleFilter::new(&["(a{1000}){1000}".into()], &[]).unwrap_err();
        assert!(e.to_string().starts_with("--comm `(a{1000}){1000}`: not a valid regular expression"), "{e}");
    }
}
