//! What a session may carry beyond its catalog and settings, as an extension that the lake
//! tables and views read: a [`crate::scan_window::ScanWindow`], the region-hour counts of
//! [`crate::provided::RegionHourConnects`], the [`crate::dedup::RepeatsHarmless`] mark. The
//! region-health detector runs its statements in sessions scoped this way; the analyzer's own
//! session carries none.

use std::sync::Arc;

use datafusion::prelude::SessionContext;

/// A value a session can carry.
pub(crate) trait SessionMark: Send + Sync + Sized + 'static {
    /// A session over `ctx`'s catalog, runtime, settings and marks that also carries `self`
    /// (in place of one of its kind).
    fn scope(self, ctx: &SessionContext) -> SessionContext {
        let mut state = ctx.state();
        state.config_mut().set_extension(Arc::new(self));
        SessionContext::new_with_state(state)
    }
}
