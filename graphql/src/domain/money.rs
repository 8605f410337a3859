//! Money: an exact decimal amount with an ISO 4217 currency code. Never a float.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    amount: Decimal,
    currency: CurrencyCode,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MoneyError {
    #[error("must not be negative")]
    Negative,
    #[error("must have at most {max} decimal places")]
    TooPrecise { max: u32 },
    #[error("must be below one quadrillion")]
    TooLarge,
    #[error("is not a decimal number")]
    NotANumber,
}

impl Money {
    pub const MAX_SCALE: u32 = 4;

    /// A non-negative amount with at most four decimal places.
    pub fn new(amount: Decimal, currency: CurrencyCode) -> Result<Self, MoneyError> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(MoneyError::Negative);
        }
        if amount.normalize().scale() > Self::MAX_SCALE {
            return Err(MoneyError::TooPrecise {
                max: Self::MAX_SCALE,
            });
        }
        if amount >= Decimal::from(1_000_000_000_000_000_i64) {
            return Err(MoneyError::TooLarge);
        }
        Ok(Self { amount, currency })
    }

    /// Reads the stored pair back.
    pub fn from_stored(amount: &str, currency: &str) -> Result<Self, MoneyError> {
        let amount = Decimal::from_str(amount).map_err(|_| MoneyError::NotANumber)?;
        let currency = CurrencyCode::parse(currency).map_err(|_| MoneyError::NotANumber)?;
        Self::new(amount, currency)
    }

    pub fn amount(&self) -> Decimal {
        self.amount
    }

    pub fn currency(&self) -> &CurrencyCode {
        &self.currency
    }

    /// The exact decimal text that is stored.
    pub fn amount_text(&self) -> String {
        self.amount.to_string()
    }
}

/// A three-letter upper-case currency code such as `EUR` or `CNY`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CurrencyCode(String);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("must be a three-letter ISO 4217 code such as EUR or CNY")]
pub struct CurrencyError;

impl CurrencyCode {
    pub fn parse(raw: &str) -> Result<Self, CurrencyError> {
        let code = raw.trim();
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(code.to_owned()))
        } else {
            Err(CurrencyError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> CurrencyCode {
        CurrencyCode::parse("EUR").unwrap()
    }

    #[test]
    fn money_is_exact_and_bounded() {
        let money = Money::new(Decimal::from_str("1250000.50").unwrap(), eur()).unwrap();
        assert_eq!(money.amount_text(), "1250000.50");
        assert_eq!(Money::from_stored("1250000.50", "EUR"), Ok(money));
        assert_eq!(
            Money::new(Decimal::from_str("-1").unwrap(), eur()),
            Err(MoneyError::Negative)
        );
        assert_eq!(
            Money::new(Decimal::from_str("0.00001").unwrap(), eur()),
            Err(MoneyError::TooPrecise { max: 4 })
        );
        assert!(Money::new(Decimal::from_str("0.1000000").unwrap(), eur()).is_ok());
        assert_eq!(
            Money::new(Decimal::from_str("1000000000000000").unwrap(), eur()),
            Err(MoneyError::TooLarge)
        );
    }

    #[test]
    fn currency_codes_are_three_upper_case_letters() {
        assert!(CurrencyCode::parse("CNY").is_ok());
        for bad in ["eur", "EURO", "E1R", ""] {
            assert_eq!(CurrencyCode::parse(bad), Err(CurrencyError), "{bad:?}");
        }
    }
}
