//! Design-based generalised linear models: R `svyglm(formula, design, family)` of survey 4.5,
//! with its `vcov()`, `summary()` (t statistics and p-values) and `confint()` (t intervals).
//!
//! **Fit.** The coefficients come from iteratively reweighted least squares, R's `glm.fit` step
//! for step, so that they stop where R's stop: the prior weights are the design's weights over
//! their mean (`svyglm(rescale = TRUE)`: the mean over the rows of R's subset design, which are
//! the domain's rows, or every row of a calibrated design, whose subsets keep all rows at weight
//! 0); the start is the family's (`mustart`: `y` linear, `(w·y + ½)/(w + 1)` logistic, `y + 0.1`
//! poisson); an iteration solves the weighted least squares of the working response and stops
//! when `|dev − dev_old| / (|dev| + 0.1) < tolerance` (R `glm.control(epsilon)`, 1e-8), halving a
//! step whose deviance is not finite. The links are R's, thresholds included (`logit` clamps
//! `|η| > 30`, `log` floors `μ` at machine epsilon).
//!
//! **Variance.** R's sandwich, `svyrecvar(estfun %*% Ainv)`: the influence of coefficient *k* for
//! row *i* is `z_ik = w_i·ω_i·r_i·(A⁻¹x_i)_k`, with `r_i = (y_i − μ_i)/μ'(η_i)` the working
//! residual at the estimate, `ω_i = μ'(η)²/V(μ)` the working weight and `A = Σ w·ω·x·xᵀ` the
//! information, both as R has them: from the last iteration's least squares, at the iterate
//! before the estimate (so the standard errors agree with R's, which are up to ~1e-4 relative
//! from the sandwich at the estimate itself under the default tolerance; a smaller tolerance
//! brings both to it). The variance of each coefficient is [`kernel::accumulate`]'s of its
//! influence, zero outside the model's rows, with strata, PSUs, fpc, lonely PSUs and
//! calibration exactly as for the indicators. `df` is R's `degf(design) + 1 − p` over the model's
//! rows (PSUs minus strata they touch); intervals are `β ± t(df)·SE`, p-values `2·P(T > |t|)`.
//!
//! **Cells.** A model whose terms are all categorical, on a design without PSUs or calibration,
//! is fitted on the sums of its cells (segment, levels, outcome) after R's start, which is
//! taken per respondent; [`cells`] says how, and when it falls back to the rows.
//!
//! **Rows.** A row enters the model where the `population` holds (and, with `by`, the segment
//! variables are not null) and the outcome and every term column are not null (R `na.omit`).
//! Categorical terms enter as treatment contrasts; a level without rows in the model's domain is
//! left out (R gives it an aliased, NA coefficient) and its row flagged `empty_level`.

mod cells;

use polars::prelude::*;
use rayon::prelude::*;

use super::kernel::{self, Layout};
use super::{calibrated, ci, LEVEL};
use crate::diag::{catalog, Diagnostic, Failure};
use crate::levels::{encode, Key};
use crate::spec::{CodeSpec, ModelFamily, ModelPlan, Plan, SchemaPlan, Wave};
use crate::weight::calibrate::Cholesky;
use crate::weight::SurveyDesign;

/// The name R gives the intercept.
pub const INTERCEPT: &str = "(Intercept)";

/// One coefficient of one model in one segment: a row of `models.parquet` before disclosure
/// control.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRow {
    pub wave: Wave,
    pub model: String,
    pub family: ModelFamily,
    pub segmentation: String,
    pub segment: String,
    pub segment_label: String,
    /// The term as written (`meals:stype`), or `(Intercept)`.
    pub term: String,
    /// The levels of the term's categorical columns, joined by `:` (`H`, `2:1`).
    pub level: Option<String>,
    pub level_label: Option<String>,
    /// R's name of the coefficient (`stypeH`, `meals:stypeH`): for messages and the R suite.
    pub coefficient: String,
    pub estimate: Option<f64>,
    pub std_error: Option<f64>,
    pub statistic: Option<f64>,
    pub df: Option<f64>,
    pub p_value: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    /// Rows in the model (the domain's rows without a null in its columns).
    pub n: i64,
    pub n_weighted: f64,
    pub iterations: u32,
    /// Rows at this coefficient's level (for disclosure control; not published); `None` for a
    /// term without categorical columns.
    pub n_level: Option<i64>,
    /// Logistic: rows with outcome 1 in the model, and at this coefficient's level.
    pub events: Option<i64>,
    pub events_level: Option<i64>,
    pub flag: Option<String>,
}

/// Every model's coefficients, and warnings about segments a model could not be fitted in.
#[derive(Debug, Clone, Default)]
pub struct ModelTable {
    pub rows: Vec<ModelRow>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Fits every model of the plan in every wave.
pub fn all(designs: &[SurveyDesign], plan: &Plan) -> Result<ModelTable, Failure> {
    all_with(designs, plan, Fitting::Auto)
}

/// How a model is fitted: on the cells of its level combinations ([`cells`]) or row by row.
/// Both give the same numbers up to rounding; a run uses [`Fitting::Auto`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fitting {
    /// On cells where the model and design allow it, else row by row.
    Auto,
    /// Row by row.
    Rows,
    /// On cells; a model that cannot be is an internal error (for tests and benchmarks).
    Cells,
}

/// [`all`], fitted as `fitting` says.
pub fn all_with(
    designs: &[SurveyDesign],
    plan: &Plan,
    fitting: Fitting,
) -> Result<ModelTable, Failure> {
    let mut table = ModelTable::default();
    for design in designs {
        for model in &plan.models {
            wave(design, model, &plan.schema, fitting, &mut table)?;
        }
    }
    table.rows.sort_by(|a, b| {
        (&a.model, &a.segmentation, &a.segment, a.wave).cmp(&(
            &b.model,
            &b.segmentation,
            &b.segment,
            b.wave,
        ))
    });
    Ok(table)
}

/// A column of the model: numbers (NaN for null) or category codes (`u32::MAX` for null).
enum Factor {
    Number(Vec<f64>),
    Category {
        codes: Vec<u32>,
        keys: Vec<Key>,
        labels: Vec<String>,
        reference: u32,
    },
}

impl Factor {
    fn is_null(&self, i: usize) -> bool {
        match self {
            Factor::Number(values) => values[i].is_nan(),
            Factor::Category { codes, .. } => codes[i] == u32::MAX,
        }
    }

    /// Levels other than the reference, in key order.
    fn contrasts(&self) -> usize {
        match self {
            Factor::Number(_) => 1,
            Factor::Category { keys, .. } => keys.len().saturating_sub(1),
        }
    }
}

/// A column of the design matrix: the intercept, or a term at one level combination.
struct Coefficient {
    term: String,
    /// R's name: each categorical column's name with its code (`stypeH`, `meals:stypeH`).
    name: String,
    /// The codes of the term's categorical columns, joined by `:`; `None` without one.
    level: Option<String>,
    level_label: Option<String>,
}

