//! Envelope encryption for the SENSITIVE class: each asset gets its own random 256-bit data
//! key (DEK); its objects are sealed with AES-256-GCM under that key, and the DEK is stored only
//! wrapped (AES-256-GCM) by the master key. Deleting the wrapped key shreds every copy of the
//! ciphertext, backups included.
//!
//! Layout of a sealed blob: 12-byte nonce ‖ ciphertext ‖ 16-byte tag. The associated data binds a
//! blob to its place (the storage key, or the asset's key prefix for the wrapped DEK), so a blob
//! copied elsewhere does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::RngCore;

const NONCE: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the master key must be 32 bytes")]
    BadKey,
    #[error("the object or its key does not open (wrong key, altered or moved)")]
    Open,
}

fn seal(key: &Key<Aes256Gcm>, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut nonce = [0u8; NONCE];
    rand::thread_rng().fill_bytes(&mut nonce);
    let ct = Aes256Gcm::new(key)
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Open)?;
    let mut out = Vec::with_capacity(NONCE + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

fn open(key: &Key<Aes256Gcm>, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < NONCE + 16 {
        return Err(CryptoError::Open);
    }
    let (nonce, ct) = sealed.split_at(NONCE);
    Aes256Gcm::new(key)
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .map_err(|_| CryptoError::Open)
}

/// The master key (configuration secret; never stored next to the objects).
#[derive(Clone)]
pub struct MasterKey(Key<Aes256Gcm>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// One asset's data key, unwrapped (in memory only).
pub struct DataKey(Key<Aes256Gcm>);

impl MasterKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != 32 {
            return Err(CryptoError::BadKey);
        }
        Ok(Self(*Key::<Aes256Gcm>::from_slice(bytes)))
    }

    /// A fresh data key and its wrapped form, bound to `context` (the asset's key prefix).
    pub fn new_data_key(&self, context: &[u8]) -> Result<(DataKey, Vec<u8>), CryptoError> {
        let dek = Aes256Gcm::generate_key(&mut rand::thread_rng());
        let wrapped = seal(&self.0, dek.as_slice(), context)?;
        Ok((DataKey(dek), wrapped))
    }

    pub fn unwrap_key(&self, wrapped: &[u8], context: &[u8]) -> Result<DataKey, CryptoError> {
        let raw = open(&self.0, wrapped, context)?;
        if raw.len() != 32 {
            return Err(CryptoError::Open);
        }
        Ok(DataKey(*Key::<Aes256Gcm>::from_slice(&raw)))
    }
}

impl DataKey {
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        seal(&self.0, plaintext, aad)
    }

    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        open(&self.0, sealed, aad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_objects_open_only_with_their_wrapped_key_and_place() -> Result<(), CryptoError> {
        let master = MasterKey::from_bytes(&[7u8; 32])?;
        let (dek, wrapped) = master.new_data_key(b"sensitive/m1/a")?;
        let blob = dek.seal(b"photo", b"sensitive/m1/a/512.jpg.enc")?;
        assert!(!blob.windows(5).any(|w| w == b"photo"));
        let again = master.unwrap_key(&wrapped, b"sensitive/m1/a")?;
        assert_eq!(again.open(&blob, b"sensitive/m1/a/512.jpg.enc")?, b"photo");
        // moved to another place, or the key used for another asset: refused
        assert_eq!(
            again.open(&blob, b"sensitive/m2/a/512.jpg.enc").err(),
            Some(CryptoError::Open)
        );
        assert!(master.unwrap_key(&wrapped, b"sensitive/m2/a").is_err());
        // another master key cannot unwrap
        let other = MasterKey::from_bytes(&[8u8; 32])?;
        assert!(other.unwrap_key(&wrapped, b"sensitive/m1/a").is_err());
        assert_eq!(
            MasterKey::from_bytes(&[0u8; 16]).err(),
            Some(CryptoError::BadKey)
        );
        Ok(())
    }
}
