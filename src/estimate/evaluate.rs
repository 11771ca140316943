//! Every indicator evaluated on every row of a wave, in design order, for the kernel.
//!
//! The indicators' values and populations are polars expressions over the analysis frame.
//! They are evaluated in slices of [`SLICE_ROWS`] rows, each slice's evaluated columns turned
//! into the kernel's values and dropped before the next, so a wave never holds more than one
//! slice of evaluated polars columns (50 indicators at 10,000,000 rows would be 4 GB at once).
//! An expression that is not elementwise (`uren_pw > AVG(uren_pw)`: an aggregate, a window)
//! depends on the other rows, and the wave is then evaluated in one slice.
//!
//! The values are kept coded ([`kernel::Values`]: a byte per row into a table) while an
//! indicator has at most 256 distinct values, NaN included, as shares, counts and coded
//! answers have; two bytes up to 65,536 (hours, ages, scores); plain numbers beyond. The
//! coding is exact: a code's number has the bits of the value it stands for.

use polars::prelude::*;
use polars_plan::plans::{is_elementwise_rec, IR};
use rayon::prelude::*;

use super::kernel;
use crate::diag::{catalog, Diagnostic, Failure};
use crate::spec::{IndicatorKind, IndicatorPlan, Plan};
use crate::weight::SurveyDesign;

/// Rows evaluated at once (per slice, a column of 2 MB per indicator).
pub const SLICE_ROWS: usize = 1 << 18;

/// An indicator evaluated on every row, in design order: `values` is NaN outside its
/// population and where a value is null; `denominators` holds a ratio's denominator.
pub(super) struct IndicatorColumn {
    pub values: IndicatorValues,
    pub denominators: Option<Vec<f64>>,
}

/// An indicator's values, owned: see [`kernel::Values`].
pub(super) enum IndicatorValues {
    Plain(Vec<f64>),
    Coded8 {
        codes: Vec<u8>,
        table: Box<[f64; 1 << 8]>,
    },
    Coded16 {
        codes: Vec<u16>,
        table: Box<[f64; 1 << 16]>,
    },
}

impl IndicatorValues {
    pub fn view(&self) -> kernel::Values<'_> {
        match self {
            IndicatorValues::Plain(values) => kernel::Values::Plain(values),
            IndicatorValues::Coded8 { codes, table } => kernel::Values::Coded8 { codes, table },
            IndicatorValues::Coded16 { codes, table } => kernel::Values::Coded16 { codes, table },
        }
    }
}

