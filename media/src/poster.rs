//! Share posters: a PNG drawn from a versioned template with tiny-skia (resvg's rasteriser),
//! text from the bundled font's outlines (ttf-parser), the target's picture and the
//! mini-program code decoded with `image`.
//!
//! Text never comes out blank (resvg#331): every character the font lacks — emoji, rare
//! ideographs outside the subset — is drawn as the substitute glyph □ (and, should even that be
//! missing, as a filled box); joiners, variation selectors and skin-tone modifiers fold into the
//! character before them. A line too wide for its box ends in "…".
//!
//! Rendering is deterministic: the same inputs give the same bytes, so callers can key a cache
//! on the inputs and [`TEMPLATE_VERSION`].

use image::{ImageEncoder, RgbImage};
use tiny_skia::{Color, FillRule, Paint, Path, PathBuilder, Pixmap, PixmapPaint, Rect, Transform};
use ttf_parser::{Face, GlyphId, OutlineBuilder};

/// Bumped whenever the layout, colours, texts or font change: cached posters of an older
/// version are not reused.
pub const TEMPLATE_VERSION: u32 = 1;

/// The bundled font: a subset of Noto Sans CJK SC Regular (SIL OFL 1.1, `media/fonts/OFL.txt`;
/// how it was made: `scripts/make-poster-font`).
pub const FONT: &[u8] = include_bytes!("../fonts/NotoSansSC-Rouge-Subset.otf");
/// The font's name, for the record.
pub const FONT_NAME: &str = "Noto Sans SC (Rouge subset), SIL Open Font License 1.1";

pub const WIDTH: u32 = 720;
pub const HEIGHT: u32 = 1280;
/// Where the sharer's nickname is drawn (x, y, width, height); nothing else is drawn there.
pub const NICKNAME_BOX: (u32, u32, u32, u32) = (60, 1000, 360, 56);
/// The background colour (RGB) of the template.
pub const BACKGROUND: [u8; 3] = [0xFA, 0xF6, 0xF2];

const PICTURE_BOX: (u32, u32, u32, u32) = (60, 130, 600, 600);
const CODE_BOX: (u32, u32, u32, u32) = (470, 990, 190, 190);
const ACCENT: [u8; 3] = [0x8C, 0x1C, 0x2B];
const INK: [u8; 3] = [0x22, 0x22, 0x22];
const MUTED: [u8; 3] = [0x80, 0x78, 0x74];
const PANEL: [u8; 3] = [0xEE, 0xD3, 0xD6];
/// Drawn for characters the font lacks.
const SUBSTITUTE: char = '\u{25A1}';

/// What a poster shows.
#[derive(Debug, Clone)]
pub struct PosterContent<'a> {
    /// e.g. 好物推荐 / 限时活动 / 到店服务
    pub label: &'a str,
    pub title: &'a str,
    pub nickname: &'a str,
    /// the target's picture (JPEG, PNG or WebP); a coloured panel with the label when absent
    pub picture: Option<&'a [u8]>,
    /// the mini-program code as WeChat returned it
    pub code: &'a [u8],
}

#[derive(Debug, thiserror::Error)]
pub enum PosterError {
    #[error("the mini-program code is not an image: {0}")]
    BadCode(image::ImageError),
    #[error("poster rendering: {0}")]
    Render(String),
}

/// A rendered poster.
#[derive(Debug, Clone)]
pub struct RenderedPoster {
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

fn color([r, g, b]: [u8; 3]) -> Color {
    Color::from_rgba8(r, g, b, 255)
}

fn paint(rgb: [u8; 3]) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color(color(rgb));
    p.anti_alias = true;
    p
}

fn render_err(what: &str) -> PosterError {
    PosterError::Render(what.to_owned())
}

