//! Parquet exports, such as the `private/respondents.parquet` of an earlier run.
//!
//! Typed columns become text as in [`super::number_text`], so validation treats them as it
//! treats a CSV with decimal points: integers stay integers, floats parse back to the same
//! value, booleans are `true`/`false`, dates `YYYY-MM-DD`.

use std::io::Cursor;
use std::path::Path;

use polars::prelude::*;

use super::{guarded, number_text, typed_raw, RawFrame, Signature};
use crate::diag::{catalog, Diagnostic, Failure, Place};
use crate::spec::Wave;

/// Reads a Parquet file from memory; `path` is used for messages.
pub fn read_bytes(wave: Wave, path: &Path, bytes: &[u8]) -> Result<RawFrame, Failure> {
    let file_error =
        |code, message: String| Diagnostic::error(code, message).at(Place::file(path.display()));
    let signature = Signature {
        format: "a Parquet file",
        code: catalog::I007,
        damaged: catalog::I007,
        expected: "start and end with the Parquet magic PAR1",
        matches: bytes.len() >= 12 && bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"),
    };
    let typed = guarded(path, bytes, signature, || {
        ParquetReader::new(Cursor::new(bytes)).finish()
    })?
    .map_err(|e| {
        Failure::from(file_error(catalog::I007, "cannot read the Parquet file".into()).caused_by(e))
    })?;
    let mut columns = Vec::with_capacity(typed.width());
    for column in typed.columns() {
        let text = as_text(column.as_materialized_series()).map_err(|e| {
            Failure::from(
                file_error(
                    catalog::I008,
                    format!(
                        "column {:?} has type {}, which peiling cannot read as a survey variable",
                        column.name(),
                        column.dtype()
                    ),
                )
                .caused_by(e),
            )
        })?;
        columns.push(text.into_series().into());
    }
    let frame = DataFrame::new(typed.height(), columns).map_err(|e| {
        Failure::from(file_error(catalog::I007, "cannot read the Parquet file".into()).caused_by(e))
    })?;
    typed_raw(wave, path, bytes, frame)
}

/// A typed column as text that validation parses back to the same value.
fn as_text(series: &Series) -> PolarsResult<StringChunked> {
    let name = series.name().clone();
    let text = match series.dtype() {
        DataType::String => series.str()?.clone(),
        DataType::Float32 | DataType::Float64 => {
            let numbers = series.cast(&DataType::Float64)?;
            let numbers = numbers.f64()?;
            StringChunked::from_iter_options(name, numbers.iter().map(|v| v.map(number_text)))
        }
        DataType::Boolean => {
            let flags = series.bool()?;
            StringChunked::from_iter_options(
                name,
                flags
                    .iter()
                    .map(|v| v.map(|b| if b { "true" } else { "false" })),
            )
        }
        dtype if dtype.is_integer() || *dtype == DataType::Date => {
            series.cast(&DataType::String)?.str()?.clone()
        }
        other => polars_bail!(InvalidOperation: "unsupported type {other}"),
    };
    // Empty text is missing, as an empty CSV field is.
    Ok(StringChunked::from_iter_options(
        series.name().clone(),
        text.iter().map(|v| v.filter(|s| !s.is_empty())),
    ))
}