/// The column `name` of a model, read once in [`wave`].
fn factor_of<'a>(factors: &'a [(&str, Factor)], name: &str) -> &'a Factor {
    &factors
        .iter()
        .find(|(n, _)| *n == name)
        .expect("every term column was read")
        .1
}

/// The design matrix of a wave's model rows, in design order, stored compactly: a row has one
/// column per term at most (a categorical term's level, or none at its reference level), so
/// each row is `stride` coefficient indices (the intercept first, then one per term) and, when a
/// term has a number in it, their values.
struct Matrix {
    coefficients: Vec<Coefficient>,
    /// Design-order index of each model row.
    rows: Vec<u32>,
    y: Vec<f64>,
    /// `1 +` the number of terms.
    stride: usize,
    /// Per row, `stride` coefficients; [`Matrix::absent`] where a term is at its reference
    /// level (its value is 0 there, so it adds nothing).
    cols: Vec<u32>,
    /// Per row, `stride` values; empty when every term is categorical (every value is 1).
    values: Vec<f64>,
    /// Per row, the respondents it stands for: empty when each row is one respondent; a cell's
    /// respondents in a model fitted on [`cells`].
    counts: Vec<u32>,
}

impl Matrix {
    /// The coefficient index of a term at its reference level: one past the last coefficient,
    /// a scratch column that the least squares and the variance leave out.
    fn absent(&self) -> u32 {
        self.coefficients.len() as u32
    }

    /// The coefficients of model row `r` and their values (`None`: all 1).
    #[inline]
    fn row(&self, r: usize) -> (&[u32], Option<&[f64]>) {
        let span = r * self.stride..(r + 1) * self.stride;
        let values = (!self.values.is_empty()).then(|| &self.values[span.clone()]);
        (&self.cols[span], values)
    }

    /// The respondents row `r` stands for.
    #[inline]
    fn count(&self, r: usize) -> i64 {
        self.counts.get(r).map_or(1, |&c| i64::from(c))
    }

    /// The respondents rows `rows` stand for.
    fn respondents(&self, rows: &[usize]) -> i64 {
        if self.counts.is_empty() {
            rows.len() as i64
        } else {
            rows.iter().map(|&r| self.count(r)).sum()
        }
    }
}

/// Why a model could not be fitted (in a segment): its diagnostic code and the reason.
type Unfitted = (catalog::Entry, String);

fn model_error(code: catalog::Entry, message: String) -> Failure {
    Failure::from(Diagnostic::error(code, message))
}

/// Fits one model in one wave, appending its rows (or, for a segment it cannot be fitted in, a
/// warning) to `table`.
fn wave(
    design: &SurveyDesign,
    model: &ModelPlan,
    schema: &SchemaPlan,
    fitting: Fitting,
    table: &mut ModelTable,
) -> Result<(), Failure> {
    let what = format!("wave {}: model {:?}", design.wave, model.id);
    let frame = &design.data.analysis;
    let n = frame.height();
    let (outcome, in_population) = outcome_and_population(frame, model, &what)?;

    // Segments: the `by` segmentation's codes (design order), coded with the estimates' when
    // `[segments]` has it too, or everyone.
    let (own, everyone);
    let (segmentation, codes, domains): (String, &[u32], &[(String, String)]) = match &model.by {
        Some(by) => {
            let index = match design.segments.iter().find(|s| s.name == by.name()) {
                Some(index) => index,
                None => {
                    own = crate::weight::segment_index(frame, by, schema)?;
                    &own
                }
            };
            (index.name.clone(), &index.codes, &index.domains)
        }
        None => {
            everyone = (
                vec![0u32; n],
                vec![("total".to_string(), "Totaal".to_string())],
            );
            ("total".to_string(), &everyone.0, &everyone.1)
        }
    };

    // Columns of the terms, each read once.
    let mut names: Vec<&str> = model.terms.iter().flatten().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    let factors: Vec<(&str, Factor)> = names
        .par_iter()
        .map(|&name| Ok((name, factor(frame, name, model, schema, &what)?)))
        .collect::<Result<_, Failure>>()?;
    for term in model.terms.iter().filter(|t| t.len() > 1) {
        for name in term {
            let main = model.terms.iter().any(|t| t.len() == 1 && &t[0] == name);
            if matches!(factor_of(&factors, name), Factor::Category { .. }) && !main {
                return Err(model_error(
                    catalog::E203,
                    format!(
                        "{what}: interaction {:?} has the categorical column {name:?}, which is not a term of its own; add {name:?} to `terms`",
                        term.join(":")
                    ),
                ));
            }
        }
    }

    // R's rescaling of the weights: their mean over the rows of the subset design. Those are
    // the rows of the population and segment (nulls included: R drops them after), except in a
    // calibrated design, whose subsets keep every row, at weight 0 outside.
    let weights = &design.ordered_weights;
    let mut sums = vec![(0.0f64, 0usize); domains.len()];
    for i in 0..n {
        if in_population[i] && codes[i] != u32::MAX {
            let s = &mut sums[codes[i] as usize];
            s.0 += weights[i];
            s.1 += 1;
        }
    }
    let calibrated = design.calibration.is_some();
    let mean_weights: Vec<f64> = sums
        .iter()
        .map(|&(w, rows)| w / if calibrated { n } else { rows.max(1) } as f64)
        .collect();

    let job = Job {
        design,
        model,
        what: &what,
        factors: &factors,
        outcome: &outcome,
        in_population: &in_population,
        codes,
        domains,
        segmentation: &segmentation,
        mean_weights,
    };
    let on_cells = match fitting {
        Fitting::Rows => None,
        Fitting::Auto | Fitting::Cells => cells::fit(&job)?,
    };
    let fitted = match on_cells {
        Some(fitted) => fitted,
        None if fitting == Fitting::Cells => {
            return Err(Failure::internal(Diagnostic::error(
                catalog::E299,
                format!("internal: {what}: cannot be fitted on cells"),
            )))
        }
        None => by_rows(&job)?,
    };
    let Fitted {
        matrix,
        members,
        weights,
        fits,
        variances,
        degrees,
    } = fitted;

    for (d, fit) in fits.into_iter().enumerate() {
        let (segment, segment_label) = &domains[d];
        let fit = match fit {
            Ok(fit) => fit,
            Err((code, message)) => {
                if members[d].is_empty() {
                    continue;
                }
                table.diagnostics.push(Diagnostic::warning(
                    catalog::E210,
                    format!(
                        "{what}: not fitted in segment {segmentation} = {segment} ({segment_label}): {message} ({})",
                        code.id
                    ),
                ));
                table.rows.extend(not_fitted(
                    design.wave,
                    model,
                    &segmentation,
                    &domains[d],
                    &matrix,
                    &members[d],
                    &weights,
                ));
                continue;
            }
        };
        let df = degrees[d] + 1.0 - fit.columns.len() as f64;
        for (k, coefficient) in matrix.coefficients.iter().enumerate() {
            let mut row = ModelRow::blank(
                (design.wave, model, &segmentation, &domains[d]),
                coefficient,
                (matrix.respondents(&members[d]), fit.weight_sum, fit.events),
                fit.counts[k],
            );
            row.df = Some(df);
            row.iterations = fit.iterations;
            match fit.columns.iter().position(|&c| c == k) {
                None => row.flag = Some("empty_level".to_string()),
                Some(local) => {
                    let estimate = fit.beta[local];
                    let se = variances[k * domains.len() + d].sqrt();
                    row.estimate = Some(estimate);
                    row.std_error = se.is_finite().then_some(se);
                    if se > 0.0 && se.is_finite() {
                        let t = estimate / se;
                        row.statistic = Some(t);
                        row.p_value = ci::t_two_sided_p(t, df);
                    }
                    if let Some((lower, upper)) = ci::t_interval(estimate, se, df, LEVEL) {
                        row.ci_lower = Some(lower);
                        row.ci_upper = Some(upper);
                    }
                }
            }
            table.rows.push(row);
        }
    }
    Ok(())
}

