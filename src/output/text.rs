//! Names other users control (symbol names from their binaries and perf maps, process names,
//! command lines, paths) made safe to show: the one sanitizer of text prof prints to a terminal
//! and puts into SVG titles, and the JSON writer that keeps such names inert.
//!
//! [`escape_controls`] replaces each character that can drive a terminal or reorder what is
//! shown with a visible escape: C0 controls and DEL as `\x1b`, C1 controls (U+0080–U+009F, where
//! U+009B is a one-character CSI) and the bidirectional formatting characters (U+061C, U+200E,
//! U+200F, U+202A–U+202E, U+2066–U+2069, the "Trojan Source" overrides) as `\u{9b}`. Escapes
//! rather than a replacement character, so that the reader sees that a name was hostile and what
//! it held. [`escape_controls_in_lines`] does the same but keeps `\n` and `\t`, for prof's own
//! multi-line text.
//!
//! JSON strings escape C0 controls already; [`write_json`] also writes the C1 and bidirectional
//! characters as `\u` escapes, which is lossless: the parsed strings are unchanged.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io;

/// `noun` as `n` of it are called in English: `sample` for 1, `samples`, `processes`,
/// `losses` for any other count (the nouns prof counts take `s`, or `es` after an `s`).
pub fn noun_for(n: u64, noun: &str) -> Cow<'_, str> {
    match (n, noun.ends_with('s')) {
        (1, _) => Cow::Borrowed(noun),
        (_, true) => Cow::Owned(format!("{noun}es")),
        (_, false) => Cow::Owned(format!("{noun}s")),
    }
}

/// Whether `c` is shown as an escape: a control character (C0, DEL, C1) or a bidirectional
/// formatting character.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every [unsafe](is_unsafe) character, `\n` and `\t` included, replaced by a visible
/// escape (`\x1b`, `\u{9b}`): for names and other one-line text.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    escape(s, |_| false)
}

/// [`escape_controls`], keeping `\n` and `\t`: for multi-line text (error chains, reports).
pub fn escape_controls_in_lines(s: &str) -> Cow<'_, str> {
    escape(s, |c| c == '\n' || c == '\t')
}

fn escape(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    let needs = |c: char| is_unsafe(c) && !keep(c);
    if !s.chars().any(needs) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !needs(c) {
            out.push(c);
        } else if c.is_ascii() {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

/// serde_json's formatter (compact or pretty) that also escapes [unsafe](is_unsafe) characters
/// which JSON allows raw.
struct EscapingFormatter<F>(F);

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for EscapingFormatter<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, w: &mut W, fragment: &str) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if is_unsafe(c) {
                w.write_all(&fragment.as_bytes()[start..i])?;
                write!(w, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// Writes `value` as JSON (indented when `pretty`), with C1 controls and bidirectional
/// formatting characters escaped like C0 controls, so that no string in it can drive a terminal
/// the file is printed on.
pub fn write_json<W: io::Write, T: serde::Serialize + ?Sized>(w: W, value: &T, pretty: bool) -> serde_json::Result<()> {
    if pretty {
        let formatter = EscapingFormatter(serde_json::ser::PrettyFormatter::new());
        value.serialize(&mut serde_json::Serializer::with_formatter(w, formatter))
    } else {
        let formatter = EscapingFormatter(serde_json::ser::CompactFormatter);
        value.serialize(&mut serde_json::Serializer::with_formatter(w, formatter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Terminal escapes, BEL, the one-character CSI and a bidi override become visible escapes;
    /// plain text (accents, emoji) is borrowed unchanged; newlines stay only where asked.
    #[test]
    fn text_escapes_controls_visibly() {
        assert_eq!(
            escape_controls("a\u{1b}[31mb\u{7}c\u{9b}2Jd\u{202e}e\nf"),
            r"a\x1b[31mb\x07c\u{9b}2Jd\u{202e}e\x0af"
        );
        assert_eq!(escape_controls_in_lines("a\u{1b}\nb\tc\r"), "a\\x1b\nb\tc\\x0d");
        assert!(matches!(escape_controls("ü::🔥 <fn>"), Cow::Borrowed(_)));
    }

    /// JSON keeps every string's value and escapes C1 and bidi characters too.
    #[test]
    fn text_json_escapes_c1_and_bidi_losslessly() {
        let names = vec!["a\u{1b}[31m\u{7}".to_string(), "b\u{9b}c\u{202e}d ü".to_string()];
        for pretty in [false, true] {
            let mut out = Vec::new();
            write_json(&mut out, &names, pretty).unwrap();
            let text = String::from_utf8(out.clone()).unwrap();
            assert!(!text.chars().any(|c| is_unsafe(c) && c != '\n'), "{text:?}");
            assert!(text.contains(r"b\u009bc\u202ed ü"), "{text}");
            let back: Vec<String> = serde_json::from_slice(&out).unwrap();
            assert_eq!(back, names);
        }
    }
}
