//! `tabellenboek.xlsx`: the released estimates as the Excel table book that GGDs and
//! municipalities exchange. A first sheet "Toelichting" explains the columns and the flags and
//! links to the other sheets; then comes one sheet per segmentation, in spec order, with per
//! indicator a block of one row per segment × wave: the estimate, its 95% interval, the
//! unweighted and weighted n, and the flags in Dutch ("opmerking"). With `[[model]]`s a last
//! sheet "modellen" holds every released coefficient: a row per model × wave × segment ×
//! coefficient with the coefficient, its standard error and interval, for logistic and poisson
//! models the odds or rate ratio and its interval, t, df, p, n and the remarks.
//!
//! Only released rows go in, and the values of a suppressed row are never written, so the book
//! shows no more than `estimates.parquet` publishes. Values are numbers with a number format
//! (`0.0%` for proportions, `0.00` otherwise, `#,##0` for counts, `0.000` for the coefficients,
//! ratios and p-values of models): Excel shows them in the reader's locale (13,2% in a Dutch
//! Excel) and they can be computed with.
//!
//! Sheet names follow Excel's rules: at most 31 characters, none of `[]:*?/\`, no apostrophe at
//! either end, unique regardless of case; `a*b` becomes `a x b`, and a name that truncation
//! makes collide gets a suffix ` (2)`. The output is deterministic: the creation date in
//! `docProps/core.xml` is fixed at 2000-01-01 (rust_xlsxwriter gives the zip entries a fixed
//! time itself), so the same book gives the same bytes.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rust_xlsxwriter::{
    ColNum, Color, DocProperties, ExcelDateTime, Format, FormatAlign, FormatBorder, RowNum, Url,
    Workbook, Worksheet, XlsxError,
};

use crate::disclosure::{ReleasedModelRow, ReleasedRow};
use crate::spec::ModelFamily;

/// Everything in the book.
#[derive(Debug, Clone)]
pub struct Tabellenboek<'a> {
    /// e.g. "peiling — dementiemonitor".
    pub title: String,
    /// e.g. "peiling 0.1.0".
    pub generated_by: String,
    /// In spec order; a block per indicator on every sheet.
    pub indicators: Vec<IndicatorInfo>,
    /// In spec order, e.g. `total`, `provincie`, `mz_geslacht*leeftijdsgroep`; a sheet each.
    pub segmentations: Vec<String>,
    /// Released rows; rows of other indicators or segmentations are left out.
    pub rows: &'a [ReleasedRow],
    /// The models in spec order; with none there is no sheet "modellen".
    pub models: Vec<ModelInfo>,
    /// Every released coefficient, in the order of `models.parquet`.
    pub model_rows: &'a [ReleasedModelRow],
    /// Flag explanations, one per line.
    pub notes: Vec<String>,
}

/// An indicator as the book shows it.
#[derive(Debug, Clone)]
pub struct IndicatorInfo {
    pub id: String,
    pub label: String,
    /// Values are shares (0–1), shown as percentages.
    pub percent: bool,
}

/// A model as the book lists it.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub id: String,
    pub label: String,
    /// In words: "logistische regressie".
    pub family: String,
}

/// Name of the sheet of the models' coefficients.
pub const MODELLEN: &str = "modellen";

/// The column headers of the sheet "modellen"; from `coëfficiënt` on up to `n gewogen` the
/// columns hold numbers.
const MODEL_COLUMNS: [&str; 19] = [
    "model",
    "meting",
    "uitsplitsing",
    "segment",
    "term",
    "niveau",
    "coëfficiënt",
    "standaardfout",
    "ondergrens",
    "bovengrens",
    "odds/rate ratio",
    "ratio ondergrens",
    "ratio bovengrens",
    "t",
    "vrijheidsgraden",
    "p-waarde",
    "n",
    "n gewogen",
    "opmerking",
];