/// One model in one wave, read: what [`by_rows`] and [`cells::fit`] fit.
struct Job<'a> {
    design: &'a SurveyDesign,
    model: &'a ModelPlan,
    /// `wave …: model "…"`, for messages.
    what: &'a str,
    factors: &'a [(&'a str, Factor)],
    /// Per row (design order): the outcome, NaN where null or outside the population.
    outcome: &'a [f64],
    in_population: &'a [bool],
    /// Per row, its segment of `by` (`u32::MAX`: none); `domains` are the segments.
    codes: &'a [u32],
    domains: &'a [(String, String)],
    segmentation: &'a str,
    /// Per segment, R's mean weight that the prior weights are the weights over.
    mean_weights: Vec<f64>,
}

impl Job<'_> {
    /// The error of a lonely stratum under `lonely_psu = "fail"`.
    fn lonely(&self, e: kernel::LonelyStratum) -> Failure {
        model_error(
            catalog::E101,
            format!(
                "{}: stratum {} has only one PSU (lonely_psu = \"fail\") in segment {} = {}; \
                 set [design] lonely_psu to remove, adjust, average or certainty, or merge strata",
                self.what,
                self.design.stratum_keys[e.stratum as usize],
                self.segmentation,
                self.domains[e.domain as usize].0,
            ),
        )
    }

    /// E202: no row of the wave is in the model.
    fn no_rows(&self) -> Failure {
        model_error(
            catalog::E202,
            format!(
                "{}: no respondent has the outcome and every term (and is in the population); check `outcome`, `terms` and `population`",
                self.what
            ),
        )
    }

    /// The fits of every segment; a model without `by` must fit.
    fn fits(
        &self,
        matrix: &Matrix,
        members: &[Vec<usize>],
        weights: &[f64],
        start: Option<&[Start]>,
    ) -> Result<Vec<Result<SegmentFit, Unfitted>>, Failure> {
        let fits: Vec<Result<SegmentFit, Unfitted>> = members
            .par_iter()
            .enumerate()
            .map(|(d, rows)| {
                if rows.is_empty() {
                    return Err((catalog::E202, "no respondents in this segment".to_string()));
                }
                fit_segment(
                    self.model,
                    matrix,
                    self.factors,
                    rows,
                    weights,
                    self.mean_weights[d],
                    start,
                )
            })
            .collect();
        if self.model.by.is_none() {
            if let Err((code, message)) = &fits[0] {
                return Err(model_error(*code, format!("{}: {message}", self.what)));
            }
        }
        Ok(fits)
    }
}

/// A model fitted in every segment of a wave: its design matrix (of respondents or of cells),
/// each segment's rows of it, the weight of each row's respondents (by `matrix.rows`), the fits,
/// and per segment the variance of every coefficient (`k * segments + d`) and R's `degf`.
struct Fitted<'a> {
    matrix: Matrix,
    members: Vec<Vec<usize>>,
    weights: std::borrow::Cow<'a, [f64]>,
    fits: Vec<Result<SegmentFit, Unfitted>>,
    variances: Vec<f64>,
    degrees: Vec<f64>,
}

/// The model fitted row by row: a design matrix of the respondents, and the variance from each
/// coefficient's influence in design order through the kernel.
fn by_rows<'a>(job: &Job<'a>) -> Result<Fitted<'a>, Failure> {
    let (design, domains, codes) = (job.design, job.domains, job.codes);
    let n = design.data.analysis.height();
    let matrix = design_matrix(
        job.model,
        job.factors,
        job.outcome,
        job.in_population,
        codes,
        n,
    );
    if matrix.rows.is_empty() {
        return Err(job.no_rows());
    }
    // The model's rows of each segment, in design order.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); domains.len()];
    for (r, &i) in matrix.rows.iter().enumerate() {
        members[codes[i as usize] as usize].push(r);
    }
    let weights = &design.ordered_weights;
    let fits = job.fits(&matrix, &members, weights, None)?;

    // The variance of every coefficient in every segment: its influence in design order (NaN
    // outside the model's rows) through the kernel, a batch of coefficients at a time so that
    // a model with many (a municipality term) holds a bounded number of full columns.
    let width = matrix.coefficients.len();
    let mut slot = vec![0u32; matrix.rows.len()];
    for rows in &members {
        for (j, &r) in rows.iter().enumerate() {
            slot[r] = j as u32;
        }
    }
    let layout = Layout::of(design);
    let projection = design
        .calibration
        .as_ref()
        .and_then(|c| calibrated::Projection::new(&layout, c));
    let lonely = |e| job.lonely(e);
    let batch = (BATCH_VALUES / n.max(1)).clamp(1, width);
    let mut variances = Vec::with_capacity(width * domains.len());
    // PSUs and strata of the model's rows per segment (the intercept's domain), for df.
    let mut degrees = Vec::new();
    let mut influence = Vec::new();
    for first in (0..width).step_by(batch) {
        let batch = first..(first + batch).min(width);
        influence_columns(
            &matrix,
            &fits,
            &slot,
            codes,
            n,
            batch.clone(),
            &mut influence,
        );
        let columns: Vec<kernel::Column> = influence[..batch.len()]
            .iter()
            .map(|y| kernel::Column {
                y: y.into(),
                x: None,
                centre: false,
            })
            .collect();
        let shift = vec![0.0; columns.len() * domains.len()];
        let mut stats =
            kernel::accumulate(&layout, codes, domains.len(), &columns, &shift).map_err(lonely)?;
        if let Some(calibration) = &design.calibration {
            calibrated::residualise(
                &layout,
                calibration,
                projection.as_ref(),
                codes,
                domains.len(),
                &columns,
                &mut stats,
            )
            .map_err(lonely)?;
        }
        if first == 0 {
            degrees = stats[..domains.len()]
                .iter()
                .map(|s| f64::from(s.psus) - f64::from(s.strata))
                .collect();
        }
        variances.extend(stats.iter().map(|s| s.variance(1.0, 0.0)));
    }
    Ok(Fitted {
        matrix,
        members,
        weights: std::borrow::Cow::Borrowed(weights.as_slice()),
        fits,
        variances,
        degrees,
    })
}

