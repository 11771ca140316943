//! Writing a run's outputs — the only module that writes files.
//!
//! Everything goes into a temporary sibling folder first, which replaces the output folder only
//! once every file is written, and only if peiling wrote that folder ([`folder`]): a failed run
//! leaves the previous output untouched, and a folder of the user's is never replaced. Outside
//! `private/` there are aggregates only, after disclosure control.

pub mod chart;
pub mod folder;
pub mod format;
pub mod manifest;
pub mod parquet;
pub mod report;
mod views;
pub mod xlsx;

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;

use crate::changes::ChangeRow;
use crate::diag::{catalog, Diagnostic, Failure};
use crate::disclosure::{ReleasedModelRow, ReleasedTable};
use crate::spec::{Plan, Wave};
use crate::validate::Rejects;
use crate::weight::SurveyDesign;
use manifest::Manifest;
use views::{figures, report_of, tabellenboek, waves, Figure};

/// What a run hands to the writers.
pub struct Artifacts<'a> {
    pub plan: &'a Plan,
    pub manifest: &'a Manifest,
    pub released: &'a ReleasedTable,
    /// Every model's coefficients, released.
    pub models: &'a [ReleasedModelRow],
    /// The latest wave against each earlier one; empty with one wave.
    pub changes: &'a [ChangeRow],
    /// With `[weighting]`: the `total` estimates with the design weights, for the report.
    pub before_weighting: &'a ReleasedTable,
    pub rejects: &'a [Rejects],
    /// Line number of a data row of a wave, for the rejects file.
    pub lines: &'a (dyn Fn(Wave, usize) -> Option<u32> + Sync),
    pub designs: &'a [SurveyDesign],
    pub progress: &'a dyn crate::diag::Progress,
}

fn io_failure(what: &str, path: &Path, error: impl std::fmt::Display) -> Failure {
    Failure::internal(
        Diagnostic::error(
            catalog::O001,
            format!("cannot write {what} {}", path.display()),
        )
        .caused_by(error),
    )
}

/// Writes every output of a run into its claimed folder, atomically.
pub fn write(artifacts: &Artifacts, out: &folder::Claim) -> Result<(), Failure> {
    out.write(|dir| write_all(artifacts, dir))
}

/// Writes only the validation outputs (`peiling validate`), atomically.
pub fn write_validation(
    manifest: &Manifest,
    rejects: &[Rejects],
    lines: &dyn Fn(Wave, usize) -> Option<u32>,
    out: &folder::Claim,
) -> Result<(), Failure> {
    out.write(|dir| {
        write_rejects(rejects, lines, dir)?;
        manifest.inputs_hashed()?;
        write_manifest(manifest, dir)?;
        Ok(folder::Hashed::default())
    })
}

fn write_all(artifacts: &Artifacts, dir: &Path) -> Result<folder::Hashed, Failure> {
    let plan = artifacts.plan;
    let mut laps = Laps::new();
    // The tables and the rejects (one thread's work) beside the microdata and `weights.json`
    // (one thread's work beside it): the microdata waits for its slowest column at the end of
    // every row group.
    let (tables, microdata) = rayon::join(
        || Laps::timed(|| write_tables(artifacts, dir)),
        || {
            Laps::timed(|| {
                let (respondents, weights) = rayon::join(
                    || write_respondents(plan, artifacts.designs, dir),
                    || write_weights(plan, artifacts.designs, dir),
                );
                weights?;
                respondents
            })
        },
    );
    let ((), tables) = tables?;
    let (respondents, microdata) = microdata?;
    laps.beside([("tables", tables), ("microdata", microdata)]);
    let mut hashed = folder::Hashed::default();
    if let Some((bytes, sha256)) = respondents {
        hashed.add(RESPONDENTS, bytes, sha256);
    }
    let figures = figures(plan, artifacts.released, artifacts.models);
    let charts_dir = dir.join("charts");
    let svgs_start = std::time::Instant::now();
    let mut svgs = if plan.output.charts || plan.output.report {
        draw_svgs(&figures, &charts_dir, plan.output.charts)?
    } else {
        HashMap::new()
    };
    let svg_seconds = svgs_start.elapsed().as_secs_f64();
    // The PNGs (in parallel), beside the table book and the report (each mostly one thread's
    // work): a thread done with those two draws PNGs, none waits for the other's last step.
    let (charts, (table_book, report)) = rayon::join(
        || {
            Laps::timed(|| {
                if plan.output.charts {
                    artifacts.progress.steps("charts", figures.len() as u64);
                    write_pngs(&figures, &charts_dir, artifacts.progress)?;
                }
                Ok(())
            })
        },
        || {
            rayon::join(
                || {
                    Laps::timed(|| {
                        let path = dir.join("tabellenboek.xlsx");
                        xlsx::tabellenboek(
                            &tabellenboek(plan, artifacts.released, artifacts.models),
                            &path,
                        )
                        .map_err(|e| io_failure("table book", &path, e))
                    })
                },
                || {
                    Laps::timed(|| {
                        if plan.output.report {
                            let html = report::render(&report_of(plan, artifacts, &mut svgs));
                            let path = dir.join("report.html");
                            std::fs::write(&path, html)
                                .map_err(|e| io_failure("report", &path, e))?;
                        }
                        Ok(())
                    })
                },
            )
        },
    );
    laps.beside([
        ("charts", svg_seconds + charts?.1),
        ("tabellenboek", table_book?.1),
        ("report", report?.1),
    ]);
    // The manifest last, with the output stage's own timings.
    let mut manifest = artifacts.manifest.clone();
    if let Some(timings) = &mut manifest.timings_seconds {
        timings.extend(laps.timings());
    }
    write_manifest(&manifest, dir)?;
    Ok(hashed)
}

