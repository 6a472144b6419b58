//! One connection attempt to one target: DNS resolution, TCP connect and optionally a TLS
//! handshake, each under a deadline, with the result mapped to the contract's outcomes.
//! An attempt always ends in a result: at its deadline as `timeout`, on shutdown as
//! `abandoned`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use failscope_schemas::{ConnectOutcome, Timestamp};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::config::ProbeTarget;
use super::tls::{TlsClient, tls_error_text};

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptResult {
    pub(crate) started_at: Timestamp,
    pub duration: Duration,
    pub outcome: ConnectOutcome,
    pub errno: Option<i32>,
    /// The resolved address, once known.
    pub target_addr: Option<SocketAddr>,
    pub error: Option<String>,
}

/// Connects to `target` once. `tls` is used when the target asks for a handshake.
pub async fn attempt_connect(
    target: &ProbeTarget,
    connect_timeout: Duration,
    tls: &TlsClient,
    shutdown: &CancellationToken,
) -> AttemptResult {
    let started_at = Timestamp::now();
    let clock = Instant::now();
    let mut target_addr = None;
    let steps = connect_steps(target, connect_timeout, tls, &mut target_addr);
    let (outcome, errno, error) = tokio::select! {
        biased;
        step = steps => step,
        () = shutdown.cancelled() => (ConnectOutcome::Abandoned, None, Some("shutdown while in flight".to_string())),
    };
    AttemptResult { started_at, duration: clock.elapsed(), outcome, errno, target_addr, error }
}

type StepResult = (ConnectOutcome, Option<i32>, Option<String>);

async fn connect_steps(
    target: &ProbeTarget,
    connect_timeout: Duration,
    tls: &TlsClient,
    target_addr: &mut Option<SocketAddr>,
) -> StepResult {
    let lookup = tokio::net::lookup_host((target.host.as_str(), target.port));
    let addr = match tokio::time::timeout(connect_timeout, lookup).await {
        Err(_) => return (ConnectOutcome::DnsError, None, Some("dns resolution timed out".into())),
        Ok(Err(e)) => return (ConnectOutcome::DnsError, None, Some(format!("dns resolution failed: {e}"))),
        Ok(Ok(mut addrs)) => match addrs.next() {
            Some(addr) => addr,
            None => return (ConnectOutcome::DnsError, None, Some("dns resolution returned no address".into())),
        },
    };
    *target_addr = Some(addr);
    let stream = match tokio::time::timeout(connect_timeout, TcpStream::connect(addr)).await {
        Err(_) => {
            return (ConnectOutcome::Timeout, None, Some(format!("connect still in flight after {connect_timeout:?}")));
        }
        Ok(Err(e)) => {
            let (outcome, errno) = outcome_of_io_error(&e);
            return (outcome, errno, Some(e.to_string()));
        }
        Ok(Ok(stream)) => stream,
    };
    if !target.tls {
        return (ConnectOutcome::Ok, None, None);
    }
    let server_name = target.server_name.as_deref().unwrap_or(&target.host);
    match tokio::time::timeout(connect_timeout, tls.handshake(server_name, stream)).await {
        Err(_) => {
            (ConnectOutcome::Timeout, None, Some(format!("tls handshake still in flight after {connect_timeout:?}")))
        }
        Ok(Ok(())) => (ConnectOutcome::Ok, None, None),
        Ok(Err(e)) => (ConnectOutcome::TlsError, e.raw_os_error(), Some(tls_error_text(&e))),
    }
}

/// The contract's outcome and the errno for an error of `connect()`.
pub(crate) fn outcome_of_io_error(error: &std::io::Error) -> (ConnectOutcome, Option<i32>) {
    use nix::errno::Errno;
    let Some(errno) = error.raw_os_error() else { return (ConnectOutcome::Other, None) };
    let outcome = match Errno::from_raw(errno) {
        Errno::ECONNREFUSED => ConnectOutcome::Refused,
        Errno::ECONNRESET | Errno::ECONNABORTED | Errno::EPIPE => ConnectOutcome::Reset,
        Errno::ETIMEDOUT => ConnectOutcome::Timeout,
        Errno::ENETUNREACH | Errno::EHOSTUNREACH | Errno::EHOSTDOWN | Errno::ENETDOWN => ConnectOutcome::Unreachable,
        _ => ConnectOutcome::Other,
    };
    (outcome, Some(errno))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;

    #[test]
    fn errnos_map_to_outcomes() {
        let cases = [
            (Errno::ECONNREFUSED, ConnectOutcome::Refused),
            (Errno::ECONNRESET, ConnectOutcome::Reset),
            (Errno::ETIMEDOUT, ConnectOutcome::Timeout),
            (Errno::ENETUNREACH, ConnectOutcome::Unreachable),
            (Errno::EHOSTUNREACH, ConnectOutcome::Unreachable),
            (Errno::EACCES, ConnectOutcome::Other),
        ];
        for (errno, want) in cases {
            let error = std::io::Error::from_raw_os_error(errno as i32);
            assert_eq!(outcome_of_io_error(&error), (want, Some(errno as i32)), "{errno}");
        }
        assert_eq!(outcome_of_io_error(&std::io::Error::other("x")), (ConnectOutcome::Other, None));
    }
}
