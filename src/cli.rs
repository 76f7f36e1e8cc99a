//! Command-line interface: clap definitions (doc comments are the help text) and their
//! conversion into the library's plain option structs.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use prof::output::top::{TableOptions, TopBy, TopSort};
use prof::output::{Format, RenderOptions};
use prof::profile::CgroupGrouping;
use prof::push::{Endpoint, Protocol, PushConfig, PushOptions};
use prof::record::{ContinuousOptions, RecordOptions};
use prof::sample::{SamplerOptions, Targets, MIN_EVENTS_BUFFER};
use prof::store::Retention;

/// A continuous CPU profiler for Linux (BPF sampling, full stacks, flamegraphs).
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
    /// Read an archive (.prof), pprof (.pb.gz) or folded file and print a top table or write other formats.
    #[command(after_help = REPORT_EXAMPLES)]
    Report(ReportArgs),
    /// Compare two profiles: what got slower, and is it more than noise?
    #[command(after_help = DIFF_HELP)]
    Diff(DiffArgs),
    /// A live, full-screen view of the hottest functions, like `perf top` (or an archive directory's newest intervals).
    #[command(after_help = TOP_HELP)]
    Top(TopArgs),
    /// Serve a local, read-only web UI over an archive directory of `record --continuous`, or
    /// over one profile file.
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
    /// Print a shell completion script (bash, zsh or fish).
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
    /// Write prof's man pages: prof.1 and one per subcommand (prof-record.1, …).
    #[command(after_help = MAN_EXAMPLES)]
    Man(ManArgs),
}

/// `prof completions` arguments.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell whose completion script is printed.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: ShellArg,
}

/// The shells `prof completions` writes scripts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ShellArg {
    /// Bash (bash-completion).
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
}

impl From<ShellArg> for clap_complete::Shell {
    fn from(s: ShellArg) -> Self {
        match s {
            ShellArg::Bash => clap_complete::Shell::Bash,
            ShellArg::Zsh => clap_complete::Shell::Zsh,
            ShellArg::Fish => clap_complete::Shell::Fish,
        }
    }
}

/// `prof man` arguments.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write prof.1 and one page per subcommand into DIR (which must exist); without it, prof.1
    /// is printed to standard output.
    #[arg(short = 'o', long = "output-dir", value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  prof completions bash > /etc/bash_completion.d/prof
  prof completions zsh > /usr/local/share/zsh/site-functions/_prof
  prof completions fish > ~/.config/fish/completions/prof.fish";

const MAN_EXAMPLES: &str = "\
Examples:
  prof man -o /usr/local/share/man/man1     install the pages (then `man prof-record`)
  prof man | man -l -                        read prof(1) without installing it";

/// `prof top` arguments.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// Seconds between refreshes, each one interval of samples added to the decaying window
    /// (1 to 3600).
    #[arg(short = 'd', long = "delay", default_value_t = 1, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub delay: u64,
    /// Watch only these processes (comma-separated or repeated), all their threads.
    #[arg(short = 'p', long = "pid", value_delimiter = ',', value_name = "PID", value_parser = parse_pid,
          conflicts_with = "command")]
    pub pids: Vec<u32>,
    /// Watch only tasks in this cgroup (v2) or the cgroups below it (repeatable), filtered in
    /// the kernel as `prof record --cgroup` does.
    #[arg(long = "cgroup", value_name = "PATH", conflicts_with = "dir")]
    pub cgroups: Vec<String>,
    /// Samples per second on each CPU.
    #[arg(short = 'F', long = "frequency", default_value_t = 99, value_name = "HZ", value_parser = parse_frequency)]
    pub frequency: u64,
    /// The sampling event: `cycles` or `cpu-clock`, as for `prof record`.
    #[arg(short = 'e', long = "event", value_parser = parse_event, value_name = "EVENT")]
    pub event: Option<prof::profile::EventKind>,
    /// How user stacks are walked (as for `prof record`).
    #[arg(long, value_enum, value_name = "MODE")]
    pub unwind: Option<UnwindArg>,
    /// Print one table after one interval (-d) and exit, instead of the full-screen view: for
    /// scripts, pipes and files (like `top -b -n 1`).
    #[arg(long)]
    pub once: bool,
    /// Rows printed by --once.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub top: usize,
    /// An archive directory that `prof record --continuous --dir DIR` writes: show its newest
    /// intervals as they appear instead of sampling.
    #[arg(value_name = "DIR", conflicts_with_all = ["pids", "command"])]
    pub dir: Option<PathBuf>,
    /// Command to run and watch, with the processes it forks (after `--`).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

/// The whole system without `-p`, else those processes (their forks are not followed).
fn targets_of(pids: &[u32]) -> Targets {
    if pids.is_empty() {
        Targets::All
    } else {
        Targets::Pids { pids: pids.to_vec(), follow_forks: false }
    }
}

impl TopArgs {
    /// What a live `prof top` samples (the interval and archive directory are the caller's).
    pub fn sampler(&self) -> SamplerOptions {
        let targets = targets_of(&self.pids);
        SamplerOptions {
            frequency_hz: self.frequency,
            event: self.event,
            targets,
            unwind: self.unwind.unwrap_or(UnwindArg::Auto).into(),
            ..SamplerOptions::default()
        }
    }
}

const TOP_HELP: &str = "\
The table: one row per function and process name; self % is the share of samples taken in the
function, total % the share with the function anywhere on the stack (its callees included).
The window decays like perf top's: at each refresh the samples shown so far count 7/8, and the
new interval's count fully (an interval counts half after five refreshes).

Keys: q quit · s/t/n sort by self/total/name · p pause · / filter by function or process (a
regex; empty clears) · Enter zoom into the selected function (callers above, callees below) ·
Esc back · arrows, PgUp/PgDn, Home/End move · h or ? help.

Examples:
  prof top                           the whole system, refreshed every second
  prof top -p 1234,5678 -d 2         two processes, every two seconds
  prof top --cgroup system.slice/nginx.service   one cgroup (v2) and those below it
  prof top -- make -j2               a command and what it forks
  prof top /var/lib/prof             the newest intervals of `prof record --continuous --dir`
  prof top --once -d 5 --top 10      one table of five seconds, to a pipe or file";

