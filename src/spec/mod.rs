//! Pipeline and schema files, and their compilation into a checked [`Plan`].
//!
//! `*Spec` structs mirror the TOML files one to one (serde, `deny_unknown_fields`, a doc
//! comment per key). [`compile`] reads a pipeline file and the schema files it names, checks
//! everything that can be checked before touching data — unknown keys, SQL that does not parse,
//! columns that do not exist, settings out of range — and returns **all** problems at once, each
//! with file, line and column. Later stages only ever see the resolved [`Plan`].

pub mod margins;
pub mod schema;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use polars::prelude::Expr;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::diag::catalog;
use crate::diag::{Diagnostic, Failure};
pub use schema::{Code, FieldPlan, FieldType, RulePlan, SchemaPlan};

/// A pipeline file (`pipelines/*.toml`), as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    pub pipeline: PipelineSection,
    /// One entry per survey wave; all share one schema.
    #[serde(default)]
    pub input: Vec<InputSpec>,
    #[serde(default)]
    pub validation: ValidationSpec,
    /// Computed columns, applied in order; each may use the ones before it.
    #[serde(default)]
    pub derive: Vec<DeriveSpec>,
    #[serde(default)]
    pub design: DesignSpec,
    /// Calibration of the design weights to population margins.
    pub weighting: Option<WeightingSpec>,
    #[serde(default)]
    pub indicator: Vec<IndicatorSpec>,
    #[serde(default)]
    pub segments: SegmentsSpec,
    #[serde(default)]
    pub disclosure: DisclosureSpec,
    #[serde(default)]
    pub output: OutputSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSection {
    /// Name of the pipeline; the `pipeline` column of every output table.
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Survey wave (year) of this file.
    pub wave: i32,
    /// Respondent export, relative to the pipeline file: `.csv`, `.parquet`, `.sav` or `.zsav`.
    pub path: Spanned<String>,
    /// Schema file, relative to the pipeline file.
    pub schema: Spanned<String>,
    /// CSV field separator, one character; detected from the header line when absent.
    pub delimiter: Option<Spanned<String>>,
    /// CSV decimal mark of numbers, `.` or `,`; detected from the data when absent.
    pub decimal: Option<Spanned<String>>,
    /// CSV text encoding (`utf-8`, `windows-1252`, ...); detected when absent.
    pub encoding: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeriveSpec {
    /// Name of the new column.
    pub name: Spanned<String>,
    /// SQL expression (polars-sql dialect) over the analysis columns.
    pub expr: Option<Spanned<String>>,
    /// Scale score: count of items answered with one of `count_codes`.
    pub scale: Option<ScaleSpec>,
}

#[derive(Debug, Clone, Deserialize)]
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesignSpec {
    /// Weight column; absent: every row weighs 1.
    pub weight: Option<Spanned<String>>,
    /// Stratum column.
    pub strata: Option<Spanned<String>>,
    /// Primary sampling unit column (nested within strata); absent: each row is its own PSU.
    pub psu: Option<Spanned<String>>,
    /// Finite population correction: population size per stratum, or a sampling fraction <= 1.
    pub fpc: Option<Spanned<String>>,
    /// Strata with a single PSU, as R's `options(survey.lonely.psu = ...)`.
    #[serde(default)]
    pub lonely_psu: LonelyPsu,
    /// Apply `lonely_psu` also to strata that have a single PSU only inside a domain, as R's
    /// `options(survey.adjust.domain.lonely = TRUE)`. Default false, as in R.
    #[serde(default)]
    pub adjust_domain_lonely: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightingSpec {
    pub method: CalibrationMethod,
    /// Margins CSV (`variable,category,target`), relative to the pipeline file; `{wave}` is
    /// replaced by each input's wave.
    pub margins: Spanned<String>,
    /// Raking: sweeps before giving up (exit 1).
    #[serde(default = "default_max_iterations")]
    pub max_iterations: u32,
    /// Converged when `max_j |achieved_j - target_j| / (1 + |target_j|) <= tolerance`.
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// Trim the calibrated weights to `[min, max]` times their mean, as R
    /// `trimWeights(design, lower = min * mean(w), upper = max * mean(w))`.
    pub trim: Option<Spanned<TrimSpec>>,
}

fn default_max_iterations() -> u32 {
    50
}
fn default_tolerance() -> f64 {
    1e-7
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrimSpec {
    /// Lowest weight, relative to the mean weight.
    pub min: Option<f64>,
    /// Highest weight, relative to the mean weight.
    pub max: Option<f64>,
}

/// How the design weights are calibrated; R equivalents in `weight::calibrate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CalibrationMethod {
    /// Iterative proportional fitting to every margin.
    Rake,
    /// One variable (or crossing): weights scaled to each cell's target.
    Poststratify,
    /// Linear (GREG) calibration to all margins at once.
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicatorSpec {
    /// Identifier; the `indicator` column of the outputs.
    pub id: Spanned<String>,
    /// Human-readable label for charts and report.
    pub label: String,
    pub kind: IndicatorKind,
    /// SQL condition defining who is in the denominator; absent: everyone.
    pub population: Option<Spanned<String>>,
    /// Proportion: SQL condition; mean, total, quantile: numeric SQL expression.
    pub value: Option<Spanned<String>>,
    /// Interval method for proportions (default `logit`); means and totals use t intervals.
    pub ci: Option<CiMethod>,
    /// Ratio: numerator expression.
    pub numerator: Option<Spanned<String>>,
    /// Ratio: denominator expression.
    pub denominator: Option<Spanned<String>>,
    /// Quantile: the probability, in (0, 1).
    pub probability: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IndicatorKind {
    Proportion,
    Mean,
    Total,
    Ratio,
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

/// Confidence interval methods; names as in DESIGN.md, R equivalents in `estimate::ci`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CiMethod {
    Logit,
    Wilson,
    KornGraubard,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentsSpec {
    /// Include the whole population as segment `total`.
    #[serde(default = "yes")]
    pub total: bool,
    /// Segmentations: each a list of variables, crossed.
    #[serde(default)]
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

#[derive(Debug, Clone, Deserialize)]
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

#[derive(Debug, Deserialize)]
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

// ---------------------------------------------------------------------------------------------
// The resolved plan.

/// Everything a run needs, checked and resolved. Paths are absolute or relative to the current
/// directory (resolved against the pipeline file).
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub spec_path: PathBuf,
    pub spec_sha256: String,
    pub schema: SchemaPlan,
    pub inputs: Vec<InputPlan>,
    pub max_reject_share: f64,
    pub derive: Vec<DerivePlan>,
    pub design: DesignPlan,
    pub weighting: Option<WeightingPlan>,
    pub indicators: Vec<IndicatorPlan>,
    pub segmentations: Vec<Segmentation>,
    pub disclosure: DisclosureSpec,
    pub output: OutputPlan,
}

#[derive(Debug, Clone)]
pub struct InputPlan {
    pub wave: i32,
    pub path: PathBuf,
    pub format: InputFormat,
    pub csv: CsvOptions,
}

/// The kind of an export, from its file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// `.csv`, `.txt`, `.tsv`
    Csv,
    /// `.parquet`, `.pq`
    Parquet,
    /// SPSS `.sav`, `.zsav`
    Sav,
}

impl InputFormat {
    /// The format of `path` by its extension (any case); `None` when unknown.
    pub fn of(path: &Path) -> Option<InputFormat> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "csv" | "txt" | "tsv" => Some(InputFormat::Csv),
            "parquet" | "pq" => Some(InputFormat::Parquet),
            "sav" | "zsav" => Some(InputFormat::Sav),
            _ => None,
        }
    }
}

/// CSV dialect settings from the spec; `None` means "detect".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsvOptions {
    pub delimiter: Option<u8>,
    pub decimal_comma: Option<bool>,
    pub encoding: Option<&'static encoding_rs::Encoding>,
}

#[derive(Debug, Clone)]
pub enum DerivePlan {
    Sql {
        name: String,
        text: String,
        expr: Expr,
    },
    Scale {
        name: String,
        scale: ScaleSpec,
    },
}

impl DerivePlan {
    pub fn name(&self) -> &str {
        match self {
            DerivePlan::Sql { name, .. } | DerivePlan::Scale { name, .. } => name,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct DesignPlan {
    pub weight: Option<String>,
    pub strata: Option<String>,
    pub psu: Option<String>,
    pub fpc: Option<String>,
    pub lonely_psu: LonelyPsu,
    pub adjust_domain_lonely: bool,
}

impl Plan {
    /// The columns the design, the weighting and the estimates read: the design columns, every
    /// column of an indicator's expressions, the segmentation and margin variables, and the
    /// primary key (which names a respondent in messages). A wave's analysis frame keeps only
    /// these, so that putting it in design order moves no more than the estimates need.
    pub fn analysis_columns(&self) -> BTreeSet<String> {
        let design = &self.design;
        let mut columns: BTreeSet<String> =
            [&design.weight, &design.strata, &design.psu, &design.fpc]
                .into_iter()
                .flatten()
                .cloned()
                .collect();
        columns.extend(self.schema.primary_key.iter().cloned());
        for indicator in &self.indicators {
            for expr in [
                &indicator.population,
                &Some(indicator.value.clone()),
                &indicator.denominator,
            ]
            .into_iter()
            .flatten()
            {
                columns.extend(expr_columns(expr));
            }
        }
        for segmentation in &self.segmentations {
            columns.extend(segmentation.variables.iter().cloned());
        }
        if let Some(weighting) = &self.weighting {
            for (_, margins) in &weighting.margins {
                for variable in &margins.variables {
                    columns.extend(variable.columns.iter().cloned());
                }
            }
        }
        columns
    }
}

/// Calibration settings with each wave's margins read and checked.
#[derive(Debug, Clone)]
pub struct WeightingPlan {
    pub method: CalibrationMethod,
    pub max_iterations: u32,
    pub tolerance: f64,
    /// Bounds relative to the mean weight (`None`: unbounded on that side).
    pub trim: Option<(Option<f64>, Option<f64>)>,
    /// The margins of each wave, in the order of the inputs.
    pub margins: Vec<(i32, margins::Margins)>,
}

impl WeightingPlan {
    pub fn margins(&self, wave: i32) -> Option<&margins::Margins> {
        self.margins
            .iter()
            .find(|(w, _)| *w == wave)
            .map(|(_, m)| m)
    }
}

#[derive(Debug, Clone)]
pub struct IndicatorPlan {
    pub id: String,
    pub label: String,
    pub kind: IndicatorKind,
    /// `None`: everyone is in the population.
    pub population: Option<Expr>,
    pub population_text: Option<String>,
    /// Proportion: the condition; mean, total, quantile: the value; ratio: the numerator.
    pub value: Expr,
    pub value_text: String,
    /// Ratio: the denominator.
    pub denominator: Option<Expr>,
    pub denominator_text: Option<String>,
    /// Quantile: the probability, in (0, 1).
    pub probability: Option<f64>,
    pub ci: CiMethod,
}

/// A way of cutting the population into segments: `total`, or one or more crossed variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segmentation {
    pub variables: Vec<String>,
}

impl Segmentation {
    pub fn total() -> Self {
        Segmentation {
            variables: Vec::new(),
        }
    }

    pub fn is_total(&self) -> bool {
        self.variables.is_empty()
    }

    /// `total`, or the variables joined by `*` (the `segmentation` output column).
    pub fn name(&self) -> String {
        if self.is_total() {
            "total".to_string()
        } else {
            self.variables.join("*")
        }
    }
}

#[derive(Debug, Clone)]
pub struct OutputPlan {
    pub dir: PathBuf,
    pub charts: bool,
    pub report: bool,
}

/// Options from the command line that shape the plan.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub out: Option<PathBuf>,
}

/// Reads and checks a pipeline file and its schema; returns every problem found.
pub fn compile(spec_path: &Path, overrides: &Overrides) -> Result<Plan, Failure> {
    let text = std::fs::read_to_string(spec_path).map_err(|e| {
        Diagnostic::error(
            catalog::S001,
            format!("cannot read pipeline file {}", spec_path.display()),
        )
        .caused_by(e)
    })?;
    let spec: PipelineSpec = toml::from_str(&text).map_err(|e| toml_error(spec_path, &e))?;
    let base = spec_path.parent().unwrap_or(Path::new(""));
    let mut cx = Compiler {
        file: spec_path,
        text: &text,
        problems: Vec::new(),
    };

    let schema = cx.schema(base, &spec.input)?;
    let inputs = cx.inputs(base, &spec.input);
    if !(0.0..=1.0).contains(&spec.validation.max_reject_share) {
        cx.problems.push(Diagnostic::error(
            catalog::S010,
            format!(
                "[validation] max_reject_share must be between 0 and 1, got {}",
                spec.validation.max_reject_share
            ),
        ));
    }

    let mut columns: BTreeSet<String> = schema.fields.iter().map(|f| f.name.clone()).collect();
    let derive = cx.derive(&spec.derive, &mut columns);
    let design = cx.design(&spec.design, &columns);
    let weighting = spec
        .weighting
        .as_ref()
        .map(|w| cx.weighting(base, w, &inputs, &columns));
    let indicators = cx.indicators(&spec.indicator, &columns);
    let segmentations = cx.segmentations(&spec.segments, &columns);
    let disclosure = spec.disclosure.clone();
    if disclosure.max_rse.is_nan() || disclosure.max_rse <= 0.0 {
        cx.problems.push(Diagnostic::error(
            catalog::S011,
            format!(
                "[disclosure] max_rse must be positive, got {}",
                disclosure.max_rse
            ),
        ));
    }
    for (key, value) in [
        ("min_effective_n", disclosure.min_effective_n),
        ("min_df", disclosure.min_df),
    ] {
        if !(value >= 0.0 && value.is_finite()) {
            cx.problems.push(Diagnostic::error(
                catalog::S011,
                format!("[disclosure] {key} must be a non-negative number, got {value}"),
            ));
        }
    }
    let output = OutputPlan {
        dir: overrides
            .out
            .clone()
            .unwrap_or_else(|| base.join(spec.output.dir.as_deref().unwrap_or("output"))),
        charts: spec.output.charts,
        report: spec.output.report,
    };

    // Everything the run reads, for the output folder's check.
    let mut read = vec![("pipeline file", spec_path.to_path_buf())];
    read.push(("schema", schema.path.clone()));
    read.extend(inputs.iter().map(|i| ("input", i.path.clone())));
    if let Some(w) = &spec.weighting {
        read.extend(
            inputs
                .iter()
                .map(|i| ("margins file", margins_path(base, w, i.wave))),
        );
    }
    cx.problems.extend(check_output_dir(&output.dir, &read));

    if !cx.problems.is_empty() {
        return Err(Failure::user(cx.problems));
    }
    Ok(Plan {
        name: spec.pipeline.name,
        spec_path: spec_path.to_path_buf(),
        spec_sha256: sha256_hex(text.as_bytes()),
        schema,
        inputs,
        max_reject_share: spec.validation.max_reject_share,
        derive,
        design,
        weighting,
        indicators,
        segmentations,
        disclosure,
        output,
    })
}

/// The margins file of a wave: `{wave}` in the spec's path replaced.
fn margins_path(base: &Path, spec: &WeightingSpec, wave: i32) -> PathBuf {
    base.join(spec.margins.get_ref().replace("{wave}", &wave.to_string()))
}

/// The output folder is replaced whole by a run, so it must not be, or contain, the folder of
/// anything the run reads, nor the current directory.
fn check_output_dir(out: &Path, read: &[(&str, PathBuf)]) -> Vec<Diagnostic> {
    let out_resolved = resolved(out);
    let refuse = |what: String| {
        Diagnostic::error(
            catalog::S050,
            format!(
                "the output folder {} is or contains {what}: a run replaces its output folder \
                 whole, so it must be a folder of its own",
                out.display()
            ),
        )
        .caused_by("choose another folder with --out, or with `dir` in the pipeline's [output]")
    };
    let mut problems = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        if resolved(&cwd).starts_with(&out_resolved) {
            problems.push(refuse(format!("the current directory {}", cwd.display())));
        }
    }
    let mut seen = BTreeSet::new();
    for (what, path) in read {
        let folder = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let folder = resolved(folder);
        if folder.starts_with(&out_resolved) && seen.insert(folder) {
            problems.push(refuse(format!(
                "the folder of the {what} {}",
                path.display()
            )));
        }
    }
    problems
}

/// `path` made absolute, with symbolic links and `..` resolved as far as the path exists and
/// the rest (a folder still to be made) normalised as written.
pub fn resolved(path: &Path) -> PathBuf {
    use std::path::Component;
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let components: Vec<Component> = absolute.components().collect();
    for existing in (1..=components.len()).rev() {
        let head: PathBuf = components[..existing].iter().collect();
        let Ok(mut resolved) = head.canonicalize() else {
            continue;
        };
        for component in &components[existing..] {
            match component {
                Component::ParentDir => {
                    resolved.pop();
                }
                Component::Normal(name) => resolved.push(name),
                _ => {}
            }
        }
        return resolved;
    }
    absolute
}

/// Hex SHA-256 of bytes, for the manifest.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A TOML syntax or shape error; toml's message already names line and column.
fn toml_error(file: &Path, error: &toml::de::Error) -> Diagnostic {
    let mut diagnostic =
        Diagnostic::error(catalog::S002, format!("invalid file {}", file.display()));
    if let Some(span) = error.span() {
        if let Ok(text) = std::fs::read_to_string(file) {
            let (line, column) = line_col(&text, span.start);
            diagnostic = diagnostic.at(format!("{}:{line}:{column}", file.display()));
        }
    }
    diagnostic.caused_by(error.message())
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Parses a SQL expression (polars-sql dialect).
pub fn parse_sql(text: &str) -> Result<Expr, String> {
    polars::sql::sql_expr(text).map_err(|e| e.to_string())
}

/// Columns an expression reads.
pub fn expr_columns(expr: &Expr) -> Vec<String> {
    expr.clone()
        .meta()
        .root_names()
        .into_iter()
        .map(|name| name.to_string())
        .collect()
}

struct Compiler<'a> {
    file: &'a Path,
    text: &'a str,
    problems: Vec<Diagnostic>,
}

impl Compiler<'_> {
    fn location(&self, offset: usize) -> String {
        let (line, column) = line_col(self.text, offset);
        format!("{}:{line}:{column}", self.file.display())
    }

    fn error_at<T>(&mut self, code: catalog::Entry, at: &Spanned<T>, message: impl Into<String>) {
        let location = self.location(at.span().start);
        self.problems
            .push(Diagnostic::error(code, message).at(location));
    }

    /// Loads the one schema every input shares.
    fn schema(&mut self, base: &Path, inputs: &[InputSpec]) -> Result<SchemaPlan, Failure> {
        let Some(first) = inputs.first() else {
            return Err(
                Diagnostic::error(catalog::S003, "the pipeline has no [[input]]")
                    .at(self.file.display().to_string())
                    .into(),
            );
        };
        for input in &inputs[1..] {
            if input.schema.get_ref() != first.schema.get_ref() {
                self.error_at(
                    catalog::S004,
                    &input.schema,
                    format!(
                        "all inputs must share one schema: {:?} differs from {:?}",
                        input.schema.get_ref(),
                        first.schema.get_ref()
                    ),
                );
            }
        }
        let path = base.join(first.schema.get_ref());
        schema::load(&path)
    }

    fn inputs(&mut self, base: &Path, inputs: &[InputSpec]) -> Vec<InputPlan> {
        let mut plans = Vec::new();
        let mut waves = BTreeSet::new();
        for input in inputs {
            if !waves.insert(input.wave) {
                self.error_at(
                    catalog::S005,
                    &input.path,
                    format!("wave {} appears in more than one [[input]]", input.wave),
                );
            }
            let path = base.join(input.path.get_ref());
            let extension = path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            let format = InputFormat::of(&path);
            if format.is_none() {
                self.error_at(
                    catalog::S006,
                    &input.path,
                    format!(
                        "input {}: unknown format .{extension}: expected .csv, .txt, .tsv, .parquet, .pq, .sav or .zsav",
                        input.path.get_ref()
                    ),
                );
            }
            if format.is_some_and(|f| f != InputFormat::Csv) {
                for option in [&input.delimiter, &input.decimal, &input.encoding]
                    .into_iter()
                    .flatten()
                {
                    self.error_at(
                        catalog::S008,
                        option,
                        format!(
                            "delimiter, decimal and encoding are CSV settings, but {} is .{extension}",
                            input.path.get_ref()
                        ),
                    );
                }
            }
            if !path.is_file() {
                self.error_at(
                    catalog::S007,
                    &input.path,
                    format!("input file {} does not exist", path.display()),
                );
            }
            let csv = self.csv_options(input);
            plans.push(InputPlan {
                wave: input.wave,
                path,
                format: format.unwrap_or(InputFormat::Csv),
                csv,
            });
        }
        plans
    }

    fn csv_options(&mut self, input: &InputSpec) -> CsvOptions {
        let mut options = CsvOptions::default();
        if let Some(delimiter) = &input.delimiter {
            match delimiter.get_ref().as_bytes() {
                [b] if b.is_ascii() && *b != b'"' && *b != b'\n' => options.delimiter = Some(*b),
                _ if delimiter.get_ref() == "\\t" => options.delimiter = Some(b'\t'),
                _ => self.error_at(
                    catalog::S008,
                    delimiter,
                    format!(
                        "delimiter must be one ASCII character such as \";\", got {:?}",
                        delimiter.get_ref()
                    ),
                ),
            }
        }
        if let Some(decimal) = &input.decimal {
            match decimal.get_ref().as_str() {
                "," => options.decimal_comma = Some(true),
                "." => options.decimal_comma = Some(false),
                other => self.error_at(
                    catalog::S008,
                    decimal,
                    format!("decimal must be \".\" or \",\", got {other:?}"),
                ),
            }
        }
        if let Some(encoding) = &input.encoding {
            match encoding_rs::Encoding::for_label(encoding.get_ref().as_bytes()) {
                Some(found) => options.encoding = Some(found),
                None => self.error_at(
                    catalog::S008,
                    encoding,
                    format!(
                        "unknown encoding {:?} (try \"utf-8\" or \"windows-1252\")",
                        encoding.get_ref()
                    ),
                ),
            }
        }
        options
    }

    fn derive(&mut self, specs: &[DeriveSpec], columns: &mut BTreeSet<String>) -> Vec<DerivePlan> {
        let mut plans = Vec::new();
        for spec in specs {
            let name = spec.name.get_ref().clone();
            if columns.contains(&name) {
                self.error_at(
                    catalog::S012,
                    &spec.name,
                    format!("derived column {name:?} already exists"),
                );
            }
            match (&spec.expr, &spec.scale) {
                (Some(expr), None) => {
                    if let Some(parsed) = self.sql(expr, &format!("derive {name:?}"), columns) {
                        plans.push(DerivePlan::Sql {
                            name: name.clone(),
                            text: expr.get_ref().clone(),
                            expr: parsed,
                        });
                    }
                }
                (None, Some(scale)) => {
                    for item in &scale.items {
                        if !columns.contains(item) {
                            self.error_at(
                                catalog::S013,
                                &spec.name,
                                format!("scale {name:?}: unknown item column {item:?}"),
                            );
                        }
                    }
                    let items = scale.items.len();
                    if items == 0 || scale.min_valid.is_some_and(|m| m == 0 || m > items) {
                        self.error_at(
                            catalog::S014,
                            &spec.name,
                            format!(
                                "scale {name:?}: needs items, and min_valid between 1 and {items}"
                            ),
                        );
                    }
                    plans.push(DerivePlan::Scale {
                        name: name.clone(),
                        scale: scale.clone(),
                    });
                }
                _ => self.error_at(
                    catalog::S015,
                    &spec.name,
                    format!("derive {name:?}: give exactly one of `expr` or `scale`"),
                ),
            }
            columns.insert(name);
        }
        plans
    }

    /// Parses SQL and checks that every column it reads exists.
    fn sql(
        &mut self,
        text: &Spanned<String>,
        what: &str,
        columns: &BTreeSet<String>,
    ) -> Option<Expr> {
        match parse_sql(text.get_ref()) {
            Ok(expr) => {
                let unknown: Vec<String> = expr_columns(&expr)
                    .into_iter()
                    .filter(|c| !columns.contains(c))
                    .collect();
                if unknown.is_empty() {
                    Some(expr)
                } else {
                    self.error_at(
                        catalog::S016,
                        text,
                        format!(
                            "{what}: unknown column {} in {:?}",
                            unknown.join(", "),
                            text.get_ref()
                        ),
                    );
                    None
                }
            }
            Err(message) => {
                let location = self.location(text.span().start);
                self.problems.push(
                    Diagnostic::error(
                        catalog::S017,
                        format!("{what}: invalid SQL expression {:?}", text.get_ref()),
                    )
                    .at(location)
                    .caused_by(message),
                );
                None
            }
        }
    }

    fn column(
        &mut self,
        name: &Option<Spanned<String>>,
        columns: &BTreeSet<String>,
    ) -> Option<String> {
        let name = name.as_ref()?;
        if !columns.contains(name.get_ref()) {
            self.error_at(
                catalog::S018,
                name,
                format!("[design] unknown column {:?}", name.get_ref()),
            );
        }
        Some(name.get_ref().clone())
    }

    fn weighting(
        &mut self,
        base: &Path,
        spec: &WeightingSpec,
        inputs: &[InputPlan],
        columns: &BTreeSet<String>,
    ) -> WeightingPlan {
        if !(spec.tolerance.is_finite() && spec.tolerance > 0.0) {
            self.problems.push(Diagnostic::error(
                catalog::S047,
                format!(
                    "[weighting] tolerance must be a positive number, got {}",
                    spec.tolerance
                ),
            ));
        }
        if spec.max_iterations == 0 {
            self.problems.push(Diagnostic::error(
                catalog::S047,
                "[weighting] max_iterations must be at least 1",
            ));
        }
        let trim = spec.trim.as_ref().map(|t| {
            let (min, max) = (t.get_ref().min, t.get_ref().max);
            let low_ok = min.is_none_or(|v| v > 0.0 && v < 1.0);
            let high_ok = max.is_none_or(|v| v > 1.0 && v.is_finite());
            if !(low_ok && high_ok) {
                self.error_at(
                    catalog::S048,
                    t,
                    "[weighting] trim bounds are multiples of the mean weight: 0 < min < 1 < max",
                );
            }
            (min, max)
        });
        let mut margins = Vec::new();
        let mut loaded: Vec<(PathBuf, margins::Margins)> = Vec::new();
        for input in inputs {
            let path = margins_path(base, spec, input.wave);
            if let Some((_, m)) = loaded.iter().find(|(p, _)| *p == path) {
                margins.push((input.wave, m.clone()));
                continue;
            }
            match margins::load(&path, columns) {
                Ok(m) => {
                    if spec.method == CalibrationMethod::Poststratify && m.variables.len() != 1 {
                        self.error_at(
                            catalog::S049,
                            &spec.margins,
                            format!(
                                "method = \"poststratify\" takes one margin variable (cross \
                                 variables with `*`), {} has {}; use method = \"rake\" or \"linear\" for several",
                                path.display(),
                                m.variables.len()
                            ),
                        );
                    }
                    loaded.push((path, m.clone()));
                    margins.push((input.wave, m));
                }
                Err(problems) => {
                    let location = self.location(spec.margins.span().start);
                    for p in problems {
                        self.problems
                            .push(p.caused_by(format!("[weighting] margins at {location}")));
                    }
                }
            }
        }
        WeightingPlan {
            method: spec.method,
            max_iterations: spec.max_iterations,
            tolerance: spec.tolerance,
            trim,
            margins,
        }
    }

    fn design(&mut self, spec: &DesignSpec, columns: &BTreeSet<String>) -> DesignPlan {
        DesignPlan {
            weight: self.column(&spec.weight, columns),
            strata: self.column(&spec.strata, columns),
            psu: self.column(&spec.psu, columns),
            fpc: self.column(&spec.fpc, columns),
            lonely_psu: spec.lonely_psu,
            adjust_domain_lonely: spec.adjust_domain_lonely,
        }
    }

    fn indicators(
        &mut self,
        specs: &[IndicatorSpec],
        columns: &BTreeSet<String>,
    ) -> Vec<IndicatorPlan> {
        let mut plans = Vec::new();
        let mut ids = BTreeSet::new();
        if specs.is_empty() {
            self.problems.push(Diagnostic::error(
                catalog::S019,
                "the pipeline has no [[indicator]]",
            ));
        }
        for spec in specs {
            let id = spec.id.get_ref().clone();
            if !ids.insert(id.clone()) {
                self.error_at(
                    catalog::S021,
                    &spec.id,
                    format!("indicator {id:?} is defined twice"),
                );
            }
            let what = format!("indicator {id:?}");
            if spec.ci.is_some() && spec.kind != IndicatorKind::Proportion {
                self.error_at(
                    catalog::S023,
                    &spec.id,
                    format!("{what}: `ci` applies to proportions only; other kinds use t intervals (quantiles: Woodruff)"),
                );
            }
            // Which of value / numerator / denominator / probability each kind takes.
            let ratio = spec.kind == IndicatorKind::Ratio;
            let quantile = spec.kind == IndicatorKind::Quantile;
            for (key, present, allowed) in [
                ("value", spec.value.is_some(), !ratio),
                ("numerator", spec.numerator.is_some(), ratio),
                ("denominator", spec.denominator.is_some(), ratio),
                ("probability", spec.probability.is_some(), quantile),
            ] {
                if present && !allowed {
                    self.error_at(
                        catalog::S025,
                        &spec.id,
                        format!(
                            "{what}: `{key}` does not apply to kind {:?}",
                            spec.kind.as_str()
                        ),
                    );
                }
                if !present && allowed && key != "probability" {
                    self.error_at(
                        catalog::S026,
                        &spec.id,
                        format!(
                            "{what}: `{key}` is required for kind {:?}",
                            spec.kind.as_str()
                        ),
                    );
                }
            }
            let probability = match (quantile, spec.probability) {
                (true, None) => {
                    self.error_at(
                        catalog::S026,
                        &spec.id,
                        format!("{what}: `probability` is required for kind \"quantile\" (0.5 for the median)"),
                    );
                    None
                }
                (true, Some(p)) if !(p > 0.0 && p < 1.0) => {
                    self.error_at(
                        catalog::S031,
                        &spec.id,
                        format!(
                            "{what}: `probability` must be between 0 and 1 (exclusive), got {p}"
                        ),
                    );
                    None
                }
                (_, p) => p,
            };
            let population = spec
                .population
                .as_ref()
                .and_then(|p| self.sql(p, &format!("{what} population"), columns));
            let value_spec = if ratio { &spec.numerator } else { &spec.value };
            let Some(value_text) = value_spec else {
                continue;
            };
            let value = self.sql(
                value_text,
                &format!("{what} {}", if ratio { "numerator" } else { "value" }),
                columns,
            );
            let denominator = match (&spec.denominator, ratio) {
                (Some(d), true) => {
                    let Some(expr) = self.sql(d, &format!("{what} denominator"), columns) else {
                        continue;
                    };
                    Some(expr)
                }
                (None, true) => continue,
                _ => None,
            };
            if quantile && probability.is_none() {
                continue;
            }
            if let Some(value) = value {
                if spec.population.is_none() || population.is_some() {
                    plans.push(IndicatorPlan {
                        id,
                        label: spec.label.clone(),
                        kind: spec.kind,
                        population,
                        population_text: spec.population.as_ref().map(|p| p.get_ref().clone()),
                        value,
                        value_text: value_text.get_ref().clone(),
                        denominator,
                        denominator_text: spec.denominator.as_ref().map(|d| d.get_ref().clone()),
                        probability,
                        ci: spec.ci.unwrap_or(CiMethod::Logit),
                    });
                }
            }
        }
        plans
    }

    fn segmentations(
        &mut self,
        spec: &SegmentsSpec,
        columns: &BTreeSet<String>,
    ) -> Vec<Segmentation> {
        let mut plans = Vec::new();
        if spec.total {
            plans.push(Segmentation::total());
        }
        for by in &spec.by {
            let variables = by.get_ref().clone();
            if variables.is_empty() {
                self.error_at(catalog::S027, by, "[segments] an empty segmentation");
                continue;
            }
            for variable in &variables {
                if !columns.contains(variable) {
                    self.error_at(
                        catalog::S028,
                        by,
                        format!("[segments] unknown column {variable:?}"),
                    );
                }
            }
            let segmentation = Segmentation { variables };
            if plans.contains(&segmentation) {
                self.error_at(
                    catalog::S029,
                    by,
                    format!("[segments] {} is listed twice", segmentation.name()),
                );
            }
            plans.push(segmentation);
        }
        if plans.is_empty() {
            self.problems.push(Diagnostic::error(
                catalog::S030,
                "[segments] has no segmentation: set total = true or list variables in `by`",
            ));
        }
        plans
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 9), (2, 4));
    }

    #[test]
    fn sql_columns_are_found() {
        let expr = parse_sql("belasting >= 3 AND uren_pw < 10").unwrap();
        let mut columns = expr_columns(&expr);
        columns.sort();
        assert_eq!(columns, ["belasting", "uren_pw"]);
    }

    #[test]
    fn bad_sql_is_an_error() {
        assert!(parse_sql("belasting >= (3").is_err());
    }

    #[test]
    fn segmentation_names() {
        assert_eq!(Segmentation::total().name(), "total");
        let s = Segmentation {
            variables: vec!["relatie".into(), "woonsituatie_naaste".into()],
        };
        assert_eq!(s.name(), "relatie*woonsituatie_naaste");
    }
}
