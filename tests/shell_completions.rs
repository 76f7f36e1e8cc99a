//! `prof completions` and `prof man`: the scripts load into the real shells and complete prof's
//! subcommands and options, and the man pages render with man-db.

mod common;

use std::process::{Command, Output};

use common::prof;

/// Runs `prof` with `args`, failing the test on a non-zero exit; returns standard output.
fn prof_stdout(args: &[&str]) -> String {
    let out = prof().args(args).output().expect("prof runs");
    assert!(out.status.success(), "prof {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Runs `program` with `args`, failing the test (naming the program) when it cannot start or
/// fails.
fn run_tool(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .env("LANG", "C")
        .output()
        .unwrap_or_else(|e| panic!("{program} runs (scripts/setup installs it): {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// What bash's completion function `_prof` offers for the words typed so far (the last one being
/// completed).
fn bash_complete(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let line = words.join(" ");
    let program = format!(
        "source '{}'; COMP_WORDS=({line}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT={}; _prof prof '{}' '{}'; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        words.len() - 1,
        line.len(),
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let out = run_tool("bash", &["--norc", "-c", &program]);
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

/// The bash script loads into bash and completes `prof rec` to `record`, `prof rep` to
/// `report`, and `prof record --freq` to `--frequency`.
#[test]
fn completions_bash_completes_subcommands_and_options() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("prof.bash");
    std::fs::write(&script, prof_stdout(&["completions", "bash"])).unwrap();
    assert_eq!(bash_complete(&script, &["prof", "rec"]), ["record"]);
    assert_eq!(bash_complete(&script, &["prof", "rep"]), ["report"]);
    assert_eq!(bash_complete(&script, &["prof", "record", "--freq"]), ["--frequency"]);
}

/// The fish script loads into fish, which completes `prof rec` to `record` and `prof diff --fail`
/// to `--fail-on`.
#[test]
fn completions_fish_completes_subcommands_and_options() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("prof.fish");
    std::fs::write(&script, prof_stdout(&["completions", "fish"])).unwrap();
    let complete = |line: &str| {
        let program = format!("source '{}'; complete -C '{line}'", script.display());
        let out = run_tool("fish", &["--no-config", "-c", &program]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines().map(|l| l.split('\t').next().unwrap_or_default().to_string()).collect::<Vec<_>>()
    };
    assert_eq!(complete("prof rec"), ["record"]);
    assert_eq!(complete("prof diff --fail"), ["--fail-on"]);
}

/// The zsh script is valid zsh (`zsh -n`), defines `_prof` for `compdef`, and names every
/// subcommand and `record`'s options.
#[test]
fn completions_zsh_is_valid_and_names_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("_prof");
    let text = prof_stdout(&["completions", "zsh"]);
    std::fs::write(&script, &text).unwrap();
    run_tool("zsh", &["-n", &script.to_string_lossy()]);
    assert!(text.starts_with("#compdef prof"), "{}", &text[..text.len().min(200)]);
    for word in ["record", "report", "diff", "serve", "completions", "man", "--frequency", "--continuous"] {
        assert!(text.contains(word), "the zsh script names `{word}`");
    }
}

/// `prof man -o DIR` writes prof.1 and one page per subcommand; man-db renders prof-record.1
/// with its options (`--frequency`) and examples, and prof.1 points to the subcommands' pages.
#[test]
fn man_pages_render_with_options_and_examples() {
    let dir = tempfile::tempdir().unwrap();
    let out = prof().args(["man", "-o"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    for page in ["prof.1", "prof-record.1", "prof-report.1", "prof-diff.1", "prof-serve.1", "prof-completions.1"] {
        assert!(names.iter().any(|n| n == page), "{page} in {names:?}");
    }
    let render = |page: &str| {
        let out = run_tool("man", &["-l", &dir.path().join(page).to_string_lossy()]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let record = render("prof-record.1");
    for expected in ["prof-record(1)", "-F, --frequency <HZ>", "EXAMPLES", "prof record -d 10 -o cpu.svg"] {
        assert!(record.contains(expected), "`{expected}` in:\n{record}");
    }
    let main = render("prof.1");
    assert!(main.contains("prof-record(1)") && main.contains("prof-diff(1)"), "{main}");
    let stdout_page = prof_stdout(&["man"]);
    assert_eq!(stdout_page.as_bytes(), std::fs::read(dir.path().join("prof.1")).unwrap(), "`prof man` prints prof.1");
}

/// `prof man -o` into a directory that does not exist fails (exit 1) saying how to create it;
/// into a file, saying it is not a directory (the file untouched).
#[test]
fn man_output_dir_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("man1");
    let out = prof().args(["man", "-o"]).arg(&missing).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let expected = format!("`{0}` does not exist (create it first: `mkdir -p {0}`)", missing.display());
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(!missing.exists());
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let out = prof().args(["man", "-o"]).arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("`{}` is not a directory", file.display())), "{stderr}");
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}
