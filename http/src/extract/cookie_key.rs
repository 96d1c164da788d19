//! [`CookieKey`]: the secret that signs ([`SignedCookieJar`](crate::SignedCookieJar)) and
//! encrypts ([`PrivateCookieJar`](crate::PrivateCookieJar)) cookies, read from
//! `KEEL_COOKIE_KEY` (base64 of at least 32 random bytes) and checked at startup by
//! [`Config::from_env`](crate::Config::from_env): a bad value stops the process naming the
//! variable, never echoing the secret.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::general_purpose::{GeneralPurpose, STANDARD, STANDARD_NO_PAD, URL_SAFE};
use keel_runtime::env::{self, EnvError};

/// The variable the key is read from.
pub(crate) const COOKIE_KEY_VAR: &str = "KEEL_COOKIE_KEY";

/// The fewest random bytes a key may hold.
const MIN_KEY_BYTES: usize = 32;

/// What a valid `KEEL_COOKIE_KEY` looks like, for the error.
const EXPECTED: &str =
    "base64 of at least 32 random bytes (generate one with `openssl rand -base64 64`)";

/// The key of the signed and private cookie jars: a 512-bit key, HMAC-SHA256 for signing
/// and AES-256-GCM for encryption (the `cookie` crate's). Give it to the router with
/// [`Router::with_state`](crate::Router::with_state); the server refuses to start when a
/// route takes a signed or private jar and the router has no key.
///
/// Every instance of a service must use the same key, and rotating it logs every user
/// out: keep it in a secret store, never in the image.
///
/// # Examples
///
/// ```no_run
/// use keel_http::{Config, Router, SignedCookieJar};
///
/// async fn whoami(jar: SignedCookieJar) -> String {
///     jar.get("user").map(|c| c.value().to_owned()).unwrap_or_default()
/// }
///
/// let config = Config::from_env()?; // a bad KEEL_COOKIE_KEY stops startup here
/// let key = config.cookie_key().cloned().ok_or("set KEEL_COOKIE_KEY")?;
/// let make_app = move || Router::new().get("/me", whoami).with_state(key.clone());
/// # let _ = make_app();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct CookieKey(pub(super) cookie::Key);

impl CookieKey {
    /// A new random key (for tests and single-process tools: cookies signed with it are
    /// worthless once the process exits).
    pub fn generate() -> CookieKey {
        CookieKey(cookie::Key::generate())
    }

    /// The key in `KEEL_COOKIE_KEY`; `Ok(None)` when it is unset.
    ///
    /// # Errors
    ///
    /// When it is set to something other than base64 of at least 32 bytes, naming the
    /// variable (the value is not shown).
    pub fn from_env() -> Result<Option<CookieKey>, EnvError> {
        env::var(COOKIE_KEY_VAR, parse_cookie_key)
    }
}

/// Parses a cookie key (base64, standard or URL-safe alphabet, padded or not, of at least
/// 32 bytes; 64 or more are used as the key itself, fewer are expanded with HKDF), in the
/// shape of the [`config`](crate::config) parsers.
///
/// # Errors
///
/// Anything else, naming `name` and hiding the value (it is a secret).
pub fn parse_cookie_key(name: &str, value: &str) -> Result<CookieKey, EnvError> {
    const ENGINES: [GeneralPurpose; 4] = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD];
    let bytes = ENGINES
        .iter()
        .find_map(|engine| engine.decode(value.trim()).ok())
        .filter(|bytes| bytes.len() >= MIN_KEY_BYTES)
        .ok_or_else(|| EnvError::new(name, "<hidden>", EXPECTED))?;
    let key = match cookie::Key::try_from(bytes.as_slice()) {
        Ok(key) => key,
        // 32 to 63 bytes: expanded to 64 (HKDF-SHA256).
        Err(_) => cookie::Key::derive_from(&bytes),
    };
    Ok(CookieKey(key))
}

impl fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CookieKey([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_32_bytes_and_more_in_any_base64() {
        let b64 = |n: usize, engine: &GeneralPurpose| engine.encode(vec![7u8; n]);
        for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
            for n in [32, 48, 64, 96] {
                assert!(
                    parse_cookie_key(COOKIE_KEY_VAR, &b64(n, &engine)).is_ok(),
                    "{n}"
                );
            }
        }
        // The same text, the same key: a cookie signed by one instance verifies on another.
        let text = b64(64, &STANDARD);
        let (a, b) = (
            parse_cookie_key(COOKIE_KEY_VAR, &text).unwrap(),
            parse_cookie_key(COOKIE_KEY_VAR, &text).unwrap(),
        );
        assert_eq!(a.0.master(), b.0.master());
    }

    #[test]
    fn short_or_malformed_keys_are_refused_without_echoing_them() {
        for bad in [
            "secret",
            "c2hvcnQ=",
            &STANDARD.encode([1u8; 31]),
            "not base64 at all!",
        ] {
            let err = parse_cookie_key(COOKIE_KEY_VAR, bad).unwrap_err();
            assert_eq!(err.name(), COOKIE_KEY_VAR);
            assert!(!err.to_string().contains(bad), "{err}");
            assert!(err.to_string().contains("32 random bytes"), "{err}");
        }
        assert_eq!(
            format!("{:?}", CookieKey::generate()),
            "CookieKey([REDACTED])"
        );
    }
}
