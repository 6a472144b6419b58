//! The prober's configuration file: how often, how long to wait, and which targets.
//!
//! ```toml
//! interval = "30s"
//! connect_timeout = "5s"
//!
//! [[target]]
//! service = "api"
//! host = "api.example.com"
//! port = 443
//! tls = true
//! target_region = "us-central1"
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProbeConfigError {
    #[error("cannot read probe config {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid probe config {path}")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("invalid probe config {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProbeConfig {
    /// Time between two rounds of attempts.
    #[serde(deserialize_with = "duration_text", default = "default_interval")]
    pub(crate) interval: Duration,
    /// How long one TCP connect (and, separately, one TLS handshake) may take.
    #[serde(deserialize_with = "duration_text", default = "default_connect_timeout")]
    pub(crate) connect_timeout: Duration,
    #[serde(rename = "target")]
    pub(crate) targets: Vec<ProbeTarget>,
}

/// One service to connect to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeTarget {
    /// Logical name, e.g. `api`, `registry`, `sstate-cache-3`.
    pub service: String,
    pub host: String,
    pub port: u16,
    /// Also perform a TLS handshake after the TCP connect.
    #[serde(default)]
    pub tls: bool,
    /// Name to verify the certificate against; the host by default.
    #[serde(default)]
    pub server_name: Option<String>,
    #[serde(default)]
    pub target_region: Option<String>,
}

impl ProbeConfig {
    pub(crate) fn load(path: &Path) -> Result<ProbeConfig, ProbeConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ProbeConfigError::Read { path: path.to_path_buf(), source })?;
        let config: ProbeConfig =
            toml::from_str(&text).map_err(|source| ProbeConfigError::Parse { path: path.to_path_buf(), source })?;
        let invalid = |reason: &str| ProbeConfigError::Invalid { path: path.to_path_buf(), reason: reason.into() };
        if config.targets.is_empty() {
            return Err(invalid("no [[target]] given"));
        }
        if config.interval.is_zero() || config.connect_timeout.is_zero() {
            return Err(invalid("interval and connect_timeout must be positive"));
        }
        if config.targets.iter().any(|t| t.port == 0 || t.service.is_empty() || t.host.is_empty()) {
            return Err(invalid("every target needs a service, a host and a port between 1 and 65535"));
        }
        Ok(config)
    }
}

fn default_interval() -> Duration {
    Duration::from_secs(30)
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}

/// Durations written as humantime strings (`"30s"`, `"1m 30s"`).
fn duration_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets_and_durations() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("probe.toml");
        let text = "interval = \"10s\"\nconnect_timeout = \"1s 500ms\"\n\n[[target]]\nservice = \"api\"\nhost = \"127.0.0.1\"\nport = 443\ntls = true\n";
        std::fs::write(&path, text).expect("write");
        let config = ProbeConfig::load(&path).expect("valid config");
        assert_eq!(config.interval, Duration::from_secs(10));
        assert_eq!(config.connect_timeout, Duration::from_millis(1500));
        assert!(config.targets[0].tls);
        std::fs::write(&path, "interval = \"10s\"\ntarget = []\n").expect("write");
        assert!(ProbeConfig::load(&path).expect_err("no targets").to_string().contains("no [[target]]"));
    }
}
