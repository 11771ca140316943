//! Bar charts of one indicator × segmentation: a horizontal bar per segment with its 95%
//! interval as a whisker, sorted by estimate (largest first), the national value as a dashed
//! reference line labelled "totaal", and suppressed segments named but not drawn. SVG for the
//! report and the web, PNG for slides.
//!
//! The chart is drawn with plotters primitives in pixel coordinates, which keeps the layout under
//! our control (label column sized to the labels, value labels beside the whiskers, a legend
//! that never leaves the canvas). Text uses the embedded DejaVu Sans (`assets/`), registered
//! once with plotters' ab_glyph font registry, so no system font is needed and Dutch text
//! (ë, ï, é, Fryslân) renders everywhere. Numbers are Dutch: decimal comma, `13,2%`.
//! plotters' ab_glyph renderer ignores glyph side bearings, which spaces letters unevenly in
//! bitmaps; PNG text is therefore drawn glyph by glyph with the bearings read from the font.

use std::cmp::Ordering;
use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

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

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("chart {title:?}: {message}")]
    Draw { title: String, message: String },
}

/// Text shown instead of the bar of a suppressed segment.
pub const SUPPRESSED_TEXT: &str = "onderdrukt (te weinig waarnemingen)";
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
    ensure_font().map_err(|message| error(chart, message))?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height(chart))).into_drawing_area();
        let canvas = Canvas {
            root: &root,
            glyphs: None,
        };
        draw(&canvas, chart).map_err(|e| error(chart, e.to_string()))?;
        root.present().map_err(|e| error(chart, e.to_string()))?;
    }
    Ok(svg)
}

/// Writes the chart as a PNG file; the format follows the extension of `path` (use `.png`).
pub fn bar_chart_png(chart: &BarChart, path: &Path) -> Result<(), ChartError> {
    ensure_font().map_err(|message| error(chart, message))?;
    let root = BitMapBackend::new(path, (WIDTH, height(chart))).into_drawing_area();
    let canvas = Canvas {
        root: &root,
        glyphs: glyph_metrics(),
    };
    draw(&canvas, chart).map_err(|e| error(chart, e.to_string()))?;
    root.present().map_err(|e| error(chart, e.to_string()))
}

/// A value the Dutch way, one decimal: `13,2%` for a share of 0.132, else `37,4`.
pub fn format_value(value: f64, percent: bool) -> String {
    if percent {
        format!("{}%", dutch_number(100.0 * value, 1))
    } else {
        dutch_number(value, 1)
    }
}

/// `1234.56` with 1 decimal → `1.234,6`; never `-0,0`.
fn dutch_number(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return "—".to_string();
    }
    let text = format!("{:.*}", decimals, value.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut grouped = String::new();
    for (i, digit) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(digit);
    }
    let is_zero = text.chars().all(|c| c == '0' || c == '.');
    let sign = if value < 0.0 && !is_zero { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped},{frac}")
    }
}

