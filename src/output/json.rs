//! `prof report --format json` (and `-o x.json`): a profile's metadata, totals, the top table
//! as `--sort`/`--by` choose it, and optionally the stacks, for scripts. The schema is
//! docs/json-format.md; [`VERSION`] changes when a field changes meaning or goes away (new
//! fields may be added within a version).

use std::collections::BTreeSet;
use std::io::{self, Write};

use serde::Serialize;

use super::text::write_json;
use super::top::{self, TableOptions, TopBy, TopSort};
use crate::profile::CgroupGrouping;
use crate::profile::{format_unix_ns, lost_samples, FrameKind, Profile};

/// The `format` field of a report document.
pub const FORMAT: &str = "prof-report";

/// Version of the report (and diff) JSON schema.
pub const VERSION: u32 = 1;

/// What a JSON report holds besides metadata and totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JsonOptions {
    /// The table: rows, order, grouping.
    pub table: TableOptions,
    /// Also list the frames and every stack with its count.
    pub stacks: bool,
}

/// A frame kind's name in JSON: `user`, `kernel` or `placeholder`.
pub fn kind_name(kind: FrameKind) -> &'static str {
    match kind {
        FrameKind::User => "user",
        FrameKind::Kernel => "kernel",
        FrameKind::Placeholder => "placeholder",
    }
}

fn sort_name(sort: TopSort) -> &'static str {
    match sort {
        TopSort::SelfSamples => "self",
        TopSort::Total => "total",
        TopSort::Name => "name",
    }
}

fn by_name(by: TopBy) -> &'static str {
    match by {
        TopBy::Function => "function",
        TopBy::Comm => "comm",
        TopBy::Pid => "pid",
        TopBy::Tid => "tid",
        TopBy::Module => "module",
        TopBy::Cgroup(CgroupGrouping::Cgroup) => "cgroup",
        TopBy::Cgroup(CgroupGrouping::Container) => "container",
        TopBy::Cgroup(CgroupGrouping::Unit) => "unit",
    }
}

#[derive(Serialize)]
struct Report<'a> {
    format: &'static str,
    version: u32,
    metadata: Metadata<'a>,
    totals: Totals,
    table: Table,
    #[serde(skip_serializing_if = "Option::is_none")]
    frames: Option<Vec<Frame<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stacks: Option<Vec<Stack<'a>>>,
}

#[derive(Serialize)]
struct Table {
    by: &'static str,
    sort: &'static str,
    rows: Vec<Row>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Row {
    Function(FunctionRow),
    Group(GroupRow),
}

#[derive(Serialize)]
struct GroupRow {
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<u32>,
    /// The process's pid in its own pid namespace, where it differs from `pid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pid_ns: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    module: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cgroup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    container: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<String>,
    #[serde(flatten)]
    counts: RowCounts,
}

#[derive(Serialize)]
struct FunctionRow {
    name: String,
    module: String,
    kind: &'static str,
    #[serde(flatten)]
    counts: RowCounts,
}

/// The numbers of a row: self and total, in the profile's unit and as shares.
#[derive(Serialize)]
struct RowCounts {
    #[serde(rename = "self")]
    self_count: u64,
    #[serde(rename = "total")]
    total_count: u64,
    self_pct: f64,
    total_pct: f64,
}

#[derive(Serialize)]
struct Metadata<'a> {
    prof_version: &'a str,
    hostname: &'a str,
    kernel_release: &'a str,
    event: String,
    frequency_hz: u64,
    start: Option<String>,
    end: Option<String>,
    duration_secs: f64,
    target: &'a str,
    unit: &'static str,
    notes: &'a [String],
}

#[derive(Serialize)]
struct Totals {
    total: u64,
    samples_taken: u64,
    lost_samples: u64,
    processes: usize,
    stacks: usize,
}

#[derive(Serialize)]
struct Frame<'a> {
    name: &'a str,
    module: &'a str,
    kind: &'static str,
    inlined: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
}

#[derive(Serialize)]
struct Stack<'a> {
    comm: &'a str,
    pid: u32,
    count: u64,
    frames: &'a [u32],
}

