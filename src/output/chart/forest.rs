//! Forest plots of a model's coefficients.

use super::*;

/// Below the plot: tick labels, then the axis title.
pub(super) const FOREST_FOOTER: i32 = 50;
/// One line of the note on coefficients left out.
pub(super) const NOTE_LINE: i32 = 16;
/// Most lines of that note; past it the rest are counted.
pub(super) const MAX_NOTES: usize = 8;
/// How far a level is indented under its term.
pub(super) const INDENT: i32 = 14;
/// Widest value column ("0,883 (0,751 – 1,046)").
pub(super) const MAX_VALUE_PX: i32 = 240;
/// Half the side of a coefficient's square mark.
pub(super) const MARK: i32 = 4;
/// Ratios beyond e^±100 are drawn at the axis end.
pub(super) const LOG_LIMIT: f64 = 100.0;

/// The colour of the marks, and of nothing else: one mark per drawn coefficient.
pub(super) const POINT: RGBColor = RGBColor(31, 95, 153);
const STRIPE: RGBColor = RGBColor(245, 247, 249);

/// A line of the plot, top to bottom.
#[derive(Debug, Clone, Copy)]
pub(super) enum Line<'a> {
    /// The term of the levels below it.
    Term(&'a str),
    /// A coefficient that is drawn; indented under its term when it is a level.
    Coefficient(&'a ForestRow),
}

/// The coefficient to draw: `None` for a suppressed one and a missing or non-finite estimate.
pub(super) fn drawn_coefficient(row: &ForestRow) -> Option<f64> {
    finite(row.estimate).filter(|_| !row.suppressed)
}

/// The interval of a drawn coefficient, lower ≤ upper.
pub(super) fn coefficient_interval(row: &ForestRow) -> Option<(f64, f64)> {
    drawn_coefficient(row)?;
    let (a, b) = (finite(row.ci_lower)?, finite(row.ci_upper)?);
    Some((a.min(b), a.max(b)))
}

/// The lines of the plot in the order of the rows: every drawn coefficient, the levels of a
/// term under a line naming it.
pub(super) fn forest_lines(chart: &ForestChart) -> Vec<Line<'_>> {
    let mut lines = Vec::new();
    let mut group: Option<&str> = None;
    for row in chart.rows.iter().filter(|r| drawn_coefficient(r).is_some()) {
        if row.level.is_some() {
            if group != Some(row.term.as_str()) {
                lines.push(Line::Term(&row.term));
                group = Some(&row.term);
            }
        } else {
            group = None;
        }
        lines.push(Line::Coefficient(row));
    }
    lines
}

/// The note under the plot: a line per coefficient left out (suppressed, or without an
/// estimate), at most [`MAX_NOTES`] lines.
pub(super) fn forest_notes(chart: &ForestChart) -> Vec<String> {
    let omitted: Vec<String> = chart
        .rows
        .iter()
        .filter(|r| drawn_coefficient(r).is_none())
        .map(|r| {
            let name = match &r.level {
                Some(level) => format!("{}: {level}", r.term),
                None => r.term.clone(),
            };
            let why = if r.suppressed {
                FOREST_SUPPRESSED_TEXT
            } else {
                MISSING_TEXT
            };
            format!("niet getoond: {name} ({why})")
        })
        .collect();
    if omitted.len() <= MAX_NOTES {
        return omitted;
    }
    let mut notes = omitted[..MAX_NOTES - 1].to_vec();
    notes.push(format!(
        "en nog {} coëfficiënten niet getoond",
        omitted.len() - (MAX_NOTES - 1)
    ));
    notes
}

/// Why a coefficient is left out, in the note.
pub(super) const FOREST_SUPPRESSED_TEXT: &str = "onderdrukt";

pub(super) fn forest_height(chart: &ForestChart) -> u32 {
    let lines = i32::try_from(forest_lines(chart).len().max(1)).unwrap_or(i32::MAX);
    let notes = i32::try_from(forest_notes(chart).len()).unwrap_or(0);
    let notes_px = if notes > 0 { 4 + notes * NOTE_LINE } else { 0 };
    let height = ROW
        .saturating_mul(lines)
        .saturating_add(HEADER + FOREST_FOOTER + notes_px + 8);
    u32::try_from(height).unwrap_or(u32::MAX)
}

