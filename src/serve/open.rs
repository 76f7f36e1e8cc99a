//! Opening the UI in the user's browser (`prof serve --open`): `$BROWSER` when set, else
//! `xdg-open`, found in `PATH`; started without waiting for it.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Why no browser was started.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Neither a `$BROWSER` command nor `xdg-open` is found.
    #[error(
        "no browser to open: `$BROWSER` is not set (or names no program in PATH) and `xdg-open` is not in PATH; \
         open the address yourself, install xdg-utils, or set BROWSER"
    )]
    NoBrowser,
    /// The browser command could not be started.
    #[error("failed to start `{command}`: {source}")]
    Spawn {
        /// The program.
        command: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Starts a browser on `url` and returns the program started, without waiting for it (a
/// thread reaps it when it exits). `browser` is `$BROWSER`'s value: commands separated by `:`,
/// the first whose program is found is run, with `%s` in its arguments replaced by the URL, or
/// the URL appended; without one, `xdg-open URL`. Programs are looked up in `path` (`$PATH`).
pub fn open_browser(url: &str, browser: Option<&OsStr>, path: Option<&OsStr>) -> Result<PathBuf, OpenError> {
    let browser = browser.and_then(OsStr::to_str).unwrap_or("");
    let chosen = browser
        .split(':')
        .filter_map(|command| {
            let mut words = command.split_whitespace();
            let program = find_program(words.next()?, path)?;
            let args: Vec<OsString> = words.map(|w| OsString::from(w.replace("%s", url))).collect();
            Some((program, args, command.contains("%s")))
        })
        .next()
        .or_else(|| find_program("xdg-open", path).map(|p| (p, Vec::new(), false)));
    let Some((program, mut args, has_url)) = chosen else {
        return Err(OpenError::NoBrowser);
    };
    if !has_url {
        args.push(url.into());
    }
    let mut child = Command::new(&program)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|source| OpenError::Spawn { command: program.display().to_string(), source })?;
    std::thread::spawn(move || child.wait());
    Ok(program)
}

/// `name` itself when it has a `/`, else the first executable regular file of that name in
/// the directories of `path`.
fn find_program(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    let executable = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if name.contains('/') {
        let p = PathBuf::from(name);
        return executable(&p).then_some(p);
    }
    std::env::split_paths(path?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|p| executable(p))
}
