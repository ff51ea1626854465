//! Passwords: validation, Argon2id hashing, and verification of carried-over bcrypt hashes.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use emporium_core::settings::Argon2Settings;

use crate::AuthError;

/// A password as the user typed it: 8..=128 characters (not bytes), never trimmed or
/// truncated. Its `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Shortest accepted password, in characters.
    pub const MIN_CHARS: usize = 8;
    /// Longest accepted password, in characters.
    pub const MAX_CHARS: usize = 128;

    /// Checks the length; the text is kept exactly as given.
    pub fn parse(text: &str) -> Result<Password, &'static str> {
        let chars = text.chars().count();
        if chars < Self::MIN_CHARS {
            Err("must be at least 8 characters")
        } else if chars > Self::MAX_CHARS {
            Err("must be at most 128 characters")
        } else {
            Ok(Password(text.to_string()))
        }
    }

    /// The password.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// The password does not match.
    No,
    /// It matches; `rehash` says the stored hash should be replaced (bcrypt, or Argon2 with
    /// older parameters).
    Yes {
        /// Replace the stored hash with a fresh Argon2id one.
        rehash: bool,
    },
}

/// Hashes and verifies passwords.
pub struct Hasher {
    argon2: Argon2<'static>,
    current_prefix: String,
    /// A hash of a random string, verified against when an account does not exist so that an
    /// unknown email costs the same work as a wrong password.
    dummy: String,
}

impl Hasher {
    /// A hasher for new Argon2id hashes with `settings`' cost.
    pub fn new(settings: &Argon2Settings) -> Result<Hasher, AuthError> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|e| AuthError::Internal(format!("argon2 parameters: {e}")))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let current_prefix = format!(
            "$argon2id$v=19$m={},t={},p={}$",
            settings.memory_kib, settings.iterations, settings.parallelism
        );
        let mut hasher = Hasher {
            argon2,
            current_prefix,
            dummy: String::new(),
        };
        hasher.dummy = hasher.hash(&crate::tokens::random_token()?)?;
        Ok(hasher)
    }

    /// A new Argon2id hash (PHC string) of `password`, with a random salt.
    pub fn hash(&self, password: &str) -> Result<String, AuthError> {
        self.argon2
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| AuthError::Internal(format!("hashing a password: {e}")))
    }

    /// Checks `password` against `stored`: an Argon2 PHC string, or a `$2a$`/`$2b$`/`$2y$`
    /// bcrypt hash from the old shop. bcrypt is checked without truncation: a password longer
    /// than bcrypt's 72 bytes never matches (its old hash only covered the first 72 bytes,
    /// so such a user resets the password once).
    pub fn verify(&self, password: &str, stored: &str) -> Verified {
        if stored.starts_with("$argon2") {
            match self.argon2.verify_password(password.as_bytes(), stored) {
                Ok(()) => Verified::Yes {
                    rehash: !stored.starts_with(&self.current_prefix),
                },
                Err(_) => Verified::No,
            }
        } else if is_bcrypt(stored) {
            match bcrypt::non_truncating_verify(password.as_bytes(), stored) {
                Ok(true) => Verified::Yes { rehash: true },
                _ => Verified::No,
            }
        } else {
            Verified::No
        }
    }

    /// Does the work of one verification for an account that does not exist, and fails.
    pub fn verify_nobody(&self, password: &str) -> Verified {
        let _ = self
            .argon2
            .verify_password(password.as_bytes(), self.dummy.as_str());
        Verified::No
    }
}

fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|prefix| stored.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> Hasher {
        Hasher::new(&Argon2Settings {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        })
        .unwrap()
    }

    #[test]
    fn lengths_are_counted_in_characters() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
        assert!(
            Password::parse(&"é".repeat(128)).is_ok(),
            "256 bytes, 128 characters"
        );
        assert!(Password::parse(&"é".repeat(129)).is_err());
        assert_eq!(
            Password::parse("  spaces  ").unwrap().expose(),
            "  spaces  "
        );
        assert!(!format!("{:?}", Password::parse("secret-words").unwrap()).contains("secret"));
    }

    #[test]
    fn argon2id_round_trip_without_truncation() {
        let hasher = hasher();
        let long = format!("{}x", "ü".repeat(60)); // 121 bytes, past bcrypt's 72
        let hash = hasher.hash(&long).unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert_eq!(hasher.verify(&long, &hash), Verified::Yes { rehash: false });
        let changed = format!("{}y", "ü".repeat(60));
        assert_eq!(
            hasher.verify(&changed, &hash),
            Verified::No,
            "a change past byte 72 counts"
        );
        assert_eq!(hasher.verify_nobody(&long), Verified::No);
    }

    #[test]
    fn weaker_argon2_hashes_are_marked_for_rehash() {
        let weak = Hasher::new(&Argon2Settings {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        })
        .unwrap();
        let hash = weak.hash("correct horse").unwrap();
        let stronger = Hasher::new(&Argon2Settings {
            memory_kib: 19_456,
            iterations: 3,
            parallelism: 1,
        })
        .unwrap();
        assert_eq!(
            stronger.verify("correct horse", &hash),
            Verified::Yes { rehash: true }
        );
    }

    /// Made with Python's `bcrypt` 5.0.0 (what passlib-based FastAPI shops use underneath):
    /// `bcrypt.hashpw(b"correct horse battery", bcrypt.gensalt(12))`.
    pub(crate) const PYTHON_BCRYPT: &str =
        "$2b$12$5xJoN/4dzlMZ5s7k53yA2OLjbtX6hORCkrm2rn.pJ19rOvGEZUHpG";

    #[test]
    fn carried_over_bcrypt_hashes_verify_and_ask_for_rehash() {
        let hasher = hasher();
        assert_eq!(
            hasher.verify("correct horse battery", PYTHON_BCRYPT),
            Verified::Yes { rehash: true }
        );
        assert_eq!(
            hasher.verify("correct horse batterY", PYTHON_BCRYPT),
            Verified::No
        );
        let legacy_2y = PYTHON_BCRYPT.replacen("$2b$", "$2y$", 1);
        assert_eq!(
            hasher.verify("correct horse battery", &legacy_2y),
            Verified::Yes { rehash: true }
        );
        assert_eq!(
            hasher.verify("anything", "plain-text-or-garbage"),
            Verified::No
        );
    }
}