/// The value axis of a forest plot, in the model's units: log ratios for a ratio axis (whose
/// ticks are labelled with the ratios), coefficients otherwise. It always holds 0, the line
/// of no effect.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Scale {
    pub(super) min: f64,
    pub(super) max: f64,
    /// Ticks in model units, with their labels.
    pub(super) ticks: Vec<(f64, String)>,
}

impl Scale {
    pub(super) fn of(chart: &ForestChart) -> Scale {
        let values: Vec<f64> = chart
            .rows
            .iter()
            .filter(|r| drawn_coefficient(r).is_some())
            .flat_map(|r| [r.estimate, r.ci_lower, r.ci_upper])
            .filter_map(finite)
            .collect();
        if chart.ratio {
            Scale::log(&values)
        } else {
            Scale::linear(&values)
        }
    }

    /// Coefficients as they are, from (below) zero to past the largest, as the bar charts.
    pub(super) fn linear(values: &[f64]) -> Scale {
        let limit = 1e12;
        let values: Vec<f64> = values.iter().map(|v| v.clamp(-limit, limit)).collect();
        let axis = Axis::from_zero(&values, false);
        Scale {
            min: axis.min,
            max: axis.max,
            ticks: axis
                .ticks()
                .into_iter()
                .map(|t| (t, axis.tick_label(t, false)))
                .collect(),
        }
    }

    /// Log ratios, ticks at ratios: a nice step between the ratios where they span a factor 4
    /// or less (0,8 0,9 1 1,1), else powers of 2 (0,25 0,5 1 2 4), or of 10 when those are
    /// too many.
    pub(super) fn log(values: &[f64]) -> Scale {
        let clamp = |v: f64| v.clamp(-LOG_LIMIT, LOG_LIMIT);
        let lo = values.iter().copied().map(clamp).fold(0.0, f64::min);
        let hi = values.iter().copied().map(clamp).fold(0.0, f64::max);
        let (lo, hi) = if hi - lo < 1e-9 {
            (-std::f64::consts::LN_2, std::f64::consts::LN_2)
        } else {
            let pad = 0.06 * (hi - lo);
            (lo - pad, hi + pad)
        };
        let ratios: Vec<f64> = if hi - lo <= 4f64.ln() {
            let (a, b) = (lo.exp(), hi.exp());
            let step = nice_step((b - a) / 5.0);
            let first = ((a / step).ceil() as i64).max(1);
            let last = (b / step).floor() as i64;
            (first..=last).map(|k| k as f64 * step).collect()
        } else {
            let powers = |base: f64| {
                let first = (lo / base.ln()).ceil() as i32;
                let last = (hi / base.ln()).floor() as i32;
                (first, last)
            };
            let (first, last) = powers(2.0);
            if last - first < 9 {
                (first..=last).map(|k| 2f64.powi(k)).collect()
            } else {
                let (first, last) = powers(10.0);
                let every = ((last - first) / 8 + 1).max(1);
                (first..=last)
                    .filter(|k| k % every == 0)
                    .map(|k| 10f64.powi(k))
                    .collect()
            }
        };
        Scale {
            min: lo,
            max: hi,
            ticks: ratios
                .into_iter()
                .map(|ratio| (ratio.ln(), ratio_label(ratio)))
                .collect(),
        }
    }
}

/// A tick's ratio with as few decimals as it needs: `0,25`, `1`, `1,1`.
pub(super) fn ratio_label(ratio: f64) -> String {
    let decimals = (0..6)
        .find(|&d| {
            let scaled = ratio * 10f64.powi(d);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.abs().max(1.0)
        })
        .unwrap_or(6);
    format::number(ratio, decimals as usize)
}

/// The value beside a coefficient: the ratio (or coefficient) and its interval.
pub(super) fn forest_value(chart: &ForestChart, row: &ForestRow) -> String {
    let scaled = |v: f64| {
        if chart.ratio {
            v.clamp(-700.0, 700.0).exp()
        } else {
            v
        }
    };
    let Some(estimate) = drawn_coefficient(row) else {
        return String::new();
    };
    let interval = coefficient_interval(row);
    let size = [Some(estimate), interval.map(|i| i.0), interval.map(|i| i.1)]
        .into_iter()
        .flatten()
        .map(|v| scaled(v).abs())
        .fold(0.0, f64::max);
    let shown = |v: f64| format::coefficient_at(scaled(v), size);
    match interval {
        Some((lower, upper)) => {
            format!("{} ({} – {})", shown(estimate), shown(lower), shown(upper))
        }
        None => shown(estimate),
    }
}

