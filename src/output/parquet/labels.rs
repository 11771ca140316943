//! The `<field>_label` columns of the microdata.
//!
//! A label column repeats a handful of strings a million times. It is written as what Parquet
//! stores anyway, a dictionary of the labels and a key per row, built per row group from the
//! codes: the labels in order of first appearance in the row group (as polars' writer orders
//! a dictionary), so the dictionary page and its statistics hold only labels that occur there.
//! Integer codes find their label in a table over the range of the labelled codes
//! ([`LabelTable`]), other codes (and integers labelled far apart) by hash, once per distinct
//! code and row group.
//!
//! Mostly none of that runs: a row group whose integer codes all have labels of their own is
//! written from its code column's pages ([`KeyedBy`], `pages::relabel`): the code column's keys
//! under a dictionary of the codes' labels, in the codes' order.

use std::collections::HashMap;
use std::hash::Hash;

use polars::prelude::*;
use polars_arrow::array::{ArrayRef, DictionaryArray, PrimitiveArray, Utf8ViewArray};
use polars_arrow::bitmap::Bitmap;
use polars_arrow::datatypes::{ArrowDataType, IntegerType};

use super::write::{FileColumn, KeyedBy};
use super::LABEL_SUFFIX;
use crate::spec::SchemaPlan;

/// For every column of `frame` whose schema field has value labels (`categories`, `missing`
/// codes, or an SPSS file's labels): a string column `<name>_label` with the label of each
/// row's code (null for a null or an unlabelled code). Notebooks group and filter on these
/// directly; the codes stay in their own column. Readers see plain strings. The label columns
/// go after `frame`'s columns, in their order: a label column names its code column by its
/// index there ([`KeyedBy`]).
pub fn label_columns(
    frame: &DataFrame,
    schema: &SchemaPlan,
) -> PolarsResult<Vec<FileColumn<'static>>> {
    let mut columns = Vec::new();
    for field in &schema.fields {
        let name = format!("{}{LABEL_SUFFIX}", field.name);
        let Ok(codes) = frame.column(&field.name) else {
            continue;
        };
        // A code is in one list only (a schema's code in two is S104; an SPSS file's labels are
        // merged without repeats, `validate::codebook`), so its label is `FieldPlan::label_of`'s.
        let by_code: HashMap<String, &str> = field
            .categories
            .iter()
            .chain(&field.missing)
            .chain(&field.value_labels)
            .map(|(code, label)| (code.to_string(), label.as_str()))
            .collect();
        if by_code.is_empty() || frame.column(&name).is_ok() {
            continue;
        }
        // Each distinct label once; a code's label by its index there.
        let mut labels: Vec<String> = Vec::new();
        let mut label_index: HashMap<&str, u32> = HashMap::new();
        let code_label: HashMap<String, u32> = by_code
            .into_iter()
            .map(|(code, label)| {
                let at = *label_index.entry(label).or_insert_with(|| {
                    labels.push(label.to_string());
                    labels.len() as u32 - 1
                });
                (code, at)
            })
            .collect();
        let table = LabelTable::of(&code_label);
        let code_label = std::sync::Arc::new(code_label);
        let labels = std::sync::Arc::new(labels);
        // An integer code's label, for the label column's pages made from the code column's.
        let keyed_by = codes.dtype().is_integer().then(|| {
            let (code_label, labels) = (code_label.clone(), labels.clone());
            KeyedBy {
                column: frame
                    .get_column_index(&field.name)
                    .expect("the code column is in the frame"),
                label: Box::new(move |code: i64| {
                    code_label
                        .get(&code.to_string())
                        .map(|&at| labels[at as usize].clone())
                }),
            }
        });
        let label_of = move |code: &str| code_label.get(code).copied();
        // A row group's codes, read as the type their labels are looked up by (integers cast
        // a row group at a time: a whole copy of a column at 10M rows is fresh memory).
        let codes = codes.clone();
        let rows = move |start: usize, len: usize| {
            let (codes, labels) = (codes.slice(start as i64, len), labels.as_slice());
            match codes.dtype() {
                DataType::String => dictionary(codes.str()?.iter(), &label_of, labels),
                DataType::Float64 => dictionary(
                    codes.f64()?.iter().map(|v| v.map(f64::to_bits)),
                    |bits| label_of(&f64::from_bits(bits).to_string()),
                    labels,
                ),
                DataType::Int32 if table.is_some() => table
                    .as_ref()
                    .expect("a table")
                    .dictionary(codes.i32()?, labels),
                _ => {
                    let codes = codes.cast(&DataType::Int64)?;
                    match &table {
                        Some(table) => table.dictionary(codes.i64()?, labels),
                        None => {
                            dictionary(codes.i64()?.iter(), |v| label_of(&v.to_string()), labels)
                        }
                    }
                }
            }
        };
        columns.push(FileColumn {
            name: name.into(),
            dtype: dictionary_type(),
            hint: ArrowDataType::LargeUtf8,
            rows: Box::new(rows),
            same_as: None,
            keyed_by,
        });
    }
    Ok(columns)
}

