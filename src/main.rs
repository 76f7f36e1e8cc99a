//! The `prof` binary: parses the command line and runs the library. Exit status: 0 success,
//! 1 runtime error, 2 usage error. What it prints to the terminal that names files, processes
//! or functions goes through [`esc`] (one line) or [`esc_lines`], the output stage's one
//! sanitizer of control characters.

mod cli;
mod console;
mod top_draw;
mod top_feed;
mod top_view;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Parser;

use cli::{ByArg, Cli, Command, CompletionsArgs, DiffArgs, ManArgs, RecordArgs, ReportArgs, ServeArgs, TopArgs};
use prof::diff::render::{DiffDocument, DiffSvgOptions};
use prof::output::flamegraph::{self, SvgOptions};
use prof::output::text::{escape_controls as esc, escape_controls_in_lines as esc_lines};
use prof::output::{top, write_output, Format, OutputSpec, ProfileDocument, RenderOptions};
use prof::profile::{format_unix_ns, unix_ns};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Record(args) => run_record(args),
        Command::Report(args) => run_report(args).map(|()| ExitCode::SUCCESS),
        Command::Diff(args) => run_diff(args),
        Command::Top(args) => run_top(args).map(|()| ExitCode::SUCCESS),
        Command::Serve(args) => run_serve(args).map(|()| ExitCode::SUCCESS),
        Command::Completions(args) => run_completions(args).map(|()| ExitCode::SUCCESS),
        Command::Man(args) => run_man(args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // Each cause once: an error whose message already includes its source is not
            // followed by the source again (anyhow's `{:#}` would print it twice).
            eprintln!("prof: error: {}", esc_lines(&prof::error_text::error_chain(e.as_ref())));
            ExitCode::from(1)
        }
    }
}

fn output_specs(paths: &[PathBuf], format: Option<cli::FormatArg>) -> Result<Vec<OutputSpec>> {
    Ok(prof::output::write::output_specs::<ProfileDocument>(paths, format.map(Format::from))?)
}

/// A flag the first SIGINT or SIGTERM sets; later ones are absorbed, so that what the flag
/// stops (a recording's flush, the server) completes.
fn stop_on_signals() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("failed to install signal handlers")?;
    }
    Ok(stop)
}

/// `prof-YYYYMMDD-HHMMSS.prof` in the current directory.
fn default_archive_path() -> PathBuf {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let stamp: String = now.trim_end_matches('Z').chars().filter(|c| c.is_ascii_digit() || *c == 'T').collect();
    PathBuf::from(format!("prof-{}.prof", stamp.replace('T', "-")))
}

/// prof's exit status after a recording: the command's when its exit ended the recording (a
/// shell's code: 128 + the signal's number when a signal killed it), else success.
fn record_exit_code(recording: &prof::record::Recording) -> ExitCode {
    match recording.ended_by {
        prof::record::EndReason::CommandExited { code, .. } => ExitCode::from(code),
        _ => ExitCode::SUCCESS,
    }
}

/// The cgroups `--cgroup` names, resolved against the cgroup2 mount.
fn selected_cgroups(paths: &[String]) -> Result<Vec<prof::process::cgroup::SelectedCgroup>> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let mount = prof::process::cgroup::cgroup2_mount().ok_or(prof::process::cgroup::CgroupError::NoMount)?;
    Ok(paths.iter().map(|p| prof::process::cgroup::select(p, &mount)).collect::<Result<_, _>>()?)
}

