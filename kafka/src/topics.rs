//! Topic names: one topic per event type, a dead-letter topic beside each, and the compacted
//! region health topic.

use failscope_schemas::EventType;

/// The topic of `connect_attempt` events when none is given.
pub(crate) const CONNECT_ATTEMPTS_TOPIC: &str = "ci.connect_attempts";

/// The topic of `job_outcome` events when none is given.
pub(crate) const JOB_OUTCOMES_TOPIC: &str = "ci.job_outcomes";

/// The compacted topic of the region health feed: one record per region, the latest state.
pub const REGION_HEALTH_TOPIC: &str = "ci.region_health";

/// The dead-letter topic of a source topic.
pub fn dead_letter_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}

/// The topic each event type is produced to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    pub connect_attempts: String,
    pub job_outcomes: String,
}

impl Topics {
    pub fn of(&self, event_type: EventType) -> &str {
        match event_type {
            EventType::ConnectAttempt => &self.connect_attempts,
            EventType::JobOutcome => &self.job_outcomes,
        }
    }

    /// Both source topics, connect attempts first.
    pub fn sources(&self) -> [&str; 2] {
        [&self.connect_attempts, &self.job_outcomes]
    }
}

impl Default for Topics {
    fn default() -> Self {
        Topics { connect_attempts: CONNECT_ATTEMPTS_TOPIC.to_string(), job_outcomes: JOB_OUTCOMES_TOPIC.to_string() }
    }
}

/// Topic flags shared by every command that produces or consumes events.
#[derive(Debug, Clone, clap::Args)]
pub struct TopicsArgs {
    /// Topic of `connect_attempt` events.
    #[arg(long, env = "FAILSCOPE_CONNECT_ATTEMPTS_TOPIC", default_value = CONNECT_ATTEMPTS_TOPIC)]
    pub(crate) connect_attempts_topic: String,
    /// Topic of `job_outcome` events.
    #[arg(long, env = "FAILSCOPE_JOB_OUTCOMES_TOPIC", default_value = JOB_OUTCOMES_TOPIC)]
    pub(crate) job_outcomes_topic: String,
}

impl TopicsArgs {
    pub fn topics(&self) -> Topics {
        Topics { connect_attempts: self.connect_attempts_topic.clone(), job_outcomes: self.job_outcomes_topic.clone() }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        topics: TopicsArgs,
    }

    #[test]
    fn the_flags_default_to_the_contracts_topics() {
        let cli = Cli::try_parse_from(["x"]).expect("no flags needed");
        assert_eq!(cli.topics.topics(), Topics::default());
        assert_eq!(dead_letter_topic("ci.job_outcomes"), "ci.job_outcomes.dlq");
    }
}
