//! The embedded font: registered with plotters once, and its glyph bearings for bitmaps.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
    /// Rasterised glyphs by character and size (`coverage`).
    rasters: Mutex<HashMap<(char, u64), Raster>>,
}

/// A pixel of a rasterised glyph: its offset from where plotters places the glyph, and the
/// share of it the glyph covers.
pub(super) type Coverage = (i32, i32, f32);

/// A glyph's covered pixels.
pub(super) type Raster = Arc<[Coverage]>;

impl GlyphMetrics {
    pub(super) fn parse(bytes: &'static [u8]) -> Option<GlyphMetrics> {
        use ab_glyph::Font;
        let font = ab_glyph::FontRef::try_from_slice(bytes).ok()?;
        let height = f64::from(font.height_unscaled());
        (height > 0.0).then(|| GlyphMetrics {
            font,
            height,
            rasters: Mutex::default(),
        })
    }

    /// How far right of the pen the glyph's ink starts at `size` px, as ab_glyph rounds it.
    pub(super) fn bearing_px(&self, c: char, size: f64) -> i32 {
        use ab_glyph::Font;
        let units = self.font.h_side_bearing_unscaled(self.font.glyph_id(c));
        (f64::from(units) * size / self.height).floor() as i32
    }

    /// The pen position before each character of `text` and after the last, in px at `size`,
    /// as plotters measures each prefix (`estimate_layout`): advances and kerning summed in
    /// f32 at 64 times the size, truncated to whole 64ths of a pixel.
    pub(super) fn pens(&self, text: &str, size: f64) -> Vec<f64> {
        use ab_glyph::{Font, ScaleFont};
        const ZOOM: f64 = 64.0;
        let font = self.font.as_scaled((size * ZOOM) as f32);
        let mut pens = Vec::with_capacity(text.len() + 1);
        let mut sum = 0f32;
        let mut previous = None;
        for c in text.chars() {
            pens.push(f64::from(sum as i32) / ZOOM);
            let glyph = font.glyph_id(c);
            sum += font.h_advance(glyph);
            if let Some(previous) = previous {
                sum += font.kern(previous, glyph);
            }
            previous = Some(glyph);
        }
        pens.push(f64::from(sum as i32) / ZOOM);
        pens
    }

    /// The pixels of `c` at `size` as plotters' ab_glyph renderer draws the glyph alone at
    /// (0, 0) (`FontDataInternal::draw`), rasterised once per character and size. Pixels it
    /// does not cover are left out: plotters draws nothing for them either.
    pub(super) fn coverage(&self, c: char, size: f64) -> Raster {
        let key = (c, size.to_bits());
        if let Some(raster) = self.rasters.lock().ok().and_then(|r| r.get(&key).cloned()) {
            return raster;
        }
        let raster = self.rasterise(c, size);
        if let Ok(mut rasters) = self.rasters.lock() {
            rasters.insert(key, raster.clone());
        }
        raster
    }

    fn rasterise(&self, c: char, size: f64) -> Raster {
        use ab_glyph::{Font, ScaleFont};
        let font = self.font.as_scaled(size as f32);
        let Some(outline) = font.outline_glyph(font.scaled_glyph(c)) else {
            return Arc::new([]);
        };
        let shift = ((size as f32) / 2.0 + outline.px_bounds().min.y) as i32;
        let mut pixels = Vec::new();
        outline.draw(|x, y, coverage| {
            if coverage > 0.0 {
                pixels.push((x as i32, y as i32 + shift, coverage));
            }
        });
        pixels.into()
    }
}
