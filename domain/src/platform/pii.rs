//! Personal data at rest: phone numbers are encrypted (AES-256-GCM, random nonce) and found
//! through a blind index (HMAC-SHA256 under a separate key), so the database alone reveals neither.

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const VERSION: &str = "v1.";

#[derive(Debug, thiserror::Error)]
pub enum PiiError {
    #[error("a personal-data key must be 32 bytes")]
    KeyLength,
    #[error("personal data could not be decrypted")]
    Decrypt,
}

#[derive(Clone)]
pub struct PiiCipher {
    cipher: Aes256Gcm,
    index_key: [u8; 32],
}

impl PiiCipher {
    pub fn new(data_key: &[u8], index_key: &[u8]) -> Result<Self, PiiError> {
        let data_key: [u8; 32] = data_key.try_into().map_err(|_| PiiError::KeyLength)?;
        let index_key: [u8; 32] = index_key.try_into().map_err(|_| PiiError::KeyLength)?;
        Ok(Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&data_key)),
            index_key,
        })
    }

    pub fn encrypt(&self, plaintext: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        // Encryption with a fresh nonce and an in-memory buffer cannot fail.
        let ciphertext = self
            .cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .unwrap_or_default();
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        format!("{VERSION}{}", STANDARD.encode(sealed))
    }

    pub fn decrypt(&self, sealed: &str) -> Result<String, PiiError> {
        let raw = sealed
            .strip_prefix(VERSION)
            .and_then(|b64| STANDARD.decode(b64).ok())
            .filter(|raw| raw.len() > 12)
            .ok_or(PiiError::Decrypt)?;
        let (nonce, ciphertext) = raw.split_at(12);
        let plaintext = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| PiiError::Decrypt)?;
        String::from_utf8(plaintext).map_err(|_| PiiError::Decrypt)
    }

    /// Deterministic look-up key for an already normalised value.
    pub fn blind_index(&self, normalised: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.index_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(normalised.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> PiiCipher {
        PiiCipher::new(&[7; 32], &[9; 32]).unwrap()
    }

    #[test]
    fn round_trips_and_never_repeats_ciphertext() {
        let c = cipher();
        let a = c.encrypt("+8613800138000");
        let b = c.encrypt("+8613800138000");
        assert_ne!(a, b, "a random nonce per value");
        assert!(!a.contains("13800138000"));
        assert_eq!(c.decrypt(&a).unwrap(), "+8613800138000");
    }

    #[test]
    fn tampered_or_foreign_ciphertext_is_refused() {
        let c = cipher();
        let mut sealed = c.encrypt("+8613800138000").into_bytes();
        let last = sealed.len() - 2;
        sealed[last] = if sealed[last] == b'A' { b'B' } else { b'A' };
        assert!(c.decrypt(&String::from_utf8(sealed).unwrap()).is_err());
        let other = PiiCipher::new(&[8; 32], &[9; 32]).unwrap();
        assert!(other.decrypt(&c.encrypt("x")).is_err());
    }

    #[test]
    fn blind_index_is_stable_and_keyed() {
        let c = cipher();
        assert_eq!(c.blind_index("+86138"), c.blind_index("+86138"));
        let other = PiiCipher::new(&[7; 32], &[1; 32]).unwrap();
        assert_ne!(c.blind_index("+86138"), other.blind_index("+86138"));
    }
}