/// Draws the poster (CPU-bound: run it on a blocking thread).
pub fn render(content: &PosterContent<'_>) -> Result<RenderedPoster, PosterError> {
    let face = Face::parse(FONT, 0).map_err(|e| PosterError::Render(e.to_string()))?;
    let mut canvas = Pixmap::new(WIDTH, HEIGHT).ok_or_else(|| render_err("canvas"))?;
    canvas.fill(color(BACKGROUND));
    let text = Text { face: &face };

    text.line(&mut canvas, "ROUGE", 60.0, 92.0, 44.0, 600.0, ACCENT);
    let (px, py, pw, ph) = PICTURE_BOX;
    let picture = content
        .picture
        .and_then(|bytes| image::load_from_memory(bytes).ok());
    match picture {
        Some(img) => {
            let fitted = cover(&img.to_rgb8(), pw, ph);
            draw_rgb(&mut canvas, &fitted, px, py)?;
        }
        None => {
            fill_rect(&mut canvas, PICTURE_BOX, PANEL)?;
            text.line(
                &mut canvas,
                content.label,
                px as f32 + 40.0,
                py as f32 + ph as f32 / 2.0 + 28.0,
                72.0,
                pw as f32 - 80.0,
                ACCENT,
            );
        }
    }
    text.line(&mut canvas, content.label, 60.0, 790.0, 28.0, 600.0, ACCENT);
    let (first, second) = text.wrap2(content.title, 40.0, 600.0);
    text.line(&mut canvas, &first, 60.0, 850.0, 40.0, 600.0, INK);
    text.line(&mut canvas, &second, 60.0, 904.0, 40.0, 600.0, INK);
    fill_rect(&mut canvas, (60, 955, 600, 2), PANEL)?;

    let (nx, ny, nw, nh) = NICKNAME_BOX;
    text.line(
        &mut canvas,
        &nickname_text(content.nickname),
        nx as f32,
        (ny + nh) as f32 - 12.0,
        36.0,
        nw as f32,
        INK,
    );
    text.line(&mut canvas, "向你推荐", 60.0, 1110.0, 28.0, 360.0, MUTED);
    text.line(
        &mut canvas,
        "长按识别小程序码",
        60.0,
        1170.0,
        24.0,
        360.0,
        MUTED,
    );

    let code = image::load_from_memory(content.code).map_err(PosterError::BadCode)?;
    let (cx, cy, cw, ch) = CODE_BOX;
    let code = image::imageops::resize(
        &code.to_rgb8(),
        cw,
        ch,
        image::imageops::FilterType::Triangle,
    );
    draw_rgb(&mut canvas, &code, cx, cy)?;
    encode(&canvas)
}

/// The nickname as drawn: control characters dropped, at most 50 characters, and something
/// visible when nothing is left.
fn nickname_text(nickname: &str) -> String {
    let cleaned: String = nickname
        .chars()
        .filter(|c| !c.is_control())
        .take(50)
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        "一位朋友".to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// Scales to cover `w`×`h` and crops the middle.
fn cover(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    let (iw, ih) = img.dimensions();
    let scale = (f64::from(w) / f64::from(iw.max(1))).max(f64::from(h) / f64::from(ih.max(1)));
    let sw = ((f64::from(iw) * scale).round() as u32).max(w);
    let sh = ((f64::from(ih) * scale).round() as u32).max(h);
    let scaled = image::imageops::resize(img, sw, sh, image::imageops::FilterType::Triangle);
    image::imageops::crop_imm(&scaled, (sw - w) / 2, (sh - h) / 2, w, h).to_image()
}

fn draw_rgb(canvas: &mut Pixmap, img: &RgbImage, x: u32, y: u32) -> Result<(), PosterError> {
    let (w, h) = img.dimensions();
    let mut rgba = Vec::with_capacity((w * h * 4) as usize);
    for p in img.pixels() {
        rgba.extend_from_slice(&[p[0], p[1], p[2], 255]);
    }
    let size = tiny_skia::IntSize::from_wh(w, h).ok_or_else(|| render_err("image size"))?;
    let pixmap = Pixmap::from_vec(rgba, size).ok_or_else(|| render_err("image pixels"))?;
    canvas.draw_pixmap(
        i32::try_from(x).unwrap_or(0),
        i32::try_from(y).unwrap_or(0),
        pixmap.as_ref(),
        &PixmapPaint::default(),
        Transform::identity(),
        None,
    );
    Ok(())
}

fn fill_rect(
    canvas: &mut Pixmap,
    (x, y, w, h): (u32, u32, u32, u32),
    rgb: [u8; 3],
) -> Result<(), PosterError> {
    let rect = Rect::from_xywh(x as f32, y as f32, w as f32, h as f32)
        .ok_or_else(|| render_err("rectangle"))?;
    canvas.fill_rect(rect, &paint(rgb), Transform::identity(), None);
    Ok(())
}

/// The canvas is opaque everywhere, so its premultiplied pixels are the plain ones: RGB PNG.
fn encode(canvas: &Pixmap) -> Result<RenderedPoster, PosterError> {
    let rgb: Vec<u8> = canvas
        .data()
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(&rgb, WIDTH, HEIGHT, image::ExtendedColorType::Rgb8)
        .map_err(|e| PosterError::Render(e.to_string()))?;
    Ok(RenderedPoster {
        png,
        width: WIDTH,
        height: HEIGHT,
    })
}

/// What to draw for one character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Glyph {
    Font(GlyphId),
    /// neither the character nor the substitute is in the font: a filled box
    Box,
}

