//! The pipeline's parts composed in one process: an embedded Kafka-protocol broker, a
//! simulated scenario run through Kafka and the ingest into a lake, and `failscope eval`,
//! which scores the classification and the region-health detector against the simulator's
//! ground truth, and `failscope demo`, which shows the diagnosis of an incident.

pub mod demo;
mod embedded_broker;
pub mod eval;
pub mod scenario_run;
