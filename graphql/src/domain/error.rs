//! Refusals: the expected "no" answers of the domain, carried as data.

use std::fmt;

/// Stable codes of refusals; the GraphQL layer exposes them as `UserErrorCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalCode {
    /// A value is malformed, empty, too long or out of range.
    BadUserInput,
    /// The object does not exist, or the caller may not know it exists.
    NotFound,
    /// A unique value is taken, or the object changed since the caller read it.
    Conflict,
    /// The lifecycle does not allow this action in the current state.
    InvalidTransition,
    /// The action is allowed in this state, but a guard is not satisfied yet.
    PreconditionFailed,
    /// Email and password do not match an active user.
    InvalidCredentials,
    /// The caller is not among those who may vote on this ballot.
    NotEligible,
    /// The caller is party to what is decided (requester, assessor) and may not decide it.
    ForbiddenSeparationOfDuties,
}

impl RefusalCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::NotFound => "NOT_FOUND",
            Self::Conflict => "CONFLICT",
            Self::InvalidTransition => "INVALID_TRANSITION",
            Self::PreconditionFailed => "PRECONDITION_FAILED",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::NotEligible => "NOT_ELIGIBLE",
            Self::ForbiddenSeparationOfDuties => "FORBIDDEN_SEPARATION_OF_DUTIES",
        }
    }
}

/// One reason a command was refused, with the input field at fault when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: RefusalCode,
    /// Path of the input field at fault, relative to the mutation's input (`["name"]`).
    pub field: Vec<String>,
    pub message: String,
    /// For version conflicts: the version the object has now.
    pub current_version: Option<i64>,
    /// For invalid transitions: the state the object is in.
    pub current_state: Option<String>,
    /// For invalid transitions: the actions the current state allows.
    pub allowed_actions: Vec<String>,
}

impl Refusal {
    pub fn new(code: RefusalCode, field: &[&str], message: impl Into<String>) -> Self {
        Self {
            code,
            field: field.iter().map(|f| (*f).to_owned()).collect(),
            message: message.into(),
            current_version: None,
            current_state: None,
            allowed_actions: Vec::new(),
        }
    }

    pub fn bad_input(field: &[&str], message: impl Into<String>) -> Self {
        Self::new(RefusalCode::BadUserInput, field, message)
    }

    pub fn not_found(field: &[&str], what: &str) -> Self {
        Self::new(RefusalCode::NotFound, field, format!("{what} not found"))
    }

    pub fn conflict(field: &[&str], message: impl Into<String>) -> Self {
        Self::new(RefusalCode::Conflict, field, message)
    }

    pub fn precondition(field: &[&str], message: impl Into<String>) -> Self {
        Self::new(RefusalCode::PreconditionFailed, field, message)
    }

    /// A stale `expectedVersion`.
    pub fn stale_version(current_version: i64) -> Self {
        Self {
            current_version: Some(current_version),
            ..Self::conflict(
                &["expectedVersion"],
                format!(
                    "the object changed since it was read; its version is now {current_version}"
                ),
            )
        }
    }

    pub fn invalid_transition(
        field: &[&str],
        current_state: &str,
        attempted: &str,
        allowed: impl IntoIterator<Item = String>,
    ) -> Self {
        Self {
            current_state: Some(current_state.to_owned()),
            allowed_actions: allowed.into_iter().collect(),
            ..Self::new(
                RefusalCode::InvalidTransition,
                field,
                format!("{attempted} is not allowed while the status is {current_state}"),
            )
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

/// Collects refusals while an input is checked, so every bad field is reported at once.
#[derive(Debug, Default)]
pub struct Refusals(Vec<Refusal>);

impl Refusals {
    /// Keeps a parsed value, or records why the field is bad.
    pub fn field<T, E: fmt::Display>(&mut self, field: &[&str], parsed: Result<T, E>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.push(Refusal::bad_input(field, error.to_string()));
                None
            }
        }
    }

    pub fn push(&mut self, refusal: Refusal) {
        self.0.push(refusal);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was refused, or every refusal.
    pub fn finish(self) -> Result<(), Vec<Refusal>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

impl From<Refusal> for Vec<Refusal> {
    fn from(refusal: Refusal) -> Self {
        vec![refusal]
    }
}
