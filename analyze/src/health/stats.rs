//! The significance test of the detector: how surprising `k` failures among `n` attempts are
//! when the expected failure rate is `p0`.
//!
//! Failures of independent attempts at a small rate are close to Poisson with mean `n·p0`;
//! the upper tail `P(X ≥ k)` is the chance of seeing at least this many by bad luck alone.
//! The sum runs in log space, so tails far below `f64::EPSILON` stay exact enough to compare.

/// `P(X ≥ k)` for `X ~ Poisson(lambda)`.
pub(crate) fn poisson_upper_tail(k: u64, lambda: f64) -> f64 {
    if k == 0 || lambda.is_nan() {
        return 1.0;
    }
    if lambda <= 0.0 {
        return 0.0;
    }
    let k_f = k as f64;
    if k_f <= lambda {
        // The tail holds at least about half the mass: 1 − P(X < k), summed upwards.
        let mut term = (-lambda).exp();
        let mut below = 0.0;
        for i in 0..k {
            below += term;
            term *= lambda / (i as f64 + 1.0);
        }
        return (1.0 - below).clamp(0.0, 1.0);
    }
    // Terms shrink from the k-th on (k > lambda); sum them until they no longer count.
    let mut term = (-lambda + k_f * lambda.ln() - ln_factorial(k)).exp();
    let mut tail = 0.0;
    let mut i = k_f;
    while term > tail * 1e-12 && term > 0.0 {
        tail += term;
        i += 1.0;
        term *= lambda / i;
    }
    tail.min(1.0)
}

/// `ln(k!)`, exact by summation for small `k`, Stirling's series beyond.
fn ln_factorial(k: u64) -> f64 {
    if k < 64 {
        return (2..=k).map(|i| (i as f64).ln()).sum();
    }
    let n = k as f64;
    n * n.ln() - n + 0.5 * (2.0 * std::f64::consts::PI * n).ln() + 1.0 / (12.0 * n) - 1.0 / (360.0 * n.powi(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_match_known_values() {
        // (k, lambda, P(X >= k)), from the closed forms of small cases.
        let cases: [(u64, f64, f64); 6] = [
            (0, 3.0, 1.0),
            (1, 2.0, 1.0 - (-2.0f64).exp()),
            (2, 1.0, 1.0 - 2.0 * (-1.0f64).exp()),
            (3, 0.5, 1.0 - (-0.5f64).exp() * (1.0 + 0.5 + 0.125)),
            (10, 10.0, 0.542_070_285_528_1),
            (5, 0.18, 1.355_7e-6),
        ];
        for (k, lambda, want) in cases {
            let got = poisson_upper_tail(k, lambda);
            assert!((got - want).abs() <= want * 1e-3 + 1e-12, "P(X >= {k}; {lambda}) = {got}, want {want}");
        }
    }

    #[test]
    fn tails_fall_as_k_rises_and_stay_in_range() {
        let mut previous = 1.0;
        for k in 0..400 {
            let p = poisson_upper_tail(k, 3.0);
            assert!((0.0..=1.0).contains(&p) && p <= previous, "k={k}: {p} after {previous}");
            previous = p;
        }
        assert!(poisson_upper_tail(100, 0.2) > 0.0, "deep tails underflow only past f64's range");
        assert_eq!(poisson_upper_tail(4, 0.0), 0.0);
    }

    #[test]
    fn stirling_agrees_with_the_sum_where_they_meet() {
        let summed: f64 = (2..=64u64).map(|i| (i as f64).ln()).sum();
        assert!((ln_factorial(64) - summed).abs() < 1e-9);
    }
}
