//! From text to typed values: the parser every value of validation goes through.
//!
//! [`ColumnParser`] takes a field's values in row order, a column or a block of it at a time, as
//! text (`None` for an empty field), types them, checks them with the rules of [`super::rules`]
//! and collects them into an [`Output`]: the coded column and, for a field with user-missing
//! codes, the analysis column.
//! Validation of a text column ([`parse_column`]) and the streaming CSV pass
//! ([`super::stream`]) both use it, so they agree value for value.
//!
//! The usual value is taken at once ([`ColumnParser::push_column`], one loop per field type):
//! plain digits or a short decimal that the field's codebook or range vouches for (`Plain`),
//! a text its pattern matches, an empty optional value.
//! Anything else goes through every check; a property test holds the two to the same result.

use polars::prelude::*;
use polars_arrow::array::{Utf8ViewArray, View};
use polars_arrow::bitmap::{Bitmap, MutableBitmap};
use polars_buffer::Buffer;

use super::rules::{Checker, Problem, TypedColumn};
use crate::diag::catalog;
use crate::spec::{Code, FieldPlan, FieldType};

/// Parses and checks one field's text column.
pub fn parse_column(
    field: &FieldPlan,
    order: usize,
    text: &StringChunked,
    missing_values: &[String],
    decimal_comma: bool,
    problems: &mut Vec<Problem>,
) -> TypedColumn {
    let mut parser = ColumnParser::new(field, order, missing_values, decimal_comma, text.len());
    parser.push_column(0, text.iter());
    let (typed, found) = parser.finish();
    problems.extend(found);
    typed
}

/// Parses and checks one field's values, pushed in row order. Validation of a text column and
/// the streaming CSV reader ([`super::stream`]) both push through it, so the two agree value
/// for value: the same types, checks, problems and messages.
pub struct ColumnParser<'a> {
    check: Checker<'a>,
    missing_values: &'a [String],
    decimal_comma: bool,
    /// Values that pass every check without being user-missing, known without [`Checker::code`].
    plain: Plain,
    /// Whether [`ColumnParser::push_plain`] may take a value: the field has one column (no
    /// user-missing codes), and no system-missing text reads as one of its plain values.
    fast: bool,
    output: Output,
}

/// The typed values pushed so far: as answered, and for analysis (built only for a field with
/// user-missing codes, whose values are null there).
pub struct Output {
    name: PlSmallStr,
    coded: Builder,
    analysis: Option<Builder>,
    /// Whether some value was a user-missing code.
    user_missing: bool,
}

/// The values of a column with their validity.
enum Builder {
    Int(Values<i64>),
    /// An integer field whose accepted values all fit (see [`int32_field`]).
    Int32(Values<i32>),
    Num(Values<f64>),
    /// Days since 1970-01-01.
    Date(Values<i32>),
    Bool(Values<bool>),
    /// The texts one after another, and where each ends (a null ends where the last did).
    Str(String, Values<usize>),
    /// Texts as polars holds them: what an [`Output::accumulator`] (a streamed block's column)
    /// collects.
    Views(BlockTexts),
    /// The [`Builder::Views`] of a file's blocks, one after another ([`Output::joined`]).
    Joined(Joined),
}

/// A block's texts as polars' views, the memory kept from block to block: the views, the bytes
/// of the texts longer than a view holds (their views point into them), and the validity.
#[derive(Default)]
struct BlockTexts {
    views: Vec<View>,
    bytes: Vec<u8>,
    valid: MutableBitmap,
    /// Bytes of all texts.
    total_bytes: usize,
}

impl BlockTexts {
    #[inline]
    fn push(&mut self, text: Option<&str>) {
        match text {
            Some(text) => {
                let text = text.as_bytes();
                // The offset is within a block, far below 4 GiB (see `ingest::csv::fields::split`).
                let view = View::new_from_bytes(text, 0, self.bytes.len() as u32);
                if text.len() > View::MAX_INLINE_SIZE as usize {
                    self.bytes.extend_from_slice(text);
                }
                self.views.push(view);
                self.valid.push(true);
                self.total_bytes += text.len();
            }
            None => {
                self.views.push(View::default());
                self.valid.push(false);
            }
        }
    }

    fn clear(&mut self) {
        self.views.clear();
        self.bytes.clear();
        self.valid.clear();
        self.total_bytes = 0;
    }
}

/// Blocks' texts as polars holds them, made one array when finished: their views, and the
/// bytes of their longer texts copied together (a block's own buffers are only partly filled).
struct Joined {
    views: Vec<View>,
    /// Full buffers, and the one being filled.
    buffers: Vec<Buffer<u8>>,
    bytes: Vec<u8>,
    valid: MutableBitmap,
    /// Bytes of all texts, and of all buffers.
    total_bytes: usize,
    total_buffer: usize,
    /// Values the column is expected to hold: the first block's bytes per value set the room
    /// of the buffer.
    expected: usize,
}

