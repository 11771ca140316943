//! The pipeline file as written: `*Spec` structs mirror the TOML one to one (serde,
//! `deny_unknown_fields`, a doc comment per key). Only [`super::compile`] reads them; the
//! stages see the [`super::Plan`].

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

/// A pipeline file (`pipelines/*.toml`), as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    /// The pipeline's name.
    pub pipeline: PipelineSection,
    /// One entry per survey wave; all share one schema.
    #[serde(default)]
    pub input: Vec<InputSpec>,
    /// How many rejected rows a run accepts.
    #[serde(default)]
    pub validation: ValidationSpec,
    /// Computed columns, applied in order; each may use the ones before it.
    #[serde(default)]
    pub derive: Vec<DeriveSpec>,
    /// The sampling design, as R's `svydesign()`; absent: every row weighs 1 and is its own PSU.
    #[serde(default)]
    pub design: DesignSpec,
    /// Calibration of the design weights to population margins.
    pub weighting: Option<WeightingSpec>,
    /// What to estimate, one table per indicator.
    #[serde(default)]
    pub indicator: Vec<IndicatorSpec>,
    /// Design-based regression models (R `svyglm`), one table of coefficients each.
    #[serde(default)]
    pub model: Vec<ModelSpec>,
    /// For which groups every indicator is estimated.
    #[serde(default)]
    pub segments: SegmentsSpec,
    /// Which cells are too small to publish, and which get a warning flag.
    #[serde(default)]
    pub disclosure: DisclosureSpec,
    /// Where the run writes, and what.
    #[serde(default)]
    pub output: OutputSpec,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineSection {
    /// Name of the pipeline; the `pipeline` column of every output table.
    pub name: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// The survey wave of this file: a year (`2024`) or a name (`"2024-najaar"`). The order of
    /// the inputs is the order of the waves.
    pub wave: WaveSpec,
    /// Respondent export, relative to the pipeline file: `.csv`, `.parquet`, `.sav` or `.zsav`.
    #[schemars(with = "String")]
    pub path: Spanned<String>,
    /// Schema file, relative to the pipeline file.
    #[schemars(with = "String")]
    pub schema: Spanned<String>,
    /// CSV field separator, one character; detected from the header line when absent.
    #[schemars(with = "Option<String>")]
    pub delimiter: Option<Spanned<String>>,
    /// CSV decimal mark of numbers, `.` or `,`; detected from the data when absent.
    #[schemars(with = "Option<String>")]
    pub decimal: Option<Spanned<String>>,
    /// CSV text encoding (`utf-8`, `windows-1252`, ...); detected when absent.
    #[schemars(with = "Option<String>")]
    pub encoding: Option<Spanned<String>>,
}

/// A wave as the pipeline writes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum WaveSpec {
    /// A year or another integer.
    Number(i32),
    /// A name, such as `"2009-2010"`.
    Name(String),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidationSpec {
    /// Share of rejected rows above which the run fails with exit status 1.
    #[serde(default = "default_max_reject_share")]
    pub max_reject_share: f64,
}

fn default_max_reject_share() -> f64 {
    0.05
}

