//! Trend charts of one indicator across waves.

use super::*;
use crate::spec::Wave;

/// Text under the year of a wave where a series is suppressed.
pub(super) const TREND_SUPPRESSED_TEXT: &str = "onderdrukt";
/// Canvas height of a trend chart; taller only when a long legend or many suppression notes
/// would leave the plot less than `MIN_PLOT_HEIGHT`.
pub(super) const TREND_HEIGHT: u32 = 480;
pub(super) const MIN_PLOT_HEIGHT: i32 = 200;
/// Top of the plot when there is no legend.
pub(super) const TREND_TOP: i32 = 80;
pub(super) const LEGEND_TOP: i32 = 66;
pub(super) const LEGEND_ROW: i32 = 20;
/// Length of the line sample in the legend.
pub(super) const SWATCH: i32 = 24;
/// Room between the plot edges and the first and last wave.
pub(super) const WAVE_PAD: i32 = 30;
/// Room right of the plot for the value labels of the last wave.
pub(super) const TREND_VALUE_ROOM: i32 = 60;
/// Below the plot: year labels at +8, then rows of suppression notes from `NOTE_TOP`.
pub(super) const NOTE_TOP: i32 = 26;
pub(super) const NOTE_ROW: i32 = 14;
/// Least distance between the centres of value labels at one wave.
pub(super) const VALUE_ROW: i32 = 15;
pub(super) const MARKER_RADIUS: i32 = 4;