impl Joined {
    fn new(capacity: usize) -> Joined {
        Joined {
            views: Vec::with_capacity(capacity),
            buffers: Vec::new(),
            bytes: Vec::new(),
            valid: MutableBitmap::with_capacity(capacity),
            total_bytes: 0,
            total_buffer: 0,
            expected: capacity,
        }
    }

    fn append(&mut self, block: &BlockTexts) {
        if self.bytes.len() + block.bytes.len() > self.bytes.capacity() {
            // Room for the whole column as the first block's texts suggest, then for an eighth
            // more at a time.
            let room = if self.total_buffer == 0 {
                let per_value = block.bytes.len() as f64 / block.views.len().max(1) as f64;
                (per_value * self.expected as f64 * 1.05) as usize
            } else {
                self.total_buffer / 8
            };
            self.flush();
            let most = u32::MAX as usize / 2;
            self.bytes = Vec::with_capacity(room.clamp(1 << 20, most).max(block.bytes.len()));
        }
        let (buffer, base) = (self.buffers.len() as u32, self.bytes.len() as u32);
        self.bytes.extend_from_slice(&block.bytes);
        self.views.extend(block.views.iter().map(|view| {
            let mut view = *view;
            // A longer text's view points into the bytes (an inline one holds the text).
            if view.length > View::MAX_INLINE_SIZE {
                view.buffer_idx = buffer;
                view.offset += base;
            }
            view
        }));
        self.valid
            .extend_from_slice(block.valid.as_slice(), 0, block.valid.len());
        self.total_bytes += block.total_bytes;
        self.total_buffer += block.bytes.len();
    }

    /// Ends the buffer being filled.
    fn flush(&mut self) {
        if !self.bytes.is_empty() {
            self.buffers.push(std::mem::take(&mut self.bytes).into());
        }
    }

    fn finish(mut self, name: PlSmallStr) -> Column {
        self.flush();
        let validity = (self.valid.unset_bits() > 0).then(|| self.valid.into());
        // SAFETY: every view was made from a `str` by `View::new_from_bytes`, and a longer
        // text's view points to where its block's bytes were copied (inline ones hold the
        // text); the totals are the sums of the bytes of the texts and of the buffers.
        let array = unsafe {
            Utf8ViewArray::new_unchecked(
                ArrowDataType::Utf8View,
                self.views.into(),
                self.buffers.into(),
                validity,
                Some(self.total_bytes),
                self.total_buffer,
            )
        };
        StringChunked::with_chunk(name, array).into_column()
    }
}

/// Values in row order and which are present; an absent one holds the default.
struct Values<T> {
    values: Vec<T>,
    valid: MutableBitmap,
}

impl<T: Copy + Default> Values<T> {
    fn with_capacity(capacity: usize) -> Values<T> {
        Values {
            values: Vec::with_capacity(capacity),
            valid: MutableBitmap::with_capacity(capacity),
        }
    }

    #[inline]
    fn push(&mut self, value: Option<T>) {
        self.push_as(value.unwrap_or_default(), value.is_some());
    }

    #[inline]
    fn push_as(&mut self, value: T, valid: bool) {
        self.values.push(value);
        self.valid.push(valid);
    }

    /// Takes a value that `plain` reads (and vouches for), or an absent one when `optional`;
    /// returns `false`, having pushed nothing, for any other.
    #[inline(always)]
    fn take(
        &mut self,
        text: Option<&str>,
        optional: bool,
        plain: impl Fn(&str) -> Option<T>,
    ) -> bool {
        match text.map(plain) {
            Some(Some(value)) => self.push_as(value, true),
            None if optional => self.push_as(T::default(), false),
            _ => return false,
        }
        true
    }

    fn clear(&mut self) {
        self.values.clear();
        self.valid.clear();
    }

    /// Appends `other`'s values after these.
    fn append(&mut self, other: &Values<T>) {
        self.values.extend_from_slice(&other.values);
        self.valid
            .extend_from_slice(other.valid.as_slice(), 0, other.valid.len());
    }

    /// The values, and the validity where some are absent.
    fn into_parts(self) -> (Vec<T>, Option<Bitmap>) {
        let validity = (self.valid.unset_bits() > 0).then(|| self.valid.into());
        (self.values, validity)
    }
}

/// A typed value on its way into a [`Builder`].
#[derive(Clone, Copy)]
enum Value<'s> {
    Int(i64),
    Num(f64),
    Str(&'s str),
    Bool(bool),
    Date(i32),
}

