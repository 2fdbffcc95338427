//! HMAC-SHA256 signed, expiring URLs for the objects Rouge serves itself (object_store cannot
//! sign for local files). The signature covers the exact object path and the expiry, so a
//! changed path, a changed expiry or an expired link is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the link has expired")]
    Expired,
    #[error("the link signature does not match")]
    BadSignature,
}

#[derive(Clone)]
pub struct UrlSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner(..)")
    }
}

impl UrlSigner {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    fn mac(&self, path: &str, expires: i64) -> HmacSha256 {
        self.mac_for("GET", path, expires)
    }

    /// The MAC of a request: the method is part of it, so a download link never authorizes an
    /// upload (and the other way round).
    fn mac_for(&self, method: &str, path: &str, expires: i64) -> HmacSha256 {
        // HMAC accepts keys of any length; this cannot fail.
        let mut mac = match HmacSha256::new_from_slice(&self.key) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(b"rouge-media-v1\n");
        mac.update(method.as_bytes());
        mac.update(b"\n");
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// The signature for `path` valid until `expires` (unix seconds), base64url.
    pub fn sign(&self, path: &str, expires: i64) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(path, expires).finalize().into_bytes())
    }

    /// `exp=..&sig=..` to append to the object's URL.
    pub fn query(&self, path: &str, expires: i64) -> String {
        format!("exp={expires}&sig={}", self.sign(path, expires))
    }

    /// `exp=..&sig=..` authorizing one PUT of `path` until `expires`.
    pub fn put_query(&self, path: &str, expires: i64) -> String {
        let sig =
            URL_SAFE_NO_PAD.encode(self.mac_for("PUT", path, expires).finalize().into_bytes());
        format!("exp={expires}&sig={sig}")
    }

    /// Constant-time check of the signature, then of the expiry.
    pub fn verify(
        &self,
        path: &str,
        expires: i64,
        sig: &str,
        now: i64,
    ) -> Result<(), SignatureError> {
        self.verify_for("GET", path, expires, sig, now)
    }

    /// [`Self::verify`] for an upload (PUT) link.
    pub fn verify_put(
        &self,
        path: &str,
        expires: i64,
        sig: &str,
        now: i64,
    ) -> Result<(), SignatureError> {
        self.verify_for("PUT", path, expires, sig, now)
    }

    fn verify_for(
        &self,
        method: &str,
        path: &str,
        expires: i64,
        sig: &str,
        now: i64,
    ) -> Result<(), SignatureError> {
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| SignatureError::BadSignature)?;
        self.mac_for(method, path, expires)
            .verify_slice(&sig)
            .map_err(|_| SignatureError::BadSignature)?;
        if now >= expires {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_path_verifies_until_it_expires() {
        let s = UrlSigner::new(b"key");
        let sig = s.sign("private/abc/512.jpg", 1_000);
        assert_eq!(s.verify("private/abc/512.jpg", 1_000, &sig, 999), Ok(()));
        assert_eq!(
            s.verify("private/abc/512.jpg", 1_000, &sig, 1_000),
            Err(SignatureError::Expired)
        );
    }

    #[test]
    fn altered_path_expiry_signature_or_key_is_refused() {
        let s = UrlSigner::new(b"key");
        let sig = s.sign("private/abc/512.jpg", 1_000);
        let bad = Err(SignatureError::BadSignature);
        assert_eq!(s.verify("private/abd/512.jpg", 1_000, &sig, 0), bad);
        assert_eq!(s.verify("private/abc/512.jpg", 2_000, &sig, 0), bad);
        assert_eq!(s.verify("private/abc/512.jpg", 1_000, "AAAA", 0), bad);
        assert_eq!(
            s.verify("private/abc/512.jpg", 1_000, "not base64!", 0),
            bad
        );
        assert_eq!(
            UrlSigner::new(b"other").verify("private/abc/512.jpg", 1_000, &sig, 0),
            bad
        );
    }

    #[test]
    fn a_download_link_never_authorizes_an_upload_and_back() {
        let s = UrlSigner::new(b"key");
        let get = s.sign("incoming/abc", 1_000);
        assert_eq!(
            s.verify_put("incoming/abc", 1_000, &get, 0),
            Err(SignatureError::BadSignature)
        );
        let put = s.put_query("incoming/abc", 1_000);
        let put_sig = put.split("sig=").nth(1).unwrap();
        assert_eq!(s.verify_put("incoming/abc", 1_000, put_sig, 999), Ok(()));
        assert_eq!(
            s.verify_put("incoming/abc", 1_000, put_sig, 1_000),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            s.verify("incoming/abc", 1_000, put_sig, 0),
            Err(SignatureError::BadSignature)
        );
    }
}
