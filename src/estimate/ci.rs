//! Confidence intervals, as R `survey` computes them.
//!
//! * `logit` = `svyciprop(method = "xlogit")`: a t interval on the logit scale, transformed
//!   back: `expit(logit(p) ± t(df) · SE / (p(1-p)))` (delta method, `svycontrast`).
//! * `wald` = `svyciprop(method = "mean")`: `p ± t(df) · SE`.
//! * `korn-graubard` = `svyciprop(method = "beta")`: Clopper–Pearson limits at the effective
//!   sample size `n* = p(1-p)/SE² · (t(n-1)/t(df))²` (Korn & Graubard 1998).
//! * `wilson` = `svyciprop(method = "wilson")` of survey >= 4.5: the Wilson score interval at
//!   `n* = p(1-p)/SE²` with `t(df)` in place of the normal quantile.
//! * means and totals: `confint(est, df = degf(design))`, i.e. `est ± t(df) · SE`.
//!
//! The t quantile starts from statrs and is polished by Newton steps on the regularised
//! incomplete beta function; it agrees with R's `qt` to about 1e-12 relative (statrs' incomplete
//! beta limits it at large df), far inside the 1e-9 parity the intervals need.

use statrs::distribution::{ContinuousCDF, StudentsT};
use statrs::function::beta::{beta_reg, ln_beta};

/// Two-sided interval `(lower, upper)`.
pub type Interval = (f64, f64);

/// Upper quantile of Student's t: `t` with `P(T > t) = alpha`, for `0 < alpha < 0.5`.
/// Infinite `df` gives the normal quantile. `None` for `df <= 0`.
pub fn t_upper_quantile(alpha: f64, df: f64) -> Option<f64> {
    if df.is_nan() || df <= 0.0 || !(0.0 < alpha && alpha < 0.5) {
        return None;
    }
    // A table book asks for the same few (alpha, df) thousands of times.
    thread_local! {
        static SEEN: std::cell::RefCell<std::collections::HashMap<(u64, u64), f64>> =
            std::cell::RefCell::new(std::collections::HashMap::new());
    }
    let key = (alpha.to_bits(), df.to_bits());
    if let Some(t) = SEEN.with(|seen| seen.borrow().get(&key).copied()) {
        return Some(t);
    }
    let t = t_quantile(alpha, df)?;
    SEEN.with(|seen| seen.borrow_mut().insert(key, t));
    Some(t)
}

fn t_quantile(alpha: f64, df: f64) -> Option<f64> {
    if df.is_infinite() {
        let normal = statrs::distribution::Normal::standard();
        return Some(normal.inverse_cdf(1.0 - alpha));
    }
    let start = StudentsT::new(0.0, 1.0, df).ok()?.inverse_cdf(1.0 - alpha);
    let mut t = if start.is_finite() && start > 0.0 {
        start
    } else {
        2.0
    };
    for _ in 0..8 {
        let x = df / (df + t * t);
        let upper = 0.5 * beta_reg(df / 2.0, 0.5, x);
        let density =
            (-ln_beta(df / 2.0, 0.5) - 0.5 * df.ln() - (df + 1.0) / 2.0 * (1.0 + t * t / df).ln())
                .exp();
        let step = (upper - alpha) / density;
        t += step;
        if step.abs() <= 1e-15 * t {
            break;
        }
    }
    Some(t)
}

fn expit(eta: f64) -> f64 {
    eta.exp() / (1.0 + eta.exp())
}

/// `svyciprop(method = "xlogit")`. `None` where R gives no interval: p of 0 or 1, df <= 0.
pub fn logit(p: f64, se: f64, df: f64, level: f64) -> Option<Interval> {
    let defined = p > 0.0 && p < 1.0 && se >= 0.0;
    if !defined {
        return None;
    }
    let t = t_upper_quantile((1.0 - level) / 2.0, df)?;
    let eta = (p / (1.0 - p)).ln();
    let se_eta = se / (p * (1.0 - p));
    Some((expit(eta - t * se_eta), expit(eta + t * se_eta)))
}

/// `svyciprop(method = "beta")`: `None` where R gives none (p of 0 or 1, df or n too small;
/// see [`exact_degenerate`] for those); for an SE of 0, where R gives [0.5, 0.5], the limit
/// `[p, p]`.
pub fn korn_graubard(p: f64, se: f64, n: f64, df: f64, level: f64) -> Option<Interval> {
    let alpha = 1.0 - level;
    if !(p > 0.0 && p < 1.0 && se >= 0.0) {
        return None;
    }
    let ratio = t_upper_quantile(alpha / 2.0, n - 1.0)? / t_upper_quantile(alpha / 2.0, df)?;
    // An SE of 0 or rounding noise (a share the calibration fixes has none): the interval's
    // half-width is below double precision of p, where the beta quantiles of shapes near
    // 1e30 would not be exact; the limit is [p, p].
    if se < 1e-13 * p.min(1.0 - p) {
        return Some((p, p));
    }
    let n_eff = p * (1.0 - p) / (se * se) * ratio * ratio;
    Some(clopper_pearson(p, n_eff, alpha))
}

