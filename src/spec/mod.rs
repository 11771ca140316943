//! Pipeline and schema files, and their compilation into a checked [`Plan`].
//!
//! `raw` holds the pipeline file as written (`*Spec`, one struct per TOML table), `plan` the
//! resolved [`Plan`], `schema` and `margins` their own files, `json_schema` the JSON Schemas of
//! the pipeline and schema files for editors. [`compile`] reads a pipeline file
//! and the schema files it names, checks
//! everything that can be checked before touching data — unknown keys, SQL that does not parse,
//! columns that do not exist, settings out of range — and returns **all** problems at once, each
//! with file, line and column. Later stages only ever see the resolved [`Plan`].

pub mod json_schema;
pub mod margins;
mod plan;
mod raw;
pub mod schema;

pub use plan::*;
pub use raw::*;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use polars::prelude::Expr;
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::diag::{catalog, Diagnostic, ExitStatus, Failure, Place};
pub use schema::{Code, FieldPlan, FieldType, RulePlan, SchemaPlan};

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

    // A schema that cannot be read is reported with the rest; the pipeline is checked on, with
    // every column name taken as known (each column problem would only repeat the schema's).
    let schema = match cx.schema(base, &spec.input) {
        Ok(schema) => Some(schema),
        Err(failure) if failure.status == ExitStatus::UserError => {
            cx.problems.extend(failure.diagnostics);
            None
        }
        Err(failure) => return Err(failure),
    };
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

    let mut columns = Columns {
        names: schema
            .iter()
            .flat_map(|s| &s.fields)
            .map(|f| f.name.clone())
            .collect(),
        known: schema.is_some(),
    };
    let derive = cx.derive(&spec.derive, &mut columns);
    let design = cx.design(&spec.design, &columns);
    let weighting = spec
        .weighting
        .as_ref()
        .map(|w| cx.weighting(base, w, &inputs, &columns));
    let indicators = cx.indicators(base, &spec.indicator, &columns, schema.as_ref());
    let segmentations = cx.segmentations(&spec.segments, &columns);
    let models = cx.models(&spec.model, &columns);
    let disclosure = DisclosurePlan::from(&spec.disclosure);
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
    read.extend(schema.iter().map(|s| ("schema", s.path.clone())));
    read.extend(inputs.iter().map(|i| ("input", i.path.clone())));
    read.extend(
        indicators
            .iter()
            .filter_map(|i| i.standardize.as_ref())
            .map(|s| ("standard population", s.path.clone())),
    );
    if let Some(w) = &spec.weighting {
        read.extend(
            inputs
                .iter()
                .map(|i| ("margins file", margins_path(base, w, i.wave))),
        );
    }
    cx.problems.extend(check_output_dir(&output.dir, &read));

    let Some(schema) = schema.filter(|_| cx.problems.is_empty()) else {
        return Err(Failure::user(cx.problems));
    };
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
        models,
        segmentations,
        disclosure,
        output,
    })
}

/// The margins file of a wave: `{wave}` in the spec's path replaced.
fn margins_path(base: &Path, spec: &WeightingSpec, wave: Wave) -> PathBuf {
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
            diagnostic = diagnostic.at(Place::position(file.display(), line, column));
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

/// The columns a pipeline may name: the schema's fields and the columns derived so far. When
/// the schema could not be read (its problems are reported), every name is taken as known.
struct Columns {
    names: BTreeSet<String>,
    known: bool,
}

impl Columns {
    fn contains(&self, name: &str) -> bool {
        !self.known || self.names.contains(name)
    }

    fn insert(&mut self, name: String) {
        self.names.insert(name);
    }
}

struct Compiler<'a> {
    file: &'a Path,
    text: &'a str,
    problems: Vec<Diagnostic>,
}

