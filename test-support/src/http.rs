//! Reading a running ingest's `/metrics` and `/healthz` over loopback HTTP, with nothing but
//! the standard library (one request per connection).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// `GET path` on `127.0.0.1:port`: the status code and body, or `None` if nothing answered.
pub fn get(port: u16, path: &str) -> Option<(u16, String)> {
    request(port, "GET", path)
}

/// `method path` with an empty body on `127.0.0.1:port`: the status code and body, or `None`
/// if nothing answered.
pub fn request(port: u16, method: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

/// Every sample of the metric family `name` (e.g. `failscope_ingest_flush_errors_total`),
/// `None` if `/metrics` did not answer 200.
pub fn samples(port: u16, name: &str) -> Option<Vec<f64>> {
    let (status, body) = get(port, "/metrics")?;
    if status != 200 {
        return None;
    }
    let samples = body.lines().filter(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with([' ', '{'])));
    Some(samples.filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).collect())
}

/// The sum of every sample of the metric family `name`.
pub fn metric(port: u16, name: &str) -> Option<f64> {
    samples(port, name).map(|samples| samples.iter().sum())
}

/// The status `/healthz` answers with, `None` if nothing answered.
pub fn health(port: u16) -> Option<u16> {
    get(port, "/healthz").map(|(status, _)| status)
}
