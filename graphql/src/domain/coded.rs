//! Fieldless enums stored and exchanged as stable SCREAMING_SNAKE codes: the `coded_enum!`
//! macro that defines them and the error for a code that names none of their values.

use thiserror::Error;

/// A code that names none of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{code:?} is not a known {kind}; expected one of {}", .expected.join(", "))]
pub struct UnknownCode {
    /// What was being read, in words ("plan status").
    pub kind: &'static str,
    pub code: String,
    pub expected: &'static [&'static str],
}

/// Defines a fieldless enum with its stable codes: `ALL`, `as_str`, `Display` and `FromStr`.
/// One definition keeps the codes and their parsing from drifting apart.
macro_rules! coded_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $kind:literal {
            $( $(#[$variant_meta:meta])* $variant:ident => $code:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant ),+
        }

        impl $name {
            pub const ALL: [Self; [$($code),+].len()] = [$(Self::$variant),+];
            const CODES: &'static [&'static str] = &[$($code),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::domain::coded::UnknownCode;

            fn from_str(code: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|value| value.as_str() == code)
                    .ok_or_else(|| $crate::domain::coded::UnknownCode {
                        kind: $kind,
                        code: code.to_owned(),
                        expected: Self::CODES,
                    })
            }
        }
    };
}

pub(crate) use coded_enum;
