//! How the `prof` binary shows a recording as it runs: the library's [`Event`]s printed to
//! stderr, with a live status line rewritten in place when stderr is a terminal.

use std::io::Write;

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
                "prof: recording {target} with {event} at {frequency_hz} Hz on {cpus} CPUs; Ctrl-C to stop"
            ),
            Event::Pushing { endpoint, series } => {
                writeln!(err, "prof: pushing each interval to `{endpoint}` as `{series}`")
            }
            Event::Status { elapsed, samples, processes, lost } if self.live_status => write!(
                err,
                "{CLEAR_LINE}recording {:.0} s · {samples} samples · {processes} processes · {lost} lost",
                elapsed.as_secs_f64()
            ),
            Event::Status { .. } => Ok(()),
            Event::Stopped if self.live_status => write!(err, "{CLEAR_LINE}"),
            Event::Stopped => Ok(()),
            Event::Recovered { path } => {
                writeln!(err, "prof: removed `{}`, an archive a crashed recorder did not finish", path.display())
            }
            Event::IntervalLost { error } => {
                writeln!(err, "prof: error: {error}; the interval is counted as lost, recording continues")
            }
            Event::FlushingPush { pending, endpoint, grace } => {
                writeln!(err, "prof: pushing {pending} queued interval(s) to `{endpoint}` (up to {grace:.0?})")
            }
            Event::Notice { message } => writeln!(err, "prof: {message}"),
            Event::Warning { message } => writeln!(err, "prof: warning: {message}"),
        };
        let _ = err.flush();
    }
}
