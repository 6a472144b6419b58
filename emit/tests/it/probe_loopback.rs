//! Probe attempts against loopback listeners only: a closed port, a listener whose accept
//! backlog is full, a TLS server with an untrusted certificate, and a shutdown mid-attempt.

use std::sync::Arc;
use std::time::{Duration, Instant};

use failscope_emit::probe::{ProbeTarget, TlsClient, attempt_connect};
use failscope_schemas::ConnectOutcome;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, RootCertStore};
use tokio_util::sync::CancellationToken;

fn target(port: u16, tls: bool) -> ProbeTarget {
    ProbeTarget {
        service: "api".into(),
        host: "127.0.0.1".into(),
        port,
        tls,
        server_name: Some("localhost".into()),
        target_region: None,
    }
}

fn no_roots() -> TlsClient {
    TlsClient::with_roots(RootCertStore::empty()).expect("tls client")
}

/// A loopback listener that never accepts, with its accept queue filled so that further
/// SYNs are dropped. Returns the listener and the connections that fill it.
async fn full_backlog_listener() -> (tokio::net::TcpListener, Vec<TcpStream>) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
    let listener = socket.listen(0).expect("listen");
    let addr = listener.local_addr().expect("addr");
    let mut fillers = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "the accept queue never filled");
        match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => fillers.push(stream),
            Ok(Err(e)) => panic!("filling the backlog: {e}"),
            Err(_) => return (listener, fillers),
        }
    }
}

#[tokio::test]
async fn a_closed_port_is_refused() {
    let port = TcpListener::bind("127.0.0.1:0").await.expect("bind").local_addr().expect("addr").port();
    let result =
        attempt_connect(&target(port, false), Duration::from_secs(5), &no_roots(), &CancellationToken::new()).await;
    assert_eq!(result.outcome, ConnectOutcome::Refused, "{result:?}");
    assert_eq!(result.errno, Some(111));
    assert_eq!(result.target_addr.map(|a| a.port()), Some(port));
}

#[tokio::test]
async fn a_full_accept_backlog_times_out_at_the_deadline() {
    let (listener, _fillers) = full_backlog_listener().await;
    let port = listener.local_addr().expect("addr").port();
    let timeout = Duration::from_millis(800);
    let result = attempt_connect(&target(port, false), timeout, &no_roots(), &CancellationToken::new()).await;
    assert_eq!(result.outcome, ConnectOutcome::Timeout, "{result:?}");
    assert!(result.duration >= timeout && result.duration < timeout * 3, "{:?}", result.duration);
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_error() {
    let cert = CertificateDer::from_pem_slice(include_bytes!("../fixtures/self_signed.crt")).expect("cert");
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("../fixtures/self_signed.key")).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(async move {
        if let Ok((stream, _)) = listener.accept().await {
            let _ = acceptor.accept(stream).await;
        }
    });
    let result =
        attempt_connect(&target(port, true), Duration::from_secs(5), &no_roots(), &CancellationToken::new()).await;
    assert_eq!(result.outcome, ConnectOutcome::TlsError, "{result:?}");
    assert!(result.error.as_deref().is_some_and(|e| e.contains("certificate")), "{result:?}");
    server.await.expect("server task");
}

#[tokio::test]
async fn shutdown_mid_attempt_is_abandoned() {
    let (listener, _fillers) = full_backlog_listener().await;
    let port = listener.local_addr().expect("addr").port();
    let shutdown = CancellationToken::new();
    let attempt = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { attempt_connect(&target(port, false), Duration::from_secs(60), &no_roots(), &shutdown).await }
    });
    tokio::task::yield_now().await;
    shutdown.cancel();
    let result = tokio::time::timeout(Duration::from_secs(10), attempt).await.expect("ends promptly").expect("task");
    assert_eq!(result.outcome, ConnectOutcome::Abandoned, "{result:?}");
    assert!(result.duration < Duration::from_secs(60));
}
