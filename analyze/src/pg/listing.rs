//! `psql`'s `\dt` lists the views too. In failscope the views of `queries/views/`
//! (`job_classifications`, `connect_attempts`…) are what an engineer queries, more than the raw
//! tables under them, and `\dt` is what one types first to see what is there. So the catalog
//! query `\dt` sends, which keeps the relations whose `relkind` is one of `'r'`, `'p'` and the
//! empty string psql closes its list with, gets `'v'` added. The Type column still says `view`
//! (psql names the kind from `relkind`), `\dv` still lists only the views, and every other
//! client (DBeaver, Grafana) sees the catalog as Postgres would describe it: only that exact
//! list is widened.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{Expr, Statement, Value, visit_expressions_mut};

/// Adds views to `statement` if it is `psql`'s table listing; leaves any other statement as it
/// is.
pub(super) fn tables_listing_with_views(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::InList { expr: column, list, negated: false } = expr
            && is_relkind(column)
            && let Some(kinds) = string_literals(list)
            && kinds.contains(&"r")
            && kinds.contains(&"")
            && !kinds.contains(&"v")
        {
            list.push(Expr::value(Value::SingleQuotedString("v".to_string())));
        }
        ControlFlow::<()>::Continue(())
    });
}

/// `relkind` or `c.relkind`.
fn is_relkind(expr: &Expr) -> bool {
    match expr {
        Expr::Identifier(ident) => ident.value.eq_ignore_ascii_case("relkind"),
        Expr::CompoundIdentifier(parts) => parts.last().is_some_and(|p| p.value.eq_ignore_ascii_case("relkind")),
        _ => false,
    }
}

/// The list's items if every one is a quoted string.
fn string_literals(list: &[Expr]) -> Option<Vec<&str>> {
    list.iter()
        .map(|item| match item {
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s) => Some(s.as_str()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;

    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut statements = PostgresCompatibilityParser::new().parse(sql).expect(sql);
        assert_eq!(statements.len(), 1);
        tables_listing_with_views(&mut statements[0]);
        statements[0].to_string()
    }

    #[test]
    fn psqls_table_listing_gains_the_views_and_nothing_else_changes() {
        // What psql 15 sends for `\dt` (its WHERE clause), and for `\dv`, `\dtv` and DBeaver.
        let dt = "SELECT c.relname FROM pg_catalog.pg_class c WHERE c.relkind IN ('r','p','') ORDER BY 1";
        assert!(rewritten(dt).contains("c.relkind IN ('r', 'p', '', 'v')"), "{}", rewritten(dt));
        for unchanged in [
            "SELECT c.relname FROM pg_catalog.pg_class c WHERE c.relkind IN ('v','')",
            "SELECT c.relname FROM pg_catalog.pg_class c WHERE c.relkind IN ('r','p','v','')",
            "SELECT c.relname FROM pg_catalog.pg_class c WHERE c.relkind IN ('r','p')",
            "SELECT c.relname FROM pg_catalog.pg_class c WHERE c.relkind NOT IN ('r','p','')",
            "SELECT region FROM job_outcomes WHERE region IN ('r','p','')",
        ] {
            let before = PostgresCompatibilityParser::new().parse(unchanged).expect(unchanged)[0].to_string();
            assert_eq!(rewritten(unchanged), before);
        }
    }
}
