//! Bar charts of one indicator × segmentation.

use super::*;

pub(super) fn height(chart: &BarChart) -> u32 {
    let rows = i32::try_from(chart.bars.len().max(1)).unwrap_or(i32::MAX / ROW - 10);
    u32::try_from(HEADER + FOOTER + ROW * rows).unwrap_or(u32::MAX)
}

pub(super) fn finite(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite())
}

/// The estimate to draw: `None` for suppressed bars and missing or non-finite estimates.
pub(super) fn drawn_estimate(bar: &Bar) -> Option<f64> {
    finite(bar.estimate).filter(|_| !bar.suppressed)
}

/// Bars with an estimate first, largest first; then bars without one; suppressed bars last.
pub(super) fn sorted_bars(chart: &BarChart) -> Vec<&Bar> {
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
pub(super) struct Axis {
    pub(super) min: f64,
    pub(super) max: f64,
    pub(super) step: f64,
    /// Display units per data unit: 100 for shares.
    pub(super) scale: f64,
}

impl Axis {
    pub(super) fn of(chart: &BarChart) -> Axis {
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
    pub(super) fn from_zero(values: &[f64], percent: bool) -> Axis {
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
    pub(super) fn trend(values: &[f64], percent: bool) -> Axis {
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
    pub(super) fn rounded(bottom: f64, top: f64, percent: bool) -> Axis {
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

    pub(super) fn ticks(&self) -> Vec<f64> {
        let count = ((self.max - self.min) / self.step)
            .round()
            .clamp(0.0, 100.0) as usize;
        (0..=count)
            .map(|i| self.min + self.step * i as f64)
            .collect()
    }

    pub(super) fn decimals(&self) -> usize {
        (0..4)
            .find(|&d| {
                let scaled = self.step * 10f64.powi(d as i32);
                (scaled - scaled.round()).abs() < 1e-6
            })
            .unwrap_or(4)
    }

    pub(super) fn tick_label(&self, tick: f64, percent: bool) -> String {
        let number = format::number(tick, self.decimals());
        if percent {
            format!("{number}%")
        } else {
            number
        }
    }
}

/// 1, 2, 2.5 or 5 times a power of ten, at least `raw`.
pub(super) fn nice_step(raw: f64) -> f64 {
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
pub(super) struct Frame {
    pub(super) axis: Axis,
    pub(super) left: i32,
    pub(super) right: i32,
    pub(super) top: i32,
    pub(super) bottom: i32,
}

impl Frame {
    /// Pixel column of a value in data units, clamped to the plot.
    pub(super) fn x(&self, value: f64) -> i32 {
        let display = (value * self.axis.scale).clamp(self.axis.min, self.axis.max);
        let share = (display - self.axis.min) / (self.axis.max - self.axis.min);
        self.left + (share * f64::from(self.right - self.left)).round() as i32
    }

    /// Pixel column of a tick in display units.
    pub(super) fn tick_x(&self, tick: f64) -> i32 {
        self.x(tick / self.axis.scale)
    }

    pub(super) fn row_top(&self, index: usize) -> i32 {
        self.top + ROW * i32::try_from(index).unwrap_or(0)
    }
}

pub(super) fn draw<DB: DrawingBackend>(canvas: &Canvas<DB>, chart: &BarChart) -> Drawn<DB> {
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

pub(super) fn draw_header<DB: DrawingBackend>(
    canvas: &Canvas<DB>,
    title: &str,
    subtitle: &str,
) -> Drawn<DB> {
    let room = WIDTH as i32 - 2 * MARGIN;
    let title_style = style(20.0, &TEXT, HPos::Left, VPos::Top);
    let title = canvas.fit(title, 200, room, &title_style)?;
    canvas.text(&title, (MARGIN, 14), &title_style)?;
    let subtitle_style = style(14.0, &MUTED, HPos::Left, VPos::Top);
    let subtitle = canvas.fit(subtitle, 300, room, &subtitle_style)?;
    canvas.text(&subtitle, (MARGIN, 42), &subtitle_style)
}

/// Grid lines, the zero line, and the value axis with its tick labels.
pub(super) fn draw_axis<DB: DrawingBackend>(
    canvas: &Canvas<DB>,
    frame: &Frame,
    percent: bool,
) -> Drawn<DB> {
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
pub(super) fn draw_bar<DB: DrawingBackend>(
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
pub(super) fn interval(bar: &Bar) -> Option<(f64, f64)> {
    drawn_estimate(bar)?;
    let (a, b) = (finite(bar.ci_lower)?, finite(bar.ci_upper)?);
    Some((a.min(b), a.max(b)))
}

/// The value beside the bar, or the reason there is no bar; on a white ground so that the
/// reference line never runs through text.
pub(super) fn draw_annotation<DB: DrawingBackend>(
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
pub(super) fn draw_reference<DB: DrawingBackend>(
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
