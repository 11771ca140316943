//! Reading respondent exports into a [`RawFrame`]: every column as text, exactly as written.
//!
//! Keeping the raw text lets validation quote the offending value in its rejects and decide
//! types itself (a decimal comma, a code `9`, an empty cell) instead of letting a reader coerce
//! silently. Three formats:
//!
//! - [`csv`]: Dutch dialects detected, ragged records kept as rows for validation to reject;
//! - [`sav`]: SPSS `.sav` and `.zsav` through `ambers`, with the file's variable labels, value
//!   labels and user-missing codes in [`RawFrame::codebook`];
//! - [`parquet`]: typed columns written as text, such as `private/respondents.parquet`.
//!
//! A pipeline run reads a CSV input with `crate::validate::stream` instead, which parses and
//! checks while it reads, without a text column; this text path reads the other formats, the
//! CSV files that pass declines, and every file for `peiling describe`.
//!
//! Typed values become text that parses back to the same value: integers without a decimal
//! point, other numbers in Rust's shortest round-trip form ([`number_text`]), dates as
//! `YYYY-MM-DD`. So an export gives the same typed values whichever format it came in.

pub mod csv;
pub mod hash;
pub mod parquet;
pub mod sav;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::diag::{catalog, Diagnostic, Failure, Place};
use crate::spec::Wave;
use crate::spec::{InputFormat, InputPlan};

/// One wave's export, every column as text.
#[derive(Debug, Clone)]
pub struct RawFrame {
    pub wave: Wave,
    pub path: PathBuf,
    pub sha256: String,
    /// String columns named as in the file's header.
    pub frame: DataFrame,
    /// Line number (1-based, in the file) where each data row starts; `None` for formats
    /// without lines, where messages give row numbers.
    pub lines: Option<Vec<u32>>,
    /// CSV records with more or fewer fields than the header, in row order.
    pub ragged: Vec<RaggedRow>,
    /// The CSV dialect; `None` for typed formats.
    pub dialect: Option<Dialect>,
    /// What the file itself says about its columns (SPSS), by column name.
    pub codebook: BTreeMap<String, ColumnCodebook>,
    /// Warnings from the reader worth showing (the run goes on).
    pub notices: Vec<Diagnostic>,
}

/// A CSV record whose field count differs from the header's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaggedRow {
    pub row: usize,
    pub fields: usize,
    pub expected: usize,
}

/// The CSV dialect that was used, detected or given.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dialect {
    pub delimiter: char,
    pub encoding: String,
    pub bom: bool,
    /// From the spec; `None`: detected during validation, where field types are known.
    pub decimal_comma: Option<bool>,
}

/// A column's metadata from a self-describing file. Codes are written as in the text column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnCodebook {
    pub label: Option<String>,
    pub value_labels: Vec<(String, String)>,
    pub missing: Vec<FileMissing>,
}

/// A user-missing declaration of an SPSS variable.
#[derive(Debug, Clone, PartialEq)]
pub enum FileMissing {
    Code(String),
    /// `MISSING VALUES x (low THRU high)`, bounds included.
    Range {
        low: f64,
        high: f64,
    },
}

impl RawFrame {
    pub fn rows(&self) -> usize {
        self.frame.height()
    }

    /// `file, line 14` (or `row 13` when lines are unknown), for messages.
    pub fn locate(&self, row: usize) -> String {
        match &self.lines {
            Some(lines) => format!("{}, line {}", self.path.display(), lines[row]),
            None => format!("{}, row {}", self.path.display(), row + 1),
        }
    }

    pub fn line(&self, row: usize) -> Option<u32> {
        self.lines.as_ref().map(|lines| lines[row])
    }
}

