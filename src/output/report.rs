//! `report.html`: one self-contained page — inline CSS and inline SVG, no scripts, nothing
//! fetched from the network — with the run summary, the validation summary, a table of
//! contents, per indicator a chart and a table per segmentation, per model its coefficients of
//! the latest wave and (without `by`) a forest plot, followed by notes.
//!
//! All text that comes from specs, schemas or data is HTML-escaped; chart SVGs are inlined from
//! their `<svg` tag on (any XML prologue dropped). Numbers are Dutch (`13,2%`, `1.234`), and
//! the output is deterministic: the same report renders to the same bytes.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::format::{self, DASH};
use crate::estimate::model::INTERCEPT;
use crate::spec::Wave;

/// Everything on the page.
#[derive(Debug, Clone)]
pub struct Report {
    /// Page title, e.g. "peiling — dementiemonitor".
    pub title: String,
    /// e.g. "peiling 0.1.0".
    pub generated_by: String,
    /// Run summary as key/value lines.
    pub summary: Vec<(String, String)>,
    /// Rejected rows per rule.
    pub validation: Vec<RuleCount>,
    /// Calibration per wave; empty without `[weighting]`.
    pub weighting: Vec<WeightingSection>,
    pub indicators: Vec<IndicatorSection>,
    /// The `[[model]]`s, after the indicators.
    pub models: Vec<ModelSection>,
    /// Flag explanations and methods text.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RuleCount {
    pub rule: String,
    pub column: String,
    pub count: u64,
    pub example: String,
}

/// One wave's calibration: key figures, the margins before and after, and how the headline
/// figures move.
#[derive(Debug, Clone)]
pub struct WeightingSection {
    pub wave: Wave,
    pub lines: Vec<(String, String)>,
    pub margins: Vec<MarginRow>,
    pub headline: Vec<HeadlineRow>,
}

#[derive(Debug, Clone)]
pub struct MarginRow {
    pub variable: String,
    pub category: String,
    pub target: f64,
    /// `None` where the category has fewer respondents than `min_n`.
    pub before: Option<f64>,
    pub after: f64,
}

/// An indicator for the whole population with the design weights and calibrated.
#[derive(Debug, Clone)]
pub struct HeadlineRow {
    pub label: String,
    pub before: Option<f64>,
    pub after: Option<f64>,
    pub percent: bool,
}

#[derive(Debug, Clone)]
pub struct IndicatorSection {
    pub id: String,
    pub label: String,
    pub kind: String,
    pub wave: Wave,
    /// With several waves: the trend chart (SVG document) and the change of the national value.
    pub trend_svg: Option<String>,
    pub changes: Vec<ChangeLine>,
    pub tables: Vec<SegmentTable>,
}

/// The national value of the latest wave against an earlier wave.
#[derive(Debug, Clone)]
pub struct ChangeLine {
    pub base_wave: Wave,
    pub wave: Wave,
    /// `None` when suppressed.
    pub difference: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    pub p_value: Option<f64>,
    pub significant: Option<bool>,
    pub flag: Option<String>,
    /// Differences of shares are shown in percentage points.
    pub percent: bool,
}

#[derive(Debug, Clone)]
pub struct SegmentTable {
    pub segmentation: String,
    pub rows: Vec<TableRow>,
    /// The chart as an SVG document, inlined above the table.
    pub chart_svg: Option<String>,
}

/// One segment. A row without an estimate (suppressed) shows "—" for the estimate, the
/// interval and n, so that a suppressed domain never reveals its size.
#[derive(Debug, Clone)]
pub struct TableRow {
    pub segment_label: String,
    pub estimate: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    /// `None` when suppressed.
    pub n: Option<i64>,
    pub flag: Option<String>,
    /// Values are shares (0–1), shown as percentages.
    pub percent: bool,
}

/// One model: what it models, and its coefficients in the latest wave.
#[derive(Debug, Clone)]
pub struct ModelSection {
    pub id: String,
    pub label: String,
    /// The family in words, e.g. "logistische regressie".
    pub family: String,
    pub wave: Wave,
    /// Outcome, population, segments and n as key/value lines.
    pub lines: Vec<(String, String)>,
    /// The terms: as written in the pipeline, and what each is in words.
    pub terms: Vec<(String, String)>,
    /// Logistic and poisson: the name of `exp(coefficient)` ("odds ratio", "rate ratio"), shown
    /// with its interval; `None` for a linear model, whose coefficients show with theirs.
    pub ratio: Option<String>,
    /// With `by`: a segment column, the rows of each segment together.
    pub segmented: bool,
    pub rows: Vec<CoefficientRow>,
    /// Without `by`: the forest plot (SVG document), inlined under the table.
    pub forest_svg: Option<String>,
    /// What the numbers mean, and the flags of the rows.
    pub notes: Vec<String>,
}

/// One coefficient, on the model's scale (log odds, log rates, or the outcome's units).
/// A row without an estimate (suppressed, `empty_level`, `not_fitted`) shows "—" for every
/// number; a suppressed row also for n.
#[derive(Debug, Clone)]
pub struct CoefficientRow {
    pub segment_label: String,
    /// `(Intercept)`, or the term as written (`werk`, `werk:mz_geslacht`).
    pub term: String,
    pub level_label: Option<String>,
    pub estimate: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    pub p_value: Option<f64>,
    /// Respondents in the model (in its segment).
    pub n: Option<i64>,
    pub suppressed: bool,
    pub flag: Option<String>,
}

