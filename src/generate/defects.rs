//! Deliberate defects for the validator, placed by their own random stream.

use super::*;

/// A deliberate defect for the validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Defect {
    /// `uren_pw` above 168.
    HoursAbove168,
    /// Respite answered although the person lives in an institution.
    RespiteInInstitution,
    /// `mz_leeftijd_cat` disagrees with `mz_leeftijd`.
    AgeBandMismatch,
    /// The id of an earlier row.
    DuplicateId,
    /// `mz_leeftijd` written with a decimal.
    DecimalAge,
    /// `belasting` 6 or an EDIZ item 7: codes not in the codebook.
    StrayCode,
}

impl Defect {
    pub(super) fn name(self) -> &'static str {
        match self {
            Defect::HoursAbove168 => "hours_above_168",
            Defect::RespiteInInstitution => "respite_in_institution",
            Defect::AgeBandMismatch => "age_band_mismatch",
            Defect::DuplicateId => "duplicate_id",
            Defect::DecimalAge => "decimal_age",
            Defect::StrayCode => "stray_code",
        }
    }
}

pub(super) const DEFECTS: [Defect; 6] = [
    Defect::HoursAbove168,
    Defect::RespiteInInstitution,
    Defect::AgeBandMismatch,
    Defect::DuplicateId,
    Defect::DecimalAge,
    Defect::StrayCode,
];

/// Each defect kind occurs once in every block of this many rows (about 0.15% of rows each).
pub(super) const DEFECT_BLOCK: usize = 650;

/// Places the defects: in each block of [`DEFECT_BLOCK`] rows, one row per kind at distinct
/// random offsets (never the first row, so a duplicate id always has an earlier row to copy).
pub(super) struct DefectPlan {
    pub(super) draw: Draw,
    pub(super) offsets: [usize; 6],
}

impl DefectPlan {
    pub(super) fn new(seed: u64) -> Self {
        DefectPlan {
            draw: Draw::new(seed, DEFECT_STREAM),
            offsets: [0; 6],
        }
    }

    /// The defect of row `index` (0-based), if any.
    pub(super) fn defect_at(&mut self, index: usize) -> Option<Defect> {
        let offset = index % DEFECT_BLOCK;
        if offset == 0 {
            self.plan_block();
        }
        DEFECTS
            .iter()
            .zip(self.offsets)
            .find(|&(_, at)| at == offset)
            .map(|(&defect, _)| defect)
    }

    pub(super) fn plan_block(&mut self) {
        for kind in 0..DEFECTS.len() {
            self.offsets[kind] = loop {
                let offset = self.draw.between(1, DEFECT_BLOCK - 1);
                if !self.offsets[..kind].contains(&offset) {
                    break offset;
                }
            };
        }
    }

    /// Spoils `record` with `defect`.
    pub(super) fn apply(&mut self, defect: Defect, record: &mut Record) {
        let draw = &mut self.draw;
        match defect {
            Defect::HoursAbove168 => {
                record.uren = Hours::Value(tenths(170.0 + 230.0 * draw.uniform()));
            }
            Defect::RespiteInInstitution => {
                record.woonsituatie = INSTITUTION;
                record.dagbesteding = i64::from(draw.chance(0.5));
                record.logeeropvang = NOT_APPLICABLE;
                record.thuis = NOT_APPLICABLE;
            }
            Defect::AgeBandMismatch => record.leeftijd_cat = record.leeftijd_cat % 7 + 1,
            Defect::DuplicateId => {
                record.id -= draw.between(1, (record.id - 1).clamp(1, 200));
            }
            Defect::DecimalAge => record.leeftijd_half = true,
            Defect::StrayCode => {
                if draw.chance(0.5) {
                    record.belasting = 6;
                } else {
                    record.ediz[draw.between(0, 8)] = 7;
                }
            }
        }
    }
}

/// The deliberate defects of a Dementiemonitor wave, as `write_csv` places them: (0-based data
/// row, defect name), in row order. Names: `hours_above_168`, `respite_in_institution`,
/// `age_band_mismatch`, `duplicate_id`, `decimal_age`, `stray_code`.
pub fn defects(opts: &Options) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    if opts.kind == Kind::Dementiemonitor {
        let mut note = |index: usize, defect: Defect| found.push((index, defect.name()));
        write_dementiemonitor_noting(opts, &mut io::sink(), &mut note)
            .expect("writing to a sink cannot fail");
    }
    found
}
