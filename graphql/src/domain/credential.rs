//! Bearer tokens: their printed form and the digest that is stored instead of them.

use sha2::{Digest, Sha256};

/// Every token starts with this, so leaked tokens are easy to recognise and scan for.
pub const TOKEN_PREFIX: &str = "stc_";

/// How many characters of a token are kept in clear to tell tokens apart.
pub const DISPLAY_PREFIX_CHARS: usize = 10;

/// The kinds of token a user can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Long-lived, created explicitly, revocable.
    Api,
    /// Issued by signing in with a password; expires.
    Session,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "API",
            Self::Session => "SESSION",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "API" => Some(Self::Api),
            "SESSION" => Some(Self::Session),
            _ => None,
        }
    }
}

/// Hex SHA-256 of a token. Tokens carry 256 random bits, so a fast hash is enough: there is
/// nothing to brute-force, unlike a password.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Formats random bytes as a token (`stc_` + base64url).
pub fn format_token(random: &[u8; 32]) -> String {
    use base64::Engine;
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
    )
}

/// The part of a token that may be shown again later.
pub fn display_prefix(token: &str) -> String {
    token.chars().take(DISPLAY_PREFIX_CHARS).collect()
}

/// Reads the token out of an `Authorization` header value.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && token.starts_with(TOKEN_PREFIX) && token.len() < 200)
        .then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_a_recognisable_form() {
        let token = format_token(&[7u8; 32]);
        assert!(token.starts_with("stc_"));
        assert_eq!(token.len(), 4 + 43);
        assert_eq!(display_prefix(&token).len(), 10);
    }

    #[test]
    fn digest_is_stable_hex() {
        assert_eq!(token_digest("stc_x"), token_digest("stc_x"));
        assert_ne!(token_digest("stc_x"), token_digest("stc_y"));
        assert_eq!(token_digest("stc_x").len(), 64);
    }

    #[test]
    fn bearer_header_is_parsed_strictly() {
        assert_eq!(bearer_token("Bearer stc_abc"), Some("stc_abc"));
        assert_eq!(bearer_token("bearer  stc_abc "), Some("stc_abc"));
        assert_eq!(bearer_token("Basic stc_abc"), None);
        assert_eq!(bearer_token("Bearer abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
    }
}