/// The columns of the sheet "modellen" explained on the first sheet.
const MODEL_GLOSSARY: [(&str, &str); 7] = [
    (
        "model",
        "Het regressiemodel (zijn id in de pijplijn); naam en soort staan hieronder.",
    ),
    (
        "uitsplitsing, segment",
        "total en Totaal voor een model van alle respondenten; bij een model dat per groep apart \
         geschat is de uitsplitsing en de groep.",
    ),
    (
        "term, niveau",
        "De verklarende variabele ((Intercept) voor het intercept) en bij een categorische de \
         categorie, vergeleken met de referentiecategorie (die zelf geen rij heeft).",
    ),
    (
        "coëfficiënt",
        "Het effect van de term: bij lineaire regressie het verschil in de uitkomst, bij \
         logistische in log-odds, bij poissonregressie in de logaritme van de uitkomst; met de \
         standaardfout en het 95%-betrouwbaarheidsinterval (ondergrens, bovengrens).",
    ),
    (
        "odds/rate ratio",
        "exp(coëfficiënt): bij logistische regressie de odds ratio, bij poissonregressie de rate \
         ratio, met het interval (ratio ondergrens, ratio bovengrens). Boven 1 een grotere kans \
         of uitkomst dan in de referentiecategorie, onder 1 een kleinere. Leeg bij lineaire \
         regressie.",
    ),
    (
        "t, vrijheidsgraden, p-waarde",
        "De t-toets van de coëfficiënt tegen 0, met de vrijheidsgraden van het design (R svyglm).",
    ),
    (
        "n, n gewogen",
        "Het aantal respondenten in het model (in deze groep) en de som van hun weegfactoren.",
    ),
];

/// Name of the first sheet.
const TOELICHTING: &str = "Toelichting";

/// Excel's longest sheet name, in characters.
const MAX_SHEET_NAME: usize = 31;

/// Names Excel refuses for a sheet although their characters are valid (lowercase).
const RESERVED: [&str; 1] = ["history"];

/// "opmerking" of a suppressed cell.
const SUPPRESSED: &str = "onderdrukt (te weinig waarnemingen)";

/// The column headers of a block; from `schatting` on the columns hold numbers.
const COLUMNS: [&str; 8] = [
    "segment",
    "meting",
    "schatting",
    "ondergrens",
    "bovengrens",
    "n",
    "n gewogen",
    "opmerking",
];

/// The columns explained on the first sheet.
const GLOSSARY: [(&str, &str); 7] = [
    (
        "segment",
        "De groep waarvoor de schatting geldt, bijvoorbeeld een provincie of een leeftijdsgroep.",
    ),
    ("meting", "Het jaar of de ronde van de meting."),
    (
        "schatting",
        "De gewogen schatting voor de groep: een percentage bij ja/nee-indicatoren, anders een \
         gemiddelde, totaal, verhouding of kwantiel.",
    ),
    (
        "ondergrens, bovengrens",
        "Het 95%-betrouwbaarheidsinterval: met 95% betrouwbaarheid ligt de waarde in de hele \
         populatie tussen deze grenzen. Hoe breder het interval, hoe onzekerder de schatting.",
    ),
    (
        "n",
        "n ongewogen: het aantal respondenten waarop de schatting berust.",
    ),
    (
        "n gewogen",
        "De som van de weegfactoren van deze respondenten: het aantal dat zij na weging \
         vertegenwoordigen.",
    ),
    (
        "opmerking",
        "Waarom een cel leeg is (onderdrukt of niet te berekenen) of waarom een schatting met \
         voorzichtigheid gelezen moet worden. Lege cellen zijn nooit nul.",
    ),
];

/// Writes the book to `path`.
pub fn tabellenboek(book: &Tabellenboek, path: &Path) -> Result<(), XlsxError> {
    workbook(book)?.save(path)
}

/// The book in memory, every sheet written.
fn workbook(book: &Tabellenboek) -> Result<Workbook, XlsxError> {
    let mut workbook = Workbook::new();
    // A fixed creation date: rust_xlsxwriter would write the current time into core.xml.
    let properties = DocProperties::new()
        .set_title(&book.title)
        .set_comment(format!("Gemaakt met {}", book.generated_by))
        .set_creation_datetime(&ExcelDateTime::from_ymd(2000, 1, 1)?);
    workbook.set_properties(&properties);

    let styles = Styles::new();
    let reserved: &[&str] = if book.models.is_empty() {
        &[]
    } else {
        &[MODELLEN]
    };
    let names = sheet_names(&book.segmentations, reserved);
    explanation(workbook.add_worksheet(), book, &names, &styles)?;

    let mut blocks: HashMap<(&str, &str), Vec<&ReleasedRow>> = HashMap::new();
    for row in book.rows {
        blocks
            .entry((row.indicator.as_str(), row.segmentation.as_str()))
            .or_default()
            .push(row);
    }
    for (segmentation, name) in book.segmentations.iter().zip(&names) {
        let sheet = workbook.add_worksheet();
        sheet.set_name(name)?;
        segmentation_sheet(sheet, book, segmentation, &blocks, &styles)?;
    }
    if !book.models.is_empty() {
        let sheet = workbook.add_worksheet();
        sheet.set_name(MODELLEN)?;
        models_sheet(sheet, book, &styles)?;
    }
    Ok(workbook)
}