fn dictionary_type() -> ArrowDataType {
    ArrowDataType::Dictionary(
        IntegerType::UInt32,
        Box::new(ArrowDataType::Utf8View),
        false,
    )
}

/// Integer codes whose labelled codes lie within this span are looked up in a table
/// ([`LabelTable`]), not hashed.
const TABLE_SPAN: u64 = 1 << 16;

/// The labels of integer codes by table: per code from the least labelled code to the greatest,
/// its label's index in the column's labels, if it has one. A code outside that range has none.
struct LabelTable {
    least: i64,
    /// Per code, its label's index, [`NO_KEY`] for none.
    label_of: Vec<u32>,
}

impl LabelTable {
    /// The table of the codes of `code_label` (codes as text, labels by index), if the integer
    /// codes among them span less than [`TABLE_SPAN`]. Every code in the range is looked up as
    /// its text, as a hashed code would be: an integer's text names it in one way only, so a
    /// code outside the range has no label.
    fn of(code_label: &HashMap<String, u32>) -> Option<LabelTable> {
        let codes = code_label
            .keys()
            .filter_map(|code| code.parse::<i64>().ok());
        let (least, greatest) = codes.fold((i64::MAX, i64::MIN), |(least, greatest), code| {
            (least.min(code), greatest.max(code))
        });
        if least > greatest {
            return Some(LabelTable {
                least: 0,
                label_of: Vec::new(),
            });
        }
        (greatest.abs_diff(least) < TABLE_SPAN).then(|| LabelTable {
            least,
            label_of: (least..=greatest)
                .map(|code| code_label.get(&code.to_string()).copied().unwrap_or(NO_KEY))
                .collect(),
        })
    }

    /// The labels of `codes` (integers of any width) as a dictionary, as [`dictionary`] makes
    /// it: one pass over the codes and their validity.
    fn dictionary<T>(&self, codes: &ChunkedArray<T>, labels: &[String]) -> PolarsResult<ArrayRef>
    where
        T: PolarsNumericType,
        T::Native: Into<i64>,
    {
        let mut dictionary = Dictionary::new(labels);
        let mut keys = Vec::with_capacity(codes.len());
        let label = |code: T::Native| {
            usize::try_from(code.into().wrapping_sub(self.least))
                .ok()
                .and_then(|at| self.label_of.get(at).copied())
                .unwrap_or(NO_KEY)
        };
        let mut key = |label: u32| match label {
            NO_KEY => NO_KEY,
            label => dictionary.key(label),
        };
        for chunk in codes.downcast_iter() {
            let values = chunk.values().iter();
            match chunk.validity().filter(|bits| bits.unset_bits() > 0) {
                None => keys.extend(values.map(|&code| key(label(code)))),
                Some(bits) => keys.extend(values.zip(bits.iter()).map(|(&code, valid)| {
                    if valid {
                        key(label(code))
                    } else {
                        NO_KEY
                    }
                })),
            }
        }
        dictionary.array(keys)
    }
}

