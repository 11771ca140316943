//! Disclosure control: what may be published.
//!
//! Primary suppression, after the rules GGD table books use: an estimate whose domain has fewer
//! than `min_n` respondents, or (proportions) fewer than `min_cell` answering yes or no, is
//! published as null, and so are its SE, interval, df, deff, `n` and weighted n, with the reason
//! in `flag` (`n_below_min`, `cell_below_min`). An estimate with a relative standard error above
//! `max_rse` is published with flag `unreliable`. The yes-count used for the cell rule never
//! leaves this stage.

use crate::estimate::{EstimateRow, EstimateTable};
use crate::spec::{DisclosureSpec, IndicatorKind};

/// A publishable row of `estimates.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleasedRow {
    pub wave: i32,
    pub indicator: String,
    pub kind: IndicatorKind,
    pub segmentation: String,
    pub segment: String,
    pub segment_label: String,
    pub estimate: Option<f64>,
    pub std_error: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    pub ci_method: String,
    pub df: Option<f64>,
    pub n: Option<i64>,
    pub n_weighted: Option<f64>,
    pub deff: Option<f64>,
    pub rse: Option<f64>,
    pub suppressed: bool,
    pub flag: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ReleasedTable {
    pub rows: Vec<ReleasedRow>,
}

impl ReleasedTable {
    pub fn suppressed(&self) -> usize {
        self.rows.iter().filter(|r| r.suppressed).count()
    }
}

/// Why a row may not be published, if it may not.
fn suppression_reason(row: &EstimateRow, rules: &DisclosureSpec) -> Option<&'static str> {
    if (row.n as u64) < rules.min_n {
        return Some("n_below_min");
    }
    if row.kind == IndicatorKind::Proportion {
        let yes = row.n_yes.unwrap_or(0) as u64;
        let no = row.n as u64 - yes;
        if yes < rules.min_cell || no < rules.min_cell {
            return Some("cell_below_min");
        }
    }
    None
}

pub fn apply(table: EstimateTable, rules: &DisclosureSpec) -> ReleasedTable {
    let rows = table
        .rows
        .into_iter()
        .map(|row| {
            let reason = suppression_reason(&row, rules);
            let mut flags: Vec<String> = row.flag.iter().cloned().collect();
            if let Some(reason) = reason {
                flags = vec![reason.to_string()];
            } else if row.rse.is_some_and(|rse| rse > rules.max_rse) {
                flags.push("unreliable".to_string());
            }
            let keep = reason.is_none();
            let publish = |value: Option<f64>| value.filter(|_| keep);
            ReleasedRow {
                wave: row.wave,
                indicator: row.indicator,
                kind: row.kind,
                segmentation: row.segmentation,
                segment: row.segment,
                segment_label: row.segment_label,
                estimate: publish(row.estimate),
                std_error: publish(row.std_error),
                ci_lower: publish(row.ci_lower),
                ci_upper: publish(row.ci_upper),
                ci_method: row.ci_method,
                df: publish(row.df),
                n: Some(row.n).filter(|_| keep),
                n_weighted: publish(Some(row.n_weighted)),
                deff: publish(row.deff),
                rse: publish(row.rse),
                suppressed: !keep,
                flag: (!flags.is_empty()).then(|| flags.join(";")),
            }
        })
        .collect();
    ReleasedTable { rows }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proportion(n: i64, yes: i64, se: f64) -> EstimateRow {
        let p = yes as f64 / n as f64;
        EstimateRow {
            wave: 2024,
            indicator: "x".into(),
            kind: IndicatorKind::Proportion,
            segmentation: "total".into(),
            segment: "total".into(),
            segment_label: "Totaal".into(),
            estimate: Some(p),
            std_error: Some(se),
            ci_lower: Some(p - 0.1),
            ci_upper: Some(p + 0.1),
            ci_method: "logit".into(),
            df: Some(n as f64 - 1.0),
            n,
            n_weighted: n as f64,
            deff: None,
            rse: Some(se / p),
            n_yes: Some(yes),
            flag: None,
        }
    }

    fn release(row: EstimateRow) -> ReleasedRow {
        apply(
            EstimateTable { rows: vec![row] },
            &DisclosureSpec::default(),
        )
        .rows
        .remove(0)
    }

    #[test]
    fn small_domains_are_suppressed_entirely() {
        let row = release(proportion(29, 10, 0.05));
        assert!(row.suppressed);
        assert_eq!(row.flag.as_deref(), Some("n_below_min"));
        assert_eq!(
            (
                row.estimate,
                row.std_error,
                row.ci_lower,
                row.n,
                row.n_weighted
            ),
            (None, None, None, None, None)
        );
    }

    #[test]
    fn small_yes_or_no_cells_are_suppressed() {
        assert_eq!(
            release(proportion(100, 4, 0.02)).flag.as_deref(),
            Some("cell_below_min")
        );
        assert_eq!(
            release(proportion(100, 96, 0.02)).flag.as_deref(),
            Some("cell_below_min")
        );
        assert!(!release(proportion(100, 5, 0.02)).suppressed);
    }

    #[test]
    fn imprecise_estimates_are_flagged_not_hidden() {
        let row = release(proportion(100, 10, 0.04));
        assert!(!row.suppressed);
        assert_eq!(row.flag.as_deref(), Some("unreliable"));
        assert_eq!(row.estimate, Some(0.1));
    }
}