/// Reads one input file.
pub fn read(input: &InputPlan) -> Result<RawFrame, Failure> {
    let bytes = std::fs::read(&input.path).map_err(|e| {
        Diagnostic::error(
            catalog::I001,
            format!("cannot read input file {}", input.path.display()),
        )
        .caused_by(e)
    })?;
    match input.format {
        InputFormat::Csv => csv::read_bytes(input.wave, &input.path, &bytes, &input.csv),
        InputFormat::Parquet => parquet::read_bytes(input.wave, &input.path, &bytes),
        InputFormat::Sav => sav::read_bytes(input.wave, &input.path, &bytes),
    }
}

/// Reads a file on its own, outside a pipeline (`peiling describe`, `peiling init`): the format
/// from its extension, the CSV dialect detected.
pub fn read_file(path: &Path) -> Result<(RawFrame, InputFormat), Failure> {
    let format = InputFormat::of(path).ok_or_else(|| {
        Failure::from(
            Diagnostic::error(
                catalog::I009,
                "unknown file type: expected .csv, .txt, .tsv, .parquet, .pq, .sav or .zsav",
            )
            .at(Place::file(path.display())),
        )
    })?;
    let input = InputPlan {
        wave: Wave::default(),
        path: path.to_path_buf(),
        format,
        csv: Default::default(),
    };
    Ok((read(&input)?, format))
}

