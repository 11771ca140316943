//! Calibration of the design weights to population margins, and the record the variance needs.
//!
//! | method         | weights                                        | R (survey 4.5)                                   |
//! |----------------|------------------------------------------------|--------------------------------------------------|
//! | `poststratify` | `w = d · T_c / D_c` in each cell `c`           | `postStratify(design, ~v, population)`           |
//! | `rake`         | `w = d · exp(xᵀη)` matching every margin       | `calibrate(calfun = "raking")`, `rake()`         |
//! | `linear`       | `w = d · (1 + xᵀλ)`, one GREG step             | `calibrate(design, ~a + b, population)`          |
//! | `trim`         | clamp to `[min, max] × mean(w)`, redistribute  | `trimWeights(design, lower, upper)`              |
//!
//! `x` is the row's calibration vector: one dummy per category of every margin variable (a row
//! whose value is in no category of a variable has zeros for it: it keeps its weight there).
//! Raking takes Newton steps as R's `grake()` and stops, as it does, when
//! `max_j |achieved_j − target_j| / (1 + |target_j|) < tolerance`; its weights are those
//! iterative proportional fitting (R `rake()`) converges to.
//!
//! **Variance.** All three methods are calibration estimators with the same linearisation
//! (Deville & Särndal 1992; R's `svyrecvar` for `calibrate()` and `postStratify()` designs):
//! an estimator's influence values `z` are replaced by the residuals of their regression on the
//! calibration dummies,
//!
//! ```text
//! e_i = z_i − w̃_i · x_iᵀβ,     β = (Σ_i d_i x_i x_iᵀ)⁻ Σ_i x_i z_i / g_i
//! ```
//!
//! with `d` the design weights, `w̃ = g·d` the calibrated weights before trimming and `⁻` a
//! generalised inverse (redundant dummies dropped). This is exactly R's `qr.resid(qr, z/w̃)·w̃`
//! with `qr = qr(X·√d)`. R's `rake()` approximates the same projection by ten backfitting
//! sweeps; its standard errors therefore differ from `calibrate(calfun = "raking")`'s in the
//! fourth or fifth digit, and peiling matches the latter.

use serde::Serialize;

use crate::diag::{catalog, Diagnostic, Failure, Place};
use crate::spec::margins::Margins;
use crate::spec::Wave;
use crate::spec::{CalibrationMethod, Trim, WeightingPlan};

/// A Gram matrix entry below this times its diagonal is taken as linearly dependent.
const PIVOT_TOLERANCE: f64 = 1e-10;

/// The calibration of one wave, in design order.
#[derive(Debug, Clone)]
pub struct Calibration {
    /// For every margin variable, the model column (category) of each row; `u32::MAX` where
    /// the row is in none of its categories.
    pub columns: Vec<Vec<u32>>,
    /// Number of model columns (categories of all variables).
    pub width: usize,
    /// `d / w̃` (`1/g`) per row.
    pub inverse_g: Vec<f64>,
    /// `w̃ / w`: calibrated weight before trimming over the final weight (1 without trimming).
    pub untrimmed_ratio: Vec<f64>,
    /// `Σ d x xᵀ`, factorised.
    pub gram: Cholesky,
    pub report: CalibrationReport,
}

impl Calibration {
    /// `x_iᵀβ` for row `i`.
    pub fn fitted(&self, row: usize, beta: &[f64]) -> f64 {
        self.columns
            .iter()
            .map(|c| c[row])
            .filter(|&c| c != u32::MAX)
            .map(|c| beta[c as usize])
            .sum()
    }

    /// Adds `value · x_i` to `sums`.
    pub fn add_row(&self, row: usize, value: f64, sums: &mut [f64]) {
        for c in &self.columns {
            let c = c[row];
            if c != u32::MAX {
                sums[c as usize] += value;
            }
        }
    }
}