/// Whether every value an integer field accepts fits an `i32`: its codebook or its range is
/// bounded within, and so are its user-missing codes and ranges (kept as answered). Such a
/// field is an Int32 column: half the memory of a wave's codes.
pub fn int32_field(field: &FieldPlan) -> bool {
    let fits = |v: f64| f64::from(i32::MIN) <= v && v <= f64::from(i32::MAX);
    let code_fits = |code: &Code| match code {
        Code::Int(v) => i32::try_from(*v).is_ok(),
        _ => false,
    };
    let codebook =
        !field.categories.is_empty() && field.categories.iter().all(|(c, _)| code_fits(c));
    let range = field.minimum.is_some_and(fits) && field.maximum.is_some_and(fits);
    field.field_type == FieldType::Integer
        && (codebook || range)
        && field.missing.iter().all(|(c, _)| code_fits(c))
        && field
            .missing_ranges
            .iter()
            .all(|(low, high)| fits(*low) && fits(*high))
}

impl Builder {
    fn new(field: &FieldPlan, capacity: usize) -> Builder {
        match field.field_type {
            FieldType::Integer if int32_field(field) => {
                Builder::Int32(Values::with_capacity(capacity))
            }
            FieldType::Integer => Builder::Int(Values::with_capacity(capacity)),
            FieldType::Number => Builder::Num(Values::with_capacity(capacity)),
            FieldType::String => Builder::Str(String::new(), Values::with_capacity(capacity)),
            FieldType::Boolean => Builder::Bool(Values::with_capacity(capacity)),
            FieldType::Date => Builder::Date(Values::with_capacity(capacity)),
        }
    }

    #[inline]
    fn push(&mut self, value: Option<Value>) {
        match (self, value) {
            (Builder::Int(values), Some(Value::Int(v))) => values.push(Some(v)),
            // Only accepted values arrive here, and they all fit (`int32_field`).
            (Builder::Int32(values), Some(Value::Int(v))) => values.push(Some(v as i32)),
            (Builder::Num(values), Some(Value::Num(v))) => values.push(Some(v)),
            (Builder::Bool(values), Some(Value::Bool(v))) => values.push(Some(v)),
            (Builder::Date(values), Some(Value::Date(v))) => values.push(Some(v)),
            (Builder::Str(text, ends), Some(Value::Str(v))) => {
                text.push_str(v);
                ends.push_as(text.len(), true);
            }
            (Builder::Views(texts), Some(Value::Str(v))) => texts.push(Some(v)),
            (Builder::Joined(_), _) => unreachable!("a joined column takes whole blocks"),
            (Builder::Int(values), _) => values.push(None),
            (Builder::Int32(values), _) => values.push(None),
            (Builder::Num(values), _) => values.push(None),
            (Builder::Bool(values), _) => values.push(None),
            (Builder::Date(values), _) => values.push(None),
            (Builder::Str(text, ends), _) => ends.push_as(text.len(), false),
            (Builder::Views(texts), _) => texts.push(None),
        }
    }

    fn finish(self, name: PlSmallStr) -> Column {
        match self {
            Builder::Int(values) => {
                let (values, validity) = values.into_parts();
                Int64Chunked::from_vec_validity(name, values, validity).into_column()
            }
            Builder::Int32(values) => {
                let (values, validity) = values.into_parts();
                Int32Chunked::from_vec_validity(name, values, validity).into_column()
            }
            Builder::Num(values) => {
                let (values, validity) = values.into_parts();
                Float64Chunked::from_vec_validity(name, values, validity).into_column()
            }
            Builder::Date(values) => {
                let (values, validity) = values.into_parts();
                Int32Chunked::from_vec_validity(name, values, validity)
                    .into_date()
                    .into_column()
            }
            Builder::Bool(values) => BooleanChunked::from_iter_options(
                name,
                values
                    .values
                    .into_iter()
                    .zip(values.valid.iter())
                    .map(|(v, valid)| valid.then_some(v)),
            )
            .into_column(),
            Builder::Str(text, ends) => {
                let mut builder = StringChunkedBuilder::new(name, ends.values.len());
                let mut start = 0;
                for (&end, valid) in ends.values.iter().zip(ends.valid.iter()) {
                    if valid {
                        builder.append_value(&text[start..end]);
                    } else {
                        builder.append_null();
                    }
                    start = end;
                }
                builder.finish().into_column()
            }
            Builder::Views(texts) => {
                let mut joined = Joined::new(texts.views.len());
                joined.append(&texts);
                joined.finish(name)
            }
            Builder::Joined(joined) => joined.finish(name),
        }
    }

