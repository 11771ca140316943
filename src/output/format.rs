//! Numbers the Dutch way, for the charts, the report and the table book: a decimal comma, `.`
//! between thousands, never `-0,0`, a dash for a value that is not a number.

/// What a missing or non-finite value shows.
pub const DASH: &str = "—";

/// One decimal: `13,2%` for a share of 0.132 when `percent`, else `37,4`.
pub fn value(value: f64, percent: bool) -> String {
    if percent {
        format!("{}%", number(100.0 * value, 1))
    } else {
        number(value, 1)
    }
}

/// `1234.56` with 1 decimal → `1.234,6`; with 0 → `1.235`.
pub fn number(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return DASH.to_string();
    }
    let text = format!("{:.*}", decimals, value.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let is_zero = text.chars().all(|c| c == '0' || c == '.');
    let sign = if value < 0.0 && !is_zero { "-" } else { "" };
    let grouped = thousands(int);
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped},{frac}")
    }
}

/// A model's coefficient, ratio or interval bound with about four significant digits: three
/// decimals below 10 (`0,883`, `1,018`, `-2,725`), two below 100, one below 1000, then none.
pub fn coefficient(value: f64) -> String {
    coefficient_at(value, value.abs())
}

/// As [`coefficient`], with the decimals of a number as large as `size`: an estimate and its
/// interval written alike (`9,17 (-16,77 – 35,10)`).
pub fn coefficient_at(value: f64, size: f64) -> String {
    let size = if size.is_finite() { size.abs() } else { 0.0 };
    let decimals = if size < 9.9995 {
        3
    } else if size < 99.995 {
        2
    } else if size < 999.95 {
        1
    } else {
        0
    };
    number(value, decimals)
}

/// A number in [0, 1] with a fixed number of decimals, no grouping: `0,047`.
pub fn decimals(value: f64, decimals: usize) -> String {
    format!("{value:.decimals$}").replace('.', ",")
}

/// `1234567` → `1.234.567`; a leading `-` is kept.
pub fn thousands(digits: &str) -> String {
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", digits),
    };
    let mut out = String::from(sign);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('.');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_a_dutch_reader_writes_them() {
        assert_eq!(value(0.132, true), "13,2%");
        assert_eq!(value(37.44, false), "37,4");
        assert_eq!(value(-0.01, false), "0,0");
        assert_eq!(value(-0.04, false), "0,0");
        assert_eq!(value(12345.67, false), "12.345,7");
        assert_eq!(value(-1234.56, false), "-1.234,6");
        assert_eq!(value(f64::NAN, false), DASH);
        assert_eq!(number(1234.56, 0), "1.235");
        assert_eq!(number(-0.4, 0), "0");
        assert_eq!(decimals(0.04712, 3), "0,047");
        assert_eq!(thousands("-1234567"), "-1.234.567");
        assert_eq!(coefficient(0.88312), "0,883");
        assert_eq!(coefficient(-2.7251), "-2,725");
        assert_eq!(coefficient(1.0181), "1,018");
        assert_eq!(coefficient(9.9999), "10,00");
        assert_eq!(coefficient(12.346), "12,35");
        assert_eq!(coefficient(-123.46), "-123,5");
        assert_eq!(coefficient(12345.6), "12.346");
        assert_eq!(coefficient(-0.0001), "0,000");
        assert_eq!(coefficient(f64::INFINITY), DASH);
        assert_eq!(coefficient_at(9.167, 35.1), "9,17");
        assert_eq!(coefficient_at(0.5, f64::NAN), "0,500");
    }
}
