//! The levels of a column, as R's factor levels: strata, PSUs and segments are handled as
//! dense `u32` indices into a sorted list of distinct keys, so estimation never hashes or
//! compares strings in its inner loop and results come out in a fixed order.

use std::fmt;

use polars::prelude::*;
use polars_arrow::array::{Array, PrimitiveArray, View};

/// A distinct value of a coding column. Integers sort numerically, strings lexically.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    Int(i64),
    Str(String),
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(v) => write!(f, "{v}"),
            Key::Str(v) => f.write_str(v),
        }
    }
}

impl Key {
    /// The schema code this key stands for, to look up a value label.
    pub fn code(&self) -> crate::spec::Code {
        match self {
            Key::Int(v) => crate::spec::Code::Int(*v),
            Key::Str(v) => crate::spec::Code::Str(v.clone()),
        }
    }
}

/// The code of a null value in [`Coded::codes`] (and of a row in no segment, in the
/// segment codes built from them): no key has it, as no column has 2³² − 1 distinct values.
pub const NULL: u32 = u32::MAX;

/// Codes per row ([`NULL`] for null) and the distinct keys in sorted order.
#[derive(Debug, Clone, PartialEq)]
pub struct Coded {
    pub codes: Vec<u32>,
    pub keys: Vec<Key>,
}

/// Encodes a column: integer columns (and float columns holding whole numbers) by value,
/// anything else by its text. One hashing pass over the rows, then a sort of the distinct keys.
pub fn encode(column: &Column) -> PolarsResult<Coded> {
    let dtype = column.dtype();
    // The usual category codes (a narrow range of 8-, 16- or 32-bit integers) in their own
    // type: no 64-bit copy of the column (at 10M rows, 80 MB of fresh pages each).
    let narrow = match dtype {
        DataType::Int8 => dense_range(column.i8()?),
        DataType::Int16 => dense_range(column.i16()?),
        DataType::Int32 => dense_range(column.i32()?),
        DataType::UInt8 => dense_range(column.u8()?),
        DataType::UInt16 => dense_range(column.u16()?),
        DataType::UInt32 => dense_range(column.u32()?),
        _ => None,
    };
    if let Some((codes, keys)) = narrow {
        return Ok(Coded {
            codes,
            keys: keys.into_iter().map(Key::Int).collect(),
        });
    }
    let integral = dtype.is_integer()
        || (dtype.is_float()
            && column
                .cast(&DataType::Float64)?
                .f64()?
                .iter()
                .flatten()
                .all(|v| v.fract() == 0.0 && v.abs() < 9.0e15));
    if integral {
        let values = column.cast(&DataType::Int64)?;
        let values = values.i64()?;
        let (codes, keys) = dense_range(values).unwrap_or_else(|| dense(values.iter()));
        Ok(Coded {
            codes,
            keys: keys.into_iter().map(Key::Int).collect(),
        })
    } else {
        let values = column.cast(&DataType::String)?;
        let (codes, keys) = dense_text(values.str()?);
        Ok(Coded {
            codes,
            keys: keys.into_iter().map(|k| Key::Str(k.to_string())).collect(),
        })
    }
}

/// [`dense`] for integers whose values span fewer than 2²⁰ (the usual: category codes): a
/// table of the values present, without hashing; `None` for a wider span (or no values). The
/// values are read chunk by chunk ([`rows`]), not through polars' row iterator (a dynamic call
/// a row).
fn dense_range<T>(values: &ChunkedArray<T>) -> Option<(Vec<u32>, Vec<i64>)>
where
    T: PolarsIntegerType,
    T::Native: Into<i64>,
{
    let (low, high) = values
        .downcast_iter()
        .flat_map(|array| rows(array).flatten())
        .map(Into::<i64>::into)
        .fold(None, |range: Option<(i64, i64)>, v| {
            Some(range.map_or((v, v), |(low, high)| (low.min(v), high.max(v))))
        })?;
    if high.checked_sub(low).is_none_or(|span| span >= 1 << 20) {
        return None;
    }
    let slot = |v: T::Native| (v.into() - low) as usize;
    let mut rank = vec![NULL; (high - low) as usize + 1];
    for array in values.downcast_iter() {
        for v in rows(array).flatten() {
            rank[slot(v)] = 0;
        }
    }
    let mut keys = Vec::new();
    for (offset, r) in rank.iter_mut().enumerate() {
        if *r == 0 {
            *r = keys.len() as u32;
            keys.push(low + offset as i64);
        }
    }
    let mut codes = Vec::with_capacity(values.len());
    for array in values.downcast_iter() {
        codes.extend(rows(array).map(|v| v.map_or(NULL, |v| rank[slot(v)])));
    }
    Some((codes, keys))
}

