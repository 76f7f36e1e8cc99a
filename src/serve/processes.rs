//! `/api/processes.json`: the processes (thread names) of a time range with their sample and
//! PID counts, and each interval's samples by process, for the UI's process picker and its
//! timeline stacked by the top processes; and the range's cgroups with their samples, for the
//! cgroup picker.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use super::routes::Reply;
use super::{App, Source};
use crate::profile::Measure;

/// Most archives one request reads: an hour of 1 s archives. A longer range gets a 400 (the UI
/// then draws its timeline without the breakdown).
const MAX_ARCHIVES: usize = 4000;

/// Most processes listed: the picker shows a few hundred names at most, and the rest of a range's
/// samples stay in the intervals' totals. Cgroups are capped likewise.
const MAX_PROCESSES: usize = 500;

/// What one archive holds, by thread name.
#[derive(Debug)]
struct Summary {
    /// Samples by name.
    samples: HashMap<String, u64>,
    /// PIDs seen with each name.
    pids: HashMap<String, HashSet<u32>>,
    /// Samples by cgroup path, counted in the cgroup and in each one above it (the root left
    /// out); samples without a cgroup are in none.
    cgroups: HashMap<String, u64>,
    /// All samples of the archive.
    total: u64,
}

/// One archive as last seen: its size (it identifies the content, see `routes::Cache`), its
/// span and, once read for a range, its summary.
#[derive(Debug)]
struct Known {
    bytes: u64,
    start: u64,
    end: u64,
    /// What its counts measure: a range is one kind of time (see `store::merge_spans`).
    measure: Measure,
    summary: Option<Arc<Summary>>,
}

/// Archives already read for `/api/processes.json`, by path.
#[derive(Debug, Default)]
pub(super) struct Cache {
    archives: HashMap<PathBuf, Known>,
}

/// One process of the range.
#[derive(serde::Serialize)]
struct ProcessJson {
    comm: String,
    pids: usize,
    samples: u64,
}

/// One cgroup of the range: its path (`cgroup:<id>` when not known) and the samples in it or
/// below it.
#[derive(serde::Serialize)]
struct CgroupJson {
    path: String,
    samples: u64,
}

/// One interval of the range: its span, all its samples and those of the listed processes as
/// `[index in processes, samples]`.
#[derive(serde::Serialize)]
struct IntervalJson {
    start_unix_ns: u64,
    end_unix_ns: u64,
    samples: u64,
    by_process: Vec<(usize, u64)>,
}

#[derive(serde::Serialize)]
struct ProcessesJson {
    processes: Vec<ProcessJson>,
    intervals: Vec<IntervalJson>,
    /// By path, so a cgroup comes right before those below it; the [`MAX_PROCESSES`] with the
    /// most samples.
    cgroups: Vec<CgroupJson>,
}

impl App {
    /// The processes of the archives overlapping `from`..`to` (ns) and each archive's samples by
    /// process, most samples first.
    pub(super) fn processes(&self, from: u64, to: u64) -> Result<Reply, Reply> {
        let dir = match self.source.as_ref() {
            Source::Dir(dir) => dir,
            // One profile: its processes, as one interval.
            Source::File { profile, .. } => {
                let (start, end) = (profile.meta.start_unix_ns, profile.meta.end_unix_ns);
                return Ok(Reply::json(&table(&[(start, end, Arc::new(summarize(profile)))])));
            }
        };
        let entries =
            crate::store::list(dir).map_err(|e| Reply::error(500, &format!("cannot list `{}`: {e}", dir.display())))?;
        let listed: HashSet<PathBuf> = entries.0.iter().map(|e| e.path.clone()).collect();
        // Archives are named by their start: later ones cannot overlap.
        let candidates: Vec<_> = entries.0.into_iter().filter(|e| e.start_unix_ns < to).collect();
        let mut cache = self.processes.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut rows: Vec<(u64, u64, Arc<Summary>)> = Vec::new();
        let mut measures = Vec::new();
        for e in &candidates {
            let fresh = cache.archives.get(&e.path).is_some_and(|k| k.bytes == e.bytes);
            if !fresh {
                // Unreadable archives are left out, as in the interval list.
                let Ok(meta) = crate::archive::read_meta_file(&e.path) else { continue };
                let known = Known {
                    bytes: e.bytes,
                    start: meta.start_unix_ns,
                    end: meta.end_unix_ns,
                    measure: meta.event.measure(),
                    summary: None,
                };
                cache.archives.insert(e.path.clone(), known);
            }
            let Some(known) = cache.archives.get_mut(&e.path) else { continue };
            if known.start >= to || known.end <= from {
                continue;
            }
            if rows.len() == MAX_ARCHIVES {
                return Err(Reply::error(
                    400,
                    &format!("the range has more than {MAX_ARCHIVES} archives: choose a shorter one"),
                ));
            }
            let summary = match &known.summary {
                Some(s) => Arc::clone(s),
                None => {
                    let Ok(p) = crate::archive::read_file(&e.path) else { continue };
                    let s = Arc::new(summarize(&p));
                    known.summary = Some(Arc::clone(&s));
                    s
                }
            };
            rows.push((known.start, known.end, summary));
            measures.push(known.measure);
        }
        // Archives removed since (retention) leave the cache.
        cache.archives.retain(|p, _| listed.contains(p));
        drop(cache);
        // As the merged range: only the newest archive's kind of time.
        let mut rows: Vec<_> = rows.into_iter().zip(measures).collect();
        rows.sort_by_key(|((start, ..), _)| *start);
        let newest = rows.last().map(|(_, m)| *m);
        let rows: Vec<_> = rows.into_iter().filter(|(_, m)| Some(*m) == newest).map(|(row, _)| row).collect();
        Ok(Reply::json(&table(&rows)))
    }
}

