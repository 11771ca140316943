//! peiling: a batch pipeline for survey monitors.
//!
//! One declarative run turns respondent exports into published tables:
//!
//! ```text
//! spec::compile      pipelines/*.toml + schemas/*.toml -> Plan
//! ingest::read       Plan.inputs                       -> RawFrame        (text, as written)
//! validate::apply    RawFrame                          -> ValidFrame + Rejects
//!   (a CSV input: validate::stream::{read, finish}, one streaming pass to the same result,
//!    over the blocks and fields of ingest::csv; a file that pass declines takes
//!    ingest::read and validate::apply)
//! derive::apply      ValidFrame                        -> DerivedFrame
//! weight::of_plan    DerivedFrame                      -> SurveyDesign    (segments coded)
//! estimate::all      SurveyDesign                      -> EstimateTable
//! estimate::model::all SurveyDesign                    -> ModelTable      (R svyglm)
//! disclosure::apply  EstimateTable                     -> ReleasedTable
//!   (disclosure::models ModelTable rows               -> ReleasedModelRow)
//! changes::between_waves ReleasedTable                 -> Vec<ChangeRow>
//! output::write      everything                        -> <out>/ (atomically, claimed
//!                                                         first by output::folder::claim)
//! ```
//!
//! A module uses only the modules above it (and `diag`, `levels`); [`run`] below is the whole
//! flow, and [`prepare`] its part up to the weighted designs, which the R suites and the
//! benchmarks share.

// The stages, in the order of a run.
// 1. The pipeline and schema files compiled to a plan.
pub mod spec;
// 2. Inputs read as text (CSV, SPSS, Parquet).
pub mod ingest;
// 3. Validation against the schema; rejects with their reasons.
pub mod validate;
// 4. Derived variables.
pub mod derive;
// 5. The survey design and its weights, calibrated or not.
pub mod weight;
// 6. Estimates with design-based SEs and intervals.
pub mod estimate;
// 7. Disclosure control.
pub mod disclosure;
// 8. Changes between waves.
pub mod changes;
// 9. The output folder.
pub mod output;

// What the stages share: diagnostics and exit codes, the levels of a categorical column.
pub mod diag;
pub mod levels;

// Not stages: the simulator of survey waves behind `peiling generate`, and the drafting of a
// schema and pipeline from an export behind `peiling init`.
pub mod generate;
pub mod init;

use crate::spec::Wave;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use diag::Progress;
use diag::{catalog, Diagnostic, Failure, Place};
use ingest::hash::Hashing;
use output::manifest::{DesignRecord, FileRecord, Manifest};
use spec::{Overrides, Plan};
use validate::{Rejects, ValidFrame, ValidationReport};

/// What a successful run reports back.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub out_dir: PathBuf,
    pub manifest: Manifest,
    /// Warnings worth showing (rejected rows, ignored columns).
    pub diagnostics: Vec<Diagnostic>,
}

/// Stage timings, in order.
#[derive(Default)]
struct Clock {
    timings: BTreeMap<String, f64>,
}

impl Clock {
    fn time<T>(&mut self, name: &str, progress: &dyn Progress, work: impl FnOnce() -> T) -> T {
        progress.stage(name);
        let start = Instant::now();
        let result = work();
        *self.timings.entry(name.to_string()).or_default() += start.elapsed().as_secs_f64();
        result
    }
}

/// Ingest and validation of every input, shared by `run` and `validate`.
struct Validated {
    /// The schema with the labels of every input's own codebook (SPSS) merged in.
    schema: spec::SchemaPlan,
    frames: Vec<ValidFrame>,
    rejects: Vec<Rejects>,
    reports: Vec<ValidationReport>,
    lines: HashMap<Wave, Option<Vec<u32>>>,
    diagnostics: Vec<Diagnostic>,
}

impl Validated {
    fn line(&self, wave: Wave, row: usize) -> Option<u32> {
        self.lines.get(&wave)?.as_ref().map(|lines| lines[row])
    }

