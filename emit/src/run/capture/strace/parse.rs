//! One line of `strace -f -ttt -T` output, parsed into what the connect tracker needs: who
//! (pid), when (microseconds since the epoch), which call with its raw arguments, and how it
//! returned. Lines of calls the tracker does not ask for still parse; lines that are not
//! strace's (a warning, a cut-off line) are `None`.

/// One parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TraceLine<'a> {
    pub(crate) pid: u32,
    /// Microseconds since the Unix epoch when the call started (or the process ended).
    pub(crate) at_us: i64,
    pub(crate) kind: LineKind<'a>,
}

/// What the line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LineKind<'a> {
    /// A call that returned: `name(args) = result <duration>`.
    Call {
        name: &'a str,
        args: &'a str,
        result: CallResult<'a>,
        duration_us: Option<i64>,
    },
    /// A call interrupted in the output by another process's line: `name(args <unfinished ...>`.
    Unfinished {
        name: &'a str,
        args: &'a str,
    },
    /// The end of an unfinished call: `<... name resumed>rest) = result <duration>`.
    Resumed {
        name: &'a str,
        rest: &'a str,
        result: CallResult<'a>,
        duration_us: Option<i64>,
    },
    /// The process ended inside the call: `name(args) = ?`.
    NoReturn {
        name: &'a str,
        args: &'a str,
    },
    Exited {
        code: i32,
    },
    Killed {
        signal: &'a str,
    },
}

/// How a call returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallResult<'a> {
    /// A non-negative return value, with what strace printed after it (e.g. poll's revents).
    Value { value: i64, detail: &'a str },
    /// `-1 ENAME (text)`.
    Error { errno_name: &'a str },
}

/// Parses one line of output; `None` for anything strace does not print for a traced call.
pub(crate) fn parse_line(line: &str) -> Option<TraceLine<'_>> {
    let line = line.trim_end();
    let (pid, rest) = line.split_once(' ')?;
    let pid = pid.parse().ok()?;
    let rest = rest.trim_start();
    let (at, body) = rest.split_once(' ')?;
    let at_us = parse_epoch_us(at)?;
    Some(TraceLine { pid, at_us, kind: parse_body(body.trim_start())? })
}

fn parse_body(body: &str) -> Option<LineKind<'_>> {
    if let Some(status) = body.strip_prefix("+++ ").and_then(|b| b.strip_suffix(" +++")) {
        if let Some(code) = status.strip_prefix("exited with ") {
            return Some(LineKind::Exited { code: code.trim().parse().ok()? });
        }
        let signal = status.strip_prefix("killed by ")?;
        return Some(LineKind::Killed { signal: signal.split_whitespace().next()? });
    }
    if let Some(resumed) = body.strip_prefix("<... ") {
        let (name, rest) = resumed.split_once(" resumed>")?;
        let (rest, result, duration_us) = split_result(rest)?;
        return Some(LineKind::Resumed { name, rest, result: result?, duration_us });
    }
    let open = body.find('(')?;
    let name = &body[..open];
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    let after_name = &body[open + 1..];
    if let Some(args) = after_name.strip_suffix(" <unfinished ...>") {
        return Some(LineKind::Unfinished { name, args });
    }
    let (args, result, duration_us) = split_result(after_name)?;
    Some(match result {
        Some(result) => LineKind::Call { name, args, result, duration_us },
        None => LineKind::NoReturn { name, args },
    })
}

/// Splits `args) = result <duration>` into the arguments, the result (`None` for `?`) and
/// the duration.
fn split_result(text: &str) -> Option<(&str, Option<CallResult<'_>>, Option<i64>)> {
    let equals = text.rfind(") = ")?;
    let args = &text[..equals];
    let mut result = text[equals + 4..].trim();
    let mut duration_us = None;
    if let Some(open) = result.rfind(" <")
        && let Some(seconds) = result[open + 2..].strip_suffix('>')
    {
        duration_us = Some(parse_seconds_us(seconds)?);
        result = &result[..open];
    }
    if result == "?" {
        return Some((args, None, duration_us));
    }
    let (value, detail) = result.split_once(' ').unwrap_or((result, ""));
    let value: i64 = value.parse().ok()?;
    let result = if value < 0 {
        CallResult::Error { errno_name: detail.split_whitespace().next()? }
    } else {
        CallResult::Value { value, detail: detail.trim() }
    };
    Some((args, Some(result), duration_us))
}

