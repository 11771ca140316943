//! The view models: what the table book, the charts and the report show, built from the plan,
//! the released table and the run's records. The writer in `mod.rs` turns them into files.

use std::collections::HashMap;
use std::path::Path;

use super::{chart, report, xlsx, Artifacts};
use crate::disclosure::{ReleasedModelRow, ReleasedRow, ReleasedTable};
use crate::estimate::model::INTERCEPT;
use crate::spec::Wave;
use crate::spec::{Code, CodeSpec, IndicatorKind, ModelFamily, ModelPlan, Plan};
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
    let mut notes = vec![
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
    ];
    if !plan.models.is_empty() {
        notes.extend(model_flag_notes().map(|(_, text)| text.to_string()));
    }
    notes
}

/// The flags only model coefficients carry, explained.
fn model_flag_notes() -> [(&'static str, &'static str); 2] {
    [
        (
            "empty_level",
            "empty_level: niemand in het model (in dit segment) heeft dit niveau; de coëfficiënt \
             is niet te schatten (R geeft NA).",
        ),
        (
            "not_fitted",
            "not_fitted: het model kon in dit segment niet geschat worden (bijvoorbeeld omdat een \
             term er maar één niveau heeft); de run meldt waarom (E210).",
        ),
    ]
}

pub(super) fn tabellenboek<'a>(
    plan: &Plan,
    table: &'a ReleasedTable,
    models: &'a [ReleasedModelRow],
) -> xlsx::Tabellenboek<'a> {
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
        models: plan
            .models
            .iter()
            .map(|m| xlsx::ModelInfo {
                id: m.id.clone(),
                label: m.label.clone(),
                family: family_words(m.family).to_string(),
            })
            .collect(),
        model_rows: models,
        notes: flag_notes(plan),
    }
}

/// A model's family in words.
pub(super) fn family_words(family: ModelFamily) -> &'static str {
    match family {
        ModelFamily::Linear => "lineaire regressie",
        ModelFamily::Logistic => "logistische regressie",
        ModelFamily::Poisson => "poissonregressie",
    }
}

/// What `exp` of a coefficient is, for logistic and poisson models.
pub(super) fn ratio_name(family: ModelFamily) -> Option<&'static str> {
    match family {
        ModelFamily::Linear => None,
        ModelFamily::Logistic => Some("odds ratio"),
        ModelFamily::Poisson => Some("rate ratio"),
    }
}

/// Whether a row carries a flag.
fn flagged(row: &ReleasedModelRow, flag: &str) -> bool {
    row.flag
        .as_deref()
        .is_some_and(|f| f.split(';').any(|c| c == flag))
}

/// The rows of one model in one wave, in their order (segment, then R's order of coefficients).
pub(super) fn model_rows<'a>(
    models: &'a [ReleasedModelRow],
    id: &str,
    wave: Wave,
) -> Vec<&'a ReleasedModelRow> {
    models
        .iter()
        .filter(|r| r.model == id && r.wave == wave)
        .collect()
}

/// How the report and the forest plot name a term: the schema's label of its column (the
/// columns' labels joined by " × " for an interaction), else the term as written.
pub(super) fn term_label(plan: &Plan, term: &str) -> String {
    term.split(':')
        .map(|column| {
            plan.schema
                .field(column)
                .and_then(|f| f.label.clone())
                .unwrap_or_else(|| column.to_string())
        })
        .collect::<Vec<_>>()
        .join(" × ")
}

/// The reference level of a categorical term, by its label, where it is known for sure: the one
/// `reference` names, or else (the reference being the lowest code with respondents) the only
/// category of the schema that no coefficient of the term stands for.
fn reference_label(
    plan: &Plan,
    model: &ModelPlan,
    column: &str,
    levels: &[&str],
) -> Option<String> {
    let field = plan.schema.field(column);
    if let Some((_, code)) = model.reference.iter().find(|(c, _)| c == column) {
        let (code, text) = match code {
            CodeSpec::Int(v) => (Code::Int(*v), v.to_string()),
            CodeSpec::Text(v) => (Code::Str(v.clone()), v.clone()),
        };
        return Some(
            field
                .and_then(|f| f.label_of(&code))
                .map_or(text, str::to_string),
        );
    }
    let field = field.filter(|f| !f.categories.is_empty())?;
    let mut candidates = field
        .categories
        .iter()
        .chain(&field.missing)
        .filter(|(code, _)| !levels.contains(&code.to_string().as_str()));
    let (_, label) = candidates.next()?;
    candidates.next().is_none().then(|| label.clone())
}

/// What a term of a model is.
enum TermKind {
    Interaction,
    Number,
    /// With the label of the reference level where it is known.
    Categories(Option<String>),
}

/// A term of a model: as written, its label, and what it is.
struct Term {
    term: String,
    label: String,
    kind: TermKind,
}

