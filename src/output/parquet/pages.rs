//! Page encodings of peiling's own, for the microdata: faster to make than polars', and as
//! every reader reads them (pyarrow, polars, DuckDB, R `arrow`). The published tables keep
//! polars' encodings.
//!
//! - **Integer codes, labels and text with few values** ([`dictionary`]): a dictionary of the
//!   values in the row group and a key per row, as polars writes them, but the keys made in
//!   passes over the codes (a table over their range; for text, a hash per row), bit-packed in
//!   one run, and the definition levels copied from the validity bitmap. polars builds a
//!   dictionary array, then encodes keys and levels value by value, looking for runs (about
//!   9 ns a code, against about 3). The dictionary page and the statistics are polars'.
//! - **Doubles with few values** (hours of care, scores, weights per weighting cell): the
//!   same, keyed by their bits (a hash per row). polars keys no doubles: it writes them PLAIN,
//!   which zstd compresses at about 125 MB/s (to a quarter) against a few kilobytes of keys.
//! - **Labels of integer codes** ([`relabel`]): the code column's data page itself (its keys
//!   index the codes' labels as they do the codes), under a dictionary of the labels, when every
//!   code in the row group has a label of its own; no row is looked at again.
//! - **Text with mostly distinct values** (a respondent id) is written as the prefix each
//!   shares with the value before it and the rest (DELTA_BYTE_ARRAY, [`deltas`]): an id is
//!   mostly the one before it, and zstd then has a tenth of the bytes to compress. The page is
//!   made from the texts, not from polars' PLAIN page of them, and the statistics from the
//!   least and greatest text, which ids in order give without comparing (polars compares
//!   every text twice: as long as the rest of the page together).
//! - **Doubles** polars writes PLAIN, mostly distinct, are byte stream split (BYTE_STREAM_SPLIT:
//!   the first bytes of every value, then the second bytes, ...): zstd searches the bytes of
//!   distinct doubles side by side slowly (weights with four decimals at ~170 MB/s, to half
//!   their size; weights with every digit at ~500 MB/s, to 94%), and split it packs their sign
//!   and exponent bytes and stores the rest at 1–3 GB/s (to 84%). Doubles too many distinct
//!   for a dictionary that repeat in a page's first 1,024 values stay PLAIN: zstd finds the
//!   repeats, which splitting hides.

use polars_arrow::array::{Array, DictionaryArray, PrimitiveArray, Utf8ViewArray, View};
use polars_arrow::bitmap::Bitmap;
use polars_arrow::datatypes::{ArrowDataType, IntegerType};
use polars_parquet::parquet::encoding::{bitpacked, uleb128, zigzag_leb128};
use polars_parquet::parquet::metadata::Descriptor;
use polars_parquet::parquet::page::{DataPage, DataPageHeader, DataPageHeaderV1, DictPage, Page};
use polars_parquet::parquet::schema::types::PrimitiveType;
use polars_parquet::parquet::schema::Repetition;
use polars_parquet::parquet::statistics::{ParquetStatistics, PrimitiveStatistics};
use polars_parquet::parquet::CowBuffer;
use polars_parquet::write::{
    array_to_columns, Encoding, ParquetPhysicalType, ParquetType, WriteOptions,
};

/// The dictionary page and data page of a row group's column of integer codes, of text (see
/// [`texts`]), of labels (see [`labels`]) or of doubles (see [`floats`]), or `None` for
/// polars' pages. For codes: not Int32
/// or Int64, every value null, codes spanning 65,536 or more, or mostly distinct (polars' rule:
/// a dictionary when at most 512 codes, 2,048 for Int64, or fewer than 3 for every 4 values).
pub fn dictionary(
    array: &dyn Array,
    parquet_type: &ParquetType,
    options: WriteOptions,
) -> Option<Vec<Page>> {
    let ParquetType::PrimitiveType(kind) = parquet_type else {
        return None;
    };
    match array.dtype() {
        ArrowDataType::Dictionary(IntegerType::UInt32, values, _)
            if **values == ArrowDataType::Utf8View =>
        {
            labels(array.as_any().downcast_ref()?, kind, parquet_type, options)
        }
        ArrowDataType::Utf8View => {
            let array = array.as_any().downcast_ref()?;
            texts(array, kind, parquet_type, options)
                .or_else(|| deltas(array, kind, parquet_type, options))
        }
        ArrowDataType::Int32 => dictionary_of::<i32>(array.as_any().downcast_ref()?, kind, 512),
        ArrowDataType::Int64 => dictionary_of::<i64>(array.as_any().downcast_ref()?, kind, 2048),
        ArrowDataType::Float64 => {
            floats(array.as_any().downcast_ref()?, kind, parquet_type, options)
        }
        _ => None,
    }
}

/// An integer type a dictionary holds: Parquet's INT32 or INT64.
trait Code:
    polars_arrow::types::NativeType + polars_parquet::parquet::types::NativeType + Ord + Into<i64>
{
    fn of(value: i64) -> Self;
}

impl Code for i32 {
    fn of(value: i64) -> Self {
        value as i32
    }
}

impl Code for i64 {
    fn of(value: i64) -> Self {
        value
    }
}

