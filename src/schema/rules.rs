//! The checks of validation, one function each.
//!
//! | rule id       | code | what it checks                                              |
//! |---------------|------|-------------------------------------------------------------|
//! | `type`        | V010 | the text parses as the field's type (decimal mark honoured) |
//! | `category`    | V011 | a code is in `categories` or `missing`                      |
//! | `minimum`     | V012 | a number is at least `minimum`                              |
//! | `maximum`     | V012 | a number is at most `maximum`                               |
//! | `pattern`     | V013 | a string matches `pattern`                                  |
//! | `required`    | V014 | a required value is present                                 |
//! | `primary_key` | V015 | the primary key is present and unique                       |
//! | *rule id*     | V016 | a routing rule of the schema holds                          |
//! | `field_count` | V017 | a CSV record has as many fields as the header               |
//!
//! Why it matters: a value that silently becomes null, or a code outside the codebook counted
//! as an answer, changes published percentages without anybody noticing. Every problem is a
//! row of `private/rejects.parquet` naming the row, column, raw value and rule.

use std::borrow::Cow;
use std::collections::HashMap;

use polars::prelude::*;

use crate::ingest::RawFrame;
use crate::spec::{Code, FieldPlan, FieldType, RulePlan, SchemaPlan};

/// One problem with one value (or one row, for routing rules).
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// 0-based data row of the input file.
    pub row: usize,
    /// Sort key within a row: the field's position, then rules after all fields.
    pub order: usize,
    /// Primary key of the row, filled in by `validate`.
    pub key: Option<String>,
    pub column: String,
    pub value: Option<String>,
    pub rule: String,
    pub code: &'static str,
    pub message: String,
}

/// A parsed column: as answered, and for analysis.
pub struct TypedColumn {
    pub coded: Column,
    pub analysis: Column,
}