fn run_record(args: RecordArgs) -> Result<ExitCode> {
    if !args.command.is_empty() && !args.pids.is_empty() {
        bail!("give either -p PID or a COMMAND, not both");
    }
    // Validate every output before recording anything.
    let mut specs = output_specs(&args.output.outputs, args.output.format)?;
    let default_output = specs.is_empty() && !args.continuous;
    if default_output {
        specs.push(OutputSpec { path: default_archive_path(), format: Format::Archive });
    }

    let stop = stop_on_signals()?;

    if args.push.is_some() || args.push_otlp.is_some() {
        // Labels are checked one by one by clap; a name given twice is caught here, before
        // anything is recorded.
        if let Err(msg) = prof::push::Series::new("prof", &args.labels) {
            use clap::CommandFactory;
            Cli::command().error(clap::error::ErrorKind::ArgumentConflict, format!("--label: {msg}")).exit();
        }
    }
    let mut console = console::Console { live_status: std::io::stderr().is_terminal(), status_shown: false };
    let mut options = args.options();
    options.sampler.cgroups = selected_cgroups(&args.cgroups)?;
    for note in args.perf_option_notes() {
        eprintln!("prof: note: {}", esc(&note));
    }
    for warning in prof::sample::kernel::fit_to_kernel(&mut options.sampler, args.strict_freq)? {
        eprintln!("prof: warning: {}", esc(&warning));
    }
    let recording = prof::record::record(&options, &stop, &mut console)?;
    if let (Some(c), Some(dir)) = (&recording.continuous, &args.dir) {
        print_continuous_summary(c, dir);
        return Ok(record_exit_code(&recording));
    }

    let profile = &recording.profile;
    let (title, subtitle) = flamegraph::default_title(&profile.meta);
    let svg = SvgOptions { title, subtitle, deterministic: false, no_javascript: false };
    let render = args.output.render();
    let json = prof::output::json::JsonOptions::default();
    let doc = ProfileDocument { profile, render: &render, svg: &svg, json: &json };
    let mut written = Vec::new();
    let mut failures = Vec::new();
    let mut write_times = Vec::new();
    for spec in &specs {
        let t = std::time::Instant::now();
        match write_output(&doc, spec) {
            Ok(()) => written.push(spec.name().into_owned()),
            Err(e) => failures.push(e),
        }
        write_times.push(format!("{} {:.0} ms", spec.name(), t.elapsed().as_secs_f64() * 1e3));
    }
    eprint!("{}", prof::record::summary::summary(&recording, &written, 5));
    if args.verbose {
        print_verbose(&recording, &write_times);
    }
    if default_output {
        println!("{}", specs[0].path.display());
    }
    if let Some(first) = failures.into_iter().next() {
        return Err(first.into());
    }
    Ok(record_exit_code(&recording))
}

/// What a continuous recording wrote and pushed.
fn print_continuous_summary(c: &prof::record::ContinuousSummary, dir: &std::path::Path) {
    eprintln!(
        "prof: wrote {} archives ({} bytes) to `{}`; {} deleted by retention; {} intervals lost",
        c.archives,
        c.bytes,
        esc(&dir.to_string_lossy()),
        c.deleted,
        c.lost_intervals
    );
    for prof::push::PushSummary { endpoint, stats: p } in &c.push {
        eprintln!(
                "prof: pushed {} of {} intervals to `{}`; {} failed attempts retried, {} rejected, {} dropped (queue full), \
                 {} deleted before push, {} unreadable, {} not pushed before exit",
                p.pushed,
                p.queued,
                esc(endpoint),
                p.retries,
                p.rejected,
                p.dropped,
                p.missing,
                p.unreadable,
                p.unsent
            );
        if p.not_pushed() > 0 {
            eprintln!(
                "prof: the intervals not pushed are in `{}` (`prof report DIR --from … -o x.pb.gz` exports a range)",
                esc(&dir.to_string_lossy())
            );
        }
    }
}

/// `-v`: symbolization counters, BPF map sizes and the verifier's work, where the end of the
/// recording went, the unwind report.
fn print_verbose(recording: &prof::record::Recording, write_times: &[String]) {
    let s = &recording.symbolize;
    eprintln!(
        "  symbolized {} addresses, {} left as module+offset ({} without symbols, {} not covered by a symbol, {} in \
         binaries that failed), {} binaries failed",
        s.resolved, s.unresolved, s.missing_symbols, s.unknown_address, s.failed, s.failed_binaries
    );
    let (stacks, counts) = recording.map_sizes;
    eprintln!("  BPF maps: stacks {stacks} entries, counts {counts} entries");
    for p in &recording.verified {
        eprintln!("  BPF program {}: {} instructions processed by the verifier", p.name, p.instructions);
    }
    let e = recording.end_stages;
    eprintln!(
        "  end of recording → outputs: stop and last drain {:.0} ms, symbolize {:.0} ms, write {}",
        e.stop.as_secs_f64() * 1e3,
        e.symbolize.as_secs_f64() * 1e3,
        esc(&write_times.join(", "))
    );
    if !recording.profile.meta.unwind.is_empty() {
        for line in recording.profile.meta.unwind.render(15).lines() {
            eprintln!("  {}", esc(line));
        }
    }
}