/// What `weights.json` reports about a calibration.
#[derive(Debug, Clone, Serialize)]
pub struct CalibrationReport {
    pub method: CalibrationMethod,
    pub margins_file: String,
    /// Raking sweeps (1 for poststratify and linear).
    pub iterations: u32,
    pub tolerance: f64,
    /// Largest `|achieved − target| / (1 + |target|)` after calibration (before trimming).
    pub max_residual: f64,
    pub margins: Vec<MarginReport>,
    /// Rows in no category of a variable: their weights are not adjusted for it.
    pub uncovered: Vec<Uncovered>,
    pub trimmed_low: usize,
    pub trimmed_high: usize,
    pub negative_weights: usize,
}

impl CalibrationReport {
    /// The report as files outside `private/` may show it: counts of fewer than `min_n`
    /// respondents (and their weighted counts before calibration) are left out.
    pub fn published(&self, min_n: u64) -> CalibrationReport {
        let small = |rows: Option<usize>| rows.is_some_and(|r| (r as u64) < min_n);
        let mut out = self.clone();
        for m in &mut out.margins {
            if small(m.sample_rows) {
                m.sample_rows = None;
                m.before = None;
            }
        }
        for u in &mut out.uncovered {
            if small(u.rows) {
                u.rows = None;
            }
        }
        out
    }
}

/// One category: target, design-weighted count before, calibrated count after.
#[derive(Debug, Clone, Serialize)]
pub struct MarginReport {
    pub variable: String,
    pub category: String,
    pub target: f64,
    /// Respondents in the category; `None` in published files when fewer than `min_n`.
    pub sample_rows: Option<usize>,
    /// Design-weighted count before calibration; hidden with `sample_rows`.
    pub before: Option<f64>,
    pub after: f64,
    /// `(after − target) / (1 + |target|)`, before trimming.
    pub residual: f64,
    /// The weighted count after trimming, when weights were trimmed.
    pub after_trimming: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Uncovered {
    pub variable: String,
    /// `None` in published files when fewer than `min_n`.
    pub rows: Option<usize>,
}

/// A margin variable resolved on the data: the category of each row (design order).
pub struct MarginCodes<'a> {
    pub margins: &'a Margins,
    /// Per variable: the category index of each row, `u32::MAX` where none.
    pub categories: Vec<Vec<u32>>,
}

