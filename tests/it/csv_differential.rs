//! The CSV reader held to a reference: on arbitrary bytes (quotes inside and around fields,
//! CR, CRLF, lone LF, delimiters, empty lines, invalid UTF-8, no final line break), every record
//! the `csv` crate reads is a row peiling reads, with the same fields, accepted when it has the
//! header's width and rejected otherwise; or peiling stops with an error that names the file.
//! Never a panic. Both the streaming pass (cut into blocks of every size) and the text path.
//! An empty field, quoted or not, is a missing value.

use std::path::Path;

use peiling::spec::{CsvOptions, InputFormat, InputPlan, SchemaPlan};
use polars::prelude::*;
use proptest::prelude::*;

const SCHEMA: &str = r#"name = "differential"
missing_values = []

[[field]]
name = "s"
type = "string"

[[field]]
name = "t"
type = "string"

[[field]]
name = "u"
type = "string"
"#;

/// Pieces of CSV text, the troublesome ones among them.
fn piece() -> impl Strategy<Value = &'static [u8]> {
    prop_oneof![
        4 => Just(&b"a"[..]),
        2 => Just(&b"17"[..]),
        3 => Just(&b";"[..]),
        2 => Just(&b"\""[..]),
        1 => Just(&b"\"\""[..]),
        1 => Just(&b"\r"[..]),
        3 => Just(&b"\n"[..]),
        1 => Just(&b"\r\n"[..]),
        1 => Just(&b" "[..]),
        1 => Just(&b"\xc3\xa9"[..]),
        1 => Just(&b"\xff"[..]),
        1 => Just(&b","[..]),
    ]
}

/// `bytes` as `wave.csv` in `dir`, read as Windows-1252 (every byte is a character, so the
/// reference can decode each field alike), and the schema.
fn input(dir: &Path, bytes: &[u8]) -> (InputPlan, SchemaPlan) {
    let path = dir.join("wave.csv");
    std::fs::write(&path, bytes).unwrap();
    let schema_path = dir.join("differential.schema.toml");
    std::fs::write(&schema_path, SCHEMA).unwrap();
    let input = InputPlan {
        wave: 2024.into(),
        path,
        format: InputFormat::Csv,
        csv: CsvOptions {
            delimiter: Some(b';'),
            decimal_comma: Some(false),
            encoding: Some(encoding_rs::WINDOWS_1252),
        },
    };
    (input, peiling::spec::schema::load(&schema_path).unwrap())
}

/// The `csv` crate's records after the header, each field decoded.
fn reference(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    reader
        .byte_records()
        .map(|record| {
            record
                .unwrap()
                .iter()
                .map(|field| encoding_rs::WINDOWS_1252.decode(field).0.into_owned())
                .collect()
        })
        .collect()
}

/// What peiling read: rows read, and each accepted row (its 0-based data row and fields).
type Read = (usize, Vec<(usize, Vec<Option<String>>)>);

fn accepted(
    frame: &DataFrame,
    rejected: &[usize],
    rows: usize,
) -> Vec<(usize, Vec<Option<String>>)> {
    let columns: Vec<Vec<Option<String>>> = ["s", "t", "u"]
        .iter()
        .map(|name| {
            let column = frame.column(name).unwrap().cast(&DataType::String).unwrap();
            column
                .str()
                .unwrap()
                .iter()
                .map(|v| v.map(str::to_string))
                .collect()
        })
        .collect();
    (0..rows)
        .filter(|row| !rejected.contains(row))
        .zip(0..)
        .map(|(row, i)| (row, columns.iter().map(|c| c[i].clone()).collect()))
        .collect()
}

fn streamed(
    input: &InputPlan,
    schema: &SchemaPlan,
    block: usize,
) -> Result<Option<Read>, peiling::diag::Failure> {
    let Some(parsed) = peiling::validate::stream::read_with(input, schema, block)? else {
        return Ok(None);
    };
    let (frame, rejects, _) = peiling::validate::stream::finish(parsed, schema)?;
    let rejected: Vec<usize> = rejects.problems.iter().map(|p| p.row).collect();
    let rows = frame.report.rows_read;
    Ok(Some((rows, accepted(&frame.coded, &rejected, rows))))
}

fn text_path(input: &InputPlan, schema: &SchemaPlan) -> Result<Read, peiling::diag::Failure> {
    let raw = peiling::ingest::read(input)?;
    let (frame, rejects) = peiling::validate::apply(&raw, schema)?;
    let rejected: Vec<usize> = rejects.problems.iter().map(|p| p.row).collect();
    let rows = frame.report.rows_read;
    Ok((rows, accepted(&frame.coded, &rejected, rows)))
}