/// `--by tid` or `--by pid` on a profile that records no thread or process ids would print one
/// row of id 0 for everything: say what is missing instead.
fn refuse_grouping_without_ids(profile: &prof::profile::Profile, by: Option<ByArg>, input: &Path) -> Result<()> {
    let busy = || profile.samples.iter().filter(|s| !s.is_idle());
    match by {
        Some(ByArg::Tid) if busy().all(|s| s.tid == 0) => bail!(
            "`{}` has no thread ids, so --by tid cannot group samples: prof records them in archives (.prof) \
             and its pprof files since it samples per thread; group by --by pid or --by comm",
            input.display()
        ),
        Some(ByArg::Cgroup | ByArg::Container | ByArg::Unit) if busy().all(|s| s.cgroup.is_none()) => bail!(
            "`{}` has no cgroups, so --by cgroup, container or unit cannot group samples: prof records them \
             in archives (.prof) and its pprof files since it samples cgroups",
            input.display()
        ),
        Some(ByArg::Pid) if busy().all(|s| s.pid == 0) => bail!(
            "`{}` has no process ids, so --by pid cannot group samples: folded stacks carry pids only in \
             `comm [pid]` root frames (prof writes them with --pid-in-name); group by --by comm",
            input.display()
        ),
        _ => Ok(()),
    }
}

fn run_report(args: ReportArgs) -> Result<()> {
    let mut specs = output_specs(&args.output.outputs, args.output.format)?;
    // `--format F` without -o: F on standard output instead of the table.
    let implied_stdout = specs.is_empty() && args.output.format.is_some();
    if implied_stdout {
        specs = output_specs(&[PathBuf::from(prof::output::write::STDOUT)], args.output.format)?;
    }
    let filter = args.input_args.filter()?;
    let is_dir = args.input.is_dir();
    if args.list && !(args.input_args.comms.is_empty() && args.input_args.pids.is_empty()) {
        bail!("--list lists whole intervals: --comm and --pid select samples of a report, not intervals");
    }
    if !is_dir && (args.list || args.from.is_some() || args.to.is_some()) {
        bail!("`{}`: --list, --from and --to need an archive directory", args.input.display());
    }
    if is_dir && args.list {
        let (intervals, warnings) = prof::store::list_dir(&args.input)?;
        for w in warnings {
            eprintln!("prof: warning: {}", esc(&w.to_string()));
        }
        let mut out = std::io::stdout().lock();
        use std::io::Write;
        writeln!(
            out,
            "{:<20}  {:>8}  {:>8}  {:>7}  {:>9}  FILE",
            "START (UTC)", "SECONDS", "SAMPLES", "LOST", "BYTES"
        )?;
        for i in &intervals {
            let start = format_unix_ns(i.meta.start_unix_ns);
            let lost = prof::profile::lost_samples(&i.meta.losses);
            let name = i.path.file_name().map(|n| esc(&n.to_string_lossy()).into_owned()).unwrap_or_default();
            writeln!(
                out,
                "{start:<20}  {:>8.1}  {:>8}  {lost:>7}  {:>9}  {name}",
                i.meta.duration_secs(),
                i.meta.total_samples,
                i.bytes
            )?;
        }
        writeln!(out, "{} intervals", intervals.len())?;
        return Ok(());
    }
    if is_dir {
        refuse_weights_for_dir(&args.input, &args.input_args)?;
    }
    let loaded = if is_dir {
        let (profile, _, _) = load_dir_range(&args.input, args.from, args.to)?;
        prof::input::Loaded { profile, skipped_lines: 0 }
    } else {
        prof::input::load_with(&args.input, &args.input_args.load_options(args.lenient))?
    };
    if loaded.skipped_lines > 0 {
        eprintln!(
            "prof: warning: skipped {} malformed lines of `{}`",
            loaded.skipped_lines,
            esc(&args.input.to_string_lossy())
        );
    }
    let profile = &filter.apply(loaded.profile, &args.input.to_string_lossy())?;
    refuse_grouping_without_ids(profile, args.by, &args.input)?;
    if args.unwind_report {
        let python = prof::profile::python::python_processes(profile);
        if profile.meta.unwind.is_empty() && python.is_empty() {
            bail!(
                "`{}` has no unwind report (folded input, or an archive written before prof recorded one)",
                args.input.display()
            );
        }
        if !profile.meta.unwind.is_empty() {
            print!("{}", esc_lines(&profile.meta.unwind.render(args.top)));
        }
        print!("{}", esc_lines(&prof::profile::python::render_python(&python, args.top)));
        if specs.is_empty() {
            return Ok(());
        }
    }
    if specs.is_empty() {
        let mut out = std::io::stdout().lock();
        top::write_report(profile, &args.table(), &mut out).context("failed to write the table")?;
        return Ok(());
    }
    let (title, subtitle) = flamegraph::default_title(&profile.meta);
    let svg = SvgOptions { title, subtitle, deterministic: false, no_javascript: false };
    let render = RenderOptions { group_by: args.by.and_then(ByArg::cgroup_grouping), ..args.output.render() };
    let json = args.json();
    let doc = ProfileDocument { profile, render: &render, svg: &svg, json: &json };
    for spec in &specs {
        write_output(&doc, spec)?;
        if !implied_stdout {
            eprintln!("prof: wrote {}", esc(&spec.name()));
        }
    }
    Ok(())
}