/// Evaluates populations and values of all indicators, slice by slice (see the module).
pub(super) fn indicator_columns(
    design: &SurveyDesign,
    plan: &Plan,
    slice_rows: usize,
) -> Result<Vec<IndicatorColumn>, Failure> {
    let indicators = &plan.indicators;
    let analysis = &design.data.analysis;
    let exprs = expressions(analysis, indicators)?;
    let rows = analysis.height();
    let slice_rows = if elementwise(analysis, &exprs) {
        slice_rows.max(1)
    } else {
        rows.max(1)
    };
    let mut builders: Vec<Builder> = indicators
        .iter()
        .map(|indicator| Builder::new(indicator, rows))
        .collect();
    // At least one slice, so that an expression that cannot be evaluated is reported even
    // when the wave has no rows.
    let mut offset = 0;
    loop {
        let frame = analysis
            .slice(offset as i64, slice_rows)
            .lazy()
            .select(exprs.clone())
            .collect()
            .map_err(|e| {
                Failure::from(
                    Diagnostic::error(
                        catalog::E001,
                        format!("wave {}: indicators could not be evaluated", design.wave),
                    )
                    .caused_by(e),
                )
            })?;
        let mut evaluated: std::collections::HashMap<String, Column> = frame
            .into_columns()
            .into_iter()
            .map(|c| (c.name().to_string(), c))
            .collect();
        // A constant (`value = "1"`) comes out as one value when nothing else in the query
        // reads a column: it holds for every row of the slice.
        let length = rows.saturating_sub(offset).min(slice_rows);
        let mut take = |name: String| {
            let column = evaluated.remove(&name).ok_or_else(|| {
                Failure::internal(Diagnostic::error(
                    catalog::E099,
                    format!("internal: the evaluated indicator column {name} is missing"),
                ))
            })?;
            match column.len() {
                n if n == length => Ok(column),
                1 => Ok(column.new_from_index(0, length)),
                n => Err(Failure::internal(Diagnostic::error(
                    catalog::E099,
                    format!(
                        "internal: the evaluated indicator column {name} has {n} rows, not {length}"
                    ),
                ))),
            }
        };
        let slice: Vec<(Column, Option<Column>)> = indicators
            .iter()
            .enumerate()
            .map(|(k, indicator)| {
                let values = take(format!("v{k}"))?;
                let denominators = match indicator.denominator {
                    Some(_) => Some(take(format!("d{k}"))?),
                    None => None,
                };
                Ok((values, denominators))
            })
            .collect::<Result<_, Failure>>()?;
        builders
            .par_iter_mut()
            .zip(slice)
            .try_for_each(|(builder, (values, denominators))| {
                builder.push(offset, values, denominators)
            })
            .map_err(|e| {
                Failure::internal(
                    Diagnostic::error(
                        catalog::E099,
                        "internal: an indicator's values could not be read as numbers",
                    )
                    .caused_by(e),
                )
            })?;
        offset += slice_rows;
        if offset >= rows {
            break;
        }
    }
    indicators
        .iter()
        .zip(builders)
        .map(|(indicator, builder)| builder.finish(indicator, design, plan))
        .collect()
}

/// Each indicator's value (`v{k}`) and a ratio's denominator (`d{k}`), where the population
/// holds; null elsewhere. Numbers, but a proportion whose value is a condition stays a
/// condition (its bits are coded directly, [`ValuesBuilder::push_conditions`]).
fn expressions(analysis: &DataFrame, indicators: &[IndicatorPlan]) -> Result<Vec<Expr>, Failure> {
    let lazy = analysis.clone().lazy();
    let mut exprs = Vec::with_capacity(2 * indicators.len());
    let dtype_of = |e: &Expr| {
        lazy.clone()
            .select([e.clone().alias("e")])
            .collect_schema()
            .ok()
            .and_then(|schema| schema.get("e").cloned())
    };
    for (k, indicator) in indicators.iter().enumerate() {
        // A proportion's condition stays a condition (a bit a row, coded without a lookup);
        // any other value becomes a number.
        let dtype = if indicator.kind == IndicatorKind::Proportion
            && dtype_of(&indicator.value) == Some(DataType::Boolean)
        {
            DataType::Boolean
        } else {
            DataType::Float64
        };
        let in_domain = |e: &Expr, dtype: &DataType| match &indicator.population {
            None => e.clone().cast(dtype.clone()),
            Some(population) => when(population.clone().fill_null(lit(false)))
                .then(e.clone().cast(dtype.clone()))
                .otherwise(lit(NULL).cast(dtype.clone())),
        };
        if let Some(population) = &indicator.population {
            if dtype_of(population) != Some(DataType::Boolean) {
                return Err(Diagnostic::error(
                    catalog::E002,
                    format!(
                        "indicator {:?}: population {:?} is not a condition",
                        indicator.id,
                        indicator.population_text.as_deref().unwrap_or("")
                    ),
                )
                .into());
            }
        }
        exprs.push(in_domain(&indicator.value, &dtype).alias(format!("v{k}")));
        if let Some(denominator) = &indicator.denominator {
            exprs.push(in_domain(denominator, &DataType::Float64).alias(format!("d{k}")));
        }
    }
    Ok(exprs)
}

