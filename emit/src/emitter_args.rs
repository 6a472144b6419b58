//! The flags every command that emits events shares: brokers, topics, spool and identity.

use std::path::PathBuf;
use std::time::Duration;

use failscope_kafka::BrokersArgs;

use crate::{EmitterConfig, IdentityArgs, TopicsArgs, WorkerIdentity};

/// Where events go and how they are kept until the broker has them.
#[derive(Debug, Clone, clap::Args)]
pub struct EmitterArgs {
    #[command(flatten)]
    pub(crate) brokers: BrokersArgs,
    #[command(flatten)]
    pub(crate) topics: TopicsArgs,
    /// Directory of the durable spool holding events the broker has not acknowledged yet.
    #[arg(long, env = "FAILSCOPE_SPOOL_DIR", default_value = "/var/tmp/failscope/spool")]
    pub(crate) spool_dir: PathBuf,
    /// Largest size of the spool in bytes; when full, the oldest events are dropped and counted.
    #[arg(long, env = "FAILSCOPE_MAX_SPOOL_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub(crate) max_spool_bytes: u64,
    /// How long one event may wait for the broker's acknowledgement before it stays spooled.
    #[arg(long, env = "FAILSCOPE_DELIVERY_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub delivery_timeout: Duration,
    #[command(flatten)]
    pub(crate) identity: IdentityArgs,
}

impl EmitterArgs {
    /// The emitter configuration for `identity`.
    pub(crate) fn config(&self, identity: WorkerIdentity) -> EmitterConfig {
        EmitterConfig {
            brokers: self.brokers.brokers.clone(),
            topics: self.topics.topics(),
            spool_dir: self.spool_dir.clone(),
            max_spool_bytes: self.max_spool_bytes,
            delivery_timeout: self.delivery_timeout,
            identity,
        }
    }
}
