//! Disclosure control: what may be published.
//!
//! **Primary suppression**, after the rules GGD table books use: an estimate whose domain has
//! fewer than `min_n` respondents, or (proportions) fewer than `min_cell` answering yes or no, is
//! published as null, and so are its SE, interval, df, deff, `n` and weighted n, with the reason
//! in `flag` (`n_below_min`, `cell_below_min`). An empty domain (n = 0) is not suppressed: it
//! has no estimate, publishes n = 0, carries the flag `empty_domain` alone, and never causes,
//! nor is chosen for, complementary suppression (its 0 is known whatever is published). The
//! cell rule looks at both complementary shares of a proportion: the share answering no is one
//! minus the published share, so it is protected by the same suppression. The yes-count used for the rule never leaves this stage.
//!
//! **Complementary suppression**: the segments of a segmentation add up to their margin. The
//! unweighted and weighted n of the provinces add up to the national total, and so do the
//! weighted yes-counts behind their shares. Publishing every province but one, and the total,
//! would give the hidden one away by subtraction. Every such additive relation is an equation:
//! a cell of `a*b` belongs to the group of cells that share its `a` code (whose margin is that
//! code's cell of segmentation `a`, when the run has it) and to the group that shares its `b`
//! code; a one-variable segmentation's cells make up `total`. As long as some equation has
//! exactly one unknown cell, a further cell of that equation is suppressed too: the published
//! member with the smallest n, or the margin when there is no other member. Those cells get the
//! flag `complementary`. This repeats until no equation can be solved, across segmentations,
//! per wave and indicator. All kinds of estimate are treated alike, since n alone is additive.
//!
//! **Reliability flags**, after the NCHS data presentation standards for proportions: an
//! estimate is published but flagged `unreliable` when its relative SE exceeds `max_rse`,
//! `low_effective_n` when its effective sample size is below `min_effective_n`, and `low_df`
//! when its design degrees of freedom are below `min_df`. The effective sample size of a
//! proportion is p(1 − p) / SE², and otherwise n / deff (n when there is no deff).

use std::collections::HashMap;

use crate::estimate::model::ModelRow;
use crate::estimate::{EstimateRow, EstimateTable};
use crate::spec::Wave;
use crate::spec::{DisclosurePlan, IndicatorKind, ModelFamily};

/// A publishable row of `estimates.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleasedRow {
    pub wave: Wave,
    pub indicator: String,
    pub kind: IndicatorKind,
    pub segmentation: String,
    pub segment: String,
    pub segment_label: String,
    pub estimate: Option<f64>,
    pub std_error: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    /// The interval's method; null with the interval (a substituted method would tell that a
    /// suppressed share is exactly 0 or 1).
    pub ci_method: Option<String>,
    pub df: Option<f64>,
    pub n: Option<i64>,
    pub n_weighted: Option<f64>,
    pub deff: Option<f64>,
    pub rse: Option<f64>,
    pub suppressed: bool,
    pub flag: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ReleasedTable {
    pub rows: Vec<ReleasedRow>,
}

impl ReleasedTable {
    pub fn suppressed(&self) -> usize {
        self.rows.iter().filter(|r| r.suppressed).count()
    }
}

/// Flag of a cell suppressed to protect another one.
pub const COMPLEMENTARY: &str = "complementary";

/// Flag of a cell without respondents: it has no estimate, reveals nothing and protects
/// nothing, so it is neither suppressed nor a reason to suppress another cell.
pub const EMPTY_DOMAIN: &str = "empty_domain";

/// Why a row may not be published on its own, if it may not.
fn primary_reason(row: &EstimateRow, rules: &DisclosurePlan) -> Option<&'static str> {
    if row.n == 0 {
        return None;
    }
    let yes = (row.kind == IndicatorKind::Proportion).then(|| row.n_yes.unwrap_or(0));
    count_reason(row.n, yes, rules)
}

