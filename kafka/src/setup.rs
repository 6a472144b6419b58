//! Topic set-up: the topics failscope needs with their partitions, replication and retention
//! (the event topics, their dead-letter topics, the compacted region health topic), created
//! by `failscope topics create`, and by the ingest and the simulator when missing.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::error::RDKafkaErrorCode;
use tokio_util::sync::CancellationToken;

use crate::brokers::admin_client;
use crate::{BrokersArgs, KafkaError, REGION_HEALTH_TOPIC, Topics, TopicsArgs, dead_letter_topic};

/// Partitions of each event topic when none are given.
pub const DEFAULT_PARTITIONS: &str = "6";

/// One topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub n_partitions: i32,
    pub replication: i32,
    /// Topic-level settings, e.g. `retention.ms` or `cleanup.policy`.
    pub config: Vec<(&'static str, String)>,
}

impl TopicSpec {
    /// Every topic failscope uses: the event topics with `n_partitions`, a one-partition
    /// dead-letter topic for each (both kept for `retention`, the broker's default when
    /// `None`), and the compacted region health topic, which keeps each region's latest state.
    pub fn plan(topics: &Topics, n_partitions: i32, replication: i32, retention: Option<Duration>) -> Vec<TopicSpec> {
        let retention: Vec<(&'static str, String)> =
            retention.map(|r| ("retention.ms", r.as_millis().to_string())).into_iter().collect();
        let spec = |name: String, n_partitions: i32, config: Vec<(&'static str, String)>| TopicSpec {
            name,
            n_partitions,
            replication,
            config,
        };
        let mut plan: Vec<TopicSpec> =
            topics.sources().iter().map(|t| spec(t.to_string(), n_partitions, retention.clone())).collect();
        plan.extend(topics.sources().iter().map(|t| spec(dead_letter_topic(t), 1, retention.clone())));
        plan.push(spec(REGION_HEALTH_TOPIC.to_string(), 1, vec![("cleanup.policy", "compact".to_string())]));
        plan
    }
}

/// Creates the topics of `specs` that do not exist yet; returns the names it created (the
/// others existed and are left as they are).
pub async fn create_topic_specs(brokers: &str, specs: &[TopicSpec]) -> Result<Vec<String>, KafkaError> {
    // Only the missing ones are asked for: a broker without the CreateTopics API (the embedded
    // one of `failscope demo` and `eval`) or an account without the right to create topics
    // then works once they are in place.
    let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    let lookup = brokers.to_string();
    let missing = tokio::task::spawn_blocking(move || {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        missing_topics(&lookup, &names, Duration::from_secs(10))
    })
    .await
    .map_err(|e| KafkaError::Unreachable {
        brokers: brokers.to_string(),
        timeout: Duration::from_secs(10),
        reason: e.to_string(),
    })??;
    let specs: Vec<&TopicSpec> = specs.iter().filter(|s| missing.contains(&s.name)).collect();
    if specs.is_empty() {
        return Ok(Vec::new());
    }
    let admin = admin_client(brokers)?;
    let new_topics: Vec<NewTopic<'_>> = specs
        .iter()
        .map(|s| {
            let topic = NewTopic::new(&s.name, s.n_partitions, TopicReplication::Fixed(s.replication));
            s.config.iter().fold(topic, |topic, (key, value)| topic.set(key, value))
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let names = || specs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(",");
    let results = admin
        .create_topics(&new_topics, &options)
        .await
        .map_err(|source| KafkaError::CreateTopic { topic: names(), source })?;
    let mut created = Vec::new();
    for result in results {
        match result {
            Ok(topic) => created.push(topic),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(KafkaError::CreateTopic { topic, source: rdkafka::error::KafkaError::AdminOp(code) });
            }
        }
    }
    Ok(created)
}

/// Creates the topics that do not exist yet, with `n_partitions` each and the broker's
/// defaults otherwise.
pub async fn create_topics(brokers: &str, names: &[&str], n_partitions: i32) -> Result<(), KafkaError> {
    let specs: Vec<TopicSpec> = names
        .iter()
        .map(|name| TopicSpec { name: name.to_string(), n_partitions, replication: 1, config: Vec::new() })
        .collect();
    create_topic_specs(brokers, &specs).await.map(|_| ())
}

/// The topics of `names` the cluster does not have. Blocking: call it from a blocking
/// context. Lists the cluster's topics rather than asking for each, which on some brokers
/// would create them.
pub fn missing_topics(brokers: &str, names: &[&str], timeout: Duration) -> Result<Vec<String>, KafkaError> {
    let admin = admin_client(brokers)?;
    let metadata = admin.inner().fetch_metadata(None, timeout).map_err(|e| KafkaError::Unreachable {
        brokers: brokers.to_string(),
        timeout,
        reason: e.to_string(),
    })?;
    Ok(names
        .iter()
        .filter(|name| !metadata.topics().iter().any(|t| t.name() == **name && t.error().is_none()))
        .map(|name| name.to_string())
        .collect())
}

/// `failscope topics ...`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum TopicsCommand {
    /// Create every topic failscope uses, with partitions, replication and retention: the
    /// event topics, their dead-letter topics and the compacted `ci.region_health`. Topics
    /// that exist are left as they are.
    Create(TopicsCreateArgs),
}

/// Runs a `failscope topics` subcommand.
pub async fn run_topics(command: TopicsCommand, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    match command {
        TopicsCommand::Create(args) => run_topics_create(args, shutdown).await,
    }
}

/// `failscope topics create`: creates every topic failscope uses.
#[derive(Debug, Clone, clap::Args)]
pub struct TopicsCreateArgs {
    #[command(flatten)]
    pub(crate) brokers: BrokersArgs,
    #[command(flatten)]
    pub(crate) topics: TopicsArgs,
    /// Partitions of each event topic; the ingest's consumers share them.
    #[arg(long, env = "FAILSCOPE_PARTITIONS", default_value = DEFAULT_PARTITIONS)]
    pub(crate) partitions: i32,
    /// Copies of each partition on distinct brokers.
    #[arg(long, env = "FAILSCOPE_REPLICATION", default_value_t = 1)]
    pub(crate) replication: i32,
    /// How long the event and dead-letter topics keep messages (e.g. 7d, 36h).
    #[arg(long, env = "FAILSCOPE_RETENTION", default_value = "7d", value_parser = humantime::parse_duration)]
    pub(crate) retention: Duration,
}

/// Runs `failscope topics create`: one line per topic, created or already there.
pub(crate) async fn run_topics_create(args: TopicsCreateArgs, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.partitions > 0, "--partitions must be at least 1");
    anyhow::ensure!(args.replication > 0, "--replication must be at least 1");
    let plan = TopicSpec::plan(&args.topics.topics(), args.partitions, args.replication, Some(args.retention));
    let created = tokio::select! {
        created = create_topic_specs(&args.brokers.brokers, &plan) => created,
        () = shutdown.cancelled() => anyhow::bail!("interrupted by a signal; some topics may have been created"),
    };
    let created = created.with_context(|| format!("cannot create the topics on {}", args.brokers.brokers))?;
    for spec in &plan {
        let verb = if created.contains(&spec.name) { "created" } else { "exists " };
        let config: Vec<String> = spec.config.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "{verb} {} (partitions {}, replication {}{}{})",
            spec.name,
            spec.n_partitions,
            spec.replication,
            if config.is_empty() { "" } else { ", " },
            config.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_has_the_event_dead_letter_and_health_topics() {
        let plan = TopicSpec::plan(&Topics::default(), 6, 3, Some(Duration::from_secs(3600)));
        let summary: Vec<String> =
            plan.iter().map(|s| format!("{} {} {} {:?}", s.name, s.n_partitions, s.replication, s.config)).collect();
        let hour = r#"[("retention.ms", "3600000")]"#;
        assert_eq!(
            summary,
            [
                format!("ci.connect_attempts 6 3 {hour}"),
                format!("ci.job_outcomes 6 3 {hour}"),
                format!("ci.connect_attempts.dlq 1 3 {hour}"),
                format!("ci.job_outcomes.dlq 1 3 {hour}"),
                r#"ci.region_health 1 3 [("cleanup.policy", "compact")]"#.to_string(),
            ]
        );
        assert!(TopicSpec::plan(&Topics::default(), 6, 1, None)[0].config.is_empty());
    }
}
