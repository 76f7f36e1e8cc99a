//! Starting the profiled command paused, so its PID is in the BPF target filter before it
//! executes its first instruction: fork, wait on a gate pipe, then exec.
//!
//! `std::process::Command` cannot do this: its `spawn` waits for the child's exec, so a child
//! that waits for the parent would deadlock.

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

/// A forked command that waits, before `exec`, until [`PausedChild::resume`].
#[derive(Debug)]
pub struct PausedChild {
    pid: libc::pid_t,
    program: String,
    gate: Option<OwnedFd>,
    exec_error: Option<OwnedFd>,
    status: Option<ExitStatus>,
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both are new descriptors owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

impl PausedChild {
    /// Forks `argv` (the program is looked up in `PATH`); the child waits for [`resume`].
    ///
    /// [`resume`]: PausedChild::resume
    pub fn spawn(argv: &[OsString]) -> io::Result<PausedChild> {
        let program = argv.first().ok_or_else(|| io::Error::other("empty command"))?;
        let cargs: Vec<CString> = argv
            .iter()
            .map(|a| CString::new(a.as_bytes()).map_err(|_| io::Error::other("command contains a NUL byte")))
            .collect::<io::Result<_>>()?;
        let mut cptrs: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
        cptrs.push(std::ptr::null());
        let (gate_r, gate_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let open_files = super::open_files::original();

        // SAFETY: fork has no memory preconditions; in the child only async-signal-safe calls
        // follow (close, read, setrlimit, execvp, write, _exit) on memory prepared before the fork.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: child side; see above. Never returns.
            unsafe {
                libc::close(gate_w.as_raw_fd());
                libc::close(err_r.as_raw_fd());
                let mut b = 0u8;
                loop {
                    let n = libc::read(gate_r.as_raw_fd(), (&mut b as *mut u8).cast(), 1);
                    if n >= 0 || *libc::__errno_location() != libc::EINTR {
                        break;
                    }
                }
                // Restore default signal dispositions the parent may have changed.
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                libc::signal(libc::SIGTERM, libc::SIG_DFL);
                // The open-files limit prof was given, not the one it raised for itself.
                if let Some(limit) = &open_files {
                    libc::setrlimit(libc::RLIMIT_NOFILE, limit);
                }
                libc::execvp(cptrs[0], cptrs.as_ptr());
                let errno = *libc::__errno_location();
                libc::write(err_w.as_raw_fd(), (&errno as *const i32).cast(), 4);
                libc::_exit(127);
            }
        }
        drop(gate_r);
        drop(err_w);
        Ok(PausedChild {
            pid,
            program: program.to_string_lossy().into_owned(),
            gate: Some(gate_w),
            exec_error: Some(err_r),
            status: None,
        })
    }

    /// The child's PID.
    pub fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// Lets the child exec its command and reports an exec failure (e.g. not found).
    pub fn resume(&mut self) -> io::Result<()> {
        if let Some(gate) = self.gate.take() {
            let b = [1u8];
            // SAFETY: `gate` is an open pipe write end; writing one byte from a valid buffer.
            if unsafe { libc::write(gate.as_raw_fd(), b.as_ptr().cast(), 1) } != 1 {
                return Err(io::Error::last_os_error());
            }
        }
        if let Some(err) = self.exec_error.take() {
            let mut errno = [0u8; 4];
            // SAFETY: reading into a valid 4-byte buffer; EOF (0) means exec succeeded.
            let n = loop {
                let n = unsafe { libc::read(err.as_raw_fd(), errno.as_mut_ptr().cast(), 4) };
                if n >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                    break n;
                }
            };
            if n == 4 {
                let _ = self.wait();
                let e = io::Error::from_raw_os_error(i32::from_ne_bytes(errno));
                return Err(io::Error::new(e.kind(), format!("`{}`: {e}", self.program)));
            }
        }
        Ok(())
    }

    /// The exit status, if the child has exited (never blocks).
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            let mut status = 0;
            // SAFETY: valid pointer to an int; WNOHANG never blocks.
            if unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) } == self.pid {
                self.status = Some(ExitStatus::from_raw(status));
            }
        }
        self.status
    }

    /// Waits for the child to exit.
    pub fn wait(&mut self) -> Option<ExitStatus> {
        while self.status.is_none() {
            let mut status = 0;
            // SAFETY: valid pointer to an int.
            let r = unsafe { libc::waitpid(self.pid, &mut status, 0) };
            if r == self.pid {
                self.status = Some(ExitStatus::from_raw(status));
            } else if r < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                break;
            }
        }
        self.status
    }

    /// Sends a signal to the child if it has not been reaped.
    pub fn signal(&self, sig: i32) {
        if self.status.is_none() {
            // SAFETY: kill has no memory-safety preconditions; the PID is our unreaped child.
            unsafe {
                libc::kill(self.pid, sig);
            }
        }
    }
}

impl Drop for PausedChild {
    fn drop(&mut self) {
        // A child still waiting at the gate (recording failed before resume) must not linger.
        if self.gate.is_some() {
            self.signal(libc::SIGKILL);
            let _ = self.wait();
        }
    }
}
