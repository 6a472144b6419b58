//! A parameter whose type the client declared has that type, as in Postgres.
//!
//! `datafusion-postgres` plans a prepared statement without the types the client sent with it
//! and lets DataFusion infer each parameter's type from where it stands. For a parameter that
//! stands only in a cast, `CAST($1 AS DATE)` (how the named queries pick the day partitions of
//! their window), the inferred type is the cast's target, and a timestamp the client bound
//! there is then refused ("Cannot coerce TIMESTAMPTZ to Date32") where Postgres would cast it.
//! So each placeholder whose type the client declared becomes a cast of itself to that type
//! before planning: its type is then the declared one, and what surrounds it applies as
//! written.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    CastKind, DataType, Expr, Statement, TimezoneInfo, Value, visit_expressions_mut,
};
use datafusion_postgres::pgwire::api::Type;

/// Wraps each placeholder `$n` of `statement` whose type `types[n - 1]` names in a cast to it.
/// Returns whether anything changed.
pub(super) fn declare_parameter_types(statement: &mut Statement, types: &[Option<Type>]) -> bool {
    let mut changed = false;
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Value(value) = expr
            && let Value::Placeholder(name) = &value.value
            && let Some(data_type) = name
                .strip_prefix('$')
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| types.get(n.checked_sub(1)?)?.as_ref())
                .and_then(sql_type)
        {
            let placeholder = Expr::Value(value.clone());
            *expr =
                Expr::Cast { kind: CastKind::Cast, expr: Box::new(placeholder), data_type, array: false, format: None };
            changed = true;
        }
        // Expressions are visited after their children: the new cast is not entered again.
        ControlFlow::<()>::Continue(())
    });
    changed
}

/// The SQL type of a wire type, for the types drivers bind values of.
fn sql_type(wire: &Type) -> Option<DataType> {
    Some(match *wire {
        Type::TIMESTAMPTZ => DataType::Timestamp(None, TimezoneInfo::WithTimeZone),
        Type::TIMESTAMP => DataType::Timestamp(None, TimezoneInfo::None),
        Type::DATE => DataType::Date,
        Type::TEXT | Type::VARCHAR => DataType::Text,
        Type::INT2 => DataType::SmallInt(None),
        Type::INT4 => DataType::Integer(None),
        Type::INT8 => DataType::BigInt(None),
        Type::FLOAT4 => DataType::Real,
        Type::FLOAT8 => DataType::DoublePrecision,
        Type::BOOL => DataType::Boolean,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;

    use super::*;

    #[test]
    fn declared_parameters_are_cast_to_their_type_and_the_others_left_alone() {
        let sql = "SELECT * FROM t WHERE d BETWEEN CAST($1 AS DATE) AND CAST($2 AS DATE) AND r = $3";
        let mut statement = PostgresCompatibilityParser::new().parse(sql).expect("parses").remove(0);
        let changed = declare_parameter_types(&mut statement, &[Some(Type::TIMESTAMPTZ), None, Some(Type::UNKNOWN)]);
        assert!(changed);
        let text = statement.to_string();
        assert!(text.contains("CAST(CAST($1 AS TIMESTAMP WITH TIME ZONE) AS DATE)"), "{text}");
        assert!(text.contains("CAST($2 AS DATE)") && text.contains("r = $3"), "{text}");
    }
}