const STYLE: &str = "\
:root{color-scheme:light}
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;\
max-width:1000px;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.5;background:#fff}
h1{font-size:1.7rem;margin-bottom:.2rem}
h2{font-size:1.3rem;margin-top:2.5rem;border-bottom:1px solid #ccc;padding-bottom:.2rem}
h3{font-size:1.05rem;margin:1.8rem 0 .4rem;color:#333}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em;\
color:#555;background:#f2f2f2;padding:.05rem .3rem;border-radius:3px}
.muted{color:#666}
.meta{color:#666;margin-top:-.3rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.9rem;min-width:50%}
th,td{padding:.3rem .7rem;text-align:left;vertical-align:top}
thead th{border-bottom:2px solid #bbb;font-weight:600}
tbody tr:nth-child(odd){background:#f5f7f9}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.flag{color:#777;font-size:.85rem}
td.nowrap{white-space:nowrap}
ul.notes{color:#555;font-size:.9rem;padding-left:1.2rem}
tr.suppressed td{color:#888}
table.summary th{font-weight:600;padding-right:1.5rem}
figure.chart{margin:.5rem 0}
figure.chart svg{max-width:100%;height:auto;display:block}
nav ol{padding-left:1.4rem}
nav li{margin:.15rem 0}
a{color:#1f5f99}
footer{margin-top:3rem;font-size:.85rem;color:#777;border-top:1px solid #ddd;padding-top:.5rem}
@media print{body{margin:0;max-width:none}figure.chart,table{break-inside:avoid}}";

/// HTML-escapes text for element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole page.
pub fn render(report: &Report) -> String {
    // The inlined charts are most of the page (20 MB for 50 indicators × 342 municipalities):
    // room for them up front, rather than a page grown by doubling, each time on fresh memory.
    let svgs: usize = report
        .indicators
        .iter()
        .flat_map(|i| {
            let tables = i.tables.iter().map(|t| t.chart_svg.as_ref());
            tables.chain([i.trend_svg.as_ref()])
        })
        .chain(report.models.iter().map(|m| m.forest_svg.as_ref()))
        .flatten()
        .map(String::len)
        .sum();
    let mut html = String::with_capacity(svgs + (1 << 20));
    let anchors = anchors(&report.indicators);
    let model_anchors = model_anchors(&report.models);
    head(&mut html, report);
    summary(&mut html, &report.summary);
    validation(&mut html, &report.validation);
    weighting(&mut html, &report.weighting);
    contents(&mut html, report, &anchors, &model_anchors);
    for (indicator, anchor) in report.indicators.iter().zip(&anchors) {
        indicator_section(&mut html, indicator, anchor);
    }
    for (model, anchor) in report.models.iter().zip(&model_anchors) {
        model_section(&mut html, model, anchor);
    }
    notes(&mut html, &report.notes);
    let _ = write!(
        html,
        "<footer>Gemaakt met {}.</footer>\n</body>\n</html>\n",
        escape(&report.generated_by)
    );
    html
}

fn head(html: &mut String, report: &Report) {
    let title = escape(&report.title);
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"nl\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"{generator}\">\n<title>{title}</title>\n\
         <style>\n{STYLE}\n</style>\n</head>\n<body>\n<h1>{title}</h1>\n\
         <p class=\"muted\">{generator}</p>\n",
        generator = escape(&report.generated_by),
    );
}

fn summary(html: &mut String, lines: &[(String, String)]) {
    html.push_str("<h2 id=\"samenvatting\">Samenvatting</h2>\n");
    if lines.is_empty() {
        html.push_str("<p class=\"muted\">Geen gegevens.</p>\n");
        return;
    }
    key_values(html, lines);
}

/// A two-column table of labelled values.
fn key_values(html: &mut String, lines: &[(String, String)]) {
    html.push_str("<table class=\"summary\">\n<tbody>\n");
    for (key, value) in lines {
        let _ = writeln!(
            html,
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
            escape(key),
            escape(value)
        );
    }
    html.push_str("</tbody>\n</table>\n");
}

fn validation(html: &mut String, rules: &[RuleCount]) {
    html.push_str("<h2 id=\"validatie\">Validatie</h2>\n");
    if rules.is_empty() {
        html.push_str("<p>Geen afgewezen rijen: alle rijen voldoen aan het schema.</p>\n");
        return;
    }
    html.push_str(
        "<table>\n<thead><tr><th>regel</th><th>kolom</th><th class=\"num\">aantal</th>\
         <th>voorbeeld</th></tr></thead>\n<tbody>\n",
    );
    for rule in rules {
        let _ = writeln!(
            html,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"nowrap\">{}</td></tr>",
            escape(&rule.rule),
            escape(&rule.column),
            format::thousands(&rule.count.to_string()),
            escape(&rule.example)
        );
    }
    html.push_str("</tbody>\n</table>\n");
}

fn weighting(html: &mut String, waves: &[WeightingSection]) {
    if waves.is_empty() {
        return;
    }
    html.push_str("<h2 id=\"weging\">Weging</h2>\n");
    for wave in waves {
        let _ = writeln!(html, "<h3>meting {}</h3>", wave.wave);
        key_values(html, &wave.lines);
        if !wave.headline.is_empty() {
            html.push_str(
                "<table>\n<thead><tr><th>indicator (totaal)</th><th class=\"num\">ongewogen</th>\
                 <th class=\"num\">gewogen</th><th class=\"num\">verschil</th></tr></thead>\n<tbody>\n",
            );
            for row in &wave.headline {
                let show =
                    |v: Option<f64>| v.map_or(DASH.to_string(), |v| format::value(v, row.percent));
                let change = match (row.before, row.after) {
                    (Some(b), Some(a)) if row.percent => {
                        format!("{} procentpunt", format::number(100.0 * (a - b), 1))
                    }
                    (Some(b), Some(a)) => format::number(a - b, 1),
                    _ => DASH.to_string(),
                };
                let _ = writeln!(
                    html,
                    "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                    escape(&row.label),
                    show(row.before),
                    show(row.after),
                    escape(&change)
                );
            }
            html.push_str("</tbody>\n</table>\n");
        }
        html.push_str(
            "<table>\n<thead><tr><th>variabele</th><th>categorie</th><th class=\"num\">doel</th>\
             <th class=\"num\">vóór weging</th><th class=\"num\">na weging</th></tr></thead>\n<tbody>\n",
        );
        for m in &wave.margins {
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                escape(&m.variable),
                escape(&m.category),
                format::number(m.target, 1),
                m.before.map_or(DASH.to_string(), |v| format::number(v, 1)),
                format::number(m.after, 1)
            );
        }
        html.push_str("</tbody>\n</table>\n");
    }
}

/// The list of indicators, and after them the models.
fn contents(html: &mut String, report: &Report, anchors: &[String], model_anchors: &[String]) {
    html.push_str("<h2 id=\"indicatoren\">Indicatoren</h2>\n");
    if report.indicators.is_empty() && report.models.is_empty() {
        html.push_str("<p class=\"muted\">Geen indicatoren.</p>\n");
        return;
    }
    html.push_str("<nav>\n<ol>\n");
    for (indicator, anchor) in report.indicators.iter().zip(anchors) {
        let _ = writeln!(
            html,
            "<li><a href=\"#{anchor}\">{}</a> <code>{}</code></li>",
            escape(&indicator.label),
            escape(&indicator.id)
        );
    }
    for (model, anchor) in report.models.iter().zip(model_anchors) {
        let _ = writeln!(
            html,
            "<li>model: <a href=\"#{anchor}\">{}</a> <code>{}</code></li>",
            escape(&model.label),
            escape(&model.id)
        );
    }
    html.push_str("</ol>\n</nav>\n");
}

fn indicator_section(html: &mut String, indicator: &IndicatorSection, anchor: &str) {
    let _ = write!(
        html,
        "<section id=\"{anchor}\">\n<h2>{} <code>{}</code></h2>\n\
         <p class=\"meta\">{} · meting {}</p>\n",
        escape(&indicator.label),
        escape(&indicator.id),
        escape(&indicator.kind),
        indicator.wave
    );
    if let Some(svg) = indicator.trend_svg.as_deref().and_then(svg_element) {
        let _ = writeln!(
            html,
            "<h3>door de tijd</h3>\n<figure class=\"chart\">\n{}\n</figure>",
            svg.trim_end()
        );
    }
    change_table(html, &indicator.changes);
    for table in &indicator.tables {
        segment_table(html, table);
    }
    html.push_str("</section>\n");
}

fn segment_table(html: &mut String, table: &SegmentTable) {
    if table.segmentation == "total" {
        html.push_str("<h3>totaal</h3>\n");
    } else {
        let _ = writeln!(html, "<h3>naar {}</h3>", escape(&table.segmentation));
    }
    if let Some(svg) = table.chart_svg.as_deref().and_then(svg_element) {
        let _ = writeln!(
            html,
            "<figure class=\"chart\">\n{}\n</figure>",
            svg.trim_end()
        );
    }
    if table.rows.is_empty() {
        html.push_str("<p class=\"muted\">Geen schattingen.</p>\n");
        return;
    }
    html.push_str(
        "<table>\n<thead><tr><th>segment</th><th class=\"num\">schatting</th>\
         <th class=\"num\">95%-BI</th><th class=\"num\">n</th><th>opmerking</th></tr></thead>\n\
         <tbody>\n",
    );
    for row in &table.rows {
        table_row(html, row);
    }
    html.push_str("</tbody>\n</table>\n");
}

fn table_row(html: &mut String, row: &TableRow) {
    let estimate = row.estimate.filter(|v| v.is_finite());
    let class = if estimate.is_none() {
        " class=\"suppressed\""
    } else {
        ""
    };
    let n = match row.n.filter(|n| estimate.is_some() && *n >= 0) {
        Some(n) => format::thousands(&n.to_string()),
        None => DASH.to_string(),
    };
    let _ = writeln!(
        html,
        "<tr{class}><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{n}</td><td class=\"flag\">{}</td></tr>",
        escape(&row.segment_label),
        estimate.map_or(DASH.to_string(), |v| format::value(v, row.percent)),
        interval(row),
        escape(row.flag.as_deref().unwrap_or("")),
    );
}

/// The national value against each earlier wave: difference, its interval and p-value.
fn change_table(html: &mut String, changes: &[ChangeLine]) {
    if changes.is_empty() {
        return;
    }
    html.push_str(
        "<table>\n<thead><tr><th>verandering</th><th class=\"num\">verschil</th>\
         <th class=\"num\">95%-BI</th><th class=\"num\">p</th><th>opmerking</th></tr></thead>\n\
         <tbody>\n",
    );
    for change in changes {
        let (unit, scale) = if change.percent {
            (" procentpunt", 100.0)
        } else {
            ("", 1.0)
        };
        let signed = |v: f64| {
            let text = format::number(v * scale, 1);
            if v > 0.0 {
                format!("+{text}")
            } else {
                text
            }
        };
        let difference = change
            .difference
            .filter(|v| v.is_finite())
            .map_or(DASH.to_string(), |d| format!("{}{unit}", signed(d)));
        let interval = match (change.difference, change.ci_lower, change.ci_upper) {
            (Some(_), Some(lower), Some(upper)) => format!("{} – {}", signed(lower), signed(upper)),
            _ => DASH.to_string(),
        };
        let p = p_value(change.p_value);
        let remark = match (change.significant, change.flag.as_deref()) {
            (_, Some(flag)) => escape(flag),
            (Some(true), None) => "significant".to_string(),
            (Some(false), None) => "niet significant".to_string(),
            (None, None) => String::new(),
        };
        let class = if change.difference.is_none() {
            " class=\"suppressed\""
        } else {
            ""
        };
        let _ = writeln!(
            html,
            "<tr{class}><td>{} t.o.v. {}</td><td class=\"num\">{difference}</td>\
             <td class=\"num\">{interval}</td><td class=\"num\">{p}</td>\
             <td class=\"flag\">{remark}</td></tr>",
            change.wave, change.base_wave
        );
    }
    html.push_str("</tbody>\n</table>\n");
}

/// A model: what it models, its coefficients of the latest wave, the forest plot, the notes.
fn model_section(html: &mut String, model: &ModelSection, anchor: &str) {
    let _ = write!(
        html,
        "<section id=\"{anchor}\">\n<h2>{} <code>{}</code></h2>\n\
         <p class=\"meta\">model · {} · meting {}</p>\n",
        escape(&model.label),
        escape(&model.id),
        escape(&model.family),
        model.wave
    );
    html.push_str("<table class=\"summary\">\n<tbody>\n");
    for (key, value) in &model.lines {
        let _ = writeln!(
            html,
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
            escape(key),
            escape(value)
        );
    }
    if !model.terms.is_empty() {
        html.push_str("<tr><th scope=\"row\">verklarende variabelen</th><td>");
        for (index, (term, text)) in model.terms.iter().enumerate() {
            let separator = if index == 0 { "" } else { "<br>" };
            let _ = write!(
                html,
                "{separator}<code>{}</code> {}",
                escape(term),
                escape(text)
            );
        }
        html.push_str("</td></tr>\n");
    }
    html.push_str("</tbody>\n</table>\n");
    coefficient_table(html, model);
    if let Some(svg) = model.forest_svg.as_deref().and_then(svg_element) {
        let _ = writeln!(
            html,
            "<figure class=\"chart\">\n{}\n</figure>",
            svg.trim_end()
        );
    }
    if !model.notes.is_empty() {
        html.push_str("<ul class=\"notes\">\n");
        for note in &model.notes {
            let _ = writeln!(html, "<li>{}</li>", escape(note));
        }
        html.push_str("</ul>\n");
    }
    html.push_str("</section>\n");
}

/// The coefficients: (segment,) term, level, coefficient, (ratio,) interval, p, n, flags.
fn coefficient_table(html: &mut String, model: &ModelSection) {
    let _ = writeln!(html, "<h3>coëfficiënten, meting {}</h3>", model.wave);
    if model.rows.is_empty() {
        html.push_str("<p class=\"muted\">Geen coëfficiënten.</p>\n");
        return;
    }
    html.push_str("<table>\n<thead><tr>");
    if model.segmented {
        html.push_str("<th>segment</th>");
    }
    html.push_str("<th>term</th><th>niveau</th><th class=\"num\">coëfficiënt</th>");
    if let Some(ratio) = &model.ratio {
        let _ = write!(html, "<th class=\"num\">{}</th>", escape(ratio));
    }
    html.push_str(
        "<th class=\"num\">95%-BI</th><th class=\"num\">p</th><th class=\"num\">n</th>\
         <th>opmerking</th></tr></thead>\n<tbody>\n",
    );
    for row in &model.rows {
        coefficient_row(html, row, model);
    }
    html.push_str("</tbody>\n</table>\n");
}

fn coefficient_row(html: &mut String, row: &CoefficientRow, model: &ModelSection) {
    let finite = |v: Option<f64>| v.filter(|v| v.is_finite());
    let estimate = finite(row.estimate).filter(|_| !row.suppressed);
    let ratio = model.ratio.is_some();
    let (lower, upper) = (finite(row.ci_lower), finite(row.ci_upper));
    // The interval of the ratio for logistic and poisson models, else of the coefficient; it
    // is written with the decimals of the largest of the three.
    let scaled = |v: f64| {
        if ratio {
            v.clamp(-700.0, 700.0).exp()
        } else {
            v
        }
    };
    let size = [estimate, lower, upper]
        .into_iter()
        .flatten()
        .map(|v| scaled(v).abs())
        .fold(0.0, f64::max);
    let shown = |v: f64| format::coefficient_at(scaled(v), size);
    let coefficient = |v: f64| {
        if ratio {
            format::coefficient(v)
        } else {
            shown(v)
        }
    };
    let class = if estimate.is_none() {
        " class=\"suppressed\""
    } else {
        ""
    };
    let _ = write!(html, "<tr{class}>");
    if model.segmented {
        let _ = write!(html, "<td>{}</td>", escape(&row.segment_label));
    }
    let term = if row.term == INTERCEPT {
        "intercept".to_string()
    } else {
        format!("<code>{}</code>", escape(&row.term.replace(':', " × ")))
    };
    let _ = write!(
        html,
        "<td>{term}</td><td>{}</td><td class=\"num\">{}</td>",
        escape(row.level_label.as_deref().unwrap_or("")),
        estimate.map_or(DASH.to_string(), coefficient),
    );
    if ratio {
        let _ = write!(
            html,
            "<td class=\"num\">{}</td>",
            estimate.map_or(DASH.to_string(), shown)
        );
    }
    let interval = match (estimate, lower, upper) {
        (Some(_), Some(lower), Some(upper)) => format!("{} – {}", shown(lower), shown(upper)),
        _ => DASH.to_string(),
    };
    let p = p_value(finite(row.p_value).filter(|_| estimate.is_some()));
    let n = match row.n.filter(|n| !row.suppressed && *n >= 0) {
        Some(n) => format::thousands(&n.to_string()),
        None => DASH.to_string(),
    };
    let _ = writeln!(
        html,
        "<td class=\"num\">{interval}</td><td class=\"num\">{p}</td><td class=\"num\">{n}</td>\
         <td class=\"flag\">{}</td></tr>",
        escape(row.flag.as_deref().unwrap_or(""))
    );
}

/// A p-value with three decimals, or "&lt; 0,001"; "—" without one.
fn p_value(p: Option<f64>) -> String {
    p.map_or(DASH.to_string(), |p| {
        if p < 0.001 {
            "&lt; 0,001".to_string()
        } else {
            format::decimals(p, 3)
        }
    })
}

/// `11,2 – 15,3%`, or "—" without an estimate or a complete interval.
fn interval(row: &TableRow) -> String {
    let finite = |v: Option<f64>| v.filter(|v| v.is_finite());
    match (
        finite(row.estimate),
        finite(row.ci_lower),
        finite(row.ci_upper),
    ) {
        (Some(_), Some(lower), Some(upper)) => {
            let unit = if row.percent { "%" } else { "" };
            let scale = if row.percent { 100.0 } else { 1.0 };
            format!(
                "{} – {}{unit}",
                format::number(lower * scale, 1),
                format::number(upper * scale, 1)
            )
        }
        _ => DASH.to_string(),
    }
}

fn notes(html: &mut String, notes: &[String]) {
    if notes.is_empty() {
        return;
    }
    html.push_str("<h2 id=\"toelichting\">Toelichting</h2>\n<ul>\n");
    for note in notes {
        let _ = writeln!(html, "<li>{}</li>", escape(note));
    }
    html.push_str("</ul>\n");
}

/// The `<svg …>…</svg>` element of an SVG document, without XML prologue or doctype;
/// `None` when there is no `<svg` element.
fn svg_element(document: &str) -> Option<&str> {
    let start = document.find("<svg")?;
    Some(&document[start..])
}

/// Unique, URL-safe anchors for the indicator sections: `ind-` and the id's letters, digits,
/// `-` and `_`, other characters as `-`, with `-2`, `-3`, … on collisions.
fn anchors(indicators: &[IndicatorSection]) -> Vec<String> {
    unique_anchors("ind", indicators.iter().map(|i| i.id.as_str()))
}

/// The anchors of the model sections, as [`anchors`] with `model-`.
fn model_anchors(models: &[ModelSection]) -> Vec<String> {
    unique_anchors("model", models.iter().map(|m| m.id.as_str()))
}

fn unique_anchors<'a>(prefix: &str, ids: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut used = BTreeSet::new();
    ids.map(|id| {
        let slug: String = id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let base = format!("{prefix}-{slug}");
        let mut anchor = base.clone();
        let mut suffix = 2;
        while !used.insert(anchor.clone()) {
            anchor = format!("{base}-{suffix}");
            suffix += 1;
        }
        anchor
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, estimate: Option<f64>, n: i64, flag: Option<&str>) -> TableRow {
        TableRow {
            segment_label: label.to_string(),
            estimate,
            ci_lower: estimate.map(|v| v - 0.021),
            ci_upper: estimate.map(|v| v + 0.021),
            n: Some(n),
            flag: flag.map(str::to_string),
            percent: true,
        }
    }

    fn sample() -> Report {
        Report {
            title: "peiling — <script>alert('x')</script>".into(),
            generated_by: "peiling 0.1.0".into(),
            summary: vec![
                ("rijen gelezen".into(), "1234".into()),
                ("provincie".into(), "Fryslân".into()),
            ],
            validation: vec![RuleCount {
                rule: "range".into(),
                column: "leeftijd".into(),
                count: 12345,
                example: "2024 regel 7: 130 > 120".into(),
            }],
            weighting: vec![WeightingSection {
                wave: 2024.into(),
                lines: vec![("methode".into(), "rake".into())],
                margins: vec![MarginRow {
                    variable: "provincie".into(),
                    category: "21".into(),
                    target: 410.0,
                    before: Some(388.0),
                    after: 410.0,
                }],
                headline: vec![HeadlineRow {
                    label: "Overbelast".into(),
                    before: Some(0.25),
                    after: Some(0.288),
                    percent: true,
                }],
            }],
            indicators: vec![IndicatorSection {
                id: "overbelast".into(),
                label: "Zeer zwaar belast & overbelast".into(),
                kind: "proportion".into(),
                wave: 2024.into(),
                trend_svg: None,
                changes: Vec::new(),
                tables: vec![SegmentTable {
                    segmentation: "provincie".into(),
                    rows: vec![
                        row("Súdwest-Fryslân", Some(0.132), 1520, None),
                        row("Zeeland", None, 12, Some("n_below_min")),
                        row("<b>Noord</b>", Some(0.2), 40, Some("unreliable")),
                    ],
                    chart_svg: Some(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg width=\"9\"></svg>\n"
                            .into(),
                    ),
                }],
            }],
            models: Vec::new(),
            notes: vec!["onderdrukt: minder dan 30 waarnemingen & \"te klein\"".into()],
        }
    }

    #[test]
    fn page_is_complete_and_self_contained() {
        let html = render(&sample());
        assert!(html.starts_with("<!doctype html>\n<html lang=\"nl\">"));
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(
            html.contains("href=\"#ind-overbelast\"") && html.contains("id=\"ind-overbelast\"")
        );
        assert!(html.contains("<svg width=\"9\"></svg>") && !html.contains("<?xml"));
        assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("src="));
        assert!(html.trim_end().ends_with("</html>"));
    }

    #[test]
    fn text_is_escaped() {
        let html = render(&sample());
        assert!(!html.contains("<script"));
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(html.contains("Zeer zwaar belast &amp; overbelast"));
        assert!(html.contains("&lt;b&gt;Noord&lt;/b&gt;"));
        assert!(html.contains("&amp; &quot;te klein&quot;"));
        assert_eq!(escape("a&b<c>\"d'"), "a&amp;b&lt;c&gt;&quot;d&#39;");
    }

    #[test]
    fn numbers_are_dutch_and_suppression_hides_n() {
        let html = render(&sample());
        assert!(html.contains("Súdwest-Fryslân") && html.contains("Fryslân"));
        assert!(html.contains("<td class=\"num\">13,2%</td>"));
        assert!(html.contains("11,1 – 15,3%"));
        assert!(html.contains("<td class=\"num\">1.520</td>"));
        assert!(html.contains("<td class=\"num\">12.345</td>"));
        assert!(html.contains(
            "<tr class=\"suppressed\"><td>Zeeland</td><td class=\"num\">—</td>\
             <td class=\"num\">—</td><td class=\"num\">—</td><td class=\"flag\">n_below_min</td>"
        ));
    }

    #[test]
    fn weighting_shows_margins_and_how_headlines_move() {
        let html = render(&sample());
        assert!(html.contains("<h2 id=\"weging\">Weging</h2>"));
        assert!(html.contains(
            "<tr><td>Overbelast</td><td class=\"num\">25,0%</td><td class=\"num\">28,8%</td>\
             <td class=\"num\">3,8 procentpunt</td></tr>"
        ));
        assert!(html.contains(
            "<tr><td>provincie</td><td>21</td><td class=\"num\">410,0</td>\
             <td class=\"num\">388,0</td><td class=\"num\">410,0</td></tr>"
        ));
        let without = render(&Report {
            weighting: Vec::new(),
            ..sample()
        });
        assert!(!without.contains("Weging"));
    }

    #[test]
    fn empty_report_renders() {
        let html = render(&Report {
            title: String::new(),
            generated_by: String::new(),
            summary: Vec::new(),
            validation: Vec::new(),
            weighting: Vec::new(),
            indicators: vec![IndicatorSection {
                id: String::new(),
                label: String::new(),
                kind: String::new(),
                wave: 0.into(),
                trend_svg: None,
                changes: Vec::new(),
                tables: vec![SegmentTable {
                    segmentation: String::new(),
                    rows: Vec::new(),
                    chart_svg: Some("not an svg".into()),
                }],
            }],
            models: Vec::new(),
            notes: Vec::new(),
        });
        assert!(html.contains("Geen schattingen") && !html.contains("not an svg"));
        assert!(html.contains("</html>"));
    }

    #[test]
    fn anchors_are_unique_and_safe() {
        let section = |id: &str| IndicatorSection {
            id: id.into(),
            label: id.into(),
            kind: "mean".into(),
            wave: 2024.into(),
            trend_svg: None,
            changes: Vec::new(),
            tables: Vec::new(),
        };
        let sections = [section("a b"), section("a-b"), section("Zorg\"uren")];
        assert_eq!(
            anchors(&sections),
            ["ind-a-b", "ind-a-b-2", "ind-zorg-uren"]
        );
    }

    #[test]
    fn output_is_deterministic() {
        assert_eq!(render(&sample()), render(&sample()));
    }

    fn coefficient(
        term: &str,
        level: Option<&str>,
        estimate: Option<f64>,
        p_value: Option<f64>,
        flag: Option<&str>,
    ) -> CoefficientRow {
        CoefficientRow {
            segment_label: "Totaal".into(),
            term: term.into(),
            level_label: level.map(str::to_string),
            estimate,
            ci_lower: estimate.map(|v| v - 0.1),
            ci_upper: estimate.map(|v| v + 0.1),
            p_value,
            n: Some(9002),
            suppressed: false,
            flag: flag.map(str::to_string),
        }
    }

    fn model_sample() -> ModelSection {
        ModelSection {
            id: "overbelast_model".into(),
            label: "Overbelast naar werk & leeftijd".into(),
            family: "logistische regressie".into(),
            wave: 2024.into(),
            lines: vec![
                ("uitkomst".into(), "belasting >= 4".into()),
                ("n in het model".into(), "9.002 respondenten".into()),
            ],
            terms: vec![
                (
                    "werk".into(),
                    "Werksituatie: categorieën, elk vergeleken met de referentie «betaald werk»"
                        .into(),
                ),
                ("uren_pw".into(), "een getal".into()),
            ],
            ratio: Some("odds ratio".into()),
            segmented: false,
            rows: vec![
                coefficient("(Intercept)", None, Some(-2.725), Some(1e-9), None),
                coefficient(
                    "werk",
                    Some("gepensioneerd"),
                    Some(1.25f64.ln()),
                    Some(0.2038),
                    None,
                ),
                CoefficientRow {
                    suppressed: true,
                    // Were a number to reach a suppressed row, it still shows none.
                    ..coefficient(
                        "werk",
                        Some("student of scholier"),
                        Some(0.4242),
                        Some(0.5),
                        Some("n_below_min"),
                    )
                },
                coefficient("werk", Some("anders"), None, None, Some("empty_level")),
                coefficient("uren_pw", None, Some(0.018), Some(0.0004), None),
            ],
            forest_svg: None,
            notes: vec!["empty_level: niemand in het model heeft dit niveau.".into()],
        }
    }

    #[test]
    fn a_model_section_renders_after_the_indicators() {
        let html = render(&Report {
            models: vec![model_sample()],
            ..sample()
        });
        for text in [
            "<li>model: <a href=\"#model-overbelast_model\">Overbelast naar werk &amp; leeftijd</a> \
             <code>overbelast_model</code></li>",
            "<section id=\"model-overbelast_model\">",
            "<p class=\"meta\">model · logistische regressie · meting 2024</p>",
            "<tr><th scope=\"row\">uitkomst</th><td>belasting &gt;= 4</td></tr>",
            "<code>werk</code> Werksituatie: categorieën, elk vergeleken met de referentie «betaald werk»<br>\
             <code>uren_pw</code> een getal",
            "<h3>coëfficiënten, meting 2024</h3>",
            "<th>term</th><th>niveau</th><th class=\"num\">coëfficiënt</th>\
             <th class=\"num\">odds ratio</th><th class=\"num\">95%-BI</th>",
            // The intercept: exp(-2.725) = 0,066; its interval exp(-2.825) – exp(-2.625).
            "<tr><td>intercept</td><td></td><td class=\"num\">-2,725</td><td class=\"num\">0,066</td>\
             <td class=\"num\">0,059 – 0,072</td><td class=\"num\">&lt; 0,001</td>\
             <td class=\"num\">9.002</td><td class=\"flag\"></td></tr>",
            "<tr><td><code>werk</code></td><td>gepensioneerd</td><td class=\"num\">0,223</td>\
             <td class=\"num\">1,250</td><td class=\"num\">1,131 – 1,381</td>\
             <td class=\"num\">0,204</td>",
            "<li>empty_level: niemand in het model heeft dit niveau.</li>",
        ] {
            assert!(html.contains(text), "{text} missing from\n{html}");
        }
        let at = |text: &str| html.find(text).unwrap();
        assert!(at("id=\"ind-overbelast\"") < at("id=\"model-overbelast_model\""));
        assert!(at("id=\"model-overbelast_model\"") < at("id=\"toelichting\""));
        // Without indicators the models are still listed.
        let only = render(&Report {
            indicators: Vec::new(),
            models: vec![model_sample()],
            ..sample()
        });
        assert!(!only.contains("Geen indicatoren") && only.contains("href=\"#model-"));

        // A linear model by segment: a segment column, the coefficient's own interval.
        let linear = ModelSection {
            ratio: None,
            segmented: true,
            rows: vec![CoefficientRow {
                segment_label: "Fryslân".into(),
                ..coefficient("uren_pw", None, Some(-1.5), Some(0.02), Some("low_df"))
            }],
            ..model_sample()
        };
        let html = render(&Report {
            models: vec![linear],
            ..sample()
        });
        assert!(html.contains(
            "<th>segment</th><th>term</th><th>niveau</th><th class=\"num\">coëfficiënt</th>\
             <th class=\"num\">95%-BI</th>"
        ));
        assert!(html.contains(
            "<tr><td>Fryslân</td><td><code>uren_pw</code></td><td></td><td class=\"num\">-1,500</td>\
             <td class=\"num\">-1,600 – -1,400</td><td class=\"num\">0,020</td>\
             <td class=\"num\">9.002</td><td class=\"flag\">low_df</td></tr>"
        ));
        assert!(!html.contains("odds ratio"));
    }

    #[test]
    fn a_suppressed_coefficient_shows_no_number() {
        let html = render(&Report {
            models: vec![model_sample()],
            ..sample()
        });
        assert!(html.contains(
            "<tr class=\"suppressed\"><td><code>werk</code></td><td>student of scholier</td>\
             <td class=\"num\">—</td><td class=\"num\">—</td><td class=\"num\">—</td>\
             <td class=\"num\">—</td><td class=\"num\">—</td><td class=\"flag\">n_below_min</td></tr>"
        ));
        // Neither the coefficient, its ratio, its interval nor its p-value.
        for number in ["0,424", "1,528", "0,324", "0,524", "0,500"] {
            assert!(!html.contains(number), "{number} shown");
        }
        // A level without respondents is no secret: it shows n and says why there is no number.
        assert!(html.contains(
            "<tr class=\"suppressed\"><td><code>werk</code></td><td>anders</td>\
             <td class=\"num\">—</td><td class=\"num\">—</td><td class=\"num\">—</td>\
             <td class=\"num\">—</td><td class=\"num\">9.002</td><td class=\"flag\">empty_level</td></tr>"
        ));
    }

    #[test]
    fn the_forest_plot_has_one_mark_per_published_coefficient() {
        use crate::disclosure::ReleasedModelRow;
        use crate::spec::ModelFamily;
        let row = |term: &str, level: Option<&str>, estimate: Option<f64>, flag: Option<&str>| {
            let suppressed = flag.is_some_and(|f| f.ends_with("below_min"));
            ReleasedModelRow {
                wave: 2024.into(),
                model: "m".into(),
                family: ModelFamily::Logistic,
                segmentation: "total".into(),
                segment: "total".into(),
                segment_label: "Totaal".into(),
                term: term.into(),
                level: level.map(|_| "2".to_string()),
                level_label: level.map(str::to_string),
                estimate,
                std_error: estimate.map(|_| 0.1),
                statistic: estimate.map(|v| v / 0.1),
                df: estimate.map(|_| 120.0),
                p_value: estimate.map(|_| 0.04),
                ci_lower: estimate.map(|v| v - 0.2),
                ci_upper: estimate.map(|v| v + 0.2),
                n: Some(900),
                n_weighted: Some(900.0),
                suppressed,
                flag: flag.map(str::to_string),
            }
        };
        let rows = [
            row("(Intercept)", None, Some(-2.0), None),
            row("werk", Some("gepensioneerd"), Some(0.2), None),
            row("werk", Some("student"), None, Some("n_below_min")),
            row("werk", Some("anders"), None, Some("empty_level")),
            row("werk", Some("uitkering"), Some(-0.3), Some("low_df")),
            row("uren_pw", None, Some(0.018), None),
        ];
        let refs: Vec<&ReleasedModelRow> = rows.iter().collect();
        for family in [ModelFamily::Logistic, ModelFamily::Linear] {
            let chart = super::super::views::forest_chart(
                "m",
                "Overbelast",
                family,
                2024.into(),
                &refs,
                &|term| format!("term {term}"),
            );
            assert_eq!(chart.rows.len(), 5, "the intercept is left out");
            assert_eq!(chart.ratio, family != ModelFamily::Linear);
            let svg = super::super::chart::forest_chart_svg(&chart).unwrap();
            // The three published coefficients but the intercept, and a note on the others.
            assert_eq!(super::super::chart::forest_marks(&svg), 3);
            assert!(svg.contains("niet getoond: term werk: student (onderdrukt)"));
            assert!(svg.contains("niet getoond: term werk: anders (geen schatting)"));
            let html = render(&Report {
                models: vec![ModelSection {
                    forest_svg: Some(svg),
                    ..model_sample()
                }],
                ..sample()
            });
            assert_eq!(super::super::chart::forest_marks(&html), 3);
            assert!(html.contains("<figure class=\"chart\">\n<svg"));
        }
    }
}