fn dictionary_of<T: Code>(
    array: &PrimitiveArray<T>,
    kind: &PrimitiveType,
    few: usize,
) -> Option<Vec<Page>> {
    let values = array.values().as_slice();
    let validity = array.validity().filter(|bits| bits.unset_bits() > 0);
    let (mut min, mut max) = (i64::MAX, i64::MIN);
    each_valid(values, validity, |v| {
        let v: i64 = v.into();
        min = min.min(v);
        max = max.max(v);
    });
    let span = usize::try_from(max.checked_sub(min)?).ok()?;
    if span > usize::from(u16::MAX) {
        return None;
    }
    // Per code (less the least) its key, u32::MAX for a code not seen: keys in code order.
    let mut key_of = vec![u32::MAX; span + 1];
    let offset = |v: T| (v.into() - min) as usize;
    each_valid(values, validity, |v| key_of[offset(v)] = 0);
    let mut codes: Vec<T> = Vec::new();
    for (offset, key) in key_of.iter_mut().enumerate() {
        if *key == 0 {
            *key = codes.len() as u32;
            codes.push(T::of(min + offset as i64));
        }
    }
    let nulls = validity.map_or(0, Bitmap::unset_bits);
    let present = values.len() - nulls;
    if !(codes.len() <= few || 4 * codes.len() < 3 * present) {
        return None;
    }
    // Collected, not pushed: no check of the room for every key.
    let keys: Vec<u32> = match validity {
        None => values.iter().map(|&v| key_of[offset(v)]).collect(),
        Some(bits) => {
            let mut keys = Vec::with_capacity(present);
            keys.extend(bits.true_idx_iter().map(|row| key_of[offset(values[row])]));
            keys
        }
    };

    let statistics = PrimitiveStatistics::<T> {
        primitive_type: kind.clone(),
        null_count: Some(nulls as i64),
        distinct_count: None,
        min_value: Some(T::of(min)),
        max_value: Some(T::of(max)),
    };
    let plain: Vec<u8> = codes
        .iter()
        .flat_map(|code| polars_parquet::parquet::types::NativeType::to_le_bytes(code))
        .collect();
    let rows = Rows {
        count: values.len(),
        validity,
        keys: &keys,
    };
    Some(pages(
        plain,
        codes.len(),
        rows,
        kind,
        statistics.serialize(),
    ))
}

/// The keys of a row group's rows in a dictionary.
struct Rows<'a> {
    count: usize,
    /// `None` when no row is null.
    validity: Option<&'a Bitmap>,
    /// The key of each row not null.
    keys: &'a [u32],
}

/// A dictionary page of `entries` PLAIN values in `plain`, and a data page of `rows`' keys with
/// `statistics`, as polars writes them (format 1, no repetition levels).
fn pages(
    plain: Vec<u8>,
    entries: usize,
    rows: Rows,
    kind: &PrimitiveType,
    statistics: ParquetStatistics,
) -> Vec<Page> {
    let mut buffer = Vec::with_capacity(rows.count / 2);
    if kind.field_info.repetition == Repetition::Optional {
        definition_levels(rows.validity, rows.count, &mut buffer);
    }
    // polars' width: the largest key's. Every entry is some row's key (the dictionaries
    // hold only values that occur), so the largest is the last entry's.
    debug_assert_eq!(
        rows.keys.iter().max().map(|&k| k as usize + 1),
        (!rows.keys.is_empty()).then_some(entries)
    );
    let largest = match rows.keys.is_empty() {
        true => 0,
        false => entries.saturating_sub(1) as u32,
    };
    let width = u32::BITS - largest.leading_zeros();
    buffer.push(width as u8);
    bit_packed(rows.keys, width as usize, &mut buffer);
    vec![
        Page::Dict(DictPage::new(CowBuffer::Owned(plain), entries, false)),
        data_page(
            buffer,
            Encoding::RleDictionary,
            rows.count,
            kind,
            statistics,
        ),
    ]
}

/// A data page of `rows` rows (format 1, no repetition levels, definition levels in RLE) whose
/// values in `buffer` are encoded as `encoding`.
fn data_page(
    buffer: Vec<u8>,
    encoding: Encoding,
    rows: usize,
    kind: &PrimitiveType,
    statistics: ParquetStatistics,
) -> Page {
    let header = DataPageHeaderV1 {
        num_values: rows as i32,
        encoding: encoding.into(),
        definition_level_encoding: Encoding::Rle.into(),
        repetition_level_encoding: Encoding::Rle.into(),
        statistics: Some(statistics),
    };
    let descriptor = Descriptor {
        primitive_type: kind.clone(),
        max_def_level: 0,
        max_rep_level: 0,
    };
    Page::Data(DataPage::new(
        DataPageHeader::V1(header),
        CowBuffer::Owned(buffer),
        descriptor,
        rows,
    ))
}

