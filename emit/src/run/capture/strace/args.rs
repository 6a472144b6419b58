//! The arguments and results of the traced calls as strace prints them: socket addresses,
//! socket types, `getsockopt(SO_ERROR)` values, poll's ready descriptors and clone flags.

use std::net::IpAddr;

/// Where a `connect` goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Destination {
    Ip {
        addr: IpAddr,
        port: u16,
    },
    /// A Unix socket, a netlink socket or an unspecified address: not a network connect.
    NotIp,
}

/// The descriptor and destination of `connect(fd, {sa_family=…}, len)`.
pub(crate) fn connect_args(args: &str) -> Option<(i32, Destination)> {
    let (fd, rest) = args.split_once(", ")?;
    let fd = fd.parse().ok()?;
    let family = between(rest, "sa_family=", &[',', '}'])?;
    let destination = match family {
        "AF_INET" => {
            let port = between(rest, "sin_port=htons(", &[')'])?.parse().ok()?;
            let addr = between(rest, "sin_addr=inet_addr(\"", &['"'])?.parse().ok()?;
            Destination::Ip { addr, port }
        }
        "AF_INET6" => {
            let port = between(rest, "sin6_port=htons(", &[')'])?.parse().ok()?;
            let addr = between(rest, "inet_pton(AF_INET6, \"", &['"'])?.parse().ok()?;
            Destination::Ip { addr, port }
        }
        _ => Destination::NotIp,
    };
    Some((fd, destination))
}

/// What `socket(family, type, protocol)` created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SocketKind {
    Tcp,
    Udp,
    Other,
}

pub(crate) fn socket_kind(args: &str) -> SocketKind {
    let mut parts = args.split(", ");
    let family = parts.next().unwrap_or_default();
    let kind = parts.next().unwrap_or_default();
    let inet = family == "AF_INET" || family == "AF_INET6";
    match kind.split('|').next() {
        Some("SOCK_STREAM") if inet => SocketKind::Tcp,
        Some("SOCK_DGRAM") if inet => SocketKind::Udp,
        _ => SocketKind::Other,
    }
}

/// The descriptor and reported error name (`None` for `[0]`) of
/// `getsockopt(fd, SOL_SOCKET, SO_ERROR, [ENAME], [4])`; `None` for any other option.
pub(crate) fn so_error_args(args: &str) -> Option<(i32, Option<&str>)> {
    let mut parts = args.split(", ");
    let fd = parts.next()?.parse().ok()?;
    if parts.next()? != "SOL_SOCKET" || parts.next()? != "SO_ERROR" {
        return None;
    }
    let value = parts.next()?.strip_prefix('[')?.strip_suffix(']')?;
    Some((fd, if value == "0" { None } else { Some(value) }))
}

/// The descriptors a `poll`/`ppoll` waited on, from its arguments.
pub(crate) fn polled_fds(args: &str) -> Vec<i32> {
    fds_after(args, "{fd=")
}

/// The descriptors poll reported, each with whether it reported an error (`POLLERR`, `POLLHUP`)
/// rather than only writability, from what strace prints after the return value.
pub(crate) fn poll_revents(detail: &str) -> Vec<(i32, bool)> {
    let mut ready = Vec::new();
    let mut rest = detail;
    while let Some(start) = rest.find("{fd=") {
        rest = &rest[start + 4..];
        let Some(end) = rest.find('}') else { break };
        let entry = &rest[..end];
        if let Some((fd, revents)) = entry.split_once(", revents=")
            && let Ok(fd) = fd.parse()
        {
            let failed = revents.split('|').any(|flag| flag == "POLLERR" || flag == "POLLHUP");
            ready.push((fd, failed));
        }
        rest = &rest[end..];
    }
    ready
}

/// Whether a `clone`/`clone3` made a task that shares its parent's descriptor table.
pub(crate) fn clone_shares_files(args: &str) -> bool {
    between(args, "flags=", &[',', '}']).is_some_and(|flags| flags.split('|').any(|f| f == "CLONE_FILES"))
}

fn fds_after(text: &str, marker: &str) -> Vec<i32> {
    text.match_indices(marker)
        .filter_map(|(i, _)| {
            let digits = &text[i + marker.len()..];
            let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
            digits[..end].parse().ok()
        })
        .collect()
}

/// The text after `start` up to the first of `ends`.
fn between<'a>(text: &'a str, start: &str, ends: &[char]) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let rest = &text[from..];
    Some(&rest[..rest.find(ends).unwrap_or(rest.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_connect_destinations() {
        let v4 = r#"5, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("203.0.113.7")}, 16"#;
        let v6 = r#"4, {sa_family=AF_INET6, sin6_port=htons(80), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28"#;
        let unix = r#"3, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110"#;
        let cases = [
            (v4, Some((5, Destination::Ip { addr: "203.0.113.7".parse().expect("ip"), port: 443 }))),
            (v6, Some((4, Destination::Ip { addr: "::1".parse().expect("ip"), port: 80 }))),
            (unix, Some((3, Destination::NotIp))),
            ("3, 0x7ffd, 16", None),
        ];
        for (args, want) in cases {
            assert_eq!(connect_args(args), want, "{args}");
        }
    }

    #[test]
    fn reads_sockets_options_polls_and_clones() {
        assert_eq!(socket_kind("AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_TCP"), SocketKind::Tcp);
        assert_eq!(socket_kind("AF_INET6, SOCK_DGRAM|SOCK_NONBLOCK, IPPROTO_IP"), SocketKind::Udp);
        assert_eq!(socket_kind("AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0"), SocketKind::Other);
        assert_eq!(so_error_args("5, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]"), Some((5, Some("ECONNREFUSED"))));
        assert_eq!(so_error_args("5, SOL_SOCKET, SO_ERROR, [0], [4]"), Some((5, None)));
        assert_eq!(so_error_args("5, SOL_SOCKET, SO_TYPE, [1], [4]"), None);
        assert_eq!(polled_fds("[{fd=5, events=POLLOUT}, {fd=3, events=POLLIN}], 2, 199"), vec![5, 3]);
        assert_eq!(
            poll_revents("([{fd=5, revents=POLLOUT|POLLERR|POLLHUP}, {fd=7, revents=POLLOUT}])"),
            vec![(5, true), (7, false)]
        );
        assert_eq!(poll_revents("(Timeout)"), vec![]);
        assert!(clone_shares_files("{flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_THREAD, child_tid=0x1}, 88"));
        assert!(!clone_shares_files("child_stack=NULL, flags=CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x1"));
    }
}
