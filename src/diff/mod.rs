//! Diff: comparing two profiles. Stacks of both are merged under canonical names (so
//! functions match across builds, see [`names`]), each function's share of its profile is
//! compared with a significance test corrected for the number of functions (see [`stats`]),
//! and the merged stacks feed the differential outputs (see [`render`]).

pub mod names;
pub mod render;
pub mod stats;

use rustc_hash::FxHashMap;

use crate::output::{folded, RenderOptions};
use crate::profile::{EventKind, Profile, WeightUnit};

/// Default false discovery rate for "significant". 1% rather than the textbook 5%: with every
/// function tested and sampling slightly over-dispersed (stacks of one time slice are
/// correlated), a diff of two runs of the same code should almost never report a change, and a
/// CI gate (`--fail-on`) should almost never fail by chance.
pub const DEFAULT_ALPHA: f64 = 0.01;

/// How to compare.
#[derive(Clone, Debug, PartialEq)]
pub struct DiffOptions {
    /// Compare shares and scale BASE's counts to NEW's total in the differential outputs; also
    /// allows profiles of different event or frequency (with a note).
    pub normalize: bool,
    /// Strip build-specific name parts (Rust hashes, `.isra.0`, …) before matching.
    pub match_builds: bool,
    /// False discovery rate for significance.
    pub alpha: f64,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions { normalize: true, match_builds: true, alpha: DEFAULT_ALPHA }
    }
}

/// One side of a diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Side {
    /// Where it came from (file name).
    pub source: String,
    /// Samples in the profile.
    pub samples: u64,
    /// Perf event, if known.
    pub event: String,
    /// Sampling frequency, if known (0 otherwise).
    pub frequency_hz: u64,
    /// What its counts measure.
    pub unit: WeightUnit,
}

/// How one function changed.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FunctionChange {
    /// Function name as in folded stacks (kernel `_[k]`, inlined `_[i]`).
    pub function: String,
    /// Samples in which it is on the stack, BASE.
    pub base_total: u64,
    /// Samples in which it is on the stack, NEW.
    pub new_total: u64,
    /// Samples in which it is the leaf, BASE.
    pub base_self: u64,
    /// Samples in which it is the leaf, NEW.
    pub new_self: u64,
    /// `base_total` as a percentage of BASE's samples.
    pub base_total_pct: f64,
    /// `new_total` as a percentage of NEW's samples.
    pub new_total_pct: f64,
    /// `base_self` as a percentage of BASE's samples.
    pub base_self_pct: f64,
    /// `new_self` as a percentage of NEW's samples.
    pub new_self_pct: f64,
    /// Change of the total share, in percentage points.
    pub delta_points: f64,
    /// Change of the self share, in percentage points.
    pub self_delta_points: f64,
    /// Two-sided p-value of the total-share test; `None` when the test was not run (a side's
    /// counts are not sample counts).
    pub p_value: Option<f64>,
    /// Benjamini–Hochberg adjusted p-value; `None` when the test was not run.
    pub q_value: Option<f64>,
    /// `q_value <= alpha`.
    pub significant: bool,
}

/// A comparison of two profiles.
#[derive(Clone, Debug, PartialEq)]
pub struct Diff {
    /// The baseline.
    pub base: Side,
    /// The profile compared with it.
    pub new: Side,
    /// Whether shares were normalized (BASE scaled to NEW's total in stacks).
    pub normalized: bool,
    /// False discovery rate used.
    pub alpha: f64,
    /// Whether the significance test was run: only when both sides count samples (a test on
    /// nanoseconds of CPU time would treat each nanosecond as a sample).
    pub significance_tested: bool,
    /// Notes (e.g. different frequencies, normalized).
    pub notes: Vec<String>,
    /// Every function of either profile: significant ones first, then by size of change.
    pub functions: Vec<FunctionChange>,
    /// Function and root labels by id.
    names: Vec<String>,
    /// Merged stacks, in no particular order.
    merged: Vec<Merged>,
    /// Factor applied to base counts in the stack outputs (NEW total / BASE total, or 1).
    scale: f64,
}