/// The terms of a model; `rows` are the model's rows of every wave, `wave` the wave whose
/// reference levels are named.
fn terms(plan: &Plan, model: &ModelPlan, rows: &[ReleasedModelRow], wave: Wave) -> Vec<Term> {
    model
        .terms
        .iter()
        .map(|columns| {
            let term = columns.join(":");
            let of_term = || {
                rows.iter()
                    .filter(|r| r.model == model.id && r.term == term)
            };
            let categorical = plan
                .schema
                .field(&term)
                .is_some_and(|f| !f.categories.is_empty() || !f.value_labels.is_empty())
                || of_term().any(|r| r.level.is_some());
            let kind = if columns.len() > 1 {
                TermKind::Interaction
            } else if categorical {
                let levels: Vec<&str> = of_term()
                    .filter(|r| r.wave == wave)
                    .filter_map(|r| r.level.as_deref())
                    .collect();
                TermKind::Categories(reference_label(plan, model, &term, &levels))
            } else {
                TermKind::Number
            };
            Term {
                label: term_label(plan, &term),
                term,
                kind,
            }
        })
        .collect()
}

/// The terms of a model in words, for the report.
fn term_lines(terms: &[Term]) -> Vec<(String, String)> {
    terms
        .iter()
        .map(|t| {
            let prefix = if t.label == t.term {
                String::new()
            } else {
                format!("{}: ", t.label)
            };
            let text = match &t.kind {
                TermKind::Interaction => {
                    format!("{prefix}interactie, een coëfficiënt per combinatie van niveaus")
                }
                TermKind::Number => {
                    format!("{prefix}een getal; de coëfficiënt geldt per eenheid meer")
                }
                TermKind::Categories(reference) => {
                    let reference = reference
                        .as_ref()
                        .map_or("de laagste code".to_string(), |label| format!("«{label}»"));
                    format!("{prefix}categorieën, elk vergeleken met de referentie {reference}")
                }
            };
            (t.term.clone(), text)
        })
        .collect()
}

/// How the forest plot names a term: its label, with the reference level of categories
/// ("Werksituatie (t.o.v. gepensioneerd)") or "(per eenheid)" for a number.
fn forest_label(term: &Term) -> String {
    match &term.kind {
        TermKind::Categories(Some(reference)) => format!("{} (t.o.v. {reference})", term.label),
        TermKind::Number => format!("{} (per eenheid)", term.label),
        _ => term.label.clone(),
    }
}

/// The forest plot of one model in one wave: every coefficient but the intercept.
pub(super) fn forest_chart(
    id: &str,
    label: &str,
    family: ModelFamily,
    wave: Wave,
    rows: &[&ReleasedModelRow],
    term_label: &dyn Fn(&str) -> String,
) -> chart::ForestChart {
    let ratio = ratio_name(family);
    let plural = match ratio {
        Some(name) => format!("{name}'s"),
        None => "coëfficiënten".to_string(),
    };
    chart::ForestChart {
        title: label.to_string(),
        subtitle: format!(
            "{id}, {wave}: {plural} met 95%-betrouwbaarheidsinterval ({})",
            family_words(family)
        ),
        ratio: ratio.is_some(),
        measure: ratio.unwrap_or("coëfficiënt").to_string(),
        rows: rows
            .iter()
            .filter(|r| r.term != INTERCEPT)
            .map(|r| chart::ForestRow {
                term: term_label(&r.term),
                level: r.level_label.clone().or_else(|| r.level.clone()),
                estimate: r.estimate,
                ci_lower: r.ci_lower,
                ci_upper: r.ci_upper,
                suppressed: r.suppressed,
            })
            .collect(),
    }
}

/// The file stem of a model's forest plot.
pub(super) fn model_stem(id: &str) -> String {
    format!("model-{id}")
}

