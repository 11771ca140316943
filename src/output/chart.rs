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
    pub wave: i32,
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
    let mut pixels = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
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
        .write_image_data(&pixels)
        .and_then(|()| writer.finish())
        .map_err(|e| error(title, e.to_string()))
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

fn error(title: &str, message: String) -> ChartError {
    ChartError::Draw {
        title: title.to_string(),
        message,
    }
}

static FONT_BYTES: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/DejaVuSans.ttf"
));

/// Registers the embedded font with plotters, once per process.
fn ensure_font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES)
                .map_err(|_| "the embedded font DejaVuSans.ttf is not a valid font".to_string())
        })
        .clone()
}

/// Side bearings of the embedded font, parsed once; `None` if the font cannot be read.
fn glyph_metrics() -> Option<&'static GlyphMetrics> {
    static METRICS: OnceLock<Option<GlyphMetrics>> = OnceLock::new();
    METRICS
        .get_or_init(|| GlyphMetrics::parse(FONT_BYTES))
        .as_ref()
}

fn height(chart: &BarChart) -> u32 {
    let rows = i32::try_from(chart.bars.len().max(1)).unwrap_or(i32::MAX / ROW - 10);
    u32::try_from(HEADER + FOOTER + ROW * rows).unwrap_or(u32::MAX)
}

fn finite(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite())
}

/// The estimate to draw: `None` for suppressed bars and missing or non-finite estimates.
fn drawn_estimate(bar: &Bar) -> Option<f64> {
    finite(bar.estimate).filter(|_| !bar.suppressed)
}

/// Bars with an estimate first, largest first; then bars without one; suppressed bars last.
fn sorted_bars(chart: &BarChart) -> Vec<&Bar> {
    let rank = |bar: &Bar| match (bar.suppressed, drawn_estimate(bar)) {
        (false, Some(_)) => 0,
        (false, None) => 1,
        (true, _) => 2,
    };
    let mut bars: Vec<&Bar> = chart.bars.iter().collect();
    bars.sort_by(|a, b| {
        rank(a)
            .cmp(&rank(b))
            .then_with(|| match (drawn_estimate(a), drawn_estimate(b)) {
                (Some(x), Some(y)) => y.total_cmp(&x),
                _ => Ordering::Equal,
            })
    });
    bars
}

/// The value axis in display units (percent points when `percent`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Axis {
    min: f64,
    max: f64,
    step: f64,
    /// Display units per data unit: 100 for shares.
    scale: f64,
}

impl Axis {
    fn of(chart: &BarChart) -> Axis {
        let scale = if chart.percent { 100.0 } else { 1.0 };
        let values: Vec<f64> = chart
            .bars
            .iter()
            .filter(|bar| !bar.suppressed)
            .flat_map(|bar| [bar.estimate, bar.ci_lower, bar.ci_upper])
            .chain([chart.reference])
            .filter_map(finite)
            .map(|v| v * scale)
            .collect();
        Axis::from_zero(&values, chart.percent)
    }

    /// An axis from zero (or from below zero for negative values) to past the largest value,
    /// for `values` in display units; a percent axis is 0–100% at most.
    fn from_zero(values: &[f64], percent: bool) -> Axis {
        let largest = values.iter().copied().fold(0.0, f64::max);
        let smallest = values.iter().copied().fold(0.0, f64::min);
        let mut top = largest * 1.1;
        let mut bottom = smallest * 1.1;
        if percent {
            top = top.min(100.0);
            bottom = 0.0;
        }
        if top - bottom <= f64::EPSILON {
            top = bottom + if percent { 10.0 } else { 1.0 };
        }
        Axis::rounded(bottom, top, percent)
    }

    /// The value axis of a trend chart, `values` in display units: from zero like the bar
    /// axis, unless all values lie so far from zero (the smallest above two thirds of the
    /// largest) that a zero-based axis would leave most of the plot empty and flatten the
    /// trend; then the axis spans the values with a little room. Percent axes never go below
    /// 0% or (for shares up to 1) above 100%.
    fn trend(values: &[f64], percent: bool) -> Axis {
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let spread = hi - lo;
        let far_from_zero =
            (lo > 0.0 && lo > hi * 2.0 / 3.0) || (!percent && hi < 0.0 && hi < lo * 2.0 / 3.0);
        if !far_from_zero || !spread.is_finite() || spread <= 1e-9 * hi.abs().max(lo.abs()) {
            return Axis::from_zero(values, percent);
        }
        let (mut bottom, mut top) = (lo - 0.1 * spread, hi + 0.1 * spread);
        if percent {
            bottom = bottom.max(0.0);
            if hi <= 100.0 {
                top = top.min(100.0);
            }
        }
        Axis::rounded(bottom, top, percent)
    }

    /// Ticks at a nice step, the ends rounded outwards to whole steps.
    fn rounded(bottom: f64, top: f64, percent: bool) -> Axis {
        let step = nice_step((top - bottom) / 5.0);
        let mut max = (top / step).ceil() * step;
        let min = (bottom / step).floor() * step;
        if percent && top <= 100.0 {
            max = max.min(100.0);
        }
        Axis {
            min,
            max,
            step,
            scale: if percent { 100.0 } else { 1.0 },
        }
    }