/// Why two profiles cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// One side has no samples.
    #[error("`{0}` has no samples: there is nothing to compare")]
    Empty(String),
    /// Different events or frequencies without normalization.
    #[error("cannot compare without normalizing: {0}; drop --no-normalize to compare shares")]
    Incompatible(String),
    /// Off-CPU or wall-clock time against another kind of profile: not the same quantity,
    /// even as shares.
    #[error(
        "cannot compare `{base}` ({base_kind}) with `{new}` ({new_kind}): compare two recordings of the same kind"
    )]
    DifferentTime {
        /// The base side.
        base: String,
        /// What its counts are.
        base_kind: &'static str,
        /// The new side.
        new: String,
        /// What its counts are.
        new_kind: &'static str,
    },
}

/// A stack of both profiles: label ids (the root's, then the functions' outermost first) and its
/// count in each.
#[derive(Clone, Debug, PartialEq)]
struct Merged {
    labels: Box<[u32]>,
    base: u64,
    new: u64,
}

impl Diff {
    /// Merged stacks `(folded stack, base count, new count)`, sorted by stack; base counts are
    /// scaled to NEW's total when normalized.
    pub fn stacks(&self) -> Vec<(String, u64, u64)> {
        let mut out = Vec::with_capacity(self.merged.len());
        let _: Result<(), std::convert::Infallible> = self.for_each_stack(|labels, base, new| {
            out.push((labels.join(";"), base, new));
            Ok(())
        });
        out
    }

    /// Calls `f` with the labels (root first), scaled base count and new count of each merged
    /// stack, in the order of [`Diff::stacks`], without building the folded lines.
    pub(crate) fn for_each_stack<E>(&self, mut f: impl FnMut(&[&str], u64, u64) -> Result<(), E>) -> Result<(), E> {
        let mut labels: Vec<&str> = Vec::new();
        for m in self.sorted() {
            labels.clear();
            labels.extend(m.labels.iter().map(|&l| self.names[l as usize].as_str()));
            f(&labels, (m.base as f64 * self.scale).round() as u64, m.new)?;
        }
        Ok(())
    }

    /// The merged stacks in the byte order of their folded lines (`root;f1;…;fn`), sorted
    /// without building the lines.
    ///
    /// Every label has two ranks: the place of `label;` (more labels follow) and of `label`
    /// followed by the end of the line among all such tokens. Labels contain neither `;` nor
    /// control characters, so no token is a prefix of another, and two lines compare as their
    /// sequences of token ranks do. The first ranks of each stack, packed into one integer,
    /// decide most comparisons without touching the stacks themselves.
    fn sorted(&self) -> Vec<&Merged> {
        const END: u8 = 0;
        let n = self.names.len();
        let mut tokens: Vec<(usize, u8)> = (0..n).flat_map(|l| [(l, b';'), (l, END)]).collect();
        tokens.sort_unstable_by(|&(a, a_next), &(b, b_next)| {
            let a = self.names[a].as_bytes().iter().chain(std::iter::once(&a_next));
            a.cmp(self.names[b].as_bytes().iter().chain(std::iter::once(&b_next)))
        });
        // Rank 0 is past the end of a stack.
        let mut ranks = vec![[0u32; 2]; n];
        for (rank, &(label, next)) in (1u32..).zip(&tokens) {
            ranks[label][usize::from(next == END)] = rank;
        }
        let rank_at = |labels: &[u32], i: usize| match labels.get(i) {
            Some(&l) => ranks[l as usize][usize::from(i + 1 == labels.len())],
            None => 0,
        };
        let bits = (u32::BITS - (2 * n as u32).leading_zeros()).max(1);
        let packed = (u128::BITS / bits) as usize;
        let mut keyed: Vec<(u128, &Merged)> = self
            .merged
            .iter()
            .map(|m| ((0..packed).fold(0, |key, i| key << bits | u128::from(rank_at(&m.labels, i))), m))
            .collect();
        keyed.sort_unstable_by(|(a_key, a), (b_key, b)| {
            a_key.cmp(b_key).then_with(|| {
                let len = a.labels.len().max(b.labels.len());
                (packed..len).map(|i| rank_at(&a.labels, i)).cmp((packed..len).map(|i| rank_at(&b.labels, i)))
            })
        });
        keyed.into_iter().map(|(_, m)| m).collect()
    }