/// The values of a chunk, `None` where null (the value under a null is unspecified). Not
/// Arrow's own iterator of the chunk, which measured slower here (the weight stage at 10M rows
/// with four integer columns coded, alternated: 0.70–0.76 s against 0.59–0.65 s); it is not
/// `std`'s `TrustedLen`, so collecting from it checks the capacity at every row.
fn rows<N: polars_arrow::types::NativeType>(
    array: &PrimitiveArray<N>,
) -> impl Iterator<Item = Option<N>> + '_ {
    let valid = array.validity().filter(|v| v.unset_bits() > 0);
    array
        .values_iter()
        .enumerate()
        .map(move |(i, &v)| valid.is_none_or(|valid| valid.get_bit(i)).then_some(v))
}

/// Codes of `values` in the sorted order of their distinct values.
fn dense<T: Copy + Ord + std::hash::Hash>(
    values: impl Iterator<Item = Option<T>>,
) -> (Vec<u32>, Vec<T>) {
    // foldhash, not SipHash: a million ids or municipality codes are hashed here per column.
    let mut first_seen: foldhash::HashMap<T, u32> = foldhash::HashMap::default();
    let mut distinct = Vec::new();
    let mut codes: Vec<u32> = values
        .map(|v| {
            v.map_or(NULL, |v| {
                *first_seen.entry(v).or_insert_with(|| {
                    distinct.push(v);
                    distinct.len() as u32 - 1
                })
            })
        })
        .collect();
    let mut order: Vec<u32> = (0..distinct.len() as u32).collect();
    order.sort_by_key(|&i| distinct[i as usize]);
    let mut rank = vec![0u32; distinct.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i as usize] = r as u32;
    }
    let keys = order.iter().map(|&i| distinct[i as usize]).collect();
    for code in codes.iter_mut().filter(|c| **c != NULL) {
        *code = rank[*code as usize];
    }
    (codes, keys)
}

