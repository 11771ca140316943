//! Charts of published estimates, as SVG for the report and the web and PNG for slides.
//!
//! - Bar charts of one indicator × segmentation: a horizontal bar per segment with its 95%
//!   interval as a whisker, sorted by estimate (largest first), the national value as a dashed
//!   reference line labelled "totaal", and suppressed segments named but not drawn.
//! - Trend charts of one indicator across waves: per series (the national value "Totaal", or
//!   segments, in colour-blind safe colours and marker shapes with a legend when there are
//!   several) a line through the estimates with its 95% interval as a translucent band, and a
//!   value label at each point. Waves are evenly spaced categories labelled with the year. A
//!   suppressed point is not drawn: the line and band break there, and "onderdrukt" under the
//!   year says why. The value axis starts at zero unless that would flatten the trend.
//! - Forest plots of one model's coefficients: a line per coefficient (the levels of a
//!   categorical term under a line naming it) with a square mark at the estimate and its 95%
//!   interval as a whisker, the value and interval written beside it; odds and rate ratios on
//!   a log axis with a dashed line at 1, linear coefficients on a linear axis with the line at
//!   0. Suppressed coefficients and those without an estimate are not drawn; a note under the
//!   plot names them.
//!
//! Charts are drawn with plotters primitives in pixel coordinates, which keeps the layout under
//! our control (label column sized to the labels, value labels beside the whiskers and markers,
//! a legend that never leaves the canvas). Text uses the embedded DejaVu Sans (`assets/`),
//! registered once with plotters' ab_glyph font registry, so no system font is needed and Dutch
//! text (ë, ï, é, Fryslân) renders everywhere. Numbers are Dutch: decimal comma, `13,2%`.
//! plotters' ab_glyph renderer ignores glyph side bearings, which spaces letters unevenly in
//! bitmaps; PNG text is therefore drawn glyph by glyph with the bearings read from the font.

use std::cmp::Ordering;
use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::format;
use crate::spec::Wave;

/// One segment of a chart.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub estimate: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    pub suppressed: bool,
}

/// One indicator × segmentation.
#[derive(Debug, Clone)]
pub struct BarChart {
    pub title: String,
    pub subtitle: String,
    /// Proportions: values are shares (0–1), shown as percentages.
    pub percent: bool,
    pub bars: Vec<Bar>,
    /// The national (total) value, drawn as a dashed line.
    pub reference: Option<f64>,
}

/// One wave of a trend series.
#[derive(Debug, Clone)]
pub struct TrendPoint {
    pub wave: Wave,
    pub estimate: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    pub suppressed: bool,
}

/// One line of a trend chart: the national value ("Totaal") or one segment, across waves.
#[derive(Debug, Clone)]
pub struct TrendSeries {
    pub label: String,
    /// In wave order (they are sorted by wave before drawing all the same).
    pub points: Vec<TrendPoint>,
}

/// One indicator across waves, for one or more series.
#[derive(Debug, Clone)]
pub struct TrendChart {
    pub title: String,
    pub subtitle: String,
    /// Proportions: values are shares (0–1), shown as percentages.
    pub percent: bool,
    pub series: Vec<TrendSeries>,
}

/// One coefficient of a forest plot, in the model's units (log odds, log rates, or the
/// outcome's units).
#[derive(Debug, Clone)]
pub struct ForestRow {
    /// The term as the plot names it; the levels of one term are grouped under it.
    pub term: String,
    /// The level's label for a categorical term, `None` for a number.
    pub level: Option<String>,
    pub estimate: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    pub suppressed: bool,
}

/// The coefficients of one model in one wave (the intercept left out by the caller).
#[derive(Debug, Clone)]
pub struct ForestChart {
    pub title: String,
    pub subtitle: String,
    /// Logistic and poisson: drawn as ratios, `exp` of the coefficients, on a log axis with
    /// the line at 1; linear: as they are, with the line at 0.
    pub ratio: bool,
    /// What a value is: "odds ratio", "rate ratio", "coëfficiënt".
    pub measure: String,
    pub rows: Vec<ForestRow>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("chart {title:?}: {message}")]
    Draw { title: String, message: String },
}

/// Text shown instead of the bar of a suppressed segment.
pub const SUPPRESSED_TEXT: &str = "onderdrukt (ter bescherming van respondenten)";
const MISSING_TEXT: &str = "geen schatting";
const EMPTY_TEXT: &str = "geen gegevens";

const FONT: &str = "sans-serif";
const WIDTH: u32 = 900;
/// Title, subtitle and the reference legend.
const HEADER: i32 = 86;
const ROW: i32 = 28;
/// Axis line, ticks and tick labels.
const FOOTER: i32 = 38;
const MARGIN: i32 = 20;
/// Room right of the plot for the value label of the longest bar.
const VALUE_ROOM: i32 = 78;
const MAX_LABEL_CHARS: usize = 40;
const MAX_LABEL_PX: i32 = 300;
const MIN_LABEL_PX: i32 = 60;

