//! Reading respondent exports into a [`RawFrame`]: every column as text, exactly as written.
//!
//! Keeping the raw text lets validation quote the offending value in its rejects and decide
//! types itself (a decimal comma, a code `9`, an empty cell) instead of letting a reader coerce
//! silently. CSV dialects are detected when the spec does not fix them: UTF-8 with or without
//! BOM, else Windows-1252; the delimiter from the header line. Parsing is polars' CSV reader
//! with schema inference off, so every column arrives as `String`.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::diag::{Diagnostic, Failure};
use crate::spec::{sha256_hex, CsvOptions, InputPlan};

/// One wave's export, every column as text.
#[derive(Debug, Clone)]
pub struct RawFrame {
    pub wave: i32,
    pub path: PathBuf,
    pub sha256: String,
    /// String columns named as in the file's header.
    pub frame: DataFrame,
    /// Line number (1-based, in the file) where each data row starts; `None` when the reader
    /// and the line scan disagree, in which case messages give row numbers only.
    pub lines: Option<Vec<u32>>,
    pub dialect: Dialect,
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
            "I001",
            format!("cannot read input file {}", input.path.display()),
        )
        .caused_by(e)
    })?;
    read_csv_bytes(input.wave, &input.path, &bytes, &input.csv)
}

/// Reads CSV from memory; `path` is used for messages.
pub fn read_csv_bytes(
    wave: i32,
    path: &Path,
    bytes: &[u8],
    options: &CsvOptions,
) -> Result<RawFrame, Failure> {
    let file_error =
        |code, message: String| Diagnostic::error(code, message).at(path.display().to_string());
    let sha256 = sha256_hex(bytes);
    if bytes.is_empty() {
        return Err(file_error(
            "I002",
            "the file is empty: expected a header line and data rows".into(),
        )
        .into());
    }
    if bytes.iter().take(8192).any(|&b| b == 0) {
        return Err(file_error(
            "I003",
            "the file contains NUL bytes: it is binary, not CSV text (an SPSS or Excel file with a .csv name?)".into(),
        )
        .into());
    }
    let (text, encoding, bom) = decode(bytes, options.encoding)
        .map_err(|message| Failure::from(file_error("I004", message)))?;
    let delimiter = options.delimiter.unwrap_or_else(|| sniff_delimiter(&text));

    let frame = CsvReadOptions::default()
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
        .map_err(|e| {
            let mut diagnostic = file_error(
                "I005",
                format!("cannot parse CSV (delimiter {:?})", delimiter as char),
            )
            .caused_by(e);
            let sniffed = sniff_delimiter(&text);
            if sniffed != delimiter {
                diagnostic = diagnostic.caused_by(format!(
                    "the header line looks {:?}-separated: check `delimiter` in the [[input]]",
                    sniffed as char
                ));
            }
            Failure::from(diagnostic)
        })?;
    if frame.height() == 0 {
        return Err(file_error("I006", "the file has a header but no data rows".into()).into());
    }
    let lines = record_lines(text.as_bytes()).filter(|l| l.len() == frame.height());

    Ok(RawFrame {
        wave,
        path: path.to_path_buf(),
        sha256,
        frame,
        lines,
        dialect: Dialect {
            delimiter: delimiter as char,
            encoding: encoding.to_string(),
            bom,
            decimal_comma: options.decimal_comma,
        },
    })
}

/// Decodes to UTF-8: the given encoding, or UTF-8 when valid, else Windows-1252 (what Excel on a
/// Dutch Windows machine writes). Returns the text, the encoding's name and whether a BOM was
/// stripped.
fn decode(
    bytes: &[u8],
    given: Option<&'static encoding_rs::Encoding>,
) -> Result<(String, &'static str, bool), String> {
    let (bom, body) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (true, rest),
        None => (false, bytes),
    };
    let encoding = match given {
        Some(encoding) => encoding,
        None if std::str::from_utf8(body).is_ok() => encoding_rs::UTF_8,
        None => encoding_rs::WINDOWS_1252,
    };
    let (text, had_errors) = encoding.decode_without_bom_handling(body);
    if had_errors {
        return Err(format!(
            "the file is not valid {} text; set `encoding` in the [[input]] if it is another",
            encoding.name()
        ));
    }
    Ok((text.into_owned(), encoding.name(), bom))
}

/// The most frequent of `;`, `,`, tab and `|` outside quotes in the header line; `,` if none.
fn sniff_delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or("");
    let mut counts = [(b';', 0usize), (b',', 0), (b'\t', 0), (b'|', 0)];
    let mut quoted = false;
    for byte in header.bytes() {
        if byte == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for (candidate, count) in counts.iter_mut() {
                if byte == *candidate {
                    *count += 1;
                }
            }
        }
    }
    // Ties keep the earlier candidate: `;` first, the Dutch default.
    let mut best = (b',', 0);
    for (candidate, count) in counts {
        if count > best.1 {
            best = (candidate, count);
        }
    }
    best.0
}