/// The pages of a row group's label column from the pages of its column of integer codes (a
/// dictionary of the codes in order, see [`dictionary`]), or `None` when a code there has no
/// label of its own (`label` gives none, or gives another code's): the code column's data page
/// as it is (its definition levels, and its keys, which index the labels as they did the
/// codes) under a dictionary of the codes' labels in the codes' order. The dictionary page and
/// the statistics are polars' PLAIN page of those labels, with the code column's null count.
/// No row's key is looked at: a label column costs its few labels.
pub fn relabel(
    codes: &DictPage,
    data: &DataPage,
    label: &dyn Fn(i64) -> Option<String>,
    kind: &PrimitiveType,
    parquet_type: &ParquetType,
    options: WriteOptions,
) -> Option<Vec<Page>> {
    let width = match data.descriptor.primitive_type.physical_type {
        ParquetPhysicalType::Int32 => 4,
        ParquetPhysicalType::Int64 => 8,
        _ => return None,
    };
    let DataPageHeader::V1(header) = data.header() else {
        return None;
    };
    let repetition = data.descriptor.primitive_type.field_info.repetition;
    if data.encoding() != Encoding::RleDictionary || repetition != kind.field_info.repetition {
        return None;
    }
    let null_count = header.statistics.as_ref()?.null_count?;
    let labels: Vec<String> = codes
        .buffer
        .chunks_exact(width)
        .map(|bytes| match width {
            4 => i64::from(i32::from_le_bytes(bytes.try_into().expect("four bytes"))),
            _ => i64::from_le_bytes(bytes.try_into().expect("eight bytes")),
        })
        .map(label)
        .collect::<Option<_>>()?;
    let distinct: std::collections::HashSet<&str> = labels.iter().map(String::as_str).collect();
    if labels.is_empty() || distinct.len() < labels.len() {
        return None;
    }
    let entries = labels.len();
    let values = Utf8ViewArray::from_slice_values(&labels).boxed();
    let (plain, statistics) = dictionary_values(values, kind, parquet_type, options, null_count)?;
    let rows = data.num_values();
    Some(vec![
        Page::Dict(DictPage::new(CowBuffer::Owned(plain), entries, false)),
        data_page(
            data.buffer().to_vec(),
            Encoding::RleDictionary,
            rows,
            kind,
            statistics,
        ),
    ])
}

/// The pages of a row group's label column (a dictionary of the labels that occur, see
/// `labels.rs`), or `None` for polars' pages (no label occurs).
fn labels(
    array: &DictionaryArray<u32>,
    kind: &PrimitiveType,
    parquet_type: &ParquetType,
    options: WriteOptions,
) -> Option<Vec<Page>> {
    let keys = array.keys();
    let validity = keys.validity().filter(|bits| bits.unset_bits() > 0);
    let mut present = Vec::with_capacity(keys.len() - keys.null_count());
    each_valid(keys.values(), validity, |key| present.push(key));
    let rows = Rows {
        count: keys.len(),
        validity,
        keys: &present,
    };
    dictionary_pages(array.values().clone(), rows, kind, parquet_type, options)
}

/// The pages of a row group's column of text, as a dictionary of the texts in order of first
/// appearance, or `None` for polars' pages: mostly distinct (see [`first_appearance`]), or no
/// text. Texts of at most 12 bytes (codes such as `GM0363`), which their views hold whole, are
/// told apart by their views, not hashed as strings.
fn texts(
    array: &Utf8ViewArray,
    kind: &PrimitiveType,
    parquet_type: &ParquetType,
    options: WriteOptions,
) -> Option<Vec<Page>> {
    let (validity, present) = nulls(array);
    let views = array.views().as_slice();
    let (values, keys) = if cfg!(target_endian = "little") && views.iter().all(View::is_inline) {
        let (entries, keys) = match validity {
            None => first_appearance(views.iter().map(inline_key), present)?,
            Some(bits) => first_appearance(
                bits.true_idx_iter().map(|row| inline_key(&views[row])),
                present,
            )?,
        };
        let entries: Vec<String> = entries.iter().map(|&key| inline_text(key)).collect();
        (Utf8ViewArray::from_slice_values(&entries), keys)
    } else {
        let (entries, keys) = match validity {
            None => first_appearance(array.values_iter(), present)?,
            Some(bits) => first_appearance(
                array
                    .values_iter()
                    .zip(bits.iter())
                    .filter_map(|(text, valid)| valid.then_some(text)),
                present,
            )?,
        };
        (Utf8ViewArray::from_slice_values(&entries), keys)
    };
    let rows = Rows {
        count: array.len(),
        validity,
        keys: &keys,
    };
    dictionary_pages(values.boxed(), rows, kind, parquet_type, options)
}

/// The text of an inline view (at most 12 bytes) as a number on a little-endian machine: its
/// length and bytes, the bytes past the text cleared (a view need not zero them).
fn inline_key(view: &View) -> u128 {
    let used = 4 + view.length as usize;
    let mask = match used {
        16.. => u128::MAX,
        _ => (1u128 << (8 * used)) - 1,
    };
    view.as_u128() & mask
}

/// The text [`inline_key`] made `key` of.
fn inline_text(key: u128) -> String {
    let bytes = key.to_le_bytes();
    let length = u32::from_le_bytes(bytes[..4].try_into().expect("four bytes")) as usize;
    String::from_utf8_lossy(&bytes[4..4 + length]).into_owned()
}

/// The pages of a row group's column of doubles that repeat (hours, scores, weights per
/// weighting cell) as a dictionary of the values in order of first appearance, or `None` (then
/// PLAIN, or split: see [`split`]): mostly distinct (see [`first_appearance`]), or every value
/// null. Values are told apart by their bits: -0.0 and 0.0 are two entries, as are NaNs of
/// different payloads, so every value reads back bit for bit.
fn floats(
    array: &PrimitiveArray<f64>,
    kind: &PrimitiveType,
    parquet_type: &ParquetType,
    options: WriteOptions,
) -> Option<Vec<Page>> {
    let values = array.values().as_slice();
    let (validity, present) = nulls(array);
    let (entries, keys) = match validity {
        None => first_appearance(values.iter().map(|v| v.to_bits()), present)?,
        Some(bits) => first_appearance(
            bits.true_idx_iter().map(|row| values[row].to_bits()),
            present,
        )?,
    };
    let rows = Rows {
        count: values.len(),
        validity,
        keys: &keys,
    };
    let entries: Vec<f64> = entries.into_iter().map(f64::from_bits).collect();
    let values = PrimitiveArray::<f64>::from_vec(entries).boxed();
    dictionary_pages(values, rows, kind, parquet_type, options)
}

