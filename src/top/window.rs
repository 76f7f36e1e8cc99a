//! The decaying window: every stack seen in the recent intervals, with a weight that is the
//! number of its samples, each interval counting 7/8 of the one after it.
//!
//! perf top keeps a decaying average too (each refresh multiplies every entry's period by 7/8);
//! a decaying window shows a change within a refresh or two, yet a function sampled now and then
//! does not blink in and out as in a sliding window of one interval. An interval `n` refreshes
//! old counts `(7/8)^n`: half after five refreshes, a tenth after seventeen.

use rustc_hash::FxHashMap as HashMap;

use crate::profile::{Frame, FrameId, Metadata, Profile};

/// What the window's weights are multiplied by before each new interval is added.
pub const DECAY: f64 = 7.0 / 8.0;

/// A stack whose weight decays below this is dropped: a single sample lasts about 22 intervals.
const MIN_WEIGHT: f64 = 0.05;

/// Most stacks kept: the lightest are dropped beyond it, so a machine with endless unique stacks
/// (JITs, churning processes) keeps the window's memory bounded (about 100 bytes and a few frame
/// ids per stack).
pub const MAX_STACKS: usize = 200_000;

/// One stack of the window, in one process name.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowStack {
    /// Indices into [`Window::frames`], outermost first.
    pub frames: Vec<FrameId>,
    /// The thread name (`comm`) its samples were taken in.
    pub comm: String,
    /// Decayed sample count.
    pub weight: f64,
}

/// The recent intervals' stacks, decayed; see the module's documentation.
#[derive(Clone, Debug, Default)]
pub struct Window {
    frames: Vec<Frame>,
    stacks: Vec<WindowStack>,
    intervals: u64,
    last: Option<Metadata>,
    last_samples: u64,
}

impl Window {
    /// An empty window.
    pub fn new() -> Self {
        Window::default()
    }

    /// Decays every stack by [`DECAY`], drops the faded ones, and adds `profile`'s samples
    /// (one interval). Frames no stack uses any more are forgotten.
    pub fn add(&mut self, profile: &Profile) {
        let old_frames = std::mem::take(&mut self.frames);
        let old_stacks = std::mem::take(&mut self.stacks);
        let mut builder = Builder::default();
        for s in old_stacks {
            let weight = s.weight * DECAY;
            if weight >= MIN_WEIGHT {
                builder.add(s.frames.iter().map(|&f| &old_frames[f as usize]), &s.comm, weight);
            }
        }
        for sample in &profile.samples {
            let Some(stack) = profile.stacks.get(sample.stack as usize) else { continue };
            let frames = stack.iter().filter_map(|&f| profile.frames.get(f as usize));
            builder.add(frames, &sample.comm, sample.count as f64);
        }
        (self.frames, self.stacks) = builder.finish();
        self.intervals = self.intervals.saturating_add(1);
        self.last_samples = profile.total();
        self.last = Some(profile.meta.clone());
    }

    /// The frames the stacks index.
    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    /// The stacks, in no particular order.
    pub fn stacks(&self) -> &[WindowStack] {
        &self.stacks
    }

    /// Sum of the stacks' weights.
    pub fn total(&self) -> f64 {
        self.stacks.iter().map(|s| s.weight).sum()
    }

    /// Intervals added so far.
    pub fn intervals(&self) -> u64 {
        self.intervals
    }

    /// Samples of the interval added last.
    pub fn last_samples(&self) -> u64 {
        self.last_samples
    }

    /// Metadata of the interval added last (target, event, frequency, losses).
    pub fn last_meta(&self) -> Option<&Metadata> {
        self.last.as_ref()
    }
}

/// Interns the frames and (stack, comm) pairs of the next window.
#[derive(Default)]
struct Builder {
    frames: Vec<Frame>,
    frame_ids: HashMap<Frame, FrameId>,
    stacks: Vec<WindowStack>,
    stack_ids: HashMap<(Vec<FrameId>, String), usize>,
}

