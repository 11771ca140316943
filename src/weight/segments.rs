//! Segment coding, once per design: the segment of every row (design order) for each
//! segmentation, and the category of every row for each margin variable, which the same coding
//! matches by text as `estimates.parquet` writes segments (`2|5` for a crossing).
//!
//! Every column the design codes (strata, PSUs, segment and margin variables) is coded once,
//! in the accepted rows' order ([`ColumnCodes`]): a municipality column that is both the strata
//! and a segmentation is hashed once, and no segment column is gathered into design order (at
//! 10M rows, strings); only the segments' codes are.

use std::collections::{BTreeSet, HashMap};

use polars::prelude::*;
use rayon::prelude::*;

use super::calibrate;
use super::order::DesignOrder;
use crate::diag::{catalog, Diagnostic, Failure, Place};
use crate::levels::{encode, Coded, Key, NULL};
use crate::spec::Wave;
use crate::spec::{SchemaPlan, Segmentation};

/// Columns of a frame, each coded once ([`encode`]), in the frame's row order.
pub(super) struct ColumnCodes<'a> {
    pub frame: &'a DataFrame,
    coded: HashMap<String, PolarsResult<Coded>>,
}

impl<'a> ColumnCodes<'a> {
    /// Codes the columns `names` of `frame`, in parallel; a column that is missing or cannot be
    /// coded is an error when it is asked for.
    pub fn of<'n>(frame: &'a DataFrame, names: impl IntoIterator<Item = &'n str>) -> Self {
        let names: BTreeSet<&str> = names.into_iter().collect();
        let coded = names
            .into_par_iter()
            .map(|name| (name.to_string(), frame.column(name).and_then(encode)))
            .collect();
        ColumnCodes { frame, coded }
    }

    /// The codes of column `name`, or why there are none (a column not given to
    /// [`ColumnCodes::of`] is a bug of the caller's, an error rather than a panic).
    pub fn get(&self, name: &str) -> Result<&Coded, String> {
        match self.coded.get(name) {
            Some(Ok(coded)) => Ok(coded),
            Some(Err(e)) => Err(e.to_string()),
            None => Err(format!("column {name:?} was not among those coded")),
        }
    }

    /// The codes of column `name`, taken out of these (`get` has them no more).
    pub fn take(&mut self, name: &str) -> Result<Vec<u32>, String> {
        self.get(name)?;
        let coded = self.coded.remove(name).and_then(Result::ok);
        Ok(coded.map_or_else(Vec::new, |coded| coded.codes))
    }

    /// The codes of segment variable `name`.
    fn variable(&self, name: &str) -> Result<&Coded, Failure> {
        if let Err(e) = self.frame.column(name) {
            return Err(Diagnostic::error(
                catalog::W008,
                format!("segment variable {name:?} not found"),
            )
            .caused_by(e)
            .into());
        }
        self.get(name).map_err(|e| {
            Failure::internal(
                Diagnostic::error(
                    catalog::W099,
                    format!("internal: variable {name:?} could not be coded into categories"),
                )
                .caused_by(e),
            )
        })
    }

    /// The segments of `segmentation`, one per row in design `order`, or in the frame's row
    /// order.
    pub fn segments(
        &self,
        segmentation: &Segmentation,
        schema: &SchemaPlan,
        order: Option<&DesignOrder>,
    ) -> Result<SegmentIndex, Failure> {
        let rows = self.frame.height();
        let name = segmentation.name();
        if segmentation.is_total() {
            return Ok(SegmentIndex {
                name,
                codes: vec![0; rows],
                domains: vec![("total".to_string(), "Totaal".to_string())],
            });
        }
        let per_variable = segmentation
            .variables
            .iter()
            .map(|variable| Ok((variable.as_str(), self.variable(variable)?)))
            .collect::<Result<Vec<_>, Failure>>()?;
        crossed(name, &per_variable, schema, rows, order)
    }
}