/// The distinct `values` in order of first appearance and each value's key (its entry), or
/// `None` when they are mostly distinct (polars' rule: 3 for every 4 values or more; given up
/// as soon as the first 1,024 values or more are). `present` is how many values come.
fn first_appearance<K: Copy + Eq + std::hash::Hash>(
    values: impl Iterator<Item = K>,
    present: usize,
) -> Option<(Vec<K>, Vec<u32>)> {
    let mut key_of: foldhash::HashMap<K, u32> = foldhash::HashMap::default();
    let mut entries: Vec<K> = Vec::new();
    let mut keys: Vec<u32> = Vec::with_capacity(present);
    for value in values {
        let next = entries.len() as u32;
        let key = *key_of.entry(value).or_insert(next);
        if key == next {
            entries.push(value);
            let seen = keys.len() + 1;
            if seen >= 1024 && 4 * entries.len() >= 3 * seen {
                return None;
            }
        }
        keys.push(key);
    }
    if 4 * entries.len() >= 3 * keys.len() && keys.len() > 128 {
        return None;
    }
    Some((entries, keys))
}

/// The data page of a row group's column of mostly distinct text (a respondent id) as
/// DELTA_BYTE_ARRAY (see [`delta_byte_array`]), made from the texts themselves, or `None` for
/// polars' pages (no text). The statistics are those of polars' PLAIN page of the least and
/// the greatest text, with the rows' null count: the texts' own, cut as polars cuts them. The
/// least and greatest come with the shared prefixes when the texts ascend (ids in order),
/// else from a pass of their own.
fn deltas(
    array: &Utf8ViewArray,
    kind: &PrimitiveType,
    parquet_type: &ParquetType,
    options: WriteOptions,
) -> Option<Vec<Page>> {
    let (validity, present) = nulls(array);
    let mut buffer = Vec::with_capacity(2 * present + 1024);
    if kind.field_info.repetition == Repetition::Optional {
        definition_levels(validity, array.len(), &mut buffer);
    }
    let texts = array.values_iter().map(str::as_bytes);
    let ends = match validity {
        None => delta_byte_array(texts, present, &mut buffer)?,
        Some(bits) => delta_byte_array(
            texts
                .zip(bits.iter())
                .filter_map(|(text, valid)| valid.then_some(text)),
            present,
            &mut buffer,
        )?,
    };
    let (least, greatest) = match ends.ascending {
        true => (ends.first, ends.last),
        false => {
            let texts = || array.iter().flatten().map(str::as_bytes);
            (texts().min()?, texts().max()?)
        }
    };
    let text = |bytes| std::str::from_utf8(bytes).ok();
    let mut statistics = plain_statistics(
        Utf8ViewArray::from_slice_values([text(least)?, text(greatest)?]).boxed(),
        parquet_type,
        options,
    )?;
    statistics.null_count = Some((array.len() - present) as i64);
    let page = data_page(
        buffer,
        Encoding::DeltaByteArray,
        array.len(),
        kind,
        statistics,
    );
    Some(vec![page])
}

/// The statistics of polars' PLAIN page of `values` (none null, at least one), and the page.
fn plain_page(
    values: Box<dyn Array>,
    parquet_type: &ParquetType,
    options: WriteOptions,
) -> Option<(ParquetStatistics, DataPage)> {
    let mut plain = array_to_columns(values, parquet_type.clone(), options, &[Encoding::Plain])
        .ok()?
        .pop()?;
    let page = plain.next()?.ok()?;
    let (Page::Data(page), None) = (page, plain.next()) else {
        return None;
    };
    let DataPageHeader::V1(header) = page.header() else {
        return None;
    };
    Some((header.statistics.clone()?, page))
}

/// The statistics of polars' PLAIN page of `values` (none null, at least one).
fn plain_statistics(
    values: Box<dyn Array>,
    parquet_type: &ParquetType,
    options: WriteOptions,
) -> Option<ParquetStatistics> {
    plain_page(values, parquet_type, options).map(|(statistics, _)| statistics)
}

/// The dictionary page of `values` (texts or doubles, none null) and the data page of `rows`'
/// keys into them, or `None` for polars' pages (no value). The dictionary page and the
/// statistics are polars' PLAIN page of `values` (its statistics are the column's: the same
/// values, binary ones cut to polars' length), with the rows' null count.
fn dictionary_pages(
    values: Box<dyn Array>,
    rows: Rows,
    kind: &PrimitiveType,
    parquet_type: &ParquetType,
    options: WriteOptions,
) -> Option<Vec<Page>> {
    if values.is_empty() || values.null_count() > 0 {
        return None;
    }
    let entries = values.len();
    let null_count = (rows.count - rows.keys.len()) as i64;
    let (plain, statistics) = dictionary_values(values, kind, parquet_type, options, null_count)?;
    Some(pages(plain, entries, rows, kind, statistics))
}

/// The PLAIN values of a dictionary page of `values` (none null, at least one), and the
/// statistics of a column of them with `null_count` nulls: polars' PLAIN page of `values`
/// (the same values as the column's, binary ones cut to polars' length), its definition
/// levels cut off.
fn dictionary_values(
    values: Box<dyn Array>,
    kind: &PrimitiveType,
    parquet_type: &ParquetType,
    options: WriteOptions,
    null_count: i64,
) -> Option<(Vec<u8>, ParquetStatistics)> {
    let (mut statistics, page) = plain_page(values, parquet_type, options)?;
    statistics.null_count = Some(null_count);
    let levels = match kind.field_info.repetition {
        Repetition::Optional => levels_length(page.buffer()),
        _ => 0,
    };
    Some((page.buffer()[levels..].to_vec(), statistics))
}