/// The published tables (estimates, models, changes between waves) and the rejects.
fn write_tables(artifacts: &Artifacts, dir: &Path) -> Result<(), Failure> {
    let plan = artifacts.plan;
    let estimates_path = dir.join("estimates.parquet");
    // Waits here, beside the microdata, for the inputs' SHA-256 the manifest records.
    artifacts.manifest.inputs_hashed()?;
    let deterministic = serde_json::to_string(&artifacts.manifest.deterministic())
        .map_err(|e| io_failure("manifest", &estimates_path, e))?;
    // The published tables carry the run's manifest and the value labels of every field.
    let metadata = vec![
        ("peiling:manifest".to_string(), deterministic),
        (
            "peiling:labels".to_string(),
            parquet::labels_json(&plan.schema),
        ),
    ];
    let estimates = parquet::estimates_frame(plan, artifacts.released)
        .map_err(|e| io_failure("estimates", &estimates_path, e))?;
    parquet::write(&estimates, &estimates_path, metadata.clone())
        .map_err(|e| io_failure("estimates", &estimates_path, e))?;

    if !plan.models.is_empty() {
        let path = dir.join("models.parquet");
        let models = parquet::models_frame(&plan.name, artifacts.models)
            .map_err(|e| io_failure("models", &path, e))?;
        parquet::write(&models, &path, metadata.clone())
            .map_err(|e| io_failure("models", &path, e))?;
    }
    if waves(plan) > 1 {
        let path = dir.join("changes.parquet");
        let changes = parquet::changes_frame(&plan.name, artifacts.changes)
            .map_err(|e| io_failure("changes", &path, e))?;
        parquet::write(&changes, &path, metadata).map_err(|e| io_failure("changes", &path, e))?;
    }
    write_rejects(artifacts.rejects, artifacts.lines, dir)
}

/// Timings of the output stage's steps (`output/<step>`, and `output` for all of them): the
/// manifest is written after them, so it can record them.
struct Laps {
    start: std::time::Instant,
    last: std::time::Instant,
    steps: Vec<(&'static str, f64)>,
}

impl Laps {
    fn new() -> Self {
        let now = std::time::Instant::now();
        Laps {
            start: now,
            last: now,
            steps: Vec::new(),
        }
    }

    /// What `write` gives and the seconds it took, when it succeeds (a step run beside another,
    /// for [`Laps::beside`]).
    fn timed<T>(write: impl FnOnce() -> Result<T, Failure>) -> Result<(T, f64), Failure> {
        let start = std::time::Instant::now();
        write().map(|value| (value, start.elapsed().as_secs_f64()))
    }