impl Compiler<'_> {
    fn location(&self, offset: usize) -> Place {
        let (line, column) = line_col(self.text, offset);
        Place::position(self.file.display(), line, column)
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
                    .at(Place::file(self.file.display()))
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
        let specs: Vec<&WaveSpec> = inputs.iter().map(|input| &input.wave).collect();
        for (input, wave) in inputs.iter().zip(Wave::of_inputs(&specs)) {
            if !waves.insert(wave.name()) {
                self.error_at(
                    catalog::S005,
                    &input.path,
                    format!("wave {wave} appears in more than one [[input]]"),
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
                wave,
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

    fn derive(&mut self, specs: &[DeriveSpec], columns: &mut Columns) -> Vec<DerivePlan> {
        let mut plans = Vec::new();
        for spec in specs {
            let name = spec.name.get_ref().clone();
            if columns.names.contains(&name) {
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
                        scale: ScalePlan {
                            items: scale.items.clone(),
                            count_codes: scale.count_codes.clone(),
                            min_valid: scale.min_valid.unwrap_or(items),
                            prorate: scale.prorate,
                        },
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
    fn sql(&mut self, text: &Spanned<String>, what: &str, columns: &Columns) -> Option<Expr> {
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

    fn column(&mut self, name: &Option<Spanned<String>>, columns: &Columns) -> Option<String> {
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
        columns: &Columns,
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
            Trim { min, max }
        });
        let mut margins = Vec::new();
        let mut loaded: Vec<(PathBuf, margins::Margins)> = Vec::new();
        for input in inputs {
            let path = margins_path(base, spec, input.wave);
            if let Some((_, m)) = loaded.iter().find(|(p, _)| *p == path) {
                margins.push((input.wave, m.clone()));
                continue;
            }
            match margins::load(&path, &|column| columns.contains(column)) {
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

    fn design(&mut self, spec: &DesignSpec, columns: &Columns) -> DesignPlan {
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
        base: &Path,
        specs: &[IndicatorSpec],
        columns: &Columns,
        schema: Option<&SchemaPlan>,
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
            self.check_id(&spec.id);
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
                        standardize: None,
                    });
                    if let Some(standardize) = &spec.standardize {
                        if let Some(plan) =
                            self.standardized(base, &what, spec, standardize, columns)
                        {
                            let id = format!("{}_std", spec.id.get_ref());
                            if !ids.insert(id.clone()) {
                                self.error_at(
                                    catalog::S021,
                                    &spec.id,
                                    format!("indicator {id:?}, the standardised {what}, is defined twice"),
                                );
                            }
                            let crude = plans.last().expect("pushed above");
                            plans.push(IndicatorPlan {
                                id,
                                // "naar leeftijdsgroep mantelzorger": the column's label.
                                label: format!(
                                    "{} (gestandaardiseerd naar {})",
                                    spec.label,
                                    schema
                                        .and_then(|s| s.field(&plan.by))
                                        .and_then(|f| f.label.as_deref())
                                        .map_or_else(|| plan.by.clone(), str::to_lowercase)
                                ),
                                standardize: Some(plan),
                                ..crude.clone()
                            });
                        }
                    }
                }
            }
        }
        plans
    }

    /// An indicator's or model's `id` names its charts: it may not be empty or hold a path
    /// separator.
    fn check_id(&mut self, id: &Spanned<String>) {
        let text = id.get_ref();
        if text.trim().is_empty() || text.contains(['/', '\\']) {
            self.error_at(
                catalog::S058,
                id,
                format!("id {text:?} is empty or holds a / or \\; it names the charts' files"),
            );
        }
    }

    /// Checks an indicator's `standardize` and reads its standard population.
    fn standardized(
        &mut self,
        base: &Path,
        what: &str,
        spec: &IndicatorSpec,
        standardize: &StandardizeSpec,
        columns: &Columns,
    ) -> Option<StandardizePlan> {
        if !matches!(spec.kind, IndicatorKind::Proportion | IndicatorKind::Mean) {
            self.error_at(
                catalog::S057,
                &spec.id,
                format!(
                    "{what}: `standardize` applies to proportions and means, not to kind {:?}",
                    spec.kind.as_str()
                ),
            );
            return None;
        }
        let by = standardize.by.get_ref();
        if !columns.contains(by) {
            self.error_at(
                catalog::S057,
                &standardize.by,
                format!("{what}: `standardize` by unknown column {by:?}"),
            );
            return None;
        }
        let path = base.join(standardize.population.get_ref());
        match margins::load_standard(&path) {
            Ok(shares) => Some(StandardizePlan {
                by: by.clone(),
                shares,
                path,
            }),
            Err(problem) => {
                let location = self.location(standardize.population.span().start);
                self.problems.push(
                    Diagnostic::error(catalog::S056, format!("{what}: {problem}"))
                        .at(Place::file(path.display()))
                        .caused_by(format!("`standardize` at {location}")),
                );
                None
            }
        }
    }

    fn models(&mut self, specs: &[ModelSpec], columns: &Columns) -> Vec<ModelPlan> {
        let mut plans = Vec::new();
        let mut ids = BTreeSet::new();
        for spec in specs {
            let id = spec.id.get_ref().clone();
            self.check_id(&spec.id);
            let what = format!("model {id:?}");
            let problems = self.problems.len();
            if !ids.insert(id.clone()) {
                self.error_at(catalog::S051, &spec.id, format!("{what} is defined twice"));
            }
            let terms = self.model_terms(&what, &spec.terms, columns);
            let mut reference = Vec::new();
            if let Some(references) = &spec.reference {
                for (column, code) in references.get_ref() {
                    if !terms.iter().any(|t| t.len() == 1 && &t[0] == column) {
                        self.error_at(
                            catalog::S053,
                            references,
                            format!("{what}: `reference` names {column:?}, which is not one of its terms"),
                        );
                    }
                    reference.push((column.clone(), code.clone()));
                }
            }
            let by = spec.by.as_ref().map(|by| {
                let segmentation = Segmentation {
                    variables: by.get_ref().clone(),
                };
                let unknown: Vec<&String> = by
                    .get_ref()
                    .iter()
                    .filter(|c| !columns.contains(c))
                    .collect();
                if segmentation.is_total() || !unknown.is_empty() {
                    self.error_at(
                        catalog::S054,
                        by,
                        format!(
                            "{what}: `by` must list known columns, got {:?}",
                            by.get_ref()
                        ),
                    );
                }
                segmentation
            });
            if !(spec.tolerance.is_finite() && spec.tolerance > 0.0) || spec.max_iterations == 0 {
                self.error_at(
                    catalog::S055,
                    &spec.id,
                    format!(
                        "{what}: `tolerance` must be a positive number and `max_iterations` at least 1, got {} and {}",
                        spec.tolerance, spec.max_iterations
                    ),
                );
            }
            let outcome = self.sql(&spec.outcome, &format!("{what} outcome"), columns);
            let population = spec
                .population
                .as_ref()
                .and_then(|p| self.sql(p, &format!("{what} population"), columns));
            if self.problems.len() > problems {
                continue;
            }
            if let Some(outcome) = outcome {
                plans.push(ModelPlan {
                    id,
                    label: spec.label.clone(),
                    family: spec.family,
                    outcome,
                    outcome_text: spec.outcome.get_ref().clone(),
                    population,
                    population_text: spec.population.as_ref().map(|p| p.get_ref().clone()),
                    terms,
                    reference,
                    by,
                    max_iterations: spec.max_iterations,
                    tolerance: spec.tolerance,
                });
            }
        }
        plans
    }

    /// A model's terms, each split into the columns it multiplies.
    fn model_terms(
        &mut self,
        what: &str,
        terms: &Spanned<Vec<String>>,
        columns: &Columns,
    ) -> Vec<Vec<String>> {
        if terms.get_ref().is_empty() {
            self.error_at(
                catalog::S052,
                terms,
                format!("{what}: `terms` is empty; name at least one column"),
            );
        }
        let mut plans: Vec<Vec<String>> = Vec::new();
        for term in terms.get_ref() {
            let factors: Vec<String> = term.split(':').map(|f| f.trim().to_string()).collect();
            let mut sorted = factors.clone();
            sorted.sort();
            sorted.dedup();
            if factors.iter().any(String::is_empty) || sorted.len() != factors.len() {
                self.error_at(
                    catalog::S052,
                    terms,
                    format!("{what}: term {term:?} is not a column or an interaction `a:b` of distinct columns"),
                );
                continue;
            }
            for factor in &factors {
                if !columns.contains(factor) {
                    self.error_at(
                        catalog::S052,
                        terms,
                        format!("{what}: term {term:?} names unknown column {factor:?}"),
                    );
                }
            }
            if plans.iter().any(|p| {
                let mut p = p.clone();
                p.sort();
                p == sorted
            }) {
                self.error_at(
                    catalog::S052,
                    terms,
                    format!("{what}: term {term:?} is listed twice"),
                );
            }
            plans.push(factors);
        }
        plans
    }

    fn segmentations(&mut self, spec: &SegmentsSpec, columns: &Columns) -> Vec<Segmentation> {
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