    /// Appends a block's values (`other`, made for the same field) after these.
    fn append(&mut self, other: &Builder) {
        match (self, other) {
            (Builder::Int(all), Builder::Int(more)) => all.append(more),
            (Builder::Int32(all), Builder::Int32(more)) => all.append(more),
            (Builder::Num(all), Builder::Num(more)) => all.append(more),
            (Builder::Date(all), Builder::Date(more)) => all.append(more),
            (Builder::Bool(all), Builder::Bool(more)) => all.append(more),
            (Builder::Joined(all), Builder::Views(more)) => all.append(more),
            _ => unreachable!("a field's builders are all of the one kind its type makes"),
        }
    }

    /// Empties a block's builder, its memory kept for the next block.
    fn clear(&mut self) {
        match self {
            Builder::Int(values) => values.clear(),
            Builder::Int32(values) => values.clear(),
            Builder::Num(values) => values.clear(),
            Builder::Date(values) => values.clear(),
            Builder::Bool(values) => values.clear(),
            Builder::Str(text, ends) => {
                text.clear();
                ends.clear();
            }
            Builder::Views(texts) => texts.clear(),
            Builder::Joined(_) => unreachable!("a joined column is never emptied"),
        }
    }
}

impl Output {
    /// An empty output for `field`'s values.
    pub fn new(field: &FieldPlan, capacity: usize) -> Output {
        let has_user_missing = !field.missing.is_empty() || !field.missing_ranges.is_empty();
        let analysis = (has_user_missing
            && !matches!(field.field_type, FieldType::Boolean | FieldType::Date))
        .then(|| Builder::new(field, capacity));
        Output {
            name: PlSmallStr::from(field.name.as_str()),
            coded: Builder::new(field, capacity),
            analysis,
            user_missing: false,
        }
    }

    /// An empty output that collects a streamed block's column, texts straight into polars'
    /// views. [`Output::clear`] empties it for the next block.
    pub fn accumulator(field: &FieldPlan, capacity: usize) -> Output {
        Output::with_texts(field, capacity, || Builder::Views(BlockTexts::default()))
    }

    /// Empties a block's output, its memory kept for the next block.
    pub fn clear(&mut self) {
        self.coded.clear();
        if let Some(analysis) = &mut self.analysis {
            analysis.clear();
        }
        self.user_missing = false;
    }

    /// An empty output that joins the blocks' [`Output::accumulator`]s of a whole column
    /// ([`Output::append`]), with room for `capacity` values.
    pub fn joined(field: &FieldPlan, capacity: usize) -> Output {
        Output::with_texts(field, capacity, || Builder::Joined(Joined::new(capacity)))
    }

    /// [`Output::new`] with `texts` for the builders of texts.
    fn with_texts(field: &FieldPlan, capacity: usize, texts: impl Fn() -> Builder) -> Output {
        let mut output = Output::new(field, capacity);
        for builder in std::iter::once(&mut output.coded).chain(output.analysis.as_mut()) {
            if let Builder::Str(..) = builder {
                *builder = texts();
            }
        }
        output
    }

    /// Appends the values of the next block, an [`Output::accumulator`] of the same field.
    pub fn append(&mut self, other: &Output) {
        self.coded.append(&other.coded);
        if let (Some(all), Some(more)) = (&mut self.analysis, &other.analysis) {
            all.append(more);
        }
        self.user_missing |= other.user_missing;
    }

    /// The typed column; the analysis column shares its memory where no value was
    /// user-missing.
    pub fn finish(self) -> TypedColumn {
        let coded = self.coded.finish(self.name.clone());
        let analysis = match self.analysis {
            Some(analysis) if self.user_missing => analysis.finish(self.name),
            _ => coded.clone(),
        };
        TypedColumn { coded, analysis }
    }
}

/// Which parsed numbers are plainly valid: in the codebook or range, not user-missing. A
/// shortcut only: a value it does not vouch for goes through [`Checker::code`].
enum Plain {
    /// Integer codes `low..low + valid.len()`, valid where `true`.
    Codes { low: i64, valid: Vec<bool> },
    /// Any number within the bounds (the field has no codebook and no user-missing codes).
    Range { minimum: f64, maximum: f64 },
    /// Every value is checked in full.
    None,
}

