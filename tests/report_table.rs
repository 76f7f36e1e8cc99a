//! The table of `prof report`: `--sort self|total|name` and `--by comm|pid|module`, on a profile
//! whose counts are worked out by hand. No BPF.

mod common;

use prof::output::top::{self, GroupRow, TableOptions, TopBy, TopSort};
use prof::profile::{Frame, FrameKind, Metadata, Profile, ProfileBuilder, MISSING_USER_STACK};

/// 110 samples: app (pid 1: 30 in memcpy under compute, 50 in compute; pid 2: 20 in the kernel's
/// write under libc's write), sh (pid 3: 10 with a lost user stack).
fn profile() -> Profile {
    let mut b = ProfileBuilder::new(Metadata::default());
    let main = b.frame(Frame::new("main", "app", FrameKind::User));
    let compute = b.frame(Frame::new("compute", "app", FrameKind::User));
    let memcpy = b.frame(Frame::new("memcpy", "libc.so.6", FrameKind::User));
    let write = b.frame(Frame::new("write", "libc.so.6", FrameKind::User));
    let sys_write = b.frame(Frame::new("ksys_write", "[kernel.kallsyms]", FrameKind::Kernel));
    let lost = b.frame(Frame::placeholder(MISSING_USER_STACK));
    let s = b.stack(vec![main, compute, memcpy]);
    b.add(s, 1, "app", 30);
    let s = b.stack(vec![main, compute]);
    b.add(s, 1, "app", 50);
    let s = b.stack(vec![main, write, sys_write]);
    b.add(s, 2, "app", 20);
    let s = b.stack(vec![lost]);
    b.add(s, 3, "sh", 10);
    b.finish()
}

fn rows(by: TopBy, sort: TopSort) -> Vec<(String, String, u64, u64)> {
    top::groups(&profile(), by, sort, 100)
        .into_iter()
        .map(|GroupRow { name, detail, self_count, total_count, .. }| (name, detail, self_count, total_count))
        .collect()
}

fn row(name: &str, detail: &str, self_count: u64, total_count: u64) -> (String, String, u64, u64) {
    (name.to_string(), detail.to_string(), self_count, total_count)
}

/// Modules: self from the innermost frame, total once per stack wherever the module is; comms
/// and pids (with the pid's comm) sum their samples; shares are of all 110 samples.
#[test]
fn report_table_groups() {
    assert_eq!(
        rows(TopBy::Module, TopSort::SelfSamples),
        [
            row("app", "", 50, 100),
            row("libc.so.6", "", 30, 50),
            row("[kernel.kallsyms]", "", 20, 20),
            row(MISSING_USER_STACK, "", 10, 10),
        ]
    );
    assert_eq!(
        rows(TopBy::Module, TopSort::Total).iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        ["app", "libc.so.6", "[kernel.kallsyms]", MISSING_USER_STACK]
    );
    assert_eq!(rows(TopBy::Comm, TopSort::SelfSamples), [row("app", "", 100, 100), row("sh", "", 10, 10)]);
    assert_eq!(
        rows(TopBy::Pid, TopSort::Name),
        [row("1", "app", 80, 80), row("2", "app", 20, 20), row("3", "sh", 10, 10)]
    );
    let g = top::groups(&profile(), TopBy::Comm, TopSort::SelfSamples, 1);
    assert_eq!(g.len(), 1);
    assert!((g[0].self_pct - 100.0 * 100.0 / 110.0).abs() < 1e-9);
}

/// `--sort total` puts callers first, `--sort name` is alphabetical; `--sort self` is the
/// default table's order.
#[test]
fn report_table_sort() {
    let names = |sort| top::top_sorted(&profile(), 100, sort).into_iter().map(|r| r.name).collect::<Vec<_>>();
    assert_eq!(names(TopSort::SelfSamples), ["compute", "memcpy", "ksys_write", MISSING_USER_STACK, "main", "write"]);
    assert_eq!(names(TopSort::Total), ["main", "compute", "memcpy", "ksys_write", "write", MISSING_USER_STACK]);
    assert_eq!(names(TopSort::Name), ["[missing user stack]", "compute", "ksys_write", "main", "memcpy", "write"]);
    assert_eq!(top::top(&profile(), 100), top::top_sorted(&profile(), 100, TopSort::SelfSamples));
}

