//! Writing a Parquet file on the rayon pool.
//!
//! polars' own writer encodes the columns of a row group in parallel but compresses their
//! pages one by one as it writes them, and it takes a `DataFrame`, whose columns cannot be
//! Arrow dictionaries without polars' categorical types. Here every column of a row group is
//! encoded *and* compressed in parallel, then the row group is written in order; a column is
//! any source of Arrow arrays by row range, so the microdata's label columns are built per
//! row group as dictionaries (see `labels.rs`) and never exist as a million strings.

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use polars::prelude::{Column, CompatLevel, DataFrame, PlSmallStr, PolarsResult};
use polars_arrow::array::{new_empty_array, ArrayRef, PrimitiveArray};
use polars_arrow::datatypes::{ArrowDataType, ArrowSchema, Field};
use polars_parquet::parquet::page::{CompressedDictPage, DataPage, DictPage, Page};
use polars_parquet::parquet::schema::types::ParquetType;
use polars_parquet::parquet::CowBuffer;
use polars_parquet::write::{
    array_to_columns, fallible_streaming_iterator, get_dtype_encoding, schema_to_metadata_key,
    CompressedDataPage, CompressedPage, CompressionOptions, DynIter, DynStreamingIterator,
    Encoding, FileWriter, KeyValue, StatisticsOptions, Version, WriteOptions,
};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::pages;

/// Rows per row group: polars' default (512²).
pub const ROW_GROUP_ROWS: usize = 512 * 512;

/// A column's leaves (one for a flat column), each its compressed pages.
type Leaves = Vec<Vec<CompressedPage>>;

/// peiling's own dictionary page and data page of a column, uncompressed.
type OwnPages = (DictPage, DataPage);

/// The rows `start..start + len` of a column, as one Arrow array.
type Rows<'a> = Box<dyn Fn(usize, usize) -> PolarsResult<ArrayRef> + Send + Sync + 'a>;

/// Whose page encodings a file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encodings {
    /// polars': the published tables, which any Parquet reader must open.
    Polars,
    /// peiling's own where they are faster to make (the microdata): see [`pages`].
    Fast,
}

/// zstd at its default level (3), polars' default.
const COMPRESSION: CompressionOptions = CompressionOptions::Zstd(None);

thread_local! {
    /// This thread's zstd context, reused from page to page.
    static ZSTD: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
}

/// Compresses `page` as polars' `compress` does (the same bytes), in this thread's zstd context:
/// polars makes a context per page, whose tables are set up afresh each time, and zeroes the
/// output buffer before compressing into it.
fn compress(page: Page) -> PolarsResult<CompressedPage> {
    let compressed = |input: &[u8]| -> PolarsResult<Vec<u8>> {
        ZSTD.with_borrow_mut(|context| {
            if context.is_none() {
                *context = Some(zstd::bulk::Compressor::new(0)?);
            }
            let context = context.as_mut().expect("made above");
            let mut output = Vec::with_capacity(zstd::zstd_safe::compress_bound(input.len()));
            context.compress_to_buffer(input, &mut output)?;
            Ok(output)
        })
    };
    Ok(match page {
        Page::Data(page) => {
            let buffer = compressed(page.buffer())?;
            let num_rows = page.num_rows.expect("a written page knows its rows");
            let DataPage { descriptor, .. } = &page;
            CompressedPage::Data(CompressedDataPage::new(
                page.header().clone(),
                CowBuffer::Owned(buffer),
                COMPRESSION.into(),
                page.buffer().len(),
                descriptor.clone(),
                num_rows,
            ))
        }
        Page::Dict(DictPage {
            buffer,
            num_values,
            is_sorted,
        }) => CompressedPage::Dict(CompressedDictPage::new(
            CowBuffer::Owned(compressed(&buffer)?),
            COMPRESSION.into(),
            buffer.len(),
            num_values,
            is_sorted,
        )),
    })
}