/// Parses and checks one field's text column.
pub fn parse_column(
    field: &FieldPlan,
    order: usize,
    text: &StringChunked,
    missing_values: &[String],
    decimal_comma: bool,
    problems: &mut Vec<Problem>,
) -> TypedColumn {
    // A clone has its own match cache: no contention with other threads' parses.
    let pattern = field.pattern.clone();
    let mut check = Checker {
        field,
        pattern: pattern.as_ref(),
        order,
        problems,
    };
    let name = PlSmallStr::from(field.name.as_str());
    let is_missing = |s: &str| missing_values.iter().any(|m| m == s);
    match field.field_type {
        FieldType::Integer => {
            let mut coded = Vec::with_capacity(text.len());
            let mut analysis = Vec::with_capacity(text.len());
            for (row, value) in text.iter().enumerate() {
                let parsed = match value.filter(|s| !is_missing(s)) {
                    None => check.required(row, value),
                    Some(s) => match s.trim().parse::<i64>() {
                        Ok(v) => check
                            .code(row, s, Code::Int(v), v as f64)
                            .map(|user_missing| (v, user_missing)),
                        Err(_) => {
                            check.fail(row, s, "type", "V010", format!("{s:?} is not an integer"))
                        }
                    },
                };
                coded.push(parsed.map(|(v, _)| v));
                analysis.push(parsed.and_then(|(v, user_missing)| (!user_missing).then_some(v)));
            }
            let user_missing = has_user_missing(&coded, &analysis);
            typed(
                Int64Chunked::from_iter_options(name.clone(), coded.into_iter()),
                user_missing.then(|| Int64Chunked::from_iter_options(name, analysis.into_iter())),
            )
        }
        FieldType::Number => {
            let mut coded = Vec::with_capacity(text.len());
            let mut analysis = Vec::with_capacity(text.len());
            for (row, value) in text.iter().enumerate() {
                let parsed = match value.filter(|s| !is_missing(s)) {
                    None => check.required(row, value),
                    Some(s) => match parse_number(s, decimal_comma) {
                        Some(v) => check
                            .code(row, s, Code::Num(v), v)
                            .map(|user_missing| (v, user_missing)),
                        None => {
                            let mark = if decimal_comma {
                                "decimal comma"
                            } else {
                                "decimal point"
                            };
                            check.fail(
                                row,
                                s,
                                "type",
                                "V010",
                                format!("{s:?} is not a number (with a {mark})"),
                            )
                        }
                    },
                };
                coded.push(parsed.map(|(v, _)| v));
                analysis.push(parsed.and_then(|(v, user_missing)| (!user_missing).then_some(v)));
            }
            let user_missing = has_user_missing(&coded, &analysis);
            typed(
                Float64Chunked::from_iter_options(name.clone(), coded.into_iter()),
                user_missing.then(|| Float64Chunked::from_iter_options(name, analysis.into_iter())),
            )
        }
        FieldType::String => {
            let mut coded: Vec<Option<&str>> = Vec::with_capacity(text.len());
            let mut analysis: Vec<Option<&str>> = Vec::with_capacity(text.len());
            for (row, value) in text.iter().enumerate() {
                let parsed = match value.filter(|s| !is_missing(s)) {
                    None => check.required(row, value),
                    Some(s) => check.string(row, s).map(|user_missing| (s, user_missing)),
                };
                coded.push(parsed.map(|(v, _)| v));
                analysis.push(parsed.and_then(|(v, user_missing)| (!user_missing).then_some(v)));
            }
            let user_missing = has_user_missing(&coded, &analysis);
            typed(
                StringChunked::from_iter_options(name.clone(), coded.into_iter()),
                user_missing.then(|| StringChunked::from_iter_options(name, analysis.into_iter())),
            )
        }
        FieldType::Boolean => {
            let mut values = Vec::with_capacity(text.len());
            for (row, value) in text.iter().enumerate() {
                let parsed = match value.filter(|s| !is_missing(s)) {
                    None => check.required(row, value),
                    Some(s) => match s.trim().to_ascii_lowercase().as_str() {
                        "true" | "1" => Some((true, false)),
                        "false" | "0" => Some((false, false)),
                        _ => check.fail(
                            row,
                            s,
                            "type",
                            "V010",
                            format!("{s:?} is not a boolean (true/false/1/0)"),
                        ),
                    },
                };
                values.push(parsed.map(|(v, _)| v));
            }
            let column = BooleanChunked::from_iter_options(name, values.into_iter());
            typed(column, None)
        }
        FieldType::Date => {
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
            let mut values = Vec::with_capacity(text.len());
            for (row, value) in text.iter().enumerate() {
                let parsed = match value.filter(|s| !is_missing(s)) {
                    None => check.required(row, value),
                    Some(s) => match chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
                        Ok(date) => Some(((date - epoch).num_days() as i32, false)),
                        Err(_) => check.fail(
                            row,
                            s,
                            "type",
                            "V010",
                            format!("{s:?} is not a date (YYYY-MM-DD)"),
                        ),
                    },
                };
                values.push(parsed.map(|(v, _)| v));
            }
            let days = Int32Chunked::from_iter_options(name, values.into_iter());
            let column = days.into_series().cast(&DataType::Date).map(Column::from);
            match column {
                Ok(column) => TypedColumn {
                    coded: column.clone(),
                    analysis: column,
                },
                Err(_) => unreachable!("Int32 always casts to Date"),
            }
        }
    }
}

/// The coded column, and the analysis column where it differs (user-missing codes nulled);
/// without user-missing values the two share their memory.
fn typed<T: IntoSeries>(coded: T, analysis: Option<T>) -> TypedColumn {
    let coded: Column = coded.into_series().into();
    TypedColumn {
        analysis: analysis.map_or_else(|| coded.clone(), |a| a.into_series().into()),
        coded,
    }
}

/// Whether some value is present as answered but null for analysis.
fn has_user_missing<T>(coded: &[Option<T>], analysis: &[Option<T>]) -> bool {
    coded
        .iter()
        .zip(analysis)
        .any(|(c, a)| c.is_some() && a.is_none())
}

/// Parses a number with the file's decimal mark; the other mark is an error (a thousands
/// separator would otherwise turn `1.234,5` into nonsense).
pub fn parse_number(text: &str, decimal_comma: bool) -> Option<f64> {
    let text = text.trim();
    let value = if decimal_comma {
        if text.contains('.') {
            return None;
        }
        text.replacen(',', ".", 1).parse::<f64>().ok()?
    } else {
        if text.contains(',') {
            return None;
        }
        text.parse::<f64>().ok()?
    };
    value.is_finite().then_some(value)
}

