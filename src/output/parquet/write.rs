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
use polars_arrow::array::{new_empty_array, ArrayRef};
use polars_arrow::datatypes::{ArrowDataType, ArrowSchema, Field};
use polars_parquet::parquet::encoding::{bitpacked, uleb128, zigzag_leb128};
use polars_parquet::parquet::page::{CompressedDictPage, DataPage, DataPageHeader, DictPage, Page};
use polars_parquet::parquet::schema::Repetition;
use polars_parquet::parquet::CowBuffer;
use polars_parquet::write::{
    array_to_columns, fallible_streaming_iterator, get_dtype_encoding, schema_to_metadata_key,
    CompressedDataPage, CompressedPage, CompressionOptions, DynIter, DynStreamingIterator,
    Encoding, FileWriter, KeyValue, ParquetPhysicalType, StatisticsOptions, Version, WriteOptions,
};
use rayon::prelude::*;

/// Rows per row group: polars' default (512²).
pub const ROW_GROUP_ROWS: usize = 512 * 512;

/// The rows `start..start + len` of a column, as one Arrow array.
type Rows<'a> = Box<dyn Fn(usize, usize) -> PolarsResult<ArrayRef> + Send + Sync + 'a>;

/// How the values of a page that polars encodes PLAIN (a column it finds not worth a
/// dictionary: most values distinct) are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainPages {
    /// As polars writes them: the published tables, which any Parquet reader must open.
    Kept,
    /// Byte arrays as the prefix each shares with the value before it and the rest
    /// (DELTA_BYTE_ARRAY): a respondent id is mostly the one before it, and zstd then has a
    /// tenth of the bytes to compress. Floating-point values mostly distinct byte stream split
    /// (BYTE_STREAM_SPLIT: the first bytes of every value, then the second bytes, ...): zstd
    /// searches the bytes of distinct doubles side by side slowly (weights with four decimals
    /// at ~170 MB/s, to half their size; weights with every digit at ~500 MB/s, to 94%), and
    /// split it packs their sign and exponent bytes and stores the rest at 1–3 GB/s (to 84%).
    /// Floats that repeat (weights per weighting cell, scores) stay PLAIN: zstd finds the
    /// repeats (to 15–20%), which splitting hides. The microdata: pyarrow, polars, DuckDB and R
    /// `arrow` read both encodings.
    Split,
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

/// `page` with its values split (see [`PlainPages::Split`]) if it holds PLAIN floats or byte
/// arrays; otherwise as it is. The definition levels and the statistics stay as they are.
fn split(page: Page) -> Page {
    let Page::Data(data) = page else {
        return page;
    };
    let (DataPageHeader::V1(header), Encoding::Plain) = (data.header(), data.encoding()) else {
        return Page::Data(data);
    };
    let kind = &data.descriptor.primitive_type;
    let width = match kind.physical_type {
        ParquetPhysicalType::Double => 8,
        ParquetPhysicalType::Float => 4,
        ParquetPhysicalType::ByteArray => 0,
        _ => return Page::Data(data),
    };
    let buffer = data.buffer();
    // A page of an optional column starts with its definition levels, after their length.
    let levels = match kind.field_info.repetition {
        Repetition::Optional => {
            4 + u32::from_le_bytes(buffer[..4].try_into().expect("four bytes")) as usize
        }
        _ => 0,
    };
    let (levels, values) = buffer.split_at(levels);
    if width > 0 && repeats(values, width) {
        return Page::Data(data);
    }
    let mut recoded = Vec::with_capacity(buffer.len());
    recoded.extend_from_slice(levels);
    let encoding = if width == 0 {
        delta_byte_array(&plain_byte_arrays(values), &mut recoded);
        Encoding::DeltaByteArray
    } else {
        split_streams(values, width, &mut recoded);
        Encoding::ByteStreamSplit
    };
    let mut header = header.clone();
    header.encoding = encoding.into();
    Page::Data(DataPage::new(
        DataPageHeader::V1(header),
        CowBuffer::Owned(recoded),
        data.descriptor.clone(),
        data.num_rows.expect("a written page knows its rows"),
    ))
}