impl Plain {
    fn of(field: &FieldPlan) -> Plain {
        let numeric = matches!(field.field_type, FieldType::Integer | FieldType::Number);
        let no_user_missing = field.missing.is_empty() && field.missing_ranges.is_empty();
        if !numeric {
            return Plain::None;
        }
        if field.categories.is_empty() {
            if !no_user_missing {
                return Plain::None;
            }
            return Plain::Range {
                minimum: field.minimum.unwrap_or(f64::NEG_INFINITY),
                maximum: field.maximum.unwrap_or(f64::INFINITY),
            };
        }
        if field.field_type != FieldType::Integer {
            return Plain::None;
        }
        let codes: Option<Vec<i64>> = field
            .categories
            .iter()
            .map(|(code, _)| match code {
                Code::Int(v) => Some(*v),
                _ => None,
            })
            .collect();
        let Some(codes) = codes else {
            return Plain::None;
        };
        let (Some(&low), Some(&high)) = (codes.iter().min(), codes.iter().max()) else {
            return Plain::None;
        };
        if high - low >= 1 << 16 {
            return Plain::None;
        }
        let user_missing = |v: i64| {
            field.missing.iter().any(|(c, _)| *c == Code::Int(v))
                || field
                    .missing_ranges
                    .iter()
                    .any(|(l, h)| *l <= v as f64 && v as f64 <= *h)
        };
        let in_range = |v: i64| {
            field.minimum.is_none_or(|m| v as f64 >= m)
                && field.maximum.is_none_or(|m| v as f64 <= m)
        };
        let mut valid = vec![false; (high - low + 1) as usize];
        for &code in &codes {
            valid[(code - low) as usize] = !user_missing(code) && in_range(code);
        }
        Plain::Codes { low, valid }
    }

    #[inline]
    fn int(&self, v: i64) -> bool {
        match self {
            Plain::Codes { low, valid } => v
                .checked_sub(*low)
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| valid.get(i).copied())
                .unwrap_or(false),
            Plain::Range { minimum, maximum } => *minimum <= v as f64 && v as f64 <= *maximum,
            Plain::None => false,
        }
    }

    #[inline]
    fn num(&self, v: f64) -> bool {
        match self {
            Plain::Range { minimum, maximum } => *minimum <= v && v <= *maximum,
            _ => false,
        }
    }
}