/// One column of a file to write.
pub struct FileColumn<'a> {
    pub name: PlSmallStr,
    /// The Arrow type of the arrays `rows` gives.
    pub dtype: ArrowDataType,
    /// The type the `ARROW:schema` hint gives readers: strings as plain `large_string`.
    ///
    /// polars describes its string columns to Arrow readers as `string_view`, and pyarrow
    /// gives such columns back as they are described. pyarrow's compute kernels (`filter`,
    /// `equal`, the `filters=` of `read_table`) do not take `string_view` yet, so a notebook
    /// could not filter a table on `indicator`. The column data in the file are the same
    /// either way (UTF-8 byte arrays); only the hint changes, and polars, DuckDB and pyarrow
    /// all read plain strings. A dictionary of strings is hinted as plain strings too.
    pub hint: ArrowDataType,
    pub rows: Rows<'a>,
    /// An earlier column (its index) whose arrays are bit for bit this one's: that column's
    /// pages are written again for this one, not encoded and compressed again (the pages do
    /// not name their column, so the file is the same).
    pub same_as: Option<usize>,
    /// For a label column: the column of integer codes it labels, whose keys it takes (see
    /// [`pages::relabel`]); `rows` still gives its arrays where it cannot.
    pub keyed_by: Option<KeyedBy<'a>>,
}

/// The code column of a label column, and each code's label.
pub struct KeyedBy<'a> {
    /// The index of the code column among the file's columns.
    pub column: usize,
    pub label: Box<dyn Fn(i64) -> Option<String> + Send + Sync + 'a>,
}

impl FileColumn<'static> {
    /// A column of a frame. A column in several chunks (a file read in blocks) is joined a
    /// row group at a time, not whole: at 10M rows a whole copy of every column is fresh memory.
    pub fn of(column: &Column) -> Self {
        let series = column.as_materialized_series().clone();
        let dtype = series.dtype().to_arrow(CompatLevel::newest());
        FileColumn {
            name: series.name().clone(),
            dtype: dtype.clone(),
            hint: series.dtype().to_arrow(CompatLevel::oldest()),
            rows: Box::new(move |start, len| {
                let rows = series.slice(start as i64, len).rechunk();
                Ok(if rows.chunks().is_empty() {
                    new_empty_array(dtype.clone())
                } else {
                    rows.to_arrow(0, CompatLevel::newest())
                })
            }),
            same_as: None,
            keyed_by: None,
        }
    }
}

impl<'a> FileColumn<'a> {
    /// A column of doubles without nulls, from `pieces` one after the other (a wave's weights
    /// each): a row group's rows are copied out only when it is encoded.
    pub fn doubles(name: &str, pieces: Vec<&'a [f64]>) -> Self {
        FileColumn {
            name: name.into(),
            dtype: ArrowDataType::Float64,
            hint: ArrowDataType::Float64,
            rows: Box::new(move |start, len| {
                let mut rows = Vec::with_capacity(len);
                let mut skip = start;
                for piece in &pieces {
                    if rows.len() == len {
                        break;
                    }
                    if skip >= piece.len() {
                        skip -= piece.len();
                        continue;
                    }
                    let take = (piece.len() - skip).min(len - rows.len());
                    rows.extend_from_slice(&piece[skip..skip + take]);
                    skip = 0;
                }
                Ok(PrimitiveArray::from_vec(rows).boxed())
            }),
            same_as: None,
            keyed_by: None,
        }
    }
}

/// Writes `frame` to `path` with `metadata` beside the Arrow schema hint.
pub fn write_frame(
    frame: &DataFrame,
    path: &Path,
    metadata: Vec<(String, String)>,
) -> PolarsResult<()> {
    let columns: Vec<FileColumn> = frame.columns().iter().map(FileColumn::of).collect();
    write_columns(
        path,
        &columns,
        frame.height(),
        metadata,
        ROW_GROUP_ROWS,
        Encodings::Polars,
    )
    .map(|_| ())
}