const SERVE_HELP: &str = "\
Examples:
  prof serve /var/lib/prof           the intervals of `prof record --continuous --dir`, by time
  prof serve run.prof --open         one profile (.prof, .pb.gz or folded), in the browser
  prof serve DIR --listen 127.0.0.1:0   any free port (the address is printed)";

/// `prof serve` arguments.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// An archive directory (its intervals on a timeline), or one profile file (.prof, pprof
    /// .pb.gz, folded), read once at start.
    #[arg(value_name = "DIR|FILE")]
    pub path: PathBuf,
    /// Open the UI in a browser ($BROWSER, else xdg-open) once it listens.
    #[arg(long)]
    pub open: bool,
    /// Address to listen on (loopback unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1:7070", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// Allow a non-loopback --listen address (the UI shows symbol and process names).
    #[arg(long)]
    pub allow_remote: bool,
}

const DIFF_HELP: &str = "\
Significance: each function's samples are treated as a binomial draw from its profile's total.
For every function, BASE's and NEW's total shares (samples with the function on the stack) are
compared with a two-proportion z-test; the p-values are corrected for the number of functions
compared with Benjamini-Hochberg, and a change is significant when the corrected q-value is at
most --alpha (0.01). Only significant changes are marked, so sampling noise is not reported as a
change: two runs of the same code show no significant function in ~99% of diffs.

Outputs follow the extension: .svg (differential flamegraph: widths from NEW, red = grew,
blue = shrank), .folded (two-column `stack base new`, like difffolded.pl), .json (the table).
Without -o the top functions by change are printed.

Exit status: 0, 1 on errors, 3 when --fail-on tripped.

Examples:
  prof diff before.prof after.prof                    table of the top changes
  prof diff before.prof after.prof -o diff.svg        differential flamegraph
  prof diff base.folded new.prof --fail-on 5          CI gate: fail if a function grew > 5 points
  prof diff /var/lib/prof /var/lib/prof --base-from -1d --base-to -23h --new-from -1h
                                                      this hour against the same hour yesterday";

const RECORD_EXAMPLES: &str = "\
Examples:
  prof record -d 10 -o cpu.svg                  whole system for 10 s, flamegraph
  prof record -o run.prof -o run.svg -- ./app   profile ./app (and its children) until it exits
  prof record -p 1234,5678 -d 30s -F 199        two processes, 30 s, 199 Hz
  prof record --no-idle --kernel-only -d 5 -o k.folded
  prof record -d 30 -o cpu.pb.gz                pprof, for `go tool pprof`, Pyroscope, Parca
  prof record --off-cpu -p 1234 -d 10 -o off.svg
                                                where 1234's threads wait, weighted by time blocked
  prof record --wall -o wall.svg -- ./app       on-CPU and off-CPU time: each thread's wall time
  prof record --cgroup system.slice/nginx.service -d 10 -o nginx.prof
                                                one cgroup (v2) and those below it, filtered in the kernel
  prof record --continuous --dir /var/lib/prof --push http://pyroscope:4040 --label env=prod
                                                one archive per 10 s, each also sent to Pyroscope
  prof record --continuous --dir /var/lib/prof --push-otlp http://otel-collector:4318
                                                each interval as an OTLP profiles export

Outputs follow the extension: .prof (archive, re-render later with `prof report`),
.folded (flamegraph.pl / inferno / speedscope), .svg (flamegraph), .pb.gz or .pprof (pprof,
gzip'd protobuf), .speedscope.json (speedscope). Without -o, prof writes
prof-<timestamp>.prof in the current directory. Ctrl-C or SIGTERM stops the recording and
every output is still written.";

const REPORT_EXAMPLES: &str = "\
Examples:
  prof report run.prof                 top 20 functions by self time
  prof report run.prof -o run.svg      re-render a flamegraph
  prof report run.prof -o run.folded   folded stacks, identical to what `record` wrote
  prof report perf.folded --top 50     any folded file (perf + inferno-collapse-perf, stackcollapse)
  prof report run.prof -o run.pb.gz    pprof for `go tool pprof -top run.pb.gz`
  prof report cpu.pb.gz                read a pprof profile (from prof, Go, perf_to_profile, …)
  prof report run.prof -o run.speedscope.json   open in speedscope
  prof report run.prof --comm 'python.*' --pid 1234,1235   only these processes (any output)
  prof report run.prof --by comm       samples per comm (--by pid, tid, module), like perf --sort comm
  prof report run.prof --by container  samples per container (--by cgroup, unit)
  prof report run.prof --cgroup /system.slice/nginx.service   this cgroup and those below it
  prof report run.prof --sort total    functions by total (inclusive) samples
  prof report run.prof --format json   metadata, totals and the table as JSON (docs/json-format.md)";

/// Output format names for `--format`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    /// prof archive.
    Prof,
    /// Folded stacks.
    Folded,
    /// Flamegraph SVG.
    Svg,
    /// pprof (gzip-compressed protobuf).
    Pprof,
    /// speedscope JSON.
    Speedscope,
    /// JSON for scripts (docs/json-format.md): metadata, totals, the top table.
    Json,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Prof => Format::Archive,
            FormatArg::Folded => Format::Folded,
            FormatArg::Svg => Format::Svg,
            FormatArg::Pprof => Format::Pprof,
            FormatArg::Speedscope => Format::Speedscope,
            FormatArg::Json => Format::Json,
        }
    }
}

/// `--python` modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PythonArg {
    /// Find CPython 3.10 to 3.13 in the processes sampled and walk their Python frames.
    Auto,
    /// Native frames only.
    Off,
}

/// `--unwind` modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum UnwindArg {
    /// Unwind tables where available, frame pointers elsewhere.
    Auto,
    /// Frame pointers only.
    Fp,
    /// Unwind tables only.
    Dwarf,
}

impl From<UnwindArg> for prof::profile::unwind::UnwindMode {
    fn from(u: UnwindArg) -> Self {
        match u {
            UnwindArg::Auto => prof::profile::unwind::UnwindMode::Auto,
            UnwindArg::Fp => prof::profile::unwind::UnwindMode::Fp,
            UnwindArg::Dwarf => prof::profile::unwind::UnwindMode::Dwarf,
        }
    }
}