/// The labels of `codes` as a dictionary: `label_of` gives a code's index in `labels` (asked
/// once per distinct code), the dictionary holds the labels that occur, in order of first
/// appearance.
fn dictionary<K: Hash + Eq + Copy>(
    codes: impl Iterator<Item = Option<K>>,
    label_of: impl Fn(K) -> Option<u32>,
    labels: &[String],
) -> PolarsResult<ArrayRef> {
    let mut dictionary = Dictionary::new(labels);
    let mut key_of_code: foldhash::HashMap<K, u32> = foldhash::HashMap::default();
    let keys = codes
        .map(|code| match code {
            None => NO_KEY,
            Some(code) => *key_of_code
                .entry(code)
                .or_insert_with(|| label_of(code).map_or(NO_KEY, |label| dictionary.key(label))),
        })
        .collect();
    dictionary.array(keys)
}

/// The key of a row without a label (a null code, or a code without one).
const NO_KEY: u32 = u32::MAX;

/// A row group's dictionary of labels, in order of first appearance.
struct Dictionary<'a> {
    labels: &'a [String],
    /// Per label (its index in `labels`), its key once it has occurred.
    key_of_label: Vec<u32>,
    /// The labels that occurred, by key.
    values: Vec<&'a str>,
}

impl<'a> Dictionary<'a> {
    fn new(labels: &'a [String]) -> Self {
        Dictionary {
            labels,
            key_of_label: vec![NO_KEY; labels.len()],
            values: Vec::new(),
        }
    }

    /// The key of the label at `label` in `labels`, added if it is new.
    fn key(&mut self, label: u32) -> u32 {
        let key = &mut self.key_of_label[label as usize];
        if *key == NO_KEY {
            *key = self.values.len() as u32;
            self.values.push(&self.labels[label as usize]);
        }
        *key
    }

    /// The dictionary array of `keys`: null where a key is `NO_KEY`.
    fn array(self, mut keys: Vec<u32>) -> PolarsResult<ArrayRef> {
        let validity = keys.contains(&NO_KEY).then(|| {
            let validity: Bitmap = keys.iter().map(|&key| key != NO_KEY).collect();
            // Any key within the dictionary under a null.
            keys.iter_mut()
                .for_each(|key| *key = if *key == NO_KEY { 0 } else { *key });
            validity
        });
        let keys = PrimitiveArray::new(ArrowDataType::UInt32, keys.into(), validity);
        let values = Utf8ViewArray::from_slice_values(&self.values);
        let array = DictionaryArray::try_new(dictionary_type(), keys, Box::new(values))?;
        Ok(Box::new(array))
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use polars_parquet::parquet::statistics::Statistics;
    use proptest::prelude::*;

    use super::super::write::{write_columns, write_frame, Encodings, FileColumn};
    use super::*;
    use crate::spec::schema::{Code, FieldPlan, FieldType};

    fn field(name: &str, field_type: FieldType, codes: &[(Code, &str)]) -> FieldPlan {
        FieldPlan {
            name: name.into(),
            field_type,
            label: None,
            required: false,
            categories: Vec::new(),
            missing: Vec::new(),
            missing_ranges: Vec::new(),
            value_labels: codes
                .iter()
                .map(|(c, l)| (c.clone(), l.to_string()))
                .collect(),
            minimum: None,
            maximum: None,
            pattern: None,
        }
    }

    fn schema(fields: Vec<FieldPlan>) -> SchemaPlan {
        SchemaPlan {
            name: "test".into(),
            path: "test.schema.toml".into(),
            sha256: String::new(),
            primary_key: Vec::new(),
            missing_values: Vec::new(),
            fields,
            rules: Vec::new(),
        }
    }

    /// The frame's columns and its label columns, in row groups of `group_rows`.
    fn write_with_labels(
        frame: &DataFrame,
        schema: &SchemaPlan,
        group_rows: usize,
    ) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("microdata.parquet");
        let mut columns: Vec<FileColumn> = frame.columns().iter().map(FileColumn::of).collect();
        columns.extend(label_columns(frame, schema).unwrap());
        write_columns(
            &path,
            &columns,
            frame.height(),
            Vec::new(),
            group_rows,
            Encodings::Fast,
        )
        .unwrap();
        (dir, path)
    }

