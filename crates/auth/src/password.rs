//! Passwords: validation, Argon2id hashing, and verification of carried-over bcrypt hashes.

use std::sync::Mutex;

use argon2::{Algorithm, Argon2, Block, Params, PasswordVerifier, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
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

/// A new Argon2id hash of a password, ready to store: what [`Hasher::hash_password`] makes.
///
/// The functions that store a password take one of these, so the slow hashing can run
/// wherever the caller likes (the server: on its hashing threads, holding no database
/// connection) and the database work stays short.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// [`Hasher::hash`] of any text (a signin's password is not length-checked).
    pub(crate) fn of(hasher: &Hasher, password: &str) -> Result<PasswordHash, AuthError> {
        hasher.hash(password).map(PasswordHash)
    }

    /// The PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash([redacted])")
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

    /// A new Argon2id hash of `password` with a random salt, as a PHC string
    /// (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
    pub fn hash(&self, password: &str) -> Result<String, AuthError> {
        let mut salt = [0u8; SALT_BYTES];
        getrandom::fill(&mut salt)
            .map_err(|e| AuthError::Internal(format!("the system random source failed: {e}")))?;
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        with_memory(self.argon2.params().block_count(), |blocks| {
            self.argon2
                .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, blocks)
        })
        .map_err(|e| AuthError::Internal(format!("hashing a password: {e}")))?;
        Ok(format!(
            "{}{}${}",
            self.current_prefix,
            STANDARD_NO_PAD.encode(salt),
            STANDARD_NO_PAD.encode(out)
        ))
    }

    /// [`Hasher::hash`] of a checked new password.
    pub fn hash_password(&self, password: &Password) -> Result<PasswordHash, AuthError> {
        PasswordHash::of(self, password.expose())
    }

    /// Checks `password` against `stored`: an Argon2 PHC string, or a `$2a$`/`$2b$`/`$2y$`
    /// bcrypt hash from the old shop. bcrypt is checked without truncation: a password longer
    /// than bcrypt's 72 bytes never matches (its old hash only covered the first 72 bytes,
    /// so such a user resets the password once).
    pub fn verify(&self, password: &str, stored: &str) -> Verified {
        if stored.starts_with("$argon2") {
            let matches = match verify_argon2id(password, stored) {
                Some(matches) => matches,
                // Another Argon2 variant or PHC form: the library's own (allocating) check.
                None => self
                    .argon2
                    .verify_password(password.as_bytes(), stored)
                    .is_ok(),
            };
            if matches {
                Verified::Yes {
                    rehash: !stored.starts_with(&self.current_prefix),
                }
            } else {
                Verified::No
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
        let _ = verify_argon2id(password, &self.dummy);
        Verified::No
    }
}

/// Salt length of new hashes (what the `password-hash` crate generates too).
const SALT_BYTES: usize = 16;

/// Argon2's working memory (19 MiB at the default cost), kept for the next hash instead of
/// freed, until [`release_memory`]. Allocated per hash and freed, blocks that size end up
/// retained by the allocator anyway (glibc raises its mmap threshold after the first free),
/// one per thread that ever hashed; reused from here, there are only as many as hashes ever
/// ran at once.
static MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// The capacity, in blocks, asked of the allocator for that memory: just over 32 MiB.
/// glibc maps an allocation that large on its own whatever its (moving) mmap threshold, which
/// never exceeds `DEFAULT_MMAP_THRESHOLD_MAX` (32 MiB on 64-bit), unless an arena happens to
/// have that much free at its top; and it unmaps it when it is freed, without raising the
/// threshold. Only the blocks a hash uses are ever written, so the rest costs address space,
/// not memory.
const MAPPED_BLOCKS: usize = (32 << 20) / Block::SIZE + 1;

fn with_memory<R>(blocks: usize, f: impl FnOnce(&mut [Block]) -> R) -> R {
    let mut memory = MEMORY
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop()
        .unwrap_or_else(|| Vec::with_capacity(blocks.max(MAPPED_BLOCKS)));
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let result = f(&mut memory[..blocks]);
    MEMORY
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(memory);
    result
}

/// Returns the Argon2 working memory kept for the next hash to the operating system (19 MiB
/// per hash that ran at once, at the default cost). Call it when no hash is waiting: the
/// server's hashing threads do whenever their queue runs empty, so a burst of signins reuses
/// one block and an idle server keeps none. The next hash maps its memory anew (a few ms).
pub fn release_memory() {
    let kept = std::mem::take(&mut *MEMORY.lock().unwrap_or_else(|p| p.into_inner()));
    drop(kept);
}

/// Checks `password` against a `$argon2id$v=19$m=…,t=…,p=…$salt$hash` string with reused
/// memory and a constant-time comparison; `None` when `stored` is not in that form.
fn verify_argon2id(password: &str, stored: &str) -> Option<bool> {
    let mut parts = stored.split('$');
    let (Some(""), Some("argon2id"), Some("v=19"), Some(costs), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let mut m = None;
    let mut t = None;
    let mut p = None;
    for cost in costs.split(',') {
        let (name, value) = cost.split_once('=')?;
        let value: u32 = value.parse().ok()?;
        match name {
            "m" => m = Some(value),
            "t" => t = Some(value),
            "p" => p = Some(value),
            _ => return None,
        }
    }
    let salt = STANDARD_NO_PAD.decode(salt).ok()?;
    let expected = STANDARD_NO_PAD.decode(hash).ok()?;
    let params = Params::new(m?, t?, p?, Some(expected.len())).ok()?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut out = vec![0u8; expected.len()];
    with_memory(argon2.params().block_count(), |blocks| {
        argon2.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, blocks)
    })
    .ok()?;
    let difference = out
        .iter()
        .zip(&expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    Some(difference == 0)
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
    fn released_memory_is_mapped_anew_and_hashes_still_verify() {
        let hasher = hasher();
        let hash = hasher.hash("correct horse").unwrap();
        // This hash's block is kept until a release; other tests may hash (and keep a block)
        // at any moment, so look right after a release, a few times.
        let emptied = (0..100).any(|_| {
            release_memory();
            MEMORY.lock().unwrap().is_empty()
        });
        assert!(emptied, "a release leaves no kept block");
        // The next hash works from fresh memory. (Other tests may hash meanwhile; every block
        // kept afterwards was allocated the same way.)
        assert_eq!(
            hasher.verify("correct horse", &hash),
            Verified::Yes { rehash: false }
        );
        let kept = MEMORY.lock().unwrap().iter().map(Vec::capacity).max();
        assert!(
            kept.is_some_and(|blocks| blocks >= MAPPED_BLOCKS),
            "kept blocks are allocated past glibc's largest mmap threshold: {kept:?}"
        );
        assert_eq!(hasher.verify("wrong horse", &hash), Verified::No);
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
    fn our_phc_strings_and_the_librarys_verify_each_other() {
        use argon2::PasswordHasher;
        let hasher = hasher();
        // A hash made by the library's PHC path (as earlier versions stored them).
        let theirs = hasher
            .argon2
            .hash_password(b"correct horse battery")
            .unwrap()
            .to_string();
        assert_eq!(
            hasher.verify("correct horse battery", &theirs),
            Verified::Yes { rehash: false }
        );
        assert_eq!(
            verify_argon2id("correct horse battery", &theirs),
            Some(true)
        );
        assert_eq!(verify_argon2id("wrong horse battery", &theirs), Some(false));
        // Ours, checked by the library.
        let ours = hasher.hash("correct horse battery").unwrap();
        let parsed = argon2::PasswordHash::new(&ours).unwrap();
        assert!(
            hasher
                .argon2
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        assert_eq!(
            verify_argon2id("x", "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA"),
            None
        );
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
