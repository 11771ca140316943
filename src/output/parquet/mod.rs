//! Parquet tables: `estimates.parquet` (the contract of DESIGN.md §6), `changes.parquet`,
//! `models.parquet`, and the private `respondents.parquet` and `rejects.parquet`.
//!
//! Column names are the constants below: rename nothing, add freely. `estimates.parquet` holds
//! the deterministic part of the manifest in its key-value metadata (`peiling:manifest`), so
//! the same inputs, spec and version give the same bytes.

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::*;

use crate::changes::ChangeRow;
use crate::disclosure::{ReleasedModelRow, ReleasedTable};
use crate::spec::{ModelFamily, Plan, SchemaPlan, Wave};
use crate::validate::Rejects;

mod labels;
mod pages;
mod write;

pub const PIPELINE: &str = "pipeline";
pub const WAVE: &str = "wave";
pub const INDICATOR: &str = "indicator";
pub const KIND: &str = "kind";
pub const STANDARDIZED_BY: &str = "standardized_by";
pub const SEGMENTATION: &str = "segmentation";
pub const SEGMENT: &str = "segment";
pub const SEGMENT_LABEL: &str = "segment_label";
pub const ESTIMATE: &str = "estimate";
pub const STD_ERROR: &str = "std_error";
pub const CI_LOWER: &str = "ci_lower";
pub const CI_UPPER: &str = "ci_upper";
pub const CI_METHOD: &str = "ci_method";
pub const DF: &str = "df";
pub const N: &str = "n";
pub const N_WEIGHTED: &str = "n_weighted";
pub const DEFF: &str = "deff";
pub const RSE: &str = "rse";
pub const SUPPRESSED: &str = "suppressed";
pub const FLAG: &str = "flag";

/// Every column of `estimates.parquet`, in order.
pub const ESTIMATE_COLUMNS: [&str; 20] = [
    PIPELINE,
    WAVE,
    INDICATOR,
    KIND,
    STANDARDIZED_BY,
    SEGMENTATION,
    SEGMENT,
    SEGMENT_LABEL,
    ESTIMATE,
    STD_ERROR,
    CI_LOWER,
    CI_UPPER,
    CI_METHOD,
    DF,
    N,
    N_WEIGHTED,
    DEFF,
    RSE,
    SUPPRESSED,
    FLAG,
];

/// Weight column added to the private microdata.
pub const DESIGN_WEIGHT: &str = "design_weight";
/// The weights after `[weighting]` (calibration and trimming), when the pipeline has it.
pub const CALIBRATED_WEIGHT: &str = "calibrated_weight";

/// The released estimates as a polars frame with the contract columns.
pub fn estimates_frame(plan: &Plan, table: &ReleasedTable) -> PolarsResult<DataFrame> {
    let pipeline = &plan.name;
    let rows = &table.rows;
    // The `by` column of a standardised indicator.
    let standardized: HashMap<&str, &str> = plan
        .indicators
        .iter()
        .filter_map(|i| Some((i.id.as_str(), i.standardize.as_ref()?.by.as_str())))
        .collect();
    let text = |name: &str, f: &dyn Fn(usize) -> Option<String>| {
        Column::new(name.into(), (0..rows.len()).map(f).collect::<Vec<_>>())
    };
    let number = |name: &str, f: &dyn Fn(usize) -> Option<f64>| {
        Column::new(name.into(), (0..rows.len()).map(f).collect::<Vec<_>>())
    };
    DataFrame::new(
        rows.len(),
        vec![
            text(PIPELINE, &|_| Some(pipeline.to_string())),
            wave_column(WAVE, rows.iter().map(|r| r.wave)),
            text(INDICATOR, &|i| Some(rows[i].indicator.clone())),
            text(KIND, &|i| Some(rows[i].kind.as_str().to_string())),
            text(STANDARDIZED_BY, &|i| {
                standardized
                    .get(rows[i].indicator.as_str())
                    .map(|by| by.to_string())
            }),
            text(SEGMENTATION, &|i| Some(rows[i].segmentation.clone())),
            text(SEGMENT, &|i| Some(rows[i].segment.clone())),
            text(SEGMENT_LABEL, &|i| Some(rows[i].segment_label.clone())),
            number(ESTIMATE, &|i| rows[i].estimate),
            number(STD_ERROR, &|i| rows[i].std_error),
            number(CI_LOWER, &|i| rows[i].ci_lower),
            number(CI_UPPER, &|i| rows[i].ci_upper),
            text(CI_METHOD, &|i| rows[i].ci_method.clone()),
            number(DF, &|i| rows[i].df),
            Column::new(
                N.into(),
                rows.iter().map(|r| r.n).collect::<Vec<Option<i64>>>(),
            ),
            number(N_WEIGHTED, &|i| rows[i].n_weighted),
            number(DEFF, &|i| rows[i].deff),
            number(RSE, &|i| rows[i].rse),
            Column::new(
                SUPPRESSED.into(),
                rows.iter().map(|r| r.suppressed).collect::<Vec<bool>>(),
            ),
            text(FLAG, &|i| rows[i].flag.clone()),
        ],
    )
}

