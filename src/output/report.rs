//! `report.html`: one self-contained page — inline CSS and inline SVG, no scripts, nothing
//! fetched from the network — with the run summary, the validation summary, a table of
//! contents, and per indicator a chart and a table per segmentation, followed by notes.
//!
//! All text that comes from specs, schemas or data is HTML-escaped; chart SVGs are inlined from
//! their `<svg` tag on (any XML prologue dropped). Numbers are Dutch (`13,2%`, `1.234`), and
//! the output is deterministic: the same report renders to the same bytes.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::format::{self, DASH};
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
    let mut html = String::new();
    let anchors = anchors(&report.indicators);
    head(&mut html, report);
    summary(&mut html, &report.summary);
    validation(&mut html, &report.validation);
    weighting(&mut html, &report.weighting);
    contents(&mut html, &report.indicators, &anchors);
    for (indicator, anchor) in report.indicators.iter().zip(&anchors) {
        indicator_section(&mut html, indicator, anchor);
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

fn contents(html: &mut String, indicators: &[IndicatorSection], anchors: &[String]) {
    html.push_str("<h2 id=\"indicatoren\">Indicatoren</h2>\n");
    if indicators.is_empty() {
        html.push_str("<p class=\"muted\">Geen indicatoren.</p>\n");
        return;
    }
    html.push_str("<nav>\n<ol>\n");
    for (indicator, anchor) in indicators.iter().zip(anchors) {
        let _ = writeln!(
            html,
            "<li><a href=\"#{anchor}\">{}</a> <code>{}</code></li>",
            escape(&indicator.label),
            escape(&indicator.id)
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
        let p = change.p_value.map_or(DASH.to_string(), |p| {
            if p < 0.001 {
                "&lt; 0,001".to_string()
            } else {
                format::decimals(p, 3)
            }
        });
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
    let mut used = BTreeSet::new();
    indicators
        .iter()
        .map(|indicator| {
            let slug: String = indicator
                .id
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect();
            let base = format!("ind-{slug}");
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
}
