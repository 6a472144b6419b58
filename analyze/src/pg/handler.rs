//! Every statement a Postgres client sends, simple or extended protocol: parsed as Postgres,
//! refused unless it is one read-only query (or a transaction command, `SHOW`, or a `SET` of
//! how this connection's results are shown, which change nothing shared), planned with DDL,
//! DML and `SET` refused a second time by DataFusion, then run in a statement slot under the
//! statement timeout and the row cap. `datafusion-postgres` does the
//! protocol work: parameter binding, the `pg_catalog` rewrites, encoding, `SHOW` and the
//! no-op transactions.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Expr, Set, Statement};
use datafusion_postgres::arrow_pg::datatypes::df::encode_dataframe;
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::pgwire::api::portal::{Format, Portal};
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::results::{FieldInfo, QueryResponse, Response};
use datafusion_postgres::pgwire::api::stmt::QueryParser;
use datafusion_postgres::pgwire::api::store::PortalStore;
use datafusion_postgres::pgwire::api::{ClientInfo, ClientPortalStore, Type};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::PgWireBackendMessage;
use datafusion_postgres::pgwire::types::format::FormatOptions;
use datafusion_postgres::{DfSessionService, Parser, QueryHook};
use futures::{Sink, SinkExt, StreamExt};
use tokio::sync::Semaphore;
use tokio::time::{Instant, timeout, timeout_at};

use super::PgConfig;
use super::{error, listing, params};
use crate::guard::{self, Forbidden, StatementKind};
use crate::task::AbortOnDrop;

/// The statement `datafusion-postgres` keeps for a prepared statement: its text, and the
/// parsed statement with its plan.
type Prepared = <Parser as QueryParser>::Statement;

/// The simple and extended query handlers of the endpoint.
pub(crate) struct GuardedQueries {
    ctx: Arc<SessionContext>,
    /// `datafusion-postgres`' own handler, reached only by statements the guard let through.
    inner: Arc<DfSessionService>,
    parser: Arc<GuardedParser>,
    limits: Limits,
}

impl Debug for GuardedQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedQueries").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl GuardedQueries {
    pub(crate) fn new(ctx: Arc<SessionContext>, config: &PgConfig, slots: Arc<Semaphore>) -> GuardedQueries {
        // No cursor hook: `DECLARE` is refused, and a cursor would outlive the statement timeout.
        let hooks: Vec<Arc<dyn QueryHook>> = vec![Arc::new(SetShowHook), Arc::new(TransactionStatementHook)];
        let inner = Arc::new(DfSessionService::new_with_hooks(Arc::clone(&ctx), hooks));
        let parser =
            Arc::new(GuardedParser { inner: inner.query_parser(), postgres: PostgresCompatibilityParser::new() });
        let limits = Limits {
            statement_timeout: config.statement_timeout,
            row_cap: config.row_cap,
            queue_timeout: config.queue_timeout,
            slots,
        };
        GuardedQueries { ctx, inner, parser, limits }
    }
}

#[async_trait]
impl SimpleQueryHandler for GuardedQueries {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statements = self.parser.parse(query)?;
        let Some(statement) = statements.into_iter().next() else {
            return Ok(vec![Response::EmptyQuery]);
        };
        // Only what `check` admitted reaches a handler, whatever `check` says: the inner handler
        // runs the transaction commands and `SHOW`, and would run anything else unchecked.
        match role(&statement) {
            Some(Role::Query) => {}
            Some(Role::Session) => return SimpleQueryHandler::do_query(self.inner.as_ref(), client, query).await,
            None => return Err(error::forbidden(Forbidden { kind: StatementKind::Other })),
        }
        let format_options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
        let run = async {
            let plan = plan_checked(&self.ctx, statement).await?;
            let df = self.ctx.execute_logical_plan(plan).await.map_err(|e| PgWireError::ApiError(Box::new(e)))?;
            Ok(Response::Query(encode_dataframe(df, &Format::UnifiedText, Some(format_options)).await?))
        };
        let (response, truncated) = self.limits.run(run).await?;
        self.limits.notify_if_truncated(client, truncated).await?;
        Ok(vec![response])
    }
}

#[async_trait]
impl ExtendedQueryHandler for GuardedQueries {
    type Statement = Prepared;
    type QueryParser = GuardedParser;

    fn query_parser(&self) -> Arc<GuardedParser> {
        Arc::clone(&self.parser)
    }