pub const MODEL: &str = "model";
pub const FAMILY: &str = "family";
pub const TERM: &str = "term";
pub const LEVEL: &str = "level";
pub const LEVEL_LABEL: &str = "level_label";
pub const STATISTIC: &str = "statistic";
pub const EXP_ESTIMATE: &str = "exp_estimate";
pub const EXP_CI_LOWER: &str = "exp_ci_lower";
pub const EXP_CI_UPPER: &str = "exp_ci_upper";

/// Every column of `models.parquet`, in order.
pub const MODEL_COLUMNS: [&str; 24] = [
    PIPELINE,
    WAVE,
    MODEL,
    FAMILY,
    SEGMENTATION,
    SEGMENT,
    SEGMENT_LABEL,
    TERM,
    LEVEL,
    LEVEL_LABEL,
    ESTIMATE,
    STD_ERROR,
    STATISTIC,
    DF,
    P_VALUE,
    CI_LOWER,
    CI_UPPER,
    EXP_ESTIMATE,
    EXP_CI_LOWER,
    EXP_CI_UPPER,
    N,
    N_WEIGHTED,
    SUPPRESSED,
    FLAG,
];

/// The released model coefficients as a polars frame: [`MODEL_COLUMNS`]. The exponentiated
/// estimate and interval (odds ratio, rate ratio) are there for logistic and poisson models.
pub fn models_frame(pipeline: &str, rows: &[ReleasedModelRow]) -> PolarsResult<DataFrame> {
    let text = |name: &str, f: &dyn Fn(&ReleasedModelRow) -> Option<String>| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>())
    };
    let number = |name: &str, f: &dyn Fn(&ReleasedModelRow) -> Option<f64>| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>())
    };
    let exp = |r: &ReleasedModelRow, v: Option<f64>| {
        v.filter(|_| r.family != ModelFamily::Linear).map(f64::exp)
    };
    DataFrame::new(
        rows.len(),
        vec![
            text(PIPELINE, &|_| Some(pipeline.to_string())),
            wave_column(WAVE, rows.iter().map(|r| r.wave)),
            text(MODEL, &|r| Some(r.model.clone())),
            text(FAMILY, &|r| Some(r.family.as_str().to_string())),
            text(SEGMENTATION, &|r| Some(r.segmentation.clone())),
            text(SEGMENT, &|r| Some(r.segment.clone())),
            text(SEGMENT_LABEL, &|r| Some(r.segment_label.clone())),
            text(TERM, &|r| Some(r.term.clone())),
            text(LEVEL, &|r| r.level.clone()),
            text(LEVEL_LABEL, &|r| r.level_label.clone()),
            number(ESTIMATE, &|r| r.estimate),
            number(STD_ERROR, &|r| r.std_error),
            number(STATISTIC, &|r| r.statistic),
            number(DF, &|r| r.df),
            number(P_VALUE, &|r| r.p_value),
            number(CI_LOWER, &|r| r.ci_lower),
            number(CI_UPPER, &|r| r.ci_upper),
            number(EXP_ESTIMATE, &|r| exp(r, r.estimate)),
            number(EXP_CI_LOWER, &|r| exp(r, r.ci_lower)),
            number(EXP_CI_UPPER, &|r| exp(r, r.ci_upper)),
            Column::new(N.into(), rows.iter().map(|r| r.n).collect::<Vec<_>>()),
            number(N_WEIGHTED, &|r| r.n_weighted),
            Column::new(
                SUPPRESSED.into(),
                rows.iter().map(|r| r.suppressed).collect::<Vec<bool>>(),
            ),
            text(FLAG, &|r| r.flag.clone()),
        ],
    )
}