/// The effective sample size of an estimate (NCHS): p(1 − p) / SE² for a proportion strictly
/// between 0 and 1 with a positive SE, n / deff when there is a deff, n otherwise.
pub fn effective_n(row: &EstimateRow) -> f64 {
    let n = row.n as f64;
    if row.kind == IndicatorKind::Proportion {
        if let (Some(p), Some(se)) = (row.estimate, row.std_error) {
            if p > 0.0 && p < 1.0 && se > 0.0 {
                return p * (1.0 - p) / (se * se);
            }
        }
        return n;
    }
    match row.deff {
        Some(deff) if deff > 0.0 && deff.is_finite() => n / deff,
        _ => n,
    }
}

/// The reliability flags of a published row, in a fixed order.
fn reliability_flags(row: &EstimateRow, rules: &DisclosurePlan) -> Vec<&'static str> {
    let mut flags = Vec::new();
    if row.rse.is_some_and(|rse| rse > rules.max_rse) {
        flags.push("unreliable");
    }
    if effective_n(row) < rules.min_effective_n {
        flags.push("low_effective_n");
    }
    if row.df.is_some_and(|df| df < rules.min_df) {
        flags.push("low_df");
    }
    flags
}

/// One additive relation: the margin cell is the sum of the member cells.
struct Equation {
    margin: Option<usize>,
    members: Vec<usize>,
}

/// Where a cell sits: its segmentation's variables and its codes (both empty for `total`).
type Place<'a> = (Vec<&'a str>, Vec<&'a str>);

/// The additive relations between the rows of one wave × indicator (indices into `rows`).
fn equations(rows: &[EstimateRow], cells: &[usize]) -> Vec<Equation> {
    // A cell by its variables and codes; `total` has neither.
    let mut index: HashMap<Place, usize> = HashMap::new();
    let mut split = Vec::with_capacity(cells.len());
    for &i in cells {
        let row = &rows[i];
        let (variables, codes): (Vec<&str>, Vec<&str>) = if row.segmentation == "total" {
            (Vec::new(), Vec::new())
        } else {
            (
                row.segmentation.split('*').collect(),
                row.segment.split('|').collect(),
            )
        };
        if variables.len() != codes.len() {
            // A code containing `|`: such a cell cannot be placed; it stays out of the relations.
            continue;
        }
        index.insert((variables.clone(), codes.clone()), i);
        split.push((i, variables, codes));
    }
    // Group key: the segmentation, the variable left out, the codes of the others.
    type Group<'a> = (Vec<&'a str>, usize, Vec<&'a str>);
    let mut groups: HashMap<Group, Vec<usize>> = HashMap::new();
    for (i, variables, codes) in &split {
        for left_out in 0..variables.len() {
            let mut rest = codes.clone();
            rest.remove(left_out);
            groups
                .entry((variables.clone(), left_out, rest))
                .or_default()
                .push(*i);
        }
    }
    let mut equations: Vec<Equation> = groups
        .into_iter()
        .map(|((variables, left_out, rest), members)| {
            let mut margin_variables = variables;
            margin_variables.remove(left_out);
            Equation {
                margin: index.get(&(margin_variables, rest)).copied(),
                members,
            }
        })
        .collect();
    // Deterministic order, whatever the hash map did.
    equations.sort_by_key(|e| (e.members[0], e.margin));
    equations
}

/// Extends `suppressed` until no additive relation has exactly one suppressed cell.
/// Returns the cells suppressed here.
fn complementary(rows: &[EstimateRow], cells: &[usize], suppressed: &mut [bool]) -> Vec<usize> {
    let equations = equations(rows, cells);
    let mut added = Vec::new();
    loop {
        let mut changed = false;
        for equation in &equations {
            let hidden = equation
                .members
                .iter()
                .chain(&equation.margin)
                .filter(|&&i| suppressed[i])
                .count();
            // Without a margin cell nothing can be subtracted from.
            if hidden != 1 || equation.margin.is_none() {
                continue;
            }
            // An empty cell is known to be 0 whatever is published: hiding it protects nothing.
            let hideable = |&i: &usize| !suppressed[i] && rows[i].n > 0;
            let smallest = equation
                .members
                .iter()
                .copied()
                .filter(hideable)
                .min_by_key(|&i| (rows[i].n, i));
            let extra = smallest.or(equation.margin.filter(hideable));
            if let Some(extra) = extra {
                suppressed[extra] = true;
                added.push(extra);
                changed = true;
            }
        }
        if !changed {
            return added;
        }
    }
}

