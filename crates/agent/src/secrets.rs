//! Secrets: the masked [`Secret`] newtype and encryption at rest.
//!
//! Owns: how a password or passphrase is held in memory (masked in `Debug`/`Display`, zeroized
//! on drop) and how it is sealed for the database (XChaCha20-Poly1305, a fresh random nonce per
//! value, bound to where it is stored by associated data, stored as text `v1:<base64>`).
//!
//! Must not touch: where the key lives (see `datadir`) or which rows hold secrets (see `store`).
//! Nothing here logs a secret, and no error carries one.

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use zeroize::{Zeroize, Zeroizing};

/// A secret string (password, passphrase). `Debug` and `Display` print `***`; the memory is
/// zeroized on drop. Use [`Secret::expose`] at the one place the value is really needed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Zeroizing::new(value.into()))
    }

    /// The secret value. Never log or format it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the value is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut s = String::deserialize(d)?;
        let out = Secret::new(s.as_str());
        s.zeroize();
        Ok(out)
    }
}

/// The 32-byte key that seals secrets at rest. `Debug` prints `***`.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<[u8; 32]>);

impl SecretKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SecretKey(Zeroizing::new(bytes))
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut b = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut b);
        let k = SecretKey::from_bytes(b);
        b.zeroize();
        k
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

/// Why a sealed value could not be opened (or sealed). Never contains the secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// The stored text is not `v1:<base64>` of at least a nonce and a tag.
    #[error("stored secret is malformed ({0})")]
    Malformed(&'static str),
    /// Authentication failed: a different `secret.key`, a tampered value, or a value moved to
    /// another row.
    #[error("stored secret cannot be decrypted: wrong secret.key or the value was tampered with")]
    Decrypt,
    /// The decrypted bytes are not UTF-8.
    #[error("stored secret is not valid UTF-8")]
    NotUtf8,
    /// Encryption failed (does not happen with valid inputs; kept so no path panics).
    #[error("could not encrypt a secret")]
    Encrypt,
}

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// Seals and opens secrets with one key.
#[derive(Clone)]
pub struct Cipher {
    aead: XChaCha20Poly1305,
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cipher(***)")
    }
}

impl Cipher {
    /// A cipher for `key`.
    pub fn new(key: &SecretKey) -> Self {
        Cipher {
            aead: XChaCha20Poly1305::new(key.as_bytes().into()),
        }
    }

    /// Seals `secret`; `aad` names where it is stored (e.g. `profile:prof_x:password`) so a value
    /// copied to another row does not open. Returns `v1:<base64(nonce || ciphertext)>`.
    pub fn seal(&self, secret: &Secret, aad: &str) -> Result<String, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .aead
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: secret.expose().as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Encrypt)?;
        let mut blob = Vec::with_capacity(NONCE_LEN + ct.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ct);
        Ok(format!("{PREFIX}{}", B64.encode(blob)))
    }

    /// Opens a value made by [`Cipher::seal`] with the same `aad`.
    pub fn open(&self, stored: &str, aad: &str) -> Result<Secret, SecretError> {
        let b64 = stored
            .strip_prefix(PREFIX)
            .ok_or(SecretError::Malformed("unknown format version"))?;
        let blob = B64
            .decode(b64)
            .map_err(|_| SecretError::Malformed("not base64"))?;
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(SecretError::Malformed("too short"));
        }
        let (nonce, ct) = blob.split_at(NONCE_LEN);
        let pt = Zeroizing::new(
            self.aead
                .decrypt(
                    XNonce::from_slice(nonce),
                    Payload {
                        msg: ct,
                        aad: aad.as_bytes(),
                    },
                )
                .map_err(|_| SecretError::Decrypt)?,
        );
        let s = std::str::from_utf8(&pt).map_err(|_| SecretError::NotUtf8)?;
        Ok(Secret::new(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_masked() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{:?}", Some(&s)), "Some(***)");
        assert_eq!(s.expose(), "hunter2");
        let k = SecretKey::generate();
        assert_eq!(format!("{k:?}"), "SecretKey(***)");
    }

    #[test]
    fn seal_open_roundtrip_with_fresh_nonces() {
        let c = Cipher::new(&SecretKey::generate());
        let s = Secret::new("pässwörd with spaces");
        let a = c.seal(&s, "profile:p:password").unwrap();
        let b = c.seal(&s, "profile:p:password").unwrap();
        assert_ne!(a, b, "nonce must be fresh per value");
        assert!(a.starts_with("v1:"));
        assert!(!a.contains("pässwörd"));
        assert_eq!(c.open(&a, "profile:p:password").unwrap(), s);
        assert_eq!(c.open(&b, "profile:p:password").unwrap(), s);
        let empty = c.seal(&Secret::new(""), "x").unwrap();
        assert!(c.open(&empty, "x").unwrap().is_empty());
    }

    #[test]
    fn wrong_key_tamper_wrong_row_and_garbage_are_typed_errors() {
        let c = Cipher::new(&SecretKey::generate());
        let other = Cipher::new(&SecretKey::generate());
        let sealed = c.seal(&Secret::new("pw"), "profile:a:password").unwrap();
        assert_eq!(
            other.open(&sealed, "profile:a:password"),
            Err(SecretError::Decrypt)
        );
        assert_eq!(
            c.open(&sealed, "profile:b:password"),
            Err(SecretError::Decrypt)
        );
        let mut blob = B64.decode(&sealed[3..]).unwrap();
        let last = blob.len() - 1;
        blob[last] ^= 1;
        let tampered = format!("v1:{}", B64.encode(&blob));
        assert_eq!(
            c.open(&tampered, "profile:a:password"),
            Err(SecretError::Decrypt)
        );
        for bad in ["", "v1:", "v1:!!!", "v2:AAAA", "v1:AAAA", "plaintext"] {
            assert!(
                matches!(c.open(bad, "x"), Err(SecretError::Malformed(_))),
                "{bad}"
            );
        }
    }
}
