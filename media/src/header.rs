//! Format sniffing and header parsing on borrowed bytes only: nothing here allocates, so a
//! decompression bomb is refused before any decoder (or pixel buffer) exists.

/// The three formats Rouge accepts, told apart by their magic bytes (never the name or the
/// declared content type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Jpeg,
    Png,
    WebP,
}

/// What the header says: dimensions and whether the image is animated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub format: Sniffed,
    pub width: u32,
    pub height: u32,
    pub animated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// Not JPEG, PNG or WebP (HTML, SVG, PDF, GIF, HEIC, ... all land here).
    Unsupported,
    /// Claims to be one of the three but the header is cut short or inconsistent.
    Malformed,
}

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

pub fn sniff(bytes: &[u8]) -> Result<Sniffed, HeaderError> {
    if bytes.len() >= 3 && bytes[..3] == [0xFF, 0xD8, 0xFF] {
        Ok(Sniffed::Jpeg)
    } else if bytes.starts_with(PNG_MAGIC) {
        Ok(Sniffed::Png)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Ok(Sniffed::WebP)
    } else {
        Err(HeaderError::Unsupported)
    }
}

pub fn read_header(bytes: &[u8]) -> Result<Header, HeaderError> {
    match sniff(bytes)? {
        Sniffed::Png => png(bytes),
        Sniffed::Jpeg => jpeg(bytes),
        Sniffed::WebP => webp(bytes),
    }
}

fn be32(b: &[u8], at: usize) -> Result<u32, HeaderError> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(HeaderError::Malformed)
}

fn be16(b: &[u8], at: usize) -> Result<u16, HeaderError> {
    b.get(at..at + 2)
        .map(|s| u16::from_be_bytes([s[0], s[1]]))
        .ok_or(HeaderError::Malformed)
}

fn le16(b: &[u8], at: usize) -> Result<u16, HeaderError> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or(HeaderError::Malformed)
}

fn le24(b: &[u8], at: usize) -> Result<u32, HeaderError> {
    b.get(at..at + 3)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], 0]))
        .ok_or(HeaderError::Malformed)
}

fn png(b: &[u8]) -> Result<Header, HeaderError> {
    if b.get(12..16) != Some(b"IHDR") {
        return Err(HeaderError::Malformed);
    }
    let (width, height) = (be32(b, 16)?, be32(b, 20)?);
    // An APNG announces itself with `acTL` before the first `IDAT`.
    let mut at = 8usize;
    let mut animated = false;
    while let (Ok(len), Some(kind)) = (be32(b, at), b.get(at + 4..at + 8)) {
        match kind {
            b"acTL" => {
                animated = true;
                break;
            }
            b"IDAT" | b"IEND" => break,
            _ => {}
        }
        at = match at.checked_add(12).and_then(|a| a.checked_add(len as usize)) {
            Some(next) => next,
            None => return Err(HeaderError::Malformed),
        };
    }
    Ok(Header {
        format: Sniffed::Png,
        width,
        height,
        animated,
    })
}

/// Where the first frame header (SOF) of a JPEG starts: the offset of its marker byte.
fn jpeg_sof(b: &[u8]) -> Result<usize, HeaderError> {
    let mut at = 2usize;
    loop {
        if *b.get(at).ok_or(HeaderError::Malformed)? != 0xFF {
            return Err(HeaderError::Malformed);
        }
        while b.get(at) == Some(&0xFF) {
            at += 1;
        }
        let marker = *b.get(at).ok_or(HeaderError::Malformed)?;
        match marker {
            // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC)
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => return Ok(at),
            // start of scan or end of image before any frame header
            0xDA | 0xD9 => return Err(HeaderError::Malformed),
            // markers without a length
            0x01 | 0xD0..=0xD7 => at += 1,
            _ => {
                let len = usize::from(be16(b, at + 1)?);
                if len < 2 {
                    return Err(HeaderError::Malformed);
                }
                at += 1 + len;
            }
        }
    }
}

fn jpeg(b: &[u8]) -> Result<Header, HeaderError> {
    let at = jpeg_sof(b)?;
    let height = u32::from(be16(b, at + 4)?);
    let width = u32::from(be16(b, at + 6)?);
    Ok(Header {
        format: Sniffed::Jpeg,
        width,
        height,
        animated: false,
    })
}

/// What a JPEG's first frame header says about its coding, beyond the dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegFrame {
    /// the SOF marker: C0 baseline, C1 extended, C2 progressive (Huffman); others arithmetic,
    /// lossless or hierarchical
    pub marker: u8,
    /// bits per sample
    pub precision: u8,
    pub components: u8,
}

impl JpegFrame {
    /// 8-bit grey or three-component Huffman-coded DCT: what can be decoded at a reduced scale
    /// (CMYK, 12-bit, lossless and arithmetic-coded files take the full decoder).
    pub fn dct_scalable(&self) -> bool {
        matches!(self.marker, 0xC0..=0xC2)
            && self.precision == 8
            && matches!(self.components, 1 | 3)
    }
}

pub fn jpeg_frame(b: &[u8]) -> Result<JpegFrame, HeaderError> {
    if sniff(b)? != Sniffed::Jpeg {
        return Err(HeaderError::Unsupported);
    }
    let at = jpeg_sof(b)?;
    let byte = |i: usize| b.get(at + i).copied().ok_or(HeaderError::Malformed);
    Ok(JpegFrame {
        marker: byte(0)?,
        precision: byte(3)?,
        components: byte(8)?,
    })
}

fn webp(b: &[u8]) -> Result<Header, HeaderError> {
    let chunk = b.get(12..16).ok_or(HeaderError::Malformed)?;
    let data = 20usize;
    let (width, height, animated) = match chunk {
        b"VP8 " => {
            if b.get(data + 3..data + 6) != Some(&[0x9d, 0x01, 0x2a]) {
                return Err(HeaderError::Malformed);
            }
            let w = u32::from(le16(b, data + 6)? & 0x3fff);
            let h = u32::from(le16(b, data + 8)? & 0x3fff);
            (w, h, false)
        }
        b"VP8L" => {
            if b.get(data) != Some(&0x2f) {
                return Err(HeaderError::Malformed);
            }
            let bits = b
                .get(data + 1..data + 5)
                .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
                .ok_or(HeaderError::Malformed)?;
            ((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1, false)
        }
        b"VP8X" => {
            let flags = *b.get(data).ok_or(HeaderError::Malformed)?;
            let w = le24(b, data + 4)? + 1;
            let h = le24(b, data + 7)? + 1;
            (w, h, flags & 0x02 != 0)
        }
        _ => return Err(HeaderError::Malformed),
    };
    Ok(Header {
        format: Sniffed::WebP,
        width,
        height,
        animated,
    })
}