pub fn apply(table: EstimateTable, rules: &DisclosurePlan) -> ReleasedTable {
    let rows = table.rows;
    let reasons: Vec<Option<&str>> = rows.iter().map(|r| primary_reason(r, rules)).collect();
    let mut suppressed: Vec<bool> = reasons.iter().map(Option::is_some).collect();
    let mut by_table: HashMap<(Wave, &str), Vec<usize>> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        by_table
            .entry((row.wave, row.indicator.as_str()))
            .or_default()
            .push(i);
    }
    let mut tables: Vec<_> = by_table.into_values().collect();
    tables.sort();
    let mut protecting = vec![false; rows.len()];
    for cells in &tables {
        for i in complementary(&rows, cells, &mut suppressed) {
            protecting[i] = true;
        }
    }
    let flags: Vec<Vec<String>> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| match reasons[i] {
            Some(reason) => vec![reason.to_string()],
            None if protecting[i] => vec![COMPLEMENTARY.to_string()],
            None if row.n == 0 => vec![EMPTY_DOMAIN.to_string()],
            None => row
                .flag
                .iter()
                .cloned()
                .chain(reliability_flags(row, rules).into_iter().map(String::from))
                .collect(),
        })
        .collect();
    let rows = rows
        .into_iter()
        .zip(flags)
        .zip(suppressed)
        .map(|((row, flags), hidden)| {
            let keep = !hidden;
            let publish = |value: Option<f64>| value.filter(|_| keep);
            ReleasedRow {
                wave: row.wave,
                indicator: row.indicator,
                kind: row.kind,
                segmentation: row.segmentation,
                segment: row.segment,
                segment_label: row.segment_label,
                estimate: publish(row.estimate),
                std_error: publish(row.std_error),
                ci_lower: publish(row.ci_lower),
                ci_upper: publish(row.ci_upper),
                ci_method: Some(row.ci_method).filter(|_| keep),
                df: publish(row.df),
                n: Some(row.n).filter(|_| keep),
                n_weighted: publish(Some(row.n_weighted)),
                deff: publish(row.deff),
                rse: publish(row.rse),
                suppressed: hidden,
                flag: (!flags.is_empty()).then(|| flags.join(";")),
            }
        })
        .collect();
    ReleasedTable { rows }
}

/// A publishable row of `models.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleasedModelRow {
    pub wave: Wave,
    pub model: String,
    pub family: ModelFamily,
    pub segmentation: String,
    pub segment: String,
    pub segment_label: String,
    pub term: String,
    pub level: Option<String>,
    pub level_label: Option<String>,
    pub estimate: Option<f64>,
    pub std_error: Option<f64>,
    pub statistic: Option<f64>,
    pub df: Option<f64>,
    pub p_value: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    pub n: Option<i64>,
    pub n_weighted: Option<f64>,
    pub suppressed: bool,
    pub flag: Option<String>,
}

/// Why a count of rows, and of yes answers or events among them (a proportion, a logistic
/// model), may not be published: fewer than `min_n` rows, or fewer than `min_cell` with either
/// answer.
fn count_reason(n: i64, events: Option<i64>, rules: &DisclosurePlan) -> Option<&'static str> {
    if (n as u64) < rules.min_n {
        return Some("n_below_min");
    }
    let events = events? as u64;
    (events < rules.min_cell || n as u64 - events < rules.min_cell).then_some("cell_below_min")
}

