//! Change between waves: `changes.parquet`.
//!
//! For every indicator × segment, the latest wave against each earlier one. Waves are
//! independent samples, so the difference `d = latest − earlier` has the standard error
//! `SE = √(SE₁² + SE₀²)`. Its degrees of freedom combine the two design df after
//! Welch–Satterthwaite, `df = (SE₁² + SE₀²)² / (SE₁⁴/df₁ + SE₀⁴/df₀)` (a side without df, or with
//! SE 0, adds nothing; with neither the test is the normal one). The interval is
//! `d ± t(df) · SE` at the run's confidence level, the p-value `2 · P(T > |d| / SE)`, and the
//! change is `significant` when the p-value is below 1 − level.
//!
//! Changes are computed from the released estimates only: a change is suppressed, with its
//! values null, when either side is, so it cannot reveal a suppressed cell. A segment present in
//! one wave only has no change.

use std::collections::HashMap;

use crate::disclosure::{ReleasedRow, ReleasedTable};
use crate::estimate::ci::{t_two_sided_p, t_upper_quantile};
use crate::spec::IndicatorKind;
use crate::spec::Wave;

/// One row of `changes.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRow {
    pub indicator: String,
    pub kind: IndicatorKind,
    pub segmentation: String,
    pub segment: String,
    pub segment_label: String,
    /// The latest wave.
    pub wave: Wave,
    /// The earlier wave it is compared with.
    pub base_wave: Wave,
    pub estimate: Option<f64>,
    pub base_estimate: Option<f64>,
    pub difference: Option<f64>,
    pub std_error: Option<f64>,
    pub df: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    pub p_value: Option<f64>,
    /// Null when there is no p-value.
    pub significant: Option<bool>,
    pub suppressed: bool,
    /// `suppressed_in_wave`, `suppressed_in_base_wave` (both `;`-joined when both), or
    /// `no_estimate` (a side has no estimate), `no_std_error` (a side has no SE) or `no_interval`
    /// (no interval or p-value for the df).
    pub flag: Option<String>,
}

/// The inference on `d = a − b` for independent estimates `(estimate, SE, df)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Difference {
    pub difference: f64,
    pub std_error: f64,
    /// Infinite: the normal test.
    pub df: f64,
    pub ci: Option<(f64, f64)>,
    pub p_value: Option<f64>,
}

/// Welch–Satterthwaite df of a sum of independent variances with their df.
fn satterthwaite(parts: [(f64, Option<f64>); 2]) -> f64 {
    let total: f64 = parts.iter().map(|(v, _)| v).sum();
    let denominator: f64 = parts
        .iter()
        .filter(|(v, _)| *v > 0.0)
        .map(|(v, df)| match df {
            Some(df) if df.is_finite() => v * v / df,
            _ => 0.0,
        })
        .sum();
    if denominator > 0.0 {
        total * total / denominator
    } else {
        f64::INFINITY
    }
}

/// `a − b` with its SE, df, interval at `level` and two-sided p-value.
pub fn difference(
    a: (f64, f64, Option<f64>),
    b: (f64, f64, Option<f64>),
    level: f64,
) -> Difference {
    let d = a.0 - b.0;
    let (va, vb) = (a.1 * a.1, b.1 * b.1);
    let std_error = (va + vb).sqrt();
    let df = satterthwaite([(va, a.2), (vb, b.2)]);
    let (ci, p_value) = if std_error > 0.0 && std_error.is_finite() {
        let t = t_upper_quantile((1.0 - level) / 2.0, df);
        (
            t.map(|t| (d - t * std_error, d + t * std_error)),
            t_two_sided_p(d / std_error, df),
        )
    } else {
        (None, None)
    };
    Difference {
        difference: d,
        std_error,
        df,
        ci,
        p_value,
    }
}

/// The changes of the latest wave against each earlier one, sorted like the estimates
/// (indicator, segmentation, segment), then by the earlier wave. Empty with one wave.
pub fn between_waves(table: &ReleasedTable, level: f64) -> Vec<ChangeRow> {
    let Some(latest) = table.rows.iter().map(|r| r.wave).max() else {
        return Vec::new();
    };
    let key = |r: &ReleasedRow| {
        (
            r.indicator.clone(),
            r.segmentation.clone(),
            r.segment.clone(),
        )
    };
    let current: HashMap<_, &ReleasedRow> = table
        .rows
        .iter()
        .filter(|r| r.wave == latest)
        .map(|r| (key(r), r))
        .collect();
    let mut rows: Vec<ChangeRow> = table
        .rows
        .iter()
        .filter(|base| base.wave < latest)
        .filter_map(|base| current.get(&key(base)).map(|now| change(now, base, level)))
        .collect();
    rows.sort_by(|a, b| {
        (&a.indicator, &a.segmentation, &a.segment, a.base_wave).cmp(&(
            &b.indicator,
            &b.segmentation,
            &b.segment,
            b.base_wave,
        ))
    });
    rows
}

