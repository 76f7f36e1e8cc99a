//! The UI's routes: embedded static assets and the JSON/SVG/folded/archive API over time ranges
//! of the archive directory.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, MutexGuard};

use super::source::{Shown, Source};
use super::{App, CSP};
use crate::diff::{self, render as diff_render, DiffOptions};
use crate::output::flamegraph::{self, SvgOptions};
use crate::output::{folded, top, RenderOptions};
use crate::profile::{unix_ns, LossReason, Profile, ProfileBuilder, Sample};
use crate::store::Span;

const INDEX_HTML: &str = include_str!("../../web/index.html");

/// The page's scripts (ES modules) and style sheet, built into the binary: (path, type, text).
/// Nothing else of the file system is served.
const WEB_FILES: &[(&str, &str, &str)] = &[
    ("/app.js", JS, include_str!("../../web/app.js")),
    ("/flame.js", JS, include_str!("../../web/flame.js")),
    ("/fuzzy.js", JS, include_str!("../../web/fuzzy.js")),
    ("/sandwich.js", JS, include_str!("../../web/sandwich.js")),
    ("/table.js", JS, include_str!("../../web/table.js")),
    ("/diff.js", JS, include_str!("../../web/diff.js")),
    ("/dom.js", JS, include_str!("../../web/dom.js")),
    ("/units.js", JS, include_str!("../../web/units.js")),
    ("/app.css", "text/css; charset=utf-8", include_str!("../../web/app.css")),
];
const JS: &str = "text/javascript; charset=utf-8";

/// An HTTP reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Content-Type.
    pub content_type: &'static str,
    /// Body.
    pub body: Vec<u8>,
    /// File name to download as (Content-Disposition: attachment).
    pub attachment: Option<String>,
}

impl Reply {
    fn ok(content_type: &'static str, body: impl Into<Vec<u8>>) -> Reply {
        Reply { status: 200, content_type, body: body.into(), attachment: None }
    }

    pub(super) fn error(status: u16, message: &str) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{message}\n").into_bytes(),
            attachment: None,
        }
    }

    /// JSON as every output writes it: control and bidirectional formatting characters of
    /// names escaped (the parsed strings are the same).
    pub(super) fn json(value: &impl serde::Serialize) -> Reply {
        let mut body = Vec::new();
        match crate::output::text::write_json(&mut body, value, false) {
            Ok(()) => Reply::ok("application/json", body),
            Err(e) => Reply::error(500, &format!("cannot encode JSON: {e}")),
        }
    }

    /// The reply's headers: its type, prof's security headers and, for a download, its file name.
    /// The transport adds Date, Content-Length and `Connection: close`.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("Content-Type", self.content_type.to_string()),
            ("Content-Security-Policy", CSP.to_string()),
            ("X-Content-Type-Options", "nosniff".to_string()),
            ("Referrer-Policy", "no-referrer".to_string()),
            ("X-Frame-Options", "DENY".to_string()),
            ("Cache-Control", "no-store".to_string()),
        ];
        if let Some(name) = &self.attachment {
            headers.push(("Content-Disposition", format!("attachment; filename=\"{name}\"")));
        }
        headers
    }
}

type Query = HashMap<String, String>;

/// Merged ranges kept for the next requests: the UI asks for the same range twice in a row
/// (range.json, then top.json; diff.svg and diff.json), and a merge of an hour of 10 s archives
/// takes most of a second.
const CACHED_RANGES: usize = 4;

/// What the server remembers between requests, so that the UI does not re-read every archive of
/// a 24-hour directory (8,640 of them) on each page load.
///
/// An archive never changes once it has its name: it is written to a temporary file and renamed,
/// and names carry the recorder's PID and sequence number, so they are never reused. Its path and
/// size therefore identify its content; a new, removed or resized archive is read again.
#[derive(Debug, Default)]
pub(super) struct Cache {
    /// The `/api/intervals` row of each readable archive, with the size it had when read.
    intervals: HashMap<PathBuf, (u64, IntervalJson)>,
    /// Recently merged ranges, oldest first: (from, to, fingerprint of the listing, range).
    ranges: Vec<(u64, u64, u64, Shown)>,
}

