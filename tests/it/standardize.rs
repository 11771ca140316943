//! `standardize` as a researcher meets it: mistakes in the key or the standard population stop
//! the run with the file and line, and the documented properties hold (in a segmentation by the
//! standardisation column itself, the standardised estimate is the crude one). Agreement with R
//! is `r_standardize`.

use crate::common;

use common::{in_scratch, read_parquet, run_in_scratch, sample_rows, MINIMAL_SPEC};

const STANDARD: &str = "category,count\n1,10\n2,15\n3,20\n4,25\n5,15\n6,10\n7,5\n";

fn standardized(key: &str) -> String {
    MINIMAL_SPEC.replace(
        "value = \"belasting >= 4\"",
        &format!("value = \"belasting >= 4\"\npopulation = \"belasting BETWEEN 1 AND 5\"\n{key}"),
    ) + "\n[segments]\nby = [[\"mz_leeftijd_cat\"], [\"provincie\"]]\n\n[disclosure]\nmin_n = 0\nmin_cell = 0\n"
}

const KEY: &str = "standardize = { by = \"mz_leeftijd_cat\", population = \"standard.csv\" }";

#[test]
fn mistakes_in_standardize_are_named_with_the_file() {
    // No such file.
    let (code, stderr) = run_in_scratch(&standardized(KEY), &[("data.csv", sample_rows(300))]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("S056") && stderr.contains("standard.csv"),
        "{stderr}"
    );
    // A file without a share or count column, and a negative share.
    for bad in ["category,aantal\n1,3\n", "category,share\n1,0.5\n2,-0.5\n"] {
        let files = [
            ("data.csv", sample_rows(300)),
            ("standard.csv", bad.to_string()),
        ];
        let (code, stderr) = run_in_scratch(&standardized(KEY), &files);
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains("S056"), "{stderr}");
    }
    // Another kind, an unknown column.
    let files = [
        ("data.csv", sample_rows(300)),
        ("standard.csv", STANDARD.to_string()),
    ];
    let total = standardized(KEY).replace("kind = \"proportion\"", "kind = \"total\"");
    let (code, stderr) = run_in_scratch(&total, &files);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("S057") && stderr.contains("spec.toml:"),
        "{stderr}"
    );
    let unknown = standardized(&KEY.replace("mz_leeftijd_cat\"", "leeftijd\""));
    let (code, stderr) = run_in_scratch(&unknown, &files);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("S057"), "{stderr}");
    // A code of the data that the standard lacks.
    let short = [
        ("data.csv", sample_rows(300)),
        ("standard.csv", "category,share\n1,1\n".to_string()),
    ];
    let (code, stderr) = run_in_scratch(&standardized(KEY), &short);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("E005") && stderr.contains("no share"),
        "{stderr}"
    );
}

#[test]
fn by_the_standardisation_column_itself_the_standardised_estimate_is_the_crude_one() {
    let files = [
        ("data.csv", sample_rows(600)),
        ("standard.csv", STANDARD.to_string()),
    ];
    let (dir, output) = in_scratch("run", &standardized(KEY), &files);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let estimates = read_parquet(&dir.path().join("output/estimates.parquet"));
    let column = |name: &str| estimates.column(name).unwrap().clone();
    let (indicator, segmentation, segment) = (
        column("indicator"),
        column("segmentation"),
        column("segment"),
    );
    let (estimate, se, by) = (
        column("estimate"),
        column("std_error"),
        column("standardized_by"),
    );
    let text = |c: &polars::prelude::Column, i: usize| c.str().unwrap().get(i).map(str::to_string);
    let number = |c: &polars::prelude::Column, i: usize| c.f64().unwrap().get(i);
    let mut compared = 0;
    let mut moved = 0;
    for i in 0..estimates.height() {
        if text(&indicator, i).as_deref() != Some("overbelast_std") {
            continue;
        }
        assert_eq!(text(&by, i).as_deref(), Some("mz_leeftijd_cat"));
        let crude = (0..estimates.height())
            .find(|&j| {
                text(&indicator, j).as_deref() == Some("overbelast")
                    && text(&segmentation, j) == text(&segmentation, i)
                    && text(&segment, j) == text(&segment, i)
            })
            .expect("the crude estimate of the same segment");
        assert_eq!(text(&by, crude), None);
        let (s, c) = (
            number(&estimate, i).unwrap(),
            number(&estimate, crude).unwrap(),
        );
        if text(&segmentation, i).as_deref() == Some("mz_leeftijd_cat") {
            assert!((s - c).abs() <= 1e-12 * c.abs().max(1e-12), "{s} vs {c}");
            let (s, c) = (number(&se, i).unwrap(), number(&se, crude).unwrap());
            assert!((s - c).abs() <= 1e-9 * c, "SE {s} vs {c}");
            compared += 1;
        } else if (s - c).abs() > 1e-6 {
            moved += 1;
        }
    }
    assert!(compared >= 5, "{compared} age bands compared");
    assert!(moved > 0, "standardisation changed no other estimate");
}
