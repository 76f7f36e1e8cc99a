//! speedscope's JSON file format (`.speedscope.json`, schema at
//! <https://www.speedscope.app/file-format-schema.json>), which speedscope opens with its
//! time-order, left-heavy and sandwich views.
//!
//! - `shared.frames`: one frame per function, as in the [top table](super::top): a (name,
//!   module, kind) with its source file. A frame's `line` is given when every occurrence of the
//!   function has the same one (prof's lines are where execution was inside the function, so a
//!   function usually has several, and speedscope has one line per frame).
//! - One `sampled` profile per process and thread name, named `comm [pid]`, largest first; its
//!   samples are stacks of frame indices, outermost first, sorted like folded lines, each with
//!   its weight. The comm is the profile's name, not a frame.
//! - Weights are nanoseconds of CPU time (count × sampling period) when the frequency is known,
//!   else sample counts (unit `none`); counts that are nanoseconds already (folded CPU time)
//!   are the weights. `startValue` is 0 and `endValue` the profile's total weight.
//!
//! The output is deterministic: frames are numbered in order of first use in the sorted samples.

use std::io::{self, Write};

use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

use super::pprof::period_ns;
use crate::profile::{CgroupGrouping, FrameKind, Profile};

/// The schema URL speedscope recognizes its format by.
const SCHEMA: &str = "https://www.speedscope.app/file-format-schema.json";

/// Why a speedscope file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SpeedscopeError {
    /// The profile has no samples: speedscope would show nothing, which would only hide that.
    #[error("the profile has no samples: there is nothing to show")]
    Empty,
    /// Writing the JSON failed.
    #[error("failed to write the speedscope file: {0}")]
    Io(#[from] io::Error),
}

#[derive(Serialize)]
struct File<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    shared: Shared<'a>,
    profiles: Vec<SampledProfile>,
    name: String,
    #[serde(rename = "activeProfileIndex")]
    active_profile_index: usize,
    exporter: String,
}

#[derive(Serialize)]
struct Shared<'a> {
    frames: Vec<FrameJson<'a>>,
}

#[derive(Serialize)]
struct FrameJson<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
}

#[derive(Serialize)]
struct SampledProfile {
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
    unit: &'static str,
    #[serde(rename = "startValue")]
    start_value: u64,
    #[serde(rename = "endValue")]
    end_value: u64,
    samples: Vec<Vec<usize>>,
    weights: Vec<u64>,
}

/// A speedscope frame: a function of the top table, with its source file.
type FrameKey<'a> = (&'a str, &'a str, FrameKind, Option<&'a str>);

/// One speedscope profile being made: its (group label, pid, comm), its samples and total.
type Group<'a> = ((String, u32, &'a str), Vec<usize>, u64);

/// Writes `profile` as a speedscope file to `w`.
pub fn write(profile: &Profile, w: impl Write) -> Result<(), SpeedscopeError> {
    write_grouped(profile, None, w)
}

