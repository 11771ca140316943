//! Derived columns: SQL expressions (polars-sql) and scale scores, applied in spec order.
//!
//! Derivations see the analysis values (user-missing codes are null), so `CASE WHEN belasting
//! IN (3, 4, 5) THEN 1 ...` never counts a "geen antwoord". A scale score counts the items
//! answered with one of `count_codes` (EDIZ: Min of meer, Ja, Ja! score one point); with fewer
//! than `min_valid` items answered it is null, and with `prorate` a partial score is scaled up
//! to the full item count (`score × items / answered`), the usual handling of item
//! non-response in sum scores.

use polars::prelude::*;

use crate::diag::{catalog, Diagnostic, Failure};
use crate::spec::Wave;
use crate::spec::{DerivePlan, ScalePlan};
use crate::validate::ValidFrame;

/// Analysis frame with the derived columns added; the coded frame gets them too, so the
/// private microdata hold them.
#[derive(Debug, Clone)]
pub struct DerivedFrame {
    pub wave: Wave,
    pub coded: DataFrame,
    pub analysis: DataFrame,
}

impl DerivedFrame {
    /// Drops the analysis columns outside `keep` (the coded frame, written to the microdata,
    /// keeps them all).
    pub fn keep_analysis_columns(&mut self, keep: &std::collections::BTreeSet<String>) {
        let names: Vec<PlSmallStr> = self
            .analysis
            .get_column_names()
            .into_iter()
            .filter(|name| keep.contains(name.as_str()))
            .cloned()
            .collect();
        if let Ok(kept) = self.analysis.select(names) {
            self.analysis = kept;
        }
    }
}

pub fn apply(valid: ValidFrame, derive: &[DerivePlan]) -> Result<DerivedFrame, Failure> {
    let mut analysis = valid.analysis;
    let mut coded = valid.coded;
    for plan in derive {
        let column = match plan {
            DerivePlan::Sql { name, text, expr } => analysis
                .clone()
                .lazy()
                .select([expr.clone().alias(name.as_str())])
                .collect()
                .and_then(|df| Ok(df.column(name.as_str())?.clone()))
                .map_err(|e| {
                    Failure::from(
                        Diagnostic::error(
                            catalog::S035,
                            format!("derive {name:?}: {text:?} could not be computed"),
                        )
                        .caused_by(e),
                    )
                })?,
            DerivePlan::Scale { name, scale } => {
                scale_score(&analysis, name, scale).map_err(|e| {
                    Failure::from(
                        Diagnostic::error(
                            catalog::S032,
                            format!("scale {name:?} could not be computed"),
                        )
                        .caused_by(e),
                    )
                })?
            }
        };
        let internal = |e: PolarsError| {
            Failure::internal(
                Diagnostic::error(
                    catalog::S099,
                    "internal: a derived column could not be added to the data",
                )
                .caused_by(e),
            )
        };
        analysis.with_column(column.clone()).map_err(internal)?;
        coded.with_column(column).map_err(internal)?;
    }
    Ok(DerivedFrame {
        wave: valid.wave,
        coded,
        analysis,
    })
}

/// Count of items answered with a counting code; see the module doc for missing items.
fn scale_score(frame: &DataFrame, name: &str, scale: &ScalePlan) -> PolarsResult<Column> {
    let items = scale
        .items
        .iter()
        .map(|item| {
            frame
                .column(item)?
                .cast(&DataType::Int64)
                .map(|c| c.i64().cloned())?
        })
        .collect::<PolarsResult<Vec<Int64Chunked>>>()?;
    let n_items = items.len();
    let min_valid = scale.min_valid;
    let mut scores = Vec::with_capacity(frame.height());
    for row in 0..frame.height() {
        let (mut answered, mut points) = (0usize, 0usize);
        for item in &items {
            if let Some(code) = item.get(row) {
                answered += 1;
                points += scale.count_codes.contains(&code) as usize;
            }
        }
        scores.push((answered >= min_valid).then(|| {
            if scale.prorate {
                points as f64 * n_items as f64 / answered as f64
            } else {
                points as f64
            }
        }));
    }
    Ok(
        Float64Chunked::from_iter_options(name.into(), scores.into_iter())
            .into_series()
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_counts_prorates_and_needs_min_valid() {
        let frame = df!(
            "a" => [Some(1i64), Some(4), None],
            "b" => [Some(5i64), None, None],
            "c" => [Some(3i64), Some(3), Some(5)],
        )
        .unwrap();
        let scale = ScalePlan {
            items: vec!["a".into(), "b".into(), "c".into()],
            count_codes: vec![3, 4, 5],
            min_valid: 2,
            prorate: true,
        };
        let score = scale_score(&frame, "s", &scale).unwrap();
        let score: Vec<Option<f64>> = score.f64().unwrap().iter().collect();
        assert_eq!(score, [Some(2.0), Some(3.0), None]);
        let plain = ScalePlan {
            prorate: false,
            ..scale
        };
        let score = scale_score(&frame, "s", &plain).unwrap();
        assert_eq!(score.f64().unwrap().get(1), Some(2.0));
    }
}