    async fn do_query<C>(&self, client: &mut C, portal: &Portal<Prepared>, max_rows: usize) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match &portal.statement.statement {
            (_, Some((statement, _))) => match role(statement) {
                Some(Role::Query) => {}
                Some(Role::Session) => {
                    return ExtendedQueryHandler::do_query(self.inner.as_ref(), client, portal, max_rows).await;
                }
                None => return Err(error::forbidden(Forbidden { kind: StatementKind::Other })),
            },
            (_, None) => return Ok(Response::EmptyQuery),
        }
        // Bound parameters, planning and encoding are `datafusion-postgres`'; the plan was
        // checked when the statement was parsed.
        let (response, truncated) =
            self.limits.run(ExtendedQueryHandler::do_query(self.inner.as_ref(), client, portal, max_rows)).await?;
        self.limits.notify_if_truncated(client, truncated).await?;
        Ok(response)
    }
}

/// Parses prepared statements: the guard first, then `datafusion-postgres`' parser and planner,
/// then the plan checked.
pub(crate) struct GuardedParser {
    inner: Arc<Parser>,
    postgres: PostgresCompatibilityParser,
}

impl GuardedParser {
    /// The statements of `sql` as they will run (after the Postgres compatibility rewrites,
    /// and with `psql`'s `\dt` listing the views: `listing.rs`), refused unless there is at
    /// most one and it is allowed. psql sends its listings by the simple protocol, which runs
    /// these statements; the extended protocol checks them and plans the text again.
    fn parse(&self, sql: &str) -> PgWireResult<Vec<Statement>> {
        let mut statements = self.postgres.parse(sql).map_err(|e| {
            PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".into(), "42601".into(), e.to_string())))
        })?;
        check(&statements).map_err(error::forbidden)?;
        statements.iter_mut().for_each(listing::tables_listing_with_views);
        Ok(statements)
    }
}

#[async_trait]
impl QueryParser for GuardedParser {
    type Statement = Prepared;

    async fn parse_sql<C>(&self, client: &C, sql: &str, types: &[Option<Type>]) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let mut statements = self.parse(sql)?;
        // Parameters the client typed keep their type (`params.rs`).
        let mut typed = None;
        if let Some(statement) = statements.first_mut()
            && params::declare_parameter_types(statement, types)
        {
            typed = Some(statement.to_string());
        }
        let prepared = self.inner.parse_sql(client, typed.as_deref().unwrap_or(sql), types).await?;
        if let Some((_, Some((_, plan)))) = &prepared {
            verify(plan)?;
        }
        Ok(prepared)
    }

    fn get_parameter_types(&self, stmt: &Prepared) -> PgWireResult<Vec<Type>> {
        self.inner.get_parameter_types(stmt)
    }

    fn get_result_schema(&self, stmt: &Prepared, column_format: Option<&Format>) -> PgWireResult<Vec<FieldInfo>> {
        self.inner.get_result_schema(stmt, column_format)
    }
}

/// At most one statement, and that one read-only. Transaction commands are accepted (drivers
/// open transactions on their own; there is nothing to commit), `SHOW` reads a setting, and a
/// driver may set how its own results are shown (`CONNECTION_SETTINGS`).
fn check(statements: &[Statement]) -> Result<(), Forbidden> {
    match statements {
        [] => Ok(()),
        [statement] if role(statement) == Some(Role::Session) => Ok(()),
        [statement] => guard::check_statement(statement),
        _ => Err(Forbidden { kind: StatementKind::MultipleStatements }),
    }
}

/// What an admitted statement is to the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Reads the lake: runs under the limits.
    Query,
    /// A transaction command, `SHOW` or a connection setting: answered by `datafusion-postgres`'
    /// hooks.
    Session,
}

/// Settings of how this connection's results are shown, which drivers set on their own
/// (pgjdbc and so DBeaver send `extra_float_digits` and `application_name`): `datafusion-
/// postgres`' hook keeps them with the connection and they change no limit and nothing of the
/// shared session. Every other `SET` (`statement_timeout`, `TIME ZONE`, DataFusion's options)
/// is refused.
const CONNECTION_SETTINGS: [&str; 5] =
    ["application_name", "extra_float_digits", "datestyle", "intervalstyle", "bytea_output"];

/// `None` for a statement no handler may run.
fn role(statement: &Statement) -> Option<Role> {
    match statement {
        Statement::Query(_) | Statement::Explain { .. } => Some(Role::Query),
        Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::ShowVariable { .. } => Some(Role::Session),
        // The one form the hook answers itself: `SET name = literal`, no `SESSION`/`LOCAL`.
        Statement::Set(Set::SingleAssignment { scope: None, hivevar: false, variable, values })
            if matches!(values.as_slice(), [Expr::Value(_)])
                && CONNECTION_SETTINGS.contains(&variable.to_string().to_ascii_lowercase().as_str()) =>
        {
            Some(Role::Session)
        }
        _ => None,
    }
}

