//! Short-lived signed codes for QR shown in the mini-program: a coupon to redeem at the counter,
//! a booking to check in. The code names what it is for, whose it is and until when it is
//! valid, sealed with an HMAC, so a screenshot stops working after a few minutes and nobody can
//! forge one. Short enough for a dense QR.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Why a code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("not a code of this kind")]
    Malformed,
    #[error("the code has expired; refresh it in the mini-program")]
    Expired,
    #[error("the code is not genuine")]
    Forged,
}

/// Signs and checks codes with a key derived from the app's secret.
#[derive(Clone)]
pub struct CodeSigner {
    key: [u8; 32],
}

impl CodeSigner {
    pub fn new(secret: &[u8]) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"rouge signed codes v1");
        Self {
            key: mac.finalize().into_bytes().into(),
        }
    }

    fn mac(&self, body: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(body.as_bytes());
        URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..12])
    }

    /// A short tag over `body` for one `purpose` (the first `bytes` bytes of the HMAC,
    /// base64url): for tokens that must stay short, e.g. a mini-program code's scene.
    pub fn tag(&self, purpose: &str, body: &str, bytes: usize) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(purpose.as_bytes());
        mac.update(b"\n");
        mac.update(body.as_bytes());
        URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..bytes.min(32)])
    }

    /// Whether `tag` is [`Self::tag`] of `body` (constant time).
    pub fn tag_matches(&self, purpose: &str, body: &str, bytes: usize, tag: &str) -> bool {
        bool::from(
            self.tag(purpose, body, bytes)
                .as_bytes()
                .ct_eq(tag.as_bytes()),
        )
    }

    /// `kind` is a short tag (e.g. "CP" coupon, "BK" booking); `subject` the row it is for.
    pub fn issue(&self, kind: &str, subject: i64, expires_at: DateTime<Utc>) -> String {
        let body = format!("{kind}.{subject}.{}", expires_at.timestamp());
        format!("{body}.{}", self.mac(&body))
    }

    /// The subject of a genuine, unexpired code of this kind.
    pub fn verify(&self, kind: &str, code: &str, now: DateTime<Utc>) -> Result<i64, CodeError> {
        let code = code.trim();
        if code.len() > 96 {
            return Err(CodeError::Malformed);
        }
        let mut parts = code.rsplitn(2, '.');
        let (Some(mac), Some(body)) = (parts.next(), parts.next()) else {
            return Err(CodeError::Malformed);
        };
        let mut fields = body.split('.');
        let (Some(k), Some(subject), Some(expires), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(CodeError::Malformed);
        };
        if k != kind {
            return Err(CodeError::Malformed);
        }
        let subject: i64 = subject.parse().map_err(|_| CodeError::Malformed)?;
        let expires: i64 = expires.parse().map_err(|_| CodeError::Malformed)?;
        if !bool::from(self.mac(body).as_bytes().ct_eq(mac.as_bytes())) {
            return Err(CodeError::Forged);
        }
        if now.timestamp() >= expires {
            return Err(CodeError::Expired);
        }
        Ok(subject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_verify_until_they_expire_and_cannot_be_forged() {
        let signer = CodeSigner::new(b"secret");
        let now = Utc::now();
        let code = signer.issue("CP", 42, now + chrono::Duration::minutes(5));
        assert!(code.len() < 48, "{code}");
        assert_eq!(signer.verify("CP", &code, now), Ok(42));
        assert_eq!(signer.verify("BK", &code, now), Err(CodeError::Malformed));
        assert_eq!(
            signer.verify("CP", &code, now + chrono::Duration::minutes(6)),
            Err(CodeError::Expired)
        );
        let forged = code.replacen(".42.", ".43.", 1);
        assert_eq!(signer.verify("CP", &forged, now), Err(CodeError::Forged));
        assert_eq!(
            CodeSigner::new(b"other").verify("CP", &code, now),
            Err(CodeError::Forged)
        );
        assert_eq!(
            signer.verify("CP", "garbage", now),
            Err(CodeError::Malformed)
        );
    }
}