pub const BASE_WAVE: &str = "base_wave";
pub const BASE_ESTIMATE: &str = "base_estimate";
pub const DIFFERENCE: &str = "difference";
pub const P_VALUE: &str = "p_value";
pub const SIGNIFICANT: &str = "significant";

/// The changes between waves as a polars frame: the estimates' key columns, both estimates,
/// and the inference on their difference.
pub fn changes_frame(pipeline: &str, rows: &[ChangeRow]) -> PolarsResult<DataFrame> {
    let text = |name: &str, f: &dyn Fn(&ChangeRow) -> String| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>())
    };
    let number = |name: &str, f: &dyn Fn(&ChangeRow) -> Option<f64>| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>())
    };
    let wave = |name: &str, f: &dyn Fn(&ChangeRow) -> Wave| wave_column(name, rows.iter().map(f));
    DataFrame::new(
        rows.len(),
        vec![
            text(PIPELINE, &|_| pipeline.to_string()),
            text(INDICATOR, &|r| r.indicator.clone()),
            text(KIND, &|r| r.kind.as_str().to_string()),
            text(SEGMENTATION, &|r| r.segmentation.clone()),
            text(SEGMENT, &|r| r.segment.clone()),
            text(SEGMENT_LABEL, &|r| r.segment_label.clone()),
            wave(WAVE, &|r| r.wave),
            wave(BASE_WAVE, &|r| r.base_wave),
            number(ESTIMATE, &|r| r.estimate),
            number(BASE_ESTIMATE, &|r| r.base_estimate),
            number(DIFFERENCE, &|r| r.difference),
            number(STD_ERROR, &|r| r.std_error),
            number(DF, &|r| r.df),
            number(CI_LOWER, &|r| r.ci_lower),
            number(CI_UPPER, &|r| r.ci_upper),
            number(P_VALUE, &|r| r.p_value),
            Column::new(
                SIGNIFICANT.into(),
                rows.iter().map(|r| r.significant).collect::<Vec<_>>(),
            ),
            Column::new(
                SUPPRESSED.into(),
                rows.iter().map(|r| r.suppressed).collect::<Vec<_>>(),
            ),
            Column::new(
                FLAG.into(),
                rows.iter().map(|r| r.flag.clone()).collect::<Vec<_>>(),
            ),
        ],
    )
}

/// The rejects of all waves: one row per problem.
pub fn rejects_frame(
    rejects: &[Rejects],
    lines: &dyn Fn(Wave, usize) -> Option<u32>,
) -> PolarsResult<DataFrame> {
    let problems: Vec<(&Rejects, &crate::validate::Problem)> = rejects
        .iter()
        .flat_map(|wave| wave.problems.iter().map(move |p| (wave, p)))
        .collect();
    let height = problems.len();
    DataFrame::new(
        height,
        vec![
            wave_column(WAVE, problems.iter().map(|(w, _)| w.wave)),
            Column::new(
                "file".into(),
                problems
                    .iter()
                    .map(|(w, _)| w.file.clone())
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "row".into(),
                problems
                    .iter()
                    .map(|(_, p)| p.row as i64 + 1)
                    .collect::<Vec<i64>>(),
            ),
            Column::new(
                "line".into(),
                problems
                    .iter()
                    .map(|(w, p)| lines(w.wave, p.row).map(i64::from))
                    .collect::<Vec<Option<i64>>>(),
            ),
            Column::new(
                "key".into(),
                problems
                    .iter()
                    .map(|(_, p)| p.key.clone())
                    .collect::<Vec<Option<String>>>(),
            ),
            Column::new(
                "column".into(),
                problems
                    .iter()
                    .map(|(_, p)| p.column.clone())
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "value".into(),
                problems
                    .iter()
                    .map(|(_, p)| p.value.clone())
                    .collect::<Vec<Option<String>>>(),
            ),
            Column::new(
                "rule".into(),
                problems
                    .iter()
                    .map(|(_, p)| p.rule.clone())
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "code".into(),
                problems
                    .iter()
                    .map(|(_, p)| p.code.id.to_string())
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "message".into(),
                problems
                    .iter()
                    .map(|(_, p)| p.message.clone())
                    .collect::<Vec<String>>(),
            ),
        ],
    )
}

