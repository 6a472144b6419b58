//! What connect capture costs a job (`cargo bench -p failscope-capture`, figures in the
//! README): the preload library's overhead per connect, and the slowdown under each backend
//! of a small C build (gcc, cp, ar) and of a worst case of 800 tiny processes.
//!
//! Both compare the same child with and without capture in pairs of runs (7 pairs, or
//! FAILSCOPE_BENCH_RUNS), on the CPU time (user + system) the child's processes used, which
//! other work on the machine disturbs less than wall time (both are printed). The change is
//! the median of the pairs' own changes: a pair's two runs see the same machine, so a load that
//! comes and goes moves both. FAILSCOPE_CAPTURE_LIBRARY names another build of the library to
//! measure. The connects go to a closed loopback port: refused at once, so the kernel's cost is
//! the smallest a connect can be and the library's share the largest. The wrapper's side is
//! played by a thread draining the record socket, as `failscope run` does; strace writes to
//! /dev/null, so its figure is the tracer's cost to the job alone.
// The child's loop calls connect through libc directly, so the figure is the library's and the
// kernel's, not a standard-library wrapper's; the capture crate is where that unsafe lives.
#![allow(unsafe_code)]

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const N_CONNECTS: u32 = 20_000;
/// A small C build: generate, compile and archive 24 files (gcc runs cc1 and as for each).
const BUILD: &str = r#"d=$(mktemp -d); i=0
while [ $i -lt 24 ]; do
  printf '#include <string.h>\nint f%d(const char *s) { return (int)strlen(s) * %d; }\n' $i $i > "$d/f$i.c"
  cc -O1 -c -o "$d/f$i.o" "$d/f$i.c"; cp "$d/f$i.o" "$d/f$i.copy"; i=$((i + 1))
