//! The view models: what the table book, the charts and the report show, built from the plan,
//! the released table and the run's records. The writer in `mod.rs` turns them into files.

use std::collections::HashMap;
use std::path::Path;

use super::{chart, report, xlsx, Artifacts};
use crate::disclosure::{ReleasedRow, ReleasedTable};
use crate::spec::Wave;
use crate::spec::{IndicatorKind, Plan};
use crate::weight::SurveyDesign;

/// The rows of one indicator × segmentation in the latest wave.
pub(super) fn latest<'a>(
    table: &'a ReleasedTable,
    indicator: &str,
    segmentation: &str,
    wave: Wave,
) -> Vec<&'a ReleasedRow> {
    table
        .rows
        .iter()
        .filter(|r| r.indicator == indicator && r.segmentation == segmentation && r.wave == wave)
        .collect()
}

/// The report's weighting section of one wave, if it was calibrated.
pub(super) fn weighting_section(
    plan: &Plan,
    artifacts: &Artifacts,
    design: &SurveyDesign,
) -> Option<report::WeightingSection> {
    design.calibration.as_ref()?;
    let weights = design.weights_report(plan.disclosure.min_n);
    let calibration = weights.calibration.as_ref()?;
    let dutch = |v: f64| super::format::decimals(v, 2);
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
pub(super) fn waves(plan: &Plan) -> usize {
    plan.inputs
        .iter()
        .map(|i| i.wave)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

/// Explanations of the flags, for the report and the table book.
pub(super) fn flag_notes(plan: &Plan) -> Vec<String> {
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

pub(super) fn tabellenboek<'a>(plan: &Plan, table: &'a ReleasedTable) -> xlsx::Tabellenboek<'a> {
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
pub(super) fn trend_chart(
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

pub(super) fn latest_wave(plan: &Plan) -> Wave {
    plan.inputs.iter().map(|i| i.wave).max().unwrap_or_default()
}

/// The bar chart of one indicator × segmentation in the latest wave, `None` for `total`.
pub(super) fn bar_chart(
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
pub(super) enum Figure {
    Bars(chart::BarChart),
    Trend(chart::TrendChart),
}

impl Figure {
    pub(super) fn svg(&self) -> Result<String, chart::ChartError> {
        match self {
            Figure::Bars(c) => chart::bar_chart_svg(c),
            Figure::Trend(c) => chart::trend_chart_svg(c),
        }
    }

    pub(super) fn png(&self, path: &Path) -> Result<(), chart::ChartError> {
        match self {
            Figure::Bars(c) => chart::bar_chart_png(c, path),
            Figure::Trend(c) => chart::trend_chart_png(c, path),
        }
    }
}

/// The file stem of an indicator's chart: `<indicator>__trend` or
/// `<indicator>__<segmentation>` (`*` as `_x_`).
pub(super) fn chart_stem(indicator: &str, segmentation: Option<&str>) -> String {
    match segmentation {
        None => format!("{indicator}__trend"),
        Some(name) => format!("{indicator}__{}", name.replace('*', "_x_")),
    }
}

/// Every chart of the run by its file stem: per indicator the trend (with several waves) and a
/// bar chart per segmentation but `total`.
pub(super) fn figures(plan: &Plan, table: &ReleasedTable) -> Vec<(String, Figure)> {
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

pub(super) fn report_of(
    plan: &Plan,
    artifacts: &Artifacts,
    svgs: &HashMap<String, String>,
) -> report::Report {
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