/// A switch: `1` or `true` on, absent, empty, `0` or `false` off.
fn flag(q: &Query, key: &str) -> Result<bool, Reply> {
    match q.get(key).map(String::as_str) {
        None | Some("" | "0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(_) => Err(Reply::error(400, &format!("`{key}`: expected 1 or 0"))),
    }
}

fn ns(q: &Query, key: &str, default: u64) -> Result<u64, Reply> {
    match q.get(key) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| Reply::error(400, &format!("`{key}`: expected nanoseconds since the epoch"))),
    }
}

impl App {
    /// Answers one request. `url` is the raw request target (path and query, not decoded).
    pub fn handle(&self, method: &str, url: &str, host: Option<&str>) -> Reply {
        if !self.host_allowed(host) {
            return Reply::error(403, "forbidden: the Host header does not name this server");
        }
        if method != "GET" && method != "HEAD" {
            return Reply::error(405, "method not allowed: this UI is read-only");
        }
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let q: Query = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let result = match path {
            "/" | "/index.html" => Ok(Reply::ok("text/html; charset=utf-8", INDEX_HTML)),
            _ if WEB_FILES.iter().any(|f| f.0 == path) => {
                let (_, ty, text) = WEB_FILES.iter().find(|f| f.0 == path).expect("listed");
                Ok(Reply::ok(ty, *text))
            }
            // Browsers ask for it on their own; there is none.
            "/favicon.ico" => Ok(Reply { status: 204, ..Reply::ok("image/x-icon", Vec::new()) }),
            "/api/meta.json" => Ok(self.meta()),
            "/api/intervals" => self.intervals(),
            "/api/range.svg" => self.range(&q).map(|p| svg(&p)),
            "/api/range.json" => self.range(&q).map(|p| flame_json(&p)),
            "/api/range.folded" => self.range(&q).map(|p| {
                let text = folded::lines(&p.profile, &RenderOptions::default()).join("\n") + "\n";
                Reply { attachment: Some("range.folded".into()), ..Reply::ok("text/plain; charset=utf-8", text) }
            }),
            "/api/range.prof" => self.range(&q).map(|p| {
                let mut bytes = Vec::new();
                match crate::archive::write(&p.profile, &mut bytes) {
                    Ok(()) => {
                        Reply { attachment: Some("range.prof".into()), ..Reply::ok("application/octet-stream", bytes) }
                    }
                    Err(e) => Reply::error(500, &e.to_string()),
                }
            }),
            "/api/processes.json" => ns(&q, "from", 0).and_then(|from| {
                let to = ns(&q, "to", unix_ns(std::time::SystemTime::now()) + 1)?;
                self.processes(from, to)
            }),
            "/api/top.json" => self.range(&q).and_then(|p| {
                let n = ns(&q, "n", 50)? as usize;
                Ok(Reply::json(&top::top(&p.profile, n.min(10_000)).iter().map(TopJson::from).collect::<Vec<_>>()))
            }),
            "/api/diff.json" | "/api/diff.svg" => self.diff(&q).map(|d| {
                if path.ends_with(".json") {
                    let mut body = Vec::new();
                    match diff_render::write_json(&d, &mut body) {
                        Ok(()) => Reply::ok("application/json", body),
                        Err(e) => Reply::error(500, &e.to_string()),
                    }
                } else {
                    let mut body = Vec::new();
                    let opts = diff_render::DiffSvgOptions { no_javascript: true, ..Default::default() };
                    match diff_render::write_svg(&d, &opts, &mut body) {
                        Ok(()) => Reply::ok("image/svg+xml", body),
                        Err(e) => Reply::error(500, &e.to_string()),
                    }
                }
            }),
            _ => Err(Reply::error(404, "not found")),
        };
        result.unwrap_or_else(|r| r)
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        // A panic while the lock was held left at worst a partly updated cache of valid entries.
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What is served: `{"single": true, "name": FILE}` for one profile file (every range
    /// endpoint answers with it and there is no timeline to draw), `{"single": false, "name":
    /// DIR}` for an archive directory (the directory's own name, not its path).
    fn meta(&self) -> Reply {
        #[derive(serde::Serialize)]
        struct Meta<'a> {
            single: bool,
            name: &'a str,
        }
        let name = match &*self.source {
            Source::File { name, .. } => name.clone(),
            Source::Dir(dir) => {
                dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned())
            }
        };
        Reply::json(&Meta { single: self.source.is_single(), name: &name })
    }

