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
pub mod xlsx;

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::*;
use rayon::prelude::*;

use crate::changes::ChangeRow;
use crate::diag::catalog;
use crate::diag::{Diagnostic, Failure};
use crate::disclosure::{ReleasedRow, ReleasedTable};
use crate::schema::Rejects;
use crate::spec::{IndicatorKind, Plan};
use crate::weight::SurveyDesign;
use manifest::Manifest;

/// What a run hands to the writers.
pub struct Artifacts<'a> {
    pub plan: &'a Plan,
    pub manifest: &'a Manifest,
    pub released: &'a ReleasedTable,
    /// The latest wave against each earlier one; empty with one wave.
    pub changes: &'a [ChangeRow],
    /// With `[weighting]`: the `total` estimates with the design weights, for the report.
    pub before_weighting: &'a ReleasedTable,
    pub rejects: &'a [Rejects],
    /// Line number of a data row of a wave, for the rejects file.
    pub lines: &'a dyn Fn(i32, usize) -> Option<u32>,
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
    lines: &dyn Fn(i32, usize) -> Option<u32>,
    out: &folder::Claim,
) -> Result<(), Failure> {
    out.write(|dir| {
        write_rejects(rejects, lines, dir)?;
        write_manifest(manifest, dir)
    })
}

fn write_all(artifacts: &Artifacts, dir: &Path) -> Result<(), Failure> {
    let plan = artifacts.plan;
    let estimates_path = dir.join("estimates.parquet");
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
    let mut estimates = parquet::estimates_frame(&plan.name, artifacts.released)
        .map_err(|e| io_failure("estimates", &estimates_path, e))?;
    parquet::write(&mut estimates, &estimates_path, metadata.clone())
        .map_err(|e| io_failure("estimates", &estimates_path, e))?;

    if waves(plan) > 1 {
        let path = dir.join("changes.parquet");
        let mut changes = parquet::changes_frame(&plan.name, artifacts.changes)
            .map_err(|e| io_failure("changes", &path, e))?;
        parquet::write(&mut changes, &path, metadata)
            .map_err(|e| io_failure("changes", &path, e))?;
    }
    let path = dir.join("tabellenboek.xlsx");
    xlsx::tabellenboek(&tabellenboek(plan, artifacts.released), &path)
        .map_err(|e| io_failure("table book", &path, e))?;
    write_rejects(artifacts.rejects, artifacts.lines, dir)?;
    write_respondents(plan, artifacts.designs, dir)?;
    write_weights(plan, artifacts.designs, dir)?;
    let figures = figures(plan, artifacts.released);
    let charts_dir = dir.join("charts");
    let svgs = if plan.output.charts || plan.output.report {
        draw_svgs(&figures, &charts_dir)?
    } else {
        HashMap::new()
    };
    if plan.output.charts {
        artifacts.progress.steps("charts", figures.len() as u64);
        write_charts(&figures, &svgs, &charts_dir, artifacts.progress)?;
    }
    if plan.output.report {
        let html = report::render(&report_of(plan, artifacts, &svgs));
        let path = dir.join("report.html");
        std::fs::write(&path, html).map_err(|e| io_failure("report", &path, e))?;
    }
    write_manifest(artifacts.manifest, dir)
}

fn write_manifest(manifest: &Manifest, dir: &Path) -> Result<(), Failure> {
    let path = dir.join("manifest.json");
    let json =
        serde_json::to_string_pretty(manifest).map_err(|e| io_failure("manifest", &path, e))?;
    std::fs::write(&path, json + "\n").map_err(|e| io_failure("manifest", &path, e))
}

