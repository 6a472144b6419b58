//! The timeline as data: `SELECT * FROM health_changes('2022-04-05T00:00:00Z',
//! '2022-04-08T00:00:00Z')` lists every state change of a period, as `failscope health --from
//! … --until …` prints it. The table function replays the detector over the lake when the
//! query runs, so the analysis never writes into the lake and the answer is always that of the
//! current detector over the current lake.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Builder, RecordBatch, StringBuilder, TimestampMillisecondBuilder, UInt64Builder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl};
use datafusion::common::{DataFusionError, ScalarValue, plan_err};
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::execution::SessionState;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use failscope_schemas::Timestamp;

use super::config::DetectorConfig;
use super::feed::HealthChange;
use super::replay::replay_in;

/// The name the table function is registered under.
pub const FUNCTION_NAME: &str = "health_changes";

/// `health_changes(from, until)`: the table function.
#[derive(Debug, Default)]
pub struct HealthChanges;

impl TableFunctionImpl for HealthChanges {
    fn call_with_args(&self, args: TableFunctionArgs) -> datafusion::error::Result<Arc<dyn TableProvider>> {
        let [from, until] = args.exprs() else {
            return plan_err!("{FUNCTION_NAME}(from, until) takes two RFC 3339 timestamps");
        };
        let (from, until) = (instant(from)?, instant(until)?);
        if from >= until {
            return plan_err!("{FUNCTION_NAME}: from ({from}) must be before until ({until})");
        }
        Ok(Arc::new(HealthChangesTable { from, until }))
    }
}

fn instant(expr: &Expr) -> datafusion::error::Result<Timestamp> {
    match expr {
        Expr::Literal(ScalarValue::Utf8(Some(text)) | ScalarValue::Utf8View(Some(text)), _) => {
            Timestamp::parse(text).map_err(|e| DataFusionError::Plan(format!("{FUNCTION_NAME}: {e}")))
        }
        Expr::Literal(ScalarValue::TimestampMillisecond(Some(ms), _), _) => Ok(Timestamp::from_millis(*ms)),
        other => plan_err!("{FUNCTION_NAME}: expected an RFC 3339 string, got {other}"),
    }
}

/// The changes of one period, computed when scanned.
#[derive(Debug)]
struct HealthChangesTable {
    from: Timestamp,
    until: Timestamp,
}

#[async_trait]
impl TableProvider for HealthChangesTable {
    fn schema(&self) -> SchemaRef {
        schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let Some(session) = state.as_any().downcast_ref::<SessionState>() else {
            return plan_err!("{FUNCTION_NAME} needs a DataFusion session state");
        };
        let ctx = SessionContext::new_with_state(session.clone());
        let replayed = replay_in(&ctx, self.from, self.until, DetectorConfig::default())
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let batch = to_batch(&replayed.changes)?;
        MemTable::try_new(schema(), vec![vec![batch]])?.scan(state, projection, filters, limit).await
    }
}

fn schema() -> SchemaRef {
    let ts = || DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("at", ts(), false),
        Field::new("scope", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("previous", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, true),
        Field::new("weight", DataType::Float64, true),
        Field::new("since", ts(), true),
        Field::new("window_minutes", DataType::UInt64, false),
        Field::new("n_attempts", DataType::UInt64, false),
        Field::new("n_failed", DataType::UInt64, false),
        Field::new("rate", DataType::Float64, false),
        Field::new("baseline_rate", DataType::Float64, false),
        Field::new("peer_rate", DataType::Float64, true),
        Field::new("p_value", DataType::Float64, false),
        Field::new("targets", DataType::Utf8, false),
        Field::new("involved", DataType::Utf8, false),
        Field::new("note", DataType::Utf8, true),
        Field::new("evidence", DataType::Utf8, false),
    ]))
}

fn to_batch(changes: &[HealthChange]) -> datafusion::error::Result<RecordBatch> {
    let mut at = TimestampMillisecondBuilder::new();
    let mut since = TimestampMillisecondBuilder::new();
    let [mut scope, mut name, mut status, mut previous, mut kind, mut targets, mut involved, mut note, mut evidence] =
        std::array::from_fn(|_| StringBuilder::new());
    let [mut weight, mut rate, mut baseline, mut peer, mut p_value] = std::array::from_fn(|_| Float64Builder::new());
    let [mut window, mut n_attempts, mut n_failed] = std::array::from_fn(|_| UInt64Builder::new());
    for c in changes {
        let e = &c.evidence;
        at.append_value(c.at.as_millis());
        scope.append_value(format!("{:?}", c.scope).to_lowercase());
        name.append_value(&c.name);
        status.append_value(c.status.as_str());
        previous.append_value(c.previous.as_str());
        kind.append_option(c.kind.map(|k| k.as_str()));
        weight.append_option(c.weight);
        since.append_option(e.since.map(Timestamp::as_millis));
        window.append_value(e.window_minutes.max(0) as u64);
        n_attempts.append_value(e.n_attempts);
        n_failed.append_value(e.n_failed);
        rate.append_value(e.rate);
        baseline.append_value(e.baseline_rate);
        peer.append_option(e.peer_rate);
        p_value.append_value(e.p_value);
        targets.append_value(e.targets.iter().map(|t| t.target.as_str()).collect::<Vec<_>>().join(","));
        involved.append_value(e.involved.join(","));
        note.append_option(e.note.as_deref());
        evidence.append_value(serde_json::to_string(e).map_err(|e| DataFusionError::External(Box::new(e)))?);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(at.finish().with_timezone("UTC")),
        Arc::new(scope.finish()),
        Arc::new(name.finish()),
        Arc::new(status.finish()),
        Arc::new(previous.finish()),
        Arc::new(kind.finish()),
        Arc::new(weight.finish()),
        Arc::new(since.finish().with_timezone("UTC")),
        Arc::new(window.finish()),
        Arc::new(n_attempts.finish()),
        Arc::new(n_failed.finish()),
        Arc::new(rate.finish()),
        Arc::new(baseline.finish()),
        Arc::new(peer.finish()),
        Arc::new(p_value.finish()),
        Arc::new(targets.finish()),
        Arc::new(involved.finish()),
        Arc::new(note.finish()),
        Arc::new(evidence.finish()),
    ];
    Ok(RecordBatch::try_new(schema(), columns)?)
}
