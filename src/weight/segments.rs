//! Segment coding, once per design: the segment of every row (design order) for each
//! segmentation, and the category of every row for each margin variable, which the same coding
//! matches by text as `estimates.parquet` writes segments (`2|5` for a crossing).

use polars::prelude::*;

use super::calibrate;
use crate::diag::{catalog, Diagnostic, Failure, Place};
use crate::levels::{encode, Key};
use crate::spec::Wave;
use crate::spec::{SchemaPlan, Segmentation};

/// The category of every row (design order) for each margin variable, matched by text as
/// `estimates.parquet` writes segments (`2|5` for a crossing).
pub(super) fn code_margins<'a>(
    frame: &DataFrame,
    margins: &'a crate::spec::margins::Margins,
    schema: &SchemaPlan,
    wave: Wave,
) -> Result<calibrate::MarginCodes<'a>, Failure> {
    let mut categories = Vec::with_capacity(margins.variables.len());
    for variable in &margins.variables {
        for name in &variable.columns {
            let categorical = frame.column(name).is_ok_and(|c| {
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
        let index = segment_index(frame, &segmentation, schema)?;
        let lookup: Vec<u32> = index
            .domains
            .iter()
            .map(|(code, _)| {
                variable
                    .categories
                    .iter()
                    .position(|c| &c.category == code)
                    .map_or(u32::MAX, |k| k as u32)
            })
            .collect();
        categories.push(
            index
                .codes
                .iter()
                .map(|&d| if d == u32::MAX { d } else { lookup[d as usize] })
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
    /// Segment of each row in design order; `u32::MAX` where a segment variable is null.
    pub codes: Vec<u32>,
    /// `(segment, segment_label)` per domain, in code order.
    pub domains: Vec<(String, String)>,
}

/// Codes the segments of `segmentation` in `frame`'s rows.
pub fn segment_index(
    frame: &DataFrame,
    segmentation: &Segmentation,
    schema: &SchemaPlan,
) -> Result<SegmentIndex, Failure> {
    let name = segmentation.name();
    if segmentation.is_total() {
        return Ok(SegmentIndex {
            name,
            codes: vec![0; frame.height()],
            domains: vec![("total".to_string(), "Totaal".to_string())],
        });
    }
    let mut per_variable = Vec::with_capacity(segmentation.variables.len());
    for variable in &segmentation.variables {
        let column = frame.column(variable).map_err(|e| {
            Failure::from(
                Diagnostic::error(
                    catalog::W008,
                    format!("segment variable {variable:?} not found"),
                )
                .caused_by(e),
            )
        })?;
        let coded = encode(column).map_err(|e| {
            Failure::internal(
                Diagnostic::error(
                    catalog::W099,
                    format!("internal: variable {variable:?} could not be coded into categories"),
                )
                .caused_by(e),
            )
        })?;
        per_variable.push((variable.as_str(), coded));
    }
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
                coded.codes[row].map(|c| number * radix + c as u64)
            })
    };
    let rows = frame.height();
    let combinations: u64 = radices.iter().map(|r| r.max(&1)).product();
    let (observed, codes): (Vec<u64>, Vec<u32>) = if combinations <= 1 << 22 {
        // A table over every possible combination: one pass marks the observed ones, a second
        // ranks each row's (the rows' numbers are not kept: 16 bytes a row).
        let mut rank = vec![u32::MAX; combinations as usize];
        for c in (0..rows).filter_map(combined) {
            rank[c as usize] = 0;
        }
        let mut observed = Vec::new();
        for (c, r) in rank.iter_mut().enumerate().filter(|(_, r)| **r == 0) {
            *r = observed.len() as u32;
            observed.push(c as u64);
        }
        let codes = (0..rows)
            .map(|row| combined(row).map_or(u32::MAX, |c| rank[c as usize]))
            .collect();
        (observed, codes)
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
        let codes = combined
            .iter()
            .map(|c| c.map_or(u32::MAX, |c| rank[&c]))
            .collect();
        (observed, codes)
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
                .zip(&per_variable)
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