/// The cell formats of the book.
struct Styles {
    title: Format,
    heading: Format,
    bold: Format,
    muted: Format,
    wrap: Format,
    header: Format,
    header_number: Format,
    wave: Format,
    percent: Format,
    decimal: Format,
    count: Format,
    coefficient: Format,
}

impl Styles {
    fn new() -> Styles {
        let header = Format::new()
            .set_bold()
            .set_border_bottom(FormatBorder::Thin);
        Styles {
            title: Format::new().set_bold().set_font_size(14),
            heading: Format::new().set_bold().set_font_size(12),
            bold: Format::new().set_bold(),
            muted: Format::new()
                .set_italic()
                .set_font_color(Color::RGB(0x666666)),
            wrap: Format::new().set_text_wrap().set_align(FormatAlign::Top),
            header_number: header.clone().set_align(FormatAlign::Right),
            header,
            wave: Format::new().set_num_format("0"),
            percent: Format::new().set_num_format("0.0%"),
            decimal: Format::new().set_num_format("0.00"),
            count: Format::new().set_num_format("#,##0"),
            coefficient: Format::new().set_num_format("0.000"),
        }
    }
}

/// The first sheet: title, what the columns mean, the notes, and links to the other sheets.
fn explanation(
    sheet: &mut Worksheet,
    book: &Tabellenboek,
    names: &[String],
    styles: &Styles,
) -> Result<(), XlsxError> {
    sheet.set_name(TOELICHTING)?;
    sheet.set_column_width(0, 28)?;
    sheet.set_column_width(1, 100)?;
    sheet.write_string_with_format(0, 0, &book.title, &styles.title)?;
    sheet.write_string_with_format(1, 0, &book.generated_by, &styles.muted)?;

    let mut row: RowNum = 3;
    sheet.write_string_with_format(row, 0, "Kolommen", &styles.heading)?;
    row += 1;
    sheet.write_string(
        row,
        0,
        "Elk volgend tabblad is één uitsplitsing; daarop per indicator een tabel met een rij per \
         segment en meting.",
    )?;
    row += 1;
    for (term, text) in GLOSSARY {
        sheet.write_string_with_format(row, 0, term, &styles.bold)?;
        sheet.write_string_with_format(row, 1, text, &styles.wrap)?;
        row += 1;
    }

    if !book.models.is_empty() {
        row += 1;
        sheet.write_string_with_format(row, 0, "Modellen", &styles.heading)?;
        row += 1;
        sheet.write_string(
            row,
            0,
            "Het tabblad modellen heeft de coëfficiënten van de regressiemodellen: een rij per \
             model, meting, segment en coëfficiënt.",
        )?;
        row += 1;
        for (term, text) in MODEL_GLOSSARY {
            sheet.write_string_with_format(row, 0, term, &styles.bold)?;
            sheet.write_string_with_format(row, 1, text, &styles.wrap)?;
            row += 1;
        }
        for model in &book.models {
            sheet.write_string(row, 0, &model.id)?;
            sheet.write_string(row, 1, format!("{} ({})", model.label, model.family))?;
            row += 1;
        }
    }

    if !book.notes.is_empty() {
        row += 1;
        sheet.write_string_with_format(row, 0, "Opmerkingen", &styles.heading)?;
        row += 1;
        for note in &book.notes {
            sheet.write_string_with_format(row, 1, note, &styles.wrap)?;
            row += 1;
        }
    }

    row += 1;
    sheet.write_string_with_format(row, 0, "Tabbladen", &styles.heading)?;
    row += 1;
    for (segmentation, name) in book.segmentations.iter().zip(names) {
        let link = format!("internal:'{}'!A1", name.replace('\'', "''"));
        sheet.write_url_with_text(row, 0, Url::new(link), name)?;
        sheet.write_string(row, 1, sheet_heading(segmentation))?;
        row += 1;
    }
    if !book.models.is_empty() {
        let link = format!("internal:'{MODELLEN}'!A1");
        sheet.write_url_with_text(row, 0, Url::new(link), MODELLEN)?;
        sheet.write_string(row, 1, "Regressiemodellen: de coëfficiënten")?;
        row += 1;
    }

    if !book.indicators.is_empty() {
        row += 1;
        sheet.write_string_with_format(row, 0, "Indicatoren", &styles.heading)?;
        row += 1;
        for indicator in &book.indicators {
            sheet.write_string(row, 0, &indicator.id)?;
            sheet.write_string(row, 1, &indicator.label)?;
            row += 1;
        }
    }
    Ok(())
}