    fn ticks(&self) -> Vec<f64> {
        let count = ((self.max - self.min) / self.step)
            .round()
            .clamp(0.0, 100.0) as usize;
        (0..=count)
            .map(|i| self.min + self.step * i as f64)
            .collect()
    }

    fn decimals(&self) -> usize {
        (0..4)
            .find(|&d| {
                let scaled = self.step * 10f64.powi(d as i32);
                (scaled - scaled.round()).abs() < 1e-6
            })
            .unwrap_or(4)
    }

    fn tick_label(&self, tick: f64, percent: bool) -> String {
        let number = format::number(tick, self.decimals());
        if percent {
            format!("{number}%")
        } else {
            number
        }
    }
}

/// 1, 2, 2.5 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !raw.is_finite() || raw <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|step| *step >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * power)
}

/// Pixel geometry of one chart.
struct Frame {
    axis: Axis,
    left: i32,
    right: i32,
    top: i32,
    bottom: i32,
}

impl Frame {
    /// Pixel column of a value in data units, clamped to the plot.
    fn x(&self, value: f64) -> i32 {
        let display = (value * self.axis.scale).clamp(self.axis.min, self.axis.max);
        let share = (display - self.axis.min) / (self.axis.max - self.axis.min);
        self.left + (share * f64::from(self.right - self.left)).round() as i32
    }

    /// Pixel column of a tick in display units.
    fn tick_x(&self, tick: f64) -> i32 {
        self.x(tick / self.axis.scale)
    }

    fn row_top(&self, index: usize) -> i32 {
        self.top + ROW * i32::try_from(index).unwrap_or(0)
    }
}

fn style(size: f64, color: &RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle {
        color: color.to_backend_color(),
        ..TextStyle::from((FONT, size).into_font()).pos(Pos::new(h, v))
    }
}

type Measured<DB, T> = Result<T, DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A drawing area with text drawing that is exact on bitmaps too.
struct Canvas<'a, DB: DrawingBackend> {
    root: &'a DrawingArea<DB, Shift>,
    /// Set for bitmaps: plotters' ab_glyph renderer places every glyph at the pen position,
    /// ignoring its left side bearing, which makes letter spacing uneven ("Zeel and"). With
    /// the bearings known, text is drawn glyph by glyph at the right place.
    glyphs: Option<&'static GlyphMetrics>,
}

impl<DB: DrawingBackend> Canvas<'_, DB> {
    fn width(&self, text: &str, style: &TextStyle) -> Measured<DB, i32> {
        let (width, _) = self.root.estimate_text_size(text, style)?;
        Ok(i32::try_from(width).unwrap_or(i32::MAX))
    }

    /// Width in fractional pixels, measured at a large size (plotters rounds widths down).
    fn exact_width(&self, text: &str, style: &TextStyle) -> Measured<DB, f64> {
        const ZOOM: f64 = 64.0;
        let large = TextStyle {
            font: style.font.resize(style.font.get_size() * ZOOM),
            ..style.clone()
        };
        let (width, _) = self.root.estimate_text_size(text, &large)?;
        Ok(f64::from(width) / ZOOM)
    }

    fn text(&self, text: &str, (x, y): (i32, i32), style: &TextStyle) -> Drawn<DB> {
        let Some(glyphs) = self.glyphs else {
            return self.root.draw(&Text::new(text, (x, y), style.clone()));
        };
        let left = f64::from(x)
            - match style.pos.h_pos {
                HPos::Left => 0.0,
                HPos::Center => self.exact_width(text, style)? / 2.0,
                HPos::Right => self.exact_width(text, style)?,
            };
        let glyph_style = style.pos(Pos::new(HPos::Left, style.pos.v_pos));
        for (index, c) in text.char_indices() {
            if c.is_whitespace() {
                continue;
            }
            let pen = (left + self.exact_width(&text[..index], style)?).round() as i32;
            let bearing = glyphs.bearing_px(c, style.font.get_size());
            let mut buffer = [0u8; 4];
            self.root.draw(&Text::new(
                &*c.encode_utf8(&mut buffer),
                (pen + bearing, y),
                glyph_style.clone(),
            ))?;
        }
        Ok(())
    }

    /// `text` cut to at most `max_chars` characters and `max_px` pixels, ending in `…` when cut.
    fn fit(
        &self,
        text: &str,
        max_chars: usize,
        max_px: i32,
        style: &TextStyle,
    ) -> Measured<DB, String> {
        let text = text.trim();
        let chars: Vec<char> = text.chars().collect();
        if chars.len() <= max_chars && self.width(text, style)? <= max_px {
            return Ok(text.to_string());
        }
        let mut keep = chars.len().min(max_chars.saturating_sub(1));
        loop {
            let head: String = chars[..keep].iter().collect();
            let candidate = format!("{}…", head.trim_end());
            if keep == 0 || self.width(&candidate, style)? <= max_px {
                return Ok(candidate);
            }
            keep -= 1;
        }
    }
}

