//! Short-lived access tokens: HS256 JWTs that name a session and its audience, nothing more.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::Audience;

const ISSUER: &str = "rouge";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    sid: String,
    iat: i64,
    exp: i64,
}

/// The verified content of an access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub audience: Audience,
    pub subject: i64,
    pub session_id: String,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    pub fn issue(
        &self,
        token: &AccessToken,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims {
            iss: ISSUER.into(),
            aud: token.audience.as_str().into(),
            sub: token.subject.to_string(),
            sid: token.session_id.clone(),
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// Accepts only HS256 (so `alg: none` and key-confusion tokens fail), our issuer, the
    /// expected audience and an unexpired `exp` judged against `now`.
    pub fn verify(&self, jwt: &str, audience: Audience, now: DateTime<Utc>) -> Option<AccessToken> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[audience.as_str()]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        // Expiry is checked below against the domain clock, not the wall clock.
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<Claims>(jwt, &self.decoding, &validation).ok()?;
        if data.claims.exp <= now.timestamp() {
            return None;
        }
        Some(AccessToken {
            audience,
            subject: data.claims.sub.parse().ok()?,
            session_id: data.claims.sid,
        })
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn token() -> AccessToken {
        AccessToken {
            audience: Audience::Consumer,
            subject: 42,
            session_id: "s1".into(),
        }
    }

    #[test]
    fn verifies_its_own_tokens_for_the_right_audience_only() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef");
        let now = Utc::now();
        let jwt = keys
            .issue(&token(), now, chrono::Duration::minutes(15))
            .unwrap();
        assert_eq!(keys.verify(&jwt, Audience::Consumer, now), Some(token()));
        assert_eq!(keys.verify(&jwt, Audience::Staff, now), None);
        assert_eq!(
            keys.verify(
                &jwt,
                Audience::Consumer,
                now + chrono::Duration::minutes(16)
            ),
            None
        );
        let other = TokenKeys::new(b"another-secret-another-secret-xx");
        assert_eq!(other.verify(&jwt, Audience::Consumer, now), None);
    }

    #[test]
    fn refuses_alg_none_and_tampered_payloads() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef");
        let now = Utc::now();
        let jwt = keys
            .issue(&token(), now, chrono::Duration::minutes(15))
            .unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert_eq!(keys.verify(&unsigned, Audience::Consumer, now), None);

        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        let forged = URL_SAFE_NO_PAD.encode(payload.replace("\"sub\":\"42\"", "\"sub\":\"43\""));
        let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
        assert_eq!(keys.verify(&tampered, Audience::Consumer, now), None);
    }
}