/// The table's rows.
fn rows(profile: &Profile, opts: &TableOptions) -> Vec<Row> {
    if opts.by == TopBy::Function {
        return top::top_sorted(profile, opts.rows, opts.sort)
            .into_iter()
            .map(|r| {
                Row::Function(FunctionRow {
                    kind: kind_name(r.kind),
                    counts: RowCounts {
                        self_count: r.self_count,
                        total_count: r.total_count,
                        self_pct: r.self_pct,
                        total_pct: r.total_pct,
                    },
                    name: r.name,
                    module: r.module,
                })
            })
            .collect();
    }
    top::groups(profile, opts.by, opts.sort, opts.rows)
        .into_iter()
        .map(|g| {
            let mut row = GroupRow {
                pid: None,
                pid_ns: g.ns_pid,
                tid: None,
                comm: None,
                module: None,
                cgroup: None,
                container: None,
                unit: None,
                counts: RowCounts {
                    self_count: g.self_count,
                    total_count: g.total_count,
                    self_pct: g.self_pct,
                    total_pct: g.total_pct,
                },
            };
            match opts.by {
                TopBy::Pid => (row.pid, row.comm) = (g.name.parse().ok(), Some(g.detail)),
                TopBy::Tid => (row.tid, row.comm) = (g.name.parse().ok(), Some(g.detail)),
                TopBy::Comm => row.comm = Some(g.name),
                TopBy::Cgroup(CgroupGrouping::Cgroup) => row.cgroup = Some(g.name),
                TopBy::Cgroup(CgroupGrouping::Container) => row.container = Some(g.name),
                TopBy::Cgroup(CgroupGrouping::Unit) => row.unit = Some(g.name),
                _ => row.module = Some(g.name),
            }
            Row::Group(row)
        })
        .collect()
}

/// Writes `profile` as a JSON report (indented), every string with control and bidirectional
/// characters escaped ([`write_json`]).
pub fn write(profile: &Profile, opts: &JsonOptions, mut w: impl Write) -> io::Result<()> {
    let m = &profile.meta;
    let time = |ns: u64| (ns > 0).then(|| format_unix_ns(ns));
    let meta = Metadata {
        prof_version: &m.prof_version,
        hostname: &m.hostname,
        kernel_release: &m.kernel_release,
        event: m.event.to_string(),
        frequency_hz: m.frequency_hz,
        start: time(m.start_unix_ns),
        end: time(m.end_unix_ns),
        duration_secs: m.duration_secs(),
        target: &m.target,
        unit: m.weight_unit.name(),
        notes: &m.notes,
    };
    let totals = Totals {
        total: profile.total(),
        samples_taken: m.total_samples,
        lost_samples: lost_samples(&m.losses),
        processes: profile.samples.iter().map(|s| s.pid).collect::<BTreeSet<_>>().len(),
        stacks: profile.stacks.len(),
    };
    let (frames, stacks) = if opts.stacks {
        let frames: Vec<Frame> = profile
            .frames
            .iter()
            .map(|f| Frame {
                name: &f.name,
                module: &f.module,
                kind: kind_name(f.kind),
                inlined: f.inlined,
                file: f.file.as_deref(),
                line: f.line,
            })
            .collect();
        let mut stacks: Vec<Stack> = profile
            .samples
            .iter()
            .map(|s| Stack { comm: &s.comm, pid: s.pid, count: s.count, frames: &profile.stacks[s.stack as usize] })
            .collect();
        stacks.sort_by(|a, b| (a.comm, a.pid, a.frames).cmp(&(b.comm, b.pid, b.frames)));
        (Some(frames), Some(stacks))
    } else {
        (None, None)
    };
    let doc = Report {
        format: FORMAT,
        version: VERSION,
        metadata: meta,
        totals,
        table: Table { by: by_name(opts.table.by), sort: sort_name(opts.table.sort), rows: rows(profile, &opts.table) },
        frames,
        stacks,
    };
    write_json(&mut w, &doc, true).map_err(io::Error::other)?;
    writeln!(w)
}
