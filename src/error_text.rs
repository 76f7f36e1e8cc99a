//! Errors as one line for a person: the error and each of its sources, joined by `: ` (what
//! anyhow's `{:#}` prints at the CLI edge), for library code that reports an error it goes on
//! after (an unwind table that could not be built, an interval that could not be written).

/// An error and its sources on one line (`malformed .eh_frame: unexpected end of input`). A
/// source whose text the line already ends with (an error whose message includes its source,
/// `failed to read `x`: No such file or directory (os error 2)`) is not repeated.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !msg.ends_with(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = inner.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("failed to read `x`: {source}")]
    struct Includes {
        source: std::io::Error,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("malformed .eh_frame")]
    struct Wraps(#[source] std::io::Error);

    /// A source is appended once: not again when the message already ends with it.
    #[test]
    fn error_chain_appends_each_source_once() {
        let io = || std::io::Error::from_raw_os_error(2);
        assert_eq!(
            error_chain(&Includes { source: io() }),
            "failed to read `x`: No such file or directory (os error 2)"
        );
        assert_eq!(error_chain(&Wraps(io())), "malformed .eh_frame: No such file or directory (os error 2)");
    }
}
