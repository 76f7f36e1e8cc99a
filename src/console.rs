//! How the `prof` binary shows a recording as it runs: the library's [`Event`]s printed to
//! stderr, with a live status line rewritten in place when stderr is a terminal. Every name
//! and message in an event (the target's command line, paths, errors, notes) is printed with
//! its control characters escaped, so that none can drive the terminal.

use std::io::Write;

use prof::output::text::escape_controls as esc;
use prof::record::{Event, Observer};

/// Prints a recording's events to stderr.
#[derive(Debug)]
pub struct Console {
    /// Rewrite one status line every second (stderr is a terminal).
    pub live_status: bool,
}

/// Erases the terminal's current line and returns to its start.
const CLEAR_LINE: &str = "\r\x1b[2K";

impl Observer for Console {
    fn on_event(&mut self, event: Event<'_>) {
        let mut err = std::io::stderr().lock();
        let _ = match event {
            Event::Started { target, event, frequency_hz, cpus } => writeln!(
                err,
                "prof: recording {} with {} at {frequency_hz} Hz on {cpus} CPUs; Ctrl-C to stop",
                esc(target),
                esc(event)
            ),
            Event::Pushing { endpoint, series } => {
                writeln!(err, "prof: pushing each interval to `{}` as `{}`", esc(endpoint), esc(series))
            }
            Event::Status { elapsed, samples, processes, lost } if self.live_status => write!(
                err,
                "{CLEAR_LINE}recording {:.0} s · {samples} samples · {processes} processes · {lost} lost",
                elapsed.as_secs_f64()
            ),
            Event::Status { .. } => Ok(()),
            Event::Stopped if self.live_status => write!(err, "{CLEAR_LINE}"),
            Event::Stopped => Ok(()),
            Event::Quarantined { from, to } => {
                writeln!(
                    err,
                    "prof: warning: `{}` is an archive a crashed recorder did not finish; moved to `{}` (not read, \
                     not deleted)",
                    esc(&from.to_string_lossy()),
                    esc(&to.to_string_lossy())
                )
            }
            Event::IntervalLost { error } => {
                writeln!(err, "prof: error: {}; the interval is counted as lost, recording continues", esc(error))
            }
            Event::FlushingPush { pending, endpoint, grace } => {
                writeln!(err, "prof: pushing {pending} queued interval(s) to `{}` (up to {grace:.0?})", esc(endpoint))
            }
            Event::Notice { message } => writeln!(err, "prof: {}", esc(message)),
            Event::Warning { message } => writeln!(err, "prof: warning: {}", esc(message)),
        };
        let _ = err.flush();
    }
}