/// `prof report --by pid --top 2` on an archive prints the grouped table, and `--sort` orders
/// it; the text is what [`top::write_report`] writes.
#[test]
fn report_table_cli() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("p.prof");
    prof::archive::write_file(&profile(), &archive).unwrap();
    let out = common::prof_ok(&[
        "report".as_ref(),
        archive.as_os_str(),
        "--by".as_ref(),
        "pid".as_ref(),
        "--top".as_ref(),
        "2".as_ref(),
    ]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        " SELF%  TOTAL%  SAMPLES  PID     COMM\n 72.73   72.73       80  1       app\n 18.18   18.18       20  2       app\n\
         110 samples in total\n"
    );
    let out = common::prof_ok(&["report".as_ref(), archive.as_os_str(), "--by".as_ref(), "module".as_ref()]);
    let mut expected = Vec::new();
    let opts = TableOptions { rows: 20, sort: TopSort::SelfSamples, by: TopBy::Module };
    top::write_report(&profile(), &opts, &mut expected).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), String::from_utf8(expected).unwrap());
    let out = common::prof_ok(&["report".as_ref(), archive.as_os_str(), "--sort".as_ref(), "total".as_ref()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().nth(1).unwrap().ends_with("main                  app"), "{text}");
}

/// Grouped tables show hostile comms and modules with control and bidirectional formatting
/// characters as spaces, so a process name cannot drive or reorder the terminal.
#[test]
fn report_table_groups_are_printable() {
    let mut b = ProfileBuilder::new(Metadata::default());
    let f = b.frame(Frame::new("f", "lib\u{202e}os.so", FrameKind::User));
    let s = b.stack(vec![f]);
    b.add(s, 7, "evil\u{1b}[31m\u{2066}x", 3);
    let p = b.finish();
    for by in [TopBy::Comm, TopBy::Pid, TopBy::Module] {
        let mut out = Vec::new();
        let opts = TableOptions { rows: 5, sort: TopSort::SelfSamples, by };
        top::write_report(&p, &opts, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.chars().any(|c| prof::output::text::is_unsafe(c) && c != '\n'), "{text:?}");
        assert!(text.contains("evil [31m x") || text.contains("lib os.so"), "{text:?}");
    }
}

/// `--by pid` gives a process in another pid namespace (a container) a `PID-NS` column with
/// its pid there (`-` for the host's own processes), and JSON a `pid_ns` field; a profile with
/// no such process keeps the two-column form (see `report_table_cli`).
#[test]
fn report_table_shows_namespace_pids() {
    let mut p = profile();
    p.ns_pids.insert(1, 7);
    p.ns_pids.insert(2, 2);
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("p.prof");
    prof::archive::write_file(&p, &archive).unwrap();
    let report = |extra: &[&str]| {
        let mut args = vec!["report".as_ref(), archive.as_os_str(), "--by".as_ref(), "pid".as_ref()];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        String::from_utf8(common::prof_ok(&args).stdout).unwrap()
    };
    assert_eq!(
        report(&[]),
        " SELF%  TOTAL%  SAMPLES  PID     PID-NS  COMM\n 72.73   72.73       80  1       7       app\n\
         \x2018.18   18.18       20  2       -       app\n  9.09    9.09       10  3       -       sh\n\
         110 samples in total\n"
    );
    let json: serde_json::Value = serde_json::from_str(&report(&["--format", "json"])).unwrap();
    let rows = json["table"]["rows"].as_array().unwrap_or_else(|| panic!("{json}"));
    let ns: Vec<_> = rows.iter().map(|r| (r["pid"].as_u64(), r["pid_ns"].as_u64())).collect();
    assert_eq!(ns, [(Some(1), Some(7)), (Some(2), None), (Some(3), None)]);
}
