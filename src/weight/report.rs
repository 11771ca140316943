//! What `weights.json` and the report say of a design's weights: their distribution, overall
//! and per segment, the calibration's report, and the warnings calibration leaves.

use super::{calibrate, SegmentIndex, SurveyDesign};
use crate::diag::{catalog, Diagnostic, Place};
use crate::spec::Wave;

/// Distribution of a set of weights, for `weights.json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WeightSummary {
    pub rows: usize,
    pub sum: f64,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    /// `max / min`.
    pub ratio: f64,
    /// Quantiles 1, 5, 25, 50, 75, 95 and 99% (R's default type 7).
    pub quantiles: Vec<(f64, f64)>,
    /// Kish's design effect of unequal weighting, `1 + CV² = n·Σw² / (Σw)²`.
    pub kish_deff: f64,
    /// `(Σw)² / Σw² = n / kish_deff`.
    pub effective_n: f64,
}

impl WeightSummary {
    pub fn of(weights: &[f64]) -> Self {
        let n = weights.len();
        let sum: f64 = weights.iter().sum();
        let squares: f64 = weights.iter().map(|w| w * w).sum();
        // Type 7 interpolates between the order statistics at floor(h) and ceil(h); only
        // those are put in place, by selection rather than a sort of every weight.
        const QUANTILES: [f64; 7] = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];
        let h = |p: f64| (n.saturating_sub(1)) as f64 * p;
        let mut positions: Vec<usize> = [0.0, 1.0]
            .iter()
            .chain(&QUANTILES)
            .flat_map(|&p| [h(p).floor() as usize, h(p).ceil() as usize])
            .collect();
        positions.sort_unstable();
        positions.dedup();
        let mut ordered = weights.to_vec();
        if n > 0 {
            select_positions(&mut ordered, &positions);
        }
        let quantile = |p: f64| {
            if ordered.is_empty() {
                return f64::NAN;
            }
            let h = h(p);
            let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
            ordered[lo] + (h - lo as f64) * (ordered[hi] - ordered[lo])
        };
        let (min, max) = (quantile(0.0), quantile(1.0));
        WeightSummary {
            rows: n,
            sum,
            mean: sum / n as f64,
            min,
            max,
            ratio: max / min,
            quantiles: QUANTILES.into_iter().map(|p| (p, quantile(p))).collect(),
            kish_deff: n as f64 * squares / (sum * sum),
            effective_n: sum * sum / squares,
        }
    }
}

/// Puts the values at `positions` (ascending, distinct, in bounds) where a sort by
/// `f64::total_cmp` would put them: a selection at the middle position, then the same on each
/// side. Values equal under `total_cmp` are the same bits, so the order statistics are exact.
fn select_positions(values: &mut [f64], positions: &[usize]) {
    let Some(&at) = positions.get(positions.len() / 2) else {
        return;
    };
    let (before, after) = positions.split_at(positions.len() / 2);
    values.select_nth_unstable_by(at, f64::total_cmp);
    let (left, right) = values.split_at_mut(at + 1);
    select_positions(left, before);
    let after: Vec<usize> = after[1..].iter().map(|p| p - at - 1).collect();
    select_positions(right, &after);
}

/// One wave's entry in `weights.json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WeightsReport {
    pub wave: Wave,
    pub design: String,
    /// The weights of the design, before calibration.
    pub design_weights: WeightSummary,
    /// The weights estimates use (after calibration and trimming).
    pub weights: WeightSummary,
    pub calibration: Option<calibrate::CalibrationReport>,
    /// Kish's design effect and effective n of the weights used, per segment of every
    /// segmentation (segments with fewer than `min_n` respondents left out).
    pub segments: Vec<SegmentWeights>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SegmentWeights {
    pub segmentation: String,
    pub segment: String,
    pub rows: usize,
    pub kish_deff: f64,
    pub effective_n: f64,
}