impl<'a> ColumnParser<'a> {
    pub fn new(
        field: &'a FieldPlan,
        order: usize,
        missing_values: &'a [String],
        decimal_comma: bool,
        capacity: usize,
    ) -> ColumnParser<'a> {
        let output = Output::new(field, capacity);
        let mark = if decimal_comma { b',' } else { b'.' };
        let fast = output.analysis.is_none()
            && match field.field_type {
                FieldType::Integer => !missing_values.iter().any(|m| digits(m).is_some()),
                FieldType::Number => !missing_values
                    .iter()
                    .any(|m| short_decimal(m.as_bytes(), mark).is_some()),
                FieldType::String => field.categories.is_empty() && field.missing.is_empty(),
                FieldType::Boolean | FieldType::Date => false,
            };
        ColumnParser {
            check: Checker {
                field,
                // A clone has its own match cache: no contention with other threads' parses.
                pattern: field.pattern.clone(),
                order,
                problems: Vec::new(),
            },
            missing_values,
            decimal_comma,
            plain: Plain::of(field),
            fast,
            output,
        }
    }

    /// This parser, to collect one block's column of a streamed file ([`Self::push_column`])
    /// into `output`: an empty [`Output::accumulator`] of the field.
    pub fn collecting(mut self, output: Output) -> ColumnParser<'a> {
        self.output = output;
        self
    }

    /// The value of the next row (`None`: an empty field). `row` names it in problems.
    pub fn push(&mut self, row: usize, text: Option<&str>) {
        self.push_column(row, std::iter::once(text));
    }

    /// The values of the next rows, the first of them row `first_row`. The usual value is
    /// taken at once, by a loop chosen for the field's type before the first value: plain
    /// digits or a short decimal that `Plain` vouches for, a text its pattern matches, an
    /// empty optional value. Any other goes through `Self::push_checked`.
    #[inline]
    pub fn push_column<'s>(
        &mut self,
        first_row: usize,
        values: impl Iterator<Item = Option<&'s str>>,
    ) {
        match (&self.output.coded, self.fast) {
            (Builder::Int32(_), true) => self.run(first_row, values, |p, text| p.take_int32(text)),
            (Builder::Int(_), true) => self.run(first_row, values, |p, text| p.take_int(text)),
            (Builder::Num(_), true) => self.run(first_row, values, |p, text| p.take_number(text)),
            (Builder::Str(..) | Builder::Views(_), true) => {
                self.run(first_row, values, |p, text| p.take_string(text))
            }
            _ => self.run(first_row, values, |_, _| false),
        }
    }

    /// Pushes each value that `take` does not take through every check, the first as row
    /// `first_row`.
    #[inline(always)]
    fn run<'s>(
        &mut self,
        first_row: usize,
        values: impl Iterator<Item = Option<&'s str>>,
        take: impl Fn(&mut Self, Option<&'s str>) -> bool,
    ) {
        // Internal iteration: the loop over a table's bounds compiles to one loop with the
        // value's checks inlined.
        let mut row = first_row;
        values.for_each(|text| {
            if !take(self, text) {
                self.push_checked(row, text);
            }
            row += 1;
        });
    }

    #[inline(always)]
    fn take_int32(&mut self, text: Option<&str>) -> bool {
        let (plain, optional) = (&self.plain, !self.check.field.required);
        let Builder::Int32(values) = &mut self.output.coded else {
            return false;
        };
        // `plain` vouches only for codes of an Int32 field, which fit.
        values.take(text, optional, |s| {
            digits(s).filter(|&v| plain.int(v)).map(|v| v as i32)
        })
    }

    #[inline(always)]
    fn take_int(&mut self, text: Option<&str>) -> bool {
        let (plain, optional) = (&self.plain, !self.check.field.required);
        let Builder::Int(values) = &mut self.output.coded else {
            return false;
        };
        values.take(text, optional, |s| digits(s).filter(|&v| plain.int(v)))
    }

    #[inline(always)]
    fn take_number(&mut self, text: Option<&str>) -> bool {
        let (plain, optional) = (&self.plain, !self.check.field.required);
        let mark = if self.decimal_comma { b',' } else { b'.' };
        let Builder::Num(values) = &mut self.output.coded else {
            return false;
        };
        values.take(text, optional, |s| {
            short_decimal(s.as_bytes(), mark).filter(|&v| plain.num(v))
        })
    }

    #[inline(always)]
    fn take_string(&mut self, text: Option<&str>) -> bool {
        let plain = match text {
            Some(s) => {
                !s.is_empty()
                    && !self.missing_values.iter().any(|m| m == s)
                    && self.check.pattern.as_ref().is_none_or(|p| p.is_match(s))
            }
            None => !self.check.field.required,
        };
        if plain {
            match (&mut self.output.coded, text) {
                (Builder::Views(texts), text) => texts.push(text),
                (Builder::Str(all, ends), Some(s)) => {
                    all.push_str(s);
                    ends.push_as(all.len(), true);
                }
                (Builder::Str(all, ends), None) => ends.push_as(all.len(), false),
                _ => return false,
            }
        }
        plain
    }

    /// The value of the next row through every check.
    fn push_checked(&mut self, row: usize, text: Option<&str>) {
        let parsed = match text.filter(|s| !self.missing_values.iter().any(|m| m == s)) {
            None => self.check.required(row, text),
            Some(s) => self.parse(row, s),
        };
        let output = &mut self.output;
        output.coded.push(parsed.map(|(v, _)| v));
        if let Some(analysis) = &mut output.analysis {
            let user_missing = matches!(parsed, Some((_, true)));
            output.user_missing |= user_missing;
            analysis.push(parsed.filter(|_| !user_missing).map(|(v, _)| v));
        }
    }

    /// A present value, typed and checked: `(value, is user-missing)`, or `None` with a problem.
    #[inline]
    fn parse<'s>(&mut self, row: usize, s: &'s str) -> Option<(Value<'s>, bool)> {
        let check = &mut self.check;
        match check.field.field_type {
            FieldType::Integer => match parse_integer(s) {
                Some(v) if self.plain.int(v) => Some((Value::Int(v), false)),
                Some(v) => check
                    .category(row, s, Code::Int(v), v as f64)
                    .map(|user_missing| (Value::Int(v), user_missing)),
                None => check.fail(
                    row,
                    s,
                    "type",
                    catalog::V010,
                    format!("{s:?} is not an integer"),
                ),
            },
            FieldType::Number => match parse_number(s, self.decimal_comma) {
                Some(v) if self.plain.num(v) => Some((Value::Num(v), false)),
                Some(v) => check
                    .category(row, s, Code::Num(v), v)
                    .map(|user_missing| (Value::Num(v), user_missing)),
                None => {
                    let mark = if self.decimal_comma {
                        "decimal comma"
                    } else {
                        "decimal point"
                    };
                    check.fail(
                        row,
                        s,
                        "type",
                        catalog::V010,
                        format!("{s:?} is not a number (with a {mark})"),
                    )
                }
            },
            FieldType::String => check
                .string(row, s)
                .map(|user_missing| (Value::Str(s), user_missing)),
            FieldType::Boolean => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Some((Value::Bool(true), false)),
                "false" | "0" => Some((Value::Bool(false), false)),
                _ => check.fail(
                    row,
                    s,
                    "type",
                    catalog::V010,
                    format!("{s:?} is not a boolean (true/false/1/0)"),
                ),
            },
            FieldType::Date => match chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
                Ok(date) => {
                    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
                    Some((Value::Date((date - epoch).num_days() as i32), false))
                }
                Err(_) => check.fail(
                    row,
                    s,
                    "type",
                    catalog::V010,
                    format!("{s:?} is not a date (YYYY-MM-DD)"),
                ),
            },
        }
    }

    /// The typed column (with its analysis column) and the problems found.
    pub fn finish(self) -> (TypedColumn, Vec<Problem>) {
        let (output, problems) = self.into_parts();
        (output.finish(), problems)
    }

    /// The values pushed, not yet a column, and the problems found.
    pub fn into_parts(self) -> (Output, Vec<Problem>) {
        (self.output, self.check.problems)
    }
}

