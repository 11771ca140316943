//! `report.html`: one self-contained page (inline CSS and SVG, nothing fetched) with the run
//! summary, the validation summary, and per indicator a chart and a table per segmentation.
//! All text from spec, schema or data is HTML-escaped.

use std::fmt::Write;

use super::chart::format_value;

#[derive(Debug, Clone)]
pub struct Report {
    pub title: String,
    pub generated_by: String,
    pub summary: Vec<(String, String)>,
    pub validation: Vec<RuleCount>,
    pub indicators: Vec<IndicatorSection>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RuleCount {
    pub rule: String,
    pub column: String,
    pub count: u64,
    pub example: String,
}

#[derive(Debug, Clone)]
pub struct IndicatorSection {
    pub id: String,
    pub label: String,
    pub kind: String,
    pub wave: i32,
    pub tables: Vec<SegmentTable>,
}

#[derive(Debug, Clone)]
pub struct SegmentTable {
    pub segmentation: String,
    pub rows: Vec<TableRow>,
    pub chart_svg: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TableRow {
    pub segment_label: String,
    pub estimate: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    /// `None` when suppressed.
    pub n: Option<i64>,
    pub flag: Option<String>,
    pub percent: bool,
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1000px;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.6rem}h2{margin-top:2.5rem;border-bottom:1px solid #ccc;padding-bottom:.2rem}h3{font-size:1rem;color:#444}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.9rem}td,th{padding:.25rem .6rem;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}tbody tr:nth-child(odd){background:#f4f6f8}
.flag{color:#777;font-size:.85rem}.muted{color:#666}svg{max-width:100%;height:auto}nav li{margin:.1rem 0}";

/// HTML-escapes text.
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

pub fn render(report: &Report) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"nl\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n<p class=\"muted\">{}</p>\n",
        escape(&report.title),
        escape(&report.title),
        escape(&report.generated_by)
    );
    html.push_str("<h2>Samenvatting</h2>\n<table>\n");
    for (key, value) in &report.summary {
        let _ = writeln!(
            html,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(key),
            escape(value)
        );
    }
    html.push_str("</table>\n<h2>Validatie</h2>\n");
    if report.validation.is_empty() {
        html.push_str("<p>Alle rijen voldoen aan het schema.</p>\n");
    } else {
        html.push_str("<table>\n<thead><tr><th>regel</th><th>kolom</th><th>aantal</th><th>eerste voorbeeld</th></tr></thead>\n<tbody>\n");
        for rule in &report.validation {
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                escape(&rule.rule),
                escape(&rule.column),
                rule.count,
                escape(&rule.example)
            );
        }
        html.push_str("</tbody>\n</table>\n");
    }
    html.push_str("<h2>Indicatoren</h2>\n<nav><ul>\n");
    for indicator in &report.indicators {
        let _ = writeln!(
            html,
            "<li><a href=\"#{}\">{}</a></li>",
            escape(&indicator.id),
            escape(&indicator.label)
        );
    }
    html.push_str("</ul></nav>\n");
    for indicator in &report.indicators {
        let _ = writeln!(
            html,
            "<h2 id=\"{}\">{}</h2>\n<p class=\"muted\">{} · {} · meting {}</p>",
            escape(&indicator.id),
            escape(&indicator.label),
            escape(&indicator.id),
            escape(&indicator.kind),
            indicator.wave
        );
        for table in &indicator.tables {
            let _ = writeln!(html, "<h3>{}</h3>", escape(&table.segmentation));
            if let Some(svg) = &table.chart_svg {
                let body = svg.find("<svg").map_or(svg.as_str(), |start| &svg[start..]);
                html.push_str(body);
                html.push('\n');
            }
            html.push_str("<table>\n<thead><tr><th>segment</th><th>schatting</th><th>95%-BI</th><th>n</th><th>opmerking</th></tr></thead>\n<tbody>\n");
            for row in &table.rows {
                let value =
                    |v: Option<f64>| v.map_or("—".to_string(), |v| format_value(v, row.percent));
                let interval = match (row.ci_lower, row.ci_upper) {
                    (Some(lower), Some(upper)) => {
                        format!("{} – {}", value(Some(lower)), value(Some(upper)))
                    }
                    _ => "—".to_string(),
                };
                let _ = writeln!(
                    html,
                    "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"flag\">{}</td></tr>",
                    escape(&row.segment_label),
                    value(row.estimate),
                    interval,
                    row.n.map_or("—".to_string(), |n| n.to_string()),
                    escape(row.flag.as_deref().unwrap_or(""))
                );
            }
            html.push_str("</tbody>\n</table>\n");
        }
    }
    html.push_str("<h2>Toelichting</h2>\n<ul>\n");
    for note in &report.notes {
        let _ = writeln!(html, "<li>{}</li>", escape(note));
    }
    html.push_str("</ul>\n</body>\n</html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_dutch_survives() {
        let report = Report {
            title: "peiling — <script>".into(),
            generated_by: "peiling".into(),
            summary: vec![("provincie".into(), "Fryslân".into())],
            validation: Vec::new(),
            indicators: vec![IndicatorSection {
                id: "x".into(),
                label: "a & b".into(),
                kind: "proportion".into(),
                wave: 2024,
                tables: vec![SegmentTable {
                    segmentation: "provincie".into(),
                    rows: vec![TableRow {
                        segment_label: "Súdwest-Fryslân".into(),
                        estimate: None,
                        ci_lower: None,
                        ci_upper: None,
                        n: None,
                        flag: Some("n_below_min".into()),
                        percent: true,
                    }],
                    chart_svg: Some("<?xml version=\"1.0\"?><svg></svg>".into()),
                }],
            }],
            notes: Vec::new(),
        };
        let html = render(&report);
        assert!(html.contains("peiling — &lt;script&gt;") && !html.contains("<script>"));
        assert!(
            html.contains("a &amp; b")
                && html.contains("Súdwest-Fryslân")
                && html.contains("Fryslân")
        );
        assert!(html.contains("<svg></svg>") && !html.contains("<?xml"));
        assert!(html.contains("n_below_min"));
    }
}