    /// Steps that ran beside each other since the previous ones, each with its own time.
    fn beside<const N: usize>(&mut self, steps: [(&'static str, f64); N]) {
        self.steps.extend(steps);
        self.last = std::time::Instant::now();
    }

    fn timings(&self) -> impl Iterator<Item = (String, f64)> + '_ {
        let total = (self.last - self.start).as_secs_f64();
        self.steps
            .iter()
            .map(|&(name, seconds)| (format!("output/{name}"), seconds))
            .chain([("output".to_string(), total)])
    }
}

fn write_manifest(manifest: &Manifest, dir: &Path) -> Result<(), Failure> {
    let path = dir.join("manifest.json");
    let json =
        serde_json::to_string_pretty(manifest).map_err(|e| io_failure("manifest", &path, e))?;
    std::fs::write(&path, json + "\n").map_err(|e| io_failure("manifest", &path, e))
}

fn write_rejects(
    rejects: &[Rejects],
    lines: &dyn Fn(Wave, usize) -> Option<u32>,
    dir: &Path,
) -> Result<(), Failure> {
    let path = dir.join("private").join("rejects.parquet");
    std::fs::create_dir_all(dir.join("private")).map_err(|e| io_failure("folder", dir, e))?;
    let frame =
        parquet::rejects_frame(rejects, lines).map_err(|e| io_failure("rejects", &path, e))?;
    parquet::write(&frame, &path, Vec::new()).map_err(|e| io_failure("rejects", &path, e))
}

/// `weights.json`: per wave the design weights, the weights used and the calibration record.
fn write_weights(plan: &Plan, designs: &[SurveyDesign], dir: &Path) -> Result<(), Failure> {
    let path = dir.join("weights.json");
    let waves: Vec<_> = designs
        .iter()
        .map(|d| d.weights_report(plan.disclosure.min_n))
        .collect();
    let json = serde_json::to_string_pretty(&serde_json::json!({
        "pipeline": plan.name,
        "waves": waves,
    }))
    .map_err(|e| io_failure("weights", &path, e))?;
    std::fs::write(&path, json + "\n").map_err(|e| io_failure("weights", &path, e))
}

/// The microdata's path in the output folder.
const RESPONDENTS: &str = "private/respondents.parquet";

/// Writes the validated, derived and weighted microdata of all waves, codes as answered;
/// returns its size and SHA-256, if written (some design).
fn write_respondents(
    plan: &Plan,
    designs: &[SurveyDesign],
    dir: &Path,
) -> Result<Option<(u64, String)>, Failure> {
    let path = dir.join(RESPONDENTS);
    let Some((first, more)) = designs.split_first() else {
        return Ok(None);
    };
    let mut frame = first.data.coded.clone();
    for design in more {
        frame
            .vstack_mut(&design.data.coded)
            .map_err(|e| io_failure("respondents", &path, e))?;
    }
    // The weights from the designs as they are, not copied into the frame.
    let mut weights = vec![parquet::Doubles {
        name: parquet::DESIGN_WEIGHT,
        pieces: designs.iter().map(|d| d.design_weights()).collect(),
    }];
    if plan.weighting.is_some() {
        weights.push(parquet::Doubles {
            name: parquet::CALIBRATED_WEIGHT,
            pieces: designs.iter().map(|d| &d.weights[..]).collect(),
        });
    }
    parquet::write_microdata(&frame, &weights, &plan.schema, &path)
        .map(Some)
        .map_err(|e| io_failure("respondents", &path, e))
}

/// The SVG of every figure by stem, drawn in parallel; each written to `dir` as it is drawn
/// when `write` (the charts are asked for, not only the report).
fn draw_svgs(
    figures: &[(String, Figure)],
    dir: &Path,
    write: bool,
) -> Result<HashMap<String, String>, Failure> {
    if write {
        std::fs::create_dir_all(dir).map_err(|e| io_failure("folder", dir, e))?;
    }
    figures
        .par_iter()
        .map(|(stem, figure)| {
            let path = dir.join(format!("{stem}.svg"));
            let svg = figure.svg().map_err(|e| io_failure("chart", &path, e))?;
            if write {
                std::fs::write(&path, &svg).map_err(|e| io_failure("chart", &path, e))?;
            }
            Ok((stem.clone(), svg))
        })
        .collect()
}

/// The PNG of every figure in `charts/`, drawn in parallel (their SVGs are written by
/// [`draw_svgs`]).
fn write_pngs(
    figures: &[(String, Figure)],
    dir: &Path,
    progress: &dyn crate::diag::Progress,
) -> Result<(), Failure> {
    figures.par_iter().try_for_each(|(stem, figure)| {
        let png_path = dir.join(format!("{stem}.png"));
        figure
            .png(&png_path)
            .map_err(|e| io_failure("chart", &png_path, e))?;
        progress.step();
        Ok(())
    })
}