fn run_diff(args: DiffArgs) -> Result<ExitCode> {
    let format = args.format.map(Format::from);
    let mut specs = prof::output::write::output_specs::<DiffDocument>(&args.outputs, format)?;
    let implied_stdout = specs.is_empty() && format.is_some();
    if implied_stdout {
        // `--format F` without -o: F on standard output instead of the table.
        let stdout = [PathBuf::from(prof::output::write::STDOUT)];
        specs = prof::output::write::output_specs::<DiffDocument>(&stdout, format)?;
    }
    let filter = args.input_args.filter()?;
    // An input is a file, or an archive directory with a time range.
    let load = |p: &PathBuf,
                from: Option<std::time::SystemTime>,
                to: Option<std::time::SystemTime>|
     -> Result<(prof::profile::Profile, String)> {
        if p.is_dir() {
            refuse_weights_for_dir(p, &args.input_args)?;
            let (profile, from, to) = load_dir_range(p, from, to)?;
            let profile = filter.apply(profile, &p.to_string_lossy())?;
            return Ok((profile, format!("{} [{} – {}]", p.display(), format_unix_ns(from), format_unix_ns(to))));
        }
        if from.is_some() || to.is_some() {
            bail!("`{}`: a time range needs an archive directory", p.display());
        }
        let loaded = prof::input::load_with(p, &args.input_args.load_options(args.lenient))?;
        if loaded.skipped_lines > 0 {
            eprintln!(
                "prof: warning: skipped {} malformed lines of `{}`",
                loaded.skipped_lines,
                esc(&p.to_string_lossy())
            );
        }
        Ok((filter.apply(loaded.profile, &p.to_string_lossy())?, p.display().to_string()))
    };
    let (base, new) = prof::input::load_pair(
        || load(&args.base, args.base_from, args.base_to),
        || load(&args.new, args.new_from, args.new_to),
    );
    let ((base, base_name), (new, new_name)) = (base?, new?);
    // Not freed: the process exits right after, and freeing large profiles one allocation at a
    // time is a noticeable part of a large diff.
    let (base, new) = (std::mem::ManuallyDrop::new(base), std::mem::ManuallyDrop::new(new));
    let opts =
        prof::diff::DiffOptions { normalize: !args.no_normalize, match_builds: !args.exact_names, alpha: args.alpha };
    let d = std::mem::ManuallyDrop::new(prof::diff::diff(&base, &base_name, &new, &new_name, &opts)?);
    if specs.is_empty() {
        prof::diff::render::write_table(&d, args.top, std::io::stdout().lock()).context("failed to write the table")?;
    }
    let svg = DiffSvgOptions { negate: args.negate, deterministic: false, no_javascript: false };
    let doc = DiffDocument { diff: &d, svg: &svg };
    for spec in &specs {
        write_output(&doc, spec)?;
        if !implied_stdout {
            eprintln!("prof: wrote {}", esc(&spec.name()));
        }
    }
    if let Some(points) = args.fail_on {
        if let Some(timed) = [&d.base, &d.new].into_iter().find(|s| !s.unit.is_count()) {
            bail!(
                "--fail-on {points}: the gate needs the significance test, which needs sample counts, and `{}` \
                 counts {} of CPU time; the shares are still shown (--weights samples if its weights are counts)",
                timed.source,
                timed.unit.name()
            );
        }
        let tripped = d.regressions(points);
        if !tripped.is_empty() {
            for f in &tripped {
                eprintln!(
                    "prof: regression: {} grew {:+.2} points ({:.2}% → {:.2}%, q={:.1e})",
                    esc(&f.function),
                    f.delta_points,
                    f.base_total_pct,
                    f.new_total_pct,
                    f.q_value.unwrap_or(1.0)
                );
            }
            eprintln!("prof: --fail-on {points}: {} significant regression(s)", tripped.len());
            return Ok(ExitCode::from(3));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `prof top`: the full-screen view on a terminal, or one table with --once.
fn run_top(args: TopArgs) -> Result<()> {
    let terminal = std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    if !args.once && !terminal {
        bail!("prof top draws a full-screen view and needs a terminal; use `prof top --once` to print one table to a pipe or file");
    }
    let stop = stop_on_signals()?;
    let delay = std::time::Duration::from_secs(args.delay);
    let mut sampler = args.sampler();
    sampler.cgroups = selected_cgroups(&args.cgroups)?;
    let record_opts = prof::record::RecordOptions {
        sampler,
        command: (!args.command.is_empty()).then(|| args.command.clone()),
        ..Default::default()
    };
    if args.once {
        return top_once(&args, record_opts, delay, &stop);
    }
    let mut feed = match &args.dir {
        Some(dir) => top_feed::Feed::dir(dir)?,
        None => top_feed::Feed::live(record_opts, delay, Arc::clone(&stop))?,
    };
    let mut terminal = ratatui::try_init().context("failed to set up the terminal")?;
    show_cursor_on_panic();
    let mut view = top_view::View::new(args.delay);
    let shown = top_view::run(&mut terminal, &mut feed, &mut view, &stop);
    drop(terminal);
    ratatui::restore();
    // ratatui leaves the cursor as the last frame had it: hidden.
    let _ = ratatui::crossterm::execute!(std::io::stdout(), ratatui::crossterm::cursor::Show);
    // Quitting stops the recording; its last interval is not waited for by the user.
    let finished = feed.finish();
    shown.and(finished)
}

/// Before ratatui's panic hook (which leaves raw mode and the alternate screen), show the
/// cursor the view hid.
fn show_cursor_on_panic() {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = ratatui::crossterm::execute!(std::io::stdout(), ratatui::crossterm::cursor::Show);
        hook(info);
    }));
}

