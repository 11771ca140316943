//! The drawing area: text styles, and text drawn glyph by glyph on bitmaps so that it is
//! spaced as in the SVG.

use super::*;

pub(super) fn style(size: f64, color: &RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle {
        color: color.to_backend_color(),
        ..TextStyle::from((FONT, size).into_font()).pos(Pos::new(h, v))
    }
}

pub(super) type Measured<DB, T> =
    Result<T, DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A drawing area with text drawing that is exact on bitmaps too.
pub(super) struct Canvas<'a, DB: DrawingBackend> {
    pub(super) root: &'a DrawingArea<DB, Shift>,
    /// Set for bitmaps: plotters' ab_glyph renderer places every glyph at the pen position,
    /// ignoring its left side bearing, which makes letter spacing uneven ("Zeel and"). With
    /// the bearings known, text is drawn glyph by glyph at the right place.
    pub(super) glyphs: Option<&'static GlyphMetrics>,
}

impl<DB: DrawingBackend> Canvas<'_, DB> {
    pub(super) fn width(&self, text: &str, style: &TextStyle) -> Measured<DB, i32> {
        let (width, _) = self.root.estimate_text_size(text, style)?;
        Ok(i32::try_from(width).unwrap_or(i32::MAX))
    }

    pub(super) fn text(&self, text: &str, (x, y): (i32, i32), style: &TextStyle) -> Drawn<DB> {
        let Some(glyphs) = self.glyphs else {
            return self.root.draw(&Text::new(text, (x, y), style.clone()));
        };
        // What plotters would draw for each glyph as its own left-anchored `Text`, from a
        // cache of rasterised glyphs: pixel for pixel the same, without outlining every
        // glyph again and measuring every prefix of the text again.
        let (alpha, (r, g, b)) = (style.color.alpha, style.color.rgb);
        if alpha == 0.0 {
            return Ok(());
        }
        let size = style.font.get_size();
        let pens = glyphs.pens(text, size);
        let width = pens.last().copied().unwrap_or_default();
        let left = f64::from(x)
            - match style.pos.h_pos {
                HPos::Left => 0.0,
                HPos::Center => width / 2.0,
                HPos::Right => width,
            };
        // plotters' layout box of a glyph is the size over 1.24 high, in whole pixels.
        let height = (size / 1.24) as i32;
        let top = y - match style.pos.v_pos {
            VPos::Top => 0,
            VPos::Center => height / 2,
            VPos::Bottom => height,
        };
        for (c, pen) in text.chars().zip(pens) {
            if c.is_whitespace() {
                continue;
            }
            let left = (left + pen).round() as i32 + glyphs.bearing_px(c, size);
            for &(dx, dy, coverage) in glyphs.coverage(c, size).iter() {
                let color = RGBAColor(r, g, b, alpha * f64::from(coverage));
                self.root.draw_pixel((left + dx, top + dy), &color)?;
            }
        }
        Ok(())
    }

    /// `text` cut to at most `max_chars` characters and `max_px` pixels, ending in `…` when cut.
    pub(super) fn fit(
        &self,
        text: &str,
        max_chars: usize,
        max_px: i32,
        style: &TextStyle,
    ) -> Measured<DB, String> {
        let text = text.trim();
        let chars: Vec<char> = text.chars().collect();
        if chars.len() <= max_chars && self.width(text, style)? <= max_px {
            return Ok(text.to_string());
        }
        let mut keep = chars.len().min(max_chars.saturating_sub(1));
        loop {
            let head: String = chars[..keep].iter().collect();
            let candidate = format!("{}…", head.trim_end());
            if keep == 0 || self.width(&candidate, style)? <= max_px {
                return Ok(candidate);
            }
            keep -= 1;
        }
    }
}
