//! What a capture backend reports about one connect of the job, before the wrapper maps it to a
//! service and an owner: the same record whichever backend saw it.

use std::net::IpAddr;

use failscope_schemas::ConnectOutcome;

/// One TCP connect (or one failed name resolution) made by a process of the job.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CapturedConnect {
    /// Microseconds since the Unix epoch when the attempt started.
    pub(crate) started_at_us: i64,
    /// Microseconds until the outcome was known (for `abandoned`, how long it had been hanging).
    pub(crate) duration_us: i64,
    /// The name the program resolved, when the backend sees names.
    pub(crate) host: Option<String>,
    /// The address connected to; `None` for a name that did not resolve.
    pub(crate) addr: Option<IpAddr>,
    /// The port connected to; 0 when a failed resolution named none.
    pub(crate) port: u16,
    pub(crate) outcome: ConnectOutcome,
    pub(crate) errno: Option<i32>,
    /// Short text saying how the backend decided the outcome, when it was not an errno.
    pub(crate) note: Option<&'static str>,
    /// The CI step the connect belongs to, when the backend knows the process's own (the
    /// preload library reads its `FAILSCOPE_PHASE`); otherwise the run's phase applies.
    pub(crate) phase: Option<String>,
}

/// An `errno` name as strace prints it, as its number on Linux, for the names a connect, a
/// `getsockopt(SO_ERROR)` or a resolver socket can report.
pub(crate) fn errno_of_name(name: &str) -> Option<i32> {
    use nix::errno::Errno;
    let errno = match name {
        "EPERM" => Errno::EPERM,
        "ENOENT" => Errno::ENOENT,
        "EINTR" => Errno::EINTR,
        "EAGAIN" => Errno::EAGAIN,
        "EACCES" => Errno::EACCES,
        "EINVAL" => Errno::EINVAL,
        "EPIPE" => Errno::EPIPE,
        "EAFNOSUPPORT" => Errno::EAFNOSUPPORT,
        "EADDRINUSE" => Errno::EADDRINUSE,
        "EADDRNOTAVAIL" => Errno::EADDRNOTAVAIL,
        "ENETDOWN" => Errno::ENETDOWN,
        "ENETUNREACH" => Errno::ENETUNREACH,
        "ECONNABORTED" => Errno::ECONNABORTED,
        "ECONNRESET" => Errno::ECONNRESET,
        "EISCONN" => Errno::EISCONN,
        "ETIMEDOUT" => Errno::ETIMEDOUT,
        "ECONNREFUSED" => Errno::ECONNREFUSED,
        "EHOSTDOWN" => Errno::EHOSTDOWN,
        "EHOSTUNREACH" => Errno::EHOSTUNREACH,
        "EALREADY" => Errno::EALREADY,
        "EINPROGRESS" => Errno::EINPROGRESS,
        _ => return None,
    };
    Some(errno as i32)
}

/// The outcome a failed connect with `errno` reports, as the prober maps it.
pub(crate) fn outcome_of_errno(errno: i32) -> ConnectOutcome {
    crate::probe::outcome_of_io_error(&std::io::Error::from_raw_os_error(errno)).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names_map_to_outcomes() {
        let cases = [
            ("ECONNREFUSED", Some(111), ConnectOutcome::Refused),
            ("ETIMEDOUT", Some(110), ConnectOutcome::Timeout),
            ("ENETUNREACH", Some(101), ConnectOutcome::Unreachable),
            ("ECONNRESET", Some(104), ConnectOutcome::Reset),
            ("EACCES", Some(13), ConnectOutcome::Other),
        ];
        for (name, want_errno, want_outcome) in cases {
            let errno = errno_of_name(name);
            assert_eq!(errno, want_errno, "{name}");
            assert_eq!(outcome_of_errno(errno.expect("known")), want_outcome, "{name}");
        }
        assert_eq!(errno_of_name("ENOTANERRNO"), None);
    }
}