done
ar rcs "$d/lib.a" "$d"/*.o; rm -rf "$d""#;
/// The worst case: 800 tiny processes (cat, wc) doing little but start, plus file writes.
const SHORT_PROCESSES: &str = r#"d=$(mktemp -d); i=0
while [ $i -lt 400 ]; do
  echo "int f$i(void) { return $i; }" > "$d/f$i.c"; cat "$d/f$i.c" | wc -c > "$d/f$i.o"; i=$((i + 1))
done
rm -rf "$d""#;

fn main() {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("--connect-loop") {
        let port: u16 = args.next().and_then(|p| p.parse().ok()).expect("port");
        connect_loop(port);
        return;
    }
    let library = library_path();
    println!("preload library: {}", library.display());
    assert!(
        library.is_file(),
        "{} missing: build it with `cargo build --profile capture -p failscope-capture` (scripts/bench.sh capture does)",
        library.display()
    );
    let dir = std::env::temp_dir().join(format!("failscope-capture-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let socket_path = dir.join("records.sock");
    let receiver = UnixDatagram::bind(&socket_path).expect("bind record socket");
    let drained = std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        let mut n = 0_u64;
        while receiver.recv(&mut buffer).is_ok_and(|len| len > 0) {
            n += 1;
        }
        n
    });
    let preload = [("LD_PRELOAD", library.as_os_str()), ("FAILSCOPE_CAPTURE_SOCKET", socket_path.as_os_str())];

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed_port = closed.local_addr().expect("addr").port();
    drop(closed);
    let exe = std::env::current_exe().expect("own path");
    let loop_cmd = |env: &[(&str, &std::ffi::OsStr)]| {
        let mut c = Command::new(&exe);
        c.args(["--connect-loop", &closed_port.to_string()]).envs(env.iter().copied());
        c
    };
    let connects = compare(|| loop_cmd(&[]), || loop_cmd(&preload));
    let per_connect_us = |seconds: f64| seconds * 1e6 / f64::from(N_CONNECTS);
    println!(
        "connect (refused, {N_CONNECTS} per run, median of {}): CPU {:.2} us plain, {:.2} us with the \
         preload library: {:+.2} us per connect; wall {:.2} us, {:.2} us: {:+.2} us",
        n_rounds(),
        per_connect_us(connects.plain.cpu.as_secs_f64()),
        per_connect_us(connects.captured.cpu.as_secs_f64()),
        per_connect_us(connects.cpu_difference),
        per_connect_us(connects.plain.wall.as_secs_f64()),
        per_connect_us(connects.captured.wall.as_secs_f64()),
        per_connect_us(connects.wall_difference),
    );

    let has_cc = Command::new("cc").arg("--version").output().is_ok_and(|o| o.status.success());
    let has_strace = Command::new("strace").arg("-V").output().is_ok_and(|o| o.status.success());
    for (name, workload) in [("C build", BUILD), ("short processes", SHORT_PROCESSES)] {
        if workload == BUILD && !has_cc {
            println!("{name}: skipped, no C compiler");
            continue;
        }
        let shell = |env: &[(&str, &std::ffi::OsStr)]| {
            let mut c = Command::new("sh");
            c.args(["-c", workload]).envs(env.iter().copied());
            c
        };
        report(&format!("{name}, preload"), &compare(|| shell(&[]), || shell(&preload)));
        if has_strace {
            let traced = || {
                let mut c = Command::new("strace");
                c.args(["-f", "-ttt", "-T", "-q", "--seccomp-bpf", "-e", "signal=none"])
                    .args([
                        "-e",
                        "trace=connect,socket,getsockopt,poll,ppoll,clone,clone3,fork,vfork",
                        "-o",
                        "/dev/null",
                    ])
                    .args(["--", "sh", "-c", workload]);
                c
            };
            report(&format!("{name}, strace"), &compare(|| shell(&[]), traced));
        }
    }
    let _ = std::fs::remove_file(&socket_path);
    let _ = std::fs::remove_dir(&dir);
    drop(drained);
}

/// How many runs of each child to take the median of.
fn n_rounds() -> usize {
    std::env::var("FAILSCOPE_BENCH_RUNS").ok().and_then(|n| n.parse().ok()).filter(|&n| n > 0).unwrap_or(7)
}

/// CPU time and wall time of one run.
#[derive(Debug, Clone, Copy)]
struct Cost {
    cpu: Duration,
    wall: Duration,
}

/// Pairs of runs of the same child, plain and captured.
#[derive(Debug)]
struct Comparison {
    /// The median of each side's runs.
    plain: Cost,
    captured: Cost,
    /// The medians of the pairs' ratios (captured ÷ plain) and differences (in seconds).
    cpu_ratio: f64,
    wall_ratio: f64,
    cpu_difference: f64,
    wall_difference: f64,
}

/// Runs `plain` and `captured` in turn, `n_rounds()` pairs.
fn compare(plain: impl Fn() -> Command, captured: impl Fn() -> Command) -> Comparison {
    let pairs: Vec<(Cost, Cost)> = (0..n_rounds()).map(|_| (cost(plain()), cost(captured()))).collect();
    let of = |figure: fn(&(Cost, Cost)) -> f64| median(pairs.iter().map(figure).collect());
    Comparison {
        plain: Cost {
            cpu: Duration::from_secs_f64(of(|(p, _)| p.cpu.as_secs_f64())),
            wall: Duration::from_secs_f64(of(|(p, _)| p.wall.as_secs_f64())),
        },
        captured: Cost {
            cpu: Duration::from_secs_f64(of(|(_, c)| c.cpu.as_secs_f64())),
            wall: Duration::from_secs_f64(of(|(_, c)| c.wall.as_secs_f64())),
        },
        cpu_ratio: of(|(p, c)| c.cpu.as_secs_f64() / p.cpu.as_secs_f64()),
        wall_ratio: of(|(p, c)| c.wall.as_secs_f64() / p.wall.as_secs_f64()),
        cpu_difference: of(|(p, c)| c.cpu.as_secs_f64() - p.cpu.as_secs_f64()),
        wall_difference: of(|(p, c)| c.wall.as_secs_f64() - p.wall.as_secs_f64()),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn cost(mut command: Command) -> Cost {
    let before = children_cpu();
    let started = Instant::now();
    let status = command.stdout(Stdio::null()).status().expect("run");
    assert!(status.success(), "{command:?}: {status}");
    Cost { cpu: children_cpu() - before, wall: started.elapsed() }
}

/// CPU time used by every waited-for descendant so far.
fn children_cpu() -> Duration {
    // SAFETY: rusage is plain data and getrusage fills it whole.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a live, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

fn report(what: &str, c: &Comparison) {
    println!(
        "{what} (median of {}): CPU {:.1} ms plain, {:.1} ms captured: {:+.1} %; wall {:.1} ms, {:.1} ms: {:+.1} %",
        n_rounds(),
        c.plain.cpu.as_secs_f64() * 1e3,
        c.captured.cpu.as_secs_f64() * 1e3,
        (c.cpu_ratio - 1.0) * 100.0,
        c.plain.wall.as_secs_f64() * 1e3,
        c.captured.wall.as_secs_f64() * 1e3,
        (c.wall_ratio - 1.0) * 100.0,
    );
}

/// The child: `N_CONNECTS` times socket, connect to `port` on loopback, close (with a zero
/// linger, so accepted connections leave no TIME_WAIT behind).
fn connect_loop(port: u16) {
    let address = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be() },
        sin_zero: [0; 8],
    };
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    for _ in 0..N_CONNECTS {
        // SAFETY: plain socket calls on a descriptor this loop owns, with live locals of the
        // sizes passed.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            assert!(fd >= 0, "socket");
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&raw const linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
            libc::connect(fd, (&raw const address).cast(), std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t);
            libc::close(fd);
        }
    }
}

/// The library at `FAILSCOPE_CAPTURE_LIBRARY` (as `failscope run` takes it; to compare two
/// builds), or as shipped, built with the `capture` profile: target/capture/, beside this
/// binary's target/release/.
fn library_path() -> PathBuf {
    if let Some(path) = std::env::var_os("FAILSCOPE_CAPTURE_LIBRARY") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("own path");
    let target_dir = exe.ancestors().nth(3).expect("target/<profile>/deps/<bench>");
    target_dir.join("capture").join("libfailscope_capture.so")
}