/// Pixel geometry of one forest plot.
pub(super) struct Plot {
    pub(super) scale: Scale,
    pub(super) left: i32,
    pub(super) right: i32,
    pub(super) top: i32,
    pub(super) bottom: i32,
}

impl Plot {
    /// Pixel column of a value in model units, clamped to the plot.
    pub(super) fn x(&self, value: f64) -> i32 {
        let (min, max) = (self.scale.min, self.scale.max);
        let value = if value.is_nan() { 0.0 } else { value };
        let share = (value.clamp(min, max) - min) / (max - min);
        self.left + (share * f64::from(self.right - self.left)).round() as i32
    }

    pub(super) fn row_top(&self, index: usize) -> i32 {
        self.top + ROW * i32::try_from(index).unwrap_or(0)
    }
}

pub(super) fn draw_forest<DB: DrawingBackend>(
    canvas: &Canvas<DB>,
    chart: &ForestChart,
) -> Drawn<DB> {
    canvas.root.fill(&WHITE)?;
    draw_header(canvas, &chart.title, &chart.subtitle)?;
    let lines = forest_lines(chart);

    let label_style = style(14.0, &TEXT, HPos::Left, VPos::Center);
    // The label column is as wide as the coefficients' labels; a term's line, which has no
    // mark, may run on into the plot.
    let mut labels = Vec::with_capacity(lines.len());
    let mut label_px = MIN_LABEL_PX;
    for line in &lines {
        let (text, indent) = match line {
            Line::Term(_) => (String::new(), 0),
            Line::Coefficient(row) => match &row.level {
                Some(level) => (level.clone(), INDENT),
                None => (row.term.clone(), 0),
            },
        };
        let text = canvas.fit(&text, MAX_LABEL_CHARS, MAX_LABEL_PX - indent, &label_style)?;
        label_px = label_px.max(indent + canvas.width(&text, &label_style)?);
        labels.push((text, indent));
    }

    let value_style = style(12.0, &TEXT, HPos::Left, VPos::Center);
    let heading_style = style(12.0, &MUTED, HPos::Left, VPos::Bottom);
    let heading = format!("{} (95%-BI)", chart.measure);
    let mut value_px = canvas.width(&heading, &heading_style)?;
    let values: Vec<String> = lines
        .iter()
        .map(|line| match line {
            Line::Coefficient(row) => forest_value(chart, row),
            Line::Term(_) => String::new(),
        })
        .collect();
    for value in &values {
        value_px = value_px.max(canvas.width(value, &value_style)?);
    }

    let rows = i32::try_from(lines.len().max(1)).unwrap_or(1);
    let plot = Plot {
        scale: Scale::of(chart),
        left: MARGIN + label_px.min(MAX_LABEL_PX) + 16,
        right: WIDTH as i32 - MARGIN - value_px.min(MAX_VALUE_PX) - 16,
        top: HEADER,
        bottom: HEADER + ROW * rows,
    };
    for index in (1..lines.len()).step_by(2) {
        let top = plot.row_top(index);
        canvas.root.draw(&Rectangle::new(
            [(MARGIN / 2, top), (WIDTH as i32 - MARGIN / 2, top + ROW)],
            STRIPE.filled(),
        ))?;
    }
    draw_forest_axis(canvas, &plot, chart)?;
    let values_x = plot.right + 16;
    canvas.text(&heading, (values_x, plot.top - 9), &heading_style)?;

    for (index, (line, (label, indent))) in lines.iter().zip(&labels).enumerate() {
        let middle = plot.row_top(index) + ROW / 2;
        let row = match line {
            Line::Term(term) => {
                // On the row's ground, over the grid and the line of no effect.
                let room = plot.right - MARGIN;
                let text = canvas.fit(term, 200, room, &label_style)?;
                let width = canvas.width(&text, &label_style)?;
                let ground = if index % 2 == 1 { STRIPE } else { WHITE };
                canvas.root.draw(&Rectangle::new(
                    [(MARGIN - 2, middle - 9), (MARGIN + width + 4, middle + 9)],
                    ground.filled(),
                ))?;
                canvas.text(&text, (MARGIN, middle), &label_style)?;
                continue;
            }
            Line::Coefficient(row) => row,
        };
        canvas.text(label, (MARGIN + indent, middle), &label_style)?;
        let Some(estimate) = drawn_coefficient(row) else {
            continue;
        };
        if let Some((lower, upper)) = coefficient_interval(row) {
            let (a, b) = (plot.x(lower), plot.x(upper));
            let stroke = WHISKER.stroke_width(1);
            canvas
                .root
                .draw(&PathElement::new(vec![(a, middle), (b, middle)], stroke))?;
            for cap in [a, b] {
                canvas.root.draw(&PathElement::new(
                    vec![(cap, middle - 5), (cap, middle + 5)],
                    stroke,
                ))?;
            }
        }
        let x = plot.x(estimate);
        canvas.root.draw(&Rectangle::new(
            [(x - MARK, middle - MARK), (x + MARK, middle + MARK)],
            POINT.filled(),
        ))?;
        let value = canvas.fit(&values[index], 60, MAX_VALUE_PX, &value_style)?;
        canvas.text(&value, (values_x, middle), &value_style)?;
    }

    if lines.is_empty() {
        let text = if chart.rows.iter().any(|r| r.suppressed) {
            SUPPRESSED_TEXT
        } else if chart.rows.is_empty() {
            EMPTY_TEXT
        } else {
            MISSING_TEXT
        };
        let empty = style(12.0, &MUTED, HPos::Center, VPos::Center);
        canvas.text(
            text,
            ((plot.left + plot.right) / 2, plot.top + ROW / 2),
            &empty,
        )?;
    }

    let note_style = style(12.0, &MUTED, HPos::Left, VPos::Top);
    let room = WIDTH as i32 - 2 * MARGIN;
    for (index, note) in forest_notes(chart).iter().enumerate() {
        let y = plot.bottom + FOREST_FOOTER + 4 + NOTE_LINE * i32::try_from(index).unwrap_or(0);
        let note = canvas.fit(note, 200, room, &note_style)?;
        canvas.text(&note, (MARGIN, y), &note_style)?;
    }
    Ok(())
}

