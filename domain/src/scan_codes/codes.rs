//! The pack code: 25 Crockford base32 characters holding 125 bits, batch (20 bits), serial (25
//! bits) and an 80-bit HMAC-SHA256 over both with the pack-code key. Codes are derived, never
//! stored: generating a million is pure CPU, and a guess is checked without the database.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Crockford's base32: no I, L, O or U, so a printed code reads back unambiguously.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
pub const CODE_LEN: usize = 25;
const BATCH_BITS: u32 = 20;
const SERIAL_BITS: u32 = 25;
const MAC_BITS: u32 = 80;
/// The largest batch id codes can carry.
pub const MAX_BATCH_ID: i64 = (1 << BATCH_BITS) - 1;
/// The most codes one batch can hold.
pub const MAX_CODES_PER_BATCH: i64 = 1 << SERIAL_BITS;
const DOMAIN_TAG: &[u8] = b"rouge-pack-code-v1";

/// The secret that makes codes unguessable. Debug never shows it.
#[derive(Clone)]
pub struct PackCodeKey {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for PackCodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PackCodeKey(..)")
    }
}

/// The key the embedded default uses when none is configured (never in production).
pub const DEMO_PACK_CODE_KEY: &[u8] = b"rouge-demo-pack-code-key-not-for-production";

impl Default for PackCodeKey {
    fn default() -> Self {
        Self::new(DEMO_PACK_CODE_KEY)
    }
}

/// Why a text is not a pack code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeError {
    /// Not 25 base32 characters: a typo or not one of our codes at all.
    Malformed,
    /// Well-formed but the MAC does not match: a guess or a forgery.
    Forged,
}

impl PackCodeKey {
    pub fn new(key: &[u8]) -> Self {
        // HMAC takes a key of any length.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        Self { mac }
    }

    fn tag(&self, batch: u32, serial: u32) -> [u8; 10] {
        let mut mac = self.mac.clone();
        mac.update(DOMAIN_TAG);
        mac.update(&batch.to_be_bytes());
        mac.update(&serial.to_be_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 10];
        out.copy_from_slice(&full[..10]);
        out
    }

    /// The code printed on pack `serial` of batch `batch`. The caller keeps both in range
    /// (batch ≤ [`MAX_BATCH_ID`], serial < [`MAX_CODES_PER_BATCH`]).
    pub fn code(&self, batch: u32, serial: u32) -> String {
        let mut buf = [0u8; CODE_LEN];
        self.encode_into(batch, serial, &mut buf);
        buf.iter().map(|b| char::from(*b)).collect()
    }

    /// Writes the code's ASCII bytes into `out` (no allocation: for streaming millions).
    pub fn encode_into(&self, batch: u32, serial: u32, out: &mut [u8; CODE_LEN]) {
        let tag = self.tag(batch, serial);
        let mut mac_value: u128 = 0;
        for b in tag {
            mac_value = (mac_value << 8) | u128::from(b);
        }
        let batch = u128::from(batch) & ((1 << BATCH_BITS) - 1);
        let serial = u128::from(serial) & ((1 << SERIAL_BITS) - 1);
        let mut value = (batch << (SERIAL_BITS + MAC_BITS)) | (serial << MAC_BITS) | mac_value;
        for slot in out.iter_mut().rev() {
            *slot = ALPHABET[(value & 31) as usize];
            value >>= 5;
        }
    }

    /// Reads a scanned code: case-insensitive, dashes and spaces ignored, O read as 0 and I/L
    /// as 1. Returns (batch, serial) when the MAC matches.
    pub fn decode(&self, text: &str) -> Result<(u32, u32), CodeError> {
        if text.len() > 64 {
            return Err(CodeError::Malformed);
        }
        let mut value: u128 = 0;
        let mut n = 0;
        for c in text.chars() {
            let digit = match c.to_ascii_uppercase() {
                '-' | ' ' => continue,
                'O' => 0,
                'I' | 'L' => 1,
                c => ALPHABET
                    .iter()
                    .position(|a| char::from(*a) == c)
                    .ok_or(CodeError::Malformed)?,
            };
            n += 1;
            if n > CODE_LEN {
                return Err(CodeError::Malformed);
            }
            value = (value << 5) | digit as u128;
        }
        if n != CODE_LEN {
            return Err(CodeError::Malformed);
        }
        let mac_value = value & ((1u128 << MAC_BITS) - 1);
        let serial = u32::try_from((value >> MAC_BITS) & ((1 << SERIAL_BITS) - 1))
            .map_err(|_| CodeError::Malformed)?;
        let batch =
            u32::try_from(value >> (SERIAL_BITS + MAC_BITS)).map_err(|_| CodeError::Malformed)?;
        let expected = self.tag(batch, serial);
        let mut got = [0u8; 10];
        for (i, slot) in got.iter_mut().enumerate() {
            *slot = (mac_value >> (8 * (9 - i))) as u8;
        }
        if bool::from(expected.ct_eq(&got)) {
            Ok((batch, serial))
        } else {
            Err(CodeError::Forged)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_read_leniently() {
        let key = PackCodeKey::new(b"k");
        let code = key.code(12_345, 999_999);
        assert_eq!(code.len(), CODE_LEN);
        assert_eq!(key.decode(&code), Ok((12_345, 999_999)));
        let spaced = format!("{}-{} {}", &code[..5], &code[5..10], &code[10..]).to_lowercase();
        assert_eq!(key.decode(&spaced), Ok((12_345, 999_999)));
        let max = key.code(MAX_BATCH_ID as u32, (MAX_CODES_PER_BATCH - 1) as u32);
        assert_eq!(
            key.decode(&max),
            Ok((MAX_BATCH_ID as u32, (MAX_CODES_PER_BATCH - 1) as u32))
        );
    }

    #[test]
    fn a_changed_character_or_another_key_is_refused() {
        let key = PackCodeKey::new(b"k");
        let code = key.code(7, 42);
        let mut bytes = code.clone().into_bytes();
        bytes[24] = if bytes[24] == b'2' { b'3' } else { b'2' };
        let changed = String::from_utf8(bytes).unwrap();
        assert_eq!(key.decode(&changed), Err(CodeError::Forged));
        assert_eq!(
            PackCodeKey::new(b"other").decode(&code),
            Err(CodeError::Forged)
        );
        assert_eq!(key.decode("ABC"), Err(CodeError::Malformed));
        assert_eq!(key.decode(&format!("{code}0")), Err(CodeError::Malformed));
        assert_eq!(key.decode(&"U".repeat(CODE_LEN)), Err(CodeError::Malformed));
        assert_eq!(
            key.decode("!!!!!!!!!!!!!!!!!!!!!!!!!"),
            Err(CodeError::Malformed)
        );
        assert!(format!("{key:?}").contains(".."));
    }
}
