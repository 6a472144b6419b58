//! The two charts of a period that the HTML report and the web console both show: the health
//! timeline (one band per region) and the region × hour heatmap of the infra-failure rate. One
//! definition, so the console draws exactly what the report prints.

use super::model::Report;
use super::words::{percent, time};
use crate::charts::{GanttRow, HeatCell, Heatmap, Span, gantt, heatmap};

/// The colour of each region state in the timeline, in legend order.
pub(crate) const STATE_COLOURS: [(&str, &str); 4] =
    [("healthy", "#4caf50"), ("degraded", "#ffb300"), ("unhealthy", "#d32f2f"), ("recovering", "#64b5f6")];
/// The x axis title of the charts over time.
pub(crate) const X_TITLE: &str = "time (UTC)";

/// Every region's states over the report's period, as an `<svg>`.
pub(crate) fn timeline_chart(r: &Report) -> String {
    let rows: Vec<GanttRow> = r
        .timeline
        .iter()
        .map(|t| GanttRow {
            name: t.region.clone(),
            spans: t
                .bands
                .iter()
                .map(|b| Span {
                    from: b.from.as_millis(),
                    until: b.until.as_millis(),
                    state: b.status.as_str().to_string(),
                })
                .collect(),
        })
        .collect();
    gantt("Region health over time", &rows, r.since.as_millis(), r.until.as_millis(), &STATE_COLOURS, X_TITLE)
}

/// The share of each region's jobs per hour that failed because of infrastructure, as an
/// `<svg>`; rows in the timeline's region order.
pub(crate) fn heatmap_chart(r: &Report) -> String {
    let regions: Vec<String> = r.timeline.iter().map(|t| t.region.clone()).collect();
    let cells = r
        .infra_rate_by_region_hour
        .iter()
        .filter_map(|h| {
            let row = regions.iter().position(|name| *name == h.region)?;
            Some(HeatCell {
                row,
                hour: h.hour.as_millis(),
                value: h.infra_failure_rate,
                tooltip: format!(
                    "{}, {}: {} of {} jobs failed by infrastructure ({})",
                    h.region,
                    time(h.hour),
                    h.infra,
                    h.jobs,
                    percent(h.infra_failure_rate)
                ),
            })
        })
        .collect();
    heatmap(&Heatmap {
        label: "Infrastructure-failure rate of jobs, by region and hour",
        rows: regions,
        from: r.since.as_millis(),
        until: r.until.as_millis(),
        cells,
        value_name: "share of jobs failed by infrastructure",
        x_title: "hour (UTC)",
    })
}
