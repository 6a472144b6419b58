//! Time and value axes: where the ticks go and how they are labelled (UTC).

use chrono::{DateTime, Utc};

const HOUR_MS: i64 = 3_600_000;

/// Ticks on whole hours between `from` and `until` (milliseconds), at most about `max_ticks`,
/// each with its label: `04-05 23:00`.
pub(crate) fn time_ticks(from: i64, until: i64, max_ticks: i64) -> Vec<(i64, String)> {
    let span = (until - from).max(1);
    let step = [1, 2, 3, 6, 12, 24, 48, 96, 168]
        .into_iter()
        .map(|h| h * HOUR_MS)
        .find(|step| span / step <= max_ticks)
        .unwrap_or(336 * HOUR_MS);
    let first = from.div_euclid(step) * step + if from.rem_euclid(step) == 0 { 0 } else { step };
    (0..)
        .map(|i| first + i * step)
        .take_while(|t| *t <= until)
        .map(|t| (t, time_label(t, step >= 24 * HOUR_MS)))
        .collect()
}

/// `04-05 23:00`, or `04-05` for ticks a day or more apart.
pub(crate) fn time_label(millis: i64, date_only: bool) -> String {
    let t = DateTime::<Utc>::from_timestamp_millis(millis).unwrap_or_default();
    t.format(if date_only { "%m-%d" } else { "%m-%d %H:%M" }).to_string()
}

/// A "nice" upper bound for values up to `max`, and the tick step below it.
pub(crate) fn value_scale(max: f64) -> (f64, f64) {
    if max <= 0.0 || !max.is_finite() {
        return (1.0, 0.25);
    }
    let magnitude = 10f64.powf(max.log10().floor());
    for (bound, step) in [(1.0, 0.25), (2.0, 0.5), (2.5, 0.5), (5.0, 1.0), (10.0, 2.0)] {
        if max <= bound * magnitude {
            return (bound * magnitude, step * magnitude);
        }
    }
    (10.0 * magnitude, 2.0 * magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_fall_on_whole_hours_and_stay_few() {
        let from = 1_649_116_800_000 + 30 * 60_000; // 2022-04-05 00:30
        let ticks = time_ticks(from, from + 84 * HOUR_MS, 8);
        assert!(ticks.len() <= 8 && ticks.len() >= 3, "{ticks:?}");
        assert!(ticks.iter().all(|(t, _)| t % HOUR_MS == 0 && *t >= from));
        assert_eq!(time_ticks(from, from + 5 * HOUR_MS, 8)[0].1, "04-05 01:00");
        assert_eq!(value_scale(0.37), (0.5, 0.1));
        assert_eq!(value_scale(340.0), (500.0, 100.0));
    }
}