/// Options shared by every command that writes profiles.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Write to PATH (repeatable); the format follows the extension (.prof, .folded, .svg,
    /// .pb.gz or .pprof for pprof, .speedscope.json, .json for scripts). `-` is standard
    /// output (folded unless --format). A PATH that exists must be a regular file (it is
    /// replaced by a rename); the same output given twice is refused.
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub outputs: Vec<PathBuf>,
    /// Format for -o paths whose extension names none, and for `-o -`.
    #[arg(long, value_enum, value_name = "F")]
    pub format: Option<FormatArg>,
    /// Name root frames `comm [pid]` instead of `comm` (`comm [pid ns:N]` for a process that is
    /// N in its own pid namespace, as in a container).
    #[arg(long)]
    pub pid_in_name: bool,
}

impl OutputArgs {
    /// Rendering options.
    pub fn render(&self) -> RenderOptions {
        RenderOptions { pid_in_name: self.pid_in_name, group_by: None }
    }
}

/// `prof record` arguments.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("pushing").args(["push", "push_otlp"]).multiple(true)))]
pub struct RecordArgs {
    /// Samples per second on each CPU. Above kernel.perf_event_max_sample_rate, prof samples at
    /// that limit with a warning (and records the rate it used), unless --strict-freq.
    #[arg(short = 'F', long = "frequency", default_value_t = 99, value_name = "HZ", value_parser = parse_frequency)]
    pub frequency: u64,
    /// Refuse a -F above kernel.perf_event_max_sample_rate instead of sampling at the limit.
    #[arg(long)]
    pub strict_freq: bool,
    /// Record on a kernel older than 5.8, the oldest prof supports (with a warning; loading
    /// or sampling may fail there).
    #[arg(long)]
    pub no_kernel_version_check: bool,
    /// Stop after DURATION (`10`, `10s`, `2m`, `500ms`); default: until Ctrl-C or COMMAND exits.
    #[arg(short = 'd', long = "duration", value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Option<Duration>,
    /// Profile only these processes (comma-separated or repeated), all their threads.
    #[arg(short = 'p', long = "pid", value_delimiter = ',', value_name = "PID", value_parser = parse_pid)]
    pub pids: Vec<u32>,
    /// Sample only tasks in this cgroup (v2) or the cgroups below it (repeatable): a path
    /// under the cgroup2 mount (`/sys/fs/cgroup/system.slice/nginx.service`) or relative to it
    /// (`system.slice/nginx.service`). The kernel drops other tasks' samples before taking
    /// any stack.
    #[arg(long = "cgroup", value_name = "PATH")]
    pub cgroups: Vec<String>,
    /// Record kernel stacks only.
    #[arg(long, conflicts_with = "user_only")]
    pub kernel_only: bool,
    /// Record user stacks only.
    #[arg(long)]
    pub user_only: bool,
    /// Drop samples of the idle task (swapper).
    #[arg(long)]
    pub no_idle: bool,
    /// New unique stacks the kernel can hold between two drains (see --drain-interval);
    /// 0 sizes it from CPUs × frequency (at least 2048).
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = parse_map_size)]
    pub stack_map_size: u32,
    /// Unique (process, stack, comm) counts the kernel can hold between two drains;
    /// 0 sizes it from CPUs × frequency (at least 2048).
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = parse_map_size)]
    pub counts_map_size: u32,
    /// How user stacks are walked: `auto` uses the unwind tables (.eh_frame/.debug_frame) of
    /// each binary in the kernel and frame pointers where there are none; `fp` frame pointers
    /// only (the kernel's walker, cheapest); `dwarf` tables only.
    #[arg(long, value_enum, value_name = "MODE")]
    pub unwind: Option<UnwindArg>,
    /// Python frames: `auto` finds CPython 3.10 to 3.13 (a `python3.X` executable or
    /// `libpython3.X.so`) in the processes sampled and records the Python functions each
    /// thread runs; `off` records native frames only.
    #[arg(long, value_enum, default_value = "auto", value_name = "MODE")]
    pub python: PythonArg,
    /// perf's `-g`: accepted; prof always records call graphs (kernel and user stacks).
    #[arg(short = 'g')]
    pub call_graph_flag: bool,
    /// perf's `--call-graph fp|dwarf[,SIZE]|lbr`: `fp` is `--unwind fp`; `dwarf` is
    /// `--unwind auto` (prof unwinds with the DWARF tables in the kernel, no stack copies);
    /// `lbr` is not used (`--unwind auto`, with a note).
    #[arg(long = "call-graph", value_parser = parse_call_graph, value_name = "MODE", conflicts_with = "unwind")]
    pub call_graph: Option<CallGraphArg>,
    /// perf's `-a` (all CPUs, the whole system): what prof records without `-p` or a command;
    /// with a command, the whole system while the command runs (`prof record -a -- sleep 10`),
    /// as perf does.
    #[arg(short = 'a', long = "all-cpus", conflicts_with = "pids")]
    pub all_cpus: bool,
    /// The sampling event: `cycles` (hardware; where there is no PMU, as in most VMs, prof
    /// says so and uses cpu-clock) or `cpu-clock` (the kernel's timer). Default: cycles.
    #[arg(short = 'e', long = "event", value_parser = parse_event, value_name = "EVENT")]
    pub event: Option<prof::profile::EventKind>,
    /// How often counts and stacks are read out of the kernel (10ms to 1s): more often keeps
    /// the maps smaller under many unique stacks, at a little more CPU.
    #[arg(long, default_value = "1s", value_parser = parse_drain_interval, value_name = "DURATION")]
    pub drain_interval: Duration,
    /// Most unwind-table rows the kernel holds for all binaries together (8 bytes each, in
    /// 512 KiB chunks made as tables are loaded); 0: 2^23 (64 MiB at most; clang needs ~20).
    /// Rounded up to a multiple of 65,536, at most 2^25.
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = parse_unwind_rows)]
    pub unwind_rows: u32,
    /// Size of the ring buffer that carries process notifications (exec, exit, first sample)
    /// to prof: a power of two from 4KiB to 1GiB; default 256KiB. Raise it when the summary
    /// warns that notifications were lost.
    #[arg(long, value_parser = parse_events_buffer_size, value_name = "SIZE")]
    pub events_buffer_size: Option<u32>,
    /// Print more detail (symbolization counters, notes, the per-binary unwind report).
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Record off-CPU time instead of on-CPU samples: the stacks threads leave the CPU with
    /// (on the scheduler's sched_switch tracepoint), weighted by the nanoseconds until they
    /// run again, under `[off-cpu: sleeping|uninterruptible|preempted|other]` (docs/off-cpu.md).
    #[arg(long, conflicts_with_all = ["event", "frequency"])]
    pub off_cpu: bool,
    /// Record wall-clock time: on-CPU samples (cpu-clock, each weighted by the sampling period)
    /// and off-CPU time together, so that each thread's total is its wall time; stacks under
    /// `[on-cpu]` or `[off-cpu: …]` (docs/off-cpu.md).
    #[arg(long, conflicts_with_all = ["event", "off_cpu"])]
    pub wall: bool,
    /// With --off-cpu or --wall: blocks shorter than this are not counted (only counted as
    /// skipped).
    #[arg(long, default_value = "1us", value_parser = parse_min_block, value_name = "DURATION")]
    pub min_block: Duration,
    /// With --off-cpu or --wall: switch-outs each CPU records per second at most (0: no
    /// limit); the others are counted as skipped. Bounds prof's overhead on a machine switching
    /// very often.
    #[arg(long, default_value_t = prof::sample::DEFAULT_OFF_CPU_BUDGET, value_name = "N")]
    pub off_cpu_budget: u32,
    /// Run until stopped, writing one archive per --interval into --dir.
    #[arg(long, requires = "dir", conflicts_with = "outputs")]
    pub continuous: bool,
    /// Archive directory of --continuous (created 0700; an existing one writable by others is made
    /// 0700, one owned by another user is refused).
    #[arg(long, value_name = "DIR", requires = "continuous")]
    pub dir: Option<PathBuf>,
    /// Length of each archive's interval (whole seconds, at least 1s).
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub interval: Duration,
    /// Keep at most this much archive data (`500MiB`, `1GiB`); oldest archives are deleted first.
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    pub retain_size: Option<u64>,
    /// Delete archives older than this (`7d`, `12h`).
    #[arg(long, value_parser = parse_duration, value_name = "AGE")]
    pub retain_age: Option<Duration>,
    /// With --continuous: send each interval's profile (pprof) to a Pyroscope-compatible store,
    /// e.g. http://pyroscope:4040 (docs/push.md). Failed pushes are retried from the archives.
    #[arg(long, value_name = "URL", requires = "continuous", value_parser = PushUrlParser(Protocol::Pyroscope))]
    pub push: Option<Endpoint>,
    /// With --continuous: send each interval as an OTLP profiles export (protobuf over HTTP) to
    /// an OpenTelemetry collector, e.g. http://otel-collector:4318; prof posts to
    /// URL/v1development/profiles (docs/push.md). May be given with --push.
    #[arg(long, value_name = "URL", requires = "continuous", value_parser = PushUrlParser(Protocol::Otlp))]
    pub push_otlp: Option<Endpoint>,
    /// Application name of pushed profiles (Pyroscope's service_name); default: the command's
    /// or the first process's name, or `prof` for the whole system.
    #[arg(long, value_name = "NAME", requires = "pushing", value_parser = parse_app_name)]
    pub app_name: Option<String>,
    /// A label of pushed profiles, NAME=VALUE (repeatable): --label env=prod --label region=eu.
    /// The value may take each sample's {container}, {unit}, {cgroup}, {comm} or {pod}
    /// ({container|host}: `host` where there is none; default `unknown`): each interval is then
    /// pushed once per label set, e.g. --label service_name={container} (docs/push.md).
    #[arg(long = "label", value_name = "NAME=VALUE", requires = "pushing", value_parser = prof::push::parse_label)]
    pub labels: Vec<(String, String)>,
    /// On exit, keep pushing queued intervals this long at most (`0` to not wait); what is
    /// left stays in --dir and is reported.
    #[arg(long, default_value = "5s", value_parser = parse_grace, value_name = "DURATION")]
    pub push_timeout: Duration,
    /// Keep COMMAND's whole command line as the profile's target (in archives, summaries and
    /// SVG titles); by default only the program and the number of arguments are kept
    /// (`python3 (+2 args)`), since arguments can hold secrets.
    #[arg(long)]
    pub record_cmdline: bool,
    /// Outputs.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Command to run and profile, with the processes it forks (after `--`, or simply last:
    /// `prof record -o x.svg make -j4`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