/// The heading of a segmentation's sheet, e.g. "Uitsplitsing naar geslacht × leeftijdsgroep".
fn sheet_heading(segmentation: &str) -> String {
    if segmentation == "total" {
        "Totaal (alle respondenten)".to_string()
    } else {
        format!("Uitsplitsing naar {}", segmentation.replace('*', " × "))
    }
}

/// One segmentation: a heading and the column headers (both frozen), then a block per indicator.
fn segmentation_sheet(
    sheet: &mut Worksheet,
    book: &Tabellenboek,
    segmentation: &str,
    blocks: &HashMap<(&str, &str), Vec<&ReleasedRow>>,
    styles: &Styles,
) -> Result<(), XlsxError> {
    sheet.write_string_with_format(0, 0, sheet_heading(segmentation), &styles.heading)?;
    column_headers(sheet, 1, styles)?;
    sheet.set_freeze_panes(2, 0)?;

    let mut label_width = COLUMNS[0].len();
    let mut remark_width = COLUMNS[7].len();
    let mut row: RowNum = 3;
    for indicator in &book.indicators {
        sheet.write_string_with_format(row, 0, &indicator.label, &styles.bold)?;
        row += 1;
        column_headers(sheet, row, styles)?;
        row += 1;
        let rows = blocks
            .get(&(indicator.id.as_str(), segmentation))
            .map_or(&[][..], Vec::as_slice);
        if rows.is_empty() {
            sheet.write_string_with_format(row, 0, "geen schattingen", &styles.muted)?;
            row += 1;
        }
        let value = if indicator.percent {
            &styles.percent
        } else {
            &styles.decimal
        };
        for released in rows {
            // Belt and braces: nothing of a suppressed row is written, whatever it holds.
            let shown = |v: Option<f64>| v.filter(|_| !released.suppressed);
            sheet.write_string(row, 0, &released.segment_label)?;
            match released.wave.number() {
                Some(number) => sheet.write_number_with_format(row, 1, number, &styles.wave)?,
                None => sheet.write_string(row, 1, released.wave.name())?,
            };
            number(sheet, row, 2, shown(released.estimate), value)?;
            number(sheet, row, 3, shown(released.ci_lower), value)?;
            number(sheet, row, 4, shown(released.ci_upper), value)?;
            let n = released.n.map(|n| n as f64);
            number(sheet, row, 5, shown(n), &styles.count)?;
            number(sheet, row, 6, shown(released.n_weighted), &styles.count)?;
            let remark = remark(released.flag.as_deref(), released.suppressed);
            if !remark.is_empty() {
                sheet.write_string(row, 7, &remark)?;
            }
            label_width = label_width.max(released.segment_label.chars().count());
            remark_width = remark_width.max(remark.chars().count());
            row += 1;
        }
        row += 1;
    }

    sheet.set_column_width(0, (label_width + 2).clamp(14, 60) as f64)?;
    sheet.set_column_width(1, 9)?;
    for col in 2..=6 {
        sheet.set_column_width(col, 12)?;
    }
    sheet.set_column_width(7, (remark_width + 2).clamp(14, 90) as f64)?;
    Ok(())
}

/// The column header row of a block.
fn column_headers(sheet: &mut Worksheet, row: RowNum, styles: &Styles) -> Result<(), XlsxError> {
    for (col, header) in (0..).zip(COLUMNS) {
        let format = if (1..=6).contains(&col) {
            &styles.header_number
        } else {
            &styles.header
        };
        sheet.write_string_with_format(row, col, header, format)?;
    }
    Ok(())
}