/// `1796087423.771175` (from `-ttt`) as microseconds.
fn parse_epoch_us(text: &str) -> Option<i64> {
    let (seconds, micros) = text.split_once('.')?;
    if micros.len() != 6 {
        return None;
    }
    seconds.parse::<i64>().ok()?.checked_mul(1_000_000)?.checked_add(micros.parse::<i64>().ok()?)
}

/// `0.000254` (from `-T`) as microseconds.
fn parse_seconds_us(text: &str) -> Option<i64> {
    let (seconds, fraction) = text.split_once('.')?;
    let mut micros: i64 = 0;
    for (i, digit) in fraction.bytes().take(6).enumerate() {
        if !digit.is_ascii_digit() {
            return None;
        }
        micros += i64::from(digit - b'0') * 10_i64.pow(5 - u32::try_from(i).expect("at most 6 digits"));
    }
    Some(seconds.parse::<i64>().ok()?.checked_mul(1_000_000)? + micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind_of_line() {
        let refused = CallResult::Error { errno_name: "ECONNREFUSED" };
        let cases: [(&str, Option<LineKind<'_>>); 9] = [
            (
                r#"12059 1796087437.482130 connect(3, {sa_family=AF_INET, sin_port=htons(47003), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 ECONNREFUSED (Connection refused) <0.000254>"#,
                Some(LineKind::Call {
                    name: "connect",
                    args: r#"3, {sa_family=AF_INET, sin_port=htons(47003), sin_addr=inet_addr("127.0.0.1")}, 16"#,
                    result: refused.clone(),
                    duration_us: Some(254),
                }),
            ),
            (
                "11328 1796087423.793387 poll([{fd=5, events=POLLOUT}], 1, 199) = 1 ([{fd=5, revents=POLLOUT|POLLERR}]) <0.000010>",
                Some(LineKind::Call {
                    name: "poll",
                    args: "[{fd=5, events=POLLOUT}], 1, 199",
                    result: CallResult::Value { value: 1, detail: "([{fd=5, revents=POLLOUT|POLLERR}])" },
                    duration_us: Some(10),
                }),
            ),
            (
                "11462 1796087426.229654 connect(3, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr(\"10.0.0.1\")}, 16 <unfinished ...>",
                Some(LineKind::Unfinished {
                    name: "connect",
                    args: "3, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr(\"10.0.0.1\")}, 16",
                }),
            ),
            (
                "11462 1796087427.229702 <... connect resumed>) = -1 ECONNREFUSED (Connection refused) <1.000048>",
                Some(LineKind::Resumed { name: "connect", rest: "", result: refused, duration_us: Some(1_000_048) }),
            ),
            (
                "11878 1796087436.503012 connect(3, {sa_family=AF_INET, sin_port=htons(47001), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = ?",
                Some(LineKind::NoReturn {
                    name: "connect",
                    args: "3, {sa_family=AF_INET, sin_port=htons(47001), sin_addr=inet_addr(\"127.0.0.1\")}, 16",
                }),
            ),
            ("12059 1796087437.485284 +++ exited with 0 +++", Some(LineKind::Exited { code: 0 })),
            (
                "12060 1796087437.485284 +++ killed by SIGKILL (core dumped) +++",
                Some(LineKind::Killed { signal: "SIGKILL" }),
            ),
            ("strace: Process 12 attached", None),
            ("12059 1796087437.48 connect(3", None),
        ];
        for (line, want) in cases {
            assert_eq!(parse_line(line).map(|l| l.kind), want, "{line}");
        }
        let line = parse_line("7 1796087437.000001 +++ exited with 3 +++").expect("parses");
        assert_eq!((line.pid, line.at_us), (7, 1_796_087_437_000_001));
    }
}