/// A file written through a SHA-256 of its bytes.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `rows` rows of `columns` to `path`, in row groups of `group_rows`: zstd at its
/// default level, min/max/null-count statistics, Parquet format 1 (polars' defaults), pages
/// encoded as `encodings` says. The key-value metadata is the `ARROW:schema` hint, then
/// `metadata` in order. Returns the file's size and SHA-256 (lowercase hex), hashed as it is
/// written: a row group is written (and hashed, on one thread) while the next is encoded.
pub fn write_columns(
    path: &Path,
    columns: &[FileColumn],
    rows: usize,
    metadata: Vec<(String, String)>,
    group_rows: usize,
    encodings: Encodings,
) -> PolarsResult<(u64, String)> {
    let field = |name: &PlSmallStr, dtype: &ArrowDataType| {
        (name.clone(), Field::new(name.clone(), dtype.clone(), true))
    };
    let schema: ArrowSchema = columns.iter().map(|c| field(&c.name, &c.dtype)).collect();
    let hint: ArrowSchema = columns.iter().map(|c| field(&c.name, &c.hint)).collect();
    let dtype_encodings: Vec<Vec<Encoding>> = schema
        .iter_values()
        .map(|f| get_dtype_encoding(&f.dtype))
        .collect();
    let options = WriteOptions {
        statistics: StatisticsOptions::default(),
        compression: COMPRESSION,
        version: Version::V1,
        data_page_size: None,
    };
    let file = Hashing {
        inner: BufWriter::new(File::create(path)?),
        hasher: Sha256::new(),
        bytes: 0,
    };
    let mut writer = FileWriter::try_new(file, schema, options)?;
    let types = writer.parquet_schema().fields().to_vec();
    let group_rows = group_rows.max(1);
    // The columns a label column takes its keys from: their uncompressed pages are kept.
    let mut keyed = vec![false; columns.len()];
    for keyed_by in columns.iter().filter_map(|c| c.keyed_by.as_ref()) {
        keyed[keyed_by.column] = true;
    }
    // Per column its leaves (one for a flat column), per leaf its compressed pages; none for a
    // column written from an earlier one's. Label columns keyed by a code column come after the
    // others, from that column's pages where they can.
    let encode = |start: usize| -> PolarsResult<Vec<Leaves>> {
        let len = group_rows.min(rows - start);
        let column = |at: usize| Encode {
            column: &columns[at],
            parquet_type: &types[at],
            encoding: &dtype_encodings[at],
            start,
            len,
            encodings,
            options,
            keep: keyed[at],
        };
        let first: Vec<(Leaves, Option<OwnPages>)> = (0..columns.len())
            .into_par_iter()
            .map(
                |at| match columns[at].same_as.is_some() || columns[at].keyed_by.is_some() {
                    true => Ok((Vec::new(), None)),
                    false => column(at).pages(),
                },
            )
            .collect::<PolarsResult<_>>()?;
        let labels: Vec<Option<Leaves>> = (0..columns.len())
            .into_par_iter()
            .map(|at| {
                let Some(keyed_by) = &columns[at].keyed_by else {
                    return Ok(None);
                };
                let own = first[keyed_by.column].1.as_ref().and_then(|(codes, data)| {
                    let ParquetType::PrimitiveType(kind) = &types[at] else {
                        return None;
                    };
                    let label = &*keyed_by.label;
                    pages::relabel(codes, data, label, kind, &types[at], options)
                });
                match own {
                    Some(own) => Ok(Some(vec![own
                        .into_iter()
                        .map(compress)
                        .collect::<PolarsResult<Vec<_>>>()?])),
                    None => column(at).pages().map(|(leaves, _)| Some(leaves)),
                }
            })
            .collect::<PolarsResult<_>>()?;
        Ok(first
            .into_iter()
            .zip(labels)
            .map(|((leaves, _), label)| label.unwrap_or(leaves))
            .collect())
    };
    let write = |writer: &mut FileWriter<_>, len: usize, leaves: &[Leaves]| {
        let group = columns
            .iter()
            .zip(leaves)
            .flat_map(|(column, own)| column.same_as.map_or(own, |earlier| &leaves[earlier]))
            .map(|pages| {
                Ok(DynStreamingIterator::new(
                    fallible_streaming_iterator::convert(pages.iter().map(Ok)),
                ))
            });
        writer.write(len as u64, DynIter::new(group))
    };
    // The row group encoded last, written while the next is encoded.
    let mut encoded: Option<(usize, Vec<Leaves>)> = None;
    for start in (0..rows).step_by(group_rows) {
        let (written, next) = rayon::join(
            || match encoded.take() {
                Some((len, leaves)) => write(&mut writer, len, &leaves),
                None => Ok(()),
            },
            || encode(start),
        );
        written?;
        encoded = Some((group_rows.min(rows - start), next?));
    }
    if let Some((len, leaves)) = encoded {
        write(&mut writer, len, &leaves)?;
    }
    let key_values = std::iter::once(schema_to_metadata_key(&hint))
        .chain(metadata.into_iter().map(|(key, value)| KeyValue {
            key,
            value: Some(value),
        }))
        .collect();
    writer.end(Some(key_values))?;
    let mut file = writer.into_inner();
    file.flush()?;
    Ok((file.bytes, format!("{:x}", file.hasher.finalize())))
}

