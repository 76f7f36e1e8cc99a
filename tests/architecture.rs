//! The structure docs/ARCHITECTURE.md describes, checked on the source: every module of the
//! library imports only modules listed before it in `src/lib.rs` (the pipeline's order), library
//! code never prints, and no function grows past the size a reader can hold.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The library's top-level modules in the order `src/lib.rs` declares them.
fn pipeline_order() -> Vec<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    lib.lines().filter_map(|l| l.strip_prefix("pub mod ")).map(|m| m.trim_end_matches(';').to_string()).collect()
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The top-level module a library file belongs to (`src/record/session.rs` → `record`).
fn module_of(path: &Path) -> Option<String> {
    let rel = path.strip_prefix(src()).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    Some(first.trim_end_matches(".rs").to_string())
}

/// The file's code without its `#[cfg(test)]` module (tests may use any module) and without
/// comments.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => &text,
    };
    text.lines().map(|l| if l.trim_start().starts_with("//") { "" } else { l }).collect::<Vec<_>>().join("\n")
}

/// Library files only: the binary (`main.rs`, `cli.rs`, `console.rs`) and `lib.rs` are left out.
fn library_files() -> Vec<(String, PathBuf)> {
    let order = pipeline_order();
    rust_files(&src()).into_iter().filter_map(|p| module_of(&p).filter(|m| order.contains(m)).map(|m| (m, p))).collect()
}

/// No module imports a module declared after it in `src/lib.rs`: data flows one way, and the
/// list in lib.rs is the pipeline.
#[test]
fn architecture_modules_import_only_earlier_stages() {
    let order = pipeline_order();
    assert!(order.len() >= 15, "lib.rs lists the modules: {order:?}");
    let rank: BTreeMap<&str, usize> = order.iter().enumerate().map(|(i, m)| (m.as_str(), i)).collect();
    let mut violations = Vec::new();
    for (module, path) in library_files() {
        let code = code_of(&path);
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if let (Some(&used), Some(&own)) = (rank.get(name.as_str()), rank.get(module.as_str())) {
                if used > own {
                    violations.push(format!("{} ({module}) uses crate::{name}", path.display()));
                }
            }
        }
    }
    violations.dedup();
    assert!(violations.is_empty(), "modules importing later stages:\n{}", violations.join("\n"));
}

/// Library code hands events and errors to its caller; only the binary prints.
#[test]
fn architecture_library_never_prints() {
    let mut printing = Vec::new();
    for (_, path) in library_files() {
        let code = code_of(&path);
        for (n, line) in code.lines().enumerate() {
            if ["print!(", "println!(", "eprint!(", "eprintln!(", "dbg!("].iter().any(|m| line.contains(m)) {
                printing.push(format!("{}: {}", path.display(), n + 1));
            }
        }
    }
    assert!(printing.is_empty(), "library code that prints:\n{}", printing.join("\n"));
}

/// Length of each function whose body opens on its signature's last line and closes on a line
/// holding only `}` at the signature's indentation (rustfmt's layout).
fn function_lengths(code: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let signature = trimmed
            .trim_start_matches("pub ")
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub(super) ")
            .trim_start_matches("const ")
            .trim_start_matches("unsafe ");
        if let Some(rest) = signature.strip_prefix("fn ") {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let mut open = i;
            while open < lines.len() && !lines[open].trim_end().ends_with('{') && !lines[open].trim_end().ends_with(';')
            {
                open += 1;
            }
            if open < lines.len() && lines[open].trim_end().ends_with('{') {
                let close = (open + 1..lines.len()).find(|&k| lines[k] == format!("{indent}}}"));
                if let Some(close) = close {
                    out.push((name, close - i + 1));
                    i = close + 1;
                    continue;
                }
            }
        }
        i += 1;
    }
    out
}

/// No function of the library or the binary is longer than 100 lines: a function that does
/// more is several steps that want names.
#[test]
fn architecture_functions_stay_short() {
    const MAX_LINES: usize = 100;
    let mut long = Vec::new();
    for path in rust_files(&src()) {
        for (name, len) in function_lengths(&code_of(&path)) {
            if len > MAX_LINES {
                long.push(format!("{}: fn {name} has {len} lines", path.display()));
            }
        }
    }
    assert!(long.is_empty(), "functions over {MAX_LINES} lines:\n{}", long.join("\n"));
}

/// The length measure itself: a two-line body is a four-line function, nested ones count apart.
#[test]
fn architecture_function_length_is_measured() {
    let code = "fn a() {\n    x();\n    y();\n}\nimpl T {\n    pub fn b(\n        v: u8,\n    ) -> u8 {\n        v\n    }\n}\n";
    assert_eq!(function_lengths(code), vec![("a".to_string(), 4), ("b".to_string(), 5)]);
}