    fn counts(&self) -> (usize, usize, usize) {
        let read = self.reports.iter().map(|r| r.rows_read).sum();
        let accepted = self.reports.iter().map(|r| r.rows_accepted).sum();
        (read, accepted, read - accepted)
    }
}

fn ingest_and_validate(
    plan: &Plan,
    clock: &mut Clock,
    progress: &dyn Progress,
    hashing: Hashing,
) -> Result<Validated, Failure> {
    let mut validated = Validated {
        schema: plan.schema.clone(),
        frames: Vec::new(),
        rejects: Vec::new(),
        reports: Vec::new(),
        lines: HashMap::new(),
        diagnostics: Vec::new(),
    };
    for input in &plan.inputs {
        // A CSV file is read, parsed and checked in one streaming pass when it can be (see
        // `validate::stream`); its typed values are validated in the "ingest" stage then.
        let streamed = clock.time("ingest", progress, || {
            validate::stream::read_hashing(input, &plan.schema, hashing)
        })?;
        let (frame, rejects, lines) = match streamed {
            Some(parsed) => {
                let (frame, rejects, lines) = clock.time("validate", progress, || {
                    validate::stream::finish(parsed, &plan.schema)
                })?;
                (frame, rejects, Some(lines))
            }
            None => {
                let raw = clock.time("ingest", progress, || ingest::read(input))?;
                validated.diagnostics.extend(raw.notices.iter().cloned());
                let (frame, rejects) =
                    clock.time("validate", progress, || validate::apply(&raw, &plan.schema))?;
                // Validation applied the file's own codebook (SPSS); the run's labels gather
                // them all.
                validated.schema = validate::codebook::merge_lenient(&validated.schema, &raw).0;
                (frame, rejects, raw.lines)
            }
        };
        let report = &frame.report;
        let at = Place::file(input.path.display());
        if !report.extra_columns.is_empty() {
            validated.diagnostics.push(
                Diagnostic::warning(
                    catalog::V002,
                    format!(
                        "{} column(s) not in the schema are ignored: {}",
                        report.extra_columns.len(),
                        report.extra_columns.join(", ")
                    ),
                )
                .at(at.clone()),
            );
        }
        if report.rows_rejected > 0 {
            validated.diagnostics.push(
                Diagnostic::warning(
                    catalog::V003,
                    format!(
                        "wave {}: {} of {} rows rejected (see private/rejects.parquet)",
                        input.wave, report.rows_rejected, report.rows_read
                    ),
                )
                .at(at),
            );
        }
        validated.reports.push(frame.report.clone());
        validated.lines.insert(input.wave, lines);
        validated.frames.push(frame);
        validated.rejects.push(rejects);
    }
    Ok(validated)
}

/// Fails when more rows were rejected than `[validation] max_reject_share` allows.
fn check_reject_share(plan: &Plan, validated: &Validated) -> Result<(), Failure> {
    let (read, _, rejected) = validated.counts();
    let share = rejected as f64 / read.max(1) as f64;
    if share <= plan.max_reject_share {
        return Ok(());
    }
    let mut diagnostic = Diagnostic::error(
        catalog::V004,
        format!(
            "{rejected} of {read} rows rejected ({:.1}%), more than max_reject_share = {}",
            100.0 * share,
            plan.max_reject_share
        ),
    )
    .at(Place::file(plan.spec_path.display()));
    for line in validate::summarize(&validated.rejects, &validated.lines, 3) {
        diagnostic = diagnostic.caused_by(line);
    }
    Err(diagnostic.into())
}