    fn list(dir: &Path) -> Result<Vec<crate::store::Entry>, Reply> {
        crate::store::list(dir)
            .map(|(entries, _)| entries)
            .map_err(|e| Reply::error(500, &format!("cannot list `{}`: {e}", dir.display())))
    }

    /// One row per readable archive, oldest first (as `prof report DIR --list`); only archives
    /// not seen before are read, without holding the cache's lock (a range being merged at the
    /// same time does not wait for the listing).
    fn intervals(&self) -> Result<Reply, Reply> {
        Ok(Reply::json(&self.interval_rows()?))
    }

    /// The rows of [`App::intervals`], cached for the next call; one row for a profile file.
    pub(super) fn interval_rows(&self) -> Result<Vec<IntervalJson>, Reply> {
        let dir = match &*self.source {
            Source::Dir(dir) => dir,
            Source::File { name, bytes, profile } => {
                return Ok(vec![IntervalJson::of(&profile.meta, *bytes, PathBuf::from(name))]);
            }
        };
        // A panic while listing left nothing half-done behind this lock.
        let _listing = self.listing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entries = App::list(dir)?;
        let known: Vec<Option<IntervalJson>> = {
            let cache = self.cache();
            entries
                .iter()
                .map(|e| {
                    cache.intervals.get(&e.path).filter(|(bytes, _)| *bytes == e.bytes).map(|(_, row)| row.clone())
                })
                .collect()
        };
        let mut rows = Vec::with_capacity(entries.len());
        let mut fresh = HashMap::with_capacity(entries.len());
        for (e, row) in entries.into_iter().zip(known) {
            let row = match row {
                Some(row) => row,
                // Unreadable archives are left out, as `prof report DIR --list` skips them.
                None => match crate::archive::read_meta_file(&e.path) {
                    Ok(meta) => IntervalJson::of(&meta, e.bytes, e.path.clone()),
                    Err(_) => continue,
                },
            };
            rows.push(row.clone());
            fresh.insert(e.path, (e.bytes, row));
        }
        // Archives deleted since (retention) drop out of the cache here.
        self.cache().intervals = fresh;
        Ok(rows)
    }

    /// The merged profile of `from`..`to` (ns; default: everything), optionally only `comm`,
    /// `cgroup`.
    fn range(&self, q: &Query) -> Result<Shown, Reply> {
        self.load(q, "from", "to")
    }

    /// A profile file is every range: the times are not looked at.
    fn load(&self, q: &Query, from_key: &str, to_key: &str) -> Result<Shown, Reply> {
        let shown = match &*self.source {
            Source::File { profile, .. } => Shown::whole(profile),
            Source::Dir(dir) => {
                let from = ns(q, from_key, 0)?;
                let to = ns(q, to_key, unix_ns(std::time::SystemTime::now()) + 1)?;
                self.merged(dir, from, to)?
            }
        };
        let comm = q.get("comm").filter(|c| !c.is_empty());
        let cgroup = q.get("cgroup").filter(|c| !c.is_empty());
        let no_idle = flag(q, "no_idle")?;
        if comm.is_none() && cgroup.is_none() && !no_idle {
            return Ok(shown);
        }
        let p = &shown.profile;
        let keep = |s: &Sample| {
            comm.is_none_or(|c| s.comm == *c)
                && cgroup.is_none_or(|c| p.cgroup_of(s).is_some_and(|g| g.is_within(c)))
                && !(no_idle && s.is_idle())
        };
        let kept = keep_samples(p, keep);
        Ok(Shown { profile: Arc::new(kept), ..shown })
    }

