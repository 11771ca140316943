//! CSV exports: the one home of reading CSV, for both readers of a CSV file.
//!
//! - [`dialect`]: the one decoder, and the delimiter sniffed from the header line. The dialect
//!   is what the spec gives, else detected: UTF-8 with or without BOM, else Windows-1252 (what
//!   Excel on a Dutch Windows machine writes).
//! - [`fields`]: the one quote-aware record scanner ([`fields::scan_record`]), and the split of
//!   a block of records into a table of fields.
//! - [`blocks`]: a file read in blocks of whole records, hashed as it is read.
//!
//! A pipeline run reads a CSV input in one streaming pass over its blocks
//! (`validate::stream`, which parses and checks while it reads). This module's reader, the
//! text path ([`read_bytes`]), reads every column as text: for the files that pass declines and
//! for `peiling describe`. Before parsing, the record scan finds where each record starts and
//! how many fields it has. A well-formed file (every record as wide as the header, no blank
//! lines) is parsed by polars' multi-threaded reader. A file with ragged records or blank lines
//! is parsed by the `csv` crate instead, which reports each record with its line: a ragged
//! record becomes a row whose fields are what the line holds, marked in
//! [`RawFrame::ragged`] so that validation rejects it (`V017`) instead of the read failing.

use std::io::Cursor;
use std::path::Path;

use crate::spec::Wave;
use polars::prelude::*;

pub mod blocks;
pub mod dialect;
pub mod fields;

use dialect::decode_file;
pub(crate) use dialect::sniff_delimiter;
use fields::{scan_record, Quirks};

use super::{Dialect, RaggedRow, RawFrame};
use crate::diag::{catalog, Diagnostic, Failure, Place};
use crate::spec::{sha256_hex, CsvOptions};

/// Reads CSV from memory; `path` is used for messages.
pub fn read_bytes(
    wave: Wave,
    path: &Path,
    bytes: &[u8],
    options: &CsvOptions,
) -> Result<RawFrame, Failure> {
    let file_error =
        |code, message: String| Diagnostic::error(code, message).at(Place::file(path.display()));
    if bytes.is_empty() {
        return Err(file_error(
            catalog::I002,
            "the file is empty: expected a header line and data rows".into(),
        )
        .into());
    }
    if bytes.iter().take(8192).any(|&b| b == 0) {
        return Err(file_error(
            catalog::I003,
            "the file contains NUL bytes: it is binary, not CSV text (an SPSS or Excel file with a .csv name?)".into(),
        )
        .into());
    }
    let (text, encoding, bom) = decode_file(bytes, options.encoding)
        .map_err(|e| Failure::from(file_error(catalog::I004, e.message())))?;
    let delimiter = options.delimiter.unwrap_or_else(|| sniff_delimiter(&text));
    // The hash and the record scan run on a thread of their own while polars parses; the parse
    // is used when the scan finds the file regular (the usual case), else redone record by record.
    let (sha256, scan, regular) = std::thread::scope(|scope| {
        let side = scope.spawn(|| (sha256_hex(bytes), scan_records(text.as_bytes(), delimiter)));
        let regular = read_regular(&text, delimiter);
        let (sha256, scan) = side
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (sha256, scan, regular)
    });

    let parse_error = |error: &dyn std::fmt::Display| {
        let mut diagnostic = file_error(
            catalog::I005,
            format!("cannot parse CSV (delimiter {:?})", delimiter as char),
        )
        .caused_by(error);
        let sniffed = sniff_delimiter(&text);
        if sniffed != delimiter {
            diagnostic = diagnostic.caused_by(format!(
                "the header line looks {:?}-separated: check `delimiter` in the [[input]]",
                sniffed as char
            ));
        }
        Failure::from(diagnostic)
    };
    // polars can still disagree with the scan on odd quoting; the record reader decides then.
    let (frame, ragged) = match regular {
        Ok(frame) if scan.is_regular() && frame.height() == scan.lines.len() => {
            let frame = if scan.quirks.empty_quoted {
                empty_as_null(frame).map_err(|e| parse_error(&e))?
            } else {
                frame
            };
            (frame, Vec::new())
        }
        _ => read_records(&text, delimiter).map_err(|e| parse_error(&e))?,
    };
    // The scan and the readers split records alike; should they not, rows get numbers only.
    let lines = (scan.lines.len() == frame.height()).then_some(scan.lines);
    if frame.height() == 0 {
        return Err(file_error(
            catalog::I006,
            "the file has a header but no data rows".into(),
        )
        .into());
    }
    Ok(RawFrame {
        wave,
        path: path.to_path_buf(),
        sha256,
        frame,
        lines,
        ragged,
        dialect: Some(Dialect {
            delimiter: delimiter as char,
            encoding: encoding.name().to_string(),
            bom,
            decimal_comma: options.decimal_comma,
        }),
        codebook: Default::default(),
        notices: Vec::new(),
    })
}

