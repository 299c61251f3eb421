//! The processes of a local province: started detached from the terminal (a process group
//! of their own, stdin closed, stdout and stderr to a log file, a pid file), found again by
//! pid, told to stop and, past a bound, killed.
//!
//! A pid is only ever signalled while its command line still names the deployment's
//! directory: a pid reused by another process after ours exited is left alone.

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::record::{self, Process, StopSignal};

/// How often a stopping process is looked at.
const STOP_POLL: Duration = Duration::from_millis(50);
/// Longest wait for a process told to stop (SIGINT or SIGTERM); `afc city` drains its
/// outboxes first.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for a process to be gone after SIGKILL.
pub const KILL_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a log's end goes into an error.
const LOG_TAIL_BYTES: usize = 2048;

/// A process just started by `up`: the child (to notice that it exited while `up` still
/// runs) and its record.
#[derive(Debug)]
pub struct Started {
    pub child: Child,
    pub process: Process,
}

impl Started {
    /// Fails, with the end of its log, when the process has exited.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait().with_context(|| format!("probing {}", self.process.name))? {
            anyhow::bail!(
                "{} exited ({status}); the end of {}:\n{}",
                self.process.name,
                self.process.log.display(),
                log_tail(&self.process.log)
            );
        }
        Ok(())
    }
}

/// Starts `program args` as `name` of the deployment in `dir`, detached: a process group of
/// its own (a Ctrl-C in the terminal that ran `up` does not reach it), stdin closed, stdout
/// and stderr appended to `<dir>/run/<name>.log`, its pid in `<dir>/run/<name>.pid`.
pub fn spawn(
    dir: &Path,
    name: &str,
    program: &Path,
    args: &[&std::ffi::OsStr],
    stop: StopSignal,
) -> anyhow::Result<Started> {
    let log = record::log_file(dir, name);
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .with_context(|| format!("opening {}", log.display()))?;
    let err = out.try_clone().context("duplicating a log file handle")?;
    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::null()).stdout(out).stderr(err).process_group(0);
    let child = command.spawn().with_context(|| format!("starting {name} ({})", program.display()))?;
    let pid = child.id();
    let pid_file = record::pid_file(dir, name);
    std::fs::write(&pid_file, format!("{pid}\n")).with_context(|| format!("writing {}", pid_file.display()))?;
    Ok(Started { child, process: Process { name: name.into(), pid, stop, log } })
}

/// The pid in `<dir>/run/<name>.pid`, if the file is there.
pub fn read_pid(dir: &Path, name: &str) -> anyhow::Result<Option<u32>> {
    let path = record::pid_file(dir, name);
    match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().parse().map(Some).with_context(|| format!("{} holds no pid", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
    }
}

/// Whether `pid` is a live process of the deployment in `dir`: it exists, is not a zombie,
/// and its command line names `dir`.
pub fn is_ours(pid: u32, dir: &Path) -> bool {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let Ok(stat) = std::fs::read_to_string(proc.join("stat")) else {
        return false;
    };
    // `pid (comm) S ...`: the state follows the last ')'.
    let zombie = stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X']));
    if zombie {
        return false;
    }
    let Ok(cmdline) = std::fs::read(proc.join("cmdline")) else {
        return false;
    };
    let needle = dir.as_os_str().as_encoded_bytes();
    !needle.is_empty() && cmdline.windows(needle.len()).any(|window| window == needle)
}

/// Stops `process` of the deployment in `dir`: its stop signal, up to [`STOP_TIMEOUT`] for it
/// to exit, then SIGKILL and up to [`KILL_TIMEOUT`]. Removes its pid file once it is gone.
/// Returns how it ended.
pub fn stop(dir: &Path, process: &Process) -> anyhow::Result<Stopped> {
    let pid_file = record::pid_file(dir, &process.name);
    let pid = read_pid(dir, &process.name)?.unwrap_or(process.pid);
    let outcome = if !is_ours(pid, dir) {
        Stopped::NotRunning
    } else {
        let signal = match process.stop {
            StopSignal::Int => rustix::process::Signal::INT,
            StopSignal::Term => rustix::process::Signal::TERM,
        };
        send(pid, signal).with_context(|| format!("signalling {} (pid {pid})", process.name))?;
        if wait_gone(pid, dir, STOP_TIMEOUT) {
            Stopped::Stopped
        } else {
            send(pid, rustix::process::Signal::KILL)
                .with_context(|| format!("killing {} (pid {pid})", process.name))?;
            anyhow::ensure!(
                wait_gone(pid, dir, KILL_TIMEOUT),
                "{} (pid {pid}) is still there {KILL_TIMEOUT:?} after SIGKILL",
                process.name
            );
            Stopped::Killed
        }
    };
    match std::fs::remove_file(&pid_file) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(error).with_context(|| format!("removing {}", pid_file.display()))
        }
        _ => Ok(outcome),
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It was not running.
    NotRunning,
    /// It exited when told to.
    Stopped,
    /// It had to be killed.
    Killed,
}

fn send(pid: u32, signal: rustix::process::Signal) -> anyhow::Result<()> {
    let pid = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw).context("not a pid")?;
    match rustix::process::kill_process(pid, signal) {
        // Gone between the look and the signal.
        Err(rustix::io::Errno::SRCH) => Ok(()),
        other => Ok(other?),
    }
}

/// Polls until `pid` is no process of the deployment any more, or `timeout` passed.
fn wait_gone(pid: u32, dir: &Path, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !is_ours(pid, dir) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(STOP_POLL);
    }
}

/// The last [`LOG_TAIL_BYTES`] of a log.
pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let start = text.len().saturating_sub(LOG_TAIL_BYTES);
    String::from_utf8_lossy(&text[start..]).into_owned()
}