/// Whether the first 1,024 of `values` (of `width` bytes each) hold each value twice on average
/// or more: floats that zstd compresses well as they are.
fn repeats(values: &[u8], width: usize) -> bool {
    let mut first: Vec<&[u8]> = values.chunks_exact(width).take(1024).collect();
    let count = first.len();
    first.sort_unstable();
    first.dedup();
    2 * first.len() <= count
}

/// The values of PLAIN byte arrays: each a 4-byte little-endian length, then its bytes.
fn plain_byte_arrays(mut values: &[u8]) -> Vec<&[u8]> {
    let mut arrays = Vec::new();
    while let Some((length, rest)) = values.split_first_chunk::<4>() {
        let (array, rest) = rest.split_at(u32::from_le_bytes(*length) as usize);
        arrays.push(array);
        values = rest;
    }
    arrays
}

/// Appends `values` to `out` as DELTA_BYTE_ARRAY: the lengths of the prefixes they share with
/// the value before them, the lengths of the rest of each (both DELTA_BINARY_PACKED), then the
/// rests one after another. (polars' `delta_byte_array::encode` takes a value that is a prefix
/// of the one before it, `""` after `"a"`, to share all of that one, and writes a wrong file.)
fn delta_byte_array(values: &[&[u8]], out: &mut Vec<u8>) {
    let mut previous: &[u8] = b"";
    let shared: Vec<i64> = values
        .iter()
        .map(|&value| {
            let length = value
                .iter()
                .zip(previous)
                .take_while(|(a, b)| a == b)
                .count();
            previous = value;
            length as i64
        })
        .collect();
    delta_binary_packed(&shared, out);
    let rests: Vec<&[u8]> = values
        .iter()
        .zip(&shared)
        .map(|(value, &length)| &value[length as usize..])
        .collect();
    let lengths: Vec<i64> = rests.iter().map(|rest| rest.len() as i64).collect();
    delta_binary_packed(&lengths, out);
    for rest in rests {
        out.extend_from_slice(rest);
    }
}

/// Appends `values` to `out` as DELTA_BINARY_PACKED: a header (128 values a block, one
/// miniblock a block, the count, the first value), then per block of 128 differences between
/// neighbours their least and, bit-packed at the width the largest needs, each less that (the
/// last block's miniblock padded to 128).
fn delta_binary_packed(values: &[i64], out: &mut Vec<u8>) {
    const BLOCK: usize = 128;
    let mut leb = [0u8; 10];
    for header in [BLOCK as u64, 1, values.len() as u64] {
        let used = uleb128::encode(header, &mut leb);
        out.extend_from_slice(&leb[..used]);
    }
    let zigzag = |out: &mut Vec<u8>, value: i64| {
        let (bytes, used) = zigzag_leb128::encode(value);
        out.extend_from_slice(&bytes[..used]);
    };
    zigzag(out, values.first().copied().unwrap_or(0));
    let mut packed = [0u64; BLOCK];
    for (at, block) in values
        .get(1..)
        .unwrap_or_default()
        .chunks(BLOCK)
        .enumerate()
    {
        // The block's values and the ones before them.
        let before = &values[at * BLOCK..];
        let deltas = block
            .iter()
            .zip(before)
            .map(|(value, before)| value.wrapping_sub(*before));
        let least = deltas.clone().min().expect("a block has a value");
        packed.fill(0);
        for (slot, delta) in packed.iter_mut().zip(deltas) {
            *slot = delta.wrapping_sub(least) as u64;
        }
        let width = 64 - packed.iter().max().expect("128 values").leading_zeros() as usize;
        zigzag(out, least);
        out.push(width as u8);
        if width > 0 {
            let start = out.len();
            out.resize(start + BLOCK * width / 8, 0);
            bitpacked::encode(&packed, width, &mut out[start..]);
        }
    }
}

/// Appends to `out` the bytes of `values` (of `width` bytes each) as `width` streams: the first
/// byte of every value, then the second, ...
fn split_streams(values: &[u8], width: usize, out: &mut Vec<u8>) {
    let count = values.len() / width;
    let start = out.len();
    out.resize(start + values.len(), 0);
    let streams = &mut out[start..];
    for (i, value) in values.chunks_exact(width).enumerate() {
        for (byte, &b) in value.iter().enumerate() {
            streams[byte * count + i] = b;
        }
    }
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
        PlainPages::Kept,
    )
}