const BAR_COLOR: RGBColor = RGBColor(46, 117, 182);
const WHISKER: RGBColor = RGBColor(34, 34, 34);
const REFERENCE: RGBColor = RGBColor(192, 57, 43);
const TEXT: RGBColor = RGBColor(34, 34, 34);
const MUTED: RGBColor = RGBColor(85, 85, 85);
const AXIS: RGBColor = RGBColor(150, 150, 150);
const GRID: RGBColor = RGBColor(230, 230, 230);

type Drawn<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// The chart as an SVG document (for files and for inlining in the report).
pub fn bar_chart_svg(chart: &BarChart) -> Result<String, ChartError> {
    ensure_font().map_err(|message| error(&chart.title, message))?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height(chart))).into_drawing_area();
        let canvas = Canvas {
            root: &root,
            glyphs: None,
        };
        draw(&canvas, chart).map_err(|e| error(&chart.title, e.to_string()))?;
        root.present()
            .map_err(|e| error(&chart.title, e.to_string()))?;
    }
    Ok(svg)
}

/// Writes the chart as a PNG file.
pub fn bar_chart_png(chart: &BarChart, path: &Path) -> Result<(), ChartError> {
    ensure_font().map_err(|message| error(&chart.title, message))?;
    write_png(path, WIDTH, height(chart), &chart.title, |canvas| {
        draw(canvas, chart)
    })
}

/// Draws into an RGB bitmap and writes it as a PNG with the `Sub` filter and fast deflate.
/// plotters' own PNG writer tries every filter on every line at the default compression, which
/// made PNG encoding the largest part of writing the charts; these charts (flat colours, text)
/// come out a little larger this way and are written several times faster.
fn write_png(
    path: &Path,
    width: u32,
    height: u32,
    title: &str,
    paint: impl for<'a, 'b> FnOnce(&Canvas<'a, BitMapBackend<'b>>) -> Drawn<BitMapBackend<'b>>,
) -> Result<(), ChartError> {
    // One buffer per thread, reused: a chart of 342 municipalities is 26 MB of pixels, and
    // fresh pages for every chart cost more than drawing it. It is not cleared: every chart
    // paints its whole background first (`fill(&WHITE)` in `bar`, `trend` and `forest`), over
    // whatever the thread's last chart left.
    thread_local! {
        static PIXELS: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    PIXELS.with_borrow_mut(|pixels| {
        pixels.resize(width as usize * height as usize * 3, 0);
        {
            let root = BitMapBackend::with_buffer(pixels, (width, height)).into_drawing_area();
            let canvas = Canvas {
                root: &root,
                glyphs: glyph_metrics(),
            };
            paint(&canvas).map_err(|e| error(title, e.to_string()))?;
            root.present().map_err(|e| error(title, e.to_string()))?;
        }
        let file = std::fs::File::create(path).map_err(|e| error(title, e.to_string()))?;
        let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_filter(png::FilterType::Sub);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder
            .write_header()
            .map_err(|e| error(title, e.to_string()))?;
        writer
            .write_image_data(pixels)
            .and_then(|()| writer.finish())
            .map_err(|e| error(title, e.to_string()))
    })
}

/// The trend chart as an SVG document (for files and for inlining in the report).
pub fn trend_chart_svg(chart: &TrendChart) -> Result<String, ChartError> {
    ensure_font().map_err(|message| error(&chart.title, message))?;
    let layout = TrendLayout::of(chart).map_err(|message| error(&chart.title, message))?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, layout.height)).into_drawing_area();
        let canvas = Canvas {
            root: &root,
            glyphs: None,
        };
        draw_trend(&canvas, chart, &layout).map_err(|e| error(&chart.title, e.to_string()))?;
        root.present()
            .map_err(|e| error(&chart.title, e.to_string()))?;
    }
    Ok(svg)
}

/// Writes the trend chart as a PNG file.
pub fn trend_chart_png(chart: &TrendChart, path: &Path) -> Result<(), ChartError> {
    ensure_font().map_err(|message| error(&chart.title, message))?;
    let layout = TrendLayout::of(chart).map_err(|message| error(&chart.title, message))?;
    write_png(path, WIDTH, layout.height, &chart.title, |canvas| {
        draw_trend(canvas, chart, &layout)
    })
}

/// The forest plot as an SVG document (for files and for inlining in the report).
pub fn forest_chart_svg(chart: &ForestChart) -> Result<String, ChartError> {
    ensure_font().map_err(|message| error(&chart.title, message))?;
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (WIDTH, forest_height(chart))).into_drawing_area();
        let canvas = Canvas {
            root: &root,
            glyphs: None,
        };
        draw_forest(&canvas, chart).map_err(|e| error(&chart.title, e.to_string()))?;
        root.present()
            .map_err(|e| error(&chart.title, e.to_string()))?;
    }
    Ok(svg)
}