/// Full columns held at once for the variance, in values (bounds memory to 8 × this many
/// bytes, 32 MiB: four columns at a million rows). Fewer, reused columns fault in fewer fresh
/// pages; each batch costs a pass over the rows, so not one column at a time.
const BATCH_VALUES: usize = 1 << 22;

/// The influence of coefficients `batch`, in design order: for each model row of a fitted
/// segment `factor · (A⁻¹x)_k` (0 for a coefficient the segment left out), NaN elsewhere.
/// Written in chunks of design rows, in parallel, into `influence`: columns of `n` values made on
/// the first batch and reused by the next.
fn influence_columns(
    matrix: &Matrix,
    fits: &[Result<SegmentFit, Unfitted>],
    slot: &[u32],
    codes: &[u32],
    n: usize,
    batch: std::ops::Range<usize>,
    influence: &mut Vec<Vec<f64>>,
) {
    if influence.len() < batch.len() {
        influence.resize_with(batch.len(), || vec![0.0; n]);
    }
    let mut pieces: Vec<Vec<&mut [f64]>> = (0..n.div_ceil(CHUNK)).map(|_| Vec::new()).collect();
    for column in &mut influence[..batch.len()] {
        for (c, piece) in column.chunks_mut(CHUNK).enumerate() {
            pieces[c].push(piece);
        }
    }
    pieces
        .into_par_iter()
        .enumerate()
        .for_each(|(c, mut piece)| {
            piece.iter_mut().for_each(|values| values.fill(f64::NAN));
            let first = matrix.rows.partition_point(|&i| (i as usize) < c * CHUNK);
            for (r, &i) in matrix.rows.iter().enumerate().skip(first) {
                let i = i as usize;
                if i >= (c + 1) * CHUNK {
                    break;
                }
                let Ok(fit) = &fits[codes[i] as usize] else {
                    continue;
                };
                // Only the rows of A⁻¹ of this batch's coefficients.
                for (k, values) in batch.clone().zip(piece.iter_mut()) {
                    values[i - c * CHUNK] = fit.influence(matrix, r, slot[r] as usize, k);
                }
            }
        });
}

/// The outcome (NaN where null or outside the population) and the population of every row.
fn outcome_and_population(
    frame: &DataFrame,
    model: &ModelPlan,
    what: &str,
) -> Result<(Vec<f64>, Vec<bool>), Failure> {
    let population = model.population.clone().unwrap_or(lit(true));
    let evaluated = frame
        .clone()
        .lazy()
        .select([
            model.outcome.clone().alias("outcome"),
            population.fill_null(lit(false)).alias("population"),
        ])
        .collect()
        .map_err(|e| {
            Failure::from(
                Diagnostic::error(
                    catalog::E001,
                    format!("{what}: the outcome or population could not be evaluated"),
                )
                .caused_by(e),
            )
        })?;
    let column = |name: &str| evaluated.column(name).expect("selected above");
    let in_population: Vec<bool> = match column("population").bool() {
        Ok(values) => values.iter().map(|v| v == Some(true)).collect(),
        Err(_) => {
            return Err(model_error(
                catalog::E002,
                format!(
                    "{what}: population {:?} is not a condition",
                    model.population_text.as_deref().unwrap_or("")
                ),
            ))
        }
    };
    let outcome = column("outcome");
    let dtype = outcome.dtype().clone();
    let numeric = dtype.is_primitive_numeric() || dtype == DataType::Boolean;
    let values: Vec<f64> = match outcome.cast(&DataType::Float64) {
        Ok(values) if numeric => super::evaluate::nan_for_null(values.f64().expect("cast to f64")),
        _ => {
            return Err(model_error(
                catalog::E201,
                format!(
                    "{what}: outcome {:?} is {dtype}, not a number or a condition",
                    model.outcome_text
                ),
            ))
        }
    };
    let values: Vec<f64> = values
        .into_iter()
        .zip(&in_population)
        .map(|(v, &p)| if p { v } else { f64::NAN })
        .collect();
    let bad = |v: &f64| match model.family {
        ModelFamily::Linear => v.is_infinite(),
        ModelFamily::Logistic => !v.is_nan() && *v != 0.0 && *v != 1.0,
        ModelFamily::Poisson => v.is_infinite() || *v < 0.0,
    };
    if let Some(v) = values.iter().find(|v| bad(v)) {
        let wants = match model.family {
            ModelFamily::Linear => "a finite number",
            ModelFamily::Logistic => "a condition or 0/1",
            ModelFamily::Poisson => "a number of 0 or more",
        };
        return Err(model_error(
            catalog::E201,
            format!(
                "{what}: outcome {:?} is {v} for a respondent; family {:?} needs {wants}",
                model.outcome_text,
                model.family.as_str()
            ),
        ));
    }
    Ok((values, in_population))
}

/// Reads a term column: categorical (schema categories or value labels, text, true/false) as
/// codes with their reference level, anything else as numbers.
fn factor(
    frame: &DataFrame,
    name: &str,
    model: &ModelPlan,
    schema: &SchemaPlan,
    what: &str,
) -> Result<Factor, Failure> {
    let column = frame.column(name).map_err(|e| {
        Failure::internal(
            Diagnostic::error(
                catalog::E299,
                format!("internal: {what}: column {name:?} is not in the analysis data"),
            )
            .caused_by(e),
        )
    })?;
    let field = schema.field(name);
    let categorical = field.is_some_and(|f| !f.categories.is_empty() || !f.value_labels.is_empty())
        || matches!(column.dtype(), DataType::String | DataType::Boolean);
    let reference = model.reference.iter().find(|(c, _)| c == name);
    if !categorical {
        if reference.is_some() {
            return Err(model_error(
                catalog::E203,
                format!(
                    "{what}: `reference` is given for {name:?}, which is a number, not categorical"
                ),
            ));
        }
        return match column.cast(&DataType::Float64) {
            Ok(values) if column.dtype().is_primitive_numeric() => Ok(Factor::Number(
                super::evaluate::nan_for_null(values.f64().expect("cast to f64")),
            )),
            _ => Err(model_error(
                catalog::E201,
                format!(
                    "{what}: term {name:?} is {}, not a number or a categorical column",
                    column.dtype()
                ),
            )),
        };
    }
    let coded = encode(column).map_err(|e| {
        Failure::internal(
            Diagnostic::error(
                catalog::E299,
                format!("internal: {what}: column {name:?} could not be coded into levels"),
            )
            .caused_by(e),
        )
    })?;
    // The reference level: the one named, else the first (the lowest code).
    let reference = match reference {
        None => 0,
        Some((_, code)) => {
            let wanted = match code {
                CodeSpec::Int(v) => v.to_string(),
                CodeSpec::Text(v) => v.clone(),
            };
            coded
                .keys
                .iter()
                .position(|k| k.to_string() == wanted)
                .ok_or_else(|| {
                    model_error(
                        catalog::E203,
                        format!("{what}: reference level {wanted} of {name:?} has no respondents in this wave"),
                    )
                })? as u32
        }
    };
    let labels = coded
        .keys
        .iter()
        .map(|key| {
            field
                .and_then(|f| f.label_of(&key.code()))
                .map_or_else(|| key.to_string(), str::to_string)
        })
        .collect();
    Ok(Factor::Category {
        codes: coded.codes,
        keys: coded.keys,
        labels,
        reference,
    })
}

