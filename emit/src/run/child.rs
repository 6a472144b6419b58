//! Runs the job's command: output passed through untouched and copied into a bounded tail,
//! SIGTERM and SIGHUP forwarded, and the way the process ended reported.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::process::Command;
use tokio::signal::unix::{SignalKind, signal};

use super::log_tail::LogTail;

/// How long to keep reading output after the job exited, for grandchildren still holding
/// the pipes open.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// How the job's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Exited(i32),
    Signaled(i32),
    /// The command could not be started (not found, not executable).
    NotStarted {
        exit_code: u8,
    },
}

/// What the job did.
#[derive(Debug)]
pub(super) struct ChildRun {
    pub(crate) ending: Ending,
    /// The wrapper received SIGTERM, SIGINT or SIGHUP while the job ran.
    pub(crate) cancelled: bool,
    /// When the job's process ended (before the wait for its output to close).
    pub(crate) exited_at: std::time::SystemTime,
}

/// Runs `command` with `env` added to ours, copying its output to ours and into `tail`.
pub(super) async fn run_child(
    command: &[String],
    env: &[(String, std::ffi::OsString)],
    tail: Arc<Mutex<LogTail>>,
) -> std::io::Result<ChildRun> {
    let Some((program, args)) = command.split_first() else {
        return Ok(ChildRun {
            ending: Ending::NotStarted { exit_code: 2 },
            cancelled: false,
            exited_at: SystemTime::now(),
        });
    };
    let spawned = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            let exit_code = match e.kind() {
                std::io::ErrorKind::NotFound => 127,
                _ => 126,
            };
            let message = format!("failscope run: cannot start {program}: {e}\n");
            tail.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(message.as_bytes());
            let mut stderr = tokio::io::stderr();
            stderr.write_all(message.as_bytes()).await?;
            return Ok(ChildRun {
                ending: Ending::NotStarted { exit_code },
                cancelled: false,
                exited_at: SystemTime::now(),
            });
        }
    };
    let mut copies = tokio::task::JoinSet::new();
    if let Some(out) = child.stdout.take() {
        copies.spawn(pass_through(out, tokio::io::stdout(), tail.clone()));
    }
    if let Some(err) = child.stderr.take() {
        copies.spawn(pass_through(err, tokio::io::stderr(), tail.clone()));
    }
    let pid = child.id().and_then(|id| i32::try_from(id).ok()).map(nix::unistd::Pid::from_raw);
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut cancelled = false;
    let status: ExitStatus = loop {
        tokio::select! {
            status = child.wait() => break status?,
            _ = terminate.recv() => { cancelled = true; forward(pid, nix::sys::signal::Signal::SIGTERM) }
            _ = hangup.recv() => { cancelled = true; forward(pid, nix::sys::signal::Signal::SIGHUP) }
            // A terminal's Ctrl-C reaches the whole process group, the job included.
            _ = interrupt.recv() => cancelled = true,
        }
    };
    let exited_at = SystemTime::now();
    let _ = tokio::time::timeout(OUTPUT_GRACE, async { while copies.join_next().await.is_some() {} }).await;
    copies.abort_all();
    Ok(ChildRun { ending: ending_of(status), cancelled, exited_at })
}

fn ending_of(status: ExitStatus) -> Ending {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => Ending::Exited(code),
        (None, Some(signal)) => Ending::Signaled(signal),
        (None, None) => Ending::Exited(1),
    }
}

fn forward(pid: Option<nix::unistd::Pid>, signal: nix::sys::signal::Signal) {
    if let Some(pid) = pid
        && let Err(e) = nix::sys::signal::kill(pid, signal)
    {
        tracing::warn!(%signal, error = %e, "cannot forward signal to the job");
    }
}

async fn pass_through<R, W>(mut from: R, mut to: W, tail: Arc<Mutex<LogTail>>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        tail.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(&buffer[..n]);
        // Our own output closing must not stop the job: keep draining its pipe.
        if to.write_all(&buffer[..n]).await.is_ok() {
            let _ = to.flush().await;
        }
    }
}