/// The validity of `array` when some value is null (else `None`), and how many are not.
fn nulls(array: &dyn Array) -> (Option<&Bitmap>, usize) {
    let validity = array.validity().filter(|bits| bits.unset_bits() > 0);
    (
        validity,
        array.len() - validity.map_or(0, Bitmap::unset_bits),
    )
}

/// The bytes of an optional column's definition levels at the start of a page, their 4-byte
/// length included.
fn levels_length(buffer: &[u8]) -> usize {
    4 + u32::from_le_bytes(buffer[..4].try_into().expect("four bytes")) as usize
}

/// Calls `f` with each of `values` that `validity` (`None`: all) says is not null.
fn each_valid<T: Copy>(values: &[T], validity: Option<&Bitmap>, mut f: impl FnMut(T)) {
    match validity {
        None => values.iter().for_each(|&v| f(v)),
        Some(bits) => bits.true_idx_iter().for_each(|row| f(values[row])),
    }
}

/// Appends the definition levels of `rows` rows with `validity` (`None`: none null), after
/// their length in 4 bytes: one run of ones, or the validity bitmap as one bit-packed run (its
/// bits are the levels in Parquet's order, eight to a byte from the lowest bit).
fn definition_levels(validity: Option<&Bitmap>, rows: usize, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    match validity {
        None => {
            varint((rows as u64) << 1, out);
            out.push(1);
        }
        Some(bits) => {
            let groups = rows.div_ceil(8);
            varint(((groups as u64) << 1) | 1, out);
            let (bytes, offset, _) = bits.as_slice();
            if offset == 0 {
                out.extend_from_slice(&bytes[..groups]);
                // Levels past the last row are zeros.
                if !rows.is_multiple_of(8) {
                    *out.last_mut().expect("a group") &= (1u8 << (rows % 8)) - 1;
                }
            } else {
                let mut packed = vec![0u8; groups];
                for (row, valid) in bits.iter().enumerate() {
                    packed[row / 8] |= u8::from(valid) << (row % 8);
                }
                out.extend_from_slice(&packed);
            }
        }
    }
    let length = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&length.to_le_bytes());
}

/// Appends `keys` as one run of the RLE/bit-packing hybrid at `width` bits: a run of the one
/// key 0 when `width` is 0 (one code), else every key bit-packed, eight to a group.
fn bit_packed(keys: &[u32], width: usize, out: &mut Vec<u8>) {
    if keys.is_empty() {
        return;
    }
    if width == 0 {
        varint((keys.len() as u64) << 1, out);
        return;
    }
    let groups = keys.len().div_ceil(8);
    varint(((groups as u64) << 1) | 1, out);
    let start = out.len();
    // bitpacked::encode packs 32 keys at a time.
    out.resize(start + keys.len().div_ceil(32) * 4 * width, 0);
    bitpacked::encode(keys, width, &mut out[start..]);
    out.truncate(start + groups * width);
}

/// Appends `value` as an unsigned LEB128 varint.
fn varint(value: u64, out: &mut Vec<u8>) {
    let mut bytes = [0u8; 10];
    let used = uleb128::encode(value, &mut bytes);
    out.extend_from_slice(&bytes[..used]);
}

/// `page` with its values recoded (see the module's introduction) if it holds PLAIN floats that
/// do not repeat or byte arrays; otherwise as it is. The definition levels and the statistics
/// stay as they are.
pub fn split(page: Page) -> Page {
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
        Repetition::Optional => levels_length(buffer),
        _ => 0,
    };
    let (levels, values) = buffer.split_at(levels);
    if width > 0 && repeats(values, width) {
        return Page::Data(data);
    }
    let mut recoded = Vec::with_capacity(buffer.len());
    recoded.extend_from_slice(levels);
    let encoding = if width == 0 {
        let values = plain_byte_arrays(values);
        delta_byte_array(values.iter().copied(), values.len(), &mut recoded);
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

/// The first and last of the values [`delta_byte_array`] wrote, and whether they ascend.
struct Ends<'a> {
    first: &'a [u8],
    last: &'a [u8],
    /// Each value at least the one before it, byte by byte.
    ascending: bool,
}

/// Appends `values` (`count` of them) to `out` as DELTA_BYTE_ARRAY: the lengths of the
/// prefixes they share with the value before them, the lengths of the rest of each (both
/// DELTA_BINARY_PACKED), then the rests one after another; in one pass over the values.
/// (polars' `delta_byte_array::encode` takes a value that is a prefix of the one before it,
/// `""` after `"a"`, to share all of that one, and writes a wrong file.) Returns the first and
/// last value and whether they ascend (told by the first byte after the prefix each shares
/// with the one before); `None` for no value.
fn delta_byte_array<'a>(
    values: impl Iterator<Item = &'a [u8]>,
    count: usize,
    out: &mut Vec<u8>,
) -> Option<Ends<'a>> {
    let mut shared: Vec<i64> = Vec::with_capacity(count);
    let mut lengths: Vec<i64> = Vec::with_capacity(count);
    let mut rests: Vec<u8> = Vec::new();
    let mut ends: Option<Ends> = None;
    for value in values {
        let previous = ends.as_ref().map_or(&b""[..], |ends| ends.last);
        let length = shared_prefix(value, previous);
        // Past the shared prefix: `value` ends (it is the start of `previous`: less, or equal
        // when both end), `previous` ends (greater), or a byte decides.
        let ascends = match (value.get(length), previous.get(length)) {
            (None, next) => next.is_none(),
            (Some(_), None) => true,
            (Some(byte), Some(before)) => byte > before,
        };
        shared.push(length as i64);
        lengths.push((value.len() - length) as i64);
        rests.extend_from_slice(&value[length..]);
        match &mut ends {
            None => {
                ends = Some(Ends {
                    first: value,
                    last: value,
                    ascending: true,
                })
            }
            Some(ends) => {
                ends.last = value;
                ends.ascending &= ascends;
            }
        }
    }
    delta_binary_packed(&shared, out);
    delta_binary_packed(&lengths, out);
    out.extend_from_slice(&rests);
    ends
}

