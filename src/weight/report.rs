//! What `weights.json` and the report say of a design's weights: their distribution, overall
//! and per segment, the calibration's report, and the warnings calibration leaves.

use rayon::prelude::*;

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
        // Unstable is exact here: values equal under `total_cmp` are the same bits.
        let mut sorted = weights.to_vec();
        sorted.par_sort_unstable_by(f64::total_cmp);
        let quantile = |p: f64| {
            if sorted.is_empty() {
                return f64::NAN;
            }
            let h = (n - 1) as f64 * p;
            let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
            sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
        };
        let (min, max) = (quantile(0.0), quantile(1.0));
        WeightSummary {
            rows: n,
            sum,
            mean: sum / n as f64,
            min,
            max,
            ratio: max / min,
            quantiles: [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]
                .into_iter()
                .map(|p| (p, quantile(p)))
                .collect(),
            kish_deff: n as f64 * squares / (sum * sum),
            effective_n: sum * sum / squares,
        }
    }
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
            .map(|&i| self.design_weights[i as usize])
            .collect();
        design.weights = self.design_weights.clone();
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
        WeightsReport {
            wave: self.wave,
            design: self.description.clone(),
            design_weights: WeightSummary::of(&self.design_weights),
            weights: WeightSummary::of(&self.weights),
            calibration: self.calibration.as_ref().map(|c| c.report.published(min_n)),
            segments: self.segment_weights(min_n),
        }
    }

    fn segment_weights(&self, min_n: u64) -> Vec<SegmentWeights> {
        let mut out = Vec::new();
        for segmentation in &self.segments {
            let mut sums = vec![(0usize, 0.0f64, 0.0f64); segmentation.domains.len()];
            for (&d, &w) in segmentation.codes.iter().zip(&self.ordered_weights) {
                if d != u32::MAX {
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