/// Writes `profile` as [`write()`] does, with one profile per group of `group` (`--by
/// cgroup|container|unit`) and process, named `group: comm [pid]`.
pub fn write_grouped(profile: &Profile, group: Option<CgroupGrouping>, w: impl Write) -> Result<(), SpeedscopeError> {
    if profile.samples.iter().all(|s| s.count == 0) {
        return Err(SpeedscopeError::Empty);
    }
    // Counts that are nanoseconds already are weights as they are.
    let period = period_ns(&profile.meta).filter(|_| profile.meta.weight_unit.is_count());
    let unit = if period.is_some() || !profile.meta.weight_unit.is_count() { "nanoseconds" } else { "none" };
    let weight = |count: u64| count.saturating_mul(period.unwrap_or(1));

    // Samples grouped by (group, pid, comm), each group's stacks sorted by frame names.
    let mut groups: HashMap<(String, u32, &str), Vec<usize>> = HashMap::default();
    for (i, s) in profile.samples.iter().enumerate() {
        if s.count > 0 {
            let label = group.map(|g| g.label(profile.cgroup_of(s)) + ": ").unwrap_or_default();
            groups.entry((label, s.pid, s.comm.as_str())).or_default().push(i);
        }
    }
    let stack_key = |i: usize| {
        let s = &profile.samples[i];
        profile.stack_frames(s.stack).map(|f| (f.name.as_str(), f.module.as_str(), f.kind)).collect::<Vec<_>>()
    };
    let mut groups: Vec<Group<'_>> = groups
        .into_iter()
        .map(|(key, mut samples)| {
            samples.sort_by_cached_key(|&i| stack_key(i));
            let total = samples.iter().fold(0u64, |t, &i| t.saturating_add(weight(profile.samples[i].count)));
            (key, samples, total)
        })
        .collect();
    groups.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));

    // Frames in order of first use; a line only when all of a frame's occurrences agree.
    let mut frame_ids: HashMap<FrameKey<'_>, usize> = HashMap::default();
    let mut frames: Vec<FrameJson<'_>> = Vec::new();
    let mut line_conflict: Vec<bool> = Vec::new();
    let mut frame_index: Vec<Option<usize>> = vec![None; profile.frames.len()];
    let mut profiles = Vec::with_capacity(groups.len());
    for ((label, pid, comm), samples, total) in groups {
        let mut stacks = Vec::with_capacity(samples.len());
        let mut weights = Vec::with_capacity(samples.len());
        for i in samples {
            let sample = &profile.samples[i];
            let stack = profile.stacks[sample.stack as usize]
                .iter()
                .map(|&f| {
                    if let Some(index) = frame_index[f as usize] {
                        return index;
                    }
                    let frame = &profile.frames[f as usize];
                    let key = (frame.name.as_str(), frame.module.as_str(), frame.kind, frame.file.as_deref());
                    let index = *frame_ids.entry(key).or_insert_with(|| {
                        frames.push(FrameJson { name: &frame.name, file: frame.file.as_deref(), line: frame.line });
                        line_conflict.push(false);
                        frames.len() - 1
                    });
                    if frames[index].line != frame.line {
                        line_conflict[index] = true;
                    }
                    frame_index[f as usize] = Some(index);
                    index
                })
                .collect();
            stacks.push(stack);
            weights.push(weight(sample.count));
        }
        profiles.push(SampledProfile {
            kind: "sampled",
            name: format!("{label}{comm} [{pid}]"),
            unit,
            start_value: 0,
            end_value: total,
            samples: stacks,
            weights,
        });
    }
    for (frame, conflict) in frames.iter_mut().zip(line_conflict) {
        if conflict {
            frame.line = None;
        }
    }

    let meta = &profile.meta;
    let file = File {
        schema: SCHEMA,
        shared: Shared { frames },
        profiles,
        name: if meta.target.is_empty() { "prof".to_string() } else { format!("prof: {}", meta.target) },
        active_profile_index: 0,
        exporter: format!("prof {}", env!("CARGO_PKG_VERSION")),
    };
    let mut w = io::BufWriter::new(w);
    super::text::write_json(&mut w, &file, false).map_err(io::Error::from)?;
    w.write_all(b"\n")?;
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Frame, Metadata, ProfileBuilder};

    /// One profile per (pid, comm), frames shared, weights in nanoseconds, conflicting lines dropped.
    #[test]
    fn speedscope_profiles_per_process_with_shared_frames() {
        let mut b = ProfileBuilder::new(Metadata { frequency_hz: 100, ..Metadata::default() });
        let main3 = b.frame(Frame { line: Some(3), ..Frame::new("main", "app", FrameKind::User) });
        let main4 = b.frame(Frame { line: Some(4), ..Frame::new("main", "app", FrameKind::User) });
        let leaf = b.frame(Frame { line: Some(7), ..Frame::new("leaf", "app", FrameKind::User) });
        let s1 = b.stack(vec![main3, leaf]);
        let s2 = b.stack(vec![main4]);
        b.add(s1, 1, "a", 2);
        b.add(s2, 2, "b", 5);
        b.add(s2, 1, "a", 1);
        let mut out = Vec::new();
        write(&b.finish(), &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["$schema"], SCHEMA);
        let frames = v["shared"]["frames"].as_array().unwrap();
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert_eq!(frames[0], serde_json::json!({"name": "main"}));
        assert_eq!(frames[1], serde_json::json!({"name": "leaf", "line": 7}));
        let p = &v["profiles"];
        assert_eq!(p[0]["name"], "b [2]");
        assert_eq!(p[0]["endValue"], 50_000_000);
        assert_eq!(p[1]["name"], "a [1]");
        assert_eq!(p[1]["samples"], serde_json::json!([[0], [0, 1]]));
        assert_eq!(p[1]["weights"], serde_json::json!([10_000_000, 20_000_000]));
    }
}