/// Calibrates `design_weights` (design order) and returns the weights (design order) with the
/// record. `coded` gives each row's categories.
pub fn calibrate(
    plan: &WeightingPlan,
    wave: Wave,
    coded: &MarginCodes,
    design_weights: &[f64],
) -> Result<(Vec<f64>, Calibration), Failure> {
    let margins = coded.margins;
    let rows = design_weights.len();
    // Model columns: the categories of every variable, one after the other.
    let mut offsets = Vec::with_capacity(margins.variables.len());
    let mut width = 0usize;
    for v in &margins.variables {
        offsets.push(width);
        width += v.categories.len();
    }
    let columns: Vec<Vec<u32>> = coded
        .categories
        .iter()
        .zip(&offsets)
        .map(|(cats, &offset)| {
            cats.iter()
                .map(|&c| if c == u32::MAX { c } else { c + offset as u32 })
                .collect()
        })
        .collect();

    // Checks on the data: every category has respondents.
    let mut counts = vec![0usize; width];
    let mut before = vec![0.0; width];
    for column in &columns {
        for (&c, &d) in column.iter().zip(design_weights) {
            if c != u32::MAX {
                counts[c as usize] += 1;
                before[c as usize] += d;
            }
        }
    }
    let mut problems = Vec::new();
    for (v, &offset) in margins.variables.iter().zip(&offsets) {
        for (k, category) in v.categories.iter().enumerate() {
            if counts[offset + k] == 0 {
                problems.push(
                    Diagnostic::error(
                        catalog::W012,
                        format!(
                            "wave {wave}: margin {} = {} has no respondents in the sample, so no weight can be \
                             calibrated to its target {}; merge it with a neighbouring category in the margins and the data",
                            v.name, category.category, category.target
                        ),
                    )
                    .at(margins.at(category)),
                );
            }
        }
    }
    if !problems.is_empty() {
        return Err(Failure::user(problems));
    }
    let uncovered: Vec<Uncovered> = margins
        .variables
        .iter()
        .zip(&columns)
        .map(|(v, c)| Uncovered {
            variable: v.name.clone(),
            rows: Some(c.iter().filter(|&&c| c == u32::MAX).count()),
        })
        .filter(|u| u.rows > Some(0))
        .collect();

    // Targets as counts: shares are of the design-weighted total each variable covers.
    let mut targets = vec![0.0; width];
    for (v, &offset) in margins.variables.iter().zip(&offsets) {
        let covered: f64 = before[offset..offset + v.categories.len()].iter().sum();
        for (k, category) in v.categories.iter().enumerate() {
            targets[offset + k] = if margins.shares {
                category.target * covered
            } else {
                category.target
            };
        }
    }

    let gram = Cholesky::new(&gram_matrix(&columns, width, design_weights));
    let (weights, iterations) = match plan.method {
        CalibrationMethod::Poststratify => {
            let weights = columns[0]
                .iter()
                .zip(design_weights)
                .map(|(&c, &d)| {
                    if c == u32::MAX {
                        d
                    } else {
                        d * targets[c as usize] / before[c as usize]
                    }
                })
                .collect();
            (weights, 1)
        }
        CalibrationMethod::Linear => {
            let misfit: Vec<f64> = targets.iter().zip(&before).map(|(t, b)| t - b).collect();
            let lambda = gram.solve(&misfit);
            let weights = (0..rows)
                .map(|i| {
                    let fit: f64 = columns
                        .iter()
                        .map(|c| c[i])
                        .filter(|&c| c != u32::MAX)
                        .map(|c| lambda[c as usize])
                        .sum();
                    design_weights[i] * (1.0 + fit)
                })
                .collect();
            (weights, 1)
        }
        CalibrationMethod::Rake => rake(
            plan,
            wave,
            margins,
            &columns,
            &offsets,
            &targets,
            design_weights,
        )?,
    };

    let achieved = totals(&columns, width, &weights);
    let mut report_margins = Vec::with_capacity(width);
    let mut max_residual = 0.0f64;
    for (v, &offset) in margins.variables.iter().zip(&offsets) {
        for (k, category) in v.categories.iter().enumerate() {
            let j = offset + k;
            let residual = (achieved[j] - targets[j]) / (1.0 + targets[j].abs());
            max_residual = max_residual.max(residual.abs());
            report_margins.push(MarginReport {
                variable: v.name.clone(),
                category: category.category.clone(),
                target: targets[j],
                sample_rows: Some(counts[j]),
                before: Some(before[j]),
                after: achieved[j],
                residual,
                after_trimming: None,
            });
        }
    }
    let (final_weights, trimmed_low, trimmed_high) = match plan.trim {
        None => (weights.clone(), 0, 0),
        Some(Trim { min, max }) => trim(&weights, min, max),
    };
    let negative_weights = final_weights.iter().filter(|&&w| w <= 0.0).count();
    if negative_weights > 0 {
        return Err(Diagnostic::error(
            catalog::W016,
            format!(
                "wave {wave}: {} gives {negative_weights} weights of zero or less; use method = \"rake\", \
                 which keeps weights positive, or merge sparse categories",
                if trimmed_low + trimmed_high > 0 { "calibration with trimming" } else { "linear calibration" }
            ),
        )
        .at(Place::file(margins.path.display()))
        .into());
    }
    if trimmed_low + trimmed_high > 0 {
        // Trimming moves the margins away from their targets: report where they end.
        let trimmed = totals(&columns, width, &final_weights);
        for (m, &t) in report_margins.iter_mut().zip(&trimmed) {
            m.after_trimming = Some(t);
        }
    }
    let inverse_g = design_weights
        .iter()
        .zip(&weights)
        .map(|(d, w)| d / w)
        .collect();
    let untrimmed_ratio = weights
        .iter()
        .zip(&final_weights)
        .map(|(w, f)| w / f)
        .collect();
    Ok((
        final_weights,
        Calibration {
            columns,
            width,
            inverse_g,
            untrimmed_ratio,
            gram,
            report: CalibrationReport {
                method: plan.method,
                margins_file: margins.path.display().to_string(),
                iterations,
                tolerance: plan.tolerance,
                max_residual,
                margins: report_margins,
                uncovered,
                trimmed_low,
                trimmed_high,
                negative_weights,
            },
        },
    ))
}