impl RecordArgs {
    /// One line for each perf option given that prof takes differently: what it does instead.
    pub fn perf_option_notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.call_graph_flag && self.unwind.is_none() && self.call_graph.is_none() {
            notes.push("-g: prof always records call graphs (user stacks walked with --unwind auto)".to_string());
        }
        match self.call_graph {
            Some(CallGraphArg::Dwarf) => notes.push(
                "--call-graph dwarf: prof unwinds with each binary's DWARF tables in the kernel \
                 (--unwind auto), without copying stacks"
                    .to_string(),
            ),
            Some(CallGraphArg::Lbr) => notes
                .push("--call-graph lbr: prof does not use LBR; user stacks are walked with --unwind auto".to_string()),
            _ => {}
        }
        notes
    }

    /// The library's record options.
    pub fn options(&self) -> RecordOptions {
        let targets = targets_of(&self.pids);
        RecordOptions {
            sampler: SamplerOptions {
                frequency_hz: self.frequency,
                event: self.event,
                targets,
                cgroups: Vec::new(),
                kernel_stacks: !self.user_only,
                user_stacks: !self.kernel_only,
                skip_idle: self.no_idle,
                stack_map_size: self.stack_map_size,
                counts_map_size: self.counts_map_size,
                unwind: self.unwind.or(self.call_graph.map(CallGraphArg::unwind)).unwrap_or(UnwindArg::Auto).into(),
                unwind_rows: self.unwind_rows,
                events_buffer_size: self.events_buffer_size.unwrap_or(0),
                kernel_version_check: !self.no_kernel_version_check,
                off_cpu: (self.off_cpu || self.wall).then(|| prof::sample::OffCpuOptions {
                    min_block_ns: u64::try_from(self.min_block.as_nanos()).unwrap_or(u64::MAX),
                    budget_per_cpu: self.off_cpu_budget,
                    wall: self.wall,
                }),
                python: self.python != PythonArg::Off,
            },
            duration: self.duration,
            command: (!self.command.is_empty()).then(|| self.command.clone()),
            whole_system: self.all_cpus,
            record_cmdline: self.record_cmdline,
            drain_interval: Some(self.drain_interval),
            continuous: self.dir.clone().filter(|_| self.continuous).map(|dir| ContinuousOptions {
                dir,
                interval: self.interval,
                retention: Retention { max_bytes: self.retain_size, max_age: self.retain_age },
                push: [(Protocol::Pyroscope, &self.push), (Protocol::Otlp, &self.push_otlp)]
                    .into_iter()
                    .filter_map(|(protocol, endpoint)| {
                        Some(PushConfig {
                            protocol,
                            endpoint: endpoint.clone()?,
                            app_name: self.app_name.clone(),
                            labels: self.labels.clone(),
                            options: PushOptions { grace: self.push_timeout, ..PushOptions::default() },
                        })
                    })
                    .collect(),
            }),
        }
    }
}