fn write_rejects(
    rejects: &[Rejects],
    lines: &dyn Fn(i32, usize) -> Option<u32>,
    dir: &Path,
) -> Result<(), Failure> {
    let path = dir.join("private").join("rejects.parquet");
    std::fs::create_dir_all(dir.join("private")).map_err(|e| io_failure("folder", dir, e))?;
    let mut frame =
        parquet::rejects_frame(rejects, lines).map_err(|e| io_failure("rejects", &path, e))?;
    parquet::write(&mut frame, &path, Vec::new()).map_err(|e| io_failure("rejects", &path, e))
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

/// Validated, derived and weighted microdata of all waves, codes as answered.
fn write_respondents(plan: &Plan, designs: &[SurveyDesign], dir: &Path) -> Result<(), Failure> {
    let path = dir.join("private").join("respondents.parquet");
    let mut combined: Option<DataFrame> = None;
    for design in designs {
        let mut frame = design.data.coded.clone();
        frame
            .with_column(Column::new(
                parquet::DESIGN_WEIGHT.into(),
                design.design_weights.clone(),
            ))
            .map_err(|e| io_failure("respondents", &path, e))?;
        if plan.weighting.is_some() {
            frame
                .with_column(Column::new(
                    parquet::CALIBRATED_WEIGHT.into(),
                    design.weights.clone(),
                ))
                .map_err(|e| io_failure("respondents", &path, e))?;
        }
        combined = Some(match combined {
            None => frame,
            Some(mut all) => {
                all.vstack_mut(&frame)
                    .map_err(|e| io_failure("respondents", &path, e))?;
                all
            }
        });
    }
    let Some(mut frame) = combined else {
        return Ok(());
    };
    for column in parquet::label_columns(&frame, &plan.schema)
        .map_err(|e| io_failure("respondents", &path, e))?
    {
        frame
            .with_column(column)
            .map_err(|e| io_failure("respondents", &path, e))?;
    }
    parquet::write(
        &mut frame,
        &path,
        vec![("peiling:labels".into(), parquet::labels_json(&plan.schema))],
    )
    .map_err(|e| io_failure("respondents", &path, e))
}

/// The rows of one indicator × segmentation in the latest wave.
fn latest<'a>(
    table: &'a ReleasedTable,
    indicator: &str,
    segmentation: &str,
    wave: i32,
) -> Vec<&'a ReleasedRow> {
    table
        .rows
        .iter()
        .filter(|r| r.indicator == indicator && r.segmentation == segmentation && r.wave == wave)
        .collect()
}

/// The report's weighting section of one wave, if it was calibrated.
fn weighting_section(
    plan: &Plan,
    artifacts: &Artifacts,
    design: &SurveyDesign,
) -> Option<report::WeightingSection> {
    design.calibration.as_ref()?;
    let weights = design.weights_report(plan.disclosure.min_n);
    let calibration = weights.calibration.as_ref()?;
    let dutch = |v: f64| format!("{v:.2}").replace('.', ",");
    let lines = vec![
        (
            "methode".to_string(),
            calibration.method.as_str().to_string(),
        ),
        ("marges".to_string(), calibration.margins_file.clone()),
        ("iteraties".to_string(), calibration.iterations.to_string()),
        (
            "grootste afwijking van een marge".to_string(),
            format!("{:.1e}", calibration.max_residual),
        ),
        (
            "Kish-designeffect (1 + CV²)".to_string(),
            format!(
                "{} (vóór weging {})",
                dutch(weights.weights.kish_deff),
                dutch(weights.design_weights.kish_deff)
            ),
        ),
        (
            "effectieve n".to_string(),
            format!(
                "{:.0} van {}",
                weights.weights.effective_n, weights.weights.rows
            ),
        ),
        (
            "gewichten min – max (max/min)".to_string(),
            format!(
                "{} – {} ({})",
                dutch(weights.weights.min),
                dutch(weights.weights.max),
                dutch(weights.weights.ratio)
            ),
        ),
        (
            "getrimd (laag, hoog)".to_string(),
            format!("{}, {}", calibration.trimmed_low, calibration.trimmed_high),
        ),
    ];
    let mut lines = lines;
    for uncovered in &calibration.uncovered {
        lines.push((
            format!("buiten de marge {}", uncovered.variable),
            format!(
                "{} (in geen categorie; hun gewicht wordt voor deze variabele niet aangepast)",
                uncovered.rows.map_or(
                    format!("minder dan {} respondenten", plan.disclosure.min_n),
                    |r| format!("{r} respondenten")
                )
            ),
        ));
    }
    let total = |table: &ReleasedTable, id: &str| {
        table
            .rows
            .iter()
            .find(|r| r.wave == design.wave && r.indicator == id && r.segmentation == "total")
            .and_then(|r| r.estimate)
    };
    let headline = plan
        .indicators
        .iter()
        .map(|indicator| report::HeadlineRow {
            label: indicator.label.clone(),
            before: total(artifacts.before_weighting, &indicator.id),
            after: total(artifacts.released, &indicator.id),
            percent: indicator.kind == IndicatorKind::Proportion,
        })
        .collect();
    Some(report::WeightingSection {
        wave: design.wave,
        lines,
        margins: calibration
            .margins
            .iter()
            .map(|m| report::MarginRow {
                variable: m.variable.clone(),
                category: m.category.clone(),
                target: m.target,
                before: m.before,
                after: m.after,
            })
            .collect(),
        headline,
    })
}