/// Weighted count of every model column.
fn totals(columns: &[Vec<u32>], width: usize, weights: &[f64]) -> Vec<f64> {
    let mut totals = vec![0.0; width];
    for column in columns {
        for (&c, &w) in column.iter().zip(weights) {
            if c != u32::MAX {
                totals[c as usize] += w;
            }
        }
    }
    totals
}

/// `Σ_i d_i x_i x_iᵀ`, dense, row-major.
fn gram_matrix(columns: &[Vec<u32>], width: usize, d: &[f64]) -> Vec<f64> {
    let mut gram = vec![0.0; width * width];
    for (i, &d) in d.iter().enumerate() {
        for a in columns.iter().map(|c| c[i]).filter(|&c| c != u32::MAX) {
            for b in columns.iter().map(|c| c[i]).filter(|&c| c != u32::MAX) {
                gram[a as usize * width + b as usize] += d;
            }
        }
    }
    gram
}

/// Raking as R's `grake(calfun = cal.raking)`: Newton steps on `w = d·exp(xᵀη)` until every
/// margin is within `tolerance`, with R's pre-scaling of weights far below the targets and its
/// step halving. The solution is the one iterative proportional fitting (R `rake()`) converges
/// to, reached in a handful of steps instead of tens to hundreds of sweeps.
fn rake(
    plan: &WeightingPlan,
    wave: Wave,
    margins: &Margins,
    columns: &[Vec<u32>],
    offsets: &[usize],
    targets: &[f64],
    design_weights: &[f64],
) -> Result<(Vec<f64>, u32), Failure> {
    let width = targets.len();
    let rows = design_weights.len();
    // R: when every target is more than 20 times the sample total, start from weights scaled
    // by the mean ratio (the solution is the same).
    let sample = totals(columns, width, design_weights);
    let scales: Vec<f64> = targets.iter().zip(&sample).map(|(t, s)| t / s).collect();
    let scale = (scales.iter().copied().fold(f64::INFINITY, f64::min) > 20.0)
        .then(|| scales.iter().sum::<f64>() / width as f64);
    let d: Vec<f64> = design_weights
        .iter()
        .map(|&d| scale.map_or(d, |s| d * s))
        .collect();
    let fit = |eta: &[f64], i: usize| -> f64 {
        columns
            .iter()
            .map(|c| c[i])
            .filter(|&c| c != u32::MAX)
            .map(|c| eta[c as usize])
            .sum()
    };
    let weights_at =
        |eta: &[f64]| -> Vec<f64> { (0..rows).map(|i| d[i] * fit(eta, i).exp()).collect() };
    let misfit_of = |weights: &[f64]| -> Vec<f64> {
        totals(columns, width, weights)
            .iter()
            .zip(targets)
            .map(|(a, t)| t - a)
            .collect()
    };
    let worst = |misfit: &[f64]| {
        misfit
            .iter()
            .zip(targets)
            .enumerate()
            .map(|(j, (m, t))| (j, m.abs() / (1.0 + t.abs())))
            .fold((0, 0.0f64), |best, x| {
                if x.1 > best.1 || x.1.is_nan() {
                    x
                } else {
                    best
                }
            })
    };

    let mut eta = vec![0.0; width];
    let mut weights = d.clone();
    let mut iteration = 1u32;
    loop {
        // Newton step: (Σ w x xᵀ) Δη = target − Σ w x, with w = d·exp(xᵀη).
        let hessian = Cholesky::new(&gram_matrix(columns, width, &weights));
        let step = hessian.solve(&misfit_of(&weights));
        let mut next: Vec<f64> = eta.iter().zip(&step).map(|(e, s)| e + s).collect();
        let mut candidate = weights_at(&next);
        let mut halved = step.clone();
        while iteration < plan.max_iterations && candidate.iter().any(|w| !w.is_finite()) {
            iteration += 1;
            halved.iter_mut().for_each(|s| *s /= 2.0);
            next = eta.iter().zip(&halved).map(|(e, s)| e + s).collect();
            candidate = weights_at(&next);
        }
        eta = next;
        weights = candidate;
        let (j, residual) = worst(&misfit_of(&weights));
        if residual < plan.tolerance {
            break;
        }
        iteration += 1;
        if iteration > plan.max_iterations {
            let (v, k) = locate(margins, offsets, j);
            let category = &margins.variables[v].categories[k];
            return Err(Diagnostic::error(
                catalog::W015,
                format!(
                    "wave {wave}: raking did not converge in {} iterations: margin {} = {} is off by {residual:.3e} \
                     (relative; tolerance {:e}); the margins may contradict each other or a category \
                     may be too sparse; merge categories or raise max_iterations",
                    plan.max_iterations, margins.variables[v].name, category.category, plan.tolerance
                ),
            )
            .at(margins.at(category))
            .into());
        }
    }
    Ok((weights, iteration))
}