/// The interval peiling gives where R gives none for a proportion of exactly 0 or 1, as the
/// NCHS Data Presentation Standards for Proportions (2017) set it: the Korn–Graubard
/// (Clopper–Pearson) interval at the effective sample size `n* = n`, adjusted for the design's
/// degrees of freedom, `n* = min(n, n · (t(n-1) / t(df))²)`: `[0, qbeta(1-α/2, 1, n*)]` for
/// p = 0 and `[qbeta(α/2, n*, 1), 1]` for p = 1. `None` for other p, and where the
/// adjustment is undefined (`n <= 1` or `df <= 0`).
pub fn exact_degenerate(p: f64, n: f64, df: f64, level: f64) -> Option<Interval> {
    if !(p == 0.0 || p == 1.0) {
        return None;
    }
    let alpha = 1.0 - level;
    let ratio = t_upper_quantile(alpha / 2.0, n - 1.0)? / t_upper_quantile(alpha / 2.0, df)?;
    let n_eff = (n * ratio * ratio).min(n);
    Some(clopper_pearson(p, n_eff, alpha))
}

fn clopper_pearson(p: f64, n_eff: f64, alpha: f64) -> Interval {
    (
        qbeta(alpha / 2.0, n_eff * p, n_eff * (1.0 - p) + 1.0),
        qbeta(1.0 - alpha / 2.0, n_eff * p + 1.0, n_eff * (1.0 - p)),
    )
}

/// `svyciprop(method = "wilson")` (survey >= 4.5). `None` where R gives none; for an SE of
/// exactly 0, where R gives NaN, the limit `[p, p]`.
pub fn wilson(p: f64, se: f64, df: f64, level: f64) -> Option<Interval> {
    if !(p > 0.0 && p < 1.0 && se >= 0.0) {
        return None;
    }
    let t = t_upper_quantile((1.0 - level) / 2.0, df)?;
    if se == 0.0 {
        // The limit as SE -> 0 (n_eff -> infinity).
        return Some((p, p));
    }
    let n_eff = p * (1.0 - p) / (se * se);
    let denominator = 1.0 + t * t / n_eff;
    let root = (4.0 * n_eff * p * (1.0 - p) + t * t).sqrt();
    let centre = p + t * t / (2.0 * n_eff);
    let half = t / (2.0 * n_eff) * root;
    Some(((centre - half) / denominator, (centre + half) / denominator))
}

/// Quantile of the beta distribution, as R's `qbeta(q, a, b)`: a shape of 0 puts all mass at
/// 0 (a) or 1 (b). Newton's method on the regularised incomplete beta, safeguarded by a
/// bisection bracket, to full double precision.
pub fn qbeta(q: f64, a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() || q.is_nan() || a < 0.0 || b < 0.0 {
        return f64::NAN;
    }
    if a == 0.0 {
        return 0.0;
    }
    if b == 0.0 {
        return 1.0;
    }
    if q <= 0.0 {
        return 0.0;
    }
    if q >= 1.0 {
        return 1.0;
    }
    let log_norm = ln_beta(a, b);
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    let mut x = (a / (a + b)).clamp(1e-300, 1.0 - 1e-16);
    for _ in 0..200 {
        let f = beta_reg(a, b, x) - q;
        if f == 0.0 {
            return x;
        }
        if f < 0.0 {
            lo = x;
        } else {
            hi = x;
        }
        let density = ((a - 1.0) * x.ln() + (b - 1.0) * (-x).ln_1p() - log_norm).exp();
        let newton = x - f / density;
        let next = if density > 0.0 && newton > lo && newton < hi {
            newton
        } else {
            0.5 * (lo + hi)
        };
        if (next - x).abs() <= 4.0 * f64::EPSILON * x.abs() || next == lo || next == hi {
            return next;
        }
        x = next;
    }
    x
}

/// Two-sided p-value of a t statistic: `P(|T| > |t|)` with `df` degrees of freedom, as R's
/// `2 * pt(-abs(t), df)`; infinite `df` is the normal test. `None` for `df <= 0` or a NaN.
pub fn t_two_sided_p(t: f64, df: f64) -> Option<f64> {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return None;
    }
    if df.is_infinite() {
        return Some(libm::erfc(t.abs() / std::f64::consts::SQRT_2));
    }
    // P(|T| > t) = I_x(df/2, 1/2) at x = df / (df + t²), without cancellation in the tail.
    Some(beta_reg(df / 2.0, 0.5, df / (df + t * t)))
}