/// `--comm`, `--pid` and `--weights` of `prof report` and `prof diff`: how inputs are read and
/// which samples are kept.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Keep only samples whose comm (the thread's name, as perf's comm) is NAME or matches REGEX
    /// as a whole (`python.*`); comma-separated or repeated. Applied before every output.
    #[arg(long = "comm", value_delimiter = ',', value_name = "NAME|REGEX")]
    pub comms: Vec<String>,
    /// Keep only samples of these process ids (comma-separated or repeated); needs pids in the
    /// input (an archive, prof's pprof, or folded written with --pid-in-name).
    #[arg(long = "pid", value_delimiter = ',', value_name = "PID")]
    pub pids: Vec<u32>,
    /// Keep only samples of these thread ids (comma-separated or repeated); needs thread ids in
    /// the input (an archive or prof's pprof recorded by a prof that samples per thread).
    #[arg(long = "tid", value_delimiter = ',', value_name = "TID")]
    pub tids: Vec<u32>,
    /// Keep only samples of this cgroup (v2 path, `/system.slice/nginx.service`), the cgroups
    /// below it, or the paths a whole-path regular expression matches (repeatable).
    #[arg(long = "cgroup", value_name = "PATTERN")]
    pub cgroups: Vec<String>,
    /// Keep only samples of the container whose id starts with ID (`0123abcd` or
    /// `docker:0123abcd`; repeatable).
    #[arg(long = "container", value_name = "ID")]
    pub containers: Vec<String>,
    /// Leave out the idle task's samples (swapper, pid 0), as `prof record --no-idle` does: a
    /// system-wide profile of a quiet machine is mostly idle.
    #[arg(long)]
    pub no_idle: bool,
    /// What the weights of folded input are: `samples` (counts) or `ns` (nanoseconds of CPU
    /// time, as inferno-collapse-perf writes for perf's cpu-clock). Default: detected (ns when
    /// every weight is a multiple of one number ≥ 1000).
    #[arg(long, value_enum, value_name = "UNIT")]
    pub weights: Option<WeightsArg>,
}

impl InputArgs {
    /// The library's filter.
    pub fn filter(&self) -> Result<prof::profile::SampleFilter, prof::profile::FilterError> {
        Ok(prof::profile::SampleFilter::new(&self.comms, &self.pids)?
            .with_threads(&self.tids)
            .with_cgroups(&self.cgroups, &self.containers)?
            .without_idle(self.no_idle))
    }

    /// How inputs are loaded.
    pub fn load_options(&self, lenient: bool) -> prof::input::LoadOptions {
        let weights = self.weights.map(|w| match w {
            WeightsArg::Samples => prof::profile::WeightUnit::Samples,
            WeightsArg::Ns => prof::profile::WeightUnit::Nanoseconds,
        });
        prof::input::LoadOptions { lenient, weights }
    }
}

/// `--weights` units.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum WeightsArg {
    /// Sample counts.
    Samples,
    /// Nanoseconds of CPU time.
    Ns,
}

/// `prof report` arguments.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// An archive (.prof), a pprof profile (.pb.gz, .pprof) or a folded file (`-` reads stdin).
    #[arg(value_name = "INPUT")]
    pub input: PathBuf,
    /// Rows of the top table printed when no -o is given.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub top: usize,
    /// Skip malformed lines of folded input (with one warning) instead of failing.
    #[arg(long)]
    pub lenient: bool,
    /// INPUT is an archive directory: list its intervals with samples and losses.
    #[arg(long)]
    pub list: bool,
    /// Print the per-binary unwind report: samples, stacks unwound completely, where and why
    /// the others stopped, and each binary's unwind table; then the processes that ran Python
    /// and the share of their samples with Python frames.
    #[arg(long)]
    pub unwind_report: bool,
    /// INPUT is an archive directory: merge archives from this time (RFC 3339, `-1h`, `now`).
    #[arg(long, value_parser = parse_time, value_name = "T", allow_hyphen_values = true)]
    pub from: Option<std::time::SystemTime>,
    /// INPUT is an archive directory: merge archives up to this time (default: now).
    #[arg(long, value_parser = parse_time, value_name = "T", allow_hyphen_values = true)]
    pub to: Option<std::time::SystemTime>,
    /// Order of the table's rows: most self samples, most total samples, or by name.
    #[arg(long, value_enum, default_value = "self", value_name = "KEY")]
    pub sort: SortArg,
    /// Rows per comm, pid or module (of the innermost frame: self; anywhere on the stack:
    /// total) instead of per function, like perf report --sort comm|pid|dso; or per cgroup,
    /// container or systemd unit (folded, SVG and speedscope outputs then group by it too).
    #[arg(long, value_enum, value_name = "KEY")]
    pub by: Option<ByArg>,
    /// In JSON output, also list the frames and every stack with its count.
    #[arg(long)]
    pub json_stacks: bool,
    /// Samples kept, and the unit of folded weights.
    #[command(flatten)]
    pub input_args: InputArgs,
    /// Outputs. Without -o, --format F writes F to standard output instead of printing the
    /// table (`--format json` for scripts).
    #[command(flatten)]
    pub output: OutputArgs,
}