/// The coefficients of a model (R's column order: each term's level combinations with the first
/// column varying fastest) and its rows, sparse.
fn design_matrix(
    model: &ModelPlan,
    factors: &[(&str, Factor)],
    outcome: &[f64],
    in_population: &[bool],
    segments: &[u32],
    n: usize,
) -> Matrix {
    let factor_of = |name: &str| factor_of(factors, name);
    let mut coefficients = vec![Coefficient {
        term: INTERCEPT.to_string(),
        name: INTERCEPT.to_string(),
        level: None,
        level_label: None,
    }];
    // The first coefficient of each term.
    let mut bases = Vec::with_capacity(model.terms.len());
    for term in &model.terms {
        bases.push(coefficients.len());
        let count: usize = term.iter().map(|f| factor_of(f).contrasts()).product();
        for mut index in 0..count {
            let mut parts = Vec::with_capacity(term.len());
            let (mut codes, mut labels) = (Vec::new(), Vec::new());
            for name in term {
                match factor_of(name) {
                    Factor::Number(_) => parts.push(name.clone()),
                    Factor::Category {
                        keys,
                        labels: names,
                        reference,
                        ..
                    } => {
                        let contrasts = keys.len() - 1;
                        let position = (index % contrasts) as u32;
                        index /= contrasts;
                        let key = position + u32::from(position >= *reference);
                        codes.push(keys[key as usize].to_string());
                        parts.push(format!("{name}{}", keys[key as usize]));
                        labels.push(names[key as usize].clone());
                    }
                }
            }
            coefficients.push(Coefficient {
                term: term.join(":"),
                name: parts.join(":"),
                level: (!codes.is_empty()).then(|| codes.join(":")),
                level_label: (!labels.is_empty()).then(|| labels.join(" : ")),
            });
        }
    }
    // The terms' factors resolved once; rows in parallel chunks, joined in order.
    let terms: Vec<(Vec<&Factor>, usize)> = model
        .terms
        .iter()
        .zip(&bases)
        .map(|(term, &base)| (term.iter().map(|f| factor_of(f)).collect(), base))
        .collect();
    let stride = 1 + terms.len();
    let absent = coefficients.len() as u32;
    let numeric = factors.iter().any(|(_, f)| matches!(f, Factor::Number(_)));
    let chunks: Vec<(Vec<u32>, Vec<u32>, Vec<f64>)> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let (mut rows, mut cols, mut values) = (Vec::new(), Vec::new(), Vec::new());
            for i in c * CHUNK..((c + 1) * CHUNK).min(n) {
                if !in_population[i]
                    || segments[i] == u32::MAX
                    || outcome[i].is_nan()
                    || factors.iter().any(|(_, f)| f.is_null(i))
                {
                    continue;
                }
                rows.push(i as u32);
                cols.push(0);
                if numeric {
                    values.push(1.0);
                }
                for (factors, base) in &terms {
                    let (col, value) = match term_at(factors, i) {
                        Some((offset, value)) => ((base + offset) as u32, value),
                        None => (absent, 0.0),
                    };
                    cols.push(col);
                    if numeric {
                        values.push(value);
                    }
                }
            }
            (rows, cols, values)
        })
        .collect();
    let mut rows = Vec::with_capacity(chunks.iter().map(|c| c.0.len()).sum());
    let mut cols = Vec::with_capacity(rows.capacity() * stride);
    let mut values = Vec::with_capacity(if numeric { cols.capacity() } else { 0 });
    for (r, c, v) in chunks {
        rows.extend(r);
        cols.extend(c);
        values.extend(v);
    }
    let y = rows.iter().map(|&i| outcome[i as usize]).collect();
    Matrix {
        coefficients,
        rows,
        y,
        stride,
        cols,
        values,
        counts: Vec::new(),
    }
}

/// Value `t` of a row's values (`None`: every value is 1).
#[inline]
fn value(values: Option<&[f64]>, t: usize) -> f64 {
    values.map_or(1.0, |v| v[t])
}

/// A term's coefficient (its offset among the term's) and value in row `i`; `None` where a
/// categorical column is at its reference level.
fn term_at(factors: &[&Factor], i: usize) -> Option<(usize, f64)> {
    let (mut value, mut offset, mut radix) = (1.0, 0usize, 1usize);
    for factor in factors {
        match factor {
            Factor::Number(values) => value *= values[i],
            Factor::Category {
                codes, reference, ..
            } => {
                let code = codes[i];
                if code == *reference {
                    return None;
                }
                offset += (code - u32::from(code > *reference)) as usize * radix;
                radix *= factor.contrasts();
            }
        }
    }
    Some((offset, value))
}

/// Per coefficient: the rows at its level (`None` without a categorical column) and, for a
/// logistic model, the events among them.
fn level_counts(
    model: &ModelPlan,
    matrix: &Matrix,
    rows: &[usize],
) -> Vec<(Option<i64>, Option<i64>)> {
    // One more for the scratch column of reference levels, dropped below.
    let width = matrix.coefficients.len() + 1;
    let counts = rows
        .par_chunks(CHUNK)
        .map(|rows| {
            let mut counts = vec![(0i64, 0i64); width];
            for &r in rows {
                let n = matrix.count(r);
                let events = if matrix.y[r] == 1.0 { n } else { 0 };
                for &c in matrix.row(r).0 {
                    counts[c as usize].0 += n;
                    counts[c as usize].1 += events;
                }
            }
            counts
        })
        .reduce(
            || vec![(0, 0); width],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(a, b)| {
                    a.0 += b.0;
                    a.1 += b.1;
                });
                a
            },
        );
    matrix
        .coefficients
        .iter()
        .zip(counts)
        .map(|(coefficient, (n, events))| {
            let categorical = coefficient.level.is_some();
            (
                categorical.then_some(n),
                (categorical && model.family == ModelFamily::Logistic).then_some(events),
            )
        })
        .collect()
}

/// A logistic model's respondents with outcome 1 among `rows`.
fn events(model: &ModelPlan, matrix: &Matrix, rows: &[usize]) -> Option<i64> {
    (model.family == ModelFamily::Logistic).then(|| {
        rows.iter()
            .filter(|&&r| matrix.y[r] == 1.0)
            .map(|&r| matrix.count(r))
            .sum()
    })
}

