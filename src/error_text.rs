//! Errors as one line for a person: the error and each of its sources, joined by `: ` (what
//! anyhow's `{:#}` prints at the CLI edge), for library code that reports an error it goes on
//! after (an unwind table that could not be built, an interval that could not be written).

/// An error and its sources on one line (`malformed .eh_frame: unexpected end of input`).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        msg.push_str(": ");
        msg.push_str(&inner.to_string());
        source = inner.source();
    }
    msg
}