impl ReportArgs {
    /// What the JSON report holds.
    pub fn json(&self) -> prof::output::json::JsonOptions {
        prof::output::json::JsonOptions { table: self.table(), stacks: self.json_stacks }
    }

    /// The table printed (and written in JSON).
    pub fn table(&self) -> TableOptions {
        TableOptions {
            rows: self.top,
            sort: match self.sort {
                SortArg::SelfSamples => TopSort::SelfSamples,
                SortArg::Total => TopSort::Total,
                SortArg::Name => TopSort::Name,
            },
            by: match self.by {
                None => TopBy::Function,
                Some(ByArg::Comm) => TopBy::Comm,
                Some(ByArg::Pid) => TopBy::Pid,
                Some(ByArg::Tid) => TopBy::Tid,
                Some(ByArg::Module) => TopBy::Module,
                Some(by @ (ByArg::Cgroup | ByArg::Container | ByArg::Unit)) => {
                    TopBy::Cgroup(by.cgroup_grouping().unwrap_or(CgroupGrouping::Cgroup))
                }
            },
        }
    }
}

/// `--sort` keys.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SortArg {
    /// Most self samples first.
    #[value(name = "self")]
    SelfSamples,
    /// Most total samples first.
    Total,
    /// Alphabetical.
    Name,
}

/// `--by` keys.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ByArg {
    /// Thread name (comm).
    Comm,
    /// Process id.
    Pid,
    /// Thread id (archives and pprof of a prof that samples per thread).
    Tid,
    /// Binary of the code.
    Module,
    /// Cgroup (v2) path (archives and pprof of a prof that records cgroups).
    Cgroup,
    /// Container (docker, containerd, cri-o, podman), from the cgroup path.
    Container,
    /// systemd unit (service or scope), from the cgroup path.
    Unit,
}

impl ByArg {
    /// The cgroup grouping of `--by cgroup|container|unit` (outputs group by it too).
    pub fn cgroup_grouping(self) -> Option<CgroupGrouping> {
        match self {
            ByArg::Cgroup => Some(CgroupGrouping::Cgroup),
            ByArg::Container => Some(CgroupGrouping::Container),
            ByArg::Unit => Some(CgroupGrouping::Unit),
            _ => None,
        }
    }
}

/// Parses an RFC 3339 time (`2026-11-25T14:05:00Z`, `2026-11-25 14:05:00`), `now`, or a time
/// relative to now (`-1h`, `-30m`, `-10s`).
pub fn parse_time(s: &str) -> Result<std::time::SystemTime, String> {
    let t = s.trim();
    let now = std::time::SystemTime::now();
    if t == "now" {
        return Ok(now);
    }
    if let Some(rel) = t.strip_prefix('-') {
        let d = humantime::parse_duration(rel).map_err(|e| format!("`{s}`: {e} (expected e.g. -1h, -30m)"))?;
        return now.checked_sub(d).ok_or_else(|| format!("`{s}`: before the epoch"));
    }
    humantime::parse_rfc3339_weak(t)
        .or_else(|_| humantime::parse_rfc3339(t))
        .map_err(|e| format!("`{s}`: {e} (expected RFC 3339 like 2026-11-25T14:05:00Z, `now`, or -1h)"))
}

/// `prof diff` arguments.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The baseline: an archive (.prof), a pprof profile (.pb.gz) or a folded file.
    #[arg(value_name = "BASE")]
    pub base: PathBuf,
    /// The profile to compare with it.
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// Write to PATH (repeatable): .svg, .folded or .json; `-` is standard output (folded
    /// unless --format).
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub outputs: Vec<PathBuf>,
    /// Format of `-o -` and of -o paths whose extension names none; without -o, --format json
    /// prints the JSON (docs/json-format.md) instead of the table.
    #[arg(long, value_enum, value_name = "F")]
    pub format: Option<DiffFormatArg>,
    /// Rows of the printed table.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub top: usize,
    /// Compare raw counts: refuse profiles of different event or frequency, draw unscaled.
    #[arg(long)]
    pub no_normalize: bool,
    /// Draw BASE's shape in the flamegraph, so frames that vanished are visible.
    #[arg(long)]
    pub negate: bool,
    /// Exit with status 3 when a function's total share grew by more than PCT points, significantly.
    #[arg(long, value_name = "PCT")]
    pub fail_on: Option<f64>,
    /// Skip malformed lines of folded inputs (with one warning) instead of failing.
    #[arg(long)]
    pub lenient: bool,
    /// Match functions by exact name (keep Rust hashes and .isra/.constprop/.cold suffixes).
    #[arg(long)]
    pub exact_names: bool,
    /// BASE is an archive directory: its range starts here (RFC 3339, `-2h`, `now`).
    #[arg(long, value_parser = parse_time, value_name = "T", allow_hyphen_values = true)]
    pub base_from: Option<std::time::SystemTime>,
    /// BASE is an archive directory: its range ends here (default: now).
    #[arg(long, value_parser = parse_time, value_name = "T", allow_hyphen_values = true)]
    pub base_to: Option<std::time::SystemTime>,
    /// NEW is an archive directory: its range starts here.
    #[arg(long, value_parser = parse_time, value_name = "T", allow_hyphen_values = true)]
    pub new_from: Option<std::time::SystemTime>,
    /// NEW is an archive directory: its range ends here (default: now).
    #[arg(long, value_parser = parse_time, value_name = "T", allow_hyphen_values = true)]
    pub new_to: Option<std::time::SystemTime>,
    /// False discovery rate: a change is significant when its Benjamini-Hochberg q ≤ ALPHA.
    #[arg(long, default_value_t = prof::diff::DEFAULT_ALPHA, value_name = "ALPHA",
          value_parser = parse_alpha)]
    pub alpha: f64,
    /// Samples kept in both profiles, and the unit of folded weights.
    #[command(flatten)]
    pub input_args: InputArgs,
}