/// The category of every row (in design `order`) for each margin variable, matched by text as
/// `estimates.parquet` writes segments (`2|5` for a crossing).
pub(super) fn code_margins<'a>(
    codes: &ColumnCodes,
    order: &DesignOrder,
    margins: &'a crate::spec::margins::Margins,
    schema: &SchemaPlan,
    wave: Wave,
) -> Result<calibrate::MarginCodes<'a>, Failure> {
    let mut categories = Vec::with_capacity(margins.variables.len());
    for variable in &margins.variables {
        for name in &variable.columns {
            let categorical = codes.frame.column(name).is_ok_and(|c| {
                let dtype = c.dtype();
                dtype.is_integer() || dtype == &DataType::String || dtype == &DataType::Boolean
            });
            if !categorical {
                return Err(Diagnostic::error(
                    catalog::W011,
                    format!(
                        "wave {wave}: margin variable {} needs categorical columns (integer codes or text); {name:?} is not",
                        variable.name
                    ),
                )
                .at(Place::file(margins.path.display()))
                .into());
            }
        }
        let segmentation = Segmentation {
            variables: variable.columns.clone(),
        };
        let index = codes.segments(&segmentation, schema, Some(order))?;
        let lookup: Vec<u32> = index
            .domains
            .iter()
            .map(|(code, _)| {
                variable
                    .categories
                    .iter()
                    .position(|c| &c.category == code)
                    .map_or(NULL, |k| k as u32)
            })
            .collect();
        categories.push(
            index
                .codes
                .iter()
                .map(|&d| if d == NULL { d } else { lookup[d as usize] })
                .collect(),
        );
    }
    Ok(calibrate::MarginCodes {
        margins,
        categories,
    })
}

/// Segment of every row for one segmentation, with each segment's code and label.
#[derive(Debug, Clone)]
pub struct SegmentIndex {
    pub name: String,
    /// Segment of each row in design order; [`NULL`] where a segment variable is null.
    pub codes: Vec<u32>,
    /// `(segment, segment_label)` per domain, in code order.
    pub domains: Vec<(String, String)>,
}

/// The segment of each row, in design `order` or in the rows' order.
fn arrange(codes: impl Iterator<Item = u32>, order: Option<&DesignOrder>) -> Vec<u32> {
    match order {
        Some(order) => order.scatter(codes),
        None => codes.collect(),
    }
}

/// Codes the segments of `segmentation` in `frame`'s rows.
pub fn segment_index(
    frame: &DataFrame,
    segmentation: &Segmentation,
    schema: &SchemaPlan,
) -> Result<SegmentIndex, Failure> {
    ColumnCodes::of(frame, segmentation.variables.iter().map(String::as_str)).segments(
        segmentation,
        schema,
        None,
    )
}

