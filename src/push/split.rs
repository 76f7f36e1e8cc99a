//! One interval's profile split by the series of its samples, for labels whose values come
//! from each sample (`--label service_name={container}`): one part per distinct label set,
//! each with only its samples. The number of parts is bounded ([`MAX_SERIES`]): the label sets
//! with the fewest samples beyond it are merged into one [`OVERFLOW_VALUE`] set.

use rustc_hash::FxHashMap as HashMap;

use super::labels::Series;
use crate::profile::cgroup::Workload;
use crate::profile::{Profile, Sample};

/// Most label sets pushed separately per interval; the rest go into one more, the overflow.
pub const MAX_SERIES: usize = 64;

/// The value of every placeholder label of the overflow set.
pub const OVERFLOW_VALUE: &str = "prof_overflow";

/// One label set's samples.
#[derive(Debug)]
pub struct Part {
    /// The series, its placeholders resolved.
    pub series: Series,
    /// Its samples (of the profile the split was made from).
    pub samples: Vec<Sample>,
}

/// A profile's samples by series.
#[derive(Debug)]
pub struct Split {
    /// The parts, most samples first; the overflow (if any) last.
    pub parts: Vec<Part>,
    /// Label sets merged into the overflow part (0: none).
    pub merged: usize,
}

/// Takes `profile`'s samples and groups them by the series `series` resolves them to: at most
/// `max` label sets (those with the most samples, ties by name), the others merged into one
/// set whose placeholder labels are [`OVERFLOW_VALUE`]. The profile keeps its frames, stacks
/// and cgroups; its samples are left empty.
pub fn split(profile: &mut Profile, series: &Series, max: usize) -> Split {
    let workloads: Vec<Workload> = profile.cgroups.iter().map(|c| c.workload()).collect();
    let samples = std::mem::take(&mut profile.samples);
    let mut index: HashMap<Vec<String>, usize> = HashMap::default();
    let mut groups: Vec<(Vec<String>, u64, Vec<Sample>)> = Vec::new();
    for sample in samples {
        let owner = profile.owner(&sample);
        let workload = sample.cgroup.and_then(|c| workloads.get(c as usize));
        let values = series.resolve(&owner, workload);
        let i = *index.entry(values).or_insert_with_key(|values| {
            groups.push((values.clone(), 0, Vec::new()));
            groups.len() - 1
        });
        groups[i].1 = groups[i].1.saturating_add(sample.count);
        groups[i].2.push(sample);
    }
    groups.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let merged = groups.len().saturating_sub(max);
    let overflow: Vec<Sample> = groups.drain(groups.len() - merged..).flat_map(|g| g.2).collect();
    let mut parts: Vec<Part> =
        groups.into_iter().map(|(values, _, samples)| Part { series: series.with_values(values), samples }).collect();
    if merged > 0 {
        let values = series
            .templated_values()
            .map(|(value, templated)| if templated { OVERFLOW_VALUE.to_string() } else { value })
            .collect();
        parts.push(Part { series: series.with_values(values), samples: overflow });
    }
    Split { parts, merged }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Cgroup, Frame, FrameKind, Metadata, ProfileBuilder, SampleOwner};

    fn profile(owners: &[(&str, Option<&str>, u64)]) -> Profile {
        let mut b = ProfileBuilder::new(Metadata::default());
        let f = b.frame(Frame::new("main", "app", FrameKind::User));
        let s = b.stack(vec![f]);
        for (i, &(comm, path, count)) in owners.iter().enumerate() {
            let cgroup = path.map(|p| Cgroup { id: i as u64 + 10, path: p.to_string() });
            let pid = i as u32 + 1;
            b.add_owned(s, SampleOwner { pid, tid: pid, comm, cgroup: cgroup.as_ref() }, count);
        }
        b.finish()
    }

    /// Each part's series and sample total.
    fn totals(split: &Split) -> Vec<(String, u64)> {
        split.parts.iter().map(|part| (part.series.name_param(), part.samples.iter().map(|s| s.count).sum())).collect()
    }

    /// Samples are grouped by their resolved label set, literal labels kept, totals kept.
    #[test]
    fn push_split_groups_samples_by_resolved_labels() {
        let labels_in =
            vec![("service_name".to_string(), "{unit}".to_string()), ("env".to_string(), "prod".to_string())];
        let series = Series::new("node", &labels_in).unwrap();
        let mut p = profile(&[
            ("nginx", Some("/system.slice/nginx.service"), 5),
            ("nginx", Some("/system.slice/nginx.service"), 2),
            ("sshd", Some("/system.slice/ssh.service"), 3),
            ("kworker", None, 1),
        ]);
        let split = split(&mut p, &series, MAX_SERIES);
        assert_eq!(
            totals(&split),
            [
                ("node{env=prod,service_name=nginx.service}".to_string(), 7),
                ("node{env=prod,service_name=ssh.service}".to_string(), 3),
                ("node{env=prod,service_name=unknown}".to_string(), 1),
            ]
        );
        assert_eq!(split.merged, 0);
        assert!(p.samples.is_empty());
    }

    /// Beyond `max` label sets, the smallest are merged into the overflow set, and counted.
    #[test]
    fn push_split_merges_the_smallest_sets_beyond_the_bound() {
        let series = Series::new("node", &[("service_name".to_string(), "x-{comm}".to_string())]).unwrap();
        let mut p = profile(&[("a", None, 9), ("b", None, 1), ("c", None, 5), ("d", None, 2)]);
        let split = split(&mut p, &series, 2);
        assert_eq!(
            totals(&split),
            [
                ("node{service_name=x-a}".to_string(), 9),
                ("node{service_name=x-c}".to_string(), 5),
                (format!("node{{service_name={OVERFLOW_VALUE}}}"), 3),
            ]
        );
        assert_eq!(split.merged, 2);
    }
}
