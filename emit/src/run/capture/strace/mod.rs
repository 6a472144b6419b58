//! The tracer backend: the job runs under `strace -f`, whose output the wrapper reads from a
//! FIFO while the job runs and turns into connect records.
//!
//! strace runs detached (`-DD`): the wrapper's child is the job itself, so its exit status,
//! signals and process group are exactly those of an uncaptured run, and strace, a grandchild
//! in its own process group, is not hit by a terminal's Ctrl-C. Only the calls the tracker needs
//! are traced, and with `--seccomp-bpf` the kernel stops the job only for those.

mod args;
mod parse;
mod reader;
mod track;

pub(crate) use reader::StraceSession;

/// The calls traced: connects, the sockets they use, how their results are learned, and the
/// clones that share descriptor tables.
const TRACED_CALLS: &str = "trace=connect,socket,getsockopt,poll,ppoll,clone,clone3,fork,vfork";

/// strace's arguments before the job's command, writing to `output`.
fn strace_args(output: &std::path::Path) -> Vec<String> {
    let mut args: Vec<String> =
        ["-f", "-DD", "-ttt", "-T", "-q", "--seccomp-bpf", "-e", "signal=none", "-e", TRACED_CALLS, "-o"]
            .map(String::from)
            .to_vec();
    args.push(output.display().to_string());
    args.push("--".into());
    args
}

#[cfg(test)]
mod fixture_tests;