/// Writes the forest plot as a PNG file.
pub fn forest_chart_png(chart: &ForestChart, path: &Path) -> Result<(), ChartError> {
    ensure_font().map_err(|message| error(&chart.title, message))?;
    write_png(path, WIDTH, forest_height(chart), &chart.title, |canvas| {
        draw_forest(canvas, chart)
    })
}

/// The marks of a forest plot's SVG document: one per coefficient drawn (for tests).
#[cfg(test)]
pub(crate) fn forest_marks(svg: &str) -> usize {
    let fill = format!(
        "fill=\"#{:02X}{:02X}{:02X}\"",
        forest::POINT.0,
        forest::POINT.1,
        forest::POINT.2
    );
    svg.matches(&fill).count()
}

fn error(title: &str, message: String) -> ChartError {
    ChartError::Draw {
        title: title.to_string(),
        message,
    }
}

mod bar;
mod canvas;
mod font;
mod forest;
mod trend;

use bar::*;
use canvas::*;
use font::*;
use forest::*;
use trend::*;

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
        Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    }

    fn bar(label: &str, estimate: f64) -> Bar {
        Bar {
            label: label.to_string(),
            estimate: Some(estimate),
            ci_lower: Some(estimate - 0.03),
            ci_upper: Some(estimate + 0.03),
            suppressed: false,
        }
    }

    fn suppressed(label: &str) -> Bar {
        Bar {
            label: label.to_string(),
            estimate: None,
            ci_lower: None,
            ci_upper: None,
            suppressed: true,
        }
    }

    fn sample() -> BarChart {
        BarChart {
            title: "Zeer zwaar belast of overbelast".into(),
            subtitle: "overbelast naar provincie, 2024 (95%-betrouwbaarheidsinterval)".into(),
            percent: true,
            bars: vec![
                bar("Fryslân", 0.12),
                suppressed("Zeeland"),
                bar("Noord-Holland", 0.152),
                bar("Gelderland <script>", 0.132),
            ],
            reference: Some(0.13),
        }
    }

    #[test]
    fn svg_has_title_labels_values_and_suppression() {
        let svg = bar_chart_svg(&sample()).expect("svg");
        for text in [
            "Zeer zwaar belast of overbelast",
            "Fryslân",
            "Noord-Holland",
            "Zeeland",
            "15,2%",
            "13,2%",
            SUPPRESSED_TEXT,
            "totaal 13,0%",
        ] {
            assert!(svg.contains(text), "{text} missing from the svg");
        }
        assert!(svg.contains("&lt;script&gt;") && !svg.contains("<script"));
    }

    #[test]
    fn bars_are_sorted_largest_first_suppressed_last() {
        let chart = sample();
        let order: Vec<&str> = sorted_bars(&chart)
            .iter()
            .map(|b| b.label.as_str())
            .collect();
        assert_eq!(
            order,
            ["Noord-Holland", "Gelderland <script>", "Fryslân", "Zeeland"]
        );
    }

    #[test]
    fn png_is_a_png() {
        let dir = std::env::temp_dir().join(format!("peiling-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("chart.png");
        bar_chart_png(&sample(), &path).expect("png");
        let bytes = std::fs::read(&path).expect("read png");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    }

    #[test]
    fn degenerate_charts_draw() {
        let base = sample();
        let charts = [
            BarChart {
                bars: Vec::new(),
                reference: None,
                ..base.clone()
            },
            BarChart {
                bars: vec![suppressed("a"), suppressed("b")],
                ..base.clone()
            },
            BarChart {
                bars: vec![bar("enige", 0.5)],
                reference: Some(f64::NAN),
                ..base.clone()
            },
            BarChart {
                bars: vec![Bar {
                    label: "x".repeat(90),
                    estimate: Some(f64::NAN),
                    ci_lower: Some(f64::INFINITY),
                    ci_upper: None,
                    suppressed: false,
                }],
                title: String::new(),
                subtitle: String::new(),
                ..base.clone()
            },
            BarChart {
                percent: false,
                bars: vec![bar("negatief", -2.0), bar("groot", 12345.6)],
                ..base.clone()
            },
            BarChart {
                bars: vec![bar("nul", 0.0), bar("alles", 1.0)],
                ..base.clone()
            },
            BarChart {
                percent: false,
                bars: vec![bar("enorm", f64::MAX), bar("klein", -f64::MAX)],
                reference: Some(1e300),
                ..base
            },
        ];
        let dir = std::env::temp_dir().join(format!("peiling-degenerate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        for (index, chart) in charts.iter().enumerate() {
            let svg = bar_chart_svg(chart).expect("svg");
            assert!(svg.contains("<svg"));
            bar_chart_png(chart, &dir.join(format!("{index}.png"))).expect("png");
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(bar_chart_svg(&charts[0]).expect("svg").contains(EMPTY_TEXT));
        assert!(bar_chart_svg(&charts[3])
            .expect("svg")
            .contains(MISSING_TEXT));
    }

    #[test]
    fn long_labels_are_cut() {
        let chart = BarChart {
            bars: vec![bar(&"Súdwest-Fryslân ".repeat(6), 0.2)],
            ..sample()
        };
        let svg = bar_chart_svg(&chart).expect("svg");
        assert!(svg.contains("Súdwest-Fryslân Súdwest") && svg.contains('…'));
        assert!(!svg.contains(&"Súdwest-Fryslân ".repeat(3)));
    }

    #[test]
    fn glyph_bearings_are_read_from_the_font() {
        let glyphs = glyph_metrics().expect("font metrics");
        // DejaVu Sans: 'l' has a left bearing of 193 units, 1 px at 13 px; 'a' of 123.
        assert_eq!(glyphs.bearing_px('l', 13.0), 1);
        assert_eq!(glyphs.bearing_px('a', 13.0), 0);
        assert_eq!(glyphs.bearing_px('😀', 13.0), 0);
    }

    /// Bitmap text from the glyph cache is pixel for pixel what plotters draws when every
    /// glyph is its own left-anchored `Text` at the pen position plotters measures for the
    /// prefix before it, plus the glyph's bearing (how PNG text was drawn before the cache).
    #[test]
    fn cached_glyphs_draw_what_plotters_draws() {
        ensure_font().expect("font");
        let glyphs = glyph_metrics().expect("font metrics");
        let texts = [
            "Súdwest-Fryslân",
            "AVAWAY Tj, ‘ëï’ 13,2% (12,1–14,4)",
            "  spaties  en\ttab ",
            "😀 geen glyph",
            "",
        ];
        let (width, height) = (700u32, 60u32);
        let draw = |cached: bool, text: &str, size: f64, h: HPos, v: VPos| {
            let mut pixels = vec![255u8; (width * height * 3) as usize];
            {
                let root =
                    BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
                let style = canvas::style(size, &TEXT, h, v);
                let at = (350, 30);
                if cached {
                    let canvas = Canvas {
                        root: &root,
                        glyphs: Some(glyphs),
                    };
                    canvas.text(text, at, &style).expect("cached");
                } else {
                    let measure = |prefix: &str| {
                        let zoomed = TextStyle {
                            font: style.font.resize(size * 64.0),
                            ..style.clone()
                        };
                        let (w, _) = root.estimate_text_size(prefix, &zoomed).expect("size");
                        f64::from(w) / 64.0
                    };
                    let left = f64::from(at.0)
                        - match h {
                            HPos::Left => 0.0,
                            HPos::Center => measure(text) / 2.0,
                            HPos::Right => measure(text),
                        };
                    let glyph_style = style.pos(Pos::new(HPos::Left, v));
                    for (index, c) in text.char_indices() {
                        if c.is_whitespace() {
                            continue;
                        }
                        let pen = (left + measure(&text[..index])).round() as i32;
                        let mut buffer = [0u8; 4];
                        let glyph = Text::new(
                            &*c.encode_utf8(&mut buffer),
                            (pen + glyphs.bearing_px(c, size), at.1),
                            glyph_style.clone(),
                        );
                        root.draw(&glyph).expect("plotters");
                    }
                }
                root.present().expect("present");
            }
            pixels
        };
        let mut inked = 0;
        for text in texts {
            for size in [11.0, 13.0, 17.5, 20.0] {
                for (anchor, h, v) in [
                    ("left top", HPos::Left, VPos::Top),
                    ("centre", HPos::Center, VPos::Center),
                    ("right bottom", HPos::Right, VPos::Bottom),
                ] {
                    let cached = draw(true, text, size, h, v);
                    assert!(
                        cached == draw(false, text, size, h, v),
                        "{text:?} at {size} px, {anchor}"
                    );
                    inked += usize::from(cached.iter().any(|&p| p != 255));
                }
            }
        }
        assert_eq!(inked, 4 * 4 * 3, "every text but the empty one draws ink");
    }

    #[test]
    fn axis_is_rounded_and_capped() {
        let axis = Axis::of(&sample());
        assert_eq!((axis.min, axis.max, axis.step), (0.0, 25.0, 5.0));
        let full = BarChart {
            bars: vec![bar("alles", 0.99)],
            ..sample()
        };
        assert_eq!(Axis::of(&full).max, 100.0);
        assert_eq!(Axis::of(&full).tick_label(20.0, true), "20%");
    }

    fn point(wave: i32, estimate: f64) -> TrendPoint {
        TrendPoint {
            wave: wave.into(),
            estimate: Some(estimate),
            ci_lower: Some(estimate - 0.03),
            ci_upper: Some(estimate + 0.03),
            suppressed: false,
        }
    }

    fn hidden(wave: i32) -> TrendPoint {
        TrendPoint {
            wave: wave.into(),
            estimate: None,
            ci_lower: None,
            ci_upper: None,
            suppressed: true,
        }
    }

    fn series(label: &str, points: Vec<TrendPoint>) -> TrendSeries {
        TrendSeries {
            label: label.to_string(),
            points,
        }
    }

    fn trend_sample() -> TrendChart {
        TrendChart {
            title: "Zeer zwaar belast of overbelast".into(),
            subtitle: "overbelast, 2018–2024 (95%-betrouwbaarheidsinterval)".into(),
            percent: true,
            series: vec![
                series(
                    "Totaal",
                    vec![
                        point(2018, 0.118),
                        point(2020, 0.132),
                        point(2022, 0.127),
                        point(2024, 0.141),
                    ],
                ),
                series(
                    "Fryslân",
                    vec![
                        point(2018, 0.102),
                        hidden(2020),
                        point(2022, 0.115),
                        point(2024, 0.123),
                    ],
                ),
            ],
        }
    }

    /// Width and height from the IHDR chunk, after checking the signature, that every chunk
    /// is whole with a correct CRC, and that image data and the end chunk are there.
    fn png_size(bytes: &[u8]) -> (u32, u32) {
        fn crc32(bytes: &[u8]) -> u32 {
            let mut crc = !0u32;
            for &byte in bytes {
                crc ^= u32::from(byte);
                for _ in 0..8 {
                    crc = if crc & 1 == 1 {
                        (crc >> 1) ^ 0xEDB8_8320
                    } else {
                        crc >> 1
                    };
                }
            }
            !crc
        }
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "no PNG signature");
        let mut kinds = Vec::new();
        let mut size = None;
        let mut at = 8;
        while at < bytes.len() {
            let length = u32_at(bytes, at).expect("chunk length") as usize;
            let body = bytes.get(at + 4..at + 8 + length).expect("whole chunk");
            let crc = u32_at(bytes, at + 8 + length).expect("chunk crc");
            assert_eq!(crc32(body), crc, "bad CRC");
            let (kind, data) = body.split_at(4);
            if kind == b"IHDR" {
                size = Some((
                    u32_at(data, 0).expect("width"),
                    u32_at(data, 4).expect("height"),
                ));
            }
            kinds.push(kind.to_vec());
            at += 12 + length;
        }
        assert_eq!(kinds.first().map(Vec::as_slice), Some(&b"IHDR"[..]));
        assert_eq!(kinds.last().map(Vec::as_slice), Some(&b"IEND"[..]));
        assert!(kinds.iter().any(|kind| kind == b"IDAT"));
        size.expect("IHDR")
    }

    /// The trend chart drawn into an RGB buffer the way the PNG is.
    fn trend_pixels(chart: &TrendChart) -> Vec<[u8; 3]> {
        ensure_font().expect("font");
        let layout = TrendLayout::of(chart).expect("layout");
        let mut buffer = vec![0u8; (WIDTH * layout.height * 3) as usize];
        {
            let root =
                BitMapBackend::with_buffer(&mut buffer, (WIDTH, layout.height)).into_drawing_area();
            let canvas = Canvas {
                root: &root,
                glyphs: glyph_metrics(),
            };
            draw_trend(&canvas, chart, &layout).expect("draw");
            root.present().expect("present");
        }
        buffer.chunks(3).map(|p| [p[0], p[1], p[2]]).collect()
    }

    #[test]
    fn trend_svg_has_title_waves_values_legend_and_suppression() {
        let svg = trend_chart_svg(&trend_sample()).expect("svg");
        for text in [
            "Zeer zwaar belast of overbelast",
            "2018",
            "2020",
            "2022",
            "2024",
            "13,2%",
            "10,2%",
            "Totaal",
            "Fryslân",
            TREND_SUPPRESSED_TEXT,
        ] {
            assert!(svg.contains(text), "{text} missing from the svg");
        }
        assert!(svg.contains(&format!("height=\"{TREND_HEIGHT}\"")));
        // Years are labels, not numbers: no thousands separator.
        assert!(!svg.contains("2.024\n"));
        // One series: no legend, no marker before the note.
        let single = TrendChart {
            series: vec![series(
                "Totaal",
                vec![point(2020, 0.2), hidden(2022), point(2024, 0.25)],
            )],
            ..trend_sample()
        };
        let svg = trend_chart_svg(&single).expect("svg");
        assert!(!svg.contains("Totaal") && svg.contains(TREND_SUPPRESSED_TEXT));
    }

    #[test]
    fn trend_png_has_the_expected_size() {
        let dir = std::env::temp_dir().join(format!("peiling-trend-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("trend.png");
        trend_chart_png(&trend_sample(), &path).expect("png");
        let bytes = std::fs::read(&path).expect("read png");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(png_size(&bytes), (WIDTH, TREND_HEIGHT));
    }

    #[test]
    fn suppressed_points_break_the_line() {
        let layout = TrendLayout::of(&trend_sample()).expect("layout");
        let numbers =
            |waves: &[Wave]| -> Vec<i32> { waves.iter().map(|w| w.number().unwrap()).collect() };
        assert_eq!(numbers(&layout.waves), [2018, 2020, 2022, 2024]);
        let waves = |index: usize| -> Vec<Vec<i32>> {
            runs(&layout.series[index], |p| p.estimate)
                .iter()
                .map(|run| {
                    run.iter()
                        .map(|&(wave, _)| wave.number().unwrap())
                        .collect()
                })
                .collect()
        };
        assert_eq!(waves(0), [vec![2018, 2020, 2022, 2024]]);
        assert_eq!(waves(1), [vec![2018], vec![2022, 2024]]);
        // Only Fryslân is suppressed in 2020: a note with its marker.
        assert_eq!(layout.notes, [vec![], vec![Some(1)], vec![], vec![]]);
        // Nothing of a fully suppressed series is drawn.
        let blue = [PALETTE[0].0, PALETTE[0].1, PALETTE[0].2];
        let count = |chart: &TrendChart| trend_pixels(chart).iter().filter(|&&p| p == blue).count();
        assert!(count(&trend_sample()) > 200);
        let gone = TrendChart {
            series: vec![series("Totaal", vec![hidden(2020), hidden(2022)])],
            ..trend_sample()
        };
        assert_eq!(count(&gone), 0);
    }

    #[test]
    fn degenerate_trend_charts_draw() {
        let base = trend_sample();
        let weird = TrendPoint {
            wave: 2021.into(),
            estimate: Some(f64::NAN),
            ci_lower: Some(f64::NEG_INFINITY),
            ci_upper: Some(f64::INFINITY),
            suppressed: false,
        };
        let bare = |wave: i32, estimate: f64| TrendPoint {
            ci_lower: None,
            ci_upper: None,
            ..point(wave, estimate)
        };
        let charts = [
            TrendChart {
                series: Vec::new(),
                ..base.clone()
            },
            TrendChart {
                series: vec![series("leeg", Vec::new()), series("ook leeg", Vec::new())],
                ..base.clone()
            },
            TrendChart {
                series: vec![
                    series("a", vec![hidden(2020), hidden(2022)]),
                    series("b", vec![hidden(2020)]),
                ],
                ..base.clone()
            },
            TrendChart {
                series: vec![series("één meting", vec![point(2024, 0.5)])],
                ..base.clone()
            },
            TrendChart {
                series: vec![series(
                    "x",
                    vec![weird.clone(), bare(2022, 0.3), bare(2023, f64::INFINITY)],
                )],
                title: String::new(),
                subtitle: String::new(),
                ..base.clone()
            },
            TrendChart {
                series: vec![series("alleen nan", vec![weird])],
                ..base.clone()
            },
            TrendChart {
                percent: false,
                series: vec![series(
                    "rapportcijfer",
                    vec![
                        point(2024, 7.31),
                        point(2018, 7.12),
                        point(2020, 7.2),
                        point(2020, 7.25),
                    ],
                )],
                ..base.clone()
            },
            TrendChart {
                percent: false,
                series: vec![
                    series("negatief", vec![point(2020, -2.0), point(2022, -1.0)]),
                    series("enorm", vec![point(2020, f64::MAX), point(2022, -f64::MAX)]),
                ],
                ..base.clone()
            },
            TrendChart {
                series: (0..12)
                    .map(|i| {
                        let label = format!("{} {i}", "Súdwest-Fryslân ".repeat(4));
                        let points = (0..30)
                            .map(|w| {
                                if (w + i) % 7 == 0 {
                                    hidden(1995 + w)
                                } else {
                                    point(1995 + w, 0.5 + 0.01 * f64::from(i))
                                }
                            })
                            .collect();
                        series(&label, points)
                    })
                    .collect(),
                ..base.clone()
            },
            TrendChart {
                series: vec![series(
                    "alles",
                    vec![point(2020, 1.0), point(2022, 0.99), point(2024, 1.5)],
                )],
                ..base
            },
        ];
        let dir = std::env::temp_dir().join(format!("peiling-trends-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut svgs = Vec::new();
        for (index, chart) in charts.iter().enumerate() {
            let svg = trend_chart_svg(chart).expect("svg");
            assert!(svg.contains("<svg"));
            let path = dir.join(format!("{index}.png"));
            trend_chart_png(chart, &path).expect("png");
            let (width, height) = png_size(&std::fs::read(&path).expect("read png"));
            assert!(width == WIDTH && height >= TREND_HEIGHT);
            svgs.push(svg);
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(svgs[0].contains(EMPTY_TEXT) && svgs[1].contains(EMPTY_TEXT));
        assert!(svgs[2].contains(SUPPRESSED_TEXT) && svgs[2].contains("2022"));
        assert!(svgs[3].contains("2024") && svgs[3].contains("50,0%"));
        assert!(svgs[4].contains("30,0%") && svgs[4].contains("2021"));
        assert!(svgs[5].contains(MISSING_TEXT));
        assert!(svgs[6].contains("7,3"));
    }

    #[test]
    fn dutch_characters_survive_in_trend_charts() {
        let chart = TrendChart {
            title: "Eenzaamheid in Fryslân, ïdeeën en coördinatie".into(),
            subtitle: "naar regio, 2018–2024 (één meting per jaar)".into(),
            ..trend_sample()
        };
        let svg = trend_chart_svg(&chart).expect("svg");
        assert!(svg.contains("Eenzaamheid in Fryslân, ïdeeën en coördinatie"));
        assert!(svg.contains("(één meting per jaar)"));
    }

    #[test]
    fn trend_axis_starts_at_zero_unless_that_flattens_the_trend() {
        let low = [8.0, 10.2, 13.0, 16.0];
        assert_eq!(Axis::trend(&low, true).min, 0.0);
        let high = [83.0, 86.5, 90.0, 94.0];
        let axis = Axis::trend(&high, true);
        assert!(
            axis.min >= 80.0 && axis.max <= 100.0 && axis.max >= 94.0,
            "{axis:?}"
        );
        let grades = [7.0, 7.2, 7.5];
        let axis = Axis::trend(&grades, false);
        assert!(
            axis.min > 6.0 && axis.min <= 7.0 && axis.max >= 7.5,
            "{axis:?}"
        );
        // One value without an interval: nothing to zoom in on.
        assert_eq!(Axis::trend(&[40.0], true).min, 0.0);
        assert_eq!(Axis::trend(&[], true), Axis::from_zero(&[], true));
        assert!(Axis::trend(&[-9.0, -8.0], false).max <= -7.0);
    }

    #[test]
    fn value_labels_are_spread() {
        assert_eq!(spread(&[100, 104, 200], 15, 0, 500), [100, 115, 200]);
        assert_eq!(spread(&[490, 495], 15, 0, 492), [477, 492]);
        assert_eq!(spread(&[], 15, 0, 100), Vec::<i32>::new());
    }

    fn coefficient(term: &str, level: Option<&str>, ratio: f64, spread: f64) -> ForestRow {
        ForestRow {
            term: term.to_string(),
            level: level.map(str::to_string),
            estimate: Some(ratio.ln()),
            ci_lower: Some(ratio.ln() - spread),
            ci_upper: Some(ratio.ln() + spread),
            suppressed: false,
        }
    }

    fn forest_sample() -> ForestChart {
        ForestChart {
            title: "Zeer zwaar belast of overbelast".into(),
            subtitle: "overbelast_model, 2024: odds ratio's (95%-betrouwbaarheidsinterval)".into(),
            ratio: true,
            measure: "odds ratio".into(),
            rows: vec![
                coefficient("Werksituatie", Some("betaald werk <12 uur"), 0.5, 0.2),
                ForestRow {
                    estimate: None,
                    ci_lower: None,
                    ci_upper: None,
                    suppressed: true,
                    ..coefficient("Werksituatie", Some("student of scholier"), 1.0, 0.0)
                },
                coefficient("Werksituatie", Some("gepensioneerd"), 1.25, 0.1),
                coefficient("Uren mantelzorg per week", None, 1.018, 0.003),
                ForestRow {
                    estimate: None,
                    ci_lower: None,
                    ci_upper: None,
                    ..coefficient("Leeftijd", Some("85 of ouder"), 1.0, 0.0)
                },
            ],
        }
    }

    #[test]
    fn forest_svg_has_terms_levels_values_and_what_is_left_out() {
        let svg = forest_chart_svg(&forest_sample()).expect("svg");
        for text in [
            "Zeer zwaar belast of overbelast",
            "Werksituatie",
            "betaald werk &lt;12 uur",
            "gepensioneerd",
            "Uren mantelzorg per week",
            "odds ratio (95%-BI)",
            "odds ratio (logaritmische schaal)",
            "0,500 (0,409 – 0,611)",
            "1,018",
            "niet getoond: Werksituatie: student of scholier (onderdrukt)",
            "niet getoond: Leeftijd: 85 of ouder (geen schatting)",
        ] {
            assert!(svg.contains(text), "{text} missing from the svg");
        }
        // The term is named once, above its levels.
        assert_eq!(svg.matches(">\nWerksituatie\n<").count(), 1, "{svg}");
        assert_eq!(forest_marks(&svg), 3);
        assert_eq!(forest_lines(&forest_sample()).len(), 4);
        assert!(svg.contains(&format!("height=\"{}\"", forest_height(&forest_sample()))));
    }

    #[test]
    fn forest_axes_are_log_for_ratios_and_hold_the_line_of_no_effect() {
        let labels = |scale: &forest::Scale| -> Vec<String> {
            scale.ticks.iter().map(|(_, label)| label.clone()).collect()
        };
        let narrow = forest::Scale::log(&[0.9f64.ln(), 1.1f64.ln()]);
        assert_eq!(labels(&narrow), ["0,9", "0,95", "1", "1,05", "1,1"]);
        let wide = forest::Scale::log(&[0.2f64.ln(), 5f64.ln()]);
        assert_eq!(labels(&wide), ["0,25", "0,5", "1", "2", "4"]);
        let huge = forest::Scale::log(&[-14.0, 14.0]);
        assert_eq!(labels(&huge)[3], "1");
        assert!(huge.ticks.len() <= 9, "{huge:?}");
        for scale in [&narrow, &wide, &huge] {
            assert!(scale.ticks.iter().any(|(t, l)| t.abs() < 1e-12 && l == "1"));
            assert!(scale.min < 0.0 && scale.max > 0.0);
        }
        let linear = forest::Scale::linear(&[0.4, 0.8]);
        assert!(
            linear.ticks.iter().any(|(t, l)| *t == 0.0 && l == "0,0"),
            "{linear:?}"
        );
        assert_eq!(linear.min, 0.0);
        let flat = forest::Scale::log(&[]);
        assert!(flat.min < 0.0 && flat.max > 0.0);
    }

    #[test]
    fn linear_forest_plots_and_degenerate_ones_draw() {
        let base = forest_sample();
        let linear = ForestChart {
            ratio: false,
            measure: "coëfficiënt".into(),
            rows: vec![
                ForestRow {
                    estimate: Some(-1.5),
                    ci_lower: Some(-2.25),
                    ci_upper: Some(-0.75),
                    ..base.rows[0].clone()
                },
                ForestRow {
                    estimate: Some(0.25),
                    ci_lower: None,
                    ci_upper: None,
                    ..base.rows[3].clone()
                },
            ],
            ..base.clone()
        };
        let svg = forest_chart_svg(&linear).expect("svg");
        assert!(svg.contains("-1,500 (-2,250 – -0,750)") && svg.contains("0,250"));
        assert!(!svg.contains("logaritmische"));
        assert_eq!(forest_marks(&svg), 2);
        let many = (0..40)
            .map(|i| ForestRow {
                term: format!("{} {i}", "Súdwest-Fryslân ".repeat(8)),
                suppressed: true,
                ..coefficient("", Some("x"), 1.0, 0.1)
            })
            .collect();
        let charts = [
            linear,
            ForestChart {
                rows: Vec::new(),
                title: String::new(),
                subtitle: String::new(),
                ..base.clone()
            },
            ForestChart {
                rows: many,
                ..base.clone()
            },
            ForestChart {
                rows: vec![
                    ForestRow {
                        estimate: Some(f64::NAN),
                        ci_lower: Some(f64::NEG_INFINITY),
                        ci_upper: Some(f64::INFINITY),
                        ..base.rows[0].clone()
                    },
                    ForestRow {
                        estimate: Some(1e300),
                        ci_lower: Some(-1e300),
                        ci_upper: Some(f64::MAX),
                        ..base.rows[2].clone()
                    },
                ],
                ..base.clone()
            },
            ForestChart {
                ratio: false,
                rows: vec![ForestRow {
                    estimate: Some(f64::MAX),
                    ci_lower: Some(-f64::MAX),
                    ci_upper: Some(f64::MAX),
                    ..base.rows[0].clone()
                }],
                ..base
            },
        ];
        let dir = std::env::temp_dir().join(format!("peiling-forest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut svgs = Vec::new();
        for (index, chart) in charts.iter().enumerate() {
            let svg = forest_chart_svg(chart).expect("svg");
            let path = dir.join(format!("{index}.png"));
            forest_chart_png(chart, &path).expect("png");
            let size = png_size(&std::fs::read(&path).expect("read png"));
            assert_eq!(size, (WIDTH, forest_height(chart)));
            svgs.push(svg);
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(svgs[1].contains(EMPTY_TEXT));
        assert!(svgs[2].contains(SUPPRESSED_TEXT) && svgs[2].contains("en nog 33 coëfficiënten"));
        assert_eq!(forest_marks(&svgs[3]), 1);
        assert_eq!(forest_marks(&svgs[4]), 1);
        assert_eq!(forest_chart_svg(&charts[0]).expect("svg"), svgs[0]);
    }

    /// The pixel buffer of a thread is reused without clearing it: every kind of chart drawn
    /// over what the thread's charts before it left is the chart drawn on a fresh thread.
    #[test]
    fn a_chart_drawn_over_others_is_the_chart_drawn_alone() {
        let dir = tempfile::tempdir().expect("temp dir");
        let draw = |kind: &str, path: &Path| match kind {
            "bar" => bar_chart_png(&sample(), path).expect("bar"),
            "trend" => trend_chart_png(&trend_sample(), path).expect("trend"),
            _ => forest_chart_png(&forest_sample(), path).expect("forest"),
        };
        let kinds = ["forest", "trend", "bar", "forest", "trend", "bar"];
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for (i, kind) in kinds.iter().enumerate() {
                    draw(kind, &dir.path().join(format!("{i}-over.png")));
                }
            });
        });
        for (i, kind) in kinds.iter().enumerate() {
            let alone = dir.path().join(format!("{i}-alone.png"));
            std::thread::scope(|scope| {
                scope.spawn(|| draw(kind, &alone));
            });
            let over = std::fs::read(dir.path().join(format!("{i}-over.png"))).expect("read");
            assert!(
                over == std::fs::read(&alone).expect("read"),
                "{kind}, chart {i}"
            );
        }
    }
}