/// The sheet "modellen": a heading and the column headers (both frozen, with a filter), then
/// every released coefficient.
fn models_sheet(
    sheet: &mut Worksheet,
    book: &Tabellenboek,
    styles: &Styles,
) -> Result<(), XlsxError> {
    sheet.write_string_with_format(
        0,
        0,
        "Regressiemodellen: coëfficiënten per model, meting en segment",
        &styles.heading,
    )?;
    for (col, header) in (0..).zip(MODEL_COLUMNS) {
        let format = if (1..=17).contains(&col) && !(2..=5).contains(&col) {
            &styles.header_number
        } else {
            &styles.header
        };
        sheet.write_string_with_format(1, col, header, format)?;
    }
    sheet.set_freeze_panes(2, 0)?;

    let mut widths: Vec<usize> = MODEL_COLUMNS.iter().map(|h| h.chars().count()).collect();
    let mut text = |sheet: &mut Worksheet, row: RowNum, col: ColNum, value: &str| {
        let width = &mut widths[usize::from(col)];
        *width = (*width).max(value.chars().count());
        sheet.write_string(row, col, value).map(|_| ())
    };
    let mut row: RowNum = 2;
    if book.model_rows.is_empty() {
        sheet.write_string_with_format(row, 0, "geen coëfficiënten", &styles.muted)?;
        row += 1;
    }
    for released in book.model_rows {
        // Belt and braces: nothing of a suppressed row is written, whatever it holds.
        let shown = |v: Option<f64>| v.filter(|_| !released.suppressed);
        let ratio = |v: Option<f64>| {
            shown(v)
                .filter(|_| released.family != ModelFamily::Linear)
                .map(f64::exp)
        };
        text(sheet, row, 0, &released.model)?;
        match released.wave.number() {
            Some(number) => sheet.write_number_with_format(row, 1, number, &styles.wave)?,
            None => sheet.write_string(row, 1, released.wave.name())?,
        };
        text(sheet, row, 2, &released.segmentation)?;
        text(sheet, row, 3, &released.segment_label)?;
        text(sheet, row, 4, &released.term)?;
        let level = released.level_label.as_ref().or(released.level.as_ref());
        if let Some(level) = level {
            text(sheet, row, 5, level)?;
        }
        let coefficient = &styles.coefficient;
        number(sheet, row, 6, shown(released.estimate), coefficient)?;
        number(sheet, row, 7, shown(released.std_error), coefficient)?;
        number(sheet, row, 8, shown(released.ci_lower), coefficient)?;
        number(sheet, row, 9, shown(released.ci_upper), coefficient)?;
        number(sheet, row, 10, ratio(released.estimate), coefficient)?;
        number(sheet, row, 11, ratio(released.ci_lower), coefficient)?;
        number(sheet, row, 12, ratio(released.ci_upper), coefficient)?;
        number(sheet, row, 13, shown(released.statistic), &styles.decimal)?;
        number(sheet, row, 14, shown(released.df), &styles.count)?;
        number(sheet, row, 15, shown(released.p_value), coefficient)?;
        let n = released.n.map(|n| n as f64);
        number(sheet, row, 16, shown(n), &styles.count)?;
        number(sheet, row, 17, shown(released.n_weighted), &styles.count)?;
        let remark = remark(released.flag.as_deref(), released.suppressed);
        if !remark.is_empty() {
            text(sheet, row, 18, &remark)?;
        }
        row += 1;
    }
    sheet.autofilter(1, 0, row - 1, 18)?;
    for (col, width) in (0..).zip(&widths) {
        let width = match col {
            1 => 9,
            6..=17 => 12.max(*width),
            18 => (width + 2).clamp(14, 90),
            _ => (width + 2).clamp(10, 50),
        };
        sheet.set_column_width(col, width as f64)?;
    }
    Ok(())
}

/// A value cell; empty without a (finite) value.
fn number(
    sheet: &mut Worksheet,
    row: RowNum,
    col: ColNum,
    value: Option<f64>,
    format: &Format,
) -> Result<(), XlsxError> {
    if let Some(value) = value.filter(|v| v.is_finite()) {
        sheet.write_number_with_format(row, col, value, format)?;
    }
    Ok(())
}

/// The "opmerking" of a row: its `;`-separated flag codes in Dutch, each text once, joined by
/// `; `. A suppressed row always says so.
fn remark(flag: Option<&str>, suppressed: bool) -> String {
    let mut texts: Vec<&str> = Vec::new();
    for code in flag
        .unwrap_or_default()
        .split(';')
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        let text = flag_text(code);
        if !texts.contains(&text) {
            texts.push(text);
        }
    }
    if suppressed && !texts.iter().any(|t| t.starts_with("onderdrukt")) {
        texts.insert(0, SUPPRESSED);
    }
    texts.join("; ")
}

/// One flag code in Dutch; an unknown code as it is.
fn flag_text(code: &str) -> &str {
    match code {
        "n_below_min" | "cell_below_min" => SUPPRESSED,
        crate::disclosure::COMPLEMENTARY => "onderdrukt (ter bescherming van een andere cel)",
        "unreliable" => "onbetrouwbaar (grote relatieve standaardfout)",
        "low_effective_n" => "kleine effectieve steekproef",
        "low_df" => "weinig vrijheidsgraden",
        "no_interval" => "geen betrouwbaarheidsinterval",
        crate::disclosure::EMPTY_DOMAIN => "geen respondenten in deze groep",
        "ci_korn_graubard" => "interval volgens Korn-Graubard (percentage 0 of 100)",
        "empty_level" => "niemand in het model heeft dit niveau",
        "not_fitted" => "model niet te schatten in dit segment",
        other => other,
    }
}