/// polars' reader, every column as text: the fast path for well-formed files. An unquoted
/// empty field is null; a quoted one is "" (see [`empty_as_null`]).
fn read_regular(text: &str, delimiter: u8) -> PolarsResult<DataFrame> {
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .with_raise_if_empty(true)
        .map_parse_options(|p| {
            p.with_separator(delimiter)
                .with_quote_char(Some(b'"'))
                .with_missing_is_null(true)
        })
        .into_reader_with_file_handle(Cursor::new(text.as_bytes()))
        .finish()
}

/// A quoted empty field (`""`, which polars keeps as "") as null, as every empty field is in
/// [`read_records`] and the streaming pass.
fn empty_as_null(frame: DataFrame) -> PolarsResult<DataFrame> {
    let columns = frame
        .columns()
        .iter()
        .map(|column| {
            let values = column.str()?;
            if !values.iter().any(|v| v == Some("")) {
                return Ok(column.clone());
            }
            let values = values.iter().map(|v| v.filter(|v| !v.is_empty()));
            Ok(
                StringChunked::from_iter_options(column.name().clone(), values)
                    .into_series()
                    .into(),
            )
        })
        .collect::<PolarsResult<Vec<Column>>>()?;
    DataFrame::new(frame.height(), columns)
}

/// The `csv` crate's record reader: every record, ragged ones included. Blank lines are not
/// records. An empty field is null, as in [`read_regular`].
fn read_records(text: &str, delimiter: u8) -> Result<(DataFrame, Vec<RaggedRow>), String> {
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        Some(record) => record.map_err(|e| e.to_string())?,
        None => return Err("the file has no header line".into()),
    };
    let width = header.len();
    let mut columns: Vec<Vec<Option<String>>> = vec![Vec::new(); width];
    let mut height = 0;
    let mut ragged = Vec::new();
    for record in records {
        let record = record.map_err(|e| e.to_string())?;
        if record.len() != width {
            ragged.push(RaggedRow {
                row: height,
                fields: record.len(),
                expected: width,
            });
        }
        height += 1;
        for (index, column) in columns.iter_mut().enumerate() {
            let value = record.get(index).filter(|v| !v.is_empty());
            column.push(value.map(str::to_string));
        }
    }
    let columns = header
        .iter()
        .zip(columns)
        .map(|(name, values)| {
            StringChunked::from_iter_options(name.into(), values.into_iter())
                .into_series()
                .into()
        })
        .collect();
    let frame = DataFrame::new(height, columns).map_err(|e| e.to_string())?;
    Ok((frame, ragged))
}

/// Where the data records start and how wide they are.
#[derive(Debug, Default, PartialEq)]
struct RecordScan {
    /// Fields in the header line.
    header_fields: usize,
    /// Line (1-based) where each data record starts.
    lines: Vec<u32>,
    /// Data records whose field count differs from the header's.
    ragged: usize,
    /// Blank lines after the header.
    blank_lines: usize,
    /// What any record held that polars and the `csv` crate read differently.
    quirks: Quirks,
}

impl RecordScan {
    /// Every record as wide as the header, quoted as it should be, and no blank lines: polars
    /// reads it as is.
    fn is_regular(&self) -> bool {
        self.ragged == 0
            && self.blank_lines == 0
            && !self.quirks.odd_quoting
            && !self.quirks.lone_cr
    }
}