fn draw<DB: DrawingBackend>(canvas: &Canvas<DB>, chart: &BarChart) -> Drawn<DB> {
    canvas.root.fill(&WHITE)?;
    draw_header(canvas, &chart.title, &chart.subtitle)?;
    let bars = sorted_bars(chart);
    let label_style = style(14.0, &TEXT, HPos::Right, VPos::Center);
    let mut labels = Vec::with_capacity(bars.len());
    let mut label_px = MIN_LABEL_PX;
    for bar in &bars {
        let label = canvas.fit(&bar.label, MAX_LABEL_CHARS, MAX_LABEL_PX, &label_style)?;
        label_px = label_px.max(canvas.width(&label, &label_style)?);
        labels.push(label);
    }
    let rows = i32::try_from(bars.len().max(1)).unwrap_or(1);
    let frame = Frame {
        axis: Axis::of(chart),
        left: MARGIN + label_px.min(MAX_LABEL_PX) + 12,
        right: WIDTH as i32 - VALUE_ROOM,
        top: HEADER,
        bottom: HEADER + ROW * rows,
    };
    draw_axis(canvas, &frame, chart.percent)?;
    if bars.is_empty() {
        let empty = style(12.0, &MUTED, HPos::Left, VPos::Center);
        canvas.text(EMPTY_TEXT, (frame.left + 6, frame.top + ROW / 2), &empty)?;
    }
    for (index, (bar, label)) in bars.iter().zip(&labels).enumerate() {
        draw_bar(canvas, &frame, index, bar, label)?;
    }
    draw_reference(canvas, &frame, chart)?;
    for (index, bar) in bars.iter().enumerate() {
        draw_annotation(canvas, &frame, index, bar, chart.percent)?;
    }
    Ok(())
}

fn draw_header<DB: DrawingBackend>(canvas: &Canvas<DB>, title: &str, subtitle: &str) -> Drawn<DB> {
    let room = WIDTH as i32 - 2 * MARGIN;
    let title_style = style(20.0, &TEXT, HPos::Left, VPos::Top);
    let title = canvas.fit(title, 200, room, &title_style)?;
    canvas.text(&title, (MARGIN, 14), &title_style)?;
    let subtitle_style = style(14.0, &MUTED, HPos::Left, VPos::Top);
    let subtitle = canvas.fit(subtitle, 300, room, &subtitle_style)?;
    canvas.text(&subtitle, (MARGIN, 42), &subtitle_style)
}

/// Grid lines, the zero line, and the value axis with its tick labels.
fn draw_axis<DB: DrawingBackend>(canvas: &Canvas<DB>, frame: &Frame, percent: bool) -> Drawn<DB> {
    let root = canvas.root;
    let tick_style = style(12.0, &MUTED, HPos::Center, VPos::Top);
    for tick in frame.axis.ticks() {
        let x = frame.tick_x(tick);
        root.draw(&PathElement::new(
            vec![(x, frame.top), (x, frame.bottom)],
            GRID,
        ))?;
        root.draw(&PathElement::new(
            vec![(x, frame.bottom), (x, frame.bottom + 4)],
            AXIS,
        ))?;
        let label = frame.axis.tick_label(tick, percent);
        canvas.text(&label, (x, frame.bottom + 8), &tick_style)?;
    }
    root.draw(&PathElement::new(
        vec![(frame.left, frame.bottom), (frame.right, frame.bottom)],
        AXIS,
    ))?;
    let zero = frame.x(0.0);
    root.draw(&PathElement::new(
        vec![(zero, frame.top), (zero, frame.bottom)],
        AXIS,
    ))
}

/// The segment label, and the bar with its whisker when there is an estimate.
fn draw_bar<DB: DrawingBackend>(
    canvas: &Canvas<DB>,
    frame: &Frame,
    index: usize,
    bar: &Bar,
    label: &str,
) -> Drawn<DB> {
    let top = frame.row_top(index);
    let middle = top + ROW / 2;
    let label_color = if drawn_estimate(bar).is_some() {
        TEXT
    } else {
        MUTED
    };
    let label_style = style(14.0, &label_color, HPos::Right, VPos::Center);
    canvas.text(label, (frame.left - 10, middle), &label_style)?;
    let Some(estimate) = drawn_estimate(bar) else {
        return Ok(());
    };
    let (zero, end) = (frame.x(0.0), frame.x(estimate));
    let (from, to) = if end >= zero {
        (zero, end.max(zero + 1))
    } else {
        (end, zero)
    };
    canvas.root.draw(&Rectangle::new(
        [(from, top + 6), (to, top + ROW - 6)],
        BAR_COLOR.filled(),
    ))?;
    if let Some((lower, upper)) = interval(bar) {
        let (a, b) = (frame.x(lower), frame.x(upper));
        let line = WHISKER.stroke_width(1);
        canvas
            .root
            .draw(&PathElement::new(vec![(a, middle), (b, middle)], line))?;
        for cap in [a, b] {
            canvas.root.draw(&PathElement::new(
                vec![(cap, middle - 5), (cap, middle + 5)],
                line,
            ))?;
        }
    }
    Ok(())
}

/// The interval of a drawn bar, lower ≤ upper.
fn interval(bar: &Bar) -> Option<(f64, f64)> {
    drawn_estimate(bar)?;
    let (a, b) = (finite(bar.ci_lower)?, finite(bar.ci_upper)?);
    Some((a.min(b), a.max(b)))
}

