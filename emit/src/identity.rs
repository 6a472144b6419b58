//! Who a worker is (`worker_id`, `region`, `provider`, `zone`), taken from flags, environment
//! variables or a TOML file, in that order of precedence.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The identity every event of this worker carries. The region is always explicit, never
/// inferred from an address or a host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerIdentity {
    pub worker_id: String,
    pub region: String,
    pub provider: String,
    pub zone: Option<String>,
}

/// Why the identity could not be established.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IdentityError {
    #[error("cannot read worker config {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid worker config {path}")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("no {field} given: pass --{flag}, set {env} or put {field} in the worker config file")]
    Missing { field: &'static str, flag: &'static str, env: &'static str },
}

/// Worker identity flags; any of them may instead come from `--worker-config`.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct IdentityArgs {
    /// This worker's id; defaults to the host name.
    #[arg(long, env = "FAILSCOPE_WORKER_ID")]
    pub(crate) worker_id: Option<String>,
    /// The region the worker runs in, e.g. `us-east-2` or `fr-par`.
    #[arg(long, env = "FAILSCOPE_REGION")]
    pub(crate) region: Option<String>,
    /// The provider the worker runs on, e.g. `aws`, `gcp`, `online.net`.
    #[arg(long, env = "FAILSCOPE_PROVIDER")]
    pub(crate) provider: Option<String>,
    /// Availability zone or rack.
    #[arg(long, env = "FAILSCOPE_ZONE")]
    pub(crate) zone: Option<String>,
    /// TOML file with `worker_id`, `region`, `provider` and `zone` keys; flags and
    /// environment variables take precedence over it.
    #[arg(long, env = "FAILSCOPE_WORKER_CONFIG")]
    pub(crate) worker_config: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityFile {
    worker_id: Option<String>,
    region: Option<String>,
    provider: Option<String>,
    zone: Option<String>,
}

impl IdentityArgs {
    /// Merges flags, environment and the config file into an identity.
    pub(crate) fn resolve(&self) -> Result<WorkerIdentity, IdentityError> {
        let file = match &self.worker_config {
            Some(path) => read_identity_file(path)?,
            None => IdentityFile::default(),
        };
        let worker_id = non_empty(self.worker_id.clone())
            .or(non_empty(file.worker_id))
            .or_else(host_name)
            .ok_or(IdentityError::Missing { field: "worker_id", flag: "worker-id", env: "FAILSCOPE_WORKER_ID" })?;
        let region = non_empty(self.region.clone()).or(non_empty(file.region)).ok_or(IdentityError::Missing {
            field: "region",
            flag: "region",
            env: "FAILSCOPE_REGION",
        })?;
        let provider = non_empty(self.provider.clone()).or(non_empty(file.provider)).ok_or(IdentityError::Missing {
            field: "provider",
            flag: "provider",
            env: "FAILSCOPE_PROVIDER",
        })?;
        let zone = non_empty(self.zone.clone()).or(non_empty(file.zone));
        Ok(WorkerIdentity { worker_id, region, provider, zone })
    }
}

fn read_identity_file(path: &Path) -> Result<IdentityFile, IdentityError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| IdentityError::Read { path: path.to_path_buf(), source })?;
    toml::from_str(&text).map_err(|source| IdentityError::Parse { path: path.to_path_buf(), source })
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

fn host_name() -> Option<String> {
    nix::unistd::gethostname().ok().and_then(|name| name.into_string().ok()).filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_config_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("worker.toml");
        std::fs::write(&path, "worker_id = \"w-file\"\nregion = \"us-east-2\"\nprovider = \"aws\"\nzone = \"a\"\n")
            .expect("write config");
        let args = IdentityArgs {
            worker_id: Some("w-flag".into()),
            zone: Some(String::new()),
            worker_config: Some(path),
            ..IdentityArgs::default()
        };
        let identity = args.resolve().expect("complete identity");
        assert_eq!(identity.worker_id, "w-flag");
        assert_eq!(identity.region, "us-east-2");
        assert_eq!(identity.provider, "aws");
        assert_eq!(identity.zone.as_deref(), Some("a"));
    }

    #[test]
    fn a_missing_region_names_the_flag() {
        let args = IdentityArgs { provider: Some("aws".into()), ..IdentityArgs::default() };
        let error = args.resolve().expect_err("no region");
        assert!(error.to_string().contains("--region"), "{error}");
    }
}