/// `estimate ± t(df) · SE`: Wald interval of proportions, and the interval of means and totals.
pub fn t_interval(estimate: f64, se: f64, df: f64, level: f64) -> Option<Interval> {
    if !se.is_finite() {
        return None;
    }
    let t = t_upper_quantile((1.0 - level) / 2.0, df)?;
    Some((estimate - t * se, estimate + t * se))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_at_0_or_1_takes_the_designs_degrees_of_freedom() {
        // NCHS (2017): n = 8 respondents in 4 PSUs of 1 stratum (df = 3).
        let n_eff = 8.0 * (2.364624251592785 / 3.182446305284263f64).powi(2);
        let (lower, upper) = exact_degenerate(0.0, 8.0, 3.0, 0.95).unwrap();
        assert_eq!(lower, 0.0);
        assert!(
            (upper - (1.0 - 0.025f64.powf(1.0 / n_eff))).abs() < 1e-12,
            "{upper}"
        );
        assert!((upper - 0.566).abs() < 1e-3, "{upper}");
        let (lower, upper) = exact_degenerate(1.0, 8.0, 3.0, 0.95).unwrap();
        assert!((lower - 0.025f64.powf(1.0 / n_eff)).abs() < 1e-12 && upper == 1.0);
        // A simple random sample (df = n - 1) keeps n* = n.
        let (_, upper) = exact_degenerate(0.0, 8.0, 7.0, 0.95).unwrap();
        assert!(
            (upper - (1.0 - 0.025f64.powf(1.0 / 8.0))).abs() < 1e-12,
            "{upper}"
        );
        // Undefined without degrees of freedom, for one respondent, or inside (0, 1).
        assert_eq!(exact_degenerate(0.0, 8.0, 0.0, 0.95), None);
        assert_eq!(exact_degenerate(1.0, 1.0, 0.0, 0.95), None);
        assert_eq!(exact_degenerate(0.5, 8.0, 3.0, 0.95), None);
    }

    /// Values of R 4.2 `qt(0.975, df)`, printed with `sprintf("%.17g")`.
    #[test]
    fn t_quantiles_match_r() {
        let cases = [
            (1.0, 12.706204736174694),
            (5.0, 2.5705818356363137),
            (30.0, 2.0422724563012378),
            (198.0, 1.9720174778363129),
            (9588.0, 1.960_211_436_108_3),
        ];
        for (df, expected) in cases {
            let t = t_upper_quantile(0.025, df).unwrap();
            assert!(
                ((t - expected) / expected).abs() < 1e-11,
                "df {df}: {t} vs {expected}"
            );
        }
    }

    /// R 4.2: `sprintf("%.17g", qbeta(c(0.025, 0.975, 0.5), ...))`.
    #[test]
    fn beta_quantiles_match_r() {
        let cases = [
            (0.975, 1.0, 10.0, 0.30849710781876083),
            (0.025, 10.0, 1.0, 0.691_502_892_181_239_2),
            (0.025, 26.5, 250.75, 0.063_901_549_535_421_68),
            (0.5, 2.0, 3.0, 0.385_727_568_132_389_5),
        ];
        for (q, a, b, expected) in cases {
            let x = qbeta(q, a, b);
            assert!(
                ((x - expected) / expected).abs() < 1e-12,
                "qbeta({q}, {a}, {b}) = {x:.17} vs {expected}"
            );
        }
        assert_eq!(qbeta(0.025, 0.0, 5.0), 0.0);
        assert_eq!(qbeta(0.975, 5.0, 0.0), 1.0);
    }

    #[test]
    fn wilson_is_the_score_interval_at_the_effective_size() {
        // SRS: se² = p(1-p)/n gives n* = n; with df = ∞ it is the textbook Wilson interval.
        let (p, n) = (0.2f64, 50.0f64);
        let se = (p * (1.0 - p) / n).sqrt();
        let (lower, upper) = wilson(p, se, f64::INFINITY, 0.95).unwrap();
        let z = 1.959963984540054f64;
        let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
        let half = z / (1.0 + z * z / n) * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
        assert!((lower - (centre - half)).abs() < 1e-14 && (upper - (centre + half)).abs() < 1e-14);
    }

    #[test]
    fn no_interval_where_r_has_none() {
        assert_eq!(logit(0.0, 0.1, 10.0, 0.95), None);
        assert_eq!(logit(1.0, 0.1, 10.0, 0.95), None);
        assert_eq!(logit(0.5, 0.1, 0.0, 0.95), None);
        assert!(logit(0.5, 0.1, 10.0, 0.95).is_some());
    }

    #[test]
    fn an_se_of_zero_gives_the_limit_of_every_interval() {
        let p = 0.7137552370677476;
        assert_eq!(wilson(p, 0.0, 10.0, 0.95), Some((p, p)));
        assert_eq!(korn_graubard(p, 0.0, 200.0, 10.0, 0.95), Some((p, p)));
        assert_eq!(logit(p, 0.0, 10.0, 0.95), Some((p, p)));
        // ... where there is a t quantile: none at df 0.
        assert_eq!(wilson(p, 0.0, 0.0, 0.95), None);
        assert_eq!(korn_graubard(p, 0.0, 200.0, 0.0, 0.95), None);
    }

    #[test]
    fn logit_interval_is_asymmetric_and_inside_zero_one() {
        let (lower, upper) = logit(0.05, 0.02, 100.0, 0.95).unwrap();
        assert!(0.0 < lower && lower < 0.05 && 0.05 < upper && upper < 1.0);
        assert!(upper - 0.05 > 0.05 - lower);
    }
}