/// The number of distinct waves of a run.
fn waves(plan: &Plan) -> usize {
    plan.inputs
        .iter()
        .map(|i| i.wave)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

/// Explanations of the flags, for the report and the table book.
fn flag_notes(plan: &Plan) -> Vec<String> {
    let rules = &plan.disclosure;
    vec![
        "Schattingen met design-gebaseerde standaardfouten (Taylor-linearisatie), gelijk aan R survey.".to_string(),
        format!(
            "onderdrukt: minder dan {} waarnemingen (n_below_min) of minder dan {} ja- of nee-antwoorden (cell_below_min).",
            rules.min_n, rules.min_cell
        ),
        format!(
            "{}: onderdrukt omdat de cel anders uit het totaal en de andere cellen terug te rekenen is.",
            crate::disclosure::COMPLEMENTARY
        ),
        format!("unreliable: relatieve standaardfout boven {}.", rules.max_rse),
        format!(
            "low_effective_n: effectieve steekproefomvang onder {} (NCHS-norm voor percentages: \
             p(1 − p)/SE², anders n gedeeld door het design-effect).",
            rules.min_effective_n
        ),
        format!("low_df: minder dan {} vrijheidsgraden in het design.", rules.min_df),
        "no_interval: geen betrouwbaarheidsinterval te berekenen (bijv. df 0).".to_string(),
        "ci_korn_graubard: bij een percentage van 0 of 100 het Korn-Graubard-interval (NCHS 2017), \
         met de vrijheidsgraden van het design.".to_string(),
        format!(
            "{}: geen respondenten in deze groep (n = 0); er is niets te schatten of te beschermen.",
            crate::disclosure::EMPTY_DOMAIN
        ),
        "Verandering: verschil tussen twee metingen als onafhankelijke steekproeven, met t-toets (Welch-Satterthwaite-vrijheidsgraden); significant bij p < 0,05.".to_string(),
    ]
}

fn tabellenboek<'a>(plan: &Plan, table: &'a ReleasedTable) -> xlsx::Tabellenboek<'a> {
    xlsx::Tabellenboek {
        title: format!("peiling — {}", plan.name),
        generated_by: format!("peiling {}", env!("CARGO_PKG_VERSION")),
        indicators: plan
            .indicators
            .iter()
            .map(|i| xlsx::IndicatorInfo {
                id: i.id.clone(),
                label: i.label.clone(),
                percent: i.kind == IndicatorKind::Proportion,
            })
            .collect(),
        segmentations: plan.segmentations.iter().map(|s| s.name()).collect(),
        rows: &table.rows,
        notes: flag_notes(plan),
    }
}

/// The trend of an indicator's national value across the waves; `None` with one wave.
fn trend_chart(
    plan: &Plan,
    table: &ReleasedTable,
    indicator: &crate::spec::IndicatorPlan,
) -> Option<chart::TrendChart> {
    if waves(plan) < 2 {
        return None;
    }
    let points = table
        .rows
        .iter()
        .filter(|r| r.indicator == indicator.id && r.segmentation == "total")
        .map(|r| chart::TrendPoint {
            wave: r.wave,
            estimate: r.estimate,
            ci_lower: r.ci_lower,
            ci_upper: r.ci_upper,
            suppressed: r.suppressed,
        })
        .collect();
    Some(chart::TrendChart {
        title: indicator.label.clone(),
        subtitle: format!(
            "{}, totaal per meting (95%-betrouwbaarheidsinterval)",
            indicator.id
        ),
        percent: indicator.kind == IndicatorKind::Proportion,
        series: vec![chart::TrendSeries {
            label: "Totaal".to_string(),
            points,
        }],
    })
}