    /// Functions whose total share grew by more than `points` and significantly (`--fail-on`).
    pub fn regressions(&self, points: f64) -> Vec<&FunctionChange> {
        self.functions.iter().filter(|f| f.significant && f.delta_points > points).collect()
    }
}

fn side(p: &Profile, source: &str) -> Side {
    Side {
        source: source.to_string(),
        samples: p.total(),
        event: p.meta.event.to_string(),
        frequency_hz: p.meta.frequency_hz,
        unit: p.meta.weight_unit,
    }
}

/// Compares `base` (read from `base_name`) with `new`.
pub fn diff(
    base: &Profile,
    base_name: &str,
    new: &Profile,
    new_name: &str,
    opts: &DiffOptions,
) -> Result<Diff, DiffError> {
    let (b, n) = (side(base, base_name), side(new, new_name));
    if b.samples == 0 {
        return Err(DiffError::Empty(b.source));
    }
    if n.samples == 0 {
        return Err(DiffError::Empty(n.source));
    }
    let mut notes = comparability_notes(&b, &n, opts.normalize)?;
    let tested = b.unit.is_count() && n.unit.is_count();
    if let Some(timed) = [&b, &n].into_iter().find(|s| !s.unit.is_count()) {
        let what = match timed.event.as_str() {
            e if e == EventKind::OffCpu.name() => "blocked (off-CPU)",
            e if e == EventKind::Wall.name() => "of wall-clock time",
            _ => "of CPU time",
        };
        notes.push(format!(
            "significance not tested: `{}` counts {} {what}, not samples, and the test needs sample \
             counts; shares are compared (--weights samples if the weights are counts)",
            timed.source,
            timed.unit.name()
        ));
    }
    let (names, merged) = merge_stacks(base, new, opts.match_builds);
    let counts = function_counts(&merged, names.len());
    let alpha = tested.then_some(opts.alpha);
    let functions = function_changes(&counts, &names, b.samples, n.samples, alpha);
    let scale = if opts.normalize { n.samples as f64 / b.samples as f64 } else { 1.0 };
    Ok(Diff {
        base: b,
        new: n,
        normalized: opts.normalize,
        alpha: opts.alpha,
        significance_tested: tested,
        notes,
        functions,
        names,
        merged,
        scale,
    })
}

/// The notes on how the two sides compare: off-CPU or wall-clock time against another kind of
/// profile is an error;
/// different events or frequencies are an error unless shares are compared (`normalize`), and
/// then a note, as is normalizing itself.
fn comparability_notes(b: &Side, n: &Side, normalize: bool) -> Result<Vec<String>, DiffError> {
    let mut notes = Vec::new();
    let mut mismatch = Vec::new();
    let kind = |s: &Side| match s.event.as_str() {
        e if e == EventKind::OffCpu.name() => "off-CPU time, ns blocked",
        e if e == EventKind::Wall.name() => "wall-clock time, ns on and off the CPU",
        _ => "time on the CPU",
    };
    if kind(b) != kind(n) {
        return Err(DiffError::DifferentTime {
            base: b.source.clone(),
            base_kind: kind(b),
            new: n.source.clone(),
            new_kind: kind(n),
        });
    }
    if !b.event.is_empty() && !n.event.is_empty() && b.event != n.event {
        mismatch.push(format!("events differ (`{}` vs `{}`)", b.event, n.event));
    }
    if b.frequency_hz != 0 && n.frequency_hz != 0 && b.frequency_hz != n.frequency_hz {
        mismatch.push(format!("frequencies differ ({} Hz vs {} Hz)", b.frequency_hz, n.frequency_hz));
    }
    if b.unit != n.unit {
        mismatch.push(format!("units differ ({} vs {})", b.unit.name(), n.unit.name()));
    }
    if !mismatch.is_empty() {
        if !normalize {
            return Err(DiffError::Incompatible(mismatch.join(", ")));
        }
        notes.push(format!("{}: compared as shares of each profile", mismatch.join(", ")));
    }
    if normalize {
        notes.push(format!(
            "normalized: shares of each profile's samples; BASE counts scaled by {:.4} in stacks",
            n.samples as f64 / b.samples as f64
        ));
    }
    Ok(notes)
}

