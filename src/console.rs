//! How the `prof` binary shows a recording as it runs: the library's [`Event`]s printed to
//! stderr, with a live status line rewritten in place when stderr is a terminal. Every name
//! and message in an event (the target's command line, paths, errors, notes) is printed with
//! its control characters escaped, so that none can drive the terminal.

use std::io::Write;

use prof::output::text::escape_controls as esc;
use prof::record::{status_line, Event, Observer};

/// Prints a recording's events to stderr.
#[derive(Debug)]
pub struct Console {
    /// Rewrite one status line every second (stderr is a terminal).
    pub live_status: bool,
    /// A status line is on the terminal, not yet erased.
    pub status_shown: bool,
}

/// `line` cut to fit a terminal `width` columns wide, one column spare (writing the last column
/// wraps on some terminals, and a wrapped line is not erased by the next rewrite). The status
/// line is one character per column.
fn fit_width(line: &str, width: Option<u16>) -> &str {
    match width.map(usize::from).filter(|&w| w > 1) {
        Some(w) => line.char_indices().nth(w - 1).map_or(line, |(cut, _)| &line[..cut]),
        None => line,
    }
}

/// Erases the terminal's current line and returns to its start.
const CLEAR_LINE: &str = "\r\x1b[2K";

impl Observer for Console {
    fn on_event(&mut self, event: Event<'_>) {
        let mut err = std::io::stderr().lock();
        // Any other event's line replaces the status line (the next status draws it again
        // below), so that no message is appended to it.
        if self.status_shown && !matches!(event, Event::Status(_)) {
            let _ = write!(err, "{CLEAR_LINE}");
            self.status_shown = false;
        }
        let _ = match event {
            // Off-CPU time is not sampled at a rate (frequency 0).
            Event::Started { target, event, frequency_hz: 0, cpus } => {
                writeln!(err, "prof: recording {} with {} on {cpus} CPUs; Ctrl-C to stop", esc(target), esc(event))
            }
            Event::Started { target, event, frequency_hz, cpus } => writeln!(
                err,
                "prof: recording {} with {} at {frequency_hz} Hz on {cpus} CPUs; Ctrl-C to stop",
                esc(target),
                esc(event)
            ),
            Event::Pushing { endpoint, series } => {
                writeln!(err, "prof: pushing each interval to `{}` as `{}`", esc(endpoint), esc(series))
            }
            Event::Status(status) if self.live_status => {
                self.status_shown = true;
                let width = rustix::termios::tcgetwinsize(std::io::stderr()).ok().map(|w| w.ws_col);
                write!(err, "{CLEAR_LINE}{}", fit_width(&status_line(&status), width))
            }
            Event::Status(_) | Event::Stopped => Ok(()),
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

#[cfg(test)]
mod tests {
    use super::fit_width;

    /// The status line is cut to the terminal's width less one column, on a character boundary,
    /// and left whole when the width is unknown or wide enough.
    #[test]
    fn console_status_fits_the_terminal() {
        let line = "recording 3 s · 1 s left · 5 samples";
        assert_eq!(fit_width(line, Some(16)), "recording 3 s ·");
        assert_eq!(fit_width(line, Some(15)), "recording 3 s ");
        assert_eq!(fit_width(line, None), line);
        assert_eq!(fit_width(line, Some(0)), line, "a terminal that reports no width");
        assert_eq!(fit_width(line, Some(37)), line);
        assert_eq!(fit_width(line, Some(36)), "recording 3 s · 1 s left · 5 sample");
    }
}
