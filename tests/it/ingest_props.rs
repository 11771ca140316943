//! Property tests of the readers and of validation's accounting.
//!
//! No input makes a reader panic: arbitrary bytes, and valid files cut short or with bytes
//! changed. And whatever the records hold (quoted delimiters and line breaks, bad codes, wrong
//! decimal marks, ragged records), rows read = rows accepted + rows rejected, and every
//! accepted value is its input parsed.

use crate::common;

use std::path::Path;

use common::root;
use peiling::ingest::{csv, parquet, sav};
use peiling::spec::CsvOptions;
use polars::prelude::*;
use proptest::prelude::*;

fn read_all(bytes: &[u8]) {
    let path = Path::new("fuzz");
    let _ = csv::read_bytes(2024.into(), path, bytes, &CsvOptions::default());
    let _ = parquet::read_bytes(2024.into(), path, bytes);
    let _ = sav::read_bytes(2024.into(), path, bytes);
}

fn small_parquet() -> Vec<u8> {
    let mut frame =
        df!("id" => ["a", "b", "c"], "x" => [1i64, 2, 3], "y" => [0.5, 1.5, 2.5]).unwrap();
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes).finish(&mut frame).unwrap();
    bytes
}

/// `bytes` with `edits` applied (position modulo length, new byte) and cut to `keep` of its
/// length.
fn damaged(mut bytes: Vec<u8>, edits: &[(usize, u8)], keep: f64) -> Vec<u8> {
    for &(at, byte) in edits {
        let at = at % bytes.len();
        bytes[at] = byte;
    }
    bytes.truncate((bytes.len() as f64 * keep) as usize);
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        read_all(&bytes);
    }

    #[test]
    fn damaged_files_never_panic(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        keep in 0.0f64..=1.0,
    ) {
        for name in ["labels.sav", "labels.zsav"] {
            let bytes = std::fs::read(root().join("tests/fixtures/sav").join(name)).unwrap();
            let _ = sav::read_bytes(2024.into(), Path::new(name), &damaged(bytes, &edits, keep));
        }
        let _ = parquet::read_bytes(2024.into(), Path::new("p"), &damaged(small_parquet(), &edits, keep));
        let csv_text = b"id;x;y\n\"a;\"\"b\";1;2,5\nc;2;\n".to_vec();
        let _ = csv::read_bytes(2024.into(), Path::new("c"), &damaged(csv_text, &edits, keep), &CsvOptions::default());
    }
}

const SCHEMA: &str = r#"name = "props"
primary_key = ["id"]
missing_values = [""]

[[field]]
name = "id"
type = "string"
required = true

[[field]]
name = "x"
type = "integer"
categories = { 1 = "een", 2 = "twee", 3 = "drie" }
missing = { 9 = "geen antwoord" }

[[field]]
name = "y"
type = "number"
"#;

/// A record as written: its three fields, and how many fields to write (ragged when not 3).
#[derive(Debug, Clone)]
struct Record {
    id: String,
    x: String,
    y: String,
    width: usize,
}

fn record() -> impl Strategy<Value = Record> {
    let id = proptest::string::string_regex("[ab;\"\n é]{0,4}").unwrap();
    let x = prop_oneof![
        Just("1"),
        Just("2"),
        Just("3"),
        Just("9"),
        Just("7"),
        Just("abc"),
        Just(""),
        Just(" 2")
    ];
    let y = prop_oneof![
        Just("12,5"),
        Just("0"),
        Just("-3,25"),
        Just("1.5"),
        Just(""),
        Just("x"),
        Just("168")
    ];
    let width = prop_oneof![8 => Just(3usize), 1 => Just(2usize), 1 => Just(4usize)];
    (id, x, y, width).prop_map(|(id, x, y, width)| Record {
        id,
        x: x.to_string(),
        y: y.to_string(),
        width,
    })
}