/// The stacks of both profiles merged: the labels (functions and roots, canonical names when
/// `match_builds`) by id, interned once per distinct frame and root, and each distinct stack as
/// label ids, the root's first, with its count in each profile.
fn merge_stacks(base: &Profile, new: &Profile, match_builds: bool) -> (Vec<String>, Vec<Merged>) {
    let mut names = Interner::default();
    let mut merged: FxHashMap<Box<[u32]>, (u64, u64)> =
        FxHashMap::with_capacity_and_hasher(base.samples.len().max(new.samples.len()), Default::default());
    let render = RenderOptions::default();
    let mut key: Vec<u32> = Vec::new();
    for (profile, is_new) in [(base, false), (new, true)] {
        let fid: Vec<u32> = profile
            .frames
            .iter()
            .map(|f| {
                let label = folded::frame_label(f);
                names.intern(if match_builds { names::canonical(&label) } else { label })
            })
            .collect();
        let mut roots: FxHashMap<(&str, u32), u32> = FxHashMap::default();
        for sample in &profile.samples {
            let root = *roots
                .entry((&sample.comm, sample.pid))
                .or_insert_with(|| names.intern(folded::root_label(&sample.comm, sample.pid, None, &render)));
            key.clear();
            key.push(root);
            key.extend(profile.stacks[sample.stack as usize].iter().map(|&f| fid[f as usize]));
            let add = |e: &mut (u64, u64)| {
                let side = if is_new { &mut e.1 } else { &mut e.0 };
                *side = side.saturating_add(sample.count);
            };
            match merged.get_mut(key.as_slice()) {
                Some(e) => add(e),
                None => add(merged.entry(key.as_slice().into()).or_default()),
            }
        }
    }
    let merged = merged.into_iter().map(|(labels, (base, new))| Merged { labels, base, new }).collect();
    (names.names, merged)
}

/// The samples of one function in each profile.
#[derive(Clone, Default)]
struct Counts {
    base_total: u64,
    new_total: u64,
    base_self: u64,
    new_self: u64,
    /// In at least one stack (roots are labels but not functions).
    present: bool,
}

/// The counts of every label id below `n_labels`: totals once per stack (even when
/// recursive), selves where it is the leaf.
fn function_counts(merged: &[Merged], n_labels: usize) -> Vec<Counts> {
    let mut acc = vec![Counts::default(); n_labels];
    let mut last_stack = vec![usize::MAX; n_labels];
    for (i, m) in merged.iter().enumerate() {
        let (funcs, bc, nc) = (&m.labels[1..], &m.base, &m.new);
        for &f in funcs {
            let f = f as usize;
            if last_stack[f] == i {
                continue;
            }
            last_stack[f] = i;
            let a = &mut acc[f];
            a.present = true;
            a.base_total = a.base_total.saturating_add(*bc);
            a.new_total = a.new_total.saturating_add(*nc);
        }
        if let Some(&leaf) = funcs.last() {
            let a = &mut acc[leaf as usize];
            a.base_self = a.base_self.saturating_add(*bc);
            a.new_self = a.new_self.saturating_add(*nc);
        }
    }
    acc
}

/// The change of every function present: shares of each profile's samples (`base_samples`,
/// `new_samples`) and, with an `alpha` (the test is run), p-values, Benjamini–Hochberg q-values
/// and significance at `alpha`; significant ones first, then by size of change, then by name.
fn function_changes(
    counts: &[Counts],
    names: &[String],
    base_samples: u64,
    new_samples: u64,
    alpha: Option<f64>,
) -> Vec<FunctionChange> {
    let pct = |x: u64, n: u64| x as f64 * 100.0 / n as f64;
    let mut functions: Vec<FunctionChange> = counts
        .iter()
        .enumerate()
        .filter(|(_, a)| a.present)
        .map(|(id, a)| {
            let (bt, nt) = (pct(a.base_total, base_samples), pct(a.new_total, new_samples));
            let (bs, ns) = (pct(a.base_self, base_samples), pct(a.new_self, new_samples));
            FunctionChange {
                function: names[id].clone(),
                base_total: a.base_total,
                new_total: a.new_total,
                base_self: a.base_self,
                new_self: a.new_self,
                base_total_pct: bt,
                new_total_pct: nt,
                base_self_pct: bs,
                new_self_pct: ns,
                delta_points: nt - bt,
                self_delta_points: ns - bs,
                p_value: alpha.map(|_| stats::two_proportion_p(a.base_total, base_samples, a.new_total, new_samples)),
                q_value: None,
                significant: false,
            }
        })
        .collect();
    if let Some(alpha) = alpha {
        let q = stats::benjamini_hochberg(&functions.iter().map(|f| f.p_value.unwrap_or(1.0)).collect::<Vec<_>>());
        for (f, q) in functions.iter_mut().zip(q) {
            f.q_value = Some(q);
            f.significant = q <= alpha;
        }
    }
    functions.sort_by(|x, y| {
        y.significant
            .cmp(&x.significant)
            .then(y.delta_points.abs().total_cmp(&x.delta_points.abs()))
            .then_with(|| x.function.cmp(&y.function))
    });
    functions
}