fn latest_wave(plan: &Plan) -> i32 {
    plan.inputs.iter().map(|i| i.wave).max().unwrap_or_default()
}

/// The bar chart of one indicator × segmentation in the latest wave, `None` for `total`.
fn bar_chart(
    plan: &Plan,
    table: &ReleasedTable,
    indicator: &crate::spec::IndicatorPlan,
    segmentation: &str,
) -> Option<chart::BarChart> {
    if segmentation == "total" {
        return None;
    }
    let wave = latest_wave(plan);
    let reference = latest(table, &indicator.id, "total", wave)
        .first()
        .and_then(|r| r.estimate);
    let bars = latest(table, &indicator.id, segmentation, wave)
        .into_iter()
        .map(|r| chart::Bar {
            label: r.segment_label.clone(),
            estimate: r.estimate,
            ci_lower: r.ci_lower,
            ci_upper: r.ci_upper,
            suppressed: r.suppressed,
        })
        .collect();
    Some(chart::BarChart {
        title: indicator.label.clone(),
        subtitle: format!(
            "{} naar {segmentation}, {wave} (95%-betrouwbaarheidsinterval)",
            indicator.id
        ),
        percent: indicator.kind == IndicatorKind::Proportion,
        bars,
        reference,
    })
}

/// A chart of the run; drawn once, for `charts/` and for the report.
enum Figure {
    Bars(chart::BarChart),
    Trend(chart::TrendChart),
}

impl Figure {
    fn svg(&self) -> Result<String, chart::ChartError> {
        match self {
            Figure::Bars(c) => chart::bar_chart_svg(c),
            Figure::Trend(c) => chart::trend_chart_svg(c),
        }
    }

    fn png(&self, path: &Path) -> Result<(), chart::ChartError> {
        match self {
            Figure::Bars(c) => chart::bar_chart_png(c, path),
            Figure::Trend(c) => chart::trend_chart_png(c, path),
        }
    }
}

/// The file stem of an indicator's chart: `<indicator>__trend` or
/// `<indicator>__<segmentation>` (`*` as `_x_`).
fn chart_stem(indicator: &str, segmentation: Option<&str>) -> String {
    match segmentation {
        None => format!("{indicator}__trend"),
        Some(name) => format!("{indicator}__{}", name.replace('*', "_x_")),
    }
}

/// Every chart of the run by its file stem: per indicator the trend (with several waves) and a
/// bar chart per segmentation but `total`.
fn figures(plan: &Plan, table: &ReleasedTable) -> Vec<(String, Figure)> {
    let mut figures = Vec::new();
    for indicator in &plan.indicators {
        if let Some(trend) = trend_chart(plan, table, indicator) {
            figures.push((chart_stem(&indicator.id, None), Figure::Trend(trend)));
        }
        for segmentation in &plan.segmentations {
            let name = segmentation.name();
            if let Some(bars) = bar_chart(plan, table, indicator, &name) {
                figures.push((chart_stem(&indicator.id, Some(&name)), Figure::Bars(bars)));
            }
        }
    }
    figures
}

/// The SVG of every figure by stem, drawn in parallel.
fn draw_svgs(figures: &[(String, Figure)], dir: &Path) -> Result<HashMap<String, String>, Failure> {
    figures
        .par_iter()
        .map(|(stem, figure)| {
            let svg = figure
                .svg()
                .map_err(|e| io_failure("chart", &dir.join(format!("{stem}.svg")), e))?;
            Ok((stem.clone(), svg))
        })
        .collect()
}

/// `charts/`: every figure as SVG and PNG; the PNGs are drawn in parallel.
fn write_charts(
    figures: &[(String, Figure)],
    svgs: &HashMap<String, String>,
    dir: &Path,
    progress: &dyn crate::diag::Progress,
) -> Result<(), Failure> {
    std::fs::create_dir_all(dir).map_err(|e| io_failure("folder", dir, e))?;
    figures.par_iter().try_for_each(|(stem, figure)| {
        let svg_path = dir.join(format!("{stem}.svg"));
        std::fs::write(&svg_path, &svgs[stem]).map_err(|e| io_failure("chart", &svg_path, e))?;
        let png_path = dir.join(format!("{stem}.png"));
        figure
            .png(&png_path)
            .map_err(|e| io_failure("chart", &png_path, e))?;
        progress.step();
        Ok(())
    })
}