/// `prof top --once`: one interval of -d seconds (or an archive directory's newest), one table.
fn top_once(
    args: &TopArgs,
    mut opts: prof::record::RecordOptions,
    delay: std::time::Duration,
    stop: &AtomicBool,
) -> Result<()> {
    let mut window = prof::top::Window::new();
    match &args.dir {
        Some(dir) => {
            let polled = prof::top::DirFollower::new(dir)
                .poll(1)
                .with_context(|| format!("failed to list `{}`", dir.display()))?;
            for w in &polled.warnings {
                eprintln!("prof: warning: {}", esc(w));
            }
            let Some(newest) = polled.profiles.last() else {
                bail!(
                    "`{}` holds no archive yet (prof top DIR follows `prof record --continuous --dir DIR`)",
                    dir.display()
                );
            };
            window.add(newest);
        }
        None => {
            opts.duration = Some(delay);
            let recording = prof::record::record(&opts, stop, &mut prof::record::Silent)?;
            window.add(&recording.profile);
        }
    }
    let rows = prof::top::rows(&window, None, prof::top::SortKey::SelfShare);
    let mut out = std::io::stdout().lock();
    prof::top::write_rows(&rows, args.top, &mut out).context("failed to write the table")
}

fn run_serve(args: ServeArgs) -> Result<()> {
    let server = prof::serve::bind(args.path.clone(), args.listen, args.allow_remote)?;
    if !server.addr.ip().is_loopback() {
        eprintln!(
            "prof: warning: listening on {}, reachable from other machines; anyone who can connect sees these profiles",
            server.addr
        );
    }
    let stop = stop_on_signals()?;
    let url = format!("http://{}/", server.addr);
    eprintln!("prof: serving `{}` on {url} (Ctrl-C to stop)", esc(&args.path.to_string_lossy()));
    if args.open {
        let (browser, path) = (std::env::var_os("BROWSER"), std::env::var_os("PATH"));
        match prof::serve::open_browser(&url, browser.as_deref(), path.as_deref()) {
            Ok(program) => eprintln!("prof: opened {url} with `{}`", esc(&program.to_string_lossy())),
            Err(e) => eprintln!("prof: note: {}", esc(&e.to_string())),
        }
    }
    server.run(&stop);
    Ok(())
}

