//! Bar charts of one indicator × segmentation: a horizontal bar per segment with its 95%
//! interval as a whisker, sorted by estimate, the national value as a dashed reference line,
//! suppressed segments named but not drawn. SVG for the report and the web, PNG for slides.
//!
//! Drawn with plotters from primitives in pixel coordinates; text uses the embedded DejaVu Sans
//! (`assets/`), so no system font is needed and Dutch text (ë, ï, â) renders everywhere.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub estimate: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    pub suppressed: bool,
}

#[derive(Debug, Clone)]
pub struct BarChart {
    pub title: String,
    pub subtitle: String,
    /// Proportions: values are shares, shown as percentages.
    pub percent: bool,
    pub bars: Vec<Bar>,
    /// The national (total) value.
    pub reference: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("chart {title:?}: {message}")]
    Draw { title: String, message: String },
}

const WIDTH: u32 = 900;
const ROW: u32 = 28;
const TOP: u32 = 78;
const LABEL_WIDTH: i32 = 300;
const FONT: &str = "sans-serif";
const BAR: RGBColor = RGBColor(46, 117, 182);
const GREY: RGBColor = RGBColor(110, 110, 110);

static FONT_REGISTERED: OnceLock<bool> = OnceLock::new();

fn register_font() -> bool {
    *FONT_REGISTERED.get_or_init(|| {
        let bytes: &'static [u8] = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/assets/DejaVuSans.ttf"
        ));
        plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_ok()
    })
}

fn height(chart: &BarChart) -> u32 {
    TOP + 40 + ROW * chart.bars.len().max(1) as u32
}

/// SVG document.
pub fn bar_chart_svg(chart: &BarChart) -> Result<String, ChartError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height(chart))).into_drawing_area();
        draw(&root, chart).map_err(|message| error(chart, message))?;
        root.present().map_err(|e| error(chart, e.to_string()))?;
    }
    Ok(svg)
}

/// PNG file.
pub fn bar_chart_png(chart: &BarChart, path: &Path) -> Result<(), ChartError> {
    let root = BitMapBackend::new(path, (WIDTH, height(chart))).into_drawing_area();
    draw(&root, chart).map_err(|message| error(chart, message))?;
    root.present().map_err(|e| error(chart, e.to_string()))
}

fn error(chart: &BarChart, message: String) -> ChartError {
    ChartError::Draw {
        title: chart.title.clone(),
        message,
    }
}

/// `13,2%` or `37,4`: one decimal, decimal comma.
pub fn format_value(value: f64, percent: bool) -> String {
    if percent {
        format!("{:.1}%", 100.0 * value).replace('.', ",")
    } else {
        format!("{value:.1}").replace('.', ",")
    }
}

