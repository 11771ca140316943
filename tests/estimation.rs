//! The estimation engine on data large enough to be cut into many chunks: results do not
//! depend on the number of threads, bit for bit.

mod common;

use peiling::estimate;
use peiling::generate::{self, Kind, Options};

const SPEC: &str = r#"[pipeline]
name = "threads"

[[input]]
wave = 2022
path = "data.csv"
schema = "gezondheidsmonitor.schema.toml"

[design]
weight = "gewicht"
strata = "ggd_regio"
lonely_psu = "adjust"
adjust_domain_lonely = true

[[indicator]]
id = "mantelzorger"
label = "Mantelzorger"
kind = "proportion"
value = "mantelzorger = 1"
ci = "korn-graubard"

[[indicator]]
id = "uren"
label = "Uren"
kind = "mean"
population = "mantelzorger = 1"
value = "uren_pw"

[[indicator]]
id = "uren_totaal"
label = "Uren totaal"
kind = "total"
population = "mantelzorger = 1"
value = "uren_pw"

[[indicator]]
id = "respijt_per_uur"
label = "Respijt per uur"
kind = "ratio"
population = "mantelzorger = 1"
numerator = "respijt"
denominator = "uren_pw"

[[indicator]]
id = "uren_mediaan"
label = "Uren, mediaan"
kind = "quantile"
population = "mantelzorger = 1"
value = "uren_pw"
probability = 0.5

[segments]
total = true
by = [["gemeente"], ["geslacht", "leeftijd_cat"]]
"#;

#[test]
fn estimates_are_bit_identical_for_one_and_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        kind: Kind::Gezondheidsmonitor,
        rows: 80_000,
        seed: 5,
        wave: 2022,
        defects: false,
    };
    let file = std::fs::File::create(dir.path().join("data.csv")).unwrap();
    generate::write_csv(&options, std::io::BufWriter::new(file)).unwrap();
    std::fs::copy(
        common::root().join("schemas/gezondheidsmonitor.schema.toml"),
        dir.path().join("gezondheidsmonitor.schema.toml"),
    )
    .unwrap();
    std::fs::write(dir.path().join("spec.toml"), SPEC).unwrap();

    let (plan, design, _) = common::plan_and_design(&dir.path().join("spec.toml"), None);
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| estimate::all(std::slice::from_ref(&design), &plan).unwrap())
    };
    let (one, two) = (run(1), run(2));
    assert!(one.rows.len() > 1700, "{} rows", one.rows.len());
    for (a, b) in one.rows.iter().zip(&two.rows) {
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }
    assert_eq!(one.rows.len(), two.rows.len());
}