/// The segments of the crossed variables `per_variable`, each coded in the same `rows` rows;
/// one per row in design `order`, or in the rows' order.
fn crossed(
    name: String,
    per_variable: &[(&str, &Coded)],
    schema: &SchemaPlan,
    rows: usize,
    order: Option<&DesignOrder>,
) -> Result<SegmentIndex, Failure> {
    // Crossed segments: observed combinations only, in the order of the variables' keys. A
    // combination is one mixed-radix number (first variable most significant), so sorting the
    // numbers sorts the combinations.
    let radices: Vec<u64> = per_variable
        .iter()
        .map(|(_, c)| c.keys.len() as u64)
        .collect();
    if radices
        .iter()
        .try_fold(1u64, |p, &r| p.checked_mul(r.max(1)))
        .is_none()
    {
        return Err(Diagnostic::error(
            catalog::W009,
            format!("segmentation {name} has too many combinations to cross"),
        )
        .into());
    }
    let combined = |row: usize| {
        per_variable
            .iter()
            .zip(&radices)
            .try_fold(0u64, |number, ((_, coded), &radix)| {
                let code = coded.codes[row];
                (code != NULL).then(|| number * radix + code as u64)
            })
    };
    let combinations: u64 = radices.iter().map(|r| r.max(&1)).product();
    let (observed, codes): (Vec<u64>, Vec<u32>) = if let [(_, coded)] = per_variable {
        // One variable: its codes are the segments (each of its keys is some row's value).
        let observed = (0..coded.keys.len() as u64).collect();
        (observed, arrange(coded.codes.iter().copied(), order))
    } else if combinations <= 1 << 22 {
        // A table over every possible combination: one pass marks the observed ones, a second
        // ranks each row's (the rows' numbers are not kept: 16 bytes a row).
        let mut rank = vec![NULL; combinations as usize];
        for c in (0..rows).filter_map(combined) {
            rank[c as usize] = 0;
        }
        let mut observed = Vec::new();
        for (c, r) in rank.iter_mut().enumerate().filter(|(_, r)| **r == 0) {
            *r = observed.len() as u32;
            observed.push(c as u64);
        }
        let codes = (0..rows).map(|row| combined(row).map_or(NULL, |c| rank[c as usize]));
        (observed, arrange(codes, order))
    } else {
        let combined: Vec<Option<u64>> = (0..rows).map(combined).collect();
        let mut observed: Vec<u64> = combined.iter().flatten().copied().collect();
        observed.sort_unstable();
        observed.dedup();
        let rank: std::collections::HashMap<u64, u32> = observed
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, i as u32))
            .collect();
        let codes = combined.iter().map(|c| c.map_or(NULL, |c| rank[&c]));
        (observed, arrange(codes, order))
    };
    let observed: Vec<Vec<u32>> = observed
        .iter()
        .map(|&number| {
            let mut digits = vec![0u32; radices.len()];
            let mut rest = number;
            for (digit, &radix) in digits.iter_mut().zip(&radices).rev() {
                *digit = (rest % radix) as u32;
                rest /= radix;
            }
            digits
        })
        .collect();
    let domains = observed
        .iter()
        .map(|combination| {
            let keys: Vec<(&str, &Key)> = combination
                .iter()
                .zip(per_variable)
                .map(|(&code, (variable, coded))| (*variable, &coded.keys[code as usize]))
                .collect();
            let segment = keys
                .iter()
                .map(|(_, key)| key.to_string())
                .collect::<Vec<_>>()
                .join("|");
            let label = keys
                .iter()
                .map(|(variable, key)| {
                    schema
                        .field(variable)
                        .and_then(|f| f.label_of(&key.code()))
                        .map_or_else(|| key.to_string(), str::to_string)
                })
                .collect::<Vec<_>>()
                .join(" | ");
            (segment, label)
        })
        .collect();
    Ok(SegmentIndex {
        name,
        codes,
        domains,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A segmentation of one variable takes the variable's codes; the crossing of the same
    /// variable with a constant goes the general way (a table of combinations). Both give
    /// the same segment to every row, in design order and in the rows' order.
    #[test]
    fn one_variable_segments_as_its_crossing_with_a_constant() {
        let frame = df![
            "x" => [Some(3i32), None, Some(1), Some(3), Some(-2), None, Some(1)],
            "t" => [Some("b"), Some("a"), None, Some("b"), Some("c"), Some("a"), Some("a")],
            "one" => [1i32; 7],
        ]
        .unwrap();
        let schema = SchemaPlan {
            name: "test".into(),
            path: "test.toml".into(),
            sha256: String::new(),
            primary_key: Vec::new(),
            missing_values: Vec::new(),
            fields: Vec::new(),
            rules: Vec::new(),
        };
        let order = DesignOrder::new(&[1, 0, 1, 2, 0, 2, 1], None);
        let codes = ColumnCodes::of(&frame, ["x", "t", "one"]);
        for variable in ["x", "t"] {
            let single = Segmentation {
                variables: vec![variable.to_string()],
            };
            let crossed = Segmentation {
                variables: vec![variable.to_string(), "one".to_string()],
            };
            for order in [None, Some(&order)] {
                let single = codes.segments(&single, &schema, order).unwrap();
                let crossed = codes.segments(&crossed, &schema, order).unwrap();
                assert_eq!(single.codes, crossed.codes);
                let segments: Vec<String> = crossed
                    .domains
                    .iter()
                    .map(|(segment, _)| segment.trim_end_matches("|1").to_string())
                    .collect();
                let expected: Vec<String> = single.domains.iter().map(|d| d.0.clone()).collect();
                assert_eq!(segments, expected);
            }
        }
        let x = Segmentation {
            variables: vec!["x".to_string()],
        };
        let rows = codes.segments(&x, &schema, None).unwrap();
        assert_eq!(rows.codes, [2, NULL, 1, 2, 0, NULL, 1]);
        let designed = codes.segments(&x, &schema, Some(&order)).unwrap();
        assert_eq!(designed.codes, [NULL, 0, 2, 1, 1, 2, NULL]);
    }
}
