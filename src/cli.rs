//! Command-line interface: clap definitions (doc comments are the help text) and their
//! conversion into the library's plain option structs.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use prof::output::{Format, RenderOptions};
use prof::record::RecordOptions;
use prof::sample::{SamplerOptions, Targets};

/// prof: a continuous CPU profiler for Linux (BPF sampling, full stacks, flamegraphs).
#[derive(Debug, Parser)]
#[command(name = "prof", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// prof's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Record a CPU profile of a command, some processes, or the whole system.
    #[command(after_help = RECORD_EXAMPLES)]
    Record(RecordArgs),
    /// Read an archive (.prof) or folded file and print a top table or write other formats.
    #[command(after_help = REPORT_EXAMPLES)]
    Report(ReportArgs),
}

const RECORD_EXAMPLES: &str = "\
Examples:
  prof record -d 10 -o cpu.svg                  whole system for 10 s, flamegraph
  prof record -o run.prof -o run.svg -- ./app   profile ./app (and its children) until it exits
  prof record -p 1234,5678 -d 30s -F 199        two processes, 30 s, 199 Hz
  prof record --no-idle --kernel-only -d 5 -o k.folded

Outputs follow the extension: .prof (archive, re-render later with `prof report`),
.folded (flamegraph.pl / inferno / speedscope), .svg (flamegraph). Without -o, prof writes
prof-<timestamp>.prof in the current directory. Ctrl-C or SIGTERM stops the recording and
every output is still written.";

const REPORT_EXAMPLES: &str = "\
Examples:
  prof report run.prof                 top 20 functions by self time
  prof report run.prof -o run.svg      re-render a flamegraph
  prof report run.prof -o run.folded   folded stacks, identical to what `record` wrote
  prof report perf.folded --top 50     any folded file (perf + inferno-collapse-perf, stackcollapse)";

/// Output format names for `--format`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    /// prof archive.
    Prof,
    /// Folded stacks.
    Folded,
    /// Flamegraph SVG.
    Svg,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Prof => Format::Archive,
            FormatArg::Folded => Format::Folded,
            FormatArg::Svg => Format::Svg,
        }
    }
}

/// Options shared by every command that writes profiles.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Write to PATH (repeatable); the format follows the extension (.prof, .folded, .svg).
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub outputs: Vec<PathBuf>,
    /// Format for -o paths whose extension is not .prof/.folded/.svg.
    #[arg(long, value_enum, value_name = "F")]
    pub format: Option<FormatArg>,
    /// Name root frames `comm [pid]` instead of `comm`.
    #[arg(long)]
    pub pid_in_name: bool,
}

impl OutputArgs {
    /// Rendering options.
    pub fn render(&self) -> RenderOptions {
        RenderOptions { pid_in_name: self.pid_in_name }
    }
}

/// `prof record` arguments.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Samples per second on each CPU.
    #[arg(short = 'F', long = "frequency", default_value_t = 99, value_name = "HZ",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub frequency: u64,
    /// Stop after DURATION (`10`, `10s`, `2m`, `500ms`); default: until Ctrl-C or COMMAND exits.
    #[arg(short = 'd', long = "duration", value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Option<Duration>,
    /// Profile only these processes (comma-separated or repeated), all their threads.
    #[arg(short = 'p', long = "pid", value_delimiter = ',', value_name = "PID")]
    pub pids: Vec<u32>,
    /// Record kernel stacks only.
    #[arg(long, conflicts_with = "user_only")]
    pub kernel_only: bool,
    /// Record user stacks only.
    #[arg(long)]
    pub user_only: bool,
    /// Drop samples of the idle task (swapper).
    #[arg(long)]
    pub no_idle: bool,
    /// New unique stacks the kernel can hold between two drains (once a second);
    /// 0 sizes it from CPUs × frequency (at least 16384).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub stack_map_size: u32,
    /// Unique (process, stack, comm) counts the kernel can hold between two drains;
    /// 0 sizes it from CPUs × frequency (at least 16384).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub counts_map_size: u32,
    /// Print more detail (symbolization counters, notes).
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Outputs.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Command to run and profile, with the processes it forks.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

impl RecordArgs {
    /// The library's record options.
    pub fn options(&self, live_status: bool) -> RecordOptions {
        let targets = if self.pids.is_empty() {
            Targets::All
        } else {
            Targets::Pids { pids: self.pids.clone(), follow_forks: false }
        };
        RecordOptions {
            sampler: SamplerOptions {
                frequency_hz: self.frequency,
                targets,
                kernel_stacks: !self.user_only,
                user_stacks: !self.kernel_only,
                skip_idle: self.no_idle,
                stack_map_size: self.stack_map_size,
                counts_map_size: self.counts_map_size,
            },
            duration: self.duration,
            command: (!self.command.is_empty()).then(|| self.command.clone()),
            live_status,
            announce: true,
        }
    }
}

/// `prof report` arguments.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// An archive (.prof) or a folded file (`-` reads stdin).
    #[arg(value_name = "INPUT")]
    pub input: PathBuf,
    /// Rows of the top table printed when no -o is given.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub top: usize,
    /// Skip malformed lines of folded input (with one warning) instead of failing.
    #[arg(long)]
    pub lenient: bool,
    /// Outputs.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Parses `10` (seconds), `10s`, `2m`, `1h`, `500ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() && secs > 0.0 {
            return Ok(Duration::from_secs_f64(secs));
        }
        return Err(format!("`{s}`: expected a positive duration"));
    }
    match humantime::parse_duration(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err(format!("`{s}`: expected a positive duration")),
        Err(e) => Err(format!("`{s}`: {e} (expected e.g. 10, 10s, 2m, 500ms)")),
    }
}