/// Characters that modify the one before them (drawn as part of it, so not at all).
fn is_modifier(c: char) -> bool {
    matches!(c,
        '\u{200C}'..='\u{200F}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{1F3FB}'..='\u{1F3FF}'
        | '\u{E0020}'..='\u{E007F}'
        | '\u{20E3}'
        | '\u{0300}'..='\u{036F}')
}

struct Text<'f> {
    face: &'f Face<'f>,
}

impl Text<'_> {
    fn scale(&self, size: f32) -> f32 {
        size / f32::from(self.face.units_per_em())
    }

    /// The glyphs of `text` in order: a missing character becomes the substitute; a ZWJ
    /// sequence (family emoji) or a flag (two regional indicators) becomes one.
    fn glyphs(&self, text: &str) -> Vec<Glyph> {
        let mut out = Vec::new();
        let mut join_next = false;
        let mut open_flag = false;
        for c in text.chars() {
            if c == '\u{200D}' {
                join_next = true;
                continue;
            }
            if is_modifier(c) || c.is_control() {
                continue;
            }
            if std::mem::take(&mut join_next) && !out.is_empty() {
                continue;
            }
            let regional = ('\u{1F1E6}'..='\u{1F1FF}').contains(&c);
            if regional && open_flag {
                open_flag = false;
                continue;
            }
            open_flag = regional;
            out.push(self.glyph(c));
        }
        out
    }

    fn glyph(&self, c: char) -> Glyph {
        let found = |c: char| self.face.glyph_index(c).filter(|g| g.0 != 0);
        match found(c).or_else(|| found(SUBSTITUTE)) {
            Some(g) => Glyph::Font(g),
            None => Glyph::Box,
        }
    }

    fn advance(&self, g: Glyph, size: f32) -> f32 {
        match g {
            Glyph::Font(id) => {
                f32::from(self.face.glyph_hor_advance(id).unwrap_or(0)) * self.scale(size)
            }
            Glyph::Box => size,
        }
    }

    fn width(&self, glyphs: &[Glyph], size: f32) -> f32 {
        glyphs.iter().map(|g| self.advance(*g, size)).sum()
    }

    /// The glyphs that fit in `max`, ending in "…" when some had to go.
    fn fit(&self, text: &str, size: f32, max: f32) -> Vec<Glyph> {
        let mut glyphs = self.glyphs(text);
        if self.width(&glyphs, size) <= max {
            return glyphs;
        }
        let ellipsis = self.glyph('…');
        let room = max - self.advance(ellipsis, size);
        let mut used = 0.0;
        let mut keep = 0;
        for g in &glyphs {
            used += self.advance(*g, size);
            if used > room {
                break;
            }
            keep += 1;
        }
        glyphs.truncate(keep);
        glyphs.push(ellipsis);
        glyphs
    }

    /// Splits a title over two lines of `max` width (the second may end in "…").
    fn wrap2(&self, text: &str, size: f32, max: f32) -> (String, String) {
        let mut first = String::new();
        let mut used = 0.0;
        let mut rest = text.char_indices();
        for (i, c) in rest.by_ref() {
            let w = self.width(&self.glyphs(&c.to_string()), size);
            if used + w > max {
                return (first, text[i..].trim_start().to_owned());
            }
            used += w;
            first.push(c);
        }
        (first, String::new())
    }

    /// Draws one line with its baseline at `y`.
    #[allow(clippy::too_many_arguments)]
    fn line(
        &self,
        canvas: &mut Pixmap,
        text: &str,
        x: f32,
        y: f32,
        size: f32,
        max: f32,
        rgb: [u8; 3],
    ) {
        let scale = self.scale(size);
        let paint = paint(rgb);
        let mut pen = x;
        for g in self.fit(text, size, max) {
            let path = match g {
                Glyph::Font(id) => {
                    let mut b = Outline {
                        path: PathBuilder::new(),
                        x: pen,
                        y,
                        scale,
                    };
                    self.face.outline_glyph(id, &mut b).and(b.path.finish())
                }
                Glyph::Box => {
                    Rect::from_xywh(pen + size * 0.1, y - size * 0.8, size * 0.8, size * 0.8)
                        .map(PathBuilder::from_rect)
                }
            };
            if let Some(path) = path {
                fill(canvas, &path, &paint);
            }
            pen += self.advance(g, size);
        }
    }
}