/// The length of the longest prefix `a` and `b` share, compared eight bytes at a time.
fn shared_prefix(a: &[u8], b: &[u8]) -> usize {
    let mut length = 0;
    for (a, b) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let word = |bytes: &[u8]| u64::from_le_bytes(bytes.try_into().expect("eight bytes"));
        let differ = word(a) ^ word(b);
        if differ != 0 {
            return length + differ.trailing_zeros() as usize / 8;
        }
        length += 8;
    }
    length
        + a[length..]
            .iter()
            .zip(&b[length..])
            .take_while(|(a, b)| a == b)
            .count()
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

#[cfg(test)]
mod tests {
    use polars::prelude::{Column, PolarsResult};
    use polars_arrow::datatypes::{ArrowSchema, Field};
    use polars_parquet::write::{
        array_to_columns, CompressionOptions, FileWriter, StatisticsOptions, Version, WriteOptions,
    };

    use super::super::write::FileColumn;
    use super::*;

    /// The Parquet type of a nullable column of `dtype`, and polars' write options.
    fn parquet_type(dtype: &ArrowDataType) -> (ParquetType, WriteOptions) {
        let field = Field::new("x".into(), dtype.clone(), true);
        let schema: ArrowSchema = std::iter::once(("x".into(), field)).collect();
        let options = WriteOptions {
            statistics: StatisticsOptions::default(),
            compression: CompressionOptions::Zstd(None),
            version: Version::V1,
            data_page_size: None,
        };
        let writer = FileWriter::try_new(Vec::new(), schema, options).unwrap();
        (writer.parquet_schema().fields()[0].clone(), options)
    }

    /// The pages of `column`'s rows as polars encodes them with `encoding`.
    fn pages_of(column: &Column, encoding: Encoding) -> Vec<Page> {
        let file = FileColumn::of(column);
        let (parquet_type, options) = self::parquet_type(&file.dtype);
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

        // polars keys no doubles, even ones that repeat: `write_columns` asks it for PLAIN.
        let asked = pages_of(&repeating, Encoding::RleDictionary).remove(0);
        assert_eq!(data_page(&asked).encoding(), Encoding::Plain);
        for kept in [integers, repeating] {
            let page = split(pages_of(&kept, Encoding::Plain).remove(0));
            assert_eq!(data_page(&page).encoding(), Encoding::Plain);
        }
    }

    /// A column of mostly distinct text gets one DELTA_BYTE_ARRAY page of its texts with the
    /// definition levels and statistics of polars' PLAIN page (a text over 64 bytes cut as
    /// polars cuts it), in order or not, with nulls, an empty text and a text that is the start
    /// of the one before; all null is left to polars.
    #[test]
    fn distinct_texts_get_delta_pages_with_polars_statistics() {
        let ids = |from: usize, to: usize| -> Vec<Option<String>> {
            (from..to).map(|i| Some(format!("GM22-{i:08}"))).collect()
        };
        let mut shuffled = ids(0, 2000);
        // Neither the least nor the greatest first or last.
        shuffled.swap(0, 1000);
        shuffled.swap(1999, 3);
        let mut gaps = ids(0, 2000);
        gaps[7] = None;
        gaps[8] = Some(String::new());
        gaps[9] = Some("GM22".into());
        gaps[1999] = Some(format!("GM22-{}", "ë".repeat(40)));
        gaps[0] = None;
        let mut descending = ids(0, 2000);
        descending.reverse();
        for (name, texts) in [
            ("ascending", ids(0, 2000)),
            ("shuffled", shuffled),
            ("gaps", gaps),
            ("descending", descending),
        ] {
            let column = Column::new(name.into(), texts.clone());
            let ours = own_pages(&column).expect("a page");
            let [page] = &ours[..] else {
                panic!("one page")
            };
            let page = data_page(page);
            assert_eq!(page.encoding(), Encoding::DeltaByteArray, "{name}");
            let plain = pages_of(&column, Encoding::Plain);
            let plain = data_page(&plain[0]);
            assert_eq!(
                statistics(&ours[0]),
                statistics(&pages_of(&column, Encoding::Plain)[0]),
                "{name}"
            );
            // The same definition levels (ours a bit-packed bitmap, polars' in runs).
            let decode_levels = |buffer: &[u8]| {
                let length = u32::from_le_bytes(buffer[..4].try_into().unwrap()) as usize;
                let levels = polars_parquet::parquet::encoding::hybrid_rle::HybridRleDecoder::new(
                    &buffer[4..4 + length],
                    1,
                    texts.len(),
                );
                (levels.collect().unwrap(), 4 + length)
            };
            let (our_levels, levels) = decode_levels(page.buffer());
            assert_eq!(our_levels, decode_levels(plain.buffer()).0, "{name}");
            assert_eq!(page.num_values(), texts.len());
            let decoded: Vec<Vec<u8>> =
                polars_parquet::parquet::encoding::delta_byte_array::Decoder::try_new(
                    &page.buffer()[levels..],
                )
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let expected: Vec<Vec<u8>> = texts
                .iter()
                .flatten()
                .map(|t| t.as_bytes().to_vec())
                .collect();
            assert_eq!(decoded, expected, "{name}");
        }
        assert!(own_pages(&Column::new("null".into(), [None::<&str>; 3])).is_none());
    }