/// A number as text that parses back to the same `f64`: whole numbers without a decimal point
/// (so an integer field accepts them), others in Rust's shortest round-trip form.
pub fn number_text(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 9.007_199_254_740_992e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// What a typed format's reader is guarded with: its name in messages, its error codes, and
/// whether the file starts (and ends) as that format must.
struct Signature {
    /// `"an SPSS .sav/.zsav file"`
    format: &'static str,
    /// For a file of another format.
    code: catalog::Entry,
    /// For a damaged file.
    damaged: catalog::Entry,
    /// What the signature is, for the message when it is wrong.
    expected: &'static str,
    matches: bool,
}

/// Runs a typed format's reader on `bytes` so that an empty file, a file of another format or
/// a reader that panics on damaged input each end as a user error naming the file. The
/// reader's own error is left to the caller, who knows what it means.
fn guarded<T, E>(
    path: &Path,
    bytes: &[u8],
    signature: Signature,
    read: impl FnOnce() -> Result<T, E> + std::panic::UnwindSafe,
) -> Result<Result<T, E>, Failure> {
    let at = Place::file(path.display());
    if bytes.is_empty() {
        let message = format!("the file is empty (0 bytes): not {}", signature.format);
        return Err(Diagnostic::error(catalog::I002, message).at(at).into());
    }
    if !signature.matches {
        let message = format!(
            "not {}: it does not {}",
            signature.format, signature.expected
        );
        return Err(Diagnostic::error(signature.code, message).at(at).into());
    }
    std::panic::catch_unwind(read).map_err(|_| {
        let message = format!(
            "cannot read {}: it is damaged (the reader stopped)",
            signature.format
        );
        Failure::from(Diagnostic::error(signature.damaged, message).at(at))
    })
}

/// The frame of a typed format (no lines, no dialect), or a user error when it has no rows.
fn typed_raw(wave: Wave, path: &Path, bytes: &[u8], frame: DataFrame) -> Result<RawFrame, Failure> {
    if frame.height() == 0 {
        return Err(
            Diagnostic::error(catalog::I006, "the file has columns but no data rows")
                .at(Place::file(path.display()))
                .into(),
        );
    }
    Ok(RawFrame {
        wave,
        path: path.to_path_buf(),
        sha256: crate::spec::sha256_hex(bytes),
        frame,
        lines: None,
        ragged: Vec::new(),
        dialect: None,
        codebook: BTreeMap::new(),
        notices: Vec::new(),
    })
}

/// A profile of an export for `peiling describe`: per column the inferred type, missingness,
/// distinct values and, for columns with few distinct values, the frequency of each code with
/// its label: from `schema`, else from the file's own value labels (SPSS), with user-missing
/// codes marked.
pub fn describe(raw: &RawFrame, schema: Option<&crate::spec::SchemaPlan>) -> String {
    use std::fmt::Write;

    let mut out = String::new();
    let format = match &raw.dialect {
        Some(d) => format!("delimiter {:?}, encoding {}", d.delimiter, d.encoding),
        None => "typed columns".to_string(),
    };
    let _ = writeln!(
        out,
        "{}: {} rows, {} columns, {format}",
        raw.path.display(),
        raw.rows(),
        raw.frame.width(),
    );
    if !raw.ragged.is_empty() {
        let first = &raw.ragged[0];
        let _ = writeln!(
            out,
            "{} record(s) with a wrong number of fields, the first at {} ({} fields, the header has {})",
            raw.ragged.len(),
            raw.locate(first.row),
            first.fields,
            first.expected
        );
    }
    for column in raw.frame.columns() {
        let Ok(text) = column.str() else { continue };
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for value in text.iter().flatten() {
            *counts.entry(value).or_default() += 1;
        }
        let missing = text.null_count();
        let kind = if counts.keys().all(|v| v.trim().parse::<i64>().is_ok()) {
            "integer"
        } else if counts
            .keys()
            .all(|v| v.trim().replacen(',', ".", 1).parse::<f64>().is_ok())
        {
            "number"
        } else if counts
            .keys()
            .all(|v| chrono::NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").is_ok())
        {
            "date"
        } else {
            "string"
        };
        let file = raw.codebook.get(column.name().as_str());
        let field = schema.and_then(|s| s.field(column.name()));
        let label = field
            .and_then(|f| f.label.as_deref())
            .or_else(|| file.and_then(|f| f.label.as_deref()))
            .map(|l| format!("  {l}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "\n{}  ({kind}; {} distinct; {} empty = {:.1}%){label}",
            column.name(),
            counts.len(),
            missing,
            100.0 * missing as f64 / raw.rows().max(1) as f64
        );
        if counts.len() > 20 {
            continue;
        }
        let mut codes: Vec<(&str, usize)> = counts.into_iter().collect();
        if kind == "integer" {
            codes.sort_by_key(|(v, _)| v.trim().parse::<i64>().unwrap_or_default());
        }
        for (value, count) in codes {
            let from_schema = field.and_then(|f| {
                crate::spec::schema::parse_code(value, f.field_type)
                    .and_then(|c| f.label_of(&c).map(str::to_string))
            });
            let from_file = || {
                let file = file?;
                let label = file.value_labels.iter().find(|(c, _)| c == value);
                let missing = file.missing.iter().any(|m| m.covers(value));
                match (label, missing) {
                    (Some((_, l)), true) => Some(format!("{l} (missing)")),
                    (Some((_, l)), false) => Some(l.clone()),
                    (None, true) => Some("(missing)".to_string()),
                    (None, false) => None,
                }
            };
            let label = from_schema.or_else(from_file).unwrap_or_default();
            let line = format!("  {value:>8}  {count:>7}  {label}");
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    out
}

impl FileMissing {
    /// Whether the text value `value` is this user-missing code.
    pub fn covers(&self, value: &str) -> bool {
        match self {
            FileMissing::Code(code) => code == value,
            FileMissing::Range { low, high } => value
                .trim()
                .parse::<f64>()
                .is_ok_and(|v| *low <= v && v <= *high),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_text_that_parses_back() {
        for value in [
            0.0,
            3.0,
            -2.0,
            12.5,
            0.1,
            1.0 / 3.0,
            1e-7,
            123456789.125,
            1e300,
        ] {
            let text = number_text(value);
            assert_eq!(text.parse::<f64>().unwrap(), value, "{text}");
        }
        assert_eq!(number_text(3.0), "3");
        assert_eq!(number_text(-0.0), "0");
        assert_eq!(number_text(54.5), "54.5");
    }

    #[test]
    fn missing_ranges_cover_their_bounds() {
        let range = FileMissing::Range {
            low: 998.0,
            high: 999.0,
        };
        assert!(range.covers("998") && range.covers("999") && !range.covers("997"));
        assert!(FileMissing::Code("9".into()).covers("9"));
    }
}