impl Default for ValidationSpec {
    fn default() -> Self {
        ValidationSpec {
            max_reject_share: default_max_reject_share(),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeriveSpec {
    /// Name of the new column.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// SQL expression (polars-sql dialect) over the analysis columns.
    #[schemars(with = "Option<String>")]
    pub expr: Option<Spanned<String>>,
    /// Scale score: count of items answered with one of `count_codes`.
    pub scale: Option<ScaleSpec>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleSpec {
    /// Item columns.
    pub items: Vec<String>,
    /// Answer codes that score one point.
    pub count_codes: Vec<i64>,
    /// Fewest answered items for a score; fewer gives null. Default: all items.
    pub min_valid: Option<usize>,
    /// Scale a partial score up to the full item count: `score × items / answered`.
    #[serde(default)]
    pub prorate: bool,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DesignSpec {
    /// Weight column; absent: every row weighs 1.
    #[schemars(with = "Option<String>")]
    pub weight: Option<Spanned<String>>,
    /// Stratum column.
    #[schemars(with = "Option<String>")]
    pub strata: Option<Spanned<String>>,
    /// Primary sampling unit column (nested within strata); absent: each row is its own PSU.
    #[schemars(with = "Option<String>")]
    pub psu: Option<Spanned<String>>,
    /// Finite population correction: population size per stratum, or a sampling fraction <= 1.
    #[schemars(with = "Option<String>")]
    pub fpc: Option<Spanned<String>>,
    /// Strata with a single PSU, as R's `options(survey.lonely.psu = ...)`.
    #[serde(default)]
    pub lonely_psu: LonelyPsu,
    /// Apply `lonely_psu` also to strata that have a single PSU only inside a domain, as R's
    /// `options(survey.adjust.domain.lonely = TRUE)`. Default false, as in R.
    #[serde(default)]
    pub adjust_domain_lonely: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WeightingSpec {
    /// `rake`, `poststratify` or `linear`.
    pub method: CalibrationMethod,
    /// Margins CSV (`variable,category,target`), relative to the pipeline file; `{wave}` is
    /// replaced by each input's wave.
    #[schemars(with = "String")]
    pub margins: Spanned<String>,
    /// Raking: sweeps before giving up (exit 1).
    #[serde(default = "default_max_iterations")]
    pub max_iterations: u32,
    /// Converged when `max_j |achieved_j - target_j| / (1 + |target_j|) <= tolerance`.
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// Trim the calibrated weights to `[min, max]` times their mean, as R
    /// `trimWeights(design, lower = min * mean(w), upper = max * mean(w))`.
    #[schemars(with = "Option<TrimSpec>")]
    pub trim: Option<Spanned<TrimSpec>>,
}

fn default_max_iterations() -> u32 {
    50
}
fn default_tolerance() -> f64 {
    1e-7
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrimSpec {
    /// Lowest weight, relative to the mean weight.
    pub min: Option<f64>,
    /// Highest weight, relative to the mean weight.
    pub max: Option<f64>,
}

/// How the design weights are calibrated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CalibrationMethod {
    /// Raking to every margin (R `calibrate(calfun = "raking")`).
    Rake,
    /// One variable (or crossing): weights scaled to each cell's target (R `postStratify()`).
    Poststratify,
    /// Linear (GREG) calibration to all margins at once (R `calibrate()`).
    Linear,
}

impl CalibrationMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            CalibrationMethod::Rake => "rake",
            CalibrationMethod::Poststratify => "poststratify",
            CalibrationMethod::Linear => "linear",
        }
    }
}

/// Policy for strata with one PSU, with R `survey`'s names and meaning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LonelyPsu {
    /// Stop with an error naming the stratum.
    #[default]
    Fail,
    /// The stratum contributes nothing to the variance.
    Remove,
    /// Centre the lonely PSU at the grand mean instead of its stratum mean.
    Adjust,
    /// Replace the stratum's contribution by the average of the other strata.
    Average,
    /// The PSU was sampled with certainty: no contribution.
    Certainty,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IndicatorSpec {
    /// Identifier; the `indicator` column of the outputs.
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// Human-readable label for charts and report.
    pub label: String,
    /// The estimator: `proportion`, `mean`, `total`, `ratio` or `quantile`.
    pub kind: IndicatorKind,
    /// SQL condition defining who is in the denominator; absent: everyone.
    #[schemars(with = "Option<String>")]
    pub population: Option<Spanned<String>>,
    /// Proportion: SQL condition; mean, total, quantile: numeric SQL expression.
    #[schemars(with = "Option<String>")]
    pub value: Option<Spanned<String>>,
    /// Interval method for proportions (default `logit`); means and totals use t intervals.
    pub ci: Option<CiMethod>,
    /// Ratio: numerator expression.
    #[schemars(with = "Option<String>")]
    pub numerator: Option<Spanned<String>>,
    /// Ratio: denominator expression.
    #[schemars(with = "Option<String>")]
    pub denominator: Option<Spanned<String>>,
    /// Quantile: the probability, in (0, 1).
    pub probability: Option<f64>,
    /// Proportion or mean: also publish it directly standardised to a standard population's
    /// distribution of one variable, as indicator `<id>_std` (R `svystandardize`).
    pub standardize: Option<StandardizeSpec>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StandardizeSpec {
    /// The categorical column whose distribution is standardised, such as an age band.
    #[schemars(with = "String")]
    pub by: Spanned<String>,
    /// CSV of the standard population, relative to the pipeline file: columns `category` and
    /// `share` (or `count`), one row per category of `by`.
    #[schemars(with = "String")]
    pub population: Spanned<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IndicatorKind {
    /// The weighted share of `value` (a condition) in the population (R `svymean`).
    Proportion,
    /// The weighted mean of `value` (R `svymean`).
    Mean,
    /// The weighted total of `value` (R `svytotal`).
    Total,
    /// The ratio of the totals of `numerator` and `denominator` (R `svyratio`).
    Ratio,
    /// The `probability` quantile of `value` (R `svyquantile(qrule = "math")`).
    Quantile,
}

impl IndicatorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorKind::Proportion => "proportion",
            IndicatorKind::Mean => "mean",
            IndicatorKind::Total => "total",
            IndicatorKind::Ratio => "ratio",
            IndicatorKind::Quantile => "quantile",
        }
    }
}

/// The interval method of a proportion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CiMethod {
    /// R `svyciprop(method = "xlogit")`.
    Logit,
    /// R `svyciprop(method = "wilson")`.
    Wilson,
    /// R `svyciprop(method = "beta")`.
    KornGraubard,
    /// R `svyciprop(method = "mean")`: estimate ± t·SE.
    Wald,
}

impl CiMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            CiMethod::Logit => "logit",
            CiMethod::Wilson => "wilson",
            CiMethod::KornGraubard => "korn-graubard",
            CiMethod::Wald => "wald",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Identifier; the `model` column of `models.parquet`.
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// Human-readable label for the report.
    pub label: String,
    /// The model: `linear`, `logistic` or `poisson`.
    pub family: ModelFamily,
    /// The outcome, an SQL expression: a condition (or 0/1) for `logistic`, a number otherwise.
    #[schemars(with = "String")]
    pub outcome: Spanned<String>,
    /// The explanatory columns, in order; `"a:b"` is the interaction of `a` and `b`, which must
    /// be terms too where they are categorical. A categorical column (one with `categories` or
    /// value labels in the schema, or text) enters as treatment contrasts; a number as it is.
    #[schemars(with = "Vec<String>")]
    pub terms: Spanned<Vec<String>>,
    /// The reference level of a categorical term, by code: `{ werk = 3 }`. Default: its first
    /// level (the lowest code).
    #[schemars(with = "Option<std::collections::BTreeMap<String, CodeSpec>>")]
    pub reference: Option<Spanned<std::collections::BTreeMap<String, CodeSpec>>>,
    /// SQL condition defining the model's domain; absent: everyone.
    #[schemars(with = "Option<String>")]
    pub population: Option<Spanned<String>>,
    /// Fit the model per segment of these (crossed) columns, as `[segments] by` writes one.
    #[schemars(with = "Option<Vec<String>>")]
    pub by: Option<Spanned<Vec<String>>>,
    /// Most IRLS iterations before the fit is declared not to converge (R `glm.control(maxit)`).
    #[serde(default = "default_model_iterations")]
    pub max_iterations: u32,
    /// Convergence: the relative change of the deviance below this (R `glm.control(epsilon)`).
    #[serde(default = "default_model_tolerance")]
    pub tolerance: f64,
}