/// Whether every expression is elementwise, so that a slice of rows evaluates to the slice
/// of the whole: polars' own test on the query plan. When the plan cannot be built, no (the
/// evaluation then reports why).
fn elementwise(analysis: &DataFrame, exprs: &[Expr]) -> bool {
    let Ok(plan) = analysis.clone().lazy().select(exprs).to_alp() else {
        return false;
    };
    match plan.lp_arena.get(plan.lp_top) {
        IR::Select { expr, .. } => expr
            .iter()
            .all(|e| is_elementwise_rec(e.node(), &plan.expr_arena)),
        _ => false,
    }
}

/// One indicator's values and denominators as its slices come in, and the first rows that
/// break its rules, reported once every slice is in ([`Builder::finish`]).
struct Builder {
    values: ValuesBuilder,
    denominators: Option<Vec<f64>>,
    proportion: bool,
    /// First rows whose value, or denominator, is there but not a finite number.
    in_values: NotFinite,
    in_denominators: NotFinite,
    /// A proportion's first value other than 0 and 1.
    not_binary: Option<f64>,
}

impl Builder {
    fn new(indicator: &IndicatorPlan, rows: usize) -> Self {
        Builder {
            values: ValuesBuilder::new(rows),
            denominators: indicator
                .denominator
                .as_ref()
                .map(|_| Vec::with_capacity(rows)),
            proportion: indicator.kind == IndicatorKind::Proportion,
            in_values: NotFinite::default(),
            in_denominators: NotFinite::default(),
            not_binary: None,
        }
    }

    /// The evaluated columns of the slice starting at row `offset`.
    fn push(
        &mut self,
        offset: usize,
        values: Column,
        denominators: Option<Column>,
    ) -> PolarsResult<()> {
        thread_local! {
            /// One slice's values, NaN for null: a buffer per thread, reused.
            static SCRATCH: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        if values.dtype() == &DataType::Boolean {
            // A condition: always 0 or 1 (or null), never a NaN or an infinity.
            self.values.push_conditions(values.bool()?);
            return Ok(());
        }
        let values = values.f64()?;
        self.in_values.find(values, offset);
        let denominators = denominators.as_ref().map(Column::f64).transpose()?;
        SCRATCH.with_borrow_mut(|scratch| {
            scratch.clear();
            nan_for_null_into(values, scratch);
            if let (Some(column), Some(all)) = (denominators, &mut self.denominators) {
                self.in_denominators.find(column, offset);
                let start = all.len();
                nan_for_null_into(column, all);
                // A ratio needs both values.
                for (v, d) in scratch.iter_mut().zip(&all[start..]) {
                    if d.is_nan() {
                        *v = f64::NAN;
                    }
                }
            }
            if self.proportion && self.not_binary.is_none() {
                self.not_binary = scratch
                    .iter()
                    .copied()
                    .find(|v| !v.is_nan() && *v != 0.0 && *v != 1.0);
            }
            self.values.push(scratch);
        });
        Ok(())
    }

    /// The indicator's column, or the error of its first bad row: a value that is there but
    /// not finite (a NaN before an infinite one, a value before a denominator), then a
    /// proportion's value other than 0 and 1.
    fn finish(
        self,
        indicator: &IndicatorPlan,
        design: &SurveyDesign,
        plan: &Plan,
    ) -> Result<IndicatorColumn, Failure> {
        let bad = self
            .in_values
            .nan
            .into_iter()
            .chain(self.in_denominators.nan)
            .min()
            .or(self.in_values.infinite)
            .or(self.in_denominators.infinite);
        if let Some(i) = bad {
            return Err(Diagnostic::error(
                catalog::E003,
                format!(
                    "wave {}: indicator {:?} is not a finite number for {} (a division by zero?)",
                    design.wave,
                    indicator.id,
                    crate::weight::describe_row(
                        &design.data.coded,
                        &plan.schema,
                        design.order[i] as usize
                    )
                ),
            )
            .into());
        }
        if let Some(bad) = self.not_binary {
            return Err(Diagnostic::error(
                catalog::E004,
                format!(
                    "indicator {:?}: the value of a proportion must be a condition or 0/1, but {:?} gives {bad}",
                    indicator.id, indicator.value_text
                ),
            )
            .into());
        }
        Ok(IndicatorColumn {
            values: self.values.finish(),
            denominators: self.denominators,
        })
    }
}

/// Where an evaluated indicator column first holds a value that is not a finite number.
#[derive(Debug, Default, Clone, Copy)]
struct NotFinite {
    /// The first row whose value is NaN (not null).
    nan: Option<usize>,
    /// The first row whose value is infinite.
    infinite: Option<usize>,
}

impl NotFinite {
    /// Looks for both in a slice starting at row `offset`, unless an earlier slice had them.
    /// One pass over the raw values (null slots included); only a hit asks where.
    fn find(&mut self, values: &Float64Chunked, offset: usize) {
        if self.nan.is_some() && self.infinite.is_some() {
            return;
        }
        let any = values
            .downcast_iter()
            .any(|a| a.values().iter().any(|v| !v.is_finite()));
        if !any {
            return;
        }
        let first = |bad: fn(f64) -> bool| {
            values
                .iter()
                .position(|v| v.is_some_and(bad))
                .map(|i| offset + i)
        };
        self.nan = self.nan.or_else(|| first(f64::is_nan));
        self.infinite = self.infinite.or_else(|| first(f64::is_infinite));
    }
}

/// Builds an indicator's values slice by slice: a byte per row while they have at most 256
/// distinct numbers, two bytes up to 65,536, plain from the first number beyond.
enum ValuesBuilder {
    Coded8 {
        codes: Vec<u8>,
        dictionary: Dictionary,
        rows: usize,
        /// The numbers two-byte codes take.
        wide: usize,
    },
    Coded16 {
        codes: Vec<u16>,
        dictionary: Dictionary,
        rows: usize,
    },
    Plain(Vec<f64>),
}

impl ValuesBuilder {
    fn new(rows: usize) -> Self {
        Self::with_limits(rows, 1 << 8, 1 << 16)
    }