/// A model's section of the report: what it models, its coefficients of the latest wave, and
/// (without `by`) its forest plot.
pub(super) fn model_section(
    plan: &Plan,
    model: &ModelPlan,
    models: &[ReleasedModelRow],
    svgs: &mut HashMap<String, String>,
) -> report::ModelSection {
    let wave = latest_wave(plan);
    let rows = model_rows(models, &model.id, wave);
    let mut lines = vec![
        ("uitkomst".to_string(), model.outcome_text.clone()),
        (
            "populatie".to_string(),
            model
                .population_text
                .clone()
                .unwrap_or_else(|| "alle respondenten".to_string()),
        ),
    ];
    match &model.by {
        Some(by) => lines.push(("apart geschat per".to_string(), by.variables.join(" × "))),
        None => {
            let n = rows
                .iter()
                .find_map(|r| r.n)
                .map_or(super::format::DASH.to_string(), |n| {
                    format!("{} respondenten", super::format::thousands(&n.to_string()))
                });
            lines.push(("n in het model".to_string(), n));
        }
    }
    let ratio = ratio_name(model.family);
    let mut notes = vec![match (model.family, ratio) {
        (ModelFamily::Logistic, Some(name)) => format!(
            "Coëfficiënt: het verschil in log-odds met de referentie. De {name} is \
             exp(coëfficiënt): boven 1 een grotere, onder 1 een kleinere kans op de uitkomst dan \
             in de referentiecategorie (bij een getal: per eenheid meer), als de andere termen \
             gelijk zijn; bij het intercept de odds in de referentiegroep."
        ),
        (_, Some(name)) => format!(
            "Coëfficiënt: het verschil in de logaritme van de uitkomst met de referentie. De \
             {name} is exp(coëfficiënt): boven 1 een hogere, onder 1 een lagere uitkomst dan in \
             de referentiecategorie (bij een getal: per eenheid meer), als de andere termen \
             gelijk zijn; bij het intercept de uitkomst in de referentiegroep."
        ),
        _ => "Coëfficiënt: het verschil in de uitkomst met de referentiecategorie (bij een getal: \
              per eenheid meer), als de andere termen gelijk zijn; bij het intercept de uitkomst \
              in de referentiegroep."
            .to_string(),
    }];
    notes.push(
        "95%-BI: betrouwbaarheidsinterval met de vrijheidsgraden van het design; p: tweezijdige \
         t-toets van de coëfficiënt tegen 0 (R svyglm)."
            .to_string(),
    );
    let forest_svg = if model.by.is_none() {
        svgs.remove(&model_stem(&model.id))
    } else {
        None
    };
    if rows.iter().any(|r| r.suppressed) {
        let mut note = "—: onderdrukt, te weinig respondenten in het model of op dit niveau \
                        (zie de toelichting)."
            .to_string();
        if forest_svg.is_some() {
            note.push_str(" Onderdrukte coëfficiënten staan niet in de figuur.");
        }
        notes.push(note);
    }
    for (flag, text) in model_flag_notes() {
        if rows.iter().any(|r| flagged(r, flag)) {
            notes.push(text.to_string());
        }
    }
    report::ModelSection {
        id: model.id.clone(),
        label: model.label.clone(),
        family: family_words(model.family).to_string(),
        wave,
        lines,
        terms: term_lines(&terms(plan, model, models, wave)),
        ratio: ratio.map(str::to_string),
        segmented: model.by.is_some(),
        rows: rows
            .iter()
            .map(|r| report::CoefficientRow {
                segment_label: r.segment_label.clone(),
                term: r.term.clone(),
                level_label: r.level_label.clone().or_else(|| r.level.clone()),
                estimate: r.estimate,
                ci_lower: r.ci_lower,
                ci_upper: r.ci_upper,
                p_value: r.p_value,
                n: r.n,
                suppressed: r.suppressed,
                flag: r.flag.clone(),
            })
            .collect(),
        forest_svg,
        notes,
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
    Forest(chart::ForestChart),
}

impl Figure {
    pub(super) fn svg(&self) -> Result<String, chart::ChartError> {
        match self {
            Figure::Bars(c) => chart::bar_chart_svg(c),
            Figure::Trend(c) => chart::trend_chart_svg(c),
            Figure::Forest(c) => chart::forest_chart_svg(c),
        }
    }

    pub(super) fn png(&self, path: &Path) -> Result<(), chart::ChartError> {
        match self {
            Figure::Bars(c) => chart::bar_chart_png(c, path),
            Figure::Trend(c) => chart::trend_chart_png(c, path),
            Figure::Forest(c) => chart::forest_chart_png(c, path),
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
/// bar chart per segmentation but `total`; per model without `by` the forest plot of the latest
/// wave (`model-<id>`).
pub(super) fn figures(
    plan: &Plan,
    table: &ReleasedTable,
    models: &[ReleasedModelRow],
) -> Vec<(String, Figure)> {
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
    let wave = latest_wave(plan);
    for model in plan.models.iter().filter(|m| m.by.is_none()) {
        let rows = model_rows(models, &model.id, wave);
        let labels: HashMap<String, String> = terms(plan, model, models, wave)
            .iter()
            .map(|t| (t.term.clone(), forest_label(t)))
            .collect();
        let forest = forest_chart(
            &model.id,
            &model.label,
            model.family,
            wave,
            &rows,
            &|term| {
                labels
                    .get(term)
                    .cloned()
                    .unwrap_or_else(|| term_label(plan, term))
            },
        );
        figures.push((model_stem(&model.id), Figure::Forest(forest)));
    }
    figures
}

/// The report's content; the charts' SVG documents are moved out of `svgs` into it.
pub(super) fn report_of(
    plan: &Plan,
    artifacts: &Artifacts,
    svgs: &mut HashMap<String, String>,
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
            trend_svg: svgs.remove(&chart_stem(&indicator.id, None)),
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
                    let chart_svg = svgs.remove(&chart_stem(&indicator.id, Some(&name)));
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
        models: plan
            .models
            .iter()
            .map(|model| model_section(plan, model, artifacts.models, svgs))
            .collect(),
        notes: flag_notes(plan),
    }
}
