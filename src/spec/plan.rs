//! The resolved plan: what a run needs, checked by [`super::compile`]. The stages read only
//! these types.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use polars::prelude::Expr;

use super::{
    expr_columns, margins, CalibrationMethod, CiMethod, IndicatorKind, LonelyPsu, SchemaPlan,
};

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
    pub disclosure: DisclosurePlan,
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
        scale: ScalePlan,
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
/// Trimming bounds, multiples of the mean weight (`None`: unbounded on that side).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trim {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct WeightingPlan {
    pub method: CalibrationMethod,
    pub max_iterations: u32,
    pub tolerance: f64,
    pub trim: Option<Trim>,
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

/// A scale score: the count of `items` answered with one of `count_codes`.
#[derive(Debug, Clone)]
pub struct ScalePlan {
    pub items: Vec<String>,
    pub count_codes: Vec<i64>,
    /// Fewest answered items for a score (the spec's default resolved: every item).
    pub min_valid: usize,
    /// Scale a partial score up to the full item count.
    pub prorate: bool,
}

/// The disclosure rules, checked: thresholds for suppression and for the reliability flags.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DisclosurePlan {
    pub min_n: u64,
    pub min_cell: u64,
    pub max_rse: f64,
    pub min_effective_n: f64,
    pub min_df: f64,
}

impl Default for DisclosurePlan {
    /// The defaults of a spec without `[disclosure]`.
    fn default() -> Self {
        DisclosurePlan::from(&super::DisclosureSpec::default())
    }
}

impl From<&super::DisclosureSpec> for DisclosurePlan {
    fn from(spec: &super::DisclosureSpec) -> Self {
        let super::DisclosureSpec {
            min_n,
            min_cell,
            max_rse,
            min_effective_n,
            min_df,
        } = *spec;
        DisclosurePlan {
            min_n,
            min_cell,
            max_rse,
            min_effective_n,
            min_df,
        }
    }
}