fn truncate(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_string()
    } else {
        format!("{}…", label.chars().take(max - 1).collect::<String>())
    }
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &BarChart) -> Result<(), String> {
    if !register_font() {
        return Err("the embedded font could not be loaded".to_string());
    }
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let text = |size: f64, color: &'static RGBColor, pos: Pos| {
        TextStyle::from((FONT, size).into_font())
            .color(color)
            .pos(pos)
    };
    let left_top = Pos::new(HPos::Left, VPos::Top);
    root.draw(&Text::new(
        truncate(&chart.title, 80),
        (20, 14),
        text(20.0, &BLACK, left_top),
    ))
    .map_err(e)?;
    root.draw(&Text::new(
        truncate(&chart.subtitle, 110),
        (20, 42),
        text(13.0, &GREY, left_top),
    ))
    .map_err(e)?;

    let mut bars: Vec<&Bar> = chart.bars.iter().collect();
    bars.sort_by(|a, b| {
        let key = |bar: &Bar| bar.estimate.filter(|v| v.is_finite() && !bar.suppressed);
        match (key(a), key(b)) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
    });
    let finite = |v: Option<f64>| v.filter(|v| v.is_finite());
    let largest = bars
        .iter()
        .flat_map(|b| [finite(b.ci_upper), finite(b.estimate)])
        .flatten()
        .chain(finite(chart.reference))
        .fold(0.0f64, f64::max);
    let x_max = if chart.percent {
        (largest * 1.1).clamp(0.05, 1.0)
    } else {
        (largest * 1.1).max(1.0)
    };
    let plot_left = LABEL_WIDTH;
    let plot_right = WIDTH as i32 - 70;
    let x = |value: f64| {
        plot_left + ((value.clamp(0.0, x_max) / x_max) * (plot_right - plot_left) as f64) as i32
    };
    let bottom = (TOP + ROW * bars.len().max(1) as u32) as i32;

    // Axis with five ticks.
    root.draw(&PathElement::new(
        vec![(plot_left, bottom), (plot_right, bottom)],
        GREY,
    ))
    .map_err(e)?;
    for tick in 0..=4 {
        let value = x_max * tick as f64 / 4.0;
        let px = x(value);
        root.draw(&PathElement::new(
            vec![(px, bottom), (px, bottom + 4)],
            GREY,
        ))
        .map_err(e)?;
        root.draw(&Text::new(
            format_value(value, chart.percent),
            (px, bottom + 7),
            text(11.0, &GREY, Pos::new(HPos::Center, VPos::Top)),
        ))
        .map_err(e)?;
    }

    for (i, bar) in bars.iter().enumerate() {
        let top = TOP as i32 + ROW as i32 * i as i32;
        let middle = top + ROW as i32 / 2;
        root.draw(&Text::new(
            truncate(&bar.label, 40),
            (plot_left - 10, middle),
            text(13.0, &BLACK, Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(e)?;
        let estimate = finite(bar.estimate).filter(|_| !bar.suppressed);
        let Some(estimate) = estimate else {
            let reason = if bar.suppressed {
                "onderdrukt (te weinig waarnemingen)"
            } else {
                "geen schatting"
            };
            root.draw(&Text::new(
                reason,
                (plot_left + 6, middle),
                text(12.0, &GREY, Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(e)?;
            continue;
        };
        root.draw(&Rectangle::new(
            [
                (plot_left, top + 5),
                (x(estimate).max(plot_left + 1), top + ROW as i32 - 5),
            ],
            BAR.filled(),
        ))
        .map_err(e)?;
        if let (Some(lower), Some(upper)) = (finite(bar.ci_lower), finite(bar.ci_upper)) {
            let (a, b) = (x(lower), x(upper));
            root.draw(&PathElement::new(
                vec![(a, middle), (b, middle)],
                BLACK.stroke_width(1),
            ))
            .map_err(e)?;
            for cap in [a, b] {
                root.draw(&PathElement::new(
                    vec![(cap, middle - 5), (cap, middle + 5)],
                    BLACK.stroke_width(1),
                ))
                .map_err(e)?;
            }
        }
        let end = finite(bar.ci_upper).map_or(x(estimate), x).max(x(estimate));
        root.draw(&Text::new(
            format_value(estimate, chart.percent),
            (end + 6, middle),
            text(12.0, &BLACK, Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(e)?;
    }

    if let Some(reference) = finite(chart.reference) {
        let px = x(reference);
        let mut y = TOP as i32 - 4;
        while y < bottom {
            root.draw(&PathElement::new(
                vec![(px, y), (px, (y + 6).min(bottom))],
                RED.stroke_width(2),
            ))
            .map_err(e)?;
            y += 10;
        }
        let label = format!("totaal {}", format_value(reference, chart.percent));
        root.draw(&Text::new(
            label,
            (px, TOP as i32 - 8),
            text(12.0, &RED, Pos::new(HPos::Center, VPos::Bottom)),
        ))
        .map_err(e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BarChart {
        let bar = |label: &str, estimate: f64| Bar {
            label: label.to_string(),
            estimate: Some(estimate),
            ci_lower: Some(estimate - 0.03),
            ci_upper: Some(estimate + 0.03),
            suppressed: false,
        };
        BarChart {
            title: "Zeer zwaar belast of overbelast".into(),
            subtitle: "overbelast naar provincie, 2024".into(),
            percent: true,
            bars: vec![
                bar("Fryslân", 0.12),
                bar("Noord-Holland", 0.15),
                Bar {
                    label: "Zeeland".into(),
                    estimate: None,
                    ci_lower: None,
                    ci_upper: None,
                    suppressed: true,
                },
            ],
            reference: Some(0.13),
        }
    }

    #[test]
    fn svg_has_labels_values_and_suppression() {
        let svg = bar_chart_svg(&sample()).unwrap();
        for text in [
            "Zeer zwaar belast of overbelast",
            "Fryslân",
            "15,0%",
            "onderdrukt",
            "totaal 13,0%",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
    }

    #[test]
    fn png_is_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.png");
        bar_chart_png(&sample(), &path).unwrap();
        assert!(std::fs::read(&path)
            .unwrap()
            .starts_with(b"\x89PNG\r\n\x1a\n"));
    }

    #[test]
    fn degenerate_charts_do_not_fail() {
        let empty = BarChart {
            bars: Vec::new(),
            reference: None,
            ..sample()
        };
        assert!(bar_chart_svg(&empty).is_ok());
        let nan = BarChart {
            bars: vec![Bar {
                label: "x".repeat(90),
                estimate: Some(f64::NAN),
                ci_lower: None,
                ci_upper: None,
                suppressed: false,
            }],
            ..sample()
        };
        assert!(bar_chart_svg(&nan).unwrap().contains("geen schatting"));
    }
}