/// The rows of a segment the model could not be fitted in: no estimates, flag `not_fitted`.
fn not_fitted(
    wave: Wave,
    model: &ModelPlan,
    segmentation: &str,
    domain: &(String, String),
    matrix: &Matrix,
    rows: &[usize],
    weights: &[f64],
) -> Vec<ModelRow> {
    let counts = level_counts(model, matrix, rows);
    let events = events(model, matrix, rows);
    let weight_sum = rows.iter().map(|&r| weights[matrix.rows[r] as usize]).sum();
    matrix
        .coefficients
        .iter()
        .zip(counts)
        .map(|(coefficient, counts)| {
            let mut row = ModelRow::blank(
                (wave, model, segmentation, domain),
                coefficient,
                (matrix.respondents(rows), weight_sum, events),
                counts,
            );
            row.flag = Some("not_fitted".to_string());
            row
        })
        .collect()
}

impl ModelRow {
    /// A coefficient's row without estimates: `(wave, model, segmentation, segment)`, the
    /// model's rows, weight and events there, and the rows and events at the coefficient's level.
    fn blank(
        (wave, model, segmentation, (segment, segment_label)): (
            Wave,
            &ModelPlan,
            &str,
            &(String, String),
        ),
        coefficient: &Coefficient,
        (n, n_weighted, events): (i64, f64, Option<i64>),
        (n_level, events_level): (Option<i64>, Option<i64>),
    ) -> ModelRow {
        ModelRow {
            wave,
            model: model.id.clone(),
            family: model.family,
            segmentation: segmentation.to_string(),
            segment: segment.clone(),
            segment_label: segment_label.clone(),
            term: coefficient.term.clone(),
            level: coefficient.level.clone(),
            level_label: coefficient.level_label.clone(),
            coefficient: coefficient.name.clone(),
            estimate: None,
            std_error: None,
            statistic: None,
            df: None,
            p_value: None,
            ci_lower: None,
            ci_upper: None,
            n,
            n_weighted,
            iterations: 0,
            n_level,
            events,
            events_level,
            flag: None,
        }
    }
}

/// A model fitted in one segment.
struct SegmentFit {
    /// The coefficients with rows in the segment (indices into `Matrix::coefficients`).
    columns: Vec<usize>,
    beta: Vec<f64>,
    /// `A⁻¹` on `columns` (row-major), and the local column of each coefficient of the matrix
    /// (`u32::MAX` where the segment has none).
    bread: Vec<f64>,
    local: Vec<u32>,
    /// Per row of the segment, `ω·r / mean weight`: the influence of coefficient `k` in the
    /// row is `factor · (A⁻¹x)_k`, whose weighted total `Σ w·factor·(A⁻¹x)_k` is R's
    /// `estfun %*% Ainv` (the prior weight is the weight over its mean).
    factor: Vec<f64>,
    /// Per coefficient of the matrix: rows at its level, events among them (`level_counts`).
    counts: Vec<(Option<i64>, Option<i64>)>,
    iterations: u32,
    weight_sum: f64,
    events: Option<i64>,
}

impl SegmentFit {
    /// The influence of coefficient `k` in matrix row `r`, the segment's row `j`:
    /// `factor · (A⁻¹x)_k`, 0 for a coefficient the segment left out.
    #[inline]
    fn influence(&self, matrix: &Matrix, r: usize, j: usize, k: usize) -> f64 {
        let l = self.local[k];
        if l == u32::MAX {
            return 0.0;
        }
        let p = self.columns.len();
        let bread = &self.bread[l as usize * p..(l as usize + 1) * p];
        let (cols, values) = matrix.row(r);
        let absent = matrix.absent();
        let ax: f64 = cols
            .iter()
            .enumerate()
            .filter(|&(_, &column)| column != absent)
            .map(|(t, &column)| bread[self.local[column as usize] as usize] * value(values, t))
            .sum();
        self.factor[j] * ax
    }
}

/// A point of the iteration: R's start, or coefficients.
#[derive(Clone)]
enum Point {
    Start,
    At(Vec<f64>),
}

/// The family's functions, as R's `family` objects compute them.
#[derive(Clone, Copy)]
struct Family(ModelFamily);

const EPSILON: f64 = f64::EPSILON;
const THRESHOLD: f64 = 30.0;

impl Family {
    fn start(self, y: f64, prior: f64) -> f64 {
        match self.0 {
            ModelFamily::Linear => y,
            ModelFamily::Logistic => (prior * y + 0.5) / (prior + 1.0),
            ModelFamily::Poisson => y + 0.1,
        }
    }

    fn link(self, mu: f64) -> f64 {
        match self.0 {
            ModelFamily::Linear => mu,
            ModelFamily::Logistic => (mu / (1.0 - mu)).ln(),
            ModelFamily::Poisson => mu.ln(),
        }
    }

    /// `μ` and `dμ/dη` at `η`, from one `exp` (R's `linkinv` and `mu.eta`, thresholds
    /// included: the logit clamps `|η| > 30`, the log floors at machine epsilon).
    fn mean(self, eta: f64) -> (f64, f64) {
        match self.0 {
            ModelFamily::Linear => (eta, 1.0),
            ModelFamily::Logistic => {
                if eta < -THRESHOLD {
                    (EPSILON / (1.0 + EPSILON), EPSILON)
                } else if eta > THRESHOLD {
                    let e = 1.0 / EPSILON;
                    (e / (1.0 + e), EPSILON)
                } else {
                    let e = eta.exp();
                    let opexp = 1.0 + e;
                    (e / opexp, e / (opexp * opexp))
                }
            }
            ModelFamily::Poisson => {
                let e = eta.exp().max(EPSILON);
                (e, e)
            }
        }
    }

    fn variance(self, mu: f64) -> f64 {
        match self.0 {
            ModelFamily::Linear => 1.0,
            ModelFamily::Logistic => mu * (1.0 - mu),
            ModelFamily::Poisson => mu,
        }
    }

    fn deviance(self, y: f64, mu: f64, prior: f64) -> f64 {
        let y_log_y = |y: f64, mu: f64| if y != 0.0 { y * (y / mu).ln() } else { 0.0 };
        match self.0 {
            ModelFamily::Linear => prior * (y - mu) * (y - mu),
            ModelFamily::Logistic => 2.0 * prior * (y_log_y(y, mu) + y_log_y(1.0 - y, 1.0 - mu)),
            ModelFamily::Poisson => {
                if y > 0.0 {
                    2.0 * prior * (y * (y / mu).ln() - (y - mu))
                } else {
                    2.0 * mu * prior
                }
            }
        }
    }
}

/// Rows per parallel chunk of a pass; fixed, so results do not depend on the thread count.
const CHUNK: usize = 1 << 14;

/// One pass over a segment's rows at a point: the deviance there and the weighted least squares
/// of the next iteration (`XᵀWX`, upper triangle, and `XᵀWz`).
struct Pass {
    deviance: f64,
    /// The smallest and largest fitted mean.
    mu_range: (f64, f64),
    xwx: Vec<f64>,
    xwz: Vec<f64>,
}