/// Prints the completion script of `args.shell`, generated from the clap definitions.
fn run_completions(args: CompletionsArgs) -> Result<()> {
    use clap::CommandFactory;
    use std::io::Write;
    let mut script = Vec::new();
    clap_complete::generate(clap_complete::Shell::from(args.shell), &mut Cli::command(), "prof", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script).and_then(|()| out.flush()).context("failed to write the completion script")
}

/// Writes prof.1 and one page per subcommand (`prof-record.1`, …) into `args.dir`, or prints
/// prof.1 without it.
fn run_man(args: ManArgs) -> Result<()> {
    use std::io::Write;
    let pages = man_pages().context("failed to render the man pages")?;
    let Some(dir) = args.dir else {
        let mut out = std::io::stdout().lock();
        return out.write_all(&pages[0].1).and_then(|()| out.flush()).context("failed to write the man page");
    };
    if !dir.exists() {
        bail!("`{}` does not exist (create it first: `mkdir -p {}`)", dir.display(), dir.display());
    }
    if !dir.is_dir() {
        bail!("`{}` is not a directory", dir.display());
    }
    for (name, page) in &pages {
        let path = dir.join(name);
        // Readable by everyone, like every other page in a man directory.
        prof::atomic_file::write_atomic(&path, prof::atomic_file::Durability::File, 0o644, |w| w.write_all(page))?;
    }
    eprintln!("prof: wrote {} man pages to `{}`", pages.len(), esc(&dir.to_string_lossy()));
    Ok(())
}

/// prof's man pages as (file name, roff text): `prof.1` first, then `prof-SUBCOMMAND.1` for each
/// subcommand, all from the clap definitions.
fn man_pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    use clap::CommandFactory;
    let mut cli = Cli::command();
    cli.build();
    let mut pages = vec![("prof.1".to_string(), man_page(cli.clone())?)];
    for sub in cli.get_subcommands() {
        let name = format!("prof-{}", sub.get_name());
        let page = man_page(sub.clone().display_name(name.clone()).bin_name(format!("prof {}", sub.get_name())))?;
        pages.push((format!("{name}.1"), page));
    }
    Ok(pages)
}

/// One man page. The text after the options (examples, aligned in columns) is set as it is
/// written, without filling, in a section of its own: EXAMPLES when it starts with `Examples:`.
fn man_page(cmd: clap::Command) -> std::io::Result<Vec<u8>> {
    let after = cmd.get_after_help().map(|h| h.to_string());
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.after_help(clap::builder::Resettable::Reset))
        .source(concat!("prof ", env!("CARGO_PKG_VERSION")))
        .render(&mut page)?;
    if let Some(after) = after {
        let (heading, body) = match after.strip_prefix("Examples:\n") {
            Some(examples) => ("EXAMPLES", examples),
            None => ("DETAILS", after.as_str()),
        };
        let mut section = roff::Roff::new();
        section.control("SH", [heading]).control("nf", []).text([roff::roman(body)]).control("fi", []);
        page.extend_from_slice(section.to_roff().as_bytes());
    }
    Ok(page)
}

/// `--weights` with an archive directory: an error, since archives record their unit.
fn refuse_weights_for_dir(dir: &std::path::Path, input_args: &cli::InputArgs) -> Result<()> {
    if input_args.weights.is_some() {
        bail!(
            "`{}` is an archive directory, whose archives record what their counts are: --weights applies to \
             folded input only",
            dir.display()
        );
    }
    Ok(())
}

/// Merges the archives of `dir` in `[from, to)` (default: everything up to now), printing
/// warnings for skipped archives; returns the profile and the range in ns.
fn load_dir_range(
    dir: &std::path::Path,
    from: Option<std::time::SystemTime>,
    to: Option<std::time::SystemTime>,
) -> Result<(prof::profile::Profile, u64, u64)> {
    let from = from.map(unix_ns).unwrap_or(0);
    let to = to.map(unix_ns).unwrap_or_else(|| unix_ns(std::time::SystemTime::now()));
    let (profile, warnings) = prof::store::load_range(dir, from, to)?;
    for w in warnings {
        eprintln!("prof: warning: {}", esc(&w.to_string()));
    }
    Ok((profile, from, to))
}