/// `read` agrees with the reference, or is an error naming the file.
fn check(
    what: &str,
    read: Result<Read, peiling::diag::Failure>,
    expected: &[Vec<String>],
    file: &Path,
) -> Result<(), TestCaseError> {
    let (rows, accepted) = match read {
        Ok(read) => read,
        Err(failure) => {
            let named = failure.diagnostics.iter().any(|d| {
                d.location
                    .as_ref()
                    .is_some_and(|place| Path::new(&place.file) == file)
            });
            prop_assert!(
                named,
                "{what}: an error that does not name the file: {failure:?}"
            );
            return Ok(());
        }
    };
    prop_assert_eq!(rows, expected.len(), "{}: rows read", what);
    let want: Vec<(usize, Vec<Option<String>>)> = expected
        .iter()
        .enumerate()
        .filter(|(_, fields)| fields.len() == 3)
        // An empty field is a missing value.
        .map(|(row, fields)| {
            (
                row,
                fields
                    .iter()
                    .map(|f| (!f.is_empty()).then(|| f.clone()))
                    .collect(),
            )
        })
        .collect();
    prop_assert_eq!(accepted, want, "{}", what);
    Ok(())
}

/// A field as an export writes it: plain text, or quoted with delimiters, line breaks and
/// doubled quotes inside.
fn field() -> impl Strategy<Value = Vec<u8>> {
    let plain = proptest::collection::vec(
        prop_oneof![
            Just(&b"a"[..]),
            Just(&b"17"[..]),
            Just(&b" "[..]),
            Just(&b"\xc3\xa9"[..]),
            Just(&b"\xff"[..]),
            Just(&b","[..])
        ],
        0..4,
    )
    .prop_map(|pieces| pieces.concat());
    let quoted = proptest::collection::vec(
        prop_oneof![
            Just(&b"a"[..]),
            Just(&b";"[..]),
            Just(&b"\n"[..]),
            Just(&b"\r\n"[..]),
            Just(&b"\"\""[..]),
            Just(&b"\xc3\xa9"[..])
        ],
        1..4,
    )
    .prop_map(|pieces| [&b"\""[..], &pieces.concat(), &b"\""[..]].concat());
    prop_oneof![3 => plain, 1 => quoted]
}

/// Records of 1 to 4 fields (the header has 3), ended by LF or CRLF, some after a blank line,
/// the last one with or without its line break.
fn records() -> impl Strategy<Value = Vec<u8>> {
    let record = (
        proptest::collection::vec(field(), 1..5),
        prop_oneof![Just(&b"\n"[..]), Just(&b"\r\n"[..])],
        proptest::bool::weighted(0.1),
    );
    (proptest::collection::vec(record, 0..20), any::<bool>()).prop_map(|(records, last_break)| {
        let mut bytes = Vec::new();
        let count = records.len();
        for (i, (fields, end, blank)) in records.into_iter().enumerate() {
            if blank {
                bytes.extend_from_slice(end);
            }
            bytes.extend_from_slice(&fields.join(&b";"[..]));
            if i + 1 < count || last_break {
                bytes.extend_from_slice(end);
            }
        }
        bytes
    })
}

/// Cases per property: 1,500 in `cargo test`; the nightly sets `PEILING_CSV_CASES=50000`.
fn cases() -> u32 {
    std::env::var("PEILING_CSV_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(1500)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Arbitrary pieces: mostly files the streaming pass hands to the text path.
    #[test]
    fn the_csv_reader_agrees_with_the_csv_crate_on_arbitrary_text(
        body in proptest::collection::vec(piece(), 0..60),
        block in 1usize..64,
    ) {
        agree(&body.concat(), block)?;
    }

    /// Records as exports write them: mostly files for the streaming pass.
    #[test]
    fn the_csv_reader_agrees_with_the_csv_crate_on_records(body in records(), block in 1usize..64) {
        agree(&body, block)?;
    }
}

/// Both paths on the header `s;t;u` and `body`, against the reference.
fn agree(body: &[u8], block: usize) -> Result<(), TestCaseError> {
    {
        let bytes = [&b"s;t;u\n"[..], body].concat();
        let expected = reference(&bytes);
        let dir = tempfile::tempdir().unwrap();
        let (input, schema) = input(dir.path(), &bytes);
        let shown = String::from_utf8_lossy(&bytes).into_owned();
        match streamed(&input, &schema, block) {
            Ok(None) => {}
            Ok(Some(read)) => check(
                &format!("stream {shown:?}"),
                Ok(read),
                &expected,
                &input.path,
            )?,
            Err(failure) => check(
                &format!("stream {shown:?}"),
                Err(failure),
                &expected,
                &input.path,
            )?,
        }
        check(
            &format!("text {shown:?}"),
            text_path(&input, &schema),
            &expected,
            &input.path,
        )?;
    }
    Ok(())
}