impl SurveyDesign {
    /// The same wave with the design weights instead of the calibrated ones, for the `total`
    /// segment only: the "before weighting" figures of the report. `None` without calibration.
    pub fn uncalibrated_total(&self) -> Option<SurveyDesign> {
        self.calibration.as_ref()?;
        let mut design = self.clone();
        design.calibration = None;
        design.ordered_weights = self
            .order
            .iter()
            .map(|&i| self.design_weights()[i as usize])
            .collect();
        design.weights = self.design_weights().to_vec();
        design.uncalibrated = None;
        design.segments = vec![SegmentIndex {
            name: "total".to_string(),
            codes: vec![0; self.rows()],
            domains: vec![("total".to_string(), "Totaal".to_string())],
        }];
        Some(design)
    }

    /// Warnings about the calibration for the run's diagnostics: rows that no category of a
    /// margin variable covers keep their weight for it (`W013`).
    pub fn weighting_notices(&self) -> Vec<Diagnostic> {
        let Some(calibration) = &self.calibration else {
            return Vec::new();
        };
        calibration
            .report
            .uncovered
            .iter()
            .map(|u| {
                Diagnostic::warning(
                    catalog::W013,
                    format!(
                        "wave {}: {} respondents are in no category of margin {}; their weights are \
                         not calibrated to it (add their category to the margins to include them)",
                        self.wave,
                        u.rows.unwrap_or_default(),
                        u.variable
                    ),
                )
                .at(Place::file(&calibration.report.margins_file))
            })
            .collect()
    }

    /// The wave's `weights.json` entry, with counts below `min_n` left out (it is published).
    pub fn weights_report(&self, min_n: u64) -> WeightsReport {
        let design_weights = WeightSummary::of(self.design_weights());
        // Without calibration the weights are the design weights: summarised once.
        let weights = match &self.uncalibrated {
            Some(_) => WeightSummary::of(&self.weights),
            None => design_weights.clone(),
        };
        WeightsReport {
            wave: self.wave,
            design: self.description.clone(),
            design_weights,
            weights,
            calibration: self.calibration.as_ref().map(|c| c.report.published(min_n)),
            segments: self.segment_weights(min_n),
        }
    }

    fn segment_weights(&self, min_n: u64) -> Vec<SegmentWeights> {
        let mut out = Vec::new();
        for segmentation in &self.segments {
            let mut sums = vec![(0usize, 0.0f64, 0.0f64); segmentation.domains.len()];
            for (&d, &w) in segmentation.codes.iter().zip(&self.ordered_weights) {
                if d != crate::levels::NULL {
                    let s = &mut sums[d as usize];
                    s.0 += 1;
                    s.1 += w;
                    s.2 += w * w;
                }
            }
            for ((rows, sum, squares), (code, _)) in sums.into_iter().zip(&segmentation.domains) {
                if rows == 0 || (rows as u64) < min_n {
                    continue;
                }
                out.push(SegmentWeights {
                    segmentation: segmentation.name.clone(),
                    segment: code.clone(),
                    rows,
                    kish_deff: rows as f64 * squares / (sum * sum),
                    effective_n: sum * sum / squares,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The quantiles by selection are R's type 7 on the sorted weights, exactly.
        #[test]
        fn quantiles_are_type_7_of_the_sorted_weights(
            weights in prop::collection::vec(prop_oneof![0.5f64..200.0, Just(1.0), Just(2.5)], 1..300),
        ) {
            let mut sorted = weights.clone();
            sorted.sort_by(f64::total_cmp);
            let summary = WeightSummary::of(&weights);
            let n = sorted.len();
            prop_assert_eq!(summary.min, sorted[0]);
            prop_assert_eq!(summary.max, sorted[n - 1]);
            for &(p, q) in &summary.quantiles {
                let h = (n - 1) as f64 * p;
                let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
                let want = sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]);
                prop_assert_eq!(q.to_bits(), want.to_bits(), "p = {}", p);
            }
        }
    }

    #[test]
    fn no_weights_have_no_quantiles() {
        let summary = WeightSummary::of(&[]);
        assert!(summary.min.is_nan() && summary.quantiles.iter().all(|(_, q)| q.is_nan()));
    }
}