/// Strings to dense ids.
#[derive(Default)]
struct Interner {
    ids: FxHashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    fn intern(&mut self, s: String) -> u32 {
        if let Some(&id) = self.ids.get(&s) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(s.clone());
        self.ids.insert(s, id);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Profile {
        folded::parse(text.as_bytes(), "test", false).expect("valid folded text").profile
    }

    /// Merged stacks come out in the byte order of their lines, also where one label is a prefix
    /// of another followed by a byte below or above `;`, and where stacks share more frames than
    /// the packed sort key holds.
    #[test]
    fn diff_stacks_sort_as_lines() {
        let deep: String = (0..30).map(|i| format!(";frame{}", i % 7)).collect();
        let base = parse(&format!(
            "app;foo 1\napp;foo:bar 2\napp;foo bar;x 3\napp;foo~ 4\napp;fo;foo 5\napp;foo;bar 6\n\
             app{deep};a 7\napp{deep};a;b 8\napp{deep}:x 9\napp{deep} x 10\napp{deep};b 11\nap 12\napp 13\n"
        ));
        let new = parse("app;foo.cold 1\napp;foo;bar:baz 2\napp;foo;bar;baz 3\napp!;z 4\nb 5\n");
        let d = diff(&base, "a", &new, "b", &DiffOptions { match_builds: false, ..Default::default() }).unwrap();
        let lines: Vec<String> = d.stacks().into_iter().map(|(s, _, _)| s).collect();
        let mut sorted = lines.clone();
        sorted.sort_unstable();
        assert_eq!(lines, sorted);
        assert_eq!(lines.len(), 18);
    }

    /// Off-CPU time is compared with off-CPU time only: against on-CPU samples or wall-clock
    /// time (even as shares) the diff is refused, naming what each side counts; two off-CPU
    /// profiles compare.
    #[test]
    fn diff_refuses_off_cpu_against_on_cpu() {
        let off = parse("app;[off-cpu: sleeping];main;read 3000000\napp;[off-cpu: sleeping];main;poll 1000000\n");
        assert!(off.meta.event.is_off_cpu());
        let on = parse("app;main;work 30\napp;main;parse 10\n");
        let wall = parse("app;[on-cpu];main;work 3000000\napp;[off-cpu: sleeping];main;read 1000000\n");
        assert!(wall.meta.event.is_wall());
        let opts = DiffOptions::default();
        let err = diff(&off, "off", &on, "on", &opts).unwrap_err().to_string();
        assert!(err.contains("`off` (off-CPU time, ns blocked) with `on` (time on the CPU)"), "{err}");
        let err = diff(&on, "on", &off, "off", &opts).unwrap_err().to_string();
        assert!(err.contains("`on` (time on the CPU) with `off` (off-CPU time, ns blocked)"), "{err}");
        let err = diff(&wall, "w", &off, "off", &opts).unwrap_err().to_string();
        assert!(err.contains("`w` (wall-clock time, ns on and off the CPU)"), "{err}");
        let d = diff(&off, "a", &off, "b", &opts).unwrap();
        assert!(!d.significance_tested);
        assert!(d.notes.iter().any(|n| n.contains("blocked (off-CPU)")), "{:?}", d.notes);
    }
}
