//! SPSS `.sav` and `.zsav` exports, read by `ambers`.
//!
//! Values become text as in [`super::number_text`]: system-missing is null, user-missing codes
//! stay as their value (validation nulls them for analysis). Variable labels, value labels and
//! user-missing declarations go into [`RawFrame::codebook`]; validation merges them with the
//! schema. A file that is not SPSS, is cut short, or whose reader had to drop values is a user
//! error (`I010`–`I012`); the reader's other findings about odd writers are warnings (`I013`).

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;

use ambers::{MissingSpec, SpssMetadata, Value};
use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Date32Type, Float64Type, TimeUnit};
use polars::prelude::*;
use rayon::prelude::*;

use super::{guarded, number_text, typed_raw, ColumnCodebook, FileMissing, RawFrame, Signature};
use crate::diag::{catalog, Diagnostic, Failure, Place};
use crate::spec::Wave;

/// Reads an SPSS file from memory; `path` is used for messages.
pub fn read_bytes(wave: Wave, path: &Path, bytes: &[u8]) -> Result<RawFrame, Failure> {
    let file_error =
        |code, message: String| Diagnostic::error(code, message).at(Place::file(path.display()));
    let signature = Signature {
        format: "an SPSS .sav/.zsav file",
        code: catalog::I010,
        damaged: catalog::I011,
        expected: "start with the SPSS signature $FL2 or $FL3",
        matches: bytes.starts_with(b"$FL2") || bytes.starts_with(b"$FL3"),
    };
    let read = guarded(path, bytes, signature, || {
        ambers::read_sav_from_reader(Cursor::new(bytes))
    })?;
    let (batch, metadata) = read.map_err(|e| {
        let mut diagnostic = file_error(catalog::I011, "cannot read the SPSS file".into()).caused_by(&e);
        let cut_short = matches!(&e, ambers::error::SpssError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof);
        if cut_short {
            diagnostic = diagnostic.caused_by(
                "the file ends before its dictionary or data do: it was cut short (an interrupted copy or download?)",
            );
        }
        Failure::from(diagnostic)
    })?;
    let (lost, notes): (Vec<&String>, Vec<&String>) = metadata
        .warnings
        .iter()
        .partition(|w| w.contains("rows were read") || w.contains("set to null"));
    if !lost.is_empty() {
        let mut diagnostic = file_error(
            catalog::I012,
            "the SPSS file is incomplete: values or rows could not be read".into(),
        );
        for warning in lost {
            diagnostic = diagnostic.caused_by(warning);
        }
        return Err(diagnostic.into());
    }

    let height = batch.num_rows();
    // Every variable's values as text, the variables in parallel (a wide export has hundreds).
    let schema = batch.schema();
    let columns = schema
        .fields()
        .par_iter()
        .zip(batch.columns().par_iter())
        .map(|(field, array)| {
            let values = text_values(array.as_ref()).map_err(|kind| {
                Failure::from(file_error(
                    catalog::I015,
                    format!(
                        "variable {:?} has type {kind}, which peiling cannot read",
                        field.name()
                    ),
                ))
            })?;
            Ok(
                StringChunked::from_iter_options(field.name().as_str().into(), values.into_iter())
                    .into_series()
                    .into(),
            )
        })
        .collect::<Result<Vec<Column>, Failure>>()?;
    let frame = DataFrame::new(height, columns).map_err(|e| {
        Failure::from(file_error(catalog::I011, "cannot read the SPSS file".into()).caused_by(e))
    })?;
    let mut raw = typed_raw(wave, path, bytes, frame)?;
    raw.codebook = codebook(&metadata);
    raw.notices = notes
        .into_iter()
        .map(|note| {
            Diagnostic::warning(catalog::I013, format!("SPSS reader: {note}"))
                .at(Place::file(path.display()))
        })
        .collect();
    Ok(raw)
}

/// One column as text; `Err` names an unsupported type.
fn text_values(array: &dyn Array) -> Result<Vec<Option<String>>, String> {
    let present = |i: usize| array.is_valid(i);
    let values = match array.data_type() {
        DataType::Float64 => {
            let numbers = array.as_primitive::<Float64Type>();
            (0..array.len())
                .map(|i| present(i).then(|| number_text(numbers.value(i))))
                .collect()
        }
        DataType::Utf8View => {
            let strings = array.as_string_view();
            (0..array.len())
                .map(|i| Some(strings.value(i)).filter(|s| present(i) && !s.is_empty()))
                .map(|s| s.map(str::to_string))
                .collect()
        }
        DataType::Utf8 => {
            let strings = array.as_string::<i32>();
            (0..array.len())
                .map(|i| Some(strings.value(i)).filter(|s| present(i) && !s.is_empty()))
                .map(|s| s.map(str::to_string))
                .collect()
        }
        DataType::Date32 => {
            let days = array.as_primitive::<Date32Type>();
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
            (0..array.len())
                .map(|i| {
                    present(i).then(|| {
                        let date = epoch + chrono::Duration::days(days.value(i) as i64);
                        date.format("%Y-%m-%d").to_string()
                    })
                })
                .collect()
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let micros = array.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
            (0..array.len())
                .map(|i| {
                    present(i).then(|| {
                        chrono::DateTime::from_timestamp_micros(micros.value(i))
                            .map(|t| t.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string())
                            .unwrap_or_default()
                    })
                })
                .collect()
        }
        DataType::Duration(TimeUnit::Microsecond) => {
            // Seconds, as SPSS stores time-of-day and duration variables.
            let micros = array.as_primitive::<arrow::datatypes::DurationMicrosecondType>();
            (0..array.len())
                .map(|i| present(i).then(|| number_text(micros.value(i) as f64 / 1e6)))
                .collect()
        }
        other => return Err(other.to_string()),
    };
    Ok(values)
}

/// The file's labels and user-missing codes, codes written as their text values.
fn codebook(metadata: &SpssMetadata) -> BTreeMap<String, ColumnCodebook> {
    let code = |value: &Value| match value {
        Value::Numeric(v) => number_text(*v),
        Value::String(s) => s.trim_end().to_string(),
    };
    let mut codebook = BTreeMap::new();
    for name in &metadata.variable_names {
        let label = metadata
            .label(name)
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string);
        let value_labels: Vec<(String, String)> = metadata
            .value_labels(name)
            .map(|labels| labels.iter().map(|(v, l)| (code(v), l.clone())).collect())
            .unwrap_or_default();
        let missing: Vec<FileMissing> = metadata
            .variable_missing_values
            .get(name)
            .map(|specs| {
                specs
                    .iter()
                    .map(|spec| match spec {
                        MissingSpec::Value(v) => FileMissing::Code(number_text(*v)),
                        MissingSpec::Range { lo, hi } => FileMissing::Range {
                            low: *lo,
                            high: *hi,
                        },
                        MissingSpec::StringValue(s) => FileMissing::Code(s.trim_end().to_string()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        if label.is_some() || !value_labels.is_empty() || !missing.is_empty() {
            codebook.insert(
                name.clone(),
                ColumnCodebook {
                    label,
                    value_labels,
                    missing,
                },
            );
        }
    }
    codebook
}
