//! The committed sample waves are exactly what `peiling generate` makes from their seeds.

use crate::common;

use common::root;
use peiling::generate::{self, Kind, Options};

#[test]
fn sample_waves_regenerate_byte_for_byte() {
    for wave in [2020, 2022, 2024] {
        let options = Options {
            kind: Kind::Dementiemonitor,
            rows: generate::default_rows(wave),
            seed: generate::default_seed(wave),
            wave,
            defects: true,
        };
        let mut generated = Vec::new();
        generate::write_csv(&options, &mut generated).unwrap();
        let committed =
            std::fs::read(root().join(format!("sample-data/dementiemonitor-{wave}.csv"))).unwrap();
        assert!(
            generated == committed,
            "sample-data/dementiemonitor-{wave}.csv differs from `peiling generate`"
        );

        let mut margins = Vec::new();
        generate::write_margins(wave, &mut margins).unwrap();
        let committed =
            std::fs::read(root().join(format!("sample-data/margins/dementiemonitor-{wave}.csv")))
                .unwrap();
        assert!(
            margins == committed,
            "margins of {wave} differ from `peiling generate`"
        );
    }
}
