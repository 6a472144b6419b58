//! The read-only guard for engineers' SQL: exactly one query (or EXPLAIN of one), nothing that
//! defines, changes, copies or configures.

use std::fmt;

use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::Statement;

/// Why a statement was refused, with the kind of statement it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} is not allowed: failscope SQL is read-only and takes a single SELECT")]
pub struct Forbidden {
    pub(crate) kind: StatementKind,
}

/// The kinds of statement the guard tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatementKind {
    Ddl,
    Dml,
    Copy,
    Set,
    MultipleStatements,
    Empty,
    Other,
}

impl StatementKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            StatementKind::Ddl => "ddl",
            StatementKind::Dml => "dml",
            StatementKind::Copy => "copy",
            StatementKind::Set => "set",
            StatementKind::MultipleStatements => "multiple_statements",
            StatementKind::Empty => "empty",
            StatementKind::Other => "other",
        }
    }
}

impl fmt::Display for StatementKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StatementKind::Ddl => "a DDL statement (CREATE, DROP, ALTER…)",
            StatementKind::Dml => "a DML statement (INSERT, UPDATE, DELETE…)",
            StatementKind::Copy => "COPY",
            StatementKind::Set => "SET/RESET",
            StatementKind::MultipleStatements => "more than one statement",
            StatementKind::Empty => "an empty statement",
            StatementKind::Other => "this statement",
        })
    }
}

/// Parses `sql` and accepts it only if it is one read-only query. A syntax error is not a
/// refusal: the planner reports it afterwards, with its position.
pub(crate) fn check_read_only(sql: &str) -> Result<(), Forbidden> {
    let forbid = |kind| Err(Forbidden { kind });
    let Ok(statements) = DFParser::parse_sql(sql) else {
        return Ok(());
    };
    let mut statements = statements.into_iter();
    let (Some(statement), None) = (statements.next(), statements.next()) else {
        return forbid(if sql.trim().trim_matches(';').trim().is_empty() {
            StatementKind::Empty
        } else {
            StatementKind::MultipleStatements
        });
    };
    match statement {
        DfStatement::Statement(s) => match kind_of(&s) {
            None => Ok(()),
            Some(kind) => forbid(kind),
        },
        DfStatement::Explain(e) => match *e.statement {
            DfStatement::Statement(s) if kind_of(&s).is_none() => Ok(()),
            _ => forbid(StatementKind::Other),
        },
        DfStatement::CreateExternalTable(_) => forbid(StatementKind::Ddl),
        DfStatement::CopyTo(_) => forbid(StatementKind::Copy),
        DfStatement::Reset(_) => forbid(StatementKind::Set),
    }
}

/// The same check for one statement parsed already, by a front end with its own dialect (the
/// Postgres endpoint parses as Postgres does, and checks what it will run).
pub(crate) fn check_statement(statement: &Statement) -> Result<(), Forbidden> {
    kind_of(statement).map_or(Ok(()), |kind| Err(Forbidden { kind }))
}

/// `None` for a read-only statement.
fn kind_of(statement: &Statement) -> Option<StatementKind> {
    Some(match statement {
        Statement::Query(_) => return None,
        Statement::Explain { statement, .. } => return kind_of(statement),
        Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) | Statement::Merge(_) => StatementKind::Dml,
        Statement::Truncate(_) => StatementKind::Dml,
        Statement::Copy { .. } | Statement::CopyIntoSnowflake { .. } => StatementKind::Copy,
        Statement::Set(_) => StatementKind::Set,
        Statement::CreateTable(_)
        | Statement::CreateView(_)
        | Statement::CreateIndex(_)
        | Statement::CreateSchema { .. }
        | Statement::CreateDatabase { .. }
        | Statement::CreateFunction(_)
        | Statement::AlterTable(_)
        | Statement::Drop { .. } => StatementKind::Ddl,
        _ => StatementKind::Other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_queries_and_refuses_everything_else() {
        let cases = [
            ("SELECT 1", None),
            ("WITH a AS (SELECT 1) SELECT * FROM a;", None),
            ("EXPLAIN SELECT 1", None),
            ("CREATE TABLE t (a INT)", Some(StatementKind::Ddl)),
            ("CREATE VIEW v AS SELECT 1", Some(StatementKind::Ddl)),
            ("DROP VIEW job_classifications", Some(StatementKind::Ddl)),
            ("CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '/tmp/x'", Some(StatementKind::Ddl)),
            ("INSERT INTO t VALUES (1)", Some(StatementKind::Dml)),
            ("DELETE FROM t", Some(StatementKind::Dml)),
            ("UPDATE t SET a = 1", Some(StatementKind::Dml)),
            ("COPY (SELECT 1) TO '/tmp/x.parquet'", Some(StatementKind::Copy)),
            ("SET datafusion.execution.batch_size = 1", Some(StatementKind::Set)),
            ("SELECT 1; SELECT 2", Some(StatementKind::MultipleStatements)),
            ("  ;", Some(StatementKind::Empty)),
            ("EXPLAIN INSERT INTO t VALUES (1)", Some(StatementKind::Other)),
        ];
        for (sql, want) in cases {
            assert_eq!(check_read_only(sql).err().map(|f| f.kind), want, "{sql}");
        }
    }
}
