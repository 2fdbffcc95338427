//! WeChat Pay v3's keys, signatures and resource encryption (RSA-SHA256 over the signed
//! message, AES-256-GCM for notification resources), shared by the client and the fake.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use secrecy::SecretSlice;

use crate::WeChatError;

/// A fresh 2048-bit key pair, for tests and the demo only (the fake WeChat's keys).
/// Production keys come from PEM.
pub fn generate_test_keypair() -> (RsaPrivateKey, RsaPublicKey) {
    let mut rng = rand::thread_rng();
    // Key generation only fails for absurd sizes.
    let private = RsaPrivateKey::new(&mut rng, 2048)
        .unwrap_or_else(|e| unreachable!("RSA-2048 key generation: {e}"));
    let public = RsaPublicKey::from(&private);
    (private, public)
}

/// A merchant private key from PEM (PKCS#8 "PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY").
pub fn private_key_from_pem(pem: &str) -> Result<RsaPrivateKey, WeChatError> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    RsaPrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
        .map_err(|e| WeChatError::Config(format!("merchant private key: {e}")))
}

/// A platform public key from PEM (SPKI "PUBLIC KEY" or PKCS#1 "RSA PUBLIC KEY").
pub fn public_key_from_pem(pem: &str) -> Result<RsaPublicKey, WeChatError> {
    use rsa::pkcs1::DecodeRsaPublicKey;
    use rsa::pkcs8::DecodePublicKey;
    RsaPublicKey::from_public_key_pem(pem)
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem))
        .map_err(|e| WeChatError::Config(format!("platform public key: {e}")))
}

/// The APIv3 key as configured (32 ASCII characters), checked for length.
pub fn api_v3_key_from_str(key: &str) -> Result<SecretSlice<u8>, WeChatError> {
    let bytes = key.trim().as_bytes();
    if bytes.len() != 32 {
        return Err(WeChatError::Config("the APIv3 key must be 32 bytes".into()));
    }
    Ok(SecretSlice::from(bytes.to_vec()))
}

/// base64(RSASSA-PKCS1-v1_5 with SHA-256).
pub fn sign(key: &RsaPrivateKey, message: &[u8]) -> String {
    sign_with(&SigningKey::<Sha256>::new(key.clone()), message)
}

pub(super) fn sign_with(key: &SigningKey<Sha256>, message: &[u8]) -> String {
    STANDARD.encode(key.sign(message).to_bytes())
}

pub fn verify(key: &RsaPublicKey, message: &[u8], signature_b64: &str) -> bool {
    let Ok(raw) = STANDARD.decode(signature_b64) else {
        return false;
    };
    let Ok(signature) = Signature::try_from(raw.as_slice()) else {
        return false;
    };
    VerifyingKey::<Sha256>::new(key.clone())
        .verify(message, &signature)
        .is_ok()
}

pub fn nonce() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..32)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The message a response or notification signature covers (§7.2).
pub fn response_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut m = format!("{timestamp}\n{nonce}\n").into_bytes();
    m.extend_from_slice(body);
    m.push(b'\n');
    m
}

/// The message a request signature covers (§7.1).
pub fn request_message(
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    nonce: &str,
    body: &str,
) -> String {
    format!("{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{body}\n")
}

/// AES-256-GCM with the APIv3 key; the ciphertext ends with the 16-byte tag.
pub fn decrypt_resource(
    api_v3_key: &[u8],
    nonce: &str,
    associated_data: &str,
    ciphertext_b64: &str,
) -> Result<Vec<u8>, WeChatError> {
    let cipher = Aes256Gcm::new_from_slice(api_v3_key)
        .map_err(|_| WeChatError::Crypto("the APIv3 key must be 32 bytes".into()))?;
    if nonce.len() != 12 {
        return Err(WeChatError::Crypto(
            "the resource nonce must be 12 bytes".into(),
        ));
    }
    let ciphertext = STANDARD
        .decode(ciphertext_b64)
        .map_err(|_| WeChatError::Crypto("ciphertext is not base64".into()))?;
    cipher
        .decrypt(
            Nonce::from_slice(nonce.as_bytes()),
            Payload {
                msg: &ciphertext,
                aad: associated_data.as_bytes(),
            },
        )
        .map_err(|_| WeChatError::Crypto("the resource does not decrypt".into()))
}

pub fn encrypt_resource(
    api_v3_key: &[u8],
    nonce: &str,
    associated_data: &str,
    plaintext: &[u8],
) -> Result<String, WeChatError> {
    let cipher = Aes256Gcm::new_from_slice(api_v3_key)
        .map_err(|_| WeChatError::Crypto("the APIv3 key must be 32 bytes".into()))?;
    // `Nonce::from_slice` panics on any other length (found by rouge-fuzz pay_decrypt).
    if nonce.len() != 12 {
        return Err(WeChatError::Crypto(
            "the resource nonce must be 12 bytes".into(),
        ));
    }
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(nonce.as_bytes()),
            Payload {
                msg: plaintext,
                aad: associated_data.as_bytes(),
            },
        )
        .map_err(|_| WeChatError::Crypto("could not encrypt".into()))?;
    Ok(STANDARD.encode(sealed))
}