/// Plans one statement, DataFusion refusing DDL, DML and `SET` as a second line of defence.
async fn plan_checked(ctx: &SessionContext, statement: Statement) -> PgWireResult<LogicalPlan> {
    let plan = ctx
        .state()
        .statement_to_plan(DfStatement::Statement(Box::new(statement)))
        .await
        .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
    verify(&plan)?;
    Ok(plan)
}

fn verify(plan: &LogicalPlan) -> PgWireResult<()> {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
        .verify_plan(plan)
        .map_err(|e| error::forbidden_plan(e.to_string()))
}

/// The statement slots, timeout and row cap, shared in meaning with the HTTP API.
#[derive(Debug)]
struct Limits {
    statement_timeout: Duration,
    row_cap: usize,
    queue_timeout: Duration,
    slots: Arc<Semaphore>,
}

impl Limits {
    /// Waits for a slot, then runs `statement` and reads its rows, at most the row cap, all
    /// within the statement timeout; says whether rows were cut. The rows are read in a task of
    /// their own, aborted when the timeout passes or the client cancels (this future is then
    /// dropped), which drops DataFusion's stream and so stops its work.
    async fn run<F>(&self, statement: F) -> PgWireResult<(Response, bool)>
    where
        F: Future<Output = PgWireResult<Response>> + Send,
    {
        let permit = match timeout(self.queue_timeout, Arc::clone(&self.slots).acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(closed)) => return Err(error::internal(closed)),
            Err(_) => return Err(error::busy(self.queue_timeout)),
        };
        let deadline = Instant::now() + self.statement_timeout;
        let response = timeout_at(deadline, statement)
            .await
            .map_err(|_| error::timeout(self.statement_timeout))?
            .map_err(error::from_execution)?;
        let Response::Query(QueryResponse { command_tag, row_schema, mut data_rows, .. }) = response else {
            return Ok((response, false));
        };
        let row_cap = self.row_cap;
        let mut reading = AbortOnDrop::spawn(async move {
            let _permit = permit;
            let mut rows = Vec::new();
            while let Some(row) = data_rows.next().await {
                if rows.len() == row_cap {
                    return Ok((rows, true));
                }
                rows.push(row?);
            }
            Ok::<_, PgWireError>((rows, false))
        });
        let (rows, truncated) = timeout_at(deadline, &mut reading.0)
            .await
            .map_err(|_| error::timeout(self.statement_timeout))?
            .map_err(error::internal)?
            .map_err(error::from_execution)?;
        let mut response = QueryResponse::new(row_schema, futures::stream::iter(rows.into_iter().map(Ok)));
        response.set_command_tag(&command_tag);
        Ok((Response::Query(response), truncated))
    }

    /// A notice before the rows, the Postgres way of saying what the HTTP API's `truncated`
    /// flag says.
    async fn notify_if_truncated<C>(&self, client: &mut C, truncated: bool) -> PgWireResult<()>
    where
        C: Sink<PgWireBackendMessage> + Unpin + Send,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if truncated {
            let notice = ErrorInfo::new(
                "NOTICE".into(),
                "01000".into(),
                format!("the result was cut at the server's row cap of {} rows", self.row_cap),
            );
            client.feed(PgWireBackendMessage::NoticeResponse(notice.into())).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_read_only_statement_or_a_transaction_command() {
        let parser = PostgresCompatibilityParser::new();
        let cases = [
            ("SELECT 1", None),
            ("BEGIN", None),
            ("COMMIT", None),
            ("ROLLBACK", None),
            ("SHOW search_path", None),
            ("SELECT relname FROM pg_catalog.pg_class WHERE relname OPERATOR(pg_catalog.~) '^x$'", None),
            ("INSERT INTO job_outcomes_raw SELECT * FROM job_outcomes_raw", Some(StatementKind::Dml)),
            ("CREATE TABLE t (a INT)", Some(StatementKind::Ddl)),
            ("COPY job_outcomes_raw TO STDOUT", Some(StatementKind::Copy)),
            ("SET statement_timeout = 0", Some(StatementKind::Set)),
            ("SET application_name = 'DBeaver 25.1.5 - Main <failscope>'", None),
            ("SET extra_float_digits = 3", None),
            ("SET SESSION application_name = 'x'", Some(StatementKind::Set)),
            ("SET TIME ZONE 'Europe/Paris'", Some(StatementKind::Set)),
            ("SET datafusion.execution.batch_size = 1", Some(StatementKind::Set)),
            ("SELECT 1; SELECT 2", Some(StatementKind::MultipleStatements)),
            ("DECLARE c CURSOR FOR SELECT 1", Some(StatementKind::Other)),
        ];
        for (sql, want) in cases {
            let statements = parser.parse(sql).expect(sql);
            assert_eq!(check(&statements).err().map(|f| f.kind), want, "{sql}");
        }
    }
}