/// One pass over the text: record starts and widths. A line without quotes is one record
/// whose fields are its delimiters plus one (found by `memchr` and a vectorised count); a line
/// with a quote is walked by [`scan_record`], which honours quoted delimiters and line breaks.
fn scan_records(bytes: &[u8], delimiter: u8) -> RecordScan {
    let mut scan = RecordScan::default();
    let mut header_done = false;
    let mut line: u32 = 1;
    let mut at = 0;
    while at < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |i| at + i);
        let text = &bytes[at..end];
        if text.is_empty() || text == b"\r" {
            scan.blank_lines += header_done as usize;
            line += 1;
            at = end + 1;
            continue;
        }
        let (fields, next, breaks) = if memchr::memchr(b'"', text).is_none() {
            let delimiters = text.iter().filter(|&&b| b == delimiter).count();
            // A CR is a line end only before the LF (the first CR is the only one then).
            scan.quirks.lone_cr |= memchr::memchr(b'\r', text)
                .is_some_and(|i| i + 1 < text.len() || end == bytes.len());
            (delimiters + 1, end + 1, 1)
        } else {
            let mut fields = 0;
            let (next, breaks) =
                scan_record(bytes, at, delimiter, &mut scan.quirks, |_, _| fields += 1);
            (fields, next, breaks)
        };
        if header_done {
            scan.lines.push(line);
            scan.ragged += (fields != scan.header_fields) as usize;
        } else {
            scan.header_fields = fields;
            header_done = true;
        }
        line += breaks;
        at = next;
    }
    scan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &[u8]) -> Result<RawFrame, Failure> {
        read_bytes(
            2024.into(),
            Path::new("test.csv"),
            text,
            &CsvOptions::default(),
        )
    }

    fn column(raw: &RawFrame, name: &str) -> Vec<Option<String>> {
        let text = raw.frame.column(name).unwrap().str().unwrap().clone();
        text.iter().map(|v| v.map(str::to_string)).collect()
    }

    #[test]
    fn reads_dutch_csv_as_text() {
        let raw = read(b"id;uren\nA;12,5\nB;\n").unwrap();
        assert_eq!(raw.dialect.as_ref().unwrap().delimiter, ';');
        assert_eq!(raw.rows(), 2);
        assert_eq!(column(&raw, "uren"), [Some("12,5".into()), None]);
        assert_eq!(raw.lines, Some(vec![2, 3]));
        assert!(raw.ragged.is_empty());
    }

    #[test]
    fn windows_1252_and_bom_are_decoded() {
        let raw = read(b"\xEF\xBB\xBFnaam,x\nFrysl\xE2n,1\n");
        // A BOM promises UTF-8; 0xE2 alone is not valid UTF-8 but is 'â' in Windows-1252.
        let raw = raw.unwrap();
        let dialect = raw.dialect.as_ref().unwrap();
        assert!(dialect.bom);
        assert_eq!(dialect.encoding, "windows-1252");
        assert_eq!(column(&raw, "naam"), [Some("Fryslân".into())]);
    }

    #[test]
    fn quoted_line_breaks_keep_line_numbers() {
        let raw = read(b"id,tekst\n1,\"twee\nregels\"\n2,x\n").unwrap();
        assert_eq!(raw.lines, Some(vec![2, 4]));
        assert_eq!(column(&raw, "tekst")[0].as_deref(), Some("twee\nregels"));
    }

    #[test]
    fn ragged_records_are_rows_marked_ragged_with_their_lines() {
        let raw = read(b"id;a;b\r\n1;x;y\r\n2;x\r\n\r\n3;x;y;z\r\n4;\"p;q\";r\r\n").unwrap();
        assert_eq!(raw.rows(), 4);
        assert_eq!(raw.lines, Some(vec![2, 3, 5, 6]));
        assert_eq!(
            raw.ragged,
            [
                RaggedRow {
                    row: 1,
                    fields: 2,
                    expected: 3
                },
                RaggedRow {
                    row: 2,
                    fields: 4,
                    expected: 3
                }
            ]
        );
        assert_eq!(
            column(&raw, "b"),
            [Some("y".into()), None, Some("y".into()), Some("r".into())]
        );
        assert_eq!(column(&raw, "a")[3].as_deref(), Some("p;q"));
    }

    #[test]
    fn a_blank_line_is_not_a_row() {
        let raw = read(b"id;a\n1;x\n\n2;y\n\n").unwrap();
        assert_eq!(raw.rows(), 2);
        assert_eq!(raw.lines, Some(vec![2, 4]));
        assert!(raw.ragged.is_empty());
    }

    #[test]
    fn empty_and_binary_files_are_user_errors() {
        assert_eq!(read(b"").unwrap_err().diagnostics[0].code, "I002");
        assert_eq!(
            read(b"\x00\x01\x02").unwrap_err().diagnostics[0].code,
            "I003"
        );
        assert_eq!(read(b"id;x\n").unwrap_err().diagnostics[0].code, "I006");
        assert_eq!(read(b"id;x\n\n\n").unwrap_err().diagnostics[0].code, "I006");
    }

    #[test]
    fn the_scan_counts_fields_outside_quotes() {
        let scan = scan_records(b"a;b\n\"x;\"\"y\";2\n3\n", b';');
        assert_eq!(scan.header_fields, 2);
        assert_eq!(scan.lines, [2, 3]);
        assert_eq!(scan.ragged, 1);
        assert_eq!(scan.blank_lines, 0);
        let scan = scan_records(b"a;b\r\n1;2", b';');
        assert!(scan.is_regular());
        assert_eq!(scan.lines, [2]);
    }

    #[test]
    fn delimiter_sniffing() {
        assert_eq!(sniff_delimiter("a;b;c\n"), b';');
        assert_eq!(sniff_delimiter("a,b\n"), b',');
        assert_eq!(sniff_delimiter("a\tb\n"), b'\t');
        assert_eq!(sniff_delimiter("\"a;b\",c\n"), b',');
    }
}