/// Line numbers (1-based) of the start of each data record, honouring quoted line breaks and
/// skipping blank lines as the reader does. `None` if the text has no header line.
fn record_lines(bytes: &[u8]) -> Option<Vec<u32>> {
    let mut lines = Vec::new();
    let mut line: u32 = 1;
    let mut quoted = false;
    let mut at_record_start = true;
    let mut header_done = false;
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if at_record_start && !quoted {
            if byte == b'\n' || (byte == b'\r' && bytes.get(i + 1) == Some(&b'\n')) {
                // Blank line: not a record.
                if byte == b'\r' {
                    i += 1;
                }
                line += 1;
                i += 1;
                continue;
            }
            if header_done {
                lines.push(line);
            }
            at_record_start = false;
        }
        match byte {
            b'"' => quoted = !quoted,
            b'\n' => {
                line += 1;
                if !quoted {
                    header_done = true;
                    at_record_start = true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    header_done.then_some(lines)
}

/// A profile of an export for `peiling describe`: per column the inferred type, missingness,
/// distinct values and, for columns with few distinct values, the frequency of each code with
/// its label from `schema`.
pub fn describe(raw: &RawFrame, schema: Option<&crate::spec::SchemaPlan>) -> String {
    use std::collections::BTreeMap;
    use std::fmt::Write;

    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} rows, {} columns, delimiter {:?}, encoding {}",
        raw.path.display(),
        raw.rows(),
        raw.frame.width(),
        raw.dialect.delimiter,
        raw.dialect.encoding
    );
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
        } else {
            "string"
        };
        let _ = writeln!(
            out,
            "\n{}  ({kind}; {} distinct; {} empty = {:.1}%)",
            column.name(),
            counts.len(),
            missing,
            100.0 * missing as f64 / raw.rows().max(1) as f64
        );
        if counts.len() > 20 {
            continue;
        }
        let field = schema.and_then(|s| s.field(column.name()));
        let mut codes: Vec<(&str, usize)> = counts.into_iter().collect();
        if kind == "integer" {
            codes.sort_by_key(|(v, _)| v.trim().parse::<i64>().unwrap_or_default());
        }
        for (value, count) in codes {
            let label = field
                .and_then(|f| {
                    crate::spec::schema::parse_code(value, f.field_type)
                        .and_then(|c| f.label_of(&c).map(str::to_string))
                })
                .unwrap_or_default();
            let _ = writeln!(out, "  {value:>8}  {count:>7}  {label}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &[u8]) -> Result<RawFrame, Failure> {
        read_csv_bytes(2024, Path::new("test.csv"), text, &CsvOptions::default())
    }

    #[test]
    fn reads_dutch_csv_as_text() {
        let raw = read(b"id;uren\nA;12,5\nB;\n").unwrap();
        assert_eq!(raw.dialect.delimiter, ';');
        assert_eq!(raw.rows(), 2);
        let uren = raw.frame.column("uren").unwrap().str().unwrap();
        assert_eq!(uren.get(0), Some("12,5"));
        assert_eq!(uren.get(1), None);
        assert_eq!(raw.lines, Some(vec![2, 3]));
    }

    #[test]
    fn windows_1252_and_bom_are_decoded() {
        let raw = read(b"\xEF\xBB\xBFnaam,x\nFrysl\xE2n,1\n");
        // A BOM promises UTF-8; 0xE2 alone is not valid UTF-8 but is 'â' in Windows-1252.
        let raw = raw.unwrap();
        assert!(raw.dialect.bom);
        assert_eq!(raw.dialect.encoding, "windows-1252");
        let naam = raw.frame.column("naam").unwrap().str().unwrap();
        assert_eq!(naam.get(0), Some("Fryslân"));
    }

    #[test]
    fn quoted_line_breaks_keep_line_numbers() {
        let raw = read(b"id,tekst\n1,\"twee\nregels\"\n2,x\n").unwrap();
        assert_eq!(raw.lines, Some(vec![2, 4]));
    }

    #[test]
    fn empty_and_binary_files_are_user_errors() {
        assert_eq!(read(b"").unwrap_err().diagnostics[0].code, "I002");
        assert_eq!(
            read(b"\x00\x01\x02").unwrap_err().diagnostics[0].code,
            "I003"
        );
        assert_eq!(read(b"id;x\n").unwrap_err().diagnostics[0].code, "I006");
    }

    #[test]
    fn delimiter_sniffing() {
        assert_eq!(sniff_delimiter("a;b;c\n"), b';');
        assert_eq!(sniff_delimiter("a,b\n"), b',');
        assert_eq!(sniff_delimiter("a\tb\n"), b'\t');
        assert_eq!(sniff_delimiter("\"a;b\",c\n"), b',');
    }
}
