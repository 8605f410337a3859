//! Bounded, trimmed text values shared by several aggregates.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TextError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("must not contain control characters")]
    ControlCharacter,
}

/// Trims `raw` and checks it is a single line of 1..=`max` characters.
pub fn single_line(raw: &str, max: usize) -> Result<String, TextError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(TextError::Empty);
    }
    if value.chars().count() > max {
        return Err(TextError::TooLong { max });
    }
    if value.chars().any(char::is_control) {
        return Err(TextError::ControlCharacter);
    }
    Ok(value.to_owned())
}

/// Trims `raw` and checks it has at most `max` characters; may be empty, may span lines.
pub fn multi_line(raw: &str, max: usize) -> Result<String, TextError> {
    let value = raw.trim();
    if value.chars().count() > max {
        return Err(TextError::TooLong { max });
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(TextError::ControlCharacter);
    }
    Ok(value.to_owned())
}

/// Like [`multi_line`], but must not be empty: reasons, comments.
pub fn required_multi_line(raw: &str, max: usize) -> Result<String, TextError> {
    let value = multi_line(raw, max)?;
    if value.is_empty() {
        return Err(TextError::Empty);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_trims_and_bounds() {
        assert_eq!(single_line("  CRM  ", 10).as_deref(), Ok("CRM"));
        assert_eq!(single_line("   ", 10), Err(TextError::Empty));
        assert_eq!(single_line("abcdef", 5), Err(TextError::TooLong { max: 5 }));
        assert_eq!(single_line("a\nb", 5), Err(TextError::ControlCharacter));
        // Counted in characters, not bytes.
        assert!(single_line("客户关系管理", 6).is_ok());
    }

    #[test]
    fn multi_line_allows_empty_and_newlines() {
        assert_eq!(multi_line("", 5).as_deref(), Ok(""));
        assert!(multi_line("a\nb", 5).is_ok());
        assert_eq!(multi_line("a\u{0}b", 5), Err(TextError::ControlCharacter));
        assert_eq!(required_multi_line("  ", 5), Err(TextError::Empty));
    }
}
