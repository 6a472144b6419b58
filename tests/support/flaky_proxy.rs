//! A loopback HTTP proxy in front of the S3 server that fails a share of the requests, each
//! in one of the ways a store or the network fails: the connection is reset before the
//! request reaches the store, the store does the work but its answer is lost, or the store
//! does the work and the answer never comes (the client times out). Every request gets a
//! connection of its own (`Connection: close`), so the faults fall on requests, not on
//! whichever pooled connection a client happens to reuse.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// How long a request may take on either side before the proxy gives up on it.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// What happened to the requests, by kind.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    pub(crate) passed: AtomicUsize,
    /// Closed before reaching the store.
    pub(crate) reset: AtomicUsize,
    /// Done by the store, the answer dropped.
    pub(crate) answer_lost: AtomicUsize,
    /// Done by the store, the answer withheld until the client gave up.
    pub(crate) hung: AtomicUsize,
}

#[derive(Debug, Clone, Copy)]
enum Fate {
    Pass,
    Reset,
    AnswerLost,
    Hang,
}

/// A running proxy; stops accepting when dropped.
#[derive(Debug)]
pub(crate) struct FlakyProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    pub(crate) faults: Arc<Faults>,
}

impl FlakyProxy {
    /// Starts a proxy to `127.0.0.1:upstream` that fails one request in three: of each nine,
    /// one reset, one answer lost, one hung.
    pub(crate) fn start(upstream: u16) -> FlakyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let faults = Arc::new(Faults::default());
        let (accept_stop, accept_faults) = (Arc::clone(&stop), Arc::clone(&faults));
        std::thread::spawn(move || {
            for (n, client) in listener.incoming().enumerate() {
                if accept_stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let fate = match n % 9 {
                    2 => Fate::Reset,
                    5 => Fate::AnswerLost,
                    8 => Fate::Hang,
                    _ => Fate::Pass,
                };
                let faults = Arc::clone(&accept_faults);
                std::thread::spawn(move || serve(client, upstream, fate, &faults));
            }
        });
        FlakyProxy { port, stop, faults }
    }

    /// The endpoint to give clients instead of the server's.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for FlakyProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread, which then sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// One request on one connection, to its fate. I/O errors end the request: the client sees
/// a closed connection, which is one more fault of the kind this proxy makes anyway.
fn serve(mut client: TcpStream, upstream: u16, fate: Fate, faults: &Faults) {
    let _ = client.set_read_timeout(Some(IO_TIMEOUT));
    let Some(request) = read_request(&mut client) else { return };
    if let Fate::Reset = fate {
        faults.reset.fetch_add(1, Ordering::SeqCst);
        return;
    }
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else { return };
    let _ = server.set_read_timeout(Some(IO_TIMEOUT));
    let mut response = Vec::new();
    if server.write_all(&connection_close(&request)).is_err() || server.read_to_end(&mut response).is_err() {
        return;
    }
    match fate {
        Fate::Pass => {
            faults.passed.fetch_add(1, Ordering::SeqCst);
            let _ = client.write_all(&response);
            let _ = client.shutdown(Shutdown::Write);
        }
        Fate::AnswerLost => {
            faults.answer_lost.fetch_add(1, Ordering::SeqCst);
        }
        Fate::Hang => {
            faults.hung.fetch_add(1, Ordering::SeqCst);
            // Hold the connection until the client gives up on it (its timeout) and closes.
            let mut rest = [0u8; 1024];
            while matches!(client.read(&mut rest), Ok(n) if n > 0) {}
        }
        Fate::Reset => unreachable!("handled before the store was reached"),
    }
}

/// The request's head and its body (by `Content-Length`; the S3 client sends no chunked
/// bodies), or `None` if the client closed first.
fn read_request(client: &mut TcpStream) -> Option<Vec<u8>> {
    let mut request = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let head_end = loop {
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = client.read(&mut buf).ok().filter(|n| *n > 0)?;
        request.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
    let body_len: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while request.len() < head_end + body_len {
        let n = client.read(&mut buf).ok().filter(|n| *n > 0)?;
        request.extend_from_slice(&buf[..n]);
    }
    Some(request)
}

/// The request with `Connection: close`, so the store closes after its answer and the end
/// of the answer is the end of the stream.
fn connection_close(request: &[u8]) -> Vec<u8> {
    let head_end = request.windows(4).position(|w| w == b"\r\n\r\n").map_or(request.len(), |at| at + 2);
    let head = String::from_utf8_lossy(&request[..head_end]);
    let mut out: Vec<u8> = head
        .split_inclusive("\r\n")
        .filter(|line| !line.to_ascii_lowercase().starts_with("connection:"))
        .flat_map(|line| line.as_bytes().to_vec())
        .collect();
    out.extend_from_slice(b"Connection: close\r\n");
    out.extend_from_slice(&request[head_end..]);
    out
}