/// Variable and category of model column `j`.
fn locate(margins: &Margins, offsets: &[usize], j: usize) -> (usize, usize) {
    let v = offsets.iter().rposition(|&o| o <= j).unwrap_or(0);
    let k = (j - offsets[v]).min(margins.variables[v].categories.len().saturating_sub(1));
    (v, k)
}

/// R's `trimWeights(strict = FALSE)`: weights outside `[min, max] × mean` are set to the bound
/// and the amount trimmed is shared equally by the rows inside.
fn trim(weights: &[f64], min: Option<f64>, max: Option<f64>) -> (Vec<f64>, usize, usize) {
    let mean = weights.iter().sum::<f64>() / weights.len() as f64;
    let lower = min.map_or(f64::NEG_INFINITY, |m| m * mean);
    let upper = max.map_or(f64::INFINITY, |m| m * mean);
    let low = weights.iter().filter(|&&w| w < lower).count();
    let high = weights.iter().filter(|&&w| w > upper).count();
    let inside = weights.len() - low - high;
    if low + high == 0 || inside == 0 {
        return (weights.to_vec(), 0, 0);
    }
    let trimmed: f64 = weights.iter().map(|&w| w - w.clamp(lower, upper)).sum();
    let share = trimmed / inside as f64;
    let out = weights
        .iter()
        .map(|&w| {
            if w < lower || w > upper {
                w.clamp(lower, upper)
            } else {
                w + share
            }
        })
        .collect();
    (out, low, high)
}

/// Cholesky factor of a symmetric positive semi-definite matrix; columns that are linear
/// combinations of earlier ones are dropped (their coefficient is 0), a generalised inverse
/// that gives the same fitted values as R's pivoting QR.
#[derive(Debug, Clone)]
pub struct Cholesky {
    width: usize,
    /// Lower triangle, row-major; rows of dropped columns are zero.
    lower: Vec<f64>,
    kept: Vec<bool>,
}