/// Value labels, user-missing codes and question texts of the schema as JSON, for the
/// key-value metadata of the microdata (what SPSS keeps in its dictionary).
pub fn labels_json(schema: &SchemaPlan) -> String {
    let fields: serde_json::Map<String, serde_json::Value> = schema
        .fields
        .iter()
        .map(|f| {
            let codes = |codes: &[(crate::spec::Code, String)]| {
                codes
                    .iter()
                    .map(|(c, l)| (c.to_string(), serde_json::Value::from(l.clone())))
                    .collect::<serde_json::Map<_, _>>()
            };
            let mut value = serde_json::json!({
                "type": f.field_type.as_str(),
                "label": f.label,
                "categories": codes(&f.categories),
                "missing": codes(&f.missing),
            });
            if !f.value_labels.is_empty() {
                value["labels"] = codes(&f.value_labels).into();
            }
            if !f.missing_ranges.is_empty() {
                value["missing_ranges"] = serde_json::json!(f.missing_ranges);
            }
            (f.name.clone(), value)
        })
        .collect();
    serde_json::Value::Object(fields).to_string()
}

/// Suffix of the label column added beside a labelled column of the microdata.
pub const LABEL_SUFFIX: &str = "_label";

/// A column of waves: Int32 when every wave is an integer (as the pipeline gave them), else
/// their names as text.
pub fn wave_column(name: &str, waves: impl Iterator<Item = Wave>) -> Column {
    let waves: Vec<Wave> = waves.collect();
    match waves
        .iter()
        .map(|w| w.number())
        .collect::<Option<Vec<i32>>>()
    {
        Some(numbers) => Column::new(name.into(), numbers),
        None => Column::new(
            name.into(),
            waves.iter().map(|w| w.name()).collect::<Vec<&str>>(),
        ),
    }
}

/// Writes a frame with key-value metadata.
pub fn write(frame: &DataFrame, path: &Path, metadata: Vec<(String, String)>) -> PolarsResult<()> {
    write::write_frame(frame, path, metadata)
}

/// A column of doubles without nulls that the microdata takes from slices, not from a frame
/// (the weights of each wave's design): no copy of it is made, and none of it is encoded when
/// it is bit for bit an earlier column (the design weights of a design with a weight column).
pub struct Doubles<'a> {
    pub name: &'static str,
    /// Its rows, a piece (a wave's) after the other.
    pub pieces: Vec<&'a [f64]>,
}

/// The rows of a column of doubles without nulls, chunk by chunk; `None` for any other.
fn doubles_of(column: &Column) -> Option<Vec<&[f64]>> {
    let numbers = column.as_materialized_series().f64().ok()?;
    (numbers.null_count() == 0).then(|| {
        numbers
            .downcast_iter()
            .map(|array| array.values().as_slice())
            .collect()
    })
}

/// Whether `a` and `b` (rows in pieces) hold the same bits, row by row: -0.0 is not 0.0, a NaN
/// is the NaN it is.
fn same_bits(a: &[&[f64]], b: &[&[f64]]) -> bool {
    fn bits<'p>(pieces: &'p [&[f64]]) -> impl Iterator<Item = u64> + 'p {
        pieces.iter().flat_map(|p| p.iter().map(|v| v.to_bits()))
    }
    let rows = |pieces: &[&[f64]]| pieces.iter().map(|p| p.len()).sum::<usize>();
    rows(a) == rows(b) && bits(a).eq(bits(b))
}

/// Writes the microdata: the columns of `frame`, then `doubles` (the weights), then a
/// `<field>_label` column beside every column with value labels (`labels::label_columns`), with
/// the schema's labels as JSON in the key-value metadata (`peiling:labels`).
pub fn write_microdata(
    frame: &DataFrame,
    doubles: &[Doubles],
    schema: &SchemaPlan,
    path: &Path,
) -> PolarsResult<(u64, String)> {
    write::write_columns(
        path,
        &microdata_columns(frame, doubles, schema)?,
        frame.height(),
        vec![("peiling:labels".into(), labels_json(schema))],
        write::ROW_GROUP_ROWS,
        write::Encodings::Fast,
    )
}