/// What validation must accept for a record, parsed by hand: (id, x, y).
fn expected(record: &Record) -> Option<(String, Option<i64>, Option<f64>)> {
    if record.width != 3 || record.id.is_empty() {
        return None;
    }
    let x = match record.x.trim() {
        "" => None,
        code => match code.parse::<i64>() {
            Ok(v) if [1, 2, 3, 9].contains(&v) => Some(v),
            _ => return None,
        },
    };
    let y = match record.y.as_str() {
        "" => None,
        text if text.contains('.') => return None,
        text => Some(text.replace(',', ".").parse::<f64>().ok()?),
    };
    Some((record.id.clone(), x, y))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_row_is_accepted_or_rejected_and_accepted_values_are_their_input(
        records in proptest::collection::vec(record(), 1..40)
    ) {
        let mut writer = ::csv::WriterBuilder::new().delimiter(b';').flexible(true).from_writer(Vec::new());
        writer.write_record(["id", "x", "y"]).unwrap();
        for r in &records {
            let fields = [r.id.as_str(), r.x.as_str(), r.y.as_str(), "extra"];
            writer.write_record(&fields[..r.width]).unwrap();
        }
        let bytes = writer.into_inner().unwrap();
        let options = CsvOptions { decimal_comma: Some(true), ..CsvOptions::default() };
        let raw = csv::read_bytes(2024.into(), Path::new("props.csv"), &bytes, &options).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let schema_path = dir.path().join("props.schema.toml");
        std::fs::write(&schema_path, SCHEMA).unwrap();
        let schema = peiling::spec::schema::load(&schema_path).unwrap();
        let (valid, rejects) = peiling::validate::apply(&raw, &schema).unwrap();

        let report = &valid.report;
        prop_assert_eq!(report.rows_read, records.len());
        prop_assert_eq!(report.rows_accepted + report.rows_rejected, report.rows_read);
        let rejected: std::collections::BTreeSet<usize> = rejects.problems.iter().map(|p| p.row).collect();
        prop_assert_eq!(rejected.len(), report.rows_rejected);

        let id = valid.coded.column("id").unwrap().str().unwrap().clone();
        // A coded field whose codebook fits 32 bits is an Int32 column.
        let x = valid.coded.column("x").unwrap().i32().unwrap().clone();
        let y = valid.coded.column("y").unwrap().f64().unwrap().clone();
        let mut seen = std::collections::HashSet::new();
        let mut accepted = 0;
        for (row, record) in records.iter().enumerate() {
            // A later duplicate of a key is rejected, whatever happened to the first.
            let first = seen.insert(record.id.clone()) || record.id.is_empty();
            let wanted = expected(record).filter(|_| first);
            let (want_id, want_x, want_y) = match (wanted, rejected.contains(&row)) {
                (None, true) => continue,
                (None, false) => return Err(TestCaseError::fail(format!("row {row} accepted: {record:?}"))),
                (Some(_), true) => return Err(TestCaseError::fail(format!("row {row} rejected: {record:?}"))),
                (Some(wanted), false) => wanted,
            };
            prop_assert_eq!(id.get(accepted), Some(want_id.as_str()));
            prop_assert_eq!(x.get(accepted).map(i64::from), want_x);
            prop_assert_eq!(y.get(accepted), want_y);
            accepted += 1;
        }
        prop_assert_eq!(accepted, report.rows_accepted);
    }
}

/// The records as a CSV file: `;`-separated, quoted where needed, with CRLF line ends or not,
/// in UTF-8 or Windows-1252.
fn csv_file(records: &[Record], crlf: bool, windows_1252: bool) -> Vec<u8> {
    let terminator = if crlf {
        ::csv::Terminator::CRLF
    } else {
        ::csv::Terminator::Any(b'\n')
    };
    let mut writer = ::csv::WriterBuilder::new()
        .delimiter(b';')
        .flexible(true)
        .terminator(terminator)
        .from_writer(Vec::new());
    writer.write_record(["id", "x", "y", "opmerking"]).unwrap();
    for r in records {
        let fields = [r.id.as_str(), r.x.as_str(), r.y.as_str(), "extra"];
        writer.write_record(&fields[..r.width]).unwrap();
    }
    let bytes = writer.into_inner().unwrap();
    if windows_1252 {
        let text = String::from_utf8(bytes).unwrap();
        encoding_rs::WINDOWS_1252.encode(&text).0.into_owned()
    } else {
        bytes
    }
}

