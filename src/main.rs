//! The `prof` binary: parses the command line and runs the library. Exit status: 0 success,
//! 1 runtime error, 2 usage error.

mod cli;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Parser;

use cli::{Cli, Command, RecordArgs, ReportArgs};
use prof::emit::{self, OutputSpec};
use prof::output::flamegraph::{self, SvgOptions};
use prof::output::{top, Format};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Record(args) => run_record(args),
        Command::Report(args) => run_report(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("prof: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn output_specs(paths: &[PathBuf], format: Option<cli::FormatArg>) -> Result<Vec<OutputSpec>> {
    paths.iter().map(|p| Ok(OutputSpec::new(p.clone(), format.map(Format::from))?)).collect()
}

/// `prof-YYYYMMDD-HHMMSS.prof` in the current directory.
fn default_archive_path() -> PathBuf {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let stamp: String = now.trim_end_matches('Z').chars().filter(|c| c.is_ascii_digit() || *c == 'T').collect();
    PathBuf::from(format!("prof-{}.prof", stamp.replace('T', "-")))
}

fn run_record(args: RecordArgs) -> Result<()> {
    if !args.command.is_empty() && !args.pids.is_empty() {
        bail!("give either -p PID or a COMMAND, not both");
    }
    // Validate every output before recording anything.
    let mut specs = output_specs(&args.output.outputs, args.output.format)?;
    let default_output = specs.is_empty();
    if default_output {
        specs.push(OutputSpec { path: default_archive_path(), format: Format::Archive });
    }

    // First Ctrl-C/SIGTERM stops the recording; later ones are absorbed so the flush completes.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("failed to install signal handlers")?;
    }

    let opts = args.options(std::io::stderr().is_terminal());
    let recording = prof::record::record(&opts, &stop)?;
    let profile = &recording.profile;

    let (title, subtitle) = flamegraph::default_title(&profile.meta);
    let svg = SvgOptions { title, subtitle, deterministic: false };
    let render = args.output.render();
    let mut written = Vec::new();
    let mut failures = Vec::new();
    for spec in &specs {
        match emit::write_output(profile, spec, &render, &svg) {
            Ok(()) => written.push(spec.path.display().to_string()),
            Err(e) => failures.push(e),
        }
    }
    eprint!("{}", prof::report::summary(&recording, &written, 5));
    if args.verbose {
        let s = &recording.symbolize;
        eprintln!(
            "  symbolized {} addresses, {} left as module+offset, {} binaries failed",
            s.resolved, s.unresolved, s.failed_binaries
        );
        let (stacks, counts) = recording.map_sizes;
        eprintln!("  BPF maps: stacks {stacks} entries, counts {counts} entries");
    }
    if default_output {
        println!("{}", specs[0].path.display());
    }
    if let Some(first) = failures.into_iter().next() {
        return Err(first.into());
    }
    Ok(())
}

fn run_report(args: ReportArgs) -> Result<()> {
    let specs = output_specs(&args.output.outputs, args.output.format)?;
    let loaded = prof::report::load(&args.input, args.lenient)?;
    if loaded.skipped_lines > 0 {
        eprintln!("prof: warning: skipped {} malformed lines of `{}`", loaded.skipped_lines, args.input.display());
    }
    let profile = &loaded.profile;
    if specs.is_empty() {
        let rows = top::top(profile, args.top);
        let mut out = std::io::stdout().lock();
        top::write_table(&rows, profile.total(), &mut out).context("failed to write the table")?;
        return Ok(());
    }
    let (title, subtitle) = flamegraph::default_title(&profile.meta);
    let svg = SvgOptions { title, subtitle, deterministic: false };
    for spec in &specs {
        emit::write_output(profile, spec, &args.output.render(), &svg)?;
        eprintln!("prof: wrote {}", spec.path.display());
    }
    Ok(())
}
