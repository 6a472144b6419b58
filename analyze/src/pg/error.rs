//! The Postgres errors the endpoint answers with, each with the SQLSTATE a Postgres server
//! would use, so clients react as they do to Postgres (psql prints it, drivers raise the
//! matching exception class).

use std::time::Duration;

use datafusion::error::DataFusionError;
use datafusion_postgres::pgwire::api::{ClientInfo, ErrorHandler};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError};
use tracing::debug;

use crate::guard::{Forbidden, StatementKind};

fn error(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".to_string(), code.to_string(), message)))
}

/// A statement the read-only guard refused: `read_only_sql_transaction` (what Postgres says to
/// a write in a read-only transaction), or a syntax error for several statements at once.
pub(crate) fn forbidden(refusal: Forbidden) -> PgWireError {
    let code = match refusal.kind {
        StatementKind::MultipleStatements => "42601",
        _ => "25006",
    };
    error(code, refusal.to_string())
}

/// `query_canceled`, with Postgres' own message for a statement timeout.
pub(crate) fn timeout(after: Duration) -> PgWireError {
    error("57014", format!("canceling statement due to statement timeout ({})", humantime::format_duration(after)))
}

/// `too_many_connections` is the closest class to "every statement slot is busy".
pub(crate) fn busy(waited: Duration) -> PgWireError {
    error("53300", format!("too many statements running; none finished within {}", humantime::format_duration(waited)))
}

pub(crate) fn internal(what: impl std::fmt::Display) -> PgWireError {
    error("XX000", format!("internal error: {what}"))
}

/// DataFusion's running out of memory becomes `out_of_memory`; other errors keep the text
/// `datafusion-postgres` gives them.
pub(crate) fn from_execution(e: PgWireError) -> PgWireError {
    if let PgWireError::ApiError(inner) = &e
        && let Some(df) = inner.downcast_ref::<DataFusionError>()
        && matches!(df.find_root(), DataFusionError::ResourcesExhausted(_))
    {
        return error("53200", "the statement needs more memory than the server allows".to_string());
    }
    e
}

/// Logs what is sent to clients at debug level: their errors are theirs to read.
#[derive(Debug)]
pub(crate) struct LogErrors;

impl ErrorHandler for LogErrors {
    fn on_error<C>(&self, client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        debug!(peer = %client.socket_addr(), %error, "Postgres statement failed");
    }
}

/// A plan DataFusion refused to run (DDL, DML or `SET` that got past the guard).
pub(crate) fn forbidden_plan(why: String) -> PgWireError {
    error("25006", why)
}