/// [`dense`] for text. A string of at most 12 bytes is held whole in its 16-byte view, which
/// is hashed as one number without reading the string's bytes (a municipality code, at 10M rows
/// 0.3 s less than hashing the text); a longer one by its text. Keys are ranked by their text,
/// so equal strings share a code even in views that differ.
fn dense_text(values: &StringChunked) -> (Vec<u32>, Vec<&str>) {
    let mut short: foldhash::HashMap<u128, u32> = foldhash::HashMap::default();
    let mut long: foldhash::HashMap<&str, u32> = foldhash::HashMap::default();
    let mut distinct: Vec<&str> = Vec::new();
    let mut codes: Vec<u32> = Vec::with_capacity(values.len());
    for array in values.downcast_iter() {
        for (i, view) in array.views().iter().enumerate() {
            if !array.is_valid(i) {
                codes.push(NULL);
                continue;
            }
            let first_seen = || {
                distinct.push(array.value(i));
                distinct.len() as u32 - 1
            };
            let code = if view.length <= View::MAX_INLINE_SIZE {
                *short.entry(view.as_u128()).or_insert_with(first_seen)
            } else {
                *long.entry(array.value(i)).or_insert_with(first_seen)
            };
            codes.push(code);
        }
    }
    let mut order: Vec<u32> = (0..distinct.len() as u32).collect();
    order.sort_by_key(|&i| distinct[i as usize]);
    let mut rank = vec![0u32; distinct.len()];
    let mut keys: Vec<&str> = Vec::new();
    for &i in &order {
        let text = distinct[i as usize];
        if keys.last() != Some(&text) {
            keys.push(text);
        }
        rank[i as usize] = keys.len() as u32 - 1;
    }
    for code in codes.iter_mut().filter(|c| **c != NULL) {
        *code = rank[*code as usize];
    }
    (codes, keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_sort_numerically_and_nulls_stay_null() {
        let column = Column::new("x".into(), [Some(10i64), Some(9), None, Some(10)]);
        let coded = encode(&column).unwrap();
        assert_eq!(coded.keys, [Key::Int(9), Key::Int(10)]);
        assert_eq!(coded.codes, [1, 0, NULL, 1]);
    }

    #[test]
    fn wide_and_narrow_integer_ranges_code_alike() {
        let narrow = Column::new("x".into(), [Some(-3i64), Some(7), None, Some(-3), Some(2)]);
        let wide = Column::new(
            "x".into(),
            [Some(-3i64 << 40), Some(7), None, Some(-3 << 40), Some(2)],
        );
        for (column, low) in [(narrow, -3), (wide, -3 << 40)] {
            let coded = encode(&column).unwrap();
            assert_eq!(coded.keys, [Key::Int(low), Key::Int(2), Key::Int(7)]);
            assert_eq!(coded.codes, [0, 2, NULL, 0, 1]);
        }
    }

    #[test]
    fn whole_floats_are_integers_and_strings_are_text() {
        let floats = Column::new("x".into(), [2.0f64, 1.0]);
        assert_eq!(encode(&floats).unwrap().keys, [Key::Int(1), Key::Int(2)]);
        let text = Column::new("x".into(), ["GM0363", "GM0014"]);
        assert_eq!(encode(&text).unwrap().keys[0], Key::Str("GM0014".into()));
    }

    #[test]
    fn the_value_under_a_null_is_neither_a_key_nor_looked_up() {
        // Arrow leaves the value under a null unspecified: here one far outside the range.
        let array = PrimitiveArray::new(
            ArrowDataType::Int32,
            vec![5, 1_000_000_000, 7, -1_000_000_000].into(),
            Some([true, false, true, false].into_iter().collect()),
        );
        let column = Column::from(Int32Chunked::with_chunk("x".into(), array).into_series());
        let coded = encode(&column).unwrap();
        assert_eq!(coded.keys, [Key::Int(5), Key::Int(7)]);
        assert_eq!(coded.codes, [0, NULL, 1, NULL]);
    }

    proptest::proptest! {
        /// Integer codes of every width, narrow range or wide, over chunks and with nulls, code
        /// as the same values as 64-bit integers hashed.
        #[test]
        fn integers_of_every_width_code_as_hashed(
            values in proptest::collection::vec(
                proptest::option::weighted(0.8, -3i64..40),
                1..60,
            ),
            cut in 0usize..60,
            wide in proptest::bool::ANY,
        ) {
            let cut = cut.min(values.len());
            // A wide span (beyond the table's 2^20) for 32- and 64-bit columns.
            let values: Vec<Option<i64>> = values
                .iter()
                .map(|v| v.map(|v| if wide && v == 39 { 1 << 30 } else { v }))
                .collect();
            let (expected_codes, expected_keys) = dense(values.iter().copied());
            let expected_keys: Vec<Key> = expected_keys.into_iter().map(Key::Int).collect();
            let mut chunked = Int64Chunked::new("x".into(), &values[..cut]);
            chunked.append(&Int64Chunked::new("x".into(), &values[cut..])).unwrap();
            let column = Column::from(chunked.into_series());
            let mut types = vec![DataType::Int32, DataType::Int64, DataType::Float64];
            if !wide {
                types.extend([DataType::Int16, DataType::Int8]);
                if values.iter().flatten().all(|&v| v >= 0) {
                    // (8- and 16-bit unsigned integers are not in this build of polars.)
                    types.push(DataType::UInt32);
                }
            }
            for dtype in types {
                let coded = encode(&column.cast(&dtype).unwrap()).unwrap();
                proptest::prop_assert_eq!(&coded.codes, &expected_codes, "{}", dtype);
                proptest::prop_assert_eq!(&coded.keys, &expected_keys, "{}", dtype);
            }
        }

        /// Text coded by its views (strings of up to 12 bytes) or by its text (longer ones),
        /// over chunks, codes as the plain hashing of the text.
        #[test]
        fn text_codes_as_by_its_text(
            values in proptest::collection::vec(
                proptest::option::weighted(0.9, "[ab]{0,3}|GM0[0-9]{3}|[ab]{11,14}"),
                0..60,
            ),
            cut in 0usize..60,
        ) {
            let cut = cut.min(values.len());
            let mut chunked = StringChunked::new("x".into(), &values[..cut]);
            chunked.append(&StringChunked::new("x".into(), &values[cut..])).unwrap();
            let (codes, keys) = dense_text(&chunked);
            let (expected_codes, expected_keys) = dense(values.iter().map(Option::as_deref));
            proptest::prop_assert_eq!(codes, expected_codes);
            proptest::prop_assert_eq!(keys, expected_keys);
        }
    }
}
