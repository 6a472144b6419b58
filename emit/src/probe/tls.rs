//! The TLS client of the prober: a handshake verified against the system's trusted roots,
//! whose only purpose is to tell whether a TLS session could be set up.

use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// Why the TLS client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot set up TLS")]
    Rustls(#[from] rustls::Error),
}

/// Performs handshakes with certificate verification.
#[derive(Clone)]
pub struct TlsClient {
    connector: TlsConnector,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient").finish_non_exhaustive()
    }
}

impl TlsClient {
    /// A client trusting the system's root certificates (none, if they cannot be read:
    /// then every handshake fails with `tls_error`, which is what the worker would see).
    pub(crate) fn with_system_roots() -> Result<TlsClient, TlsSetupError> {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for error in &native.errors {
            tracing::warn!(%error, "cannot load a system root certificate");
        }
        let (n_added, n_ignored) = roots.add_parsable_certificates(native.certs);
        tracing::debug!(n_added, n_ignored, "loaded system root certificates");
        TlsClient::with_roots(roots)
    }

    pub fn with_roots(roots: RootCertStore) -> Result<TlsClient, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsClient { connector: TlsConnector::from(Arc::new(config)) })
    }

    /// Performs a handshake over `stream` and closes the session.
    pub(crate) async fn handshake(&self, server_name: &str, stream: TcpStream) -> std::io::Result<()> {
        let name = ServerName::try_from(server_name.to_string())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let mut session = self.connector.connect(name, stream).await?;
        let _ = session.shutdown().await;
        Ok(())
    }
}

/// A short text for a failed handshake: the TLS alert or verification error when there is one.
pub(super) fn tls_error_text(error: &std::io::Error) -> String {
    match error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(tls) => format!("tls handshake failed: {tls}"),
        None => format!("tls handshake failed: {error}"),
    }
}