    /// Codes a byte wide for `narrow` numbers at most, two for `wide` (lower limits than the
    /// codes' own let the tests go through every step with a few numbers).
    fn with_limits(rows: usize, narrow: usize, wide: usize) -> Self {
        ValuesBuilder::Coded8 {
            codes: Vec::with_capacity(rows),
            dictionary: Dictionary::new(narrow.min(1 << 8)),
            rows,
            wide: wide.min(1 << 16),
        }
    }

    fn push(&mut self, values: &[f64]) {
        let mut values = values;
        while !values.is_empty() {
            values = self.push_until_full(values);
        }
    }

    /// A condition's values: false as 0, true as 1, null as NaN, coded from its bits.
    fn push_conditions(&mut self, column: &BooleanChunked) {
        if let ValuesBuilder::Coded8 {
            codes, dictionary, ..
        } = self
        {
            if let (Some(no), Some(yes), Some(null)) = (
                dictionary.code(0.0),
                dictionary.code(1.0),
                dictionary.code(f64::NAN),
            ) {
                let (no, yes, null) = (no as u8, yes as u8, null as u8);
                for array in column.downcast_iter() {
                    let code = |bit: bool| if bit { yes } else { no };
                    match array.validity().filter(|v| v.unset_bits() > 0) {
                        None => codes.extend(array.values().iter().map(code)),
                        Some(valid) => codes.extend(array.values().iter().zip(valid.iter()).map(
                            |(bit, valid)| {
                                if valid {
                                    code(bit)
                                } else {
                                    null
                                }
                            },
                        )),
                    }
                }
                return;
            }
        }
        // Codes two bytes wide or plain already: as numbers.
        let numbers: Vec<f64> = column
            .iter()
            .map(|v| v.map_or(f64::NAN, |v| f64::from(u8::from(v))))
            .collect();
        self.push(&numbers);
    }