/// The sheet names of the segmentations, in order: valid in Excel and unique regardless of
/// case, also against the first sheet and the `reserved` names of other sheets.
fn sheet_names(segmentations: &[String], reserved: &[&str]) -> Vec<String> {
    let mut taken: HashSet<String> = RESERVED.iter().map(|name| name.to_string()).collect();
    taken.insert(TOELICHTING.to_lowercase());
    taken.extend(reserved.iter().map(|name| name.to_lowercase()));
    segmentations
        .iter()
        .map(|segmentation| unique_name(&sheet_name(segmentation), &mut taken))
        .collect()
}

/// A valid sheet name for a segmentation: `*` becomes ` x `, the other characters Excel
/// forbids become `_`, control characters go, apostrophes and spaces at either end go, and the
/// rest is cut to 31 characters.
fn sheet_name(segmentation: &str) -> String {
    let mut name = String::with_capacity(segmentation.len());
    for c in segmentation.chars() {
        match c {
            '*' => name.push_str(" x "),
            '[' | ']' | ':' | '?' | '/' | '\\' => name.push('_'),
            c if c.is_control() => {}
            c => name.push(c),
        }
    }
    let name = trim_name(truncate(trim_name(&name), MAX_SHEET_NAME));
    if name.is_empty() {
        "uitsplitsing".to_string()
    } else {
        name.to_string()
    }
}

/// `base`, or when that is taken `base (2)`, `base (3)`, … cut so as to stay within 31
/// characters; the name returned is marked as taken.
fn unique_name(base: &str, taken: &mut HashSet<String>) -> String {
    let mut name = base.to_string();
    let mut number = 2;
    while !taken.insert(name.to_lowercase()) {
        let suffix = format!(" ({number})");
        let room = MAX_SHEET_NAME - suffix.chars().count();
        name = format!("{}{suffix}", trim_name(truncate(base, room)));
        number += 1;
    }
    name
}

/// Without apostrophes and white space at either end, which Excel refuses or hides.
fn trim_name(name: &str) -> &str {
    name.trim_matches(|c: char| c == '\'' || c.is_whitespace())
}

