//! Matching functions across builds of the same code: the parts of a symbol name that change
//! from build to build without the code changing are stripped before comparing.

/// Strips what differs between builds of the same function:
/// - Rust's legacy-mangling hash suffix `::h0123456789abcdef`;
/// - compiler clone suffixes `.cold`, `.isra.N`, `.constprop.N`, `.part.N`, `.lto_priv.N`,
///   `.localalias`, `.llvm.NNNN` (possibly chained: `foo.isra.0.cold`).
///
/// Unsymbolized `module+0xoffset` frames are returned unchanged: their addresses are what tells
/// them apart. A folded-style suffix (`_[k]`, `_[i]`, `_[j]`) is kept.
pub fn canonical(frame: &str) -> String {
    let (name, annotation) = split_annotation(frame);
    if is_unsymbolized(name) {
        return frame.to_string();
    }
    let mut name = strip_rust_hash(name);
    loop {
        let stripped = strip_clone_suffix(name);
        if stripped.len() == name.len() {
            break;
        }
        name = stripped;
    }
    format!("{name}{annotation}")
}

/// Splits `name_[k]` into (`name`, `_[k]`).
fn split_annotation(frame: &str) -> (&str, &str) {
    for suffix in ["_[k]", "_[i]", "_[j]"] {
        if let Some(name) = frame.strip_suffix(suffix) {
            return (name, &frame[name.len()..]);
        }
    }
    (frame, "")
}

/// True for `module+0x1a2b` frames.
fn is_unsymbolized(name: &str) -> bool {
    match name.rsplit_once("+0x") {
        Some((module, hex)) => !module.is_empty() && !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => false,
    }
}

fn strip_rust_hash(name: &str) -> &str {
    match name.rsplit_once("::h") {
        Some((head, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => head,
        _ => name,
    }
}

/// Removes one trailing clone suffix, if any.
fn strip_clone_suffix(name: &str) -> &str {
    // `.cold` and `.localalias` take no number; the others take `.N` (digits).
    for plain in [".cold", ".localalias"] {
        if let Some(head) = name.strip_suffix(plain) {
            if !head.is_empty() {
                return head;
            }
        }
    }
    let Some((head, last)) = name.rsplit_once('.') else {
        return name;
    };
    if last.is_empty() || !last.bytes().all(|b| b.is_ascii_digit()) {
        return name;
    }
    for numbered in [".isra", ".constprop", ".part", ".lto_priv", ".llvm"] {
        if let Some(base) = head.strip_suffix(numbered) {
            if !base.is_empty() {
                return base;
            }
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::canonical;

    /// Rust hashes and compiler clone suffixes are stripped, chained ones too.
    #[test]
    fn names_strip_build_specific_suffixes() {
        assert_eq!(canonical("core::ptr::drop_in_place::h0123456789abcdef"), "core::ptr::drop_in_place");
        assert_eq!(canonical("foo.isra.0"), "foo");
        assert_eq!(canonical("foo.constprop.12"), "foo");
        assert_eq!(canonical("foo.part.0.cold"), "foo");
        assert_eq!(canonical("foo.isra.0.cold_[k]"), "foo_[k]");
        assert_eq!(canonical("bar.lto_priv.3"), "bar");
        assert_eq!(canonical("baz.llvm.1234567"), "baz");
    }

    /// Names that merely look similar are left alone, and unsymbolized frames keep their address.
    #[test]
    fn names_keep_what_identifies_code() {
        assert_eq!(canonical("libfoo.so+0x1a2b"), "libfoo.so+0x1a2b");
        assert_eq!(canonical("[unknown]+0x10"), "[unknown]+0x10");
        assert_eq!(canonical("version.1"), "version.1");
        assert_eq!(canonical("x::hello"), "x::hello");
        assert_eq!(canonical(".cold"), ".cold");
        assert_eq!(canonical("std::f64::consts::PI"), "std::f64::consts::PI");
    }
}