fn error(chart: &BarChart, message: String) -> ChartError {
    ChartError::Draw {
        title: chart.title.clone(),
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
        let largest = values.iter().copied().fold(0.0, f64::max);
        let smallest = values.iter().copied().fold(0.0, f64::min);
        let mut top = largest * 1.1;
        let mut bottom = smallest * 1.1;
        if chart.percent {
            top = top.min(100.0);
            bottom = 0.0;
        }
        if top - bottom <= f64::EPSILON {
            top = bottom + if chart.percent { 10.0 } else { 1.0 };
        }
        let step = nice_step((top - bottom) / 5.0);
        let mut max = (top / step).ceil() * step;
        let min = (bottom / step).floor() * step;
        if chart.percent {
            max = max.min(100.0);
        }
        Axis {
            min,
            max,
            step,
            scale,
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
        let number = dutch_number(tick, self.decimals());
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
    draw_header(canvas, chart)?;
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

fn draw_header<DB: DrawingBackend>(canvas: &Canvas<DB>, chart: &BarChart) -> Drawn<DB> {
    let room = WIDTH as i32 - 2 * MARGIN;
    let title_style = style(20.0, &TEXT, HPos::Left, VPos::Top);
    let title = canvas.fit(&chart.title, 200, room, &title_style)?;
    canvas.text(&title, (MARGIN, 14), &title_style)?;
    let subtitle_style = style(14.0, &MUTED, HPos::Left, VPos::Top);
    let subtitle = canvas.fit(&chart.subtitle, 300, room, &subtitle_style)?;
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
            (format_value(estimate, percent), TEXT, x)
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
    let legend = format!("totaal {}", format_value(reference, chart.percent));
    let legend_style = style(12.0, &REFERENCE, HPos::Left, VPos::Bottom);
    let width = canvas.width(&legend, &legend_style)?;
    let start = (x - width / 2)
        .min(WIDTH as i32 - MARGIN - width)
        .max(MARGIN);
    canvas.text(&legend, (start, frame.top - 9), &legend_style)
}

/// Left side bearings of a TrueType font, read from its `cmap` (format 4, Unicode BMP),
/// `hhea` and `hmtx` tables: just enough to place glyphs the way ab_glyph means them to be.
struct GlyphMetrics {
    bytes: &'static [u8],
    cmap: usize,
    hmtx: usize,
    long_metrics: u16,
    /// Ascender minus descender in font units: ab_glyph's pixel scale divides by this.
    height: f64,
}

impl GlyphMetrics {
    fn parse(bytes: &'static [u8]) -> Option<GlyphMetrics> {
        let hhea = table(bytes, b"hhea")?;
        let ascender = i16::from_be_bytes(u16_at(bytes, hhea + 4)?.to_be_bytes());
        let descender = i16::from_be_bytes(u16_at(bytes, hhea + 6)?.to_be_bytes());
        let metrics = GlyphMetrics {
            bytes,
            cmap: unicode_bmp_cmap(bytes)?,
            hmtx: table(bytes, b"hmtx")?,
            long_metrics: u16_at(bytes, hhea + 34)?,
            height: f64::from(ascender) - f64::from(descender),
        };
        (metrics.height > 0.0 && metrics.long_metrics > 0).then_some(metrics)
    }

    /// How far right of the pen the glyph's ink starts at `size` px, as ab_glyph rounds it.
    fn bearing_px(&self, c: char, size: f64) -> i32 {
        let bearing = self.glyph(c).and_then(|glyph| self.left_bearing(glyph));
        bearing.map_or(0, |units| {
            (f64::from(units) * size / self.height).floor() as i32
        })
    }

    fn glyph(&self, c: char) -> Option<u16> {
        let code = u16::try_from(u32::from(c)).ok()?;
        let (bytes, cmap) = (self.bytes, self.cmap);
        let segments = usize::from(u16_at(bytes, cmap + 6)?) / 2;
        let ends = cmap + 14;
        let starts = ends + 2 * segments + 2;
        let deltas = starts + 2 * segments;
        let offsets = deltas + 2 * segments;
        for i in 0..segments {
            if code > u16_at(bytes, ends + 2 * i)? {
                continue;
            }
            let start = u16_at(bytes, starts + 2 * i)?;
            if code < start {
                return None;
            }
            let delta = u16_at(bytes, deltas + 2 * i)?;
            let offset = usize::from(u16_at(bytes, offsets + 2 * i)?);
            if offset == 0 {
                return Some(code.wrapping_add(delta));
            }
            let at = offsets + 2 * i + offset + 2 * usize::from(code - start);
            let glyph = u16_at(bytes, at)?;
            return (glyph != 0).then(|| glyph.wrapping_add(delta));
        }
        None
    }

    fn left_bearing(&self, glyph: u16) -> Option<i16> {
        let long = self.long_metrics;
        let at = if glyph < long {
            self.hmtx + 4 * usize::from(glyph) + 2
        } else {
            self.hmtx + 4 * usize::from(long) + 2 * usize::from(glyph - long)
        };
        Some(i16::from_be_bytes(u16_at(self.bytes, at)?.to_be_bytes()))
    }
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *bytes.get(at)?,
        *bytes.get(at + 1)?,
        *bytes.get(at + 2)?,
        *bytes.get(at + 3)?,
    ]))
}

/// Offset of a table in a TrueType file.
fn table(bytes: &[u8], tag: &[u8; 4]) -> Option<usize> {
    let count = usize::from(u16_at(bytes, 4)?);
    (0..count).find_map(|i| {
        let record = 12 + 16 * i;
        (bytes.get(record..record + 4)? == tag)
            .then(|| u32_at(bytes, record + 8))
            .flatten()
            .and_then(|offset| usize::try_from(offset).ok())
    })
}

/// Offset of the format 4 Unicode subtable of `cmap` (Windows BMP or Unicode platform).
fn unicode_bmp_cmap(bytes: &[u8]) -> Option<usize> {
    let cmap = table(bytes, b"cmap")?;
    let count = usize::from(u16_at(bytes, cmap + 2)?);
    (0..count).find_map(|i| {
        let record = cmap + 4 + 8 * i;
        let platform = u16_at(bytes, record)?;
        let encoding = u16_at(bytes, record + 2)?;
        let subtable = cmap + usize::try_from(u32_at(bytes, record + 4)?).ok()?;
        let unicode = (platform == 3 && encoding == 1) || platform == 0;
        (unicode && u16_at(bytes, subtable)? == 4).then_some(subtable)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn numbers_are_dutch() {
        assert_eq!(format_value(0.132, true), "13,2%");
        assert_eq!(format_value(37.44, false), "37,4");
        assert_eq!(format_value(-0.01, false), "0,0");
        assert_eq!(format_value(12345.67, false), "12.345,7");
        assert_eq!(format_value(f64::NAN, false), "—");
    }

    #[test]
    fn glyph_bearings_are_read_from_the_font() {
        let glyphs = glyph_metrics().expect("font metrics");
        assert_eq!(glyphs.glyph(' '), Some(3));
        assert!(glyphs.glyph('â').is_some() && glyphs.glyph('ë').is_some());
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
}