/// The first `max` characters of `name`.
fn truncate(name: &str, max: usize) -> &str {
    name.char_indices()
        .nth(max)
        .map_or(name, |(end, _)| &name[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::IndicatorKind;

    fn released(
        indicator: &str,
        segmentation: &str,
        segment: &str,
        wave: i32,
        estimate: Option<f64>,
        flag: Option<&str>,
    ) -> ReleasedRow {
        let suppressed = estimate.is_none();
        ReleasedRow {
            wave: wave.into(),
            indicator: indicator.into(),
            kind: IndicatorKind::Proportion,
            segmentation: segmentation.into(),
            segment: segment.into(),
            segment_label: format!("{segment} — Fryslân"),
            estimate,
            std_error: estimate.map(|_| 0.01),
            ci_lower: estimate.map(|v| v - 0.02),
            ci_upper: estimate.map(|v| v + 0.02),
            ci_method: estimate.map(|_| "logit".into()),
            df: estimate.map(|_| 40.0),
            n: estimate.map(|_| 1234),
            n_weighted: estimate.map(|_| 5678.9),
            deff: estimate.map(|_| 1.3),
            rse: estimate.map(|_| 0.05),
            suppressed,
            flag: flag.map(str::to_string),
        }
    }

    fn rows() -> Vec<ReleasedRow> {
        vec![
            released("eenzaam", "provincie", "20", 2022, Some(0.132), None),
            released(
                "eenzaam",
                "provincie",
                "20",
                2024,
                None,
                Some("n_below_min"),
            ),
            released(
                "eenzaam",
                "provincie",
                "21",
                2024,
                None,
                Some("complementary"),
            ),
            released("eenzaam", "total", "total", 2024, Some(0.25), None),
            released(
                "eenzaam",
                "mz_geslacht*leeftijdsgroep",
                "1|2",
                2024,
                Some(0.3),
                Some("unreliable;low_df"),
            ),
            released(
                "uren",
                "total",
                "total",
                2024,
                Some(12.5),
                Some("no_interval"),
            ),
        ]
    }

    fn book(rows: &[ReleasedRow]) -> Tabellenboek<'_> {
        Tabellenboek {
            title: "peiling — dementiemonitor".into(),
            generated_by: "peiling 0.1.0".into(),
            indicators: vec![
                IndicatorInfo {
                    id: "eenzaam".into(),
                    label: "Eenzaam (ernstig of zeer ernstig)".into(),
                    percent: true,
                },
                IndicatorInfo {
                    id: "uren".into(),
                    label: "Uren mantelzorg per week".into(),
                    percent: false,
                },
            ],
            segmentations: vec![
                "total".into(),
                "provincie".into(),
                "mz_geslacht*leeftijdsgroep".into(),
            ],
            rows,
            models: Vec::new(),
            model_rows: &[],
            notes: vec!["unreliable: relatieve standaardfout boven 0.3.".into()],
        }
    }

    fn temp_path(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!(
            "peiling-tabellenboek-{}-{name}.xlsx",
            std::process::id()
        ))
    }

    #[test]
    fn writes_a_zip() {
        let rows = rows();
        let path = temp_path("zip");
        tabellenboek(&book(&rows), &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(bytes.starts_with(b"PK"), "not a zip file");
        assert!(bytes.len() > 1000);
    }

    #[test]
    fn same_book_same_bytes() {
        let rows = rows();
        let (first, second) = (temp_path("first"), temp_path("second"));
        tabellenboek(&book(&rows), &first).unwrap();
        // A clock-dependent field would differ after a second.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        tabellenboek(&book(&rows), &second).unwrap();
        let (a, b) = (
            std::fs::read(&first).unwrap(),
            std::fs::read(&second).unwrap(),
        );
        std::fs::remove_file(&first).unwrap();
        std::fs::remove_file(&second).unwrap();
        assert!(a == b, "two writes of the same book differ");
    }

    #[test]
    fn one_sheet_per_segmentation() {
        let rows = rows();
        let mut workbook = workbook(&book(&rows)).unwrap();
        let names: Vec<String> = workbook
            .worksheets()
            .iter()
            .map(|sheet| sheet.name())
            .collect();
        assert_eq!(
            names,
            [
                "Toelichting",
                "total",
                "provincie",
                "mz_geslacht x leeftijdsgroep"
            ]
        );
        assert!(workbook.worksheet_from_name("provincie").is_ok());
    }

    #[test]
    fn empty_book_is_written() {
        let mut empty = book(&[]);
        empty.indicators.clear();
        empty.segmentations.clear();
        empty.notes.clear();
        let path = temp_path("empty");
        tabellenboek(&empty, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(bytes.starts_with(b"PK"));
    }

    #[test]
    fn sheet_names_follow_excel_rules() {
        assert_eq!(sheet_name("provincie"), "provincie");
        assert_eq!(
            sheet_name("mz_geslacht*leeftijdsgroep"),
            "mz_geslacht x leeftijdsgroep"
        );
        assert_eq!(sheet_name("a[b]c:d?e/f\\g"), "a_b_c_d_e_f_g");
        assert_eq!(sheet_name("'quoted'"), "quoted");
        assert_eq!(sheet_name(""), "uitsplitsing");
        assert_eq!(sheet_name("***"), "x  x  x");
        let long = sheet_name("mz_geslacht*leeftijdsgroep*opleidingsniveau");
        assert_eq!(long, "mz_geslacht x leeftijdsgroep x");
        assert!(long.chars().count() <= MAX_SHEET_NAME);
        // Characters, not bytes: no panic inside a multi-byte character.
        let dutch = sheet_name(&"ë".repeat(40));
        assert_eq!(dutch.chars().count(), MAX_SHEET_NAME);
    }

    #[test]
    fn sheet_names_are_unique() {
        let segmentations: Vec<String> = [
            "gemeente_woonplaats*leeftijdsgroep",
            "gemeente_woonplaats*leeftijdsgroep_fijn",
            "gemeente_woonplaats*leeftijdsgroep_grof",
            "Provincie",
            "provincie",
            "toelichting",
            "History",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let names = sheet_names(&segmentations, &[]);
        assert_eq!(
            names,
            [
                "gemeente_woonplaats x leeftijds",
                "gemeente_woonplaats x leeft (2)",
                "gemeente_woonplaats x leeft (3)",
                "Provincie",
                "provincie (2)",
                "toelichting (2)",
                "History (2)",
            ]
        );
        let lower: HashSet<String> = names.iter().map(|n| n.to_lowercase()).collect();
        assert_eq!(lower.len(), names.len());
        assert!(names.iter().all(|n| n.chars().count() <= MAX_SHEET_NAME));
        // rust_xlsxwriter accepts all of them.
        let mut workbook = Workbook::new();
        for name in &names {
            workbook.add_worksheet().set_name(name).unwrap();
        }
        workbook.save_to_buffer().unwrap();
    }

    #[test]
    fn flags_in_dutch() {
        assert_eq!(remark(None, false), "");
        assert_eq!(remark(Some("n_below_min"), true), SUPPRESSED);
        assert_eq!(remark(None, true), SUPPRESSED);
        assert_eq!(remark(Some("n_below_min;cell_below_min"), true), SUPPRESSED);
        assert_eq!(
            remark(Some("complementary"), true),
            "onderdrukt (ter bescherming van een andere cel)"
        );
        assert_eq!(
            remark(Some("unreliable;low_effective_n;low_df"), false),
            "onbetrouwbaar (grote relatieve standaardfout); kleine effectieve steekproef; \
             weinig vrijheidsgraden"
        );
        assert_eq!(
            remark(Some("no_interval;iets_nieuws"), false),
            "geen betrouwbaarheidsinterval; iets_nieuws"
        );
    }

    fn model_row(term: &str, estimate: Option<f64>, flag: Option<&str>) -> ReleasedModelRow {
        let suppressed = flag == Some("n_below_min");
        ReleasedModelRow {
            wave: 2024.into(),
            model: "overbelast_model".into(),
            family: ModelFamily::Logistic,
            segmentation: "total".into(),
            segment: "total".into(),
            segment_label: "Totaal".into(),
            term: term.into(),
            level: Some("6".into()),
            level_label: Some("student of scholier".into()),
            estimate,
            std_error: estimate.map(|_| 0.1),
            statistic: estimate.map(|v| v / 0.1),
            df: Some(7654.0),
            p_value: estimate.map(|_| 0.0123),
            ci_lower: estimate.map(|v| v - 0.2),
            ci_upper: estimate.map(|v| v + 0.2),
            n: Some(9002),
            n_weighted: Some(9102.5),
            suppressed,
            flag: flag.map(str::to_string),
        }
    }

    /// The text of every part of a saved book.
    fn book_text(workbook: &mut Workbook) -> String {
        use std::io::Read;
        let bytes = workbook.save_to_buffer().unwrap();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut text = String::new();
        for i in 0..archive.len() {
            archive
                .by_index(i)
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
        }
        text
    }

    #[test]
    fn models_get_their_own_sheet() {
        let rows = rows();
        let models = [
            model_row("werk", Some(0.4321), None),
            // Were a number to reach a suppressed row, it still is not written.
            ReleasedModelRow {
                estimate: Some(0.9876),
                ..model_row("werk", None, Some("n_below_min"))
            },
            model_row("werk", None, Some("empty_level")),
        ];
        let mut with_models = book(&rows);
        with_models.segmentations.push("Modellen".into());
        with_models.models = vec![ModelInfo {
            id: "overbelast_model".into(),
            label: "Overbelast".into(),
            family: "logistische regressie".into(),
        }];
        with_models.model_rows = &models;
        let mut workbook = workbook(&with_models).unwrap();
        let names: Vec<String> = workbook.worksheets().iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            [
                "Toelichting",
                "total",
                "provincie",
                "mz_geslacht x leeftijdsgroep",
                "Modellen (2)",
                "modellen"
            ]
        );
        let text = book_text(&mut workbook);
        for shown in [
            "coëfficiënt",
            "odds/rate ratio",
            "p-waarde",
            "<v>0.4321</v>",
            // exp(0.4321)
            "<v>1.54048",
            "student of scholier",
            "onderdrukt (te weinig waarnemingen)",
            "niemand in het model heeft dit niveau",
            "Overbelast (logistische regressie)",
            "formatCode=\"0.000\"",
        ] {
            assert!(text.contains(shown), "{shown} missing");
        }
        assert!(!text.contains("0.9876") && !text.contains("2.6848"));
        // Without models, no sheet.
        let mut plain = workbook_names(&book(&rows));
        assert_eq!(plain.pop().as_deref(), Some("mz_geslacht x leeftijdsgroep"));
    }

    fn workbook_names(book: &Tabellenboek) -> Vec<String> {
        workbook(book)
            .unwrap()
            .worksheets()
            .iter()
            .map(|s| s.name())
            .collect()
    }
}
