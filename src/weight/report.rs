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
        // Type 7 interpolates between the order statistics at floor(h) and ceil(h); only those
        // are found (`order_statistics`), not a sort of every weight.
        const QUANTILES: [f64; 7] = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];
        let h = |p: f64| (n.saturating_sub(1)) as f64 * p;
        let mut positions: Vec<usize> = [0.0, 1.0]
            .iter()
            .chain(&QUANTILES)
            .flat_map(|&p| [h(p).floor() as usize, h(p).ceil() as usize])
            .collect();
        positions.sort_unstable();
        positions.dedup();
        let at: Vec<f64> = order_statistics(weights, &positions);
        let value = |position: usize| {
            at[positions
                .binary_search(&position)
                .expect("every position of a quantile is among those found")]
        };
        let quantile = |p: f64| {
            if weights.is_empty() {
                return f64::NAN;
            }
            let h = h(p);
            let (lo, hi) = (value(h.floor() as usize), value(h.ceil() as usize));
            lo + (h - h.floor()) * (hi - lo)
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

/// The values at `positions` (ascending, distinct, in bounds) of `values` sorted by
/// `f64::total_cmp`, without sorting or copying them all. Each value has a key that orders as
/// `total_cmp` does ([`order_key`]); the keys' range is cut into [`BUCKETS`] buckets of equal
/// width, one pass counts the values per bucket, which tells the bucket each position falls in,
/// and a second collects only those buckets' values, to select among. Bucketing by the bits of a
/// float is about logarithmic in the value, so a heavy tail of weights leaves the buckets small.
/// Values with the same key are the same bits, so the result is exact.
fn order_statistics(values: &[f64], positions: &[usize]) -> Vec<f64> {
    if values.is_empty() {
        return Vec::new();
    }
    let (least, greatest) = values
        .iter()
        .map(|&v| order_key(v))
        .fold((u64::MAX, u64::MIN), |(least, greatest), k| {
            (least.min(k), greatest.max(k))
        });
    // The fewest low bits to drop so that every key's bucket is below BUCKETS.
    let span_bits = u64::BITS - (greatest - least).leading_zeros();
    let shift = span_bits.saturating_sub(BUCKETS.trailing_zeros());
    let bucket = |v: f64| ((order_key(v) - least) >> shift) as usize;
    let mut counts = vec![0usize; BUCKETS];
    values.iter().for_each(|&v| counts[bucket(v)] += 1);
    // Per position, its bucket and its rank there; per bucket holding a position, its values.
    let mut first = 0;
    let mut places: Vec<(usize, usize)> = Vec::with_capacity(positions.len());
    let mut positions = positions.iter().peekable();
    for (b, &count) in counts.iter().enumerate() {
        while let Some(p) = positions.next_if(|&&p| p < first + count) {
            places.push((b, p - first));
        }
        first += count;
    }
    let mut slot_of = vec![u32::MAX; BUCKETS];
    let mut wanted: Vec<usize> = places.iter().map(|&(b, _)| b).collect();
    wanted.dedup();
    let mut collected: Vec<Vec<f64>> = wanted
        .iter()
        .enumerate()
        .map(|(slot, &b)| {
            slot_of[b] = slot as u32;
            Vec::with_capacity(counts[b])
        })
        .collect();
    for &v in values {
        if let Some(bucket) = collected.get_mut(slot_of[bucket(v)] as usize) {
            bucket.push(v);
        }
    }
    places
        .iter()
        .map(|&(b, rank)| {
            let bucket = &mut collected[slot_of[b] as usize];
            *bucket.select_nth_unstable_by(rank, f64::total_cmp).1
        })
        .collect()
}

/// Buckets of [`order_statistics`]: the counts fit in the second-level cache.
const BUCKETS: usize = 1 << 16;

/// A key of `v` that orders as `f64::total_cmp` orders the values: negative values' bits
/// inverted (larger magnitude first), positive values' sign bit set (after every negative).
fn order_key(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
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

    /// Any value `f64::total_cmp` orders: negative, zero of either sign, infinite, NaN,
    /// subnormal, and magnitudes far apart.
    fn any_float() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            -3.0f64..3.0,
            0.5f64..1e6,
            prop::sample::select(vec![
                0.0,
                -0.0,
                1.0,
                f64::INFINITY,
                f64::NAN,
                -f64::NAN,
                5e-324
            ]),
        ]
    }

    proptest! {
        /// The order statistics found by buckets are those of the values sorted by
        /// `total_cmp`, bit for bit, at any positions.
        #[test]
        fn order_statistics_are_those_of_the_sorted_values(
            values in prop::collection::vec(any_float(), 1..400),
            picks in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
        ) {
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let mut positions: Vec<usize> = picks.iter().map(|i| i.index(values.len())).collect();
            positions.sort_unstable();
            positions.dedup();
            let found = order_statistics(&values, &positions);
            let want: Vec<u64> = positions.iter().map(|&p| sorted[p].to_bits()).collect();
            prop_assert_eq!(found.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), want);
        }
    }

    #[test]
    fn order_statistics_of_many_values_in_few_buckets() {
        // A million weights, most in one narrow band and a few far out: the band's buckets hold
        // many values each, and every position is still exact.
        let values: Vec<f64> = (0..1_000_000u64)
            .map(|i| match i % 1000 {
                0 => 1e9 + i as f64,
                1 => 1e-9 * i as f64,
                _ => 10.0 + ((i * 2_654_435_761) % 4096) as f64 / 4096.0,
            })
            .collect();
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let positions = [0, 1, 999, 1000, 250_000, 499_999, 500_000, 999_000, 999_999];
        let found = order_statistics(&values, &positions);
        let want: Vec<f64> = positions.iter().map(|&p| sorted[p]).collect();
        assert_eq!(found, want);
    }

    #[test]
    fn no_weights_have_no_quantiles() {
        let summary = WeightSummary::of(&[]);
        assert!(summary.min.is_nan() && summary.quantiles.iter().all(|(_, q)| q.is_nan()));
    }
}