/// One column of one row group to encode ([`write_columns`]).
struct Encode<'a, 'c> {
    column: &'a FileColumn<'c>,
    parquet_type: &'a ParquetType,
    /// polars' encoding of the column's type.
    encoding: &'a [Encoding],
    start: usize,
    len: usize,
    encodings: Encodings,
    options: WriteOptions,
    /// Whether to keep peiling's own dictionary and data page, uncompressed, for a label
    /// column keyed by this one.
    keep: bool,
}

impl Encode<'_, '_> {
    /// The column's leaves of compressed pages, and its own dictionary and data page if kept.
    fn pages(&self) -> PolarsResult<(Leaves, Option<OwnPages>)> {
        let (encodings, options) = (self.encodings, self.options);
        let array = (self.column.rows)(self.start, self.len)?;
        let own = match encodings {
            Encodings::Fast => pages::dictionary(array.as_ref(), self.parquet_type, options),
            Encodings::Polars => None,
        };
        let kept = match (&own, self.keep) {
            (Some(own), true) => match &own[..] {
                [Page::Dict(codes), Page::Data(data)] => Some((codes.clone(), data.clone())),
                _ => None,
            },
            _ => None,
        };
        // With peiling's pages, what `pages` left to polars is written PLAIN when polars would
        // only estimate its distinct values and then write it PLAIN (doubles: it keys no
        // floats) or `pages` found it mostly distinct (text).
        let plain = [Encoding::Plain];
        let encoding = match (encodings, array.dtype()) {
            (
                Encodings::Fast,
                ArrowDataType::Float64 | ArrowDataType::Float32 | ArrowDataType::Utf8View,
            ) => &plain[..],
            _ => self.encoding,
        };
        let leaves = match own {
            Some(own) => vec![DynIter::new(own.into_iter().map(Ok))],
            None => array_to_columns(array, self.parquet_type.clone(), options, encoding)?,
        };
        let leaves = leaves
            .into_iter()
            .map(|leaf| {
                leaf.map(|page| match encodings {
                    Encodings::Polars => compress(page?),
                    Encodings::Fast => compress(pages::split(page?)),
                })
                .collect::<PolarsResult<Vec<_>>>()
            })
            .collect::<PolarsResult<_>>()?;
        Ok((leaves, kept))
    }
}

#[cfg(test)]
mod tests {
    use polars::prelude::{df, DataFrame, ParquetReader, SerReader};
    use proptest::prelude::*;

    use super::*;

    fn write_and_read(frame: &DataFrame, group_rows: usize, encodings: Encodings) -> DataFrame {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("split.parquet");
        let columns: Vec<FileColumn> = frame.columns().iter().map(FileColumn::of).collect();
        let (bytes, sha256) = write_columns(
            &path,
            &columns,
            frame.height(),
            Vec::new(),
            group_rows,
            encodings,
        )
        .unwrap();
        // The size and hash are the file's.
        let file = std::fs::read(&path).unwrap();
        assert_eq!(
            (bytes, sha256),
            (file.len() as u64, crate::spec::sha256_hex(&file))
        );
        ParquetReader::new(File::open(&path).unwrap())
            .finish()
            .unwrap()
    }