/// The value beside the bar, or the reason there is no bar; on a white ground so that the
/// reference line never runs through text.
fn draw_annotation<DB: DrawingBackend>(
    canvas: &Canvas<DB>,
    frame: &Frame,
    index: usize,
    bar: &Bar,
    percent: bool,
) -> Drawn<DB> {
    let middle = frame.row_top(index) + ROW / 2;
    let (text, color, x) = match drawn_estimate(bar) {
        Some(estimate) => {
            let end = interval(bar).map_or(estimate, |(_, upper)| upper.max(estimate));
            let x = frame.x(end).max(frame.x(0.0)) + 6;
            (format::value(estimate, percent), TEXT, x)
        }
        None if bar.suppressed => (SUPPRESSED_TEXT.to_string(), MUTED, frame.left + 6),
        None => (MISSING_TEXT.to_string(), MUTED, frame.left + 6),
    };
    let text_style = style(12.0, &color, HPos::Left, VPos::Center);
    let width = canvas.width(&text, &text_style)?;
    let x = x.min(WIDTH as i32 - 4 - width);
    canvas.root.draw(&Rectangle::new(
        [(x - 2, middle - 8), (x + width + 2, middle + 8)],
        WHITE.filled(),
    ))?;
    canvas.text(&text, (x, middle), &text_style)
}

/// The dashed national line with its legend "totaal 13,2%" above the plot.
fn draw_reference<DB: DrawingBackend>(
    canvas: &Canvas<DB>,
    frame: &Frame,
    chart: &BarChart,
) -> Drawn<DB> {
    let Some(reference) = finite(chart.reference) else {
        return Ok(());
    };
    let x = frame.x(reference);
    let mut y = frame.top - 6;
    while y < frame.bottom {
        canvas.root.draw(&PathElement::new(
            vec![(x, y), (x, (y + 6).min(frame.bottom))],
            REFERENCE.stroke_width(2),
        ))?;
        y += 10;
    }
    let legend = format!("totaal {}", format::value(reference, chart.percent));
    let legend_style = style(12.0, &REFERENCE, HPos::Left, VPos::Bottom);
    let width = canvas.width(&legend, &legend_style)?;
    let start = (x - width / 2)
        .min(WIDTH as i32 - MARGIN - width)
        .max(MARGIN);
    canvas.text(&legend, (start, frame.top - 9), &legend_style)
}

/// Text under the year of a wave where a series is suppressed.
const TREND_SUPPRESSED_TEXT: &str = "onderdrukt";
/// Canvas height of a trend chart; taller only when a long legend or many suppression notes
/// would leave the plot less than `MIN_PLOT_HEIGHT`.
const TREND_HEIGHT: u32 = 480;
const MIN_PLOT_HEIGHT: i32 = 200;
/// Top of the plot when there is no legend.
const TREND_TOP: i32 = 80;
const LEGEND_TOP: i32 = 66;
const LEGEND_ROW: i32 = 20;
/// Length of the line sample in the legend.
const SWATCH: i32 = 24;
/// Room between the plot edges and the first and last wave.
const WAVE_PAD: i32 = 30;
/// Room right of the plot for the value labels of the last wave.
const TREND_VALUE_ROOM: i32 = 60;
/// Below the plot: year labels at +8, then rows of suppression notes from `NOTE_TOP`.
const NOTE_TOP: i32 = 26;
const NOTE_ROW: i32 = 14;
/// Least distance between the centres of value labels at one wave.
const VALUE_ROW: i32 = 15;
const MARKER_RADIUS: i32 = 4;

/// Okabe–Ito colours, distinguishable with the common colour vision deficiencies; without
/// its yellow, which is too light on white. Series beyond seven reuse them, with a different
/// marker shape.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
];

/// Marker shapes, so that series differ in more than colour.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Marker {
    Circle,
    Square,
    Diamond,
    Up,
    Down,
}

const MARKERS: [Marker; 5] = [
    Marker::Circle,
    Marker::Square,
    Marker::Diamond,
    Marker::Up,
    Marker::Down,
];

fn series_color(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

fn series_marker(index: usize) -> Marker {
    MARKERS[index % MARKERS.len()]
}

/// A darker shade of a series colour, for value labels readable on white.
fn text_shade(color: RGBColor) -> RGBColor {
    let dark = |c: u8| (f64::from(c) * 0.72).round() as u8;
    RGBColor(dark(color.0), dark(color.1), dark(color.2))
}

/// One point of a trend series as drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Plotted {
    wave: i32,
    /// `None` for suppressed points and missing or non-finite estimates.
    estimate: Option<f64>,
    /// The interval, lower ≤ upper; only with an estimate and both bounds finite.
    interval: Option<(f64, f64)>,
    suppressed: bool,
}

/// The points of a series as drawn, in wave order.
fn plotted(series: &TrendSeries) -> Vec<Plotted> {
    let mut points: Vec<Plotted> = series
        .points
        .iter()
        .map(|point| {
            let estimate = finite(point.estimate).filter(|_| !point.suppressed);
            let interval = estimate
                .and(finite(point.ci_lower))
                .zip(finite(point.ci_upper))
                .map(|(a, b)| (a.min(b), a.max(b)));
            Plotted {
                wave: point.wave,
                estimate,
                interval,
                suppressed: point.suppressed,
            }
        })
        .collect();
    points.sort_by_key(|point| point.wave);
    points
}

