//! Quantiles as R's `svyquantile(~y, design, p, qrule = "math", interval.type = "mean")`
//! (survey >= 4.1) computes them in a domain:
//!
//! * **Estimate** (`qrule_math`): sort the domain's values, accumulate their weights; the
//!   quantile is the value at the last position whose cumulative weight is at most `p·W`, or
//!   the next value when that cumulative weight is strictly below `p·W` (the inverse of the
//!   weighted empirical distribution function).
//! * **Interval** (Woodruff 1952): the proportion `p̂ = mean(y <= q̂)` with its design-based SE
//!   (a proportion of the same domain, so the same kernel, padding and df), its interval
//!   `p̂ ± t(df)·SE` mapped back through the same quantile rule. A limit outside [0, 1] has no
//!   quantile (R gives `NaN`).
//! * **SE**: the interval's width over `2·t(df)`, as R reports it.
//!
//! R sums weights in extended precision (`cumsum`, `sum`); compensated sums here make the
//! comparisons against `p·W` agree with R's.

use super::ci;
use super::kernel::{self, Layout, LonelyStratum, Stats};
use super::LEVEL;

/// One domain's quantile.
#[derive(Debug, Clone, Default)]
pub struct Estimate {
    /// Statistics of `y <= q̂` in the domain (sizes, PSUs, strata).
    pub stats: Stats,
    pub estimate: Option<f64>,
    pub std_error: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
}

/// A domain's values sorted, with their cumulative weights.
struct Sorted {
    values: Vec<f64>,
    cumulative: Vec<f64>,
    total: f64,
}

impl Sorted {
    fn new(mut pairs: Vec<(f64, f64)>) -> Self {
        // Stable: ties keep the row order, as R's `order()`.
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut cumulative = Vec::with_capacity(pairs.len());
        let (mut sum, mut compensation) = (0.0f64, 0.0f64);
        for &(_, w) in &pairs {
            // Neumaier's compensated sum.
            let t = sum + w;
            if sum.abs() >= w.abs() {
                compensation += (sum - t) + w;
            } else {
                compensation += (w - t) + sum;
            }
            sum = t;
            cumulative.push(sum + compensation);
        }
        Sorted {
            values: pairs.into_iter().map(|p| p.0).collect(),
            total: cumulative.last().copied().unwrap_or(0.0),
            cumulative,
        }
    }

    /// R's `qrule_math(x, w, p)`.
    fn quantile(&self, p: f64) -> f64 {
        let target = p * self.total;
        let below = self.cumulative.partition_point(|&c| c <= target);
        let pos = below.saturating_sub(1);
        let next = (pos + 1).min(self.values.len() - 1);
        if p - self.cumulative[pos] / self.total <= 0.0 {
            self.values[pos]
        } else {
            self.values[next]
        }
    }
}

/// Quantile `p` of `values` (design order, NaN outside the indicator's domain) in every
/// segment.
pub fn estimate(
    layout: &Layout,
    segments: &[u32],
    n_domains: usize,
    values: &[f64],
    p: f64,
    calibration: Option<(
        &crate::weight::Calibration,
        Option<&super::calibrated::Projection>,
    )>,
) -> Result<Vec<Estimate>, LonelyStratum> {
    let mut pairs: Vec<Vec<(f64, f64)>> = vec![Vec::new(); n_domains];
    for (i, (&d, &y)) in segments.iter().zip(values).enumerate() {
        if d != u32::MAX && !y.is_nan() {
            pairs[d as usize].push((y, layout.weights[i]));
        }
    }
    let sorted: Vec<Option<Sorted>> = pairs
        .into_iter()
        .map(|pairs| (!pairs.is_empty()).then(|| Sorted::new(pairs)))
        .collect();
    let estimates: Vec<Option<f64>> = sorted
        .iter()
        .map(|s| s.as_ref().map(|s| s.quantile(p)))
        .collect();

    // Woodruff: the proportion at or below the estimate, in the same domains.
    let below: Vec<f64> = segments
        .iter()
        .zip(values)
        .map(
            |(&d, &y)| match estimates.get(d as usize).copied().flatten() {
                Some(q) if !y.is_nan() => f64::from(u8::from(y <= q)),
                _ => f64::NAN,
            },
        )
        .collect();
    let column = [kernel::Column {
        y: (&below).into(),
        x: None,
        centre: true,
    }];
    let shift = kernel::centres(layout, &[(segments, n_domains)], &column);
    let mut stats = kernel::accumulate(layout, segments, n_domains, &column, &shift[0])?;
    if let Some((calibration, projection)) = calibration {
        super::calibrated::residualise(
            layout,
            calibration,
            projection,
            segments,
            n_domains,
            &column,
            &mut stats,
        )?;
    }

    Ok(stats
        .into_iter()
        .zip(sorted.iter().zip(estimates))
        .map(|(s, (sorted, estimate))| {
            let mut out = Estimate {
                stats: s,
                estimate,
                ..Estimate::default()
            };
            let (Some(sorted), Some(_)) = (sorted, estimate) else {
                return out;
            };
            let w = s.sum_w;
            let centred = s.sum_wy / w;
            let share = centred + s.shift;
            let se = s.variance(1.0 / w, -centred / w).sqrt();
            let df = s.psus as f64 - s.strata as f64;
            let Some((lower, upper)) = ci::t_interval(share, se, df, LEVEL) else {
                return out;
            };
            let limit =
                |p: f64| (p.is_finite() && (0.0..=1.0).contains(&p)).then(|| sorted.quantile(p));
            let (lower, upper) = (limit(lower), limit(upper));
            if let (Some(lower), Some(upper)) = (lower, upper) {
                let t = ci::t_upper_quantile((1.0 - LEVEL) / 2.0, df);
                out.std_error = t.map(|t| (upper - lower) / (2.0 * t));
            }
            out.ci_lower = lower;
            out.ci_upper = upper;
            out
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(values: &[f64]) -> Sorted {
        Sorted::new(values.iter().map(|&v| (v, 1.0)).collect())
    }

    /// R: `survey:::qrule_math(c(...), rep(1, n), p)`.
    #[test]
    fn math_rule_inverts_the_empirical_distribution() {
        let s = sorted(&[3.0, 1.0, 4.0, 1.5, 9.0, 2.6]);
        // Sorted: 1, 1.5, 2.6, 3, 4, 9; cumulative 1..6 of W = 6.
        assert_eq!(s.quantile(0.5), 2.6); // cum 3 = 0.5·6: the value itself
        assert_eq!(s.quantile(0.51), 3.0); // past it: the next value
        assert_eq!(s.quantile(0.1), 1.0); // below the first cumulative weight
        assert_eq!(s.quantile(1.0), 9.0);
        assert_eq!(s.quantile(0.0), 1.0);
    }

    #[test]
    fn weights_move_the_quantile() {
        let s = Sorted::new(vec![(1.0, 1.0), (2.0, 1.0), (3.0, 8.0)]);
        assert_eq!(s.quantile(0.5), 3.0);
        assert_eq!(s.quantile(0.2), 2.0);
    }
}
