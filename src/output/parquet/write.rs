//! Writing a Parquet file on the rayon pool.
//!
//! polars' own writer encodes the columns of a row group in parallel but compresses their
//! pages one by one as it writes them, and it takes a `DataFrame`, whose columns cannot be
//! Arrow dictionaries without polars' categorical types. Here every column of a row group is
//! encoded *and* compressed in parallel, then the row group is written in order; a column is
//! any source of Arrow arrays by row range, so the microdata's label columns are built per
//! row group as dictionaries (see `labels.rs`) and never exist as a million strings.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use polars::prelude::{Column, CompatLevel, DataFrame, PlSmallStr, PolarsResult};
use polars_arrow::array::{new_empty_array, ArrayRef};
use polars_arrow::datatypes::{ArrowDataType, ArrowSchema, Field};
use polars_parquet::write::{
    array_to_columns, compress, fallible_streaming_iterator, get_dtype_encoding,
    schema_to_metadata_key, CompressedPage, CompressionOptions, DynIter, DynStreamingIterator,
    Encoding, FileWriter, KeyValue, StatisticsOptions, Version, WriteOptions,
};
use rayon::prelude::*;

/// Rows per row group: polars' default (512²).
pub const ROW_GROUP_ROWS: usize = 512 * 512;

/// The rows `start..start + len` of a column, as one Arrow array.
type Rows<'a> = Box<dyn Fn(usize, usize) -> PolarsResult<ArrayRef> + Send + Sync + 'a>;

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
    write_columns(path, &columns, frame.height(), metadata, ROW_GROUP_ROWS)
}

/// Writes `rows` rows of `columns` to `path`, in row groups of `group_rows`: zstd at its
/// default level, min/max/null-count statistics, Parquet format 1 (polars' defaults). The
/// key-value metadata is the `ARROW:schema` hint, then `metadata` in order.
pub fn write_columns(
    path: &Path,
    columns: &[FileColumn],
    rows: usize,
    metadata: Vec<(String, String)>,
    group_rows: usize,
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
        compression: CompressionOptions::Zstd(None),
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
                            .map(|page| Ok(compress(page?, Vec::new(), options.compression)?))
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