/// R's start summed over the respondents of a row of a cell matrix ([`cells`]), each from its
/// own `mustart`: the working weights `Σ w`, `Σ w·z` and the deviance.
#[derive(Debug, Clone, Copy, Default)]
struct Start {
    w: f64,
    wz: f64,
    deviance: f64,
}

struct Segment<'a> {
    family: Family,
    matrix: &'a Matrix,
    rows: &'a [usize],
    prior: Vec<f64>,
    /// Per matrix row, R's start over its respondents (a cell matrix), else `None`: the start
    /// from the row itself.
    start: Option<&'a [Start]>,
    /// Local column of each coefficient (`u32::MAX` where the segment has no rows for it),
    /// and of the scratch column ([`Matrix::absent`]): `width`.
    local: Vec<u32>,
    width: usize,
}

impl Segment<'_> {
    /// The coefficients at `point` by local column, with a 0 for the scratch column of
    /// reference levels; `None` at R's start.
    fn extended(&self, point: &Point) -> Option<Vec<f64>> {
        match point {
            Point::Start => None,
            Point::At(beta) => Some(beta.iter().copied().chain([0.0]).collect()),
        }
    }

    /// `η` of the segment's row `k` (whose local columns are `local`) at `beta` (from
    /// [`Segment::extended`]).
    #[inline]
    fn eta(&self, beta: Option<&[f64]>, k: usize, local: &[usize], values: Option<&[f64]>) -> f64 {
        match beta {
            None => {
                let r = self.rows[k];
                self.family
                    .link(self.family.start(self.matrix.y[r], self.prior[k]))
            }
            Some(beta) => local
                .iter()
                .enumerate()
                .map(|(t, &l)| beta[l] * value(values, t))
                .sum(),
        }
    }

    /// The local columns of row `r` into `local` (the scratch column is `width`).
    #[inline]
    fn local_columns(&self, r: usize, local: &mut [usize]) -> Option<&[f64]> {
        let (cols, values) = self.matrix.row(r);
        for (l, &c) in local.iter_mut().zip(cols) {
            *l = self.local[c as usize] as usize;
        }
        values
    }

    fn pass(&self, point: &Point) -> Pass {
        let p = self.width;
        // With the scratch column, which collects the reference levels' zeros and is dropped.
        let q = p + 1;
        let beta = self.extended(point);
        let part = |range: std::ops::Range<usize>| {
            let mut pass = Pass {
                deviance: 0.0,
                mu_range: (f64::INFINITY, f64::NEG_INFINITY),
                xwx: vec![0.0; q * q],
                xwz: vec![0.0; q],
            };
            let mut local = vec![0usize; self.matrix.stride];
            for k in range {
                let r = self.rows[k];
                let values = self.local_columns(r, &mut local);
                if let (Some(start), None) = (self.start, &beta) {
                    let start = &start[r];
                    pass.deviance += start.deviance;
                    for (a, &i) in local.iter().enumerate() {
                        let va = value(values, a);
                        pass.xwz[i] += va * start.wz;
                        for (b, &j) in local.iter().enumerate().skip(a) {
                            pass.xwx[i * q + j] += va * start.w * value(values, b);
                        }
                    }
                    continue;
                }
                let (y, prior) = (self.matrix.y[r], self.prior[k]);
                let eta = self.eta(beta.as_deref(), k, &local, values);
                let (mu, slope) = self.family.mean(eta);
                pass.deviance += self.family.deviance(y, mu, prior);
                pass.mu_range = (pass.mu_range.0.min(mu), pass.mu_range.1.max(mu));
                let z = eta + (y - mu) / slope;
                let w = prior * slope * slope / self.family.variance(mu);
                // Terms are in column order, so `j >= i` below (the upper triangle), except
                // with the scratch column, whose entries are dropped.
                for (a, &i) in local.iter().enumerate() {
                    let wv = w * value(values, a);
                    pass.xwz[i] += wv * z;
                    for (b, &j) in local.iter().enumerate().skip(a) {
                        pass.xwx[i * q + j] += wv * value(values, b);
                    }
                }
            }
            pass
        };
        let n = self.rows.len();
        let parts: Vec<Pass> = (0..n.div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| part(c * CHUNK..((c + 1) * CHUNK).min(n)))
            .collect();
        let mut total = Pass {
            deviance: 0.0,
            mu_range: (f64::INFINITY, f64::NEG_INFINITY),
            xwx: vec![0.0; q * q],
            xwz: vec![0.0; q],
        };
        for part in parts {
            total.deviance += part.deviance;
            total.mu_range = (
                total.mu_range.0.min(part.mu_range.0),
                total.mu_range.1.max(part.mu_range.1),
            );
            total
                .xwx
                .iter_mut()
                .zip(&part.xwx)
                .for_each(|(t, v)| *t += v);
            total
                .xwz
                .iter_mut()
                .zip(&part.xwz)
                .for_each(|(t, v)| *t += v);
        }
        // The coefficients' block, the lower triangle from the upper.
        let mut xwx = vec![0.0; p * p];
        for i in 0..p {
            for j in i..p {
                xwx[i * p + j] = total.xwx[i * q + j];
                xwx[j * p + i] = total.xwx[i * q + j];
            }
        }
        total.xwx = xwx;
        total.xwz.truncate(p);
        total
    }

    /// The least squares of a pass, equilibrated (`D M D`, `D = diag(M)^-½`) for accuracy;
    /// `Err` names the aliased coefficients.
    fn solve(&self, pass: &Pass) -> Result<(Vec<f64>, Vec<f64>), Vec<usize>> {
        let p = self.width;
        let scale: Vec<f64> = (0..p)
            .map(|i| {
                let d = pass.xwx[i * p + i];
                if d > 0.0 {
                    1.0 / d.sqrt()
                } else {
                    0.0
                }
            })
            .collect();
        let mut m = pass.xwx.clone();
        for i in 0..p {
            for j in 0..p {
                m[i * p + j] *= scale[i] * scale[j];
            }
        }
        let cholesky = Cholesky::new(&m);
        let aliased: Vec<usize> = (0..p).filter(|&i| !cholesky.kept()[i]).collect();
        if !aliased.is_empty() {
            return Err(aliased);
        }
        let b: Vec<f64> = (0..p).map(|i| pass.xwz[i] * scale[i]).collect();
        let beta = cholesky
            .solve(&b)
            .into_iter()
            .zip(&scale)
            .map(|(v, s)| v * s)
            .collect();
        let mut inverse = cholesky.inverse();
        for i in 0..p {
            for j in 0..p {
                inverse[i * p + j] *= scale[i] * scale[j];
            }
        }
        Ok((beta, inverse))
    }
}

