//! `prof top --once`: the table as plain text, for pipes, files and scripts.

use std::io::{self, Write};

use super::table::Row;
use crate::output::text::escape_controls as esc;

/// Writes the first `n` rows under a header line: self and total shares, decayed samples,
/// function, module and process; names other users control are escaped.
pub fn write_rows(rows: &[Row], n: usize, mut w: impl Write) -> io::Result<()> {
    writeln!(w, "{:>7} {:>7} {:>9}  {:<40} {:<24} process", "self%", "total%", "samples", "function", "module")?;
    for r in rows.iter().take(n) {
        let module = if r.key.module.is_empty() { "?" } else { &r.key.module };
        writeln!(
            w,
            "{:>6.2}% {:>6.2}% {:>9.0}  {:<40} {:<24} {}",
            r.self_pct,
            r.total_pct,
            r.self_weight,
            esc(&r.key.name),
            esc(module),
            esc(&r.key.comm)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::FrameKind;
    use crate::top::FunctionKey;

    /// A hostile process name is written escaped, and only `n` rows are written.
    #[test]
    fn print_escapes_names() {
        let row = |name: &str, comm: &str| Row {
            key: FunctionKey { name: name.into(), module: "m".into(), kind: FrameKind::User, comm: comm.into() },
            self_weight: 3.0,
            total_weight: 4.0,
            self_pct: 75.0,
            total_pct: 100.0,
        };
        let mut out = Vec::new();
        write_rows(&[row("f", "evil\x1b[2J"), row("g", "x")], 1, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains("evil\\x1b[2J") && !text.contains('\x1b'), "{text}");
        assert!(text.lines().nth(1).unwrap().starts_with(" 75.00% 100.00%         3  f "), "{text}");
    }
}
