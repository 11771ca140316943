//! Dense integer codes for the values of a column: strata, PSUs and segments are handled as
//! `u32` indices into a sorted list of distinct keys, so estimation never hashes or compares
//! strings in its inner loop and results come out in a fixed order.

use std::fmt;

use polars::prelude::*;

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

/// Codes per row (`None` for null) and the distinct keys in sorted order.
#[derive(Debug, Clone, PartialEq)]
pub struct Coded {
    pub codes: Vec<Option<u32>>,
    pub keys: Vec<Key>,
}

/// Encodes a column: integer columns (and float columns holding whole numbers) by value,
/// anything else by its text.
pub fn encode(column: &Column) -> PolarsResult<Coded> {
    let dtype = column.dtype();
    let integral = dtype.is_integer()
        || (dtype.is_float()
            && column
                .cast(&DataType::Float64)?
                .f64()?
                .iter()
                .flatten()
                .all(|v| v.fract() == 0.0 && v.abs() < 9.0e15));
    let values: Vec<Option<Key>> = if integral {
        column
            .cast(&DataType::Int64)?
            .i64()?
            .iter()
            .map(|v| v.map(Key::Int))
            .collect()
    } else {
        column
            .cast(&DataType::String)?
            .str()?
            .iter()
            .map(|v| v.map(|s| Key::Str(s.to_string())))
            .collect()
    };
    let mut keys: Vec<Key> = values.iter().flatten().cloned().collect();
    keys.sort();
    keys.dedup();
    let codes = values
        .iter()
        .map(|v| {
            v.as_ref()
                .map(|k| keys.binary_search(k).map(|i| i as u32).unwrap_or(u32::MAX))
        })
        .collect();
    Ok(Coded { codes, keys })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_sort_numerically_and_nulls_stay_null() {
        let column = Column::new("x".into(), [Some(10i64), Some(9), None, Some(10)]);
        let coded = encode(&column).unwrap();
        assert_eq!(coded.keys, [Key::Int(9), Key::Int(10)]);
        assert_eq!(coded.codes, [Some(1), Some(0), None, Some(1)]);
    }

    #[test]
    fn whole_floats_are_integers_and_strings_are_text() {
        let floats = Column::new("x".into(), [2.0f64, 1.0]);
        assert_eq!(encode(&floats).unwrap().keys, [Key::Int(1), Key::Int(2)]);
        let text = Column::new("x".into(), ["GM0363", "GM0014"]);
        assert_eq!(encode(&text).unwrap().keys[0], Key::Str("GM0014".into()));
    }
}