    /// The statistics of a row group's column of codes count its nulls once. polars' own pages
    /// of a dictionary column give each data page the null count of the whole row group, and
    /// its keys take two pages from 262,144 rows: the file then says twice the nulls.
    #[test]
    fn a_row_group_counts_its_nulls_once() {
        let rows = ROW_GROUP_ROWS + 10_000;
        let codes: Vec<Option<i32>> = (0..rows)
            .map(|i| (i % 7 != 0).then_some((i % 5) as i32))
            .collect();
        let frame = df!["code" => &codes].unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("codes.parquet");
        let columns = [FileColumn::of(&frame.columns()[0])];
        let group = ROW_GROUP_ROWS;
        write_columns(&path, &columns, rows, Vec::new(), group, Encodings::Fast).unwrap();
        let metadata =
            polars_parquet::parquet::read::read_metadata(&mut File::open(&path).unwrap()).unwrap();
        let counted: Vec<Option<i64>> = metadata
            .row_groups
            .iter()
            .map(|g| {
                let column = &g.parquet_columns()[0];
                match column.statistics(&metadata.footer_buf).unwrap().unwrap() {
                    polars_parquet::parquet::statistics::Statistics::Int32(s) => s.null_count,
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        let nulls = |from: usize, to: usize| {
            Some(codes[from..to].iter().filter(|c| c.is_none()).count() as i64)
        };
        assert_eq!(counted, [nulls(0, group), nulls(group, rows)]);
    }

    /// Bit patterns of a float column, nulls as `None`.
    fn bits(frame: &DataFrame, name: &str) -> Vec<Option<u64>> {
        let column = frame.column(name).unwrap().f64().unwrap();
        column.iter().map(|v| v.map(f64::to_bits)).collect()
    }

    proptest! {
        /// Whatever the values (any bit pattern of a double, doubles that repeat, NaNs of either
        /// sign, text of any characters, empty text, a text the start of the one before, nulls,
        /// ids in order or not) and the row groups, the split file and the one with polars'
        /// encodings read back as the frame (and each is the size and hash its writer says).
        #[test]
        fn a_split_file_reads_back_as_written(
            rows in prop::collection::vec(
                (
                    prop::option::weighted(0.9, any::<u64>()),
                    prop::option::weighted(0.9, prop_oneof![
                        "[A-Z]{2}[0-9]{2}-[0-9]{1,8}",
                        "[ab]{0,3}",
                        ".{0,12}",
                        "[a-z]{0,40}x{0,3000}",
                    ]),
                    prop::option::weighted(0.9, -5i64..5),
                    prop::option::weighted(0.9, prop::sample::select(vec![0.5, -0.0, 7.25, f64::NAN])),
                    prop::option::weighted(0.8, prop_oneof![
                        -3i32..3,
                        Just(i32::MIN),
                        Just(i32::MAX),
                        0i32..100_000,
                    ]),
                ),
                0..700,
            ),
            group_rows in 1usize..400,
        ) {
            let frame = df![
                "weight" => rows.iter().map(|r| r.0.map(f64::from_bits)).collect::<Vec<_>>(),
                "id" => rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
                "code" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                "cell" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
                "answer" => rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            ]
            .unwrap();
            let split = write_and_read(&frame, group_rows, Encodings::Fast);
            let kept = write_and_read(&frame, group_rows, Encodings::Polars);
            for name in ["weight", "cell"] {
                prop_assert_eq!(bits(&split, name), bits(&frame, name));
                prop_assert_eq!(bits(&kept, name), bits(&frame, name));
            }
            for name in ["id", "code", "answer"] {
                prop_assert!(split.column(name).unwrap().equals_missing(frame.column(name).unwrap()));
                prop_assert!(kept.column(name).unwrap().equals_missing(frame.column(name).unwrap()));
            }
        }
    }
}
