//! `prof report` and `prof diff` given a file that is not a profile say what the file looks
//! like (`not a profile (looks like an ELF executable)`), one message per kind of file, instead
//! of a folded-format error at line 1; folded text keeps its line-numbered errors.

mod common;

use std::path::{Path, PathBuf};

use common::prof;

/// Writes `bytes` to `name` in `dir` and returns the path.
fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// `prof report INPUT`, `prof diff INPUT GOOD` and `prof diff GOOD INPUT` each fail (exit 1)
/// with exactly `prof: error: `INPUT`: not a profile (WHAT)`.
fn assert_not_a_profile(input: &Path, what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.folded", b"main;work 5\nmain;idle 2\n");
    let expected = format!("prof: error: `{}`: not a profile ({what})\n", input.display());
    let runs: [Vec<&std::ffi::OsStr>; 3] = [
        vec!["report".as_ref(), input.as_os_str()],
        vec!["diff".as_ref(), input.as_os_str(), good.as_os_str()],
        vec!["diff".as_ref(), good.as_os_str(), input.as_os_str()],
    ];
    for args in runs {
        let out = prof().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr, expected, "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// An ELF executable (prof itself) is named as one.
#[test]
fn input_elf_executable_is_not_a_profile() {
    assert_not_a_profile(Path::new(env!("CARGO_BIN_EXE_prof")), "looks like an ELF executable");
}

/// An ELF object file and a shared library are named as such.
#[test]
fn input_elf_object_and_library_are_not_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(dir.path(), "lib.c", b"int f(int x) { return x + 1; }\n");
    let object = dir.path().join("lib.o");
    let library = dir.path().join("lib.so");
    for args in [vec!["-c", "-fPIC", "-o"], vec!["-shared", "-fPIC", "-o"]] {
        let out_file = if args[0] == "-c" { &object } else { &library };
        let out = std::process::Command::new("gcc").args(&args).arg(out_file).arg(&src).output().expect("gcc runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert_not_a_profile(&object, "looks like an ELF object file");
    assert_not_a_profile(&library, "looks like an ELF shared library");
}

/// A C source file (a workload of these tests, starting with its licence comment) is named as C
/// source, and so is one starting with its `#include` lines; other source code is named so.
#[test]
fn input_c_source_is_not_a_profile() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workloads/short.c");
    let text = std::fs::read_to_string(&source).unwrap();
    assert!(text.starts_with("//") && text.lines().any(|l| l.starts_with("#include")), "the fixture");
    assert_not_a_profile(&source, "looks like C or C++ source");
    let dir = tempfile::tempdir().unwrap();
    let from_include = text.lines().skip_while(|l| !l.starts_with("#include")).collect::<Vec<_>>().join("\n");
    assert_not_a_profile(&write(dir.path(), "short.c", from_include.as_bytes()), "looks like C or C++ source");
    let rust = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workloads/rust_burner.rs");
    assert!(std::fs::read_to_string(&rust).unwrap().starts_with("//"), "the fixture starts with a comment");
    assert_not_a_profile(&rust, "looks like source code");
}

/// gzip that is not pprof: compressed text (with the way to read compressed folded stacks), and
/// compressed binary data.
#[test]
fn input_gzip_not_pprof_is_not_a_profile() {
    use std::io::Write;
    let gzip = |bytes: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    assert_not_a_profile(
        &write(dir.path(), "notes.txt.gz", &gzip(b"hello, world\n")),
        "looks like gzip-compressed text, not a pprof profile; for folded stacks: `zcat FILE | prof report -`",
    );
    let noise: Vec<u8> = (0..2000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    assert_not_a_profile(
        &write(dir.path(), "data.gz", &gzip(&noise)),
        "looks like gzip-compressed data that is not a pprof profile",
    );
}

/// zstd-compressed data (prof's archives are zstd inside, behind their own header) is named.
#[test]
fn input_zstd_not_archive_is_not_a_profile() {
    let dir = tempfile::tempdir().unwrap();
    let compressed = zstd::encode_all(&b"main;work 5\n"[..], 3).unwrap();
    assert_not_a_profile(
        &write(dir.path(), "run.folded.zst", &compressed),
        "looks like zstd-compressed data that is not a prof archive",
    );
}

/// A PNG image is named as one.
#[test]
fn input_png_is_not_a_profile() {
    let dir = tempfile::tempdir().unwrap();
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00";
    assert_not_a_profile(&write(dir.path(), "flame.png", png), "looks like a PNG image");
}

/// A perf.data file is named, with the way to fold it.
#[test]
fn input_perf_data_is_not_a_profile() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"PERFILE2".to_vec();
    bytes.extend_from_slice(&[0x68, 0, 0, 0, 0, 0, 0, 0]);
    assert_not_a_profile(
        &write(dir.path(), "perf.data", &bytes),
        "looks like a perf.data file; `perf script -i FILE | inferno-collapse-perf > FILE.folded` makes folded \
         stacks of it",
    );
}

/// `perf script` output (perf's samples as text, not yet folded) is named, with the way to fold
/// it.
#[test]
fn input_perf_script_output_is_not_a_profile() {
    let dir = tempfile::tempdir().unwrap();
    let text = "prof 27736 12410.912575:    1001001 cpu-clock: \n\
                \tffffffff815a7f61 next_uptodate_folio+0xc1 ([kernel.kallsyms])\n\
                \t    55d0c1a2b3c4 main+0x14 (/usr/bin/prof)\n\n";
    assert_not_a_profile(
        &write(dir.path(), "out.perf", text.as_bytes()),
        "looks like `perf script` output; `inferno-collapse-perf FILE > FILE.folded` makes folded stacks of it",
    );
}

/// An empty file says it is empty.
#[test]
fn input_empty_file_is_not_a_profile() {
    let dir = tempfile::tempdir().unwrap();
    assert_not_a_profile(&write(dir.path(), "empty.folded", b""), "the file is empty");
}

/// A directory without archives says so and what writes them; the library's loader, given a
/// directory as a file, names it a directory.
#[test]
fn input_directory_is_not_a_profile() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("src");
    std::fs::create_dir(&sub).unwrap();
    write(&sub, "main.c", b"int main(void) { return 0; }\n");
    assert_not_a_profile(&sub, "a directory without prof archives; `prof record --continuous --dir DIR` writes them");
    let err = prof::input::load(&sub, false).unwrap_err();
    assert_eq!(err.to_string(), format!("`{}`: not a profile (a directory)", sub.display()));
}

/// An SVG (a flame graph given back to report) and JSON are named.
#[test]
fn input_svg_and_json_are_not_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let svg = b"<?xml version=\"1.0\" standalone=\"no\"?>\n<svg version=\"1.1\" width=\"1200\">\n</svg>\n";
    assert_not_a_profile(&write(dir.path(), "cpu.svg", svg), "looks like an SVG image");
    assert_not_a_profile(&write(dir.path(), "cpu.json", b"{\"shared\": {\"frames\": []}}\n"), "looks like JSON");
}

/// Folded text keeps its errors naming the line, whether the bad line is the first or a later
/// one, and a file that only breaks off into binary keeps its line error too.
#[test]
fn input_folded_text_keeps_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &str); 3] = [
        ("first.folded", b"main;work five\n", "line 1: expected `STACK COUNT`"),
        ("second.folded", b"main;work 5\nmain;idle\n", "line 2: expected `STACK COUNT`"),
        ("bytes.folded", b"main;work 5\nmain;\xff\xfe 2\n", "line 2: not valid UTF-8"),
    ];
    for (name, bytes, expected) in cases {
        let path = write(dir.path(), name, bytes);
        let out = prof().arg("report").arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(&format!("`{}` {expected}", path.display())), "{name}: {stderr}");
        assert!(!stderr.contains("not a profile"), "{name}: {stderr}");
    }
}