/// The microdata's columns: `frame`'s, `doubles`, then the label columns. Each of `doubles`
/// that is bit for bit an earlier column is written from that column's pages.
fn microdata_columns<'a>(
    frame: &DataFrame,
    doubles: &[Doubles<'a>],
    schema: &SchemaPlan,
) -> PolarsResult<Vec<write::FileColumn<'a>>> {
    let mut columns: Vec<write::FileColumn> =
        frame.columns().iter().map(write::FileColumn::of).collect();
    let mut earlier: Vec<Option<Vec<&[f64]>>> = frame.columns().iter().map(doubles_of).collect();
    for column in doubles {
        let mut file_column = write::FileColumn::doubles(column.name, column.pieces.clone());
        file_column.same_as = earlier.iter().position(|rows| {
            rows.as_deref()
                .is_some_and(|rows| same_bits(rows, &column.pieces))
        });
        columns.push(file_column);
        earlier.push(Some(column.pieces.clone()));
    }
    columns.extend(labels::label_columns(frame, schema)?);
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Design weights bit for bit the weight column are written from its pages, and the file
    /// is the one with every column encoded; a column equal only as numbers (-0.0 against 0.0)
    /// is encoded. The weights come in pieces (waves) that do not line up with the row groups
    /// or with the frame's chunks.
    #[test]
    fn a_weight_column_equal_to_a_data_column_is_written_from_its_pages() {
        let rows = write::ROW_GROUP_ROWS + 1000;
        let weights: Vec<f64> = (0..rows).map(|i| (i % 977) as f64 / 7.0).collect();
        let mut calibrated = weights.clone();
        calibrated[0] = -0.0;
        let mut data = df!["gewicht" => &weights[..1000]].unwrap();
        data.vstack_mut(&df!["gewicht" => &weights[1000..]].unwrap())
            .unwrap();
        data.with_column(Column::new(
            "x".into(),
            (0..rows as i64).collect::<Vec<_>>(),
        ))
        .unwrap();
        let cut = write::ROW_GROUP_ROWS - 17;
        let doubles = [
            Doubles {
                name: DESIGN_WEIGHT,
                pieces: vec![&weights[..cut], &[], &weights[cut..]],
            },
            Doubles {
                name: CALIBRATED_WEIGHT,
                pieces: vec![&calibrated[..5], &calibrated[5..]],
            },
        ];
        let frame = df![
            "gewicht" => &weights,
            "x" => (0..rows as i64).collect::<Vec<_>>(),
            DESIGN_WEIGHT => &weights,
            CALIBRATED_WEIGHT => &calibrated,
        ]
        .unwrap();
        let schema = SchemaPlan {
            name: "test".into(),
            path: "test.schema.toml".into(),
            sha256: String::new(),
            primary_key: Vec::new(),
            missing_values: Vec::new(),
            fields: Vec::new(),
            rules: Vec::new(),
        };
        let reused: Vec<Option<usize>> = microdata_columns(&data, &doubles, &schema)
            .unwrap()
            .iter()
            .map(|c| c.same_as)
            .collect();
        assert_eq!(reused, [None, None, Some(0), None]);

        let dir = tempfile::tempdir().unwrap();
        let (ours, encoded) = (
            dir.path().join("ours.parquet"),
            dir.path().join("all.parquet"),
        );
        write_microdata(&data, &doubles, &schema, &ours).unwrap();
        let every: Vec<write::FileColumn> =
            frame.columns().iter().map(write::FileColumn::of).collect();
        let metadata = vec![("peiling:labels".into(), labels_json(&schema))];
        write::write_columns(
            &encoded,
            &every,
            rows,
            metadata,
            write::ROW_GROUP_ROWS,
            write::Encodings::Fast,
        )
        .unwrap();
        assert_eq!(
            std::fs::read(&ours).unwrap(),
            std::fs::read(&encoded).unwrap()
        );
        let back = ParquetReader::new(std::fs::File::open(&ours).unwrap())
            .finish()
            .unwrap();
        assert!(back.equals(&frame));
        let first = back
            .column(CALIBRATED_WEIGHT)
            .unwrap()
            .f64()
            .unwrap()
            .get(0);
        assert_eq!(first.map(f64::to_bits), Some((-0.0f64).to_bits()));
    }
}