/// Grid lines with the tick labels, the axis and its title, and the dashed line of no effect
/// (a ratio of 1, a coefficient of 0).
pub(super) fn draw_forest_axis<DB: DrawingBackend>(
    canvas: &Canvas<DB>,
    plot: &Plot,
    chart: &ForestChart,
) -> Drawn<DB> {
    let root = canvas.root;
    let tick_style = style(12.0, &MUTED, HPos::Center, VPos::Top);
    for (tick, label) in &plot.scale.ticks {
        let x = plot.x(*tick);
        root.draw(&PathElement::new(
            vec![(x, plot.top), (x, plot.bottom)],
            GRID,
        ))?;
        root.draw(&PathElement::new(
            vec![(x, plot.bottom), (x, plot.bottom + 4)],
            AXIS,
        ))?;
        canvas.text(label, (x, plot.bottom + 8), &tick_style)?;
    }
    root.draw(&PathElement::new(
        vec![(plot.left, plot.bottom), (plot.right, plot.bottom)],
        AXIS,
    ))?;
    let title = if chart.ratio {
        format!("{} (logaritmische schaal)", chart.measure)
    } else {
        chart.measure.clone()
    };
    let title_style = style(12.0, &MUTED, HPos::Center, VPos::Top);
    canvas.text(
        &title,
        ((plot.left + plot.right) / 2, plot.bottom + 28),
        &title_style,
    )?;
    let x = plot.x(0.0);
    let mut y = plot.top - 4;
    while y < plot.bottom {
        root.draw(&PathElement::new(
            vec![(x, y), (x, (y + 6).min(plot.bottom))],
            REFERENCE.stroke_width(2),
        ))?;
        y += 10;
    }
    Ok(())
}