    /// `column`'s pages as peiling makes them, if it does.
    fn own_pages(column: &Column) -> Option<Vec<Page>> {
        let file = FileColumn::of(column);
        let (parquet_type, options) = self::parquet_type(&file.dtype);
        let array = (file.rows)(0, column.len()).unwrap();
        dictionary(array.as_ref(), &parquet_type, options)
    }

    fn statistics(page: &Page) -> Option<ParquetStatistics> {
        let DataPageHeader::V1(header) = data_page(page).header() else {
            panic!("format 1")
        };
        header.statistics.clone()
    }

    /// A column of codes or texts gets the dictionary page polars gives it (codes in order,
    /// texts in order of first appearance) and a data page with polars' statistics (a text over
    /// 64 bytes cut as polars cuts it) and count, whatever its nulls; codes spanning 65,536 or
    /// more, mostly distinct codes or texts, or all null are left to polars.
    #[test]
    fn codes_get_polars_dictionary_and_statistics() {
        let columns = [
            Column::new(
                "a".into(),
                [Some(3i32), None, Some(1), Some(3), Some(7), None],
            ),
            Column::new(
                "b".into(),
                (0..1000).map(|i| (i % 5) as i64).collect::<Vec<_>>(),
            ),
            Column::new("c".into(), [Some(-4i32); 20]),
            Column::new(
                "gemeente".into(),
                (0..3000)
                    .map(|i| (i % 11 != 0).then(|| format!("GM{:04}", (i * 7919) % 342)))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "long".into(),
                [
                    Some("ja".to_string()),
                    None,
                    Some("x".repeat(100)),
                    Some("ja".into()),
                ],
            ),
            Column::new(
                "d".into(),
                (0..3000).map(|i| i % 600 - 300).collect::<Vec<_>>(),
            ),
            // Texts a view holds whole, of 0 to 12 bytes.
            Column::new(
                "short".into(),
                (0..3000)
                    .map(|i| (i % 7 != 3).then(|| &"GM0363-abcde"[..(i * 5) % 13]))
                    .collect::<Vec<_>>(),
            ),
        ];
        for column in &columns {
            let ours = own_pages(column).expect("a dictionary");
            let theirs = pages_of(column, Encoding::RleDictionary);
            let (Page::Dict(our_codes), Page::Dict(their_codes)) = (&ours[0], &theirs[0]) else {
                panic!("a dictionary page first")
            };
            assert_eq!(&our_codes.buffer[..], &their_codes.buffer[..]);
            assert_eq!(our_codes.num_values, their_codes.num_values);
            assert_eq!(statistics(&ours[1]), statistics(&theirs[1]));
            assert_eq!(
                data_page(&ours[1]).num_values(),
                data_page(&theirs[1]).num_values()
            );
        }
        let left = [
            Column::new("span".into(), [0i32, 70_000, 0, 70_000]),
            Column::new("distinct".into(), (0..1000).collect::<Vec<i32>>()),
            Column::new("null".into(), [None::<i32>, None]),
            Column::new("no text".into(), [None::<&str>, None]),
        ];
        for column in &left {
            assert!(own_pages(column).is_none(), "{}", column.name());
        }
    }

    /// A column of doubles that repeat gets a dictionary of its values by their bits (-0.0 and
    /// 0.0 apart, NaN kept) in order of first appearance, and the statistics of polars' PLAIN
    /// page of the column; mostly distinct doubles, or all null, are left to polars.
    #[test]
    fn repeating_doubles_get_a_dictionary_with_polars_statistics() {
        let cells = [
            Some(2.5),
            None,
            Some(-0.0),
            Some(0.0),
            Some(f64::NAN),
            Some(-7.25),
        ];
        for (name, cycle) in [("nulls", 0usize), ("no nulls", 1)] {
            let values: Vec<Option<f64>> = (0..600)
                .map(|i| {
                    cells[(i * 5 + cycle) % cells.len()]
                        .or(Some(1.0))
                        .filter(|_| cycle == 1 || i % 6 != 1)
                })
                .collect();
            let column = Column::new(name.into(), values.clone());
            let ours = own_pages(&column).expect("a dictionary");
            let Page::Dict(entries) = &ours[0] else {
                panic!("a dictionary page first")
            };
            let decoded: Vec<u64> = entries
                .buffer
                .chunks_exact(8)
                .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
                .collect();
            let mut expected: Vec<u64> = Vec::new();
            for bits in values.iter().flatten().map(|v| v.to_bits()) {
                if !expected.contains(&bits) {
                    expected.push(bits);
                }
            }
            assert_eq!(decoded, expected, "{name}");
            assert_eq!(entries.num_values, expected.len());
            let plain = pages_of(&column, Encoding::Plain).remove(0);
            assert_eq!(statistics(&ours[1]), statistics(&plain), "{name}");
            assert_eq!(data_page(&ours[1]).encoding(), Encoding::RleDictionary);
            assert_eq!(data_page(&ours[1]).num_values(), 600);
        }
        let distinct = Column::new(
            "w".into(),
            (0..2000).map(|i| i as f64 / 7.0).collect::<Vec<_>>(),
        );
        let null = Column::new("null".into(), [None::<f64>, None]);
        for column in [distinct, null] {
            assert!(own_pages(&column).is_none(), "{}", column.name());
        }
    }

