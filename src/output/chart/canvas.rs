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

    /// Width in fractional pixels, measured at a large size (plotters rounds widths down).
    pub(super) fn exact_width(&self, text: &str, style: &TextStyle) -> Measured<DB, f64> {
        const ZOOM: f64 = 64.0;
        let large = TextStyle {
            font: style.font.resize(style.font.get_size() * ZOOM),
            ..style.clone()
        };
        let (width, _) = self.root.estimate_text_size(text, &large)?;
        Ok(f64::from(width) / ZOOM)
    }

    pub(super) fn text(&self, text: &str, (x, y): (i32, i32), style: &TextStyle) -> Drawn<DB> {
        let Some(glyphs) = self.glyphs else {
            return self.root.draw(&Text::new(text, (x, y), style.clone()));
        };
        let left = f64::from(x)
            - match style.pos.h_pos {
                HPos::Left => 0.0,
                HPos::Center => self.exact_width(text, style)? / 2.0,
                HPos::Right => self.exact_width(text, style)?,
            };
        let glyph_style = style.pos(Pos::new(HPos::Left, style.pos.v_pos));
        for (index, c) in text.char_indices() {
            if c.is_whitespace() {
                continue;
            }
            let pen = (left + self.exact_width(&text[..index], style)?).round() as i32;
            let bearing = glyphs.bearing_px(c, style.font.get_size());
            let mut buffer = [0u8; 4];
            self.root.draw(&Text::new(
                &*c.encode_utf8(&mut buffer),
                (pen + bearing, y),
                glyph_style.clone(),
            ))?;
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