/// IRLS in one segment, as R's `glm.fit`.
fn fit_segment(
    model: &ModelPlan,
    matrix: &Matrix,
    factors: &[(&str, Factor)],
    rows: &[usize],
    weights: &[f64],
    mean_weight: f64,
    start: Option<&[Start]>,
) -> Result<SegmentFit, Unfitted> {
    let family = Family(model.family);
    // Coefficients with rows here; a categorical main effect needs its reference level and one
    // other.
    let counts = level_counts(model, matrix, rows);
    for (name, factor) in factors {
        let Factor::Category {
            keys, reference, ..
        } = factor
        else {
            continue;
        };
        if !model.terms.iter().any(|t| t.len() == 1 && t[0] == *name) {
            continue;
        }
        // The rows at each other level are its coefficient's; the rest are at the reference.
        let levels: Vec<i64> = matrix
            .coefficients
            .iter()
            .zip(&counts)
            .filter(|(c, _)| c.term == *name)
            .map(|(_, (n, _))| n.unwrap_or(0))
            .collect();
        if matrix.respondents(rows) == levels.iter().sum::<i64>() {
            return Err((catalog::E203, format!(
                "the reference level {} of {name:?} has no respondents in the model; choose another with `reference`",
                keys[*reference as usize]
            )));
        }
        if levels.iter().all(|&n| n == 0) {
            return Err((catalog::E203, format!(
                "term {name:?} has respondents at one level only ({}); leave it out or widen the population",
                keys[*reference as usize]
            )));
        }
    }
    let columns: Vec<usize> = (0..matrix.coefficients.len())
        .filter(|&k| k == 0 || counts[k].0.is_none_or(|n| n > 0))
        .collect();
    // One more: the scratch column of reference levels, after the segment's columns.
    let mut local = vec![u32::MAX; matrix.coefficients.len() + 1];
    for (l, &k) in columns.iter().enumerate() {
        local[k] = l as u32;
    }
    local[matrix.absent() as usize] = columns.len() as u32;
    let prior: Vec<f64> = rows
        .iter()
        .map(|&r| weights[matrix.rows[r] as usize] / mean_weight)
        .collect();
    let segment = Segment {
        family,
        matrix,
        rows,
        prior,
        start,
        local,
        width: columns.len(),
    };
    // At R's start every working weight is positive, so a singular least squares there means
    // collinear terms; later it means weights that vanished as the fit ran off towards fitted
    // values of 0 or 1 (or rates of 0): a divergence, not a property of the terms.
    let aliased = |iteration: u32, aliased: Vec<usize>| {
        let names: Vec<String> = aliased
            .iter()
            .map(|&l| matrix.coefficients[columns[l]].name.clone())
            .collect();
        if iteration > 1 {
            let message = format!(
                "did not converge: at iteration {iteration} the working weights of {} vanished, the fit running off towards fitted values of 0 or 1; check the terms for separation, or fit a larger domain or segment",
                names.join(", ")
            );
            return (catalog::E206, message);
        }
        let message = format!(
            "the terms are collinear: {} {} a combination of the others; leave a term out",
            names.join(", "),
            if names.len() == 1 { "is" } else { "are" }
        );
        (catalog::E204, message)
    };

    let mut point = Point::Start;
    let mut pass = segment.pass(&point);
    let mut deviance_old = pass.deviance;
    let mut previous: Option<Vec<f64>> = None;
    for iteration in 1..=model.max_iterations {
        let (mut beta, bread) = segment.solve(&pass).map_err(|a| aliased(iteration, a))?;
        let mut next = segment.pass(&Point::At(beta.clone()));
        // A step to a non-finite deviance is halved towards the previous coefficients.
        let mut halvings = 0;
        while !next.deviance.is_finite() {
            let Some(old) = &previous else {
                return Err((
                    catalog::E206,
                    "no coefficients with a finite deviance were found".to_string(),
                ));
            };
            halvings += 1;
            if halvings > model.max_iterations {
                return Err((catalog::E206, format!(
                    "did not converge: the step could not be shortened to a finite deviance (iteration {iteration})"
                )));
            }
            beta.iter_mut()
                .zip(old)
                .for_each(|(b, o)| *b = (*b + o) / 2.0);
            next = segment.pass(&Point::At(beta.clone()));
        }
        if (next.deviance - deviance_old).abs() / (next.deviance.abs() + 0.1) < model.tolerance {
            segment.check_fitted(&next)?;
            let factor = segment.influence_factors(&beta, &point, mean_weight);
            let fit = SegmentFit {
                columns,
                beta,
                bread,
                local: segment.local.clone(),
                factor,
                counts,
                iterations: iteration,
                weight_sum: rows.iter().map(|&r| weights[matrix.rows[r] as usize]).sum(),
                events: events(model, matrix, rows),
            };
            return Ok(fit);
        }
        deviance_old = next.deviance;
        previous = Some(beta.clone());
        point = Point::At(beta);
        pass = next;
    }
    Err((catalog::E206, format!(
        "did not converge in {} iterations (tolerance {}); raise `max_iterations`, or check the terms for separation",
        model.max_iterations, model.tolerance
    )))
}

impl Segment<'_> {
    /// R's warning "fitted probabilities numerically 0 or 1" (and "fitted rates numerically 0")
    /// is an error here: the estimates and SEs of such a fit are not to be trusted.
    fn check_fitted(&self, at_estimate: &Pass) -> Result<(), Unfitted> {
        let limit = 10.0 * EPSILON;
        let (low, high) = at_estimate.mu_range;
        match self.family.0 {
            ModelFamily::Linear => Ok(()),
            ModelFamily::Logistic if low < limit || high > 1.0 - limit => Err((
                catalog::E205,
                "fitted probabilities numerically 0 or 1: the outcome is (quasi-)perfectly separated by the terms; merge levels or leave a term out"
                    .to_string(),
            )),
            ModelFamily::Poisson if low < limit => Err((
                catalog::E205,
                "fitted rates numerically 0: a level has only zero outcomes; merge levels or leave a term out"
                    .to_string(),
            )),
            _ => Ok(()),
        }
    }

    /// Per row of the segment, the factor `ω·r / mean weight` of its influence (see
    /// [`SegmentFit`]): the working residual `r` at the estimate `beta`, the working weight `ω`
    /// where the last least squares took it (`bread_at`).
    fn influence_factors(&self, beta: &[f64], bread_at: &Point, mean_weight: f64) -> Vec<f64> {
        let at = self.extended(&Point::At(beta.to_vec()));
        let bread_at = self.extended(bread_at);
        (0..self.rows.len())
            .into_par_iter()
            .with_min_len(CHUNK)
            .map_init(
                || vec![0usize; self.matrix.stride],
                |local, k| {
                    let r = self.rows[k];
                    let y = self.matrix.y[r];
                    let values = self.local_columns(r, local);
                    let (mu, slope) = self.family.mean(self.eta(at.as_deref(), k, local, values));
                    let (mu_w, slope_w) =
                        self.family
                            .mean(self.eta(bread_at.as_deref(), k, local, values));
                    slope_w * slope_w / self.family.variance(mu_w) * ((y - mu) / slope)
                        / mean_weight
                },
            )
            .collect()
    }
}