fn fill(canvas: &mut Pixmap, path: &Path, paint: &Paint<'_>) {
    canvas.fill_path(path, paint, FillRule::Winding, Transform::identity(), None);
}

/// Font units (y up) to canvas pixels (y down) at the pen position.
struct Outline {
    path: PathBuilder,
    x: f32,
    y: f32,
    scale: f32,
}

impl Outline {
    fn p(&self, x: f32, y: f32) -> (f32, f32) {
        (self.x + x * self.scale, self.y - y * self.scale)
    }
}

impl OutlineBuilder for Outline {
    fn move_to(&mut self, x: f32, y: f32) {
        let (x, y) = self.p(x, y);
        self.path.move_to(x, y);
    }
    fn line_to(&mut self, x: f32, y: f32) {
        let (x, y) = self.p(x, y);
        self.path.line_to(x, y);
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        let (x1, y1) = self.p(x1, y1);
        let (x, y) = self.p(x, y);
        self.path.quad_to(x1, y1, x, y);
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        let (x1, y1) = self.p(x1, y1);
        let (x2, y2) = self.p(x2, y2);
        let (x, y) = self.p(x, y);
        self.path.cubic_to(x1, y1, x2, y2, x, y);
    }
    fn close(&mut self) {
        self.path.close();
    }
}

/// Pixels in `(x, y, w, h)` of an RGB image that differ from the background: how tests tell a
/// drawn box from a blank one.
pub fn inked_pixels(img: &RgbImage, (x, y, w, h): (u32, u32, u32, u32)) -> usize {
    let mut n = 0;
    for yy in y..(y + h).min(img.height()) {
        for xx in x..(x + w).min(img.width()) {
            let p = img.get_pixel(xx, yy).0;
            if p.iter().zip(BACKGROUND).any(|(a, b)| a.abs_diff(b) > 24) {
                n += 1;
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code() -> Vec<u8> {
        let img = RgbImage::from_fn(64, 64, |x, y| {
            if (x / 8 + y / 8) % 2 == 0 {
                image::Rgb([0, 0, 0])
            } else {
                image::Rgb([255, 255, 255])
            }
        });
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png)
            .expect("png");
        out.into_inner()
    }

    fn rendered(nickname: &str) -> RgbImage {
        let code = code();
        let poster = render(&PosterContent {
            label: "好物推荐",
            title: "焕颜精华液 30ml",
            nickname,
            picture: None,
            code: &code,
        })
        .expect("render");
        image::load_from_memory(&poster.png).expect("png").to_rgb8()
    }

    #[test]
    fn nicknames_of_rare_ideographs_and_emoji_are_never_blank() {
        let blank = rendered("").width();
        assert_eq!(blank, WIDTH);
        for nick in [
            "𠮷",
            "😀",
            "👨‍👩‍👧",
            "🇨🇳",
            "𠮷😀🎉",
            "\u{1F9D1}\u{1F3FD}",
            "\u{E000}",
        ] {
            let img = rendered(nick);
            assert!(
                inked_pixels(&img, NICKNAME_BOX) > 100,
                "{nick:?} rendered blank"
            );
        }
    }

    #[test]
    fn a_missing_character_is_the_substitute_glyph() {
        let face = Face::parse(FONT, 0).expect("font");
        let text = Text { face: &face };
        let sub = text.glyph(SUBSTITUTE);
        assert!(matches!(sub, Glyph::Font(_)));
        assert_eq!(text.glyphs("😀"), vec![sub]);
        assert_eq!(text.glyphs("👨‍👩‍👧"), vec![sub]);
        assert_ne!(text.glyphs("𠮷"), vec![sub], "𠮷 is in the subset");
        assert_ne!(text.glyphs("玫"), vec![sub]);
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis_and_output_is_deterministic() {
        let face = Face::parse(FONT, 0).expect("font");
        let text = Text { face: &face };
        let long = "很长的昵称".repeat(20);
        let fitted = text.fit(&long, 36.0, 360.0);
        assert!(text.width(&fitted, 36.0) <= 360.0);
        assert_eq!(fitted.last(), Some(&text.glyph('…')));
        let a = rendered(&long);
        let b = rendered(&long);
        assert_eq!(a.as_raw(), b.as_raw());
    }
}