/// Disclosure control of model coefficients, with the rules of the estimates: a model (in a
/// segment) with fewer than `min_n` rows, or a logistic model with fewer than `min_cell` rows
/// with outcome 1 or with outcome 0, is suppressed whole (its n and weighted n too); a
/// coefficient whose level holds fewer than `min_n` rows, or (logistic) fewer than `min_cell`
/// with either outcome, is suppressed alone. A published coefficient with `df` below `min_df`
/// is flagged `low_df`. The counts behind the rules never leave this stage.
pub fn models(rows: Vec<ModelRow>, rules: &DisclosurePlan) -> Vec<ReleasedModelRow> {
    rows.into_iter()
        .map(|row| {
            let model = count_reason(row.n, row.events, rules);
            let coefficient = row
                .n_level
                .and_then(|n| count_reason(n, row.events_level, rules));
            let hidden = model.or(coefficient);
            let mut flags: Vec<String> = hidden.map(String::from).into_iter().collect();
            if hidden.is_none() {
                flags.extend(row.flag.clone());
                if row.estimate.is_some() && row.df.is_some_and(|df| df < rules.min_df) {
                    flags.push("low_df".to_string());
                }
            }
            let keep = hidden.is_none();
            let publish = |value: Option<f64>| value.filter(|_| keep);
            let model_keep = model.is_none();
            ReleasedModelRow {
                wave: row.wave,
                model: row.model,
                family: row.family,
                segmentation: row.segmentation,
                segment: row.segment,
                segment_label: row.segment_label,
                term: row.term,
                level: row.level,
                level_label: row.level_label,
                estimate: publish(row.estimate),
                std_error: publish(row.std_error),
                statistic: publish(row.statistic),
                df: publish(row.df),
                p_value: publish(row.p_value),
                ci_lower: publish(row.ci_lower),
                ci_upper: publish(row.ci_upper),
                n: Some(row.n).filter(|_| model_keep),
                n_weighted: Some(row.n_weighted).filter(|_| model_keep),
                suppressed: !keep,
                flag: (!flags.is_empty()).then(|| flags.join(";")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proportion(n: i64, yes: i64, se: f64) -> EstimateRow {
        let p = yes as f64 / n as f64;
        EstimateRow {
            wave: 2024.into(),
            indicator: "x".into(),
            kind: IndicatorKind::Proportion,
            segmentation: "total".into(),
            segment: "total".into(),
            segment_label: "Totaal".into(),
            estimate: Some(p),
            std_error: Some(se),
            ci_lower: Some(p - 0.1),
            ci_upper: Some(p + 0.1),
            ci_method: "logit".into(),
            df: Some(n as f64 - 1.0),
            n,
            n_weighted: n as f64,
            deff: None,
            rse: Some(se / p),
            n_yes: Some(yes),
            flag: None,
        }
    }

    fn release(row: EstimateRow) -> ReleasedRow {
        apply(
            EstimateTable { rows: vec![row] },
            &DisclosurePlan::default(),
        )
        .rows
        .remove(0)
    }

    #[test]
    fn small_domains_are_suppressed_entirely() {
        let row = release(proportion(29, 10, 0.05));
        assert!(row.suppressed);
        assert_eq!(row.flag.as_deref(), Some("n_below_min"));
        assert_eq!(
            (
                row.estimate,
                row.std_error,
                row.ci_lower,
                row.n,
                row.n_weighted
            ),
            (None, None, None, None, None)
        );
        assert_eq!(row.ci_method, None);
    }

    #[test]
    fn a_suppressed_share_of_zero_does_not_show_its_exact_interval() {
        // A share of 0 gets the exact interval in place of logit's, and says so; suppressed,
        // neither the method nor the flag may tell that nobody answered yes.
        let mut zero = proportion(20, 0, 0.0);
        zero.ci_method = "korn-graubard".into();
        zero.flag = Some("ci_korn_graubard".into());
        let row = release(zero);
        assert!(row.suppressed);
        assert_eq!(
            (row.ci_method, row.flag.as_deref()),
            (None, Some("n_below_min"))
        );
        let published = release(proportion(100, 50, 0.05));
        assert_eq!(published.ci_method.as_deref(), Some("logit"));
    }

    #[test]
    fn small_yes_or_no_cells_are_suppressed() {
        assert_eq!(
            release(proportion(100, 4, 0.02)).flag.as_deref(),
            Some("cell_below_min")
        );
        assert_eq!(
            release(proportion(100, 96, 0.02)).flag.as_deref(),
            Some("cell_below_min")
        );
        assert!(!release(proportion(100, 5, 0.02)).suppressed);
    }

    fn cell(segmentation: &str, segment: &str, n: i64) -> EstimateRow {
        EstimateRow {
            segmentation: segmentation.into(),
            segment: segment.into(),
            ..proportion(n, n / 2, 0.01)
        }
    }

    fn released(rows: Vec<EstimateRow>) -> Vec<(String, String, bool, Option<String>)> {
        apply(EstimateTable { rows }, &DisclosurePlan::default())
            .rows
            .into_iter()
            .map(|r| (r.segmentation, r.segment, r.suppressed, r.flag))
            .collect()
    }

    /// Every additive relation of the published table has no or at least two hidden cells.
    fn no_equation_has_one_unknown(rows: &[EstimateRow]) {
        let table = apply(
            EstimateTable {
                rows: rows.to_vec(),
            },
            &DisclosurePlan::default(),
        );
        let hidden: Vec<bool> = table.rows.iter().map(|r| r.suppressed).collect();
        let cells: Vec<usize> = (0..rows.len()).collect();
        for equation in equations(rows, &cells) {
            let Some(margin) = equation.margin else {
                continue;
            };
            let unknown = equation.members.iter().filter(|&&i| hidden[i]).count()
                + usize::from(hidden[margin]);
            assert_ne!(unknown, 1, "members {:?}", equation.members);
        }
    }

    #[test]
    fn a_lone_suppressed_segment_takes_the_smallest_sibling_with_it() {
        let rows = vec![
            cell("total", "total", 400),
            cell("regio", "1", 20),
            cell("regio", "2", 120),
            cell("regio", "3", 60),
            cell("regio", "4", 200),
        ];
        let flags = released(rows.clone());
        assert_eq!(flags[1].3.as_deref(), Some("n_below_min"));
        assert_eq!(flags[3].3.as_deref(), Some(COMPLEMENTARY));
        assert!(flags[3].2);
        assert!(!flags[0].2 && !flags[2].2 && !flags[4].2);
        no_equation_has_one_unknown(&rows);
    }

    #[test]
    fn two_suppressed_segments_need_no_complement() {
        let rows = vec![
            cell("total", "total", 400),
            cell("regio", "1", 20),
            cell("regio", "2", 25),
            cell("regio", "3", 355),
        ];
        let hidden: Vec<bool> = released(rows).iter().map(|r| r.2).collect();
        assert_eq!(hidden, [false, true, true, false]);
    }

    #[test]
    fn a_segment_without_siblings_hides_its_margin() {
        let rows = vec![cell("total", "total", 25), cell("regio", "1", 25)];
        let hidden: Vec<bool> = released(rows).iter().map(|r| r.2).collect();
        assert_eq!(hidden, [true, true]);
        let rows = vec![cell("total", "total", 400), cell("regio", "1", 20)];
        let flags = released(rows);
        assert_eq!(flags[0].3.as_deref(), Some(COMPLEMENTARY));
    }

    #[test]
    fn crossed_segmentations_are_protected_along_both_margins() {
        // sex (1, 2) × band (1, 2, 3), with both one-way margins and the total.
        let mut rows = vec![cell("total", "total", 600)];
        for (sex, n) in [("1", 280), ("2", 320)] {
            rows.push(cell("sex", sex, n));
        }
        for (band, n) in [("1", 150), ("2", 200), ("3", 250)] {
            rows.push(cell("band", band, n));
        }
        for (segment, n) in [
            ("1|1", 10),
            ("1|2", 120),
            ("1|3", 150),
            ("2|1", 140),
            ("2|2", 80),
            ("2|3", 100),
        ] {
            rows.push(cell("sex*band", segment, n));
        }
        no_equation_has_one_unknown(&rows);
        let table = released(rows);
        let hidden: Vec<&str> = table.iter().filter(|r| r.2).map(|r| r.1.as_str()).collect();
        // 1|1 is too small; 2|1 protects it within band 1, 1|2 within sex 1, and then 2|2
        // within band 2 and sex 2. No margin needs to go.
        assert_eq!(hidden, ["1|1", "1|2", "2|1", "2|2"]);
    }

    /// A cell without respondents, as the estimator leaves it.
    fn empty(segmentation: &str, segment: &str) -> EstimateRow {
        EstimateRow {
            estimate: None,
            std_error: None,
            ci_lower: None,
            ci_upper: None,
            df: None,
            n: 0,
            n_weighted: 0.0,
            rse: None,
            n_yes: Some(0),
            flag: Some(EMPTY_DOMAIN.into()),
            ..cell(segmentation, segment, 0)
        }
    }

    #[test]
    fn an_empty_cell_is_flagged_and_forces_no_suppression() {
        // Region 3 is outside the indicator's population: its cell is empty, and region 1 and 2
        // publish, although region 2 equals the total.
        let rows = vec![
            cell("total", "total", 400),
            cell("regio", "1", 150),
            cell("regio", "2", 250),
            empty("regio", "3"),
            cell("sex", "1", 180),
            cell("sex", "2", 220),
            cell("regio*sex", "1|1", 70),
            cell("regio*sex", "1|2", 80),
            cell("regio*sex", "2|1", 110),
            cell("regio*sex", "2|2", 140),
            empty("regio*sex", "3|1"),
            empty("regio*sex", "3|2"),
        ];
        let table = released(rows.clone());
        for (segmentation, segment, hidden, flag) in &table {
            assert!(!hidden, "{segmentation} {segment} {flag:?}");
            let empty = segment.starts_with('3');
            assert_eq!(flag.as_deref() == Some(EMPTY_DOMAIN), empty, "{segment}");
        }
        no_equation_has_one_unknown(&rows);

        // A small cell beside an empty one takes a non-empty sibling with it, never the empty
        // one (whose 0 is known anyway).
        let rows = vec![
            cell("total", "total", 400),
            cell("regio", "1", 20),
            cell("regio", "2", 380),
            empty("regio", "3"),
        ];
        let hidden: Vec<bool> = released(rows.clone()).iter().map(|r| r.2).collect();
        assert_eq!(hidden, [false, true, true, false]);
        no_equation_has_one_unknown(&rows);
        let rows = vec![
            cell("total", "total", 20),
            cell("regio", "1", 20),
            empty("regio", "2"),
        ];
        let hidden: Vec<bool> = released(rows).iter().map(|r| r.2).collect();
        assert_eq!(hidden, [true, true, false]);
    }

    #[test]
    fn waves_and_indicators_are_protected_separately() {
        let mut rows = vec![
            cell("total", "total", 400),
            cell("regio", "1", 20),
            cell("regio", "2", 380),
        ];
        rows.extend(rows.clone().into_iter().map(|r| EstimateRow {
            wave: 2022.into(),
            ..r
        }));
        rows.push(EstimateRow {
            indicator: "y".into(),
            ..cell("regio", "2", 40)
        });
        let hidden: Vec<bool> = released(rows).iter().map(|r| r.2).collect();
        assert_eq!(hidden, [false, true, true, false, true, true, false]);
    }

    #[test]
    fn weak_designs_are_flagged() {
        // p = 0.5 with SE 0.1: effective n = 0.25 / 0.01 = 25 < 30.
        let row = release(proportion(100, 50, 0.1));
        assert_eq!(row.flag.as_deref(), Some("low_effective_n"));
        let row = release(EstimateRow {
            df: Some(7.0),
            ..proportion(100, 50, 0.05)
        });
        assert_eq!(row.flag.as_deref(), Some("low_df"));
        let row = release(EstimateRow {
            df: Some(8.0),
            ..proportion(100, 50, 0.05)
        });
        assert_eq!(row.flag, None);
        let mean = EstimateRow {
            kind: IndicatorKind::Mean,
            estimate: Some(10.0),
            std_error: Some(0.5),
            rse: Some(0.05),
            deff: Some(4.0),
            n_yes: None,
            ..proportion(100, 50, 0.05)
        };
        assert_eq!(effective_n(&mean), 25.0);
        assert_eq!(release(mean).flag.as_deref(), Some("low_effective_n"));
    }

    #[test]
    fn imprecise_estimates_are_flagged_not_hidden() {
        let row = release(proportion(100, 10, 0.04));
        assert!(!row.suppressed);
        assert_eq!(row.flag.as_deref(), Some("unreliable"));
        assert_eq!(row.estimate, Some(0.1));
    }
}