struct Checker<'a> {
    field: &'a FieldPlan,
    pattern: Option<&'a regex::Regex>,
    order: usize,
    problems: &'a mut Vec<Problem>,
}

impl Checker<'_> {
    /// Records a problem; returns `None` so callers can write `check.fail(...)` as the value.
    fn fail<T>(
        &mut self,
        row: usize,
        raw: &str,
        rule: &str,
        code: &'static str,
        message: String,
    ) -> Option<T> {
        self.problems.push(Problem {
            row,
            order: self.order,
            key: None,
            column: self.field.name.clone(),
            value: Some(raw.to_string()),
            rule: rule.to_string(),
            code,
            message,
        });
        None
    }

    /// A system-missing value: fine unless the field is required.
    fn required<T>(&mut self, row: usize, raw: Option<&str>) -> Option<T> {
        if self.field.required {
            self.fail::<T>(
                row,
                raw.unwrap_or(""),
                "required",
                "V014",
                "a value is required".to_string(),
            );
        }
        None
    }

    /// Checks a numeric code; `Some(true)` when it is a user-missing code.
    fn code(&mut self, row: usize, raw: &str, code: Code, value: f64) -> Option<bool> {
        let field = self.field;
        let in_range = |(low, high): &(f64, f64)| *low <= value && value <= *high;
        if field.missing.iter().any(|(c, _)| *c == code)
            || field.missing_ranges.iter().any(in_range)
        {
            return Some(true);
        }
        if !field.categories.is_empty() && !field.categories.iter().any(|(c, _)| *c == code) {
            return self.fail(
                row,
                raw,
                "category",
                "V011",
                format!(
                    "code {code} is not in the codebook of {} ({})",
                    field.name,
                    codebook(field)
                ),
            );
        }
        if let Some(min) = field.minimum.filter(|&m| value < m) {
            return self.fail(
                row,
                raw,
                "minimum",
                "V012",
                format!("{value} is below the minimum {min}"),
            );
        }
        if let Some(max) = field.maximum.filter(|&m| value > m) {
            return self.fail(
                row,
                raw,
                "maximum",
                "V012",
                format!("{value} is above the maximum {max}"),
            );
        }
        Some(false)
    }

    fn string(&mut self, row: usize, raw: &str) -> Option<bool> {
        let field = self.field;
        let code = Code::Str(raw.to_string());
        if field.missing.iter().any(|(c, _)| *c == code) {
            return Some(true);
        }
        if !field.categories.is_empty() && !field.categories.iter().any(|(c, _)| *c == code) {
            return self.fail(
                row,
                raw,
                "category",
                "V011",
                format!(
                    "{raw:?} is not in the codebook of {} ({})",
                    field.name,
                    codebook(field)
                ),
            );
        }
        if let Some(pattern) = self.pattern {
            if !pattern.is_match(raw) {
                return self.fail(
                    row,
                    raw,
                    "pattern",
                    "V013",
                    format!("{raw:?} does not match the pattern {}", pattern.as_str()),
                );
            }
        }
        Some(false)
    }
}