/// `prof diff --format` names.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DiffFormatArg {
    /// The change table as JSON (docs/json-format.md).
    Json,
    /// Two-column folded stacks (`stack base new`).
    Folded,
    /// Differential flame graph.
    Svg,
}

impl From<DiffFormatArg> for Format {
    fn from(f: DiffFormatArg) -> Format {
        match f {
            DiffFormatArg::Json => Format::Json,
            DiffFormatArg::Folded => Format::Folded,
            DiffFormatArg::Svg => Format::Svg,
        }
    }
}

/// Parses `--push`; unlike clap's default error, the message never repeats the URL as typed,
/// which may hold credentials.
#[derive(Clone, Copy, Debug)]
struct PushUrlParser(Protocol);

impl clap::builder::TypedValueParser for PushUrlParser {
    type Value = Endpoint;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Endpoint, clap::Error> {
        let fail = |msg: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid {} URL: {msg}\n", self.0.option()),
            )
            .with_cmd(cmd)
        };
        let url = value.to_str().ok_or_else(|| fail("the URL is not UTF-8".into()))?;
        Endpoint::parse_for(self.0, url).map_err(fail)
    }
}

fn parse_app_name(s: &str) -> Result<String, String> {
    prof::push::validate_app_name(s).map(|()| s.to_string())
}

/// Parses a duration like [`parse_duration`], or `0`.
fn parse_grace(s: &str) -> Result<Duration, String> {
    match s.trim() {
        "0" | "0s" => Ok(Duration::ZERO),
        _ => parse_duration(s),
    }
}

/// Parses a drain interval: a duration from 10ms to 1s.
fn parse_drain_interval(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if !(Duration::from_millis(10)..=Duration::from_secs(1)).contains(&d) {
        return Err(format!("`{s}`: expected a drain interval from 10ms to 1s"));
    }
    Ok(d)
}

/// Parses a ring buffer size: a power of two from [`MIN_EVENTS_BUFFER`] to 1 GiB (`64KiB`).
fn parse_events_buffer_size(s: &str) -> Result<u32, String> {
    let n = parse_size(s)?;
    match u32::try_from(n) {
        Ok(n) if n.is_power_of_two() && (MIN_EVENTS_BUFFER..=1 << 30).contains(&n) => Ok(n),
        _ => Err(format!("`{s}`: expected a power of two from 4KiB to 1GiB, e.g. 1MiB")),
    }
}

fn parse_alpha(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(a) if a > 0.0 && a < 1.0 => Ok(a),
        _ => Err(format!("`{s}`: expected a number between 0 and 1, e.g. 0.01")),
    }
}

/// The longest duration accepted, in days (about 2,700 years): beyond any recording, interval
/// or retention (so `--retain-age 1000000d` keeps everything), and far from where adding it to a
/// clock reading would overflow.
const MAX_DURATION_DAYS: u64 = 1_000_000;

/// perf's `--call-graph` modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallGraphArg {
    /// `fp`: frame pointers.
    Fp,
    /// `dwarf[,SIZE]`: DWARF unwinding.
    Dwarf,
    /// `lbr`: last branch records.
    Lbr,
}

impl CallGraphArg {
    /// prof's unwind mode for it.
    fn unwind(self) -> UnwindArg {
        match self {
            CallGraphArg::Fp => UnwindArg::Fp,
            CallGraphArg::Dwarf | CallGraphArg::Lbr => UnwindArg::Auto,
        }
    }
}

/// perf's `--call-graph fp|dwarf[,SIZE]|lbr` (the stack dump size is not needed: prof copies
/// no stacks).
pub fn parse_call_graph(s: &str) -> Result<CallGraphArg, String> {
    let (mode, size) = s.split_once(',').map_or((s, None), |(m, n)| (m, Some(n)));
    if size.is_some_and(|n| n.parse::<u32>().is_err()) {
        return Err(format!("`{s}`: the stack dump size after the comma must be a number of bytes"));
    }
    match (mode, size) {
        ("fp", None) => Ok(CallGraphArg::Fp),
        ("dwarf", _) => Ok(CallGraphArg::Dwarf),
        ("lbr", None) => Ok(CallGraphArg::Lbr),
        _ => Err(format!("`{s}`: expected fp, dwarf[,SIZE] or lbr (or use --unwind auto|fp|dwarf)")),
    }
}

/// perf's `-e`: the events prof samples with.
pub fn parse_event(s: &str) -> Result<prof::profile::EventKind, String> {
    match s {
        "cycles" | "cpu-cycles" => Ok(prof::profile::EventKind::Cycles),
        "cpu-clock" => Ok(prof::profile::EventKind::CpuClock),
        _ => Err(format!(
            "`{s}`: prof samples with `cycles` or `cpu-clock`; other perf events (tracepoints, cache \
             misses, …) are not sampled"
        )),
    }
}

/// The highest `-F` accepted: the kernel's ceiling. `kernel.perf_event_max_sample_rate` is a C
/// `int` that the kernel keeps at 1 or more, and it refuses a perf event sampling faster, so no
/// machine samples above `i32::MAX` Hz; below it, a rate above the sysctl's current value is
/// lowered to it (or refused with --strict-freq) once the kernel is read.
pub const MAX_FREQUENCY_HZ: u64 = i32::MAX as u64;

/// Parses `-F`: whole samples per second from 1 to [`MAX_FREQUENCY_HZ`], the range said in
/// words, with this machine's current limit when it can be read.
pub fn parse_frequency(s: &str) -> Result<u64, String> {
    frequency_in_range(s, prof::sample::perf_events::max_sample_rate())
}

/// [`parse_frequency`] with the machine's limit (`kernel.perf_event_max_sample_rate`) given.
fn frequency_in_range(s: &str, machine_max: Option<u64>) -> Result<u64, String> {
    whole_number(s, 1..=MAX_FREQUENCY_HZ).ok_or_else(|| {
        let here = machine_max.map_or(String::new(), |max| {
            format!("; this machine samples at most {max} Hz (kernel.perf_event_max_sample_rate)")
        });
        format!("the frequency must be a whole number of samples per second between 1 and {MAX_FREQUENCY_HZ} Hz{here}")
    })
}