/// Okabe–Ito colours, distinguishable with the common colour vision deficiencies; without
/// its yellow, which is too light on white. Series beyond seven reuse them, with a different
/// marker shape.
pub(super) const PALETTE: [RGBColor; 7] = [
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
pub(super) enum Marker {
    Circle,
    Square,
    Diamond,
    Up,
    Down,
}

pub(super) const MARKERS: [Marker; 5] = [
    Marker::Circle,
    Marker::Square,
    Marker::Diamond,
    Marker::Up,
    Marker::Down,
];

pub(super) fn series_color(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

pub(super) fn series_marker(index: usize) -> Marker {
    MARKERS[index % MARKERS.len()]
}

/// A darker shade of a series colour, for value labels readable on white.
pub(super) fn text_shade(color: RGBColor) -> RGBColor {
    let dark = |c: u8| (f64::from(c) * 0.72).round() as u8;
    RGBColor(dark(color.0), dark(color.1), dark(color.2))
}

/// One point of a trend series as drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Plotted {
    pub(super) wave: Wave,
    /// `None` for suppressed points and missing or non-finite estimates.
    pub(super) estimate: Option<f64>,
    /// The interval, lower ≤ upper; only with an estimate and both bounds finite.
    pub(super) interval: Option<(f64, f64)>,
    pub(super) suppressed: bool,
}

/// The points of a series as drawn, in wave order.
pub(super) fn plotted(series: &TrendSeries) -> Vec<Plotted> {
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
pub(super) fn runs<T>(
    points: &[Plotted],
    keep: impl Fn(&Plotted) -> Option<T>,
) -> Vec<Vec<(Wave, T)>> {
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
pub(super) fn suppression_notes(
    series: &[Vec<Plotted>],
    waves: &[Wave],
) -> Vec<Vec<Option<usize>>> {
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
pub(super) fn spread(wanted: &[i32], gap: i32, low: i32, high: i32) -> Vec<i32> {
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

pub(super) struct LegendEntry {
    pub(super) series: usize,
    pub(super) label: String,
    /// Left end of the line sample, and the middle of the row.
    pub(super) x: i32,
    pub(super) y: i32,
}

/// Pixel geometry of one trend chart, worked out (text measured) before the canvas exists,
/// since its height depends on the legend.
pub(super) struct TrendLayout {
    pub(super) height: u32,
    pub(super) series: Vec<Vec<Plotted>>,
    /// All waves of all series, ascending: the categories of the x axis.
    pub(super) waves: Vec<Wave>,
    pub(super) axis: Axis,
    pub(super) left: i32,
    pub(super) right: i32,
    pub(super) top: i32,
    pub(super) bottom: i32,
    /// Empty for a single series.
    pub(super) legend: Vec<LegendEntry>,
    /// Every how many waves the year is written (counted back from the last wave): all of
    /// them unless waves are too close for their labels side by side.
    pub(super) label_every: usize,
    /// Likewise for the value labels.
    pub(super) value_every: usize,
    /// Per wave, see [`suppression_notes`].
    pub(super) notes: Vec<Vec<Option<usize>>>,
    /// Rows of notes under one wave at most.
    pub(super) note_rows: i32,
    /// Waves too close for their notes side by side write them in turns in this many blocks
    /// of `note_rows` rows (1: all notes in one block).
    pub(super) note_blocks: i32,
}

impl TrendLayout {
    pub(super) fn of(chart: &TrendChart) -> Result<TrendLayout, String> {
        let mut scratch = String::new();
        let root = SVGBackend::with_string(&mut scratch, (WIDTH, TREND_HEIGHT)).into_drawing_area();
        let canvas = Canvas {
            root: &root,
            glyphs: None,
        };
        TrendLayout::measure(&canvas, chart).map_err(|e| e.to_string())
    }

    pub(super) fn measure<DB: DrawingBackend>(
        canvas: &Canvas<DB>,
        chart: &TrendChart,
    ) -> Measured<DB, TrendLayout> {
        let series: Vec<Vec<Plotted>> = chart.series.iter().map(plotted).collect();
        let mut waves: Vec<Wave> = series.iter().flatten().map(|p| p.wave).collect();
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
        let mut drawn: Vec<Wave> = series
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
    pub(super) fn x_at(&self, index: usize) -> i32 {
        if self.waves.len() < 2 {
            return (self.left + self.right) / 2;
        }
        let span = f64::from(self.right - self.left - 2 * WAVE_PAD);
        let share = index as f64 / (self.waves.len() - 1) as f64;
        self.left + WAVE_PAD + (span * share).round() as i32
    }

    pub(super) fn x(&self, wave: Wave) -> i32 {
        self.x_at(self.waves.binary_search(&wave).unwrap_or(0))
    }

    /// Pixel row of a value in data units, clamped to the plot.
    pub(super) fn y(&self, value: f64) -> i32 {
        let display = (value * self.axis.scale).clamp(self.axis.min, self.axis.max);
        let share = (display - self.axis.min) / (self.axis.max - self.axis.min);
        self.bottom - (share * f64::from(self.bottom - self.top)).round() as i32
    }
}

pub(super) fn draw_trend<DB: DrawingBackend>(
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
pub(super) fn draw_legend<DB: DrawingBackend>(
    canvas: &Canvas<DB>,
    layout: &TrendLayout,
) -> Drawn<DB> {
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
pub(super) fn draw_trend_axes<DB: DrawingBackend>(
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
pub(super) fn draw_band<DB: DrawingBackend>(
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
pub(super) fn draw_point<DB: DrawingBackend>(
    canvas: &Canvas<DB>,
    index: usize,
    at: (i32, i32),
    radius: i32,
) -> Drawn<DB> {
    let marker = series_marker(index);
    draw_marker(canvas, marker, at, radius + 2, WHITE.filled())?;
    draw_marker(canvas, marker, at, radius, series_color(index).filled())
}

pub(super) fn draw_marker<DB: DrawingBackend>(
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
pub(super) fn draw_value_labels<DB: DrawingBackend>(
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

pub(super) fn value_style() -> TextStyle<'static> {
    style(12.0, &TEXT, HPos::Left, VPos::Center)
}

/// "onderdrukt" under the year of each wave where a series is suppressed, after the series'
/// marker when only some series are.
pub(super) fn draw_notes<DB: DrawingBackend>(
    canvas: &Canvas<DB>,
    layout: &TrendLayout,
) -> Drawn<DB> {
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