fn manifest(
    plan: &Plan,
    validated: &Validated,
    designs: &[weight::SurveyDesign],
    released: Option<&disclosure::ReleasedTable>,
    models: &[disclosure::ReleasedModelRow],
    diagnostics: &[Diagnostic],
) -> Manifest {
    let (read, accepted, rejected) = validated.counts();
    Manifest {
        peiling_version: env!("CARGO_PKG_VERSION").to_string(),
        pipeline: plan.name.clone(),
        spec: FileRecord {
            path: plan.spec_path.display().to_string(),
            sha256: plan.spec_sha256.clone(),
        },
        schema: FileRecord {
            path: plan.schema.path.display().to_string(),
            sha256: plan.schema.sha256.clone(),
        },
        inputs: validated.reports.clone(),
        rows_read: read,
        rows_accepted: accepted,
        rows_rejected: rejected,
        designs: designs
            .iter()
            .map(|d| DesignRecord {
                wave: d.wave,
                design: d.description.clone(),
                rows: d.rows(),
                strata: d.stratum_keys.len(),
                psus: d.psus(),
                weight_sum: d.weights.iter().sum(),
                weight_min: d.weights.iter().copied().fold(f64::INFINITY, f64::min),
                weight_max: d.weights.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            })
            .collect(),
        indicators: plan.indicators.len(),
        estimates: released.map_or(0, |r| r.rows.len()),
        suppressed: released.map_or(0, |r| r.suppressed()),
        models: plan.models.len(),
        coefficients: models.len(),
        coefficients_suppressed: models.iter().filter(|r| r.suppressed).count(),
        diagnostics: diagnostics.to_vec(),
        timings_seconds: None,
    }
}

/// A plan's weighted designs, one per input (wave), and what validation found.
pub struct Prepared {
    pub designs: Vec<weight::SurveyDesign>,
    validated: Validated,
}

impl Prepared {
    /// Rows accepted by validation, over every input.
    pub fn rows_accepted(&self) -> usize {
        self.validated.counts().1
    }
}

/// Everything `run` does before estimation: ingest and validate every input (a CSV file in the
/// streaming pass where it can be), fail when too many rows were rejected, derive, weight. The
/// R suites and the benchmarks start here, so they take the same path as a run.
pub fn prepare(plan: &mut Plan, progress: &dyn Progress) -> Result<Prepared, Failure> {
    prepare_timed(plan, &mut Clock::default(), progress)
}

fn prepare_timed(
    plan: &mut Plan,
    clock: &mut Clock,
    progress: &dyn Progress,
) -> Result<Prepared, Failure> {
    let (mut validated, derived) = derive_timed(plan, clock, progress)?;
    let mut designs = Vec::with_capacity(derived.len());
    for derived in derived {
        designs.push(clock.time("weight", progress, || weight::of_plan(derived, plan))?);
    }
    for design in &designs {
        validated.diagnostics.extend(design.weighting_notices());
    }
    Ok(Prepared { designs, validated })
}

/// [`prepare`] up to the derived frames, one per input, before weighting (the weighting
/// benchmark starts here).
pub fn derive_inputs(
    plan: &mut Plan,
    progress: &dyn Progress,
) -> Result<Vec<derive::DerivedFrame>, Failure> {
    Ok(derive_timed(plan, &mut Clock::default(), progress)?.1)
}

fn derive_timed(
    plan: &mut Plan,
    clock: &mut Clock,
    progress: &dyn Progress,
) -> Result<(Validated, Vec<derive::DerivedFrame>), Failure> {
    // The inputs' SHA-256 taken while weighting and estimation leave a core free.
    let validated = ingest_and_validate(plan, clock, progress, Hashing::AfterPass)?;
    check_reject_share(plan, &validated)?;
    // Labels from SPSS files label the segments and the microdata too.
    plan.schema = validated.schema.clone();
    let analysis_columns = plan.analysis_columns();
    let mut frames = Vec::with_capacity(validated.frames.len());
    for frame in &validated.frames {
        let mut derived = clock.time("derive", progress, || {
            derive::apply(frame.clone(), &plan.derive)
        })?;
        derived.keep_analysis_columns(&analysis_columns);
        frames.push(derived);
    }
    Ok((validated, frames))
}