    /// Codes `values` until the dictionary is full; then widens the codes, or makes them plain,
    /// and returns the values from the one that did not fit on.
    fn push_until_full<'v>(&mut self, values: &'v [f64]) -> &'v [f64] {
        match self {
            ValuesBuilder::Coded8 {
                codes,
                dictionary,
                rows,
                wide,
            } => {
                let start = codes.len();
                codes.extend(
                    values
                        .iter()
                        .map_while(|&v| dictionary.code(v).map(|c| c as u8)),
                );
                let coded = codes.len() - start;
                if coded < values.len() {
                    let mut two_bytes = Vec::with_capacity(*rows);
                    two_bytes.extend(codes.iter().map(|&c| u16::from(c)));
                    *self = ValuesBuilder::Coded16 {
                        codes: two_bytes,
                        dictionary: std::mem::take(dictionary).widened(*wide),
                        rows: *rows,
                    };
                }
                &values[coded..]
            }
            ValuesBuilder::Coded16 {
                codes,
                dictionary,
                rows,
            } => {
                let start = codes.len();
                codes.extend(values.iter().map_while(|&v| dictionary.code(v)));
                let coded = codes.len() - start;
                if coded < values.len() {
                    let mut plain = Vec::with_capacity(*rows);
                    plain.extend(codes.iter().map(|&c| dictionary.numbers[c as usize]));
                    *self = ValuesBuilder::Plain(plain);
                }
                &values[coded..]
            }
            ValuesBuilder::Plain(plain) => {
                plain.extend_from_slice(values);
                &[]
            }
        }
    }

    fn finish(self) -> IndicatorValues {
        match self {
            ValuesBuilder::Coded8 {
                codes, dictionary, ..
            } => IndicatorValues::Coded8 {
                codes,
                table: dictionary.table(),
            },
            ValuesBuilder::Coded16 {
                codes, dictionary, ..
            } => IndicatorValues::Coded16 {
                codes,
                table: dictionary.table(),
            },
            ValuesBuilder::Plain(values) => IndicatorValues::Plain(values),
        }
    }
}

/// Up to `capacity` distinct numbers and their codes, in the order they came, by their bits
/// (every NaN is one number).
#[derive(Default)]
struct Dictionary {
    /// The number of each code.
    numbers: Vec<f64>,
    capacity: usize,
    /// Open addressing over twice the capacity: the bits of a number and its code plus 1
    /// (0: an empty slot).
    keys: Vec<u64>,
    slots: Vec<u32>,
    /// The bits of the first [`FIRST`] codes' numbers (`NO_KEY` until there are so many).
    first: [u64; FIRST],
}

const FIRST: usize = 4;

/// A NaN with a payload no coded number has (they are all the canonical NaN): "none yet".
const NO_KEY: u64 = 0x7ff8_0000_0000_0001;

impl Dictionary {
    fn new(capacity: usize) -> Self {
        let slots = (2 * capacity).next_power_of_two();
        Dictionary {
            numbers: Vec::with_capacity(capacity),
            capacity,
            keys: vec![0; slots],
            slots: vec![0; slots],
            first: [NO_KEY; FIRST],
        }
    }

    /// The same numbers with the same codes, with room for `capacity`.
    fn widened(self, capacity: usize) -> Self {
        let mut wide = Dictionary::new(capacity);
        for &number in &self.numbers {
            wide.code(number);
        }
        wide
    }

    /// The table of a code's number, NaN for the codes not used, as large as a code can index.
    fn table<const N: usize>(self) -> Box<[f64; N]> {
        let mut table = self.numbers;
        table.resize(N, f64::NAN);
        table
            .into_boxed_slice()
            .try_into()
            .expect("the table has the length of the code space")
    }