fn change(now: &ReleasedRow, base: &ReleasedRow, level: f64) -> ChangeRow {
    let mut row = ChangeRow {
        indicator: now.indicator.clone(),
        kind: now.kind,
        segmentation: now.segmentation.clone(),
        segment: now.segment.clone(),
        segment_label: now.segment_label.clone(),
        wave: now.wave,
        base_wave: base.wave,
        estimate: None,
        base_estimate: None,
        difference: None,
        std_error: None,
        df: None,
        ci_lower: None,
        ci_upper: None,
        p_value: None,
        significant: None,
        suppressed: now.suppressed || base.suppressed,
        flag: None,
    };
    if row.suppressed {
        let flags: Vec<&str> = [
            now.suppressed.then_some("suppressed_in_wave"),
            base.suppressed.then_some("suppressed_in_base_wave"),
        ]
        .into_iter()
        .flatten()
        .collect();
        row.flag = Some(flags.join(";"));
        return row;
    }
    let (Some(a), Some(b)) = (now.estimate, base.estimate) else {
        row.flag = Some("no_estimate".to_string());
        return row;
    };
    row.estimate = Some(a);
    row.base_estimate = Some(b);
    row.difference = Some(a - b);
    let (Some(se_a), Some(se_b)) = (now.std_error, base.std_error) else {
        row.flag = Some("no_std_error".to_string());
        return row;
    };
    let inference = difference((a, se_a, now.df), (b, se_b, base.df), level);
    row.std_error = Some(inference.std_error);
    row.df = Some(inference.df).filter(|df| df.is_finite());
    row.ci_lower = inference.ci.map(|ci| ci.0);
    row.ci_upper = inference.ci.map(|ci| ci.1);
    row.p_value = inference.p_value;
    row.significant = inference.p_value.map(|p| p < 1.0 - level);
    if inference.p_value.is_none() {
        row.flag = Some("no_interval".to_string());
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    fn released(wave: i32, estimate: f64, se: f64, suppressed: bool) -> ReleasedRow {
        ReleasedRow {
            wave: wave.into(),
            indicator: "x".into(),
            kind: IndicatorKind::Proportion,
            segmentation: "total".into(),
            segment: "total".into(),
            segment_label: "Totaal".into(),
            estimate: (!suppressed).then_some(estimate),
            std_error: (!suppressed).then_some(se),
            ci_lower: None,
            ci_upper: None,
            ci_method: (!suppressed).then(|| "logit".into()),
            df: (!suppressed).then_some(99.0),
            n: (!suppressed).then_some(100),
            n_weighted: (!suppressed).then_some(100.0),
            deff: None,
            rse: None,
            suppressed,
            flag: suppressed.then(|| "n_below_min".to_string()),
        }
    }

    /// R: d <- 0.3 - 0.2; se <- sqrt(0.03^2 + 0.04^2); df <- se^4 / (0.03^4/99 + 0.04^4/99)
    /// sprintf("%.17g", c(df, qt(0.975, df), 2 * pt(-d / se, df)))
    #[test]
    fn a_difference_matches_r() {
        let d = difference((0.3, 0.03, Some(99.0)), (0.2, 0.04, Some(99.0)), 0.95);
        assert!((d.std_error - 0.05).abs() < 1e-15);
        assert!((d.df - 183.605_341_246_290_86).abs() < 1e-9);
        let p = d.p_value.unwrap();
        assert!((p / 0.046_974_292_749_685_46 - 1.0).abs() < 1e-9, "{p}");
        let (lower, upper) = d.ci.unwrap();
        let t = (upper - lower) / 2.0 / 0.05;
        assert!((t / 1.972_968_616_797_163_2 - 1.0).abs() < 1e-9, "{t}");
    }

    #[test]
    fn without_df_the_test_is_normal() {
        let d = difference((1.0, 0.3, None), (0.0, 0.4, None), 0.95);
        assert!(d.df.is_infinite());
        // 2 * pnorm(-2)
        let p = d.p_value.unwrap();
        assert!((p / 0.045_500_263_896_358_424 - 1.0).abs() < 1e-12, "{p:e}");
    }

    #[test]
    fn suppression_on_either_side_suppresses_the_change() {
        let table = ReleasedTable {
            rows: vec![
                released(2020, 0.2, 0.04, true),
                released(2022, 0.25, 0.04, false),
                released(2024, 0.3, 0.03, false),
            ],
        };
        let changes = between_waves(&table, 0.95);
        assert_eq!(changes.len(), 2);
        assert_eq!(
            (
                changes[0].base_wave,
                changes[0].suppressed,
                changes[0].difference
            ),
            (2020.into(), true, None)
        );
        assert_eq!(changes[0].flag.as_deref(), Some("suppressed_in_base_wave"));
        assert_eq!(changes[1].base_wave, 2022.into());
        assert!(!changes[1].suppressed);
        assert!((changes[1].difference.unwrap() - 0.05).abs() < 1e-15);
        assert_eq!(changes[1].significant, Some(false));
    }

    #[test]
    fn one_wave_has_no_changes() {
        let table = ReleasedTable {
            rows: vec![released(2024, 0.3, 0.03, false)],
        };
        assert!(between_waves(&table, 0.95).is_empty());
    }
}