/// [`SCHEMA`] with "NA" as system-missing too, a minimum for y (so that y is checked against a
/// range) and a routing rule (so that rejects quote the values a rule saw).
fn stream_schema() -> String {
    let schema = SCHEMA.replace(r#"missing_values = [""]"#, r#"missing_values = ["", "NA"]"#);
    schema
        + r#"minimum = -3

[[rule]]
id = "y_without_x"
when = "x IS NULL"
require = "y IS NULL"
message = "y is asked after x"
"#
}

/// `bytes` as the file `wave.csv` in `dir` (decimal comma), and [`stream_schema`].
fn stream_input(dir: &Path, bytes: &[u8]) -> (peiling::spec::InputPlan, peiling::spec::SchemaPlan) {
    let path = dir.join("wave.csv");
    std::fs::write(&path, bytes).unwrap();
    let schema_path = dir.join("props.schema.toml");
    std::fs::write(&schema_path, stream_schema()).unwrap();
    let input = peiling::spec::InputPlan {
        wave: 2024.into(),
        path,
        format: peiling::spec::InputFormat::Csv,
        csv: CsvOptions {
            decimal_comma: Some(true),
            ..CsvOptions::default()
        },
    };
    (input, peiling::spec::schema::load(&schema_path).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// The streaming pass gives what the text path gives: the same typed frames, problems
    /// (rows, keys, quoted values, messages), counts and line numbers, whatever the blocks cut.
    #[test]
    fn the_streaming_pass_agrees_with_the_text_path(
        records in proptest::collection::vec(record(), 1..40),
        crlf in any::<bool>(),
        windows_1252 in any::<bool>(),
        block in 1usize..96,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (input, schema) = stream_input(dir.path(), &csv_file(&records, crlf, windows_1252));

        let raw = peiling::ingest::read(&input).unwrap();
        let (text_frame, text_rejects) = peiling::validate::apply(&raw, &schema).unwrap();
        let parsed = peiling::validate::stream::read_with(&input, &schema, block).unwrap();
        let parsed = parsed.expect("a file the csv crate wrote is for the streaming pass");
        let (frame, rejects, lines) = peiling::validate::stream::finish(parsed, &schema).unwrap();

        prop_assert!(frame.coded.equals_missing(&text_frame.coded), "{:?}\n{:?}", frame.coded, text_frame.coded);
        prop_assert!(frame.analysis.equals_missing(&text_frame.analysis));
        prop_assert_eq!(&rejects.problems, &text_rejects.problems);
        prop_assert_eq!(Some(lines), raw.lines.clone());
        let (report, text_report) = (&frame.report, &text_frame.report);
        prop_assert_eq!(report.rows_read, text_report.rows_read);
        prop_assert_eq!(report.rows_rejected, text_report.rows_rejected);
        prop_assert_eq!(&report.problems_by_rule, &text_report.problems_by_rule);
        prop_assert_eq!(&report.extra_columns, &text_report.extra_columns);
        prop_assert_eq!(&report.sha256, &text_report.sha256);
        prop_assert_eq!(&report.dialect, &text_report.dialect);
    }
}

/// The rejects quote texts read again from the file after the pass: a file changed in between
/// is an error (`I014`), not rejects with another file's values.
#[test]
fn a_file_changed_between_the_pass_and_its_rejects_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (input, schema) = stream_input(dir.path(), b"id;x;y;opmerking\na;1;2,5;\nb;7;1;\n");
    let path = input.path.clone();
    let read = || {
        peiling::validate::stream::read(&input, &schema)
            .unwrap()
            .unwrap()
    };

    let (_, rejects, _) = peiling::validate::stream::finish(read(), &schema).unwrap();
    // Code 7 is not in the codebook, and without x the rule wants no y.
    let rules: Vec<&str> = rejects.problems.iter().map(|p| p.rule.as_str()).collect();
    assert_eq!(rules, ["category", "y_without_x"]);
    assert!(rejects
        .problems
        .iter()
        .all(|p| p.key.as_deref() == Some("b")));
    assert_eq!(rejects.problems[1].value.as_deref(), Some("x=7; y=1"));

    let parsed = read();
    std::fs::write(&path, "id;x;y;opmerking\na;1;2,5;\nc;7;1;\n").unwrap();
    let failure = peiling::validate::stream::finish(parsed, &schema).unwrap_err();
    assert_eq!(failure.diagnostics[0].code, "I014");
}