impl Cholesky {
    pub fn new(matrix: &[f64]) -> Self {
        let width = (matrix.len() as f64).sqrt() as usize;
        let mut lower = vec![0.0; width * width];
        let mut kept = vec![false; width];
        for j in 0..width {
            let mut pivot = matrix[j * width + j];
            for k in 0..j {
                pivot -= lower[j * width + k] * lower[j * width + k];
            }
            // Also drops a NaN pivot.
            if pivot.partial_cmp(&(PIVOT_TOLERANCE * matrix[j * width + j]))
                != Some(std::cmp::Ordering::Greater)
            {
                continue;
            }
            kept[j] = true;
            let root = pivot.sqrt();
            lower[j * width + j] = root;
            for i in j + 1..width {
                let mut v = matrix[i * width + j];
                for k in 0..j {
                    v -= lower[i * width + k] * lower[j * width + k];
                }
                lower[i * width + j] = v / root;
            }
        }
        Cholesky { width, lower, kept }
    }

    /// Which columns were kept (the others are linear combinations of earlier ones).
    pub fn kept(&self) -> &[bool] {
        &self.kept
    }

    /// The inverse on the kept columns (row-major; rows and columns of dropped ones are 0).
    pub fn inverse(&self) -> Vec<f64> {
        let n = self.width;
        let mut inverse = vec![0.0; n * n];
        let mut unit = vec![0.0; n];
        for j in (0..n).filter(|&j| self.kept[j]) {
            unit[j] = 1.0;
            for (i, v) in self.solve(&unit).into_iter().enumerate() {
                inverse[i * n + j] = v;
            }
            unit[j] = 0.0;
        }
        inverse
    }

    /// Solves `M β = b` on the kept columns; dropped columns get 0.
    pub fn solve(&self, b: &[f64]) -> Vec<f64> {
        let n = self.width;
        let mut y = vec![0.0; n];
        for i in 0..n {
            if !self.kept[i] {
                continue;
            }
            let row = &self.lower[i * n..i * n + i];
            let v = b[i] - row.iter().zip(&y).map(|(l, y)| l * y).sum::<f64>();
            y[i] = v / self.lower[i * n + i];
        }
        let mut x = vec![0.0; n];
        for i in (0..n).rev() {
            if !self.kept[i] {
                continue;
            }
            let v = y[i]
                - (i + 1..n)
                    .map(|k| self.lower[k * n + i] * x[k])
                    .sum::<f64>();
            x[i] = v / self.lower[i * n + i];
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_drops_redundant_columns_and_fits() {
        // Two dummies per variable for two variables: the second set sums to the first.
        // rows: (a0,b0), (a0,b1), (a1,b0), (a1,b1), (a1,b1)
        let columns = vec![vec![0u32, 0, 1, 1, 1], vec![2u32, 3, 2, 3, 3]];
        let d = [1.0, 2.0, 1.5, 1.0, 0.5];
        let gram = Cholesky::new(&gram_matrix(&columns, 4, &d));
        assert_eq!(gram.kept, [true, true, true, false]);
        // The fitted values of a regression of z on the dummies are unique.
        let z = [1.0, -2.0, 0.5, 3.0, 1.0];
        let mut xz = vec![0.0; 4];
        for i in 0..5 {
            for c in &columns {
                xz[c[i] as usize] += d[i] * z[i];
            }
        }
        let beta = gram.solve(&xz);
        // Normal equations hold for every column, the dropped one included.
        for j in 0..4 {
            let lhs: f64 = (0..5)
                .filter(|&i| columns.iter().any(|c| c[i] as usize == j))
                .map(|i| d[i] * (z[i] - columns.iter().map(|c| beta[c[i] as usize]).sum::<f64>()))
                .sum();
            assert!(lhs.abs() < 1e-12, "column {j}: {lhs}");
        }
    }

    #[test]
    fn trimming_redistributes_equally_as_r() {
        // mean 2; bounds [1.5, 2.5]: 0.5 and 4 are trimmed by -1 and +1.5 → 0.5 to share.
        let (w, low, high) = trim(&[0.5, 2.0, 1.5, 4.0], Some(0.75), Some(1.25));
        assert_eq!((low, high), (1, 1));
        assert_eq!(w, vec![1.5, 2.25, 1.75, 2.5]);
        assert!((w.iter().sum::<f64>() - 8.0).abs() < 1e-12);
    }
}