fn summarize(p: &crate::profile::Profile) -> Summary {
    let mut s = Summary { samples: HashMap::new(), pids: HashMap::new(), cgroups: HashMap::new(), total: 0 };
    let lineages: Vec<Vec<String>> = p.cgroups.iter().map(crate::profile::Cgroup::lineage).collect();
    for sample in &p.samples {
        *s.samples.entry(sample.comm.clone()).or_default() += sample.count;
        s.pids.entry(sample.comm.clone()).or_default().insert(sample.pid);
        s.total = s.total.saturating_add(sample.count);
        for path in sample.cgroup.and_then(|i| lineages.get(i as usize)).into_iter().flatten() {
            let n = s.cgroups.entry(path.clone()).or_default();
            *n = n.saturating_add(sample.count);
        }
    }
    s
}

fn table(rows: &[(u64, u64, Arc<Summary>)]) -> ProcessesJson {
    let mut samples: HashMap<&str, u64> = HashMap::new();
    let mut pids: HashMap<&str, HashSet<u32>> = HashMap::new();
    for (.., s) in rows {
        for (comm, n) in &s.samples {
            *samples.entry(comm).or_default() += n;
        }
        for (comm, set) in &s.pids {
            pids.entry(comm).or_default().extend(set);
        }
    }
    let mut processes: Vec<ProcessJson> = samples
        .into_iter()
        .map(|(comm, samples)| ProcessJson {
            comm: comm.to_string(),
            pids: pids.get(comm).map_or(0, HashSet::len),
            samples,
        })
        .collect();
    processes.sort_by(|a, b| b.samples.cmp(&a.samples).then_with(|| a.comm.cmp(&b.comm)));
    processes.truncate(MAX_PROCESSES);
    let index: HashMap<&str, usize> = processes.iter().enumerate().map(|(i, p)| (p.comm.as_str(), i)).collect();
    let intervals = rows
        .iter()
        .map(|(start, end, s)| {
            let mut by_process: Vec<(usize, u64)> =
                s.samples.iter().filter_map(|(comm, n)| Some((*index.get(comm.as_str())?, *n))).collect();
            by_process.sort_unstable();
            IntervalJson { start_unix_ns: *start, end_unix_ns: *end, samples: s.total, by_process }
        })
        .collect();
    let mut cgroups: HashMap<&str, u64> = HashMap::new();
    for (.., s) in rows {
        for (path, n) in &s.cgroups {
            let total = cgroups.entry(path).or_default();
            *total = total.saturating_add(*n);
        }
    }
    let mut cgroups: Vec<CgroupJson> =
        cgroups.into_iter().map(|(path, samples)| CgroupJson { path: path.to_string(), samples }).collect();
    cgroups.sort_by(|a, b| b.samples.cmp(&a.samples).then_with(|| a.path.cmp(&b.path)));
    cgroups.truncate(MAX_PROCESSES);
    // Component by component: `/a` and `/a/b` before `/a.slice`.
    cgroups.sort_by(|a, b| a.path.split('/').cmp(b.path.split('/')));
    ProcessesJson { processes, intervals, cgroups }
}
