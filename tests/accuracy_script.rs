//! scripts/accuracy, the comparison of prof with perf on real programs, checked without
//! recording anything: its self-test of parsers and metrics, and its table computed from
//! hand-made profiles in tests/fixtures/accuracy/ (prof's folded output and `perf script`
//! text of perf dwarf and perf fp) whose numbers are worked out in the comments below.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `python3 scripts/accuracy ARGS` from the repository root; returns its stdout.
fn accuracy(args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg(root().join("scripts/accuracy"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("python3 runs (scripts/setup installs it)");
    assert!(
        out.status.success(),
        "scripts/accuracy {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// The script's own checks of its parsers and metrics (names, entry points, shares) pass.
#[test]
fn accuracy_self_test_passes() {
    let out = accuracy(&["--self-test"]);
    assert!(out.contains("checks passed"), "{out}");
}

/// The markdown table of the fixtures has the numbers worked out by hand:
///
/// `toy`: prof has 100 own samples (the 500 of comm `perf` are dropped): self `hot` 60 (50 with
/// an inlined leaf, 10 without), `foo::bar(int) const` 10, unnamed `toy+0x1234` 20, kernel
/// `ksys_write` 10; 90 of them start at `_start`. perf dwarf, 20 samples: `hot` 50%,
/// `foo::bar` 20%, unnamed 20%, `ksys_write` 10%, 18 of 20 from `_start`. The largest
/// difference is 10 points, on `foo::bar` and `hot` alike; the first in name order is shown,
/// under perf's name (prof's C++ parameters are not part of the key). perf fp, 10 samples:
/// `hot` 50%, `foo::bar` 30%, unnamed 20%, 3 from `_start`: noise 10, reach 30%.
///
/// `toy2`: prof 3 of 4 samples in an unnamed leaf under `[unknown]+0x7f00`, 1 in `main` from
/// `_start`; both perfs 4 of 4 in `main` from `_start`: 75 points on the unnamed bucket,
/// reach 25 vs 100, unnamed 75 vs 0: worse on all three.
#[test]
fn accuracy_table_from_fixtures() {
    let dir = std::env::temp_dir().join(format!("prof-accuracy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let md = dir.join("table.md");
    let fixtures = Path::new("tests/fixtures/accuracy");
    let text = accuracy(&["--from-dir", fixtures.to_str().unwrap(), "--markdown", md.to_str().unwrap()]);
    let markdown = std::fs::read_to_string(&md).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    let rows: Vec<&str> = markdown.lines().filter(|l| l.starts_with("| toy")).collect();
    assert_eq!(
        rows,
        [
            "| toy | 100 / 20 / 10 | 10.0 | `foo::bar` | 10.0 | 90.0 / 30.0 / 90.0 | 20.0 / 20.0 | self |",
            "| toy2 | 4 / 4 / 4 | 75.0 | `[unnamed]` | 0.0 | 25.0 / 100.0 / 100.0 | 75.0 / 0.0 | self, reach, unnamed |",
        ],
        "{markdown}"
    );
    common::check_golden("accuracy", "table.txt", &text);
}

/// `--markdown` on a file with the begin/end markers replaces only the text between them.
#[test]
fn accuracy_markdown_refreshes_between_markers() {
    let dir = std::env::temp_dir().join(format!("prof-accuracy-markers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let md = dir.join("ACCURACY.md");
    std::fs::write(&md, "# Title\n\n<!-- accuracy:begin -->\nold table\n<!-- accuracy:end -->\n\nafter\n").unwrap();
    accuracy(&["--from-dir", "tests/fixtures/accuracy", "--markdown", md.to_str().unwrap()]);
    let doc = std::fs::read_to_string(&md).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(doc.starts_with("# Title\n\n<!-- accuracy:begin -->\n"), "{doc}");
    assert!(doc.ends_with("<!-- accuracy:end -->\n\nafter\n"), "{doc}");
    assert!(!doc.contains("old table"), "{doc}");
    assert!(doc.contains("| toy2 | 4 / 4 / 4 |"), "{doc}");
}