/// An integer as `s.trim().parse::<i64>()` reads it; plain digits (the usual code) are read
/// directly.
#[inline]
pub fn parse_integer(s: &str) -> Option<i64> {
    digits(s).or_else(|| s.trim().parse().ok())
}

/// 1 to 18 ASCII digits as a number; `None` for anything else.
#[inline]
fn digits(s: &str) -> Option<i64> {
    let bytes = s.as_bytes();
    if bytes.is_empty() || bytes.len() > 18 {
        return None;
    }
    let mut value: i64 = 0;
    for &byte in bytes {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value * 10 + i64::from(digit);
    }
    Some(value)
}

/// `[-]digits[<mark>digits]` with at most 15 digits, as the full parser reads it: mantissa and
/// power of ten are both exact in an `f64`, so their quotient is correctly rounded (Clinger's
/// fast path). `None` for anything else, which the full parser then reads.
#[inline]
fn short_decimal(bytes: &[u8], mark: u8) -> Option<f64> {
    const POWERS: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut decimals = 0;
    let mut count = 0;
    for (i, &byte) in digits.iter().enumerate() {
        if byte == mark && decimals == 0 && i > 0 && i + 1 < digits.len() {
            decimals = digits.len() - i - 1;
            continue;
        }
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        mantissa = mantissa * 10 + u64::from(digit);
        count += 1;
    }
    if count > 15 {
        return None;
    }
    let value = mantissa as f64 / POWERS[decimals];
    Some(if negative { -value } else { value })
}

