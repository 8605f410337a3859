//! Users: validated email addresses, names, locales and passwords.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use super::text::{TextError, single_line};

/// An email address, lower-cased so that comparisons are case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EmailError {
    #[error("must be an email address such as name@example.com")]
    Malformed,
    #[error("must be at most 254 characters")]
    TooLong,
}

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let value = raw.trim().to_lowercase();
        if value.len() > 254 {
            return Err(EmailError::TooLong);
        }
        let parsed =
            email_address::EmailAddress::from_str(&value).map_err(|_| EmailError::Malformed)?;
        // Display names ("Ann <ann@x.org>") and bare hosts without a dot are not delivery
        // addresses for a project tool.
        if parsed.email() != value || !parsed.domain().contains('.') {
            return Err(EmailError::Malformed);
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's display name: one line, 1 to 200 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, TextError> {
        single_line(raw, Self::MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The languages Steerco writes to people in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Locale {
    #[default]
    En,
    ZhCn,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("must be one of: en, zh-CN")]
pub struct UnknownLocale;

impl Locale {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::ZhCn => "zh-CN",
        }
    }
}

impl FromStr for Locale {
    type Err = UnknownLocale;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "en" => Ok(Self::En),
            "zh-CN" => Ok(Self::ZhCn),
            _ => Err(UnknownLocale),
        }
    }
}

/// A password as typed; only its Argon2 hash is ever stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PasswordError {
    #[error("must be at least {min} characters")]
    TooShort { min: usize },
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
}

impl Password {
    pub const MIN_CHARS: usize = 12;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, PasswordError> {
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(PasswordError::TooShort {
                min: Self::MIN_CHARS,
            });
        }
        if chars > Self::MAX_CHARS {
            return Err(PasswordError::TooLong {
                max: Self::MAX_CHARS,
            });
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            EmailAddress::parse(" Ann.Lee@Example.COM ")
                .unwrap()
                .as_str(),
            "ann.lee@example.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@localhost",
            "Ann <ann@example.com>",
            "a b@example.com",
        ] {
            assert_eq!(
                EmailAddress::parse(bad),
                Err(EmailError::Malformed),
                "{bad:?}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(EmailAddress::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn locales_round_trip() {
        for locale in [Locale::En, Locale::ZhCn] {
            assert_eq!(locale.as_str().parse::<Locale>(), Ok(locale));
        }
        assert_eq!("fr".parse::<Locale>(), Err(UnknownLocale));
        assert_eq!("zh-cn".parse::<Locale>(), Err(UnknownLocale));
    }

    #[test]
    fn passwords_have_bounds_and_never_print() {
        assert_eq!(
            Password::parse("short"),
            Err(PasswordError::TooShort { min: 12 })
        );
        assert!(Password::parse("correct horse battery").is_ok());
        assert_eq!(
            Password::parse(&"x".repeat(129)),
            Err(PasswordError::TooLong { max: 128 })
        );
        let password = Password::parse("correct horse battery").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[test]
    fn names_are_single_lines() {
        assert_eq!(PersonName::parse(" Li Wei ").unwrap().as_str(), "Li Wei");
        assert!(PersonName::parse("").is_err());
        assert!(PersonName::parse(&"n".repeat(201)).is_err());
    }
}