    /// The archives of `from`..`to` merged, from the cache while the directory is unchanged.
    /// Archives are chosen by the real times in their metadata (the cached interval rows), so
    /// a range from one interval's start to its end is exactly that interval.
    fn merged(&self, dir: &Path, from: u64, to: u64) -> Result<Shown, Reply> {
        let rows = self.interval_rows()?;
        let mut fingerprint = std::collections::hash_map::DefaultHasher::new();
        for r in &rows {
            (&r.path, r.bytes).hash(&mut fingerprint);
        }
        let fingerprint = fingerprint.finish();
        if let Some((.., shown)) =
            self.cache().ranges.iter().find(|(f, t, fp, _)| (*f, *t, *fp) == (from, to, fingerprint))
        {
            return Ok(shown.clone());
        }
        let spans: Vec<Span> = rows
            .into_iter()
            .map(|r| Span { path: r.path, start_unix_ns: r.start_unix_ns, end_unix_ns: r.end_unix_ns })
            .collect();
        // Merged without holding the lock: the interval list (asked for at the same time by a
        // page opening on a range) does not wait for it.
        let merged = crate::store::merge_spans(dir, &spans, Vec::new(), from, to)
            .map_err(|e| Reply::error(404, &e.to_string()))?;
        let shown = Shown {
            profile: Arc::new(merged.profile),
            covered_ns: merged.covered_ns,
            intervals: merged.archives,
            warnings: merged.warnings,
        };
        let mut cache = self.cache();
        if cache.ranges.iter().any(|(f, t, fp, _)| (*f, *t, *fp) == (from, to, fingerprint)) {
            return Ok(shown);
        }
        if cache.ranges.len() == CACHED_RANGES {
            cache.ranges.remove(0);
        }
        cache.ranges.push((from, to, fingerprint, shown.clone()));
        Ok(shown)
    }

    fn diff(&self, q: &Query) -> Result<diff::Diff, Reply> {
        if self.source.is_single() {
            return Err(Reply::error(400, "one profile is served: there are no two ranges to compare"));
        }
        let base = self.load(q, "base_from", "base_to")?;
        let new = self.load(q, "new_from", "new_to")?;
        diff::diff(&base.profile, "base range", &new.profile, "new range", &DiffOptions::default())
            .map_err(|e| Reply::error(400, &e.to_string()))
    }
}

/// The title and subtitle of `s`: its duration is the time its intervals cover.
fn title(s: &Shown) -> (String, Option<String>) {
    let mut meta = s.profile.meta.clone();
    meta.end_unix_ns = meta.start_unix_ns.saturating_add(s.covered_ns);
    flamegraph::default_title(&meta)
}

fn svg(s: &Shown) -> Reply {
    let (title, subtitle) = title(s);
    let opts = SvgOptions { title, subtitle, deterministic: true, no_javascript: true };
    let mut body = Vec::new();
    match flamegraph::write_svg(&s.profile, &RenderOptions::default(), &opts, &mut body) {
        Ok(()) => Reply::ok("image/svg+xml", body),
        Err(e) => Reply::error(404, &e.to_string()),
    }
}

/// The range as JSON for the UI's interactive flamegraph: title, subtitle, total, every folded
/// stack as an array of frame labels (root = comm) with its count, the unit and measure of the
/// counts, and what was
/// lost (samples, process notifications, each reason) with the recording's notes.
///
/// Frame labels are sent once, in `names`; each stack is `[count, name index, …]` (root first).
/// An hour of a busy machine's archives is tens of thousands of stacks of ~20 frames: sending
/// the labels once keeps the reply several times smaller and faster to parse.
fn flame_json(s: &Shown) -> Reply {
    #[derive(serde::Serialize)]
    struct Flame {
        title: String,
        subtitle: Option<String>,
        /// The time the range's intervals cover, in nanoseconds (the duration in the title).
        duration_ns: u64,
        /// How many intervals (archives) the range merges.
        intervals: usize,
        total: u64,
        /// What the counts are: `samples` or `nanoseconds`.
        unit: &'static str,
        /// What kind of time they measure: `on-cpu`, `off-cpu` or `wall`.
        measure: &'static str,
        names: Vec<String>,
        /// The module (binary) of each name of `names`, "" when unknown (roots, folded input):
        /// the first seen when two modules have a function of the same name.
        modules: Vec<String>,
        stacks: Vec<Vec<u64>>,
        /// What the range lost, by reason.
        losses: LossesJson,
        /// The recording's notes and warnings (of the range's first archive, and mixed
        /// recordings).
        notes: Vec<String>,
    }
    let p = &s.profile;
    let (title, subtitle) = title(s);
    let mut names: Vec<String> = Vec::new();
    let mut index: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let stacks = folded::lines(p, &RenderOptions::default())
        .into_iter()
        .filter_map(|line| {
            let (stack, count) = line.rsplit_once(' ')?;
            let mut row = vec![count.parse().ok()?];
            for frame in stack.split(';') {
                let i = match index.get(frame) {
                    Some(&i) => i,
                    None => {
                        names.push(frame.to_string());
                        index.insert(frame.to_string(), names.len() as u64 - 1);
                        names.len() as u64 - 1
                    }
                };
                row.push(i);
            }
            Some(row)
        })
        .collect();
    let mut module_of: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for frame in p.frames.iter().filter(|f| !f.module.is_empty()) {
        module_of.entry(folded::frame_label(frame)).or_insert(&frame.module);
    }
    let modules = names.iter().map(|n| module_of.get(n).copied().unwrap_or_default().to_string()).collect();
    let losses = LossesJson::of(&p.meta.losses);
    Reply::json(&Flame {
        title,
        subtitle,
        duration_ns: s.covered_ns,
        intervals: s.intervals,
        total: p.total(),
        unit: p.meta.weight_unit.name(),
        measure: p.meta.event.measure().name(),
        names,
        modules,
        stacks,
        losses,
        notes: s.warnings.iter().chain(&p.meta.notes).cloned().collect(),
    })
}