/// Parses a number with the file's decimal mark; the other mark is an error (a thousands
/// separator would otherwise turn `1.234,5` into nonsense).
pub fn parse_number(text: &str, decimal_comma: bool) -> Option<f64> {
    if let Some(value) = short_decimal(text.as_bytes(), if decimal_comma { b',' } else { b'.' }) {
        return Some(value);
    }
    let text = text.trim();
    let (mark, other) = if decimal_comma {
        (b',', b'.')
    } else {
        (b'.', b',')
    };
    if memchr::memchr(other, text.as_bytes()).is_some() {
        return None;
    }
    let value = match memchr::memchr(mark, text.as_bytes()) {
        // Short numbers get their comma replaced on the stack, without an allocation.
        Some(at) if mark == b',' && text.len() <= 64 => {
            let mut buffer = [0u8; 64];
            let buffer = &mut buffer[..text.len()];
            buffer.copy_from_slice(text.as_bytes());
            buffer[at] = b'.';
            std::str::from_utf8(buffer).ok()?.parse::<f64>().ok()?
        }
        Some(_) if mark == b',' => text.replacen(',', ".", 1).parse::<f64>().ok()?,
        _ => text.parse::<f64>().ok()?,
    };
    value.is_finite().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fields with each kind of shortcut: codes, a range, a decimal range, a pattern.
    fn fields() -> Vec<FieldPlan> {
        let field = |name: &str, field_type| FieldPlan {
            name: name.into(),
            field_type,
            label: None,
            required: true,
            categories: Vec::new(),
            missing: Vec::new(),
            missing_ranges: Vec::new(),
            value_labels: Vec::new(),
            minimum: None,
            maximum: None,
            pattern: None,
        };
        let mut codes = field("codes", FieldType::Integer);
        codes.categories = [1, 2, 3, 20, 99]
            .iter()
            .map(|&c| (Code::Int(c), format!("c{c}")))
            .collect();
        codes.maximum = Some(20.0);
        let mut range = field("range", FieldType::Integer);
        range.minimum = Some(2012.0);
        range.maximum = Some(2030.0);
        let mut open = field("open", FieldType::Integer);
        open.minimum = Some(-5.0);
        let mut hours = field("hours", FieldType::Number);
        hours.minimum = Some(0.0);
        hours.maximum = Some(168.0);
        let mut id = field("id", FieldType::String);
        id.pattern = Some(crate::spec::schema::Pattern::new(
            regex::Regex::new("^(?:GM[0-9]{2})$").unwrap(),
        ));
        vec![codes, range, open, hours, id]
    }

    use proptest::strategy::Strategy;

    proptest::proptest! {
        /// The shortcuts of `ColumnParser::push` (and `Plain`) take a value only as the full
        /// checks would: the same column, the same problems.
        #[test]
        fn the_shortcut_agrees_with_the_full_checks(
            values in proptest::collection::vec(
                proptest::prop_oneof![
                    "|NA|[0-9]{1,4}|-?[0-9]{0,3}[.,]?[0-9]{0,3}| 7|20[0-9]{2}|GM[0-9]{1,3}",
                    // The edges of the codebooks and ranges above.
                    proptest::sample::select(vec![
                        "1", "3", "4", "20", "99", "2011", "2012", "2030", "2031", "-5", "-6",
                        "0", "168", "168,5", "168.5", "-0", "99999999999999999999",
                    ])
                    .prop_map(String::from),
                ],
                1..60,
            ),
            comma: bool,
        ) {
            let missing = vec!["".to_string(), "NA".to_string()];
            for field in &fields() {
                let mut fast = ColumnParser::new(field, 0, &missing, comma, 0);
                let mut full = ColumnParser::new(field, 0, &missing, comma, 0);
                proptest::prop_assert!(fast.fast, "{} takes the shortcut", field.name);
                // The reference: no shortcut, every number through `Checker::code`.
                full.fast = false;
                full.plain = Plain::None;
                for (row, value) in values.iter().enumerate() {
                    let text = Some(value.as_str()).filter(|v| !v.is_empty());
                    fast.push(row, text);
                    full.push(row, text);
                }
                let (fast, fast_problems) = fast.finish();
                let (full, full_problems) = full.finish();
                proptest::prop_assert!(fast.coded.equals_missing(&full.coded), "{}", field.name);
                proptest::prop_assert_eq!(fast_problems, full_problems);
            }
        }
    }

    #[test]
    fn blocks_of_texts_join_into_one_column() {
        // Inline and longer texts, empty ones and nulls; over 1 MiB of longer texts, so that
        // the joined bytes fill more than one buffer.
        let texts: Vec<Option<String>> = (0..120_000)
            .map(|i| match i % 7 {
                0 => None,
                1 => Some("x".repeat(i % 30)),
                _ => Some(format!("respondent-{i:06}-{}", "y".repeat(i % 5))),
            })
            .collect();
        let expected =
            StringChunked::from_iter_options("t".into(), texts.iter().map(|t| t.as_deref()));
        let mut joined = Joined::new(1);
        let mut block = BlockTexts::default();
        for run in texts.chunks(997) {
            for text in run {
                block.push(text.as_deref());
            }
            joined.append(&block);
            block.clear();
        }
        assert!(
            !joined.buffers.is_empty(),
            "the texts fill more than one buffer"
        );
        let column = joined.finish("t".into());
        assert!(column.equals_missing(&expected.into_column()));
    }

    #[test]
    fn numbers_honour_the_decimal_mark() {
        assert_eq!(parse_number("12,5", true), Some(12.5));
        assert_eq!(parse_number("12.5", true), None);
        assert_eq!(parse_number("12.5", false), Some(12.5));
        assert_eq!(parse_number("12,5", false), None);
        assert_eq!(parse_number("inf", false), None);
        assert_eq!(parse_number(" 7 ", false), Some(7.0));
        assert_eq!(parse_number("1,2,3", true), None);
        assert_eq!(
            parse_number("-0", true).map(f64::is_sign_negative),
            Some(true)
        );
        assert_eq!(parse_number(",5", true), Some(0.5));
    }

    proptest::proptest! {
        /// The short paths read numbers exactly as the standard library's parsers do.
        #[test]
        fn short_paths_agree_with_the_full_parsers(
            text in "-?[0-9]{0,17}([.,][0-9]{0,17})?|[ +]?[0-9]{1,19} ?",
            comma: bool,
        ) {
            let (mark, other) = if comma { (',', '.') } else { ('.', ',') };
            let full = if text.contains(other) {
                None
            } else {
                text.trim().replacen(mark, ".", 1).parse::<f64>().ok().filter(|v| v.is_finite())
            };
            let ours = parse_number(&text, comma);
            proptest::prop_assert_eq!(ours.map(f64::to_bits), full.map(f64::to_bits), "{:?}", text);
            proptest::prop_assert_eq!(parse_integer(&text), text.trim().parse::<i64>().ok());
        }
    }
}