fn default_model_iterations() -> u32 {
    25
}

fn default_model_tolerance() -> f64 {
    1e-8
}

/// The family of a model, as R's `svyglm(family = ...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModelFamily {
    /// Linear regression (R `gaussian()`).
    Linear,
    /// Logistic regression of a 0/1 outcome (R `quasibinomial()`); odds ratios beside.
    Logistic,
    /// Log-linear regression of a count or other non-negative outcome (R `quasipoisson()`);
    /// rate ratios beside.
    Poisson,
}

impl ModelFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelFamily::Linear => "linear",
            ModelFamily::Logistic => "logistic",
            ModelFamily::Poisson => "poisson",
        }
    }
}

/// A category code as written: a whole number or a text.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CodeSpec {
    Int(i64),
    Text(String),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentsSpec {
    /// Include the whole population as segment `total`.
    #[serde(default = "yes")]
    pub total: bool,
    /// Segmentations: each a list of variables, crossed.
    #[serde(default)]
    #[schemars(with = "Vec<Vec<String>>")]
    pub by: Vec<Spanned<Vec<String>>>,
}

fn yes() -> bool {
    true
}

impl Default for SegmentsSpec {
    fn default() -> Self {
        SegmentsSpec {
            total: true,
            by: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisclosureSpec {
    /// Unweighted domain size below this: estimate suppressed.
    #[serde(default = "default_min_n")]
    pub min_n: u64,
    /// Proportions: unweighted count of yes or of no below this: suppressed.
    #[serde(default = "default_min_cell")]
    pub min_cell: u64,
    /// Relative standard error above this: published with flag `unreliable`.
    #[serde(default = "default_max_rse")]
    pub max_rse: f64,
    /// Effective sample size below this: published with flag `low_effective_n` (NCHS: 30).
    #[serde(default = "default_min_effective_n")]
    pub min_effective_n: f64,
    /// Design degrees of freedom below this: published with flag `low_df` (NCHS: 8).
    #[serde(default = "default_min_df")]
    pub min_df: f64,
}

fn default_min_n() -> u64 {
    30
}
fn default_min_cell() -> u64 {
    5
}
fn default_max_rse() -> f64 {
    0.3
}
fn default_min_effective_n() -> f64 {
    30.0
}
fn default_min_df() -> f64 {
    8.0
}

impl Default for DisclosureSpec {
    fn default() -> Self {
        DisclosureSpec {
            min_n: default_min_n(),
            min_cell: default_min_cell(),
            max_rse: default_max_rse(),
            min_effective_n: default_min_effective_n(),
            min_df: default_min_df(),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// Output folder, relative to the pipeline file; `--out` overrides.
    pub dir: Option<String>,
    /// Write `charts/` (SVG and PNG).
    #[serde(default = "yes")]
    pub charts: bool,
    /// Write `report.html`.
    #[serde(default = "yes")]
    pub report: bool,
}

impl Default for OutputSpec {
    fn default() -> Self {
        OutputSpec {
            dir: None,
            charts: true,
            report: true,
        }
    }
}