/// The samples of `p` that `keep` keeps (`comm=NAME`: one thread name; `cgroup=PATH`: that
/// cgroup and those below it; `no_idle=1`: all but the idle task's).
fn keep_samples(p: &Profile, keep: impl Fn(&Sample) -> bool) -> Profile {
    let mut kept = p.clone();
    kept.samples.retain(|s| keep(s));
    let mut b = ProfileBuilder::new(p.meta.clone());
    b.merge(&kept);
    let mut out = b.finish();
    out.meta.total_samples = out.total();
    out
}

/// One row of `/api/intervals`: an archive's time span, samples, per-sample losses, lost
/// process notifications and size.
#[derive(Clone, Debug, serde::Serialize)]
pub(super) struct IntervalJson {
    start_unix_ns: u64,
    end_unix_ns: u64,
    samples: u64,
    lost: u64,
    /// Process notifications lost because the ring buffer was full (`events_lost`).
    events_lost: u64,
    bytes: u64,
    /// `nanoseconds` when `samples` is time (off-CPU, wall-clock, a folded file of CPU time);
    /// left out for sample counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<&'static str>,
    /// `off-cpu` or `wall` for those recordings; left out for time on the CPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    measure: Option<&'static str>,
    /// The archive (not sent: the UI names ranges by time only).
    #[serde(skip)]
    path: PathBuf,
}

impl IntervalJson {
    /// The row of an archive (or profile file) of `bytes` at `path` with metadata `meta`.
    fn of(meta: &crate::profile::Metadata, bytes: u64, path: PathBuf) -> IntervalJson {
        let measure = meta.event.measure();
        IntervalJson {
            start_unix_ns: meta.start_unix_ns,
            end_unix_ns: meta.end_unix_ns,
            samples: meta.total_samples,
            lost: crate::profile::lost_samples(&meta.losses),
            events_lost: events_lost(&meta.losses),
            bytes,
            unit: (!meta.weight_unit.is_count()).then(|| meta.weight_unit.name()),
            measure: (measure != crate::profile::Measure::OnCpu).then(|| measure.name()),
            path,
        }
    }
}

/// Process notifications lost (the ring buffer was full) in `losses`.
fn events_lost(losses: &crate::profile::Losses) -> u64 {
    losses.get(&LossReason::EventsLost).copied().unwrap_or(0)
}

/// What a range lost, for the line under the UI's flamegraph.
#[derive(serde::Serialize)]
struct LossesJson {
    /// Samples that lost a stack or were dropped.
    samples: u64,
    /// Process notifications lost because the ring buffer was full.
    events: u64,
    /// Every loss counter by its stable name (`counts_map_full`, `events_lost`, …).
    by_reason: std::collections::BTreeMap<&'static str, u64>,
}

impl LossesJson {
    fn of(losses: &crate::profile::Losses) -> LossesJson {
        LossesJson {
            samples: crate::profile::lost_samples(losses),
            events: events_lost(losses),
            by_reason: losses.iter().map(|(r, n)| (r.id(), *n)).collect(),
        }
    }
}

#[derive(serde::Serialize)]
struct TopJson {
    function: String,
    module: String,
    self_pct: f64,
    total_pct: f64,
    self_count: u64,
    total_count: u64,
}

impl From<&top::TopRow> for TopJson {
    fn from(r: &top::TopRow) -> Self {
        TopJson {
            function: r.name.clone(),
            module: r.module.clone(),
            self_pct: r.self_pct,
            total_pct: r.total_pct,
            self_count: r.self_count,
            total_count: r.total_count,
        }
    }
}