impl Builder {
    fn add<'a>(&mut self, frames: impl Iterator<Item = &'a Frame>, comm: &str, weight: f64) {
        let ids: Vec<FrameId> = frames.map(|f| self.frame(f)).collect();
        match self.stack_ids.entry((ids, comm.to_string())) {
            std::collections::hash_map::Entry::Occupied(e) => self.stacks[*e.get()].weight += weight,
            std::collections::hash_map::Entry::Vacant(e) => {
                let (frames, comm) = e.key().clone();
                e.insert(self.stacks.len());
                self.stacks.push(WindowStack { frames, comm, weight });
            }
        }
    }

    fn frame(&mut self, frame: &Frame) -> FrameId {
        if let Some(&id) = self.frame_ids.get(frame) {
            return id;
        }
        let id = self.frames.len() as FrameId;
        self.frames.push(frame.clone());
        self.frame_ids.insert(frame.clone(), id);
        id
    }

    /// The frames and stacks, the heaviest [`MAX_STACKS`] only (their frames re-interned when
    /// some were dropped).
    fn finish(mut self) -> (Vec<Frame>, Vec<WindowStack>) {
        if self.stacks.len() <= MAX_STACKS {
            return (self.frames, self.stacks);
        }
        self.stacks.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        self.stacks.truncate(MAX_STACKS);
        let mut kept = Builder::default();
        for s in &self.stacks {
            kept.add(s.frames.iter().map(|&f| &self.frames[f as usize]), &s.comm, s.weight);
        }
        (kept.frames, kept.stacks)
    }
}

/// A profile of `(frames outermost first, comm, samples)` in module `app`, for tests.
#[cfg(test)]
pub(super) fn test_profile(stacks: &[(&[&str], &str, u64)]) -> Profile {
    use crate::profile::{FrameKind, ProfileBuilder};
    let mut b = ProfileBuilder::new(Metadata::default());
    for (frames, comm, count) in stacks {
        let ids = frames.iter().map(|n| b.frame(Frame::new(*n, "app", FrameKind::User))).collect();
        let s = b.stack(ids);
        b.add(s, 7, comm, *count);
    }
    b.finish()
}

/// A window of one interval, [`test_profile`]'s.
#[cfg(test)]
pub(super) fn test_window(stacks: &[(&[&str], &str, u64)]) -> Window {
    let mut w = Window::new();
    w.add(&test_profile(stacks));
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(stacks: &[(&[&str], &str, u64)]) -> Profile {
        test_profile(stacks)
    }

    /// Each new interval counts fully and the older ones by 7/8 per interval.
    #[test]
    fn window_decays_older_intervals() {
        let mut w = Window::new();
        w.add(&profile(&[(&["main", "a"], "x", 80)]));
        w.add(&profile(&[(&["main", "b"], "x", 10)]));
        let weight = |leaf: &str| {
            w.stacks().iter().find(|s| w.frames()[*s.frames.last().unwrap() as usize].name == leaf).unwrap().weight
        };
        assert_eq!(weight("a"), 70.0);
        assert_eq!(weight("b"), 10.0);
        assert_eq!(w.intervals(), 2);
        assert_eq!(w.last_samples(), 10);
    }

    /// A stack not sampled again fades out, and the frames only it used are forgotten.
    #[test]
    fn window_forgets_faded_stacks() {
        let mut w = Window::new();
        w.add(&profile(&[(&["main", "gone"], "x", 1)]));
        for _ in 0..30 {
            w.add(&profile(&[(&["main", "here"], "x", 1)]));
        }
        assert!(w.frames().iter().all(|f| f.name != "gone"));
        assert!(w.stacks().len() < 30);
    }

    /// The same stack in two process names stays two stacks.
    #[test]
    fn window_keeps_processes_apart() {
        let mut w = Window::new();
        w.add(&profile(&[(&["main"], "x", 1), (&["main"], "y", 2)]));
        assert_eq!(w.stacks().len(), 2);
        assert_eq!(w.frames().len(), 1);
        assert_eq!(w.total(), 3.0);
    }
}