/// Writes `rows` rows of `columns` to `path`, in row groups of `group_rows`: zstd at its
/// default level, min/max/null-count statistics, Parquet format 1 (polars' defaults), the
/// values of PLAIN pages as `plain` says. The key-value metadata is the `ARROW:schema` hint,
/// then `metadata` in order.
pub fn write_columns(
    path: &Path,
    columns: &[FileColumn],
    rows: usize,
    metadata: Vec<(String, String)>,
    group_rows: usize,
    plain: PlainPages,
) -> PolarsResult<()> {
    let field = |name: &PlSmallStr, dtype: &ArrowDataType| {
        (name.clone(), Field::new(name.clone(), dtype.clone(), true))
    };
    let schema: ArrowSchema = columns.iter().map(|c| field(&c.name, &c.dtype)).collect();
    let hint: ArrowSchema = columns.iter().map(|c| field(&c.name, &c.hint)).collect();
    let encodings: Vec<Vec<Encoding>> = schema
        .iter_values()
        .map(|f| get_dtype_encoding(&f.dtype))
        .collect();
    let options = WriteOptions {
        statistics: StatisticsOptions::default(),
        compression: COMPRESSION,
        version: Version::V1,
        data_page_size: None,
    };
    let mut writer = FileWriter::try_new(BufWriter::new(File::create(path)?), schema, options)?;
    let types = writer.parquet_schema().fields().to_vec();
    let group_rows = group_rows.max(1);
    for start in (0..rows).step_by(group_rows) {
        let len = group_rows.min(rows - start);
        // Per column its leaves (one for a flat column), per leaf its compressed pages; none for
        // a column written from an earlier one's.
        let leaves: Vec<Vec<Vec<CompressedPage>>> = columns
            .par_iter()
            .zip(&types)
            .zip(&encodings)
            .map(|((column, parquet_type), encoding)| {
                if column.same_as.is_some() {
                    return Ok(Vec::new());
                }
                let array = (column.rows)(start, len)?;
                array_to_columns(array, parquet_type.clone(), options, encoding)?
                    .into_iter()
                    .map(|pages| {
                        pages
                            .map(|page| match plain {
                                PlainPages::Kept => compress(page?),
                                PlainPages::Split => compress(split(page?)),
                            })
                            .collect::<PolarsResult<Vec<_>>>()
                    })
                    .collect()
            })
            .collect::<PolarsResult<_>>()?;
        let group = columns
            .iter()
            .zip(&leaves)
            .flat_map(|(column, own)| column.same_as.map_or(own, |earlier| &leaves[earlier]))
            .map(|pages| {
                Ok(DynStreamingIterator::new(
                    fallible_streaming_iterator::convert(pages.iter().map(Ok)),
                ))
            });
        writer.write(len as u64, DynIter::new(group))?;
    }
    let key_values = std::iter::once(schema_to_metadata_key(&hint))
        .chain(metadata.into_iter().map(|(key, value)| KeyValue {
            key,
            value: Some(value),
        }))
        .collect();
    writer.end(Some(key_values))?;
    writer.into_inner().flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use polars::prelude::{df, DataFrame, ParquetReader, SerReader};
    use proptest::prelude::*;

    use super::*;

    /// The pages of `column`'s first `len` rows as polars encodes them with `encoding`.
    fn pages_of(column: &Column, encoding: Encoding) -> Vec<Page> {
        let file = FileColumn::of(column);
        let schema: ArrowSchema = std::iter::once((
            file.name.clone(),
            Field::new(file.name.clone(), file.dtype.clone(), true),
        ))
        .collect();
        let options = WriteOptions {
            statistics: StatisticsOptions::default(),
            compression: COMPRESSION,
            version: Version::V1,
            data_page_size: None,
        };
        let writer = FileWriter::try_new(Vec::new(), schema, options).unwrap();
        let parquet_type = writer.parquet_schema().fields()[0].clone();
        let array = (file.rows)(0, column.len()).unwrap();
        array_to_columns(array, parquet_type, options, &[encoding])
            .unwrap()
            .into_iter()
            .flatten()
            .collect::<PolarsResult<_>>()
            .unwrap()
    }

    fn data_page(page: &Page) -> &DataPage {
        match page {
            Page::Data(data) => data,
            Page::Dict(_) => panic!("a dictionary page"),
        }
    }

    /// A PLAIN page of distinct doubles becomes BYTE_STREAM_SPLIT, of strings DELTA_BYTE_ARRAY,
    /// with the same definition levels and statistics, and values polars' own decoders give
    /// back; a page of integers, or of doubles that repeat, stays PLAIN.
    #[test]
    fn plain_pages_of_floats_and_byte_arrays_are_split() {
        let doubles = Column::new(
            "x".into(),
            [
                Some(1.5),
                None,
                Some(-0.0),
                Some(f64::NAN),
                Some(1e300),
                None,
            ],
        );
        let texts = Column::new(
            "id".into(),
            [
                Some("GM22-0001"),
                Some("GM22-0002"),
                None,
                Some(""),
                Some("GM22-0010"),
                Some("GM22"),
            ],
        );
        let integers = Column::new("n".into(), [Some(1i64), None, Some(3)]);
        let repeating = Column::new("w".into(), [1.5, 2.25, 1.5, 2.25, 1.5, 1.5]);

        let plain = pages_of(&doubles, Encoding::Plain).remove(0);
        let split_page = split(pages_of(&doubles, Encoding::Plain).remove(0));
        let (before, after) = (data_page(&plain), data_page(&split_page));
        assert_eq!(after.encoding(), Encoding::ByteStreamSplit);
        let DataPageHeader::V1(header) = after.header() else {
            panic!("format 1")
        };
        let DataPageHeader::V1(header_before) = before.header() else {
            panic!("format 1")
        };
        assert_eq!(header.statistics, header_before.statistics);
        let levels = 4 + u32::from_le_bytes(before.buffer()[..4].try_into().unwrap()) as usize;
        assert_eq!(after.buffer()[..levels], before.buffer()[..levels]);
        let mut decoder = polars_parquet::parquet::encoding::byte_stream_split::Decoder::try_new(
            &after.buffer()[levels..],
            8,
        )
        .unwrap();
        let decoded: Vec<u64> = decoder
            .iter_converted(|bytes| u64::from_le_bytes(bytes.try_into().unwrap()))
            .collect();
        let expected: Vec<u64> = [1.5, -0.0, f64::NAN, 1e300].map(f64::to_bits).to_vec();
        assert_eq!(decoded, expected);

        let after = split(pages_of(&texts, Encoding::Plain).remove(0));
        let after = data_page(&after);
        assert_eq!(after.encoding(), Encoding::DeltaByteArray);
        let levels = 4 + u32::from_le_bytes(after.buffer()[..4].try_into().unwrap()) as usize;
        let decoded: Vec<Vec<u8>> =
            polars_parquet::parquet::encoding::delta_byte_array::Decoder::try_new(
                &after.buffer()[levels..],
            )
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let expected: Vec<&[u8]> = vec![b"GM22-0001", b"GM22-0002", b"", b"GM22-0010", b"GM22"];
        assert_eq!(decoded, expected);

        for kept in [integers, repeating] {
            let page = split(pages_of(&kept, Encoding::Plain).remove(0));
            assert_eq!(data_page(&page).encoding(), Encoding::Plain);
        }
    }

    fn write_and_read(frame: &DataFrame, group_rows: usize, plain: PlainPages) -> DataFrame {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("split.parquet");
        let columns: Vec<FileColumn> = frame.columns().iter().map(FileColumn::of).collect();
        write_columns(
            &path,
            &columns,
            frame.height(),
            Vec::new(),
            group_rows,
            plain,
        )
        .unwrap();
        ParquetReader::new(File::open(&path).unwrap())
            .finish()
            .unwrap()
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
        /// encodings read back as the frame.
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
            ]
            .unwrap();
            let split = write_and_read(&frame, group_rows, PlainPages::Split);
            let kept = write_and_read(&frame, group_rows, PlainPages::Kept);
            for name in ["weight", "cell"] {
                prop_assert_eq!(bits(&split, name), bits(&frame, name));
                prop_assert_eq!(bits(&kept, name), bits(&frame, name));
            }
            for name in ["id", "code"] {
                prop_assert!(split.column(name).unwrap().equals_missing(frame.column(name).unwrap()));
                prop_assert!(kept.column(name).unwrap().equals_missing(frame.column(name).unwrap()));
            }
        }
    }
}
