//! The embedded font: registered with plotters once, and its glyph bearings for bitmaps.

use super::*;

pub(super) static FONT_BYTES: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/DejaVuSans.ttf"
));

/// Registers the embedded font with plotters, once per process.
pub(super) fn ensure_font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES)
                .map_err(|_| "the embedded font DejaVuSans.ttf is not a valid font".to_string())
        })
        .clone()
}

/// Side bearings of the embedded font, parsed once; `None` if the font cannot be read.
pub(super) fn glyph_metrics() -> Option<&'static GlyphMetrics> {
    static METRICS: OnceLock<Option<GlyphMetrics>> = OnceLock::new();
    METRICS
        .get_or_init(|| GlyphMetrics::parse(FONT_BYTES))
        .as_ref()
}

/// Left side bearings of the chart font, from ab_glyph (which plotters draws with): where a
/// glyph's ink starts relative to the pen.
pub(super) struct GlyphMetrics {
    pub(super) font: ab_glyph::FontRef<'static>,
    /// Ascender minus descender in font units: ab_glyph's pixel scale divides by this.
    pub(super) height: f64,
}

impl GlyphMetrics {
    pub(super) fn parse(bytes: &'static [u8]) -> Option<GlyphMetrics> {
        use ab_glyph::Font;
        let font = ab_glyph::FontRef::try_from_slice(bytes).ok()?;
        let height = f64::from(font.height_unscaled());
        (height > 0.0).then_some(GlyphMetrics { font, height })
    }

    /// How far right of the pen the glyph's ink starts at `size` px, as ab_glyph rounds it.
    pub(super) fn bearing_px(&self, c: char, size: f64) -> i32 {
        use ab_glyph::Font;
        let units = self.font.h_side_bearing_unscaled(self.font.glyph_id(c));
        (f64::from(units) * size / self.height).floor() as i32
    }
}