/// The whole pipeline: `peiling run`.
pub fn run(
    spec_path: &Path,
    overrides: &Overrides,
    progress: &dyn Progress,
) -> Result<Outcome, Failure> {
    let mut clock = Clock::default();
    let mut plan = clock.time("compile", progress, || spec::compile(spec_path, overrides))?;
    // Before any work: the output folder is this run's to replace (see `output::folder`).
    let out = output::folder::claim(&plan.output.dir)?;
    let Prepared { designs, validated } = prepare_timed(&mut plan, &mut clock, progress)?;
    let estimates = clock.time("estimate", progress, || {
        estimate::all_with_progress(&designs, &plan, progress)
    })?;
    let released = clock.time("disclosure", progress, || {
        disclosure::apply(estimates, &plan.disclosure)
    });
    let changes = changes::between_waves(&released, estimate::LEVEL);
    let models = clock.time("models", progress, || estimate::model::all(&designs, &plan))?;
    let mut diagnostics = validated.diagnostics.clone();
    diagnostics.extend(models.diagnostics);
    let models = disclosure::models(models.rows, &plan.disclosure);
    // With calibration, the report shows the headline figures before it too.
    let uncalibrated: Vec<weight::SurveyDesign> = designs
        .iter()
        .filter_map(weight::SurveyDesign::uncalibrated_total)
        .collect();
    let before_weighting = if uncalibrated.is_empty() {
        disclosure::ReleasedTable::default()
    } else {
        let table = clock.time("estimate", progress, || estimate::all(&uncalibrated, &plan))?;
        disclosure::apply(table, &plan.disclosure)
    };

    // The output reads the coded data and the weights; the analysis data (a copy of the
    // columns the estimates read, in design order) go before it.
    let mut designs = designs;
    for design in &mut designs {
        design.data.analysis = polars::prelude::DataFrame::empty();
    }

    // The manifest is written by the output stage, so it records the stages before it.
    let mut manifest = manifest(
        &plan,
        &validated,
        &designs,
        Some(&released),
        &models,
        &diagnostics,
    );
    manifest.timings_seconds = Some(clock.timings.clone());
    let lines = |wave: Wave, row: usize| validated.line(wave, row);
    let artifacts = output::Artifacts {
        plan: &plan,
        manifest: &manifest,
        released: &released,
        models: &models,
        changes: &changes,
        before_weighting: &before_weighting,
        rejects: &validated.rejects,
        lines: &lines,
        designs: &designs,
        progress,
    };
    clock.time("output", progress, || output::write(&artifacts, &out))?;
    Ok(Outcome {
        out_dir: plan.output.dir.clone(),
        manifest,
        diagnostics,
    })
}

/// Ingest and validation only: `peiling validate`. Writes `private/rejects.parquet` and
/// `manifest.json`; fails like `run` when too many rows are rejected (after writing them, so the
/// researcher can look).
pub fn validate(
    spec_path: &Path,
    overrides: &Overrides,
    progress: &dyn Progress,
) -> Result<Outcome, Failure> {
    let mut clock = Clock::default();
    let plan = clock.time("compile", progress, || spec::compile(spec_path, overrides))?;
    let out = output::folder::claim(&plan.output.dir)?;
    // Nothing follows the pass for the SHA-256 to run beside: it runs beside the pass.
    let validated = ingest_and_validate(&plan, &mut clock, progress, Hashing::Beside)?;
    let mut manifest = manifest(&plan, &validated, &[], None, &[], &validated.diagnostics);
    manifest.timings_seconds = Some(clock.timings.clone());
    let lines = |wave: Wave, row: usize| validated.line(wave, row);
    output::write_validation(&manifest, &validated.rejects, &lines, &out)?;
    check_reject_share(&plan, &validated)?;
    let mut diagnostics = validated.diagnostics.clone();
    if manifest.rows_rejected > 0 {
        let summary = validate::summarize(&validated.rejects, &validated.lines, 3);
        diagnostics.push(Diagnostic::info(
            catalog::V005,
            format!(
                "problems by rule, with the first examples:\n  {}",
                summary.join("\n  ")
            ),
        ));
    }
    Ok(Outcome {
        out_dir: plan.output.dir.clone(),
        manifest,
        diagnostics,
    })
}