    fn read(path: &std::path::Path) -> DataFrame {
        ParquetReader::new(File::open(path).unwrap())
            .finish()
            .unwrap()
    }

    #[test]
    fn label_columns_read_back_as_the_labels_of_the_codes() {
        let int = |c: i64| Code::Int(c);
        let schema = schema(vec![
            field(
                "g",
                FieldType::Integer,
                &[
                    (int(1), "man"),
                    (int(2), "vrouw"),
                    (int(8), "weet niet"),
                    (int(9), "weet niet"),
                ],
            ),
            field(
                "s",
                FieldType::String,
                &[
                    (Code::Str("a".into()), "Alfa"),
                    (Code::Str("b".into()), "Bèta"),
                ],
            ),
            field(
                "x",
                FieldType::Number,
                &[(Code::Num(1.5), "anderhalf"), (Code::Num(2.0), "twee")],
            ),
            field("unlabelled", FieldType::Integer, &[]),
            // Codes far apart.
            field(
                "wide",
                FieldType::Integer,
                &[(int(0), "nul"), (int(100_000), "ton")],
            ),
        ]);
        // Row groups of 3: the second has no g, the third only "man" and an unlabelled code.
        let frame = df![
            "g" => [Some(1), Some(2), Some(9), None, None, None, Some(1), Some(1), Some(3), Some(8)],
            "s" => [Some("a"), Some("b"), Some("c"), Some("a"), None, Some("b"), Some("b"), Some("b"), Some("b"), Some("a")],
            "x" => [Some(1.5), Some(2.0), None, Some(1.5), Some(1.5), Some(7.0), Some(2.0), Some(1.5), Some(1.5), Some(2.0)],
            "unlabelled" => [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            "wide" => [Some(0), Some(100_000), Some(5), None, Some(100_000), Some(0), Some(0), None, None, Some(0)],
        ]
        .unwrap();
        // In two chunks (a file read in blocks), cut inside a row group.
        let mut chunked = frame.slice(0, 4);
        chunked.vstack_mut(&frame.slice(4, 6)).unwrap();
        assert_eq!(chunked.first_col_n_chunks(), 2);
        let (_dir, path) = write_with_labels(&chunked, &schema, 3);
        let back = read(&path);
        let names = [
            "g",
            "s",
            "x",
            "unlabelled",
            "wide",
            "g_label",
            "s_label",
            "x_label",
            "wide_label",
        ];
        assert_eq!(back.get_column_names(), names);
        assert!(back
            .select(["g", "s", "x", "unlabelled", "wide"])
            .unwrap()
            .equals_missing(&frame));
        for name in ["g", "s", "x", "wide"] {
            let field = schema.field(name).unwrap();
            let codes = frame.column(name).unwrap().as_materialized_series();
            let labels = back.column(&format!("{name}_label")).unwrap();
            assert_eq!(labels.dtype(), &DataType::String, "{name}");
            for (row, label) in labels.str().unwrap().iter().enumerate() {
                let code = match codes.get(row).unwrap() {
                    AnyValue::Null => None,
                    AnyValue::Int32(v) => Some(Code::Int(v.into())),
                    AnyValue::Float64(v) => Some(Code::Num(v)),
                    AnyValue::String(v) => Some(Code::Str(v.into())),
                    other => panic!("{other:?}"),
                };
                let want = code.and_then(|c| field.label_of(&c));
                assert_eq!(label, want, "{name}, row {row}");
            }
        }

        // Each row group's dictionary holds the labels that occur there, so its statistics
        // are those of its rows.
        let metadata =
            polars_parquet::parquet::read::read_metadata(&mut File::open(&path).unwrap()).unwrap();
        assert_eq!(metadata.row_groups.len(), 4);
        let g_label = |group: usize| {
            let column = &metadata.row_groups[group].parquet_columns()[5];
            match column.statistics(&metadata.footer_buf).unwrap().unwrap() {
                Statistics::Binary(s) => (
                    s.null_count,
                    s.min_value.map(|v| String::from_utf8(v).unwrap()),
                    s.max_value.map(|v| String::from_utf8(v).unwrap()),
                ),
                other => panic!("{other:?}"),
            }
        };
        let text = |s: &str| Some(s.to_string());
        assert_eq!(g_label(0), (Some(0), text("man"), text("weet niet")));
        assert_eq!(g_label(1), (Some(3), None, None));
        assert_eq!(g_label(2), (Some(1), text("man"), text("man")));
        assert_eq!(g_label(3), (Some(0), text("weet niet"), text("weet niet")));
    }

    /// A label column whose every code in a row group has a label of its own is made from its
    /// code column's pages, without its rows (here an error if asked for); a row group with a
    /// code without a label asks for them.
    #[test]
    fn a_label_column_takes_its_code_columns_keys_where_every_code_has_a_label() {
        let codes = [(Code::Int(1), "man"), (Code::Int(2), "vrouw")];
        let schema = schema(vec![field("g", FieldType::Integer, &codes)]);
        let write = |rows: &[Option<i32>]| {
            let frame = df!["g" => rows].unwrap();
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("microdata.parquet");
            let mut columns: Vec<FileColumn> = frame.columns().iter().map(FileColumn::of).collect();
            let mut labels = label_columns(&frame, &schema).unwrap();
            labels[0].rows = Box::new(|_, _| polars_bail!(ComputeError: "rows asked for"));
            columns.extend(labels);
            let written = write_columns(
                &path,
                &columns,
                frame.height(),
                Vec::new(),
                3,
                Encodings::Fast,
            );
            written.map(|_| {
                read(&path)
                    .column("g_label")
                    .unwrap()
                    .str()
                    .unwrap()
                    .clone()
            })
        };
        let labels = write(&[Some(2), None, Some(1), Some(2), Some(2), None, Some(1)]).unwrap();
        let labels: Vec<Option<&str>> = labels.iter().collect();
        assert_eq!(
            labels,
            [
                Some("vrouw"),
                None,
                Some("man"),
                Some("vrouw"),
                Some("vrouw"),
                None,
                Some("man")
            ]
        );
        assert!(write(&[Some(1), Some(3), Some(2)]).is_err());
    }

    /// A null code has no label, whatever value its slot holds (polars keeps 0 there, here a
    /// labelled code); 8-, 16-, 32- and 64-bit codes alike.
    #[test]
    fn a_null_code_has_no_label_whatever_its_slot_holds() {
        let codes = [(Code::Int(0), "nee"), (Code::Int(1), "ja")];
        let schema = schema(vec![field("c", FieldType::Integer, &codes)]);
        let rows = [Some(0i64), None, Some(1), None, Some(7)];
        for dtype in [
            DataType::Int8,
            DataType::Int16,
            DataType::Int32,
            DataType::Int64,
        ] {
            let frame = df!["c" => &rows].unwrap();
            let frame = frame
                .lazy()
                .with_column(col("c").cast(dtype.clone()))
                .collect()
                .unwrap();
            let (_dir, path) = write_with_labels(&frame, &schema, 2);
            let back = read(&path);
            let labels: Vec<Option<String>> = back
                .column("c_label")
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .map(|l| l.map(str::to_string))
                .collect();
            assert_eq!(
                labels,
                [Some("nee".into()), None, Some("ja".into()), None, None],
                "{dtype}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// The label column of integer codes holds each row's label, whether the labelled
        /// codes lie close together (looked up in a table) or far apart (hashed), with codes
        /// outside the labelled range, unlabelled codes and nulls, in any row groups.
        #[test]
        fn integer_codes_read_back_as_their_labels(
            rows in prop::collection::vec(
                prop_oneof![(-3i32..12).prop_map(Some), any::<i32>().prop_map(Some), Just(None)],
                0..60,
            ),
            labelled in prop::collection::btree_map(
                prop_oneof![-3i64..12, any::<i32>().prop_map(i64::from)],
                prop::sample::select(vec!["ja", "nee", "weet niet"]),
                0..6,
            ),
            as_text in any::<bool>(),
            group_rows in 1usize..20,
            cut in 0usize..60,
        ) {
            // Some labelled codes as text ("05"), which no integer's text matches.
            let codes: Vec<(Code, &str)> = labelled
                .iter()
                .map(|(&code, &label)| match as_text && code == 5 {
                    true => (Code::Str("05".into()), label),
                    false => (Code::Int(code), label),
                })
                .collect();
            let schema = schema(vec![field("c", FieldType::Integer, &codes)]);
            let frame = df!["c" => &rows].unwrap();
            let cut = cut.min(frame.height());
            let mut chunked = frame.slice(0, cut);
            chunked.vstack_mut(&frame.slice(cut as i64, frame.height() - cut)).unwrap();
            let (_dir, path) = write_with_labels(&chunked, &schema, group_rows);
            let back = read(&path);
            let field = schema.field("c").unwrap();
            if codes.is_empty() {
                prop_assert!(back.column("c_label").is_err());
                return Ok(());
            }
            let labels = back.column("c_label").unwrap().str().unwrap().clone();
            for (row, code) in rows.iter().enumerate() {
                let want = code.and_then(|c| field.label_of(&Code::Int(c.into())));
                prop_assert_eq!(labels.get(row), want, "row {}", row);
            }
        }

        /// Any frame reads back as written, whatever the row groups.
        #[test]
        fn frames_read_back_as_written(
            rows in prop::collection::vec(
                (any::<Option<i32>>(), any::<Option<f64>>(), prop::option::of("[a-zé ]{0,20}")),
                0..40,
            ),
            group_rows in 1usize..12,
            cut in 0usize..40,
        ) {
            let frame = df![
                "i" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                "f" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                "s" => rows.iter().map(|r| r.2.clone()).collect::<Vec<_>>(),
            ]
            .unwrap();
            // In two chunks at `cut` (a file read in blocks), whatever the row groups.
            let cut = cut.min(frame.height());
            let mut chunked = frame.slice(0, cut);
            chunked.vstack_mut(&frame.slice(cut as i64, frame.height() - cut)).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("frame.parquet");
            let columns: Vec<FileColumn> = chunked.columns().iter().map(FileColumn::of).collect();
            write_columns(&path, &columns, frame.height(), Vec::new(), group_rows, Encodings::Fast)
                .unwrap();
            let back = read(&path);
            prop_assert!(back.equals_missing(&frame), "{back} against {frame}");
            let groups = polars_parquet::parquet::read::read_metadata(&mut File::open(&path).unwrap())
                .unwrap()
                .row_groups
                .len();
            prop_assert_eq!(groups, frame.height().div_ceil(group_rows));
            // The frame writer is the same, with the default row group size.
            write_frame(&frame, &path, Vec::new()).unwrap();
            prop_assert!(read(&path).equals_missing(&frame));
        }
    }
}
