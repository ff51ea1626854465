//! Signed tokens (JWT access and refresh tokens) and random single-use tokens.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AuthError;

/// The `iss` of every token.
pub const ISSUER: &str = "emporium";
/// The `aud` of every token.
pub const AUDIENCE: &str = "emporium-api";
/// Seconds of clock skew tolerated when checking `exp`.
pub const LEEWAY_SECS: u64 = 5;

/// Keeps access and refresh tokens apart: each is refused where the other is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    /// Short-lived; sent as `Authorization: Bearer`.
    Access,
    /// Long-lived, single-use; exchanged at `/auth/refresh`.
    Refresh,
}

/// The claims of both token types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The user id, as a string.
    pub sub: String,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Unique token id.
    pub jti: String,
    /// Access or refresh.
    pub typ: TokenType,
    /// The session the token belongs to.
    pub sid: i32,
}

/// HS256 signing and checking, with the algorithm pinned.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Keys {
    /// Keys for `secret`.
    pub fn new(secret: &[u8]) -> Keys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Signs `claims`.
    pub fn sign(&self, claims: &Claims) -> Result<String, AuthError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| AuthError::Internal(format!("signing a token: {e}")))
    }

    /// The claims of `token` if it is well-formed, signed with our key by HS256, unexpired,
    /// ours (`iss`, `aud`), and of type `expected`.
    pub fn check(&self, token: &str, expected: TokenType) -> Option<Claims> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        (data.claims.typ == expected).then_some(data.claims)
    }
}

/// 256 random bits, URL-safe base64 without padding (43 characters).
pub fn random_token() -> Result<String, AuthError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| AuthError::Internal(format!("the system random source failed: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The SHA-256 of `token`, hex-encoded: what is stored instead of the token.
pub fn sha256_hex(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(typ: TokenType, exp: i64) -> Claims {
        Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: "1".into(),
            exp,
            iat: exp - 900,
            jti: "j".into(),
            typ,
            sid: 1,
        }
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn round_trip_and_type_separation() {
        let keys = Keys::new(b"0123456789abcdef0123456789abcdef");
        let token = keys.sign(&claims(TokenType::Access, now() + 60)).unwrap();
        assert!(keys.check(&token, TokenType::Access).is_some());
        assert!(keys.check(&token, TokenType::Refresh).is_none());
    }

    #[test]
    fn expired_foreign_tampered_and_unsigned_tokens_are_refused() {
        let keys = Keys::new(b"0123456789abcdef0123456789abcdef");
        let expired = keys.sign(&claims(TokenType::Access, now() - 60)).unwrap();
        assert!(keys.check(&expired, TokenType::Access).is_none());

        let other = Keys::new(b"another-key-another-key-another-key!");
        let foreign = other.sign(&claims(TokenType::Access, now() + 60)).unwrap();
        assert!(keys.check(&foreign, TokenType::Access).is_none());

        let good = keys.sign(&claims(TokenType::Access, now() + 60)).unwrap();
        let mut parts: Vec<String> = good.split('.').map(String::from).collect();
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = String::from_utf8(engine.decode(&parts[1]).unwrap()).unwrap();
        parts[1] = engine.encode(payload.replace("\"sub\":\"1\"", "\"sub\":\"2\""));
        assert!(
            keys.check(&parts.join("."), TokenType::Access).is_none(),
            "tampered payload"
        );

        let none_header = engine.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", good.split('.').nth(1).unwrap());
        assert!(
            keys.check(&unsigned, TokenType::Access).is_none(),
            "alg none"
        );
        assert!(keys.check("not.a.jwt", TokenType::Access).is_none());
    }

    #[test]
    fn random_tokens_are_256_bits_and_hash_stably() {
        let a = random_token().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token().unwrap());
        assert_eq!(sha256_hex("abc").len(), 64);
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