fn report_of(plan: &Plan, artifacts: &Artifacts, svgs: &HashMap<String, String>) -> report::Report {
    let manifest = artifacts.manifest;
    let wave = latest_wave(plan);
    let mut summary = vec![
        ("pijplijn".to_string(), plan.name.clone()),
        ("rijen gelezen".to_string(), manifest.rows_read.to_string()),
        (
            "rijen geaccepteerd".to_string(),
            manifest.rows_accepted.to_string(),
        ),
        (
            "rijen afgewezen".to_string(),
            manifest.rows_rejected.to_string(),
        ),
        (
            "metingen".to_string(),
            plan.inputs
                .iter()
                .map(|i| i.wave.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("indicatoren".to_string(), manifest.indicators.to_string()),
        (
            "schattingen (onderdrukt)".to_string(),
            format!("{} ({})", manifest.estimates, manifest.suppressed),
        ),
    ];
    for design in &manifest.designs {
        summary.push((format!("design {}", design.wave), design.design.clone()));
    }
    let mut validation = Vec::new();
    for rejects in artifacts.rejects {
        let mut by_rule: std::collections::BTreeMap<(&str, &str), (u64, String)> =
            std::collections::BTreeMap::new();
        for problem in &rejects.problems {
            let entry = by_rule
                .entry((problem.rule.as_str(), problem.column.as_str()))
                .or_insert((0, String::new()));
            entry.0 += 1;
            if entry.1.is_empty() {
                let place = (artifacts.lines)(rejects.wave, problem.row)
                    .map_or(format!("rij {}", problem.row + 1), |l| format!("regel {l}"));
                // Where only: messages quote raw values, and a key is a respondent id.
                entry.1 = format!("{} {place}", rejects.wave);
            }
        }
        for ((rule, column), (count, example)) in by_rule {
            validation.push(report::RuleCount {
                rule: rule.to_string(),
                column: column.to_string(),
                count,
                example,
            });
        }
    }
    let weighting = artifacts
        .designs
        .iter()
        .filter_map(|design| weighting_section(plan, artifacts, design))
        .collect();
    let indicators = plan
        .indicators
        .iter()
        .map(|indicator| report::IndicatorSection {
            id: indicator.id.clone(),
            label: indicator.label.clone(),
            kind: indicator.kind.as_str().to_string(),
            wave,
            trend_svg: svgs.get(&chart_stem(&indicator.id, None)).cloned(),
            changes: artifacts
                .changes
                .iter()
                .filter(|c| c.indicator == indicator.id && c.segmentation == "total")
                .map(|c| report::ChangeLine {
                    base_wave: c.base_wave,
                    wave: c.wave,
                    difference: c.difference,
                    ci_lower: c.ci_lower,
                    ci_upper: c.ci_upper,
                    p_value: c.p_value,
                    significant: c.significant,
                    flag: c.flag.clone(),
                    percent: indicator.kind == IndicatorKind::Proportion,
                })
                .collect(),
            tables: plan
                .segmentations
                .iter()
                .map(|segmentation| {
                    let name = segmentation.name();
                    let chart_svg = svgs.get(&chart_stem(&indicator.id, Some(&name))).cloned();
                    report::SegmentTable {
                        segmentation: name.clone(),
                        rows: latest(artifacts.released, &indicator.id, &name, wave)
                            .into_iter()
                            .map(|r| report::TableRow {
                                segment_label: r.segment_label.clone(),
                                estimate: r.estimate,
                                ci_lower: r.ci_lower,
                                ci_upper: r.ci_upper,
                                n: r.n,
                                flag: r.flag.clone(),
                                percent: indicator.kind == IndicatorKind::Proportion,
                            })
                            .collect(),
                        chart_svg,
                    }
                })
                .collect(),
        })
        .collect();
    report::Report {
        title: format!("peiling — {}", plan.name),
        generated_by: format!("peiling {}", env!("CARGO_PKG_VERSION")),
        summary,
        validation,
        weighting,
        indicators,
        notes: flag_notes(plan),
    }
}