/// Parses `-p`'s process ids: 1 to the largest PID a kernel gives.
fn parse_pid(s: &str) -> Result<u32, String> {
    let max = prof::process::PID_MAX_LIMIT - 1;
    whole_number(s, 1..=u64::from(max))
        .map(|pid| pid as u32)
        .ok_or_else(|| format!("a process id is a whole number between 1 and {max} (the kernel's largest)"))
}

/// Parses `--stack-map-size` and `--counts-map-size`: 0 (sized automatically) or entries.
fn parse_map_size(s: &str) -> Result<u32, String> {
    whole_number(s, 0..=u64::from(u32::MAX)).map(|n| n as u32).ok_or_else(|| {
        format!(
            "the map size must be a whole number of entries between 0 (sized from CPUs × frequency) and {}",
            u32::MAX
        )
    })
}

/// Parses `--unwind-rows`: 0 (the default ceiling) up to the most rows the kernel's walker
/// can address.
fn parse_unwind_rows(s: &str) -> Result<u32, String> {
    use prof::sample::{row_chunks::MAX_ROWS, DEFAULT_UNWIND_ROWS};
    whole_number(s, 0..=u64::from(MAX_ROWS)).map(|n| n as u32).ok_or_else(|| {
        format!(
            "the unwind-table rows must be a whole number between 0 (the default, {DEFAULT_UNWIND_ROWS}) and \
             {MAX_ROWS}, the most the kernel's walker can address"
        )
    })
}

/// `s` as a whole number within `range`, or `None` (not a number, negative, or outside).
fn whole_number(s: &str, range: std::ops::RangeInclusive<u64>) -> Option<u64> {
    s.trim().parse::<u64>().ok().filter(|n| range.contains(n))
}

/// `--min-block`: a duration such as `10us`, `1ms` or `0` (count every block), at most 1 s.
fn parse_min_block(s: &str) -> Result<Duration, String> {
    let d = match s.trim() {
        "0" => Duration::ZERO,
        t => humantime::parse_duration(t).map_err(|e| format!("`{s}`: {e} (expected e.g. 0, 10us, 1ms)"))?,
    };
    if d > Duration::from_secs(1) {
        return Err(format!("`{s}`: at most 1s"));
    }
    Ok(d)
}

/// Parses `10` (seconds), `10s`, `2m`, `1h`, `500ms`, at most [`MAX_DURATION_DAYS`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let max = Duration::from_secs(MAX_DURATION_DAYS * 86_400);
    let too_large = || format!("`{s}`: duration too large; at most {MAX_DURATION_DAYS}d (about 2700 years)");
    let d = if let Ok(secs) = s.parse::<f64>() {
        if !(secs.is_finite() && secs > 0.0) {
            return Err(format!("`{s}`: expected a positive duration"));
        }
        Duration::try_from_secs_f64(secs).map_err(|_| too_large())?
    } else {
        match humantime::parse_duration(s) {
            Ok(d) => d,
            Err(humantime::DurationError::NumberOverflow) => return Err(too_large()),
            Err(e) => return Err(format!("`{s}`: {e} (expected e.g. 10, 10s, 2m, 500ms)")),
        }
    };
    if d.is_zero() {
        return Err(format!("`{s}`: expected a positive duration"));
    }
    if d > max {
        return Err(too_large());
    }
    Ok(d)
}

/// Parses `1GiB`, `500MiB`, `2G` (binary units), `1GB` (decimal units) or plain bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("`{s}`: expected a size such as 500MiB or 1GiB"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tib" => 1024f64.powi(4),
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        _ => return Err(format!("`{s}`: unknown size unit `{unit}` (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)")),
    };
    let bytes = n * mult;
    if !bytes.is_finite() || bytes < 1.0 {
        return Err(format!("`{s}`: expected a positive size"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `-F` takes 1 to i32::MAX Hz; outside, the message says the range in words (no
    /// 18446744073709551615) and, when known, the machine's current limit.
    #[test]
    fn cli_frequency_range_in_words() {
        assert_eq!(frequency_in_range("1", None), Ok(1));
        assert_eq!(frequency_in_range("2147483647", Some(100_000)), Ok(2_147_483_647));
        let words = "the frequency must be a whole number of samples per second between 1 and 2147483647 Hz";
        assert_eq!(frequency_in_range("0", None).unwrap_err(), words);
        assert_eq!(
            frequency_in_range("2147483648", Some(100_000)).unwrap_err(),
            format!("{words}; this machine samples at most 100000 Hz (kernel.perf_event_max_sample_rate)")
        );
        for bad in ["-1", "1.5", "x", "18446744073709551616"] {
            assert_eq!(frequency_in_range(bad, None).unwrap_err(), words, "{bad}");
        }
    }

    /// PIDs, map sizes and unwind rows: their ranges in words, their bounds accepted.
    #[test]
    fn cli_numeric_ranges_in_words() {
        assert_eq!(parse_pid("1"), Ok(1));
        assert_eq!(parse_pid("4194303"), Ok(4_194_303));
        for bad in ["0", "-3", "4194304", "x"] {
            assert_eq!(
                parse_pid(bad).unwrap_err(),
                "a process id is a whole number between 1 and 4194303 (the kernel's largest)"
            );
        }
        assert_eq!((parse_map_size("0"), parse_map_size("4294967295")), (Ok(0), Ok(u32::MAX)));
        assert_eq!(
            parse_map_size("4294967296").unwrap_err(),
            "the map size must be a whole number of entries between 0 (sized from CPUs × frequency) and 4294967295"
        );
        assert_eq!((parse_unwind_rows("0"), parse_unwind_rows("33554432")), (Ok(0), Ok(1 << 25)));
        assert_eq!(
            parse_unwind_rows("33554433").unwrap_err(),
            "the unwind-table rows must be a whole number between 0 (the default, 8388608) and 33554432, the most \
             the kernel's walker can address"
        );
    }
}