/// `valid: 1, 2, 3; missing: 9` for messages.
fn codebook(field: &FieldPlan) -> String {
    let join = |codes: &[(Code, String)]| {
        codes
            .iter()
            .map(|(c, _)| c.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if field.missing.is_empty() {
        format!("valid: {}", join(&field.categories))
    } else {
        format!(
            "valid: {}; missing: {}",
            join(&field.categories),
            join(&field.missing)
        )
    }
}

/// The primary key must be present and unique; later duplicates are rejected and name the row
/// of the first occurrence.
pub fn primary_key(
    raw: &RawFrame,
    schema: &SchemaPlan,
    problems: &mut Vec<Problem>,
) -> PolarsResult<()> {
    if schema.primary_key.is_empty() {
        return Ok(());
    }
    let columns = schema
        .primary_key
        .iter()
        .map(|name| raw.frame.column(name).and_then(|c| c.str().cloned()))
        .collect::<PolarsResult<Vec<_>>>()?;
    let column = schema.primary_key.join("|");
    // The usual case, one key column without gaps or duplicates, is settled by polars'
    // parallel distinct count; only otherwise is each duplicate found with its first row.
    if let [only] = columns.as_slice() {
        let complete =
            only.null_count() == 0 && only.iter().all(|v| v.is_some_and(|s| !s.is_empty()));
        if complete && only.n_unique()? == only.len() {
            return Ok(());
        }
    }
    // One key column (the usual case) is hashed as it is, without building a string per row.
    let keys: Box<dyn Iterator<Item = Option<Cow<str>>>> = match columns.as_slice() {
        [only] => Box::new(only.iter().map(|v| present(v).map(Cow::Borrowed))),
        _ => Box::new((0..raw.rows()).map(|row| {
            let parts: Option<Vec<&str>> = columns.iter().map(|c| present(c.get(row))).collect();
            parts.map(|parts| Cow::Owned(parts.join("|")))
        })),
    };
    let mut first_seen: HashMap<Cow<str>, usize, foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(raw.rows(), Default::default());
    for (row, key) in keys.enumerate() {
        let Some(key) = key else {
            problems.push(pk_problem(
                row,
                &column,
                None,
                "the primary key is missing".into(),
            ));
            continue;
        };
        if let Some(&first) = first_seen.get(&key) {
            let message = format!(
                "duplicate primary key {key:?}, first seen at {}",
                where_is(raw, first)
            );
            problems.push(pk_problem(row, &column, Some(key.into_owned()), message));
        } else {
            first_seen.insert(key, row);
        }
    }
    Ok(())
}

/// A key part: absent when null or empty.
fn present(value: Option<&str>) -> Option<&str> {
    value.filter(|s| !s.is_empty())
}

fn pk_problem(row: usize, column: &str, value: Option<String>, message: String) -> Problem {
    Problem {
        row,
        order: usize::MAX - 1,
        key: None,
        column: column.to_string(),
        value,
        rule: "primary_key".to_string(),
        code: "V015",
        message,
    }
}

fn where_is(raw: &RawFrame, row: usize) -> String {
    match raw.line(row) {
        Some(line) => format!("line {line}"),
        None => format!("row {}", row + 1),
    }
}

/// Evaluates a routing rule: a row breaks it when `when` is true and `require` is not true.
pub fn routing(
    raw: &RawFrame,
    coded: &DataFrame,
    rule: &RulePlan,
    problems: &mut Vec<Problem>,
) -> PolarsResult<()> {
    let broken = rule
        .when
        .clone()
        .fill_null(lit(false))
        .and(rule.require.clone().fill_null(lit(false)).not())
        .alias("broken");
    let result = coded.clone().lazy().select([broken]).collect()?;
    let broken = result.column("broken")?.bool()?.clone();
    let mut columns = crate::spec::expr_columns(&rule.when);
    for column in crate::spec::expr_columns(&rule.require) {
        if !columns.contains(&column) {
            columns.push(column);
        }
    }
    for (row, is_broken) in broken.iter().enumerate() {
        if is_broken != Some(true) {
            continue;
        }
        let mut values = Vec::with_capacity(columns.len());
        for name in &columns {
            let text = raw.frame.column(name)?.str()?.get(row).unwrap_or("");
            values.push(format!("{name}={text}"));
        }
        problems.push(Problem {
            row,
            order: usize::MAX,
            key: None,
            column: columns.join(","),
            value: Some(values.join("; ")),
            rule: rule.id.clone(),
            code: "V016",
            message: rule.message.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_honour_the_decimal_mark() {
        assert_eq!(parse_number("12,5", true), Some(12.5));
        assert_eq!(parse_number("12.5", true), None);
        assert_eq!(parse_number("12.5", false), Some(12.5));
        assert_eq!(parse_number("12,5", false), None);
        assert_eq!(parse_number("inf", false), None);
        assert_eq!(parse_number(" 7 ", false), Some(7.0));
    }
}