    /// The code of `v`, a new one if it is new; `None` when the dictionary is full.
    #[inline]
    fn code(&mut self, v: f64) -> Option<u16> {
        let key = if v.is_nan() {
            f64::NAN.to_bits()
        } else {
            v.to_bits()
        };
        // The first few numbers by a look at each (a share's 0, 1 and NaN, a few codes).
        if let Some(code) = self.first.iter().position(|&k| k == key) {
            return Some(code as u16);
        }
        let mask = self.slots.len() - 1;
        let mut slot = (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize & mask;
        loop {
            match self.slots[slot] {
                0 => {
                    if self.numbers.len() == self.capacity {
                        return None;
                    }
                    let code = self.numbers.len();
                    self.numbers.push(f64::from_bits(key));
                    self.keys[slot] = key;
                    self.slots[slot] = code as u32 + 1;
                    if let Some(first) = self.first.get_mut(code) {
                        *first = key;
                    }
                    return Some(code as u16);
                }
                c if self.keys[slot] == key => return Some((c - 1) as u16),
                _ => slot = (slot + 1) & mask,
            }
        }
    }
}

/// The values of a column, NaN for null.
pub(super) fn nan_for_null(column: &Float64Chunked) -> Vec<f64> {
    let mut out = Vec::new();
    nan_for_null_into(column, &mut out);
    out
}

/// Appends the values of a column to `out`, NaN for null, chunk by chunk: each chunk's values
/// copied whole, then its nulls overwritten.
fn nan_for_null_into(column: &Float64Chunked, out: &mut Vec<f64>) {
    out.reserve(column.len());
    for array in column.downcast_iter() {
        let start = out.len();
        out.extend_from_slice(array.values());
        set_nan_where_null(&mut out[start..], array.validity());
    }
}

/// Sets `values[i]` to NaN where `validity` says row `i` is null, 64 rows at a time.
fn set_nan_where_null(values: &mut [f64], validity: Option<&polars_arrow::bitmap::Bitmap>) {
    let Some(valid) = validity.filter(|v| v.unset_bits() > 0) else {
        return;
    };
    let chunks = valid.chunks::<u64>();
    let tail = chunks.remainder_len();
    let tail_mask = if tail == 0 {
        0
    } else {
        u64::MAX >> (64 - tail)
    };
    let last = chunks.remainder() | !tail_mask;
    for (word, valid) in chunks.chain(std::iter::once(last)).enumerate() {
        let mut nulls = !valid;
        while nulls != 0 {
            values[word * 64 + nulls.trailing_zeros() as usize] = f64::NAN;
            nulls &= nulls - 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn bits(values: &[f64]) -> Vec<u64> {
        values.iter().map(|x| x.to_bits()).collect()
    }

    proptest! {
        /// Every chunk's values, NaN where null, whatever the chunks' lengths and offsets.
        #[test]
        fn nan_for_null_is_the_values_with_nan_for_null(
            chunks in prop::collection::vec(
                (prop::collection::vec(prop::option::weighted(0.8, -1e3f64..1e3), 0..200), 0usize..70),
                1..5,
            ),
        ) {
            let mut column: Option<Float64Chunked> = None;
            let mut want = Vec::new();
            for (values, skip) in &chunks {
                // A chunk sliced off its start: its validity bitmap starts mid-byte.
                let skip = (*skip).min(values.len());
                let chunk = Float64Chunked::new("v".into(), values).slice(skip as i64, values.len() - skip);
                want.extend(values[skip..].iter().map(|v| v.unwrap_or(f64::NAN)));
                column = Some(match column {
                    None => chunk,
                    Some(mut all) => {
                        all.append(&chunk).unwrap();
                        all
                    }
                });
            }
            // Appended after what `out` holds.
            let mut got = vec![7.0; 3];
            nan_for_null_into(&column.unwrap(), &mut got);
            prop_assert_eq!(bits(&got[..3]), bits(&[7.0; 3]));
            prop_assert_eq!(bits(&got[3..]), bits(&want));
        }

        /// Values pushed in any slices come back with their bits (NaN as NaN): a byte per
        /// row while there are at most `narrow` distinct ones, two up to `wide`, plain beyond.
        #[test]
        fn built_values_are_the_values_pushed(
            values in prop::collection::vec(
                prop_oneof![
                    (0u32..40).prop_map(f64::from),
                    Just(f64::NAN),
                    Just(-0.0),
                    Just(0.0),
                    -1e6f64..1e6,
                ],
                0..400,
            ),
            distinct in 1usize..60,
            cuts in prop::collection::vec(0usize..400, 0..4),
            narrow in 1usize..12,
            wide in 12usize..40,
        ) {
            // Restricted to about `distinct` numbers: below, between and above the limits.
            let values: Vec<f64> = values
                .iter()
                .map(|v| if v.is_nan() || *v == 0.0 { *v } else { v.signum() * (v.abs() % distinct as f64).floor() })
                .collect();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(values.len())).collect();
            cuts.sort_unstable();
            let mut builder = ValuesBuilder::with_limits(values.len(), narrow, wide);
            let mut from = 0;
            for cut in cuts.into_iter().chain([values.len()]) {
                builder.push(&values[from..cut]);
                from = cut;
            }
            let canonical = |v: &[f64]| v.iter().map(|x| if x.is_nan() { f64::NAN.to_bits() } else { x.to_bits() }).collect::<Vec<_>>();
            let mut keys: Vec<u64> = canonical(&values);
            keys.sort_unstable();
            keys.dedup();
            let built = builder.finish();
            let kind = match built {
                IndicatorValues::Coded8 { .. } => 8,
                IndicatorValues::Coded16 { .. } => 16,
                IndicatorValues::Plain(_) => 64,
            };
            let want = if keys.len() <= narrow { 8 } else if keys.len() <= wide { 16 } else { 64 };
            prop_assert_eq!(kind, want, "{} numbers", keys.len());
            prop_assert_eq!(canonical(&built.view().to_vec()), canonical(&values));
        }
    }

    #[test]
    fn a_dictionary_holds_256_numbers_and_refuses_the_257th() {
        let mut dictionary = Dictionary::new(256);
        for i in 0..256 {
            assert_eq!(dictionary.code(f64::from(i) * 0.5), Some(i as u16));
        }
        // Known numbers keep their codes, in any order; NaN would be the 257th.
        assert_eq!(dictionary.code(0.0), Some(0));
        assert_eq!(dictionary.code(127.5), Some(255));
        assert_eq!(dictionary.code(3.0), Some(6));
        assert_eq!(dictionary.code(f64::NAN), None);
        assert_eq!(dictionary.code(-0.0), None, "-0.0 is not 0.0");
    }

    /// At the codes' own limits: 256 numbers in a byte, 65,536 in two, then plain.
    #[test]
    fn the_codes_widen_at_257_and_65537_numbers() {
        let kind = |numbers: u32| {
            let values: Vec<f64> = (0..numbers).rev().map(|i| f64::from(i) / 4.0).collect();
            let mut builder = ValuesBuilder::new(values.len());
            builder.push(&values[..values.len() / 3]);
            builder.push(&values[values.len() / 3..]);
            let built = builder.finish();
            assert_eq!(bits(&built.view().to_vec()), bits(&values));
            match built {
                IndicatorValues::Coded8 { .. } => 8,
                IndicatorValues::Coded16 { .. } => 16,
                IndicatorValues::Plain(_) => 64,
            }
        };
        assert_eq!(kind(256), 8);
        assert_eq!(kind(257), 16);
        assert_eq!(kind(65_536), 16);
        assert_eq!(kind(65_537), 64);
    }

    /// A condition's bits, through chunks with and without nulls: 0, 1 and NaN, one byte a row.
    #[test]
    fn conditions_are_coded_from_their_bits() {
        let mut column = BooleanChunked::new("c".into(), &[Some(true), None, Some(false)]);
        column
            .append(&BooleanChunked::new("c".into(), &[false, true, true]))
            .unwrap();
        let mut builder = ValuesBuilder::new(column.len());
        builder.push_conditions(&column);
        builder.push_conditions(&BooleanChunked::new("c".into(), &[None, Some(true)]));
        let built = builder.finish();
        assert!(matches!(built, IndicatorValues::Coded8 { .. }));
        let nan = f64::NAN;
        assert_eq!(
            bits(&built.view().to_vec()),
            bits(&[1.0, nan, 0.0, 0.0, 1.0, 1.0, nan, 1.0])
        );
    }
}