/// The maximal runs of consecutive points for which `keep` gives a value: the pieces of a
/// line (or band) that breaks at suppressed and missing points. A wave a series has no point
/// for at all does not break it.
fn runs<T>(points: &[Plotted], keep: impl Fn(&Plotted) -> Option<T>) -> Vec<Vec<(i32, T)>> {
    let mut runs = Vec::new();
    let mut current = Vec::new();
    for point in points {
        match keep(point) {
            Some(value) => current.push((point.wave, value)),
            None if !current.is_empty() => runs.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

/// Per wave, the suppression notes to write under it: one per suppressed series (its index),
/// or a single `None` when the chart has one series or every series there is suppressed.
fn suppression_notes(series: &[Vec<Plotted>], waves: &[i32]) -> Vec<Vec<Option<usize>>> {
    waves
        .iter()
        .map(|&wave| {
            let present = series
                .iter()
                .filter(|points| points.iter().any(|p| p.wave == wave))
                .count();
            let suppressed: Vec<usize> = (0..series.len())
                .filter(|&index| series[index].iter().any(|p| p.wave == wave && p.suppressed))
                .collect();
            if suppressed.is_empty() {
                Vec::new()
            } else if series.len() == 1 || (suppressed.len() > 1 && suppressed.len() == present) {
                vec![None]
            } else {
                suppressed.into_iter().map(Some).collect()
            }
        })
        .collect()
}

/// Vertical centres for labels that want to be at `wanted` (ascending): at least `gap` apart,
/// as close to where they want to be as that allows, and between `low` and `high` as far as
/// there is room.
fn spread(wanted: &[i32], gap: i32, low: i32, high: i32) -> Vec<i32> {
    let mut placed: Vec<i32> = Vec::with_capacity(wanted.len());
    for &y in wanted {
        let floor = placed.last().map_or(low, |&last| last.saturating_add(gap));
        placed.push(y.max(floor));
    }
    let mut ceiling = high;
    for y in placed.iter_mut().rev() {
        *y = (*y).min(ceiling);
        ceiling = y.saturating_sub(gap);
    }
    placed
}

struct LegendEntry {
    series: usize,
    label: String,
    /// Left end of the line sample, and the middle of the row.
    x: i32,
    y: i32,
}

/// Pixel geometry of one trend chart, worked out (text measured) before the canvas exists,
/// since its height depends on the legend.
struct TrendLayout {
    height: u32,
    series: Vec<Vec<Plotted>>,
    /// All waves of all series, ascending: the categories of the x axis.
    waves: Vec<i32>,
    axis: Axis,
    left: i32,
    right: i32,
    top: i32,
    bottom: i32,
    /// Empty for a single series.
    legend: Vec<LegendEntry>,
    /// Every how many waves the year is written (counted back from the last wave): all of
    /// them unless waves are too close for their labels side by side.
    label_every: usize,
    /// Likewise for the value labels.
    value_every: usize,
    /// Per wave, see [`suppression_notes`].
    notes: Vec<Vec<Option<usize>>>,
    /// Rows of notes under one wave at most.
    note_rows: i32,
    /// Waves too close for their notes side by side write them in turns in this many blocks
    /// of `note_rows` rows (1: all notes in one block).
    note_blocks: i32,
}

impl TrendLayout {
    fn of(chart: &TrendChart) -> Result<TrendLayout, String> {
        let mut scratch = String::new();
        let root = SVGBackend::with_string(&mut scratch, (WIDTH, TREND_HEIGHT)).into_drawing_area();
        let canvas = Canvas {
            root: &root,
            glyphs: None,
        };
        TrendLayout::measure(&canvas, chart).map_err(|e| e.to_string())
    }

    fn measure<DB: DrawingBackend>(
        canvas: &Canvas<DB>,
        chart: &TrendChart,
    ) -> Measured<DB, TrendLayout> {
        let series: Vec<Vec<Plotted>> = chart.series.iter().map(plotted).collect();
        let mut waves: Vec<i32> = series.iter().flatten().map(|p| p.wave).collect();
        waves.sort_unstable();
        waves.dedup();
        let scale = if chart.percent { 100.0 } else { 1.0 };
        let values: Vec<f64> = series
            .iter()
            .flatten()
            .flat_map(|p| [p.estimate, p.interval.map(|i| i.0), p.interval.map(|i| i.1)])
            .flatten()
            .map(|v| v * scale)
            .filter(|v| v.is_finite())
            .collect();
        let mut drawn: Vec<i32> = series
            .iter()
            .flatten()
            .filter(|p| p.estimate.is_some())
            .map(|p| p.wave)
            .collect();
        drawn.sort_unstable();
        drawn.dedup();
        // With a single wave there is no trend to bring out.
        let axis = if drawn.len() > 1 {
            Axis::trend(&values, chart.percent)
        } else {
            Axis::from_zero(&values, chart.percent)
        };

        let tick_style = style(12.0, &MUTED, HPos::Right, VPos::Center);
        let mut tick_px = 0;
        for tick in axis.ticks() {
            let label = axis.tick_label(tick, chart.percent);
            tick_px = tick_px.max(canvas.width(&label, &tick_style)?);
        }
        let left = MARGIN + tick_px.min(MAX_LABEL_PX) + 10;
        let right = WIDTH as i32 - TREND_VALUE_ROOM;

        let mut legend = Vec::new();
        let mut legend_rows = 0;
        if chart.series.len() > 1 {
            let legend_style = style(13.0, &TEXT, HPos::Left, VPos::Center);
            let (mut x, mut row) = (MARGIN, 0);
            for (index, series) in chart.series.iter().enumerate() {
                let label =
                    canvas.fit(&series.label, MAX_LABEL_CHARS, MAX_LABEL_PX, &legend_style)?;
                let width = SWATCH + 6 + canvas.width(&label, &legend_style)?;
                if x > MARGIN && x + width > WIDTH as i32 - MARGIN {
                    x = MARGIN;
                    row += 1;
                }
                legend.push(LegendEntry {
                    series: index,
                    label,
                    x,
                    y: LEGEND_TOP + row * LEGEND_ROW + LEGEND_ROW / 2,
                });
                x += width + 18;
            }
            legend_rows = row + 1;
        }
        let top = if legend.is_empty() {
            TREND_TOP
        } else {
            LEGEND_TOP + legend_rows * LEGEND_ROW + 14
        };

        let notes = suppression_notes(&series, &waves);
        let note_rows = i32::try_from(notes.iter().map(Vec::len).max().unwrap_or(0))
            .unwrap_or(i32::MAX / NOTE_ROW / 4);
        let note_style = style(11.0, &MUTED, HPos::Left, VPos::Top);
        let marked = notes.iter().flatten().any(Option::is_some);
        let note_px =
            canvas.width(TREND_SUPPRESSED_TEXT, &note_style)? + if marked { 10 } else { 0 };
        let year_style = style(12.0, &MUTED, HPos::Center, VPos::Top);
        let mut year_px = 0;
        for wave in &waves {
            year_px = year_px.max(canvas.width(&wave.to_string(), &year_style)?);
        }
        let spacing = if waves.len() > 1 {
            f64::from(right - left - 2 * WAVE_PAD) / (waves.len() - 1) as f64
        } else {
            f64::INFINITY
        };
        let mut value_px = 0;
        for point in series.iter().flatten() {
            if let Some(estimate) = point.estimate {
                let text = format::value(estimate, chart.percent);
                value_px = value_px.max(canvas.width(&text, &value_style())?);
            }
        }
        let every = |px: i32| (f64::from(px) / spacing).ceil().clamp(1.0, 1e6) as usize;
        let label_every = every(year_px + 10);
        let value_every = every(value_px + MARKER_RADIUS + 5 + 8).max(label_every);
        let note_blocks = if note_rows > 0 {
            i32::try_from(every(note_px + 6).min(waves.len().max(1))).unwrap_or(1)
        } else {
            1
        };
        let rows = note_rows.saturating_mul(note_blocks);
        let footer = (NOTE_TOP + rows * NOTE_ROW + 8).max(FOOTER);
        let height = (top + MIN_PLOT_HEIGHT + footer).max(TREND_HEIGHT as i32);
        Ok(TrendLayout {
            height: u32::try_from(height).unwrap_or(TREND_HEIGHT),
            series,
            waves,
            axis,
            left,
            right,
            top,
            bottom: height - footer,
            legend,
            label_every,
            value_every,
            notes,
            note_rows,
            note_blocks,
        })
    }

    /// Pixel column of the wave at `index` in `waves`: evenly spaced, a single wave centred.
    fn x_at(&self, index: usize) -> i32 {
        if self.waves.len() < 2 {
            return (self.left + self.right) / 2;
        }
        let span = f64::from(self.right - self.left - 2 * WAVE_PAD);
        let share = index as f64 / (self.waves.len() - 1) as f64;
        self.left + WAVE_PAD + (span * share).round() as i32
    }

    fn x(&self, wave: i32) -> i32 {
        self.x_at(self.waves.binary_search(&wave).unwrap_or(0))
    }

    /// Pixel row of a value in data units, clamped to the plot.
    fn y(&self, value: f64) -> i32 {
        let display = (value * self.axis.scale).clamp(self.axis.min, self.axis.max);
        let share = (display - self.axis.min) / (self.axis.max - self.axis.min);
        self.bottom - (share * f64::from(self.bottom - self.top)).round() as i32
    }
}

fn draw_trend<DB: DrawingBackend>(
    canvas: &Canvas<DB>,
    chart: &TrendChart,
    layout: &TrendLayout,
) -> Drawn<DB> {
    canvas.root.fill(&WHITE)?;
    draw_header(canvas, &chart.title, &chart.subtitle)?;
    draw_legend(canvas, layout)?;
    draw_trend_axes(canvas, layout, chart.percent)?;
    for (index, points) in layout.series.iter().enumerate() {
        draw_band(canvas, layout, index, points)?;
    }
    for (index, points) in layout.series.iter().enumerate() {
        for run in runs(points, |p| p.estimate) {
            if run.len() > 1 {
                let path = run.iter().map(|&(wave, v)| (layout.x(wave), layout.y(v)));
                canvas.root.draw(&PathElement::new(
                    path.collect::<Vec<_>>(),
                    series_color(index).stroke_width(2),
                ))?;
            }
        }
    }
    for (index, points) in layout.series.iter().enumerate() {
        for point in points {
            if let Some(estimate) = point.estimate {
                let at = (layout.x(point.wave), layout.y(estimate));
                draw_point(canvas, index, at, MARKER_RADIUS)?;
            }
        }
    }
    draw_value_labels(canvas, layout, chart.percent)?;
    draw_notes(canvas, layout)?;
    let points = layout.series.iter().flatten();
    if !points.clone().any(|p| p.estimate.is_some()) {
        let text = if points.clone().any(|p| p.suppressed) {
            SUPPRESSED_TEXT
        } else if points.count() > 0 {
            MISSING_TEXT
        } else {
            EMPTY_TEXT
        };
        let middle = (
            (layout.left + layout.right) / 2,
            (layout.top + layout.bottom) / 2,
        );
        canvas.text(
            text,
            middle,
            &style(12.0, &MUTED, HPos::Center, VPos::Center),
        )?;
    }
    Ok(())
}

/// A line sample with the series' marker and its label per series.
fn draw_legend<DB: DrawingBackend>(canvas: &Canvas<DB>, layout: &TrendLayout) -> Drawn<DB> {
    let legend_style = style(13.0, &TEXT, HPos::Left, VPos::Center);
    for entry in &layout.legend {
        let (x, y) = (entry.x, entry.y);
        canvas.root.draw(&PathElement::new(
            vec![(x, y), (x + SWATCH, y)],
            series_color(entry.series).stroke_width(2),
        ))?;
        draw_point(canvas, entry.series, (x + SWATCH / 2, y), MARKER_RADIUS - 1)?;
        canvas.text(&entry.label, (x + SWATCH + 6, y), &legend_style)?;
    }
    Ok(())
}

/// Grid lines with the value ticks on the left, the zero line, and the waves below.
fn draw_trend_axes<DB: DrawingBackend>(
    canvas: &Canvas<DB>,
    layout: &TrendLayout,
    percent: bool,
) -> Drawn<DB> {
    let root = canvas.root;
    let (left, right, bottom) = (layout.left, layout.right, layout.bottom);
    let tick_style = style(12.0, &MUTED, HPos::Right, VPos::Center);
    for tick in layout.axis.ticks() {
        let y = layout.y(tick / layout.axis.scale);
        root.draw(&PathElement::new(vec![(left, y), (right, y)], GRID))?;
        let label = layout.axis.tick_label(tick, percent);
        canvas.text(&label, (left - 8, y), &tick_style)?;
    }
    if layout.axis.min < 0.0 && layout.axis.max > 0.0 {
        let zero = layout.y(0.0);
        root.draw(&PathElement::new(vec![(left, zero), (right, zero)], AXIS))?;
    }
    root.draw(&PathElement::new(
        vec![(left, bottom), (right, bottom)],
        AXIS,
    ))?;
    let year_style = style(12.0, &MUTED, HPos::Center, VPos::Top);
    let last = layout.waves.len().saturating_sub(1);
    for (index, wave) in layout.waves.iter().enumerate() {
        let x = layout.x_at(index);
        root.draw(&PathElement::new(vec![(x, bottom), (x, bottom + 4)], AXIS))?;
        if (last - index).is_multiple_of(layout.label_every) {
            canvas.text(&wave.to_string(), (x, bottom + 8), &year_style)?;
        }
    }
    Ok(())
}

/// The intervals of a series: a semi-transparent band along each run of points that have one,
/// a whisker at a point whose neighbours have none.
fn draw_band<DB: DrawingBackend>(
    canvas: &Canvas<DB>,
    layout: &TrendLayout,
    index: usize,
    points: &[Plotted],
) -> Drawn<DB> {
    let color = series_color(index);
    for run in runs(points, |p| p.interval) {
        if let [(wave, (lower, upper))] = run[..] {
            let (x, low, high) = (layout.x(wave), layout.y(lower), layout.y(upper));
            let line = color.mix(0.6).stroke_width(2);
            canvas
                .root
                .draw(&PathElement::new(vec![(x, low), (x, high)], line))?;
            for cap in [low, high] {
                canvas
                    .root
                    .draw(&PathElement::new(vec![(x - 5, cap), (x + 5, cap)], line))?;
            }
            continue;
        }
        let upper = run
            .iter()
            .map(|&(wave, (_, upper))| (layout.x(wave), layout.y(upper)));
        let lower = run
            .iter()
            .rev()
            .map(|&(wave, (lower, _))| (layout.x(wave), layout.y(lower)));
        canvas.root.draw(&Polygon::new(
            upper.chain(lower).collect::<Vec<_>>(),
            color.mix(0.18).filled(),
        ))?;
    }
    Ok(())
}

/// The marker of a series on a white halo, so that it stands out on lines and bands.
fn draw_point<DB: DrawingBackend>(
    canvas: &Canvas<DB>,
    index: usize,
    at: (i32, i32),
    radius: i32,
) -> Drawn<DB> {
    let marker = series_marker(index);
    draw_marker(canvas, marker, at, radius + 2, WHITE.filled())?;
    draw_marker(canvas, marker, at, radius, series_color(index).filled())
}

fn draw_marker<DB: DrawingBackend>(
    canvas: &Canvas<DB>,
    marker: Marker,
    (x, y): (i32, i32),
    r: i32,
    style: ShapeStyle,
) -> Drawn<DB> {
    let root = canvas.root;
    match marker {
        Marker::Circle => root.draw(&Circle::new((x, y), r, style)),
        Marker::Square => root.draw(&Rectangle::new(
            [(x - r + 1, y - r + 1), (x + r - 1, y + r - 1)],
            style,
        )),
        Marker::Diamond => root.draw(&Polygon::new(
            vec![
                (x, y - r - 1),
                (x + r + 1, y),
                (x, y + r + 1),
                (x - r - 1, y),
            ],
            style,
        )),
        Marker::Up => root.draw(&Polygon::new(
            vec![(x, y - r - 1), (x + r + 1, y + r), (x - r - 1, y + r)],
            style,
        )),
        Marker::Down => root.draw(&Polygon::new(
            vec![(x, y + r + 1), (x + r + 1, y - r), (x - r - 1, y - r)],
            style,
        )),
    }
}

/// The value right of each marker; at one wave the labels of all series are spread
/// vertically so that they never overlap, each on a light ground over the lines.
fn draw_value_labels<DB: DrawingBackend>(
    canvas: &Canvas<DB>,
    layout: &TrendLayout,
    percent: bool,
) -> Drawn<DB> {
    let single = layout.series.len() <= 1;
    let last = layout.waves.len().saturating_sub(1);
    for (position, &wave) in layout.waves.iter().enumerate() {
        if !(last - position).is_multiple_of(layout.value_every) {
            continue;
        }
        let x = layout.x_at(position);
        let mut labels: Vec<(i32, usize, f64)> = Vec::new();
        for (index, points) in layout.series.iter().enumerate() {
            for point in points.iter().filter(|p| p.wave == wave) {
                if let Some(estimate) = point.estimate {
                    labels.push((layout.y(estimate), index, estimate));
                }
            }
        }
        labels.sort_by_key(|&(y, _, _)| y);
        let wanted: Vec<i32> = labels.iter().map(|&(y, _, _)| y).collect();
        let half = VALUE_ROW / 2;
        let placed = spread(&wanted, VALUE_ROW, layout.top + half, layout.bottom - half);
        for (&(_, index, estimate), y) in labels.iter().zip(placed) {
            let color = if single {
                TEXT
            } else {
                text_shade(series_color(index))
            };
            let text = format::value(estimate, percent);
            let text_style = TextStyle {
                color: color.to_backend_color(),
                ..value_style()
            };
            let width = canvas.width(&text, &text_style)?;
            let start = (x + MARKER_RADIUS + 5).min(WIDTH as i32 - 4 - width);
            canvas.root.draw(&Rectangle::new(
                [(start - 2, y - 7), (start + width + 2, y + 7)],
                WHITE.mix(0.75).filled(),
            ))?;
            canvas.text(&text, (start, y), &text_style)?;
        }
    }
    Ok(())
}

fn value_style() -> TextStyle<'static> {
    style(12.0, &TEXT, HPos::Left, VPos::Center)
}

/// "onderdrukt" under the year of each wave where a series is suppressed, after the series'
/// marker when only some series are.
fn draw_notes<DB: DrawingBackend>(canvas: &Canvas<DB>, layout: &TrendLayout) -> Drawn<DB> {
    let note_style = style(11.0, &MUTED, HPos::Left, VPos::Top);
    let text_px = canvas.width(TREND_SUPPRESSED_TEXT, &note_style)?;
    for (index, notes) in layout.notes.iter().enumerate() {
        let x = layout.x_at(index);
        let turn = i32::try_from(index).unwrap_or(0) % layout.note_blocks;
        let block = turn * layout.note_rows;
        for (row, note) in (block..).zip(notes) {
            let y = layout.bottom + NOTE_TOP + row * NOTE_ROW;
            let width = text_px + if note.is_some() { 10 } else { 0 };
            let start = (x - width / 2).min(WIDTH as i32 - 4 - width).max(4);
            if let Some(series) = *note {
                let marker = series_marker(series);
                let color = series_color(series).filled();
                draw_marker(canvas, marker, (start + 3, y + 6), 3, color)?;
            }
            canvas.text(
                TREND_SUPPRESSED_TEXT,
                (start + width - text_px, y),
                &note_style,
            )?;
        }
    }
    Ok(())
}

/// Left side bearings of the chart font, from ab_glyph (which plotters draws with): where a
/// glyph's ink starts relative to the pen.
struct GlyphMetrics {
    font: ab_glyph::FontRef<'static>,
    /// Ascender minus descender in font units: ab_glyph's pixel scale divides by this.
    height: f64,
}

impl GlyphMetrics {
    fn parse(bytes: &'static [u8]) -> Option<GlyphMetrics> {
        use ab_glyph::Font;
        let font = ab_glyph::FontRef::try_from_slice(bytes).ok()?;
        let height = f64::from(font.height_unscaled());
        (height > 0.0).then_some(GlyphMetrics { font, height })
    }

    /// How far right of the pen the glyph's ink starts at `size` px, as ab_glyph rounds it.
    fn bearing_px(&self, c: char, size: f64) -> i32 {
        use ab_glyph::Font;
        let units = self.font.h_side_bearing_unscaled(self.font.glyph_id(c));
        (f64::from(units) * size / self.height).floor() as i32
    }
}

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
            wave,
            estimate: Some(estimate),
            ci_lower: Some(estimate - 0.03),
            ci_upper: Some(estimate + 0.03),
            suppressed: false,
        }
    }

    fn hidden(wave: i32) -> TrendPoint {
        TrendPoint {
            wave,
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
        assert_eq!(layout.waves, [2018, 2020, 2022, 2024]);
        let waves = |index: usize| -> Vec<Vec<i32>> {
            runs(&layout.series[index], |p| p.estimate)
                .iter()
                .map(|run| run.iter().map(|&(wave, _)| wave).collect())
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
            wave: 2021,
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
}
