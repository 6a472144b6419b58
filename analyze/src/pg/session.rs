//! The session the Postgres endpoint plans in: the analyzer's tables, views, functions, limits
//! and memory pool, plus the `pg_catalog` schema and functions Postgres clients query.

use std::sync::Arc;

use datafusion::catalog::{CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemoryCatalogProviderList};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::SessionContext;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::setup_pg_catalog;

use crate::error::Result;

/// A session over the same schemas as `analyzer_ctx` (shared, not copied: the lake's tables
/// list the lake on every query here too) and the same runtime, so the memory limit is one
/// pool for both front ends. Its catalog is a new one holding those schemas, so `pg_catalog`
/// and the Postgres functions stay out of the session of `failscope sql` and the HTTP API.
pub(crate) fn pg_session(analyzer_ctx: &SessionContext) -> Result<SessionContext> {
    let state = analyzer_ctx.state();
    let catalogs = MemoryCatalogProviderList::new();
    let base_catalogs = state.catalog_list();
    for catalog_name in base_catalogs.catalog_names() {
        let Some(base) = base_catalogs.catalog(&catalog_name) else { continue };
        let catalog = MemoryCatalogProvider::new();
        for schema_name in base.schema_names() {
            if let Some(schema) = base.schema(&schema_name) {
                catalog.register_schema(&schema_name, schema)?;
            }
        }
        catalogs.register_catalog(catalog_name, Arc::new(catalog));
    }
    let default_catalog = state.config_options().catalog.default_catalog.clone();
    let state = SessionStateBuilder::new_from_existing(state).with_catalog_list(Arc::new(catalogs)).build();
    let ctx = SessionContext::new_with_state(state);
    setup_pg_catalog(&ctx, &default_catalog, EmptyContextProvider).map_err(|e| *e)?;
    Ok(ctx)
}
