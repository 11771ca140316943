//! Code tables: provinces and municipalities, with their sampling weights.

/// CBS province codes with sampling weights (percent) roughly proportional to the 65+
/// population; the small provinces are lifted to at least 2.5% so that each has some 90
/// respondents even in the smallest wave.
pub(super) const PROVINCES: [(i64, f64); 12] = [
    (20, 3.5),
    (21, 4.1),
    (22, 3.6),
    (23, 6.9),
    (24, 2.5),
    (25, 12.6),
    (26, 6.8),
    (27, 15.3),
    (28, 19.2),
    (29, 2.8),
    (30, 15.4),
    (31, 7.3),
];

pub(super) const GEMEENTE_TABLE: [(&str, &str, i64); 51] = [
    ("GM0014", "Groningen", 20),
    ("GM1966", "Het Hogeland", 20),
    ("GM0037", "Stadskanaal", 20),
    ("GM1952", "Midden-Groningen", 20),
    ("GM0080", "Leeuwarden", 21),
    ("GM1900", "Súdwest-Fryslân", 21),
    ("GM0090", "Smallingerland", 21),
    ("GM0074", "Heerenveen", 21),
    ("GM0106", "Assen", 22),
    ("GM0114", "Emmen", 22),
    ("GM0119", "Meppel", 22),
    ("GM0118", "Hoogeveen", 22),
    ("GM0153", "Enschede", 23),
    ("GM0193", "Zwolle", 23),
    ("GM0150", "Deventer", 23),
    ("GM0164", "Hengelo", 23),
    ("GM0141", "Almelo", 23),
    ("GM0034", "Almere", 24),
    ("GM0995", "Lelystad", 24),
    ("GM0171", "Noordoostpolder", 24),
    ("GM0200", "Apeldoorn", 25),
    ("GM0202", "Arnhem", 25),
    ("GM0268", "Nijmegen", 25),
    ("GM0228", "Ede", 25),
    ("GM0344", "Utrecht", 26),
    ("GM0307", "Amersfoort", 26),
    ("GM0345", "Veenendaal", 26),
    ("GM0356", "Nieuwegein", 26),
    ("GM0363", "Amsterdam", 27),
    ("GM0392", "Haarlem", 27),
    ("GM0361", "Alkmaar", 27),
    ("GM0479", "Zaanstad", 27),
    ("GM0402", "Hilversum", 27),
    ("GM0599", "Rotterdam", 28),
    ("GM0518", "'s-Gravenhage", 28),
    ("GM0546", "Leiden", 28),
    ("GM0505", "Dordrecht", 28),
    ("GM0637", "Zoetermeer", 28),
    ("GM0687", "Middelburg", 29),
    ("GM0718", "Vlissingen", 29),
    ("GM0654", "Borsele", 29),
    ("GM0715", "Terneuzen", 29),
    ("GM0772", "Eindhoven", 30),
    ("GM0855", "Tilburg", 30),
    ("GM0796", "'s-Hertogenbosch", 30),
    ("GM0758", "Breda", 30),
    ("GM0794", "Helmond", 30),
    ("GM0935", "Maastricht", 31),
    ("GM0917", "Heerlen", 31),
    ("GM0983", "Venlo", 31),
    ("GM1883", "Sittard-Geleen", 31),
];

/// Municipalities in the Dementiemonitor sample: (CBS code, name, province code).
pub const GEMEENTEN: &[(&str, &str, i64)] = &GEMEENTE_TABLE;

/// Relative weight of each municipality of [`GEMEENTE_TABLE`] within its province; the big
/// cities are over-represented so that each has a few hundred respondents in 2024.
pub(super) const GEMEENTE_WEIGHTS: [f64; 51] = [
    3.0, 1.2, 1.0, 1.2, // Groningen
    2.0, 2.0, 1.2, 1.1, // Fryslân
    1.2, 2.0, 0.7, 1.0, // Drenthe
    2.0, 2.0, 1.5, 1.2, 1.0, // Overijssel
    2.5, 1.2, 0.8, // Flevoland
    2.5, 2.2, 2.2, 1.6, // Gelderland
    3.0, 2.0, 0.8, 1.0, // Utrecht
    3.5, 2.5, 2.5, 2.5, 2.0, // Noord-Holland
    3.5, 3.5, 2.0, 2.0, 2.0, // Zuid-Holland
    1.0, 1.0, 0.8, 1.2, // Zeeland
    3.0, 3.0, 2.5, 2.5, 1.5, // Noord-Brabant
    2.0, 1.5, 1.8, 1.6, // Limburg
];

pub(super) const AMSTERDAM: &str = "GM0363";
pub(super) const ROTTERDAM: &str = "GM0599";
pub(super) const EINDHOVEN: &str = "GM0772";

/// Extra latent burden in the big cities (2024: Amsterdam and Rotterdam 17%, Eindhoven 21%
/// very heavily burdened or overloaded against 13% nationally).
pub(super) fn city_effect(gemeente: &str) -> f64 {
    match gemeente {
        AMSTERDAM => 0.21,
        ROTTERDAM => 0.245,
        EINDHOVEN => 0.41,
        _ => 0.0,
    }
}