    /// A label column made from its code column's pages: the code column's data page as it is,
    /// under a dictionary of the codes' labels in the codes' order, with the statistics of
    /// polars' PLAIN page of the labels row by row; none when a code has no label or shares
    /// another's.
    #[test]
    fn label_pages_are_the_code_pages_under_a_dictionary_of_labels() {
        let codes: Vec<Option<i32>> = (0..2000)
            .map(|i| (i % 9 != 4).then_some([5, 2, 9, 2, 7][i % 5]))
            .collect();
        let label = |code: i64| -> Option<String> {
            [(2, "twee"), (5, "vijf"), (7, "zeven ë"), (9, "negen")]
                .iter()
                .find(|(c, _)| *c == code)
                .map(|(_, l)| l.to_string())
        };
        let column = Column::new("c".into(), codes.clone());
        let ours = own_pages(&column).expect("a dictionary");
        let [Page::Dict(dict), Page::Data(data)] = &ours[..] else {
            panic!("a dictionary and a data page")
        };
        let labels: Vec<Option<String>> = codes
            .iter()
            .map(|c| c.and_then(|c| label(c.into())))
            .collect();
        let text = Column::new("c_label".into(), labels);
        let (parquet_type, options) = self::parquet_type(&ArrowDataType::Utf8View);
        let ParquetType::PrimitiveType(kind) = &parquet_type else {
            panic!("a primitive type")
        };
        let pages = relabel(dict, data, &label, kind, &parquet_type, options).expect("pages");
        let [Page::Dict(entries), labelled] = &pages[..] else {
            panic!("a dictionary page first")
        };
        assert_eq!(data_page(labelled).buffer(), data.buffer());
        assert_eq!(data_page(labelled).encoding(), Encoding::RleDictionary);
        assert_eq!(
            statistics(labelled),
            statistics(&pages_of(&text, Encoding::Plain)[0])
        );
        let plain = pages_of(
            &Column::new("l".into(), ["twee", "vijf", "zeven ë", "negen"]),
            Encoding::Plain,
        );
        let levels = levels_length(data_page(&plain[0]).buffer());
        assert_eq!(
            &entries.buffer[..],
            &data_page(&plain[0]).buffer()[levels..]
        );
        assert_eq!(entries.num_values, 4);

        let unlabelled = |code: i64| (code != 9).then(|| label(code)).flatten();
        assert!(relabel(dict, data, &unlabelled, kind, &parquet_type, options).is_none());
        let shared = |code: i64| label(code).map(|l| if code == 7 { "twee".into() } else { l });
        assert!(relabel(dict, data, &shared, kind, &parquet_type, options).is_none());
    }

    /// A label column gets polars' dictionary page (the labels that occur, in key order) and
    /// statistics (a label over 64 bytes cut as polars cuts it) and a data page of as many
    /// rows; one with no label is left to polars.
    #[test]
    fn labels_get_polars_dictionary_and_statistics() {
        let long = format!("zeer zwaar belast {}", "ë".repeat(40));
        let labels = polars_arrow::array::Utf8ViewArray::from_slice_values(["man", &long, "vrouw"]);
        let keys = PrimitiveArray::new(
            ArrowDataType::UInt32,
            vec![2u32, 0, 0, 1, 2, 0, 0, 0, 1].into(),
            Some(
                [true, true, false, true, true, true, false, true, true]
                    .into_iter()
                    .collect(),
            ),
        );
        let dtype = ArrowDataType::Dictionary(
            IntegerType::UInt32,
            Box::new(ArrowDataType::Utf8View),
            false,
        );
        let array = DictionaryArray::try_new(dtype.clone(), keys, Box::new(labels)).unwrap();
        let (parquet_type, options) = self::parquet_type(&dtype);
        let ours = dictionary(&array, &parquet_type, options).expect("a dictionary");
        let theirs: Vec<Page> = array_to_columns(
            array.to_boxed(),
            parquet_type.clone(),
            options,
            &[Encoding::RleDictionary],
        )
        .unwrap()
        .into_iter()
        .flatten()
        .collect::<PolarsResult<_>>()
        .unwrap();
        let (Page::Dict(our_labels), Page::Dict(their_labels)) = (&ours[0], &theirs[0]) else {
            panic!("a dictionary page first")
        };
        assert_eq!(&our_labels.buffer[..], &their_labels.buffer[..]);
        assert_eq!(our_labels.num_values, 3);
        let our_statistics = statistics(&ours[1]);
        assert_eq!(our_statistics, statistics(&theirs[1]));
        let max = our_statistics.unwrap().max_value.unwrap();
        assert!(max.len() <= 64 && max.starts_with(b"zeer zwaar"), "{max:?}");
        assert_eq!(data_page(&ours[1]).num_values(), 9);

        let none = DictionaryArray::try_new(
            dtype,
            PrimitiveArray::new(
                ArrowDataType::UInt32,
                vec![0u32, 0].into(),
                Some([false, false].into_iter().collect()),
            ),
            Box::new(polars_arrow::array::Utf8ViewArray::from_slice_values(
                Vec::<&str>::new(),
            )),
        )
        .unwrap();
        assert!(dictionary(&none, &parquet_type, options).is_none());
    }
}
