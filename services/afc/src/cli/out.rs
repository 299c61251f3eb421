//! Every command's output to stdout goes through here: one locked stdout, written with
//! `writeln!`. A reader that goes away (`afc case show … | head -1`, a pager quit early) ends
//! the command quietly with exit 0 — never a panic, never a message — since what it would
//! have printed has nobody to read it. (`println!` panics on a closed pipe.)
//!
//! Colours: none. Should a command ever colour its output, [`colours`] says whether it may.

use std::io::{self, IsTerminal as _, Write};

use anyhow::Context as _;
use serde::Serialize;

/// Writes to stdout, locked, through `write`, and flushes. A closed pipe exits the process
/// with 0 at once; any other write error is returned.
pub fn print(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match write(&mut out).and_then(|()| out.flush()) {
        Err(error) if is_closed(&error) => std::process::exit(0),
        written => written.context("writing to stdout"),
    }
}

/// Prints `text` as it is (it carries its own newlines).
pub fn text(text: &str) -> anyhow::Result<()> {
    print(|out| out.write_all(text.as_bytes()))
}

/// Prints `line` and a newline.
pub fn line(line: impl std::fmt::Display) -> anyhow::Result<()> {
    print(|out| writeln!(out, "{line}"))
}

/// Prints `value` as pretty JSON.
pub fn json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    print(|out| writeln!(out, "{text}"))
}

/// Whether a write failed because nobody reads stdout any more.
fn is_closed(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::BrokenPipe
}

/// Whether output may carry colour codes: stdout is a terminal and `NO_COLOR` is unset or
/// empty (<https://no-color.org>).
pub fn colours() -> bool {
    colours_for(io::stdout().is_terminal(), std::env::var_os("NO_COLOR").as_deref())
}

fn colours_for(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|value| value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        assert!(colours_for(true, None));
        assert!(colours_for(true, Some("".as_ref())));
        assert!(!colours_for(true, Some("1".as_ref())));
        assert!(!colours_for(false, None));
    }

    #[test]
    fn a_closed_pipe_is_told_from_other_errors() {
        assert!(is_closed(&io::Error::from(io::ErrorKind::BrokenPipe)));
        assert!(!is_closed(&io::Error::from(io::ErrorKind::PermissionDenied)));
    }
}
