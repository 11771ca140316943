//! The resolved plan: what a run needs, checked by [`super::compile`]. The stages read only
//! these types.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use polars::prelude::Expr;

use super::{
    expr_columns, margins, CalibrationMethod, CiMethod, CodeSpec, IndicatorKind, LonelyPsu,
    ModelFamily, SchemaPlan, WaveSpec,
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
    pub models: Vec<ModelPlan>,
    pub segmentations: Vec<Segmentation>,
    pub disclosure: DisclosurePlan,
    pub output: OutputPlan,
}

/// A survey wave: its name as the pipeline writes it (`2024`, `"2024-najaar"`) and its place
/// among the run's waves. Waves given as integers are in the integers' order; when any wave
/// has a name, the order of the `[[input]]`s is the order of all waves. Waves sort by their
/// place; they print by their name, and serialize as the integer or the text the pipeline gave.
///
/// The name is interned: a wave is `Copy`, as the integer it replaced, and the text of every
/// distinct name lives once for the process (a handful per pipeline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Wave {
    order: i64,
    name: &'static str,
    number: Option<i32>,
}

impl Wave {
    /// The waves of a run's inputs, in their order (see [`Wave`]).
    pub fn of_inputs(specs: &[&WaveSpec]) -> Vec<Wave> {
        let numbered = specs.iter().all(|spec| matches!(spec, WaveSpec::Number(_)));
        specs
            .iter()
            .enumerate()
            .map(|(order, spec)| match (spec, numbered) {
                (WaveSpec::Number(number), true) => Wave::from(*number),
                (WaveSpec::Number(number), false) => Wave {
                    order: order as i64,
                    name: intern(&number.to_string()),
                    number: None,
                },
                (WaveSpec::Name(name), _) => Wave {
                    order: order as i64,
                    name: intern(name),
                    number: None,
                },
            })
            .collect()
    }

    pub fn name(self) -> &'static str {
        self.name
    }

    /// The wave as an integer, when the pipeline gave every wave as one.
    pub fn number(self) -> Option<i32> {
        self.number
    }
}

/// A wave named by an integer, in the integers' order (for the simulator and the tests).
impl From<i32> for Wave {
    fn from(number: i32) -> Wave {
        Wave {
            order: i64::from(number),
            name: intern(&number.to_string()),
            number: Some(number),
        }
    }
}

/// Wave 0, of a file read outside a pipeline.
impl Default for Wave {
    fn default() -> Wave {
        Wave::from(0)
    }
}

impl std::fmt::Display for Wave {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl serde::Serialize for Wave {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.number {
            Some(number) => serializer.serialize_i32(number),
            None => serializer.serialize_str(self.name),
        }
    }
}

/// The one copy of a wave's name.
fn intern(name: &str) -> &'static str {
    static NAMES: std::sync::OnceLock<std::sync::Mutex<BTreeSet<&'static str>>> =
        std::sync::OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match names.get(name) {
        Some(known) => known,
        None => {
            let name: &'static str = Box::leak(name.to_string().into_boxed_str());
            names.insert(name);
            name
        }
    }
}

#[derive(Debug, Clone)]
pub struct InputPlan {
    pub wave: Wave,
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
    /// these.
    pub fn analysis_columns(&self) -> BTreeSet<String> {
        let design = &self.design;
        let mut columns: BTreeSet<String> =
            [&design.weight, &design.strata, &design.psu, &design.fpc]
                .into_iter()
                .flatten()
                .cloned()
                .collect();
        columns.extend(self.schema.primary_key.iter().cloned());
        columns.extend(self.estimated_columns());
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

    /// The columns the indicators and the models read once the design is built (every
    /// column of their expressions, standardisation and model terms): what the design-ordered
    /// analysis frame keeps (`weight::apply`).
    pub fn estimated_columns(&self) -> BTreeSet<String> {
        let mut columns = BTreeSet::new();
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
            columns.extend(indicator.standardize.iter().map(|s| s.by.clone()));
        }
        for model in &self.models {
            columns.extend(expr_columns(&model.outcome));
            if let Some(population) = &model.population {
                columns.extend(expr_columns(population));
            }
            columns.extend(model.terms.iter().flatten().cloned());
            columns.extend(model.by.iter().flat_map(|by| by.variables.iter().cloned()));
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
    pub margins: Vec<(Wave, margins::Margins)>,
}

impl WeightingPlan {
    pub fn margins(&self, wave: Wave) -> Option<&margins::Margins> {
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
    /// A standardised indicator (`<id>_std`, made by [`super::compile`] beside the crude one):
    /// what to standardise to.
    pub standardize: Option<StandardizePlan>,
}

/// Direct standardisation: the standard population's share of each category of `by`.
#[derive(Debug, Clone)]
pub struct StandardizePlan {
    pub by: String,
    /// `(category, share)`, the shares summing to 1, in the file's order.
    pub shares: Vec<(String, f64)>,
    pub path: PathBuf,
}

/// A design-based regression model (R `svyglm`), checked.
#[derive(Debug, Clone)]
pub struct ModelPlan {
    pub id: String,
    pub label: String,
    pub family: ModelFamily,
    pub outcome: Expr,
    pub outcome_text: String,
    /// `None`: everyone is in the domain.
    pub population: Option<Expr>,
    pub population_text: Option<String>,
    /// The terms in order, each the columns it multiplies (one column for a main effect).
    pub terms: Vec<Vec<String>>,
    /// The reference level of a categorical column, where the spec names one.
    pub reference: Vec<(String, CodeSpec)>,
    /// Fit per segment of this segmentation, or once for everyone.
    pub by: Option<Segmentation>,
    pub max_iterations: u32,
    pub tolerance: f64,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waves_follow_their_integers_or_else_the_inputs() {
        let numbers = [WaveSpec::Number(2024), WaveSpec::Number(2020)];
        let waves = Wave::of_inputs(&numbers.iter().collect::<Vec<_>>());
        assert_eq!(waves, [Wave::from(2024), Wave::from(2020)]);
        assert!(waves[1] < waves[0], "integers in their order");
        let named = [
            WaveSpec::Name("2023-najaar".into()),
            WaveSpec::Number(2023),
            WaveSpec::Name("2009-2010".into()),
        ];
        let waves = Wave::of_inputs(&named.iter().collect::<Vec<_>>());
        assert!(
            waves[0] < waves[1] && waves[1] < waves[2],
            "the inputs' order"
        );
        let names: Vec<String> = waves.iter().map(|w| w.to_string()).collect();
        assert_eq!(names, ["2023-najaar", "2023", "2009-2010"]);
        assert_eq!(
            waves.iter().map(|w| w.number()).collect::<Vec<_>>(),
            [None; 3]
        );
        assert_eq!(serde_json::to_string(&waves[0]).unwrap(), "\"2023-najaar\"");
        assert_eq!(serde_json::to_string(&Wave::from(2024)).unwrap(), "2024");
    }
}
