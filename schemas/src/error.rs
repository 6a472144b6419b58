//! Why a message does not satisfy the contract.

use crate::EventType;

/// A contract violation. The `Display` text is meant for people (it names the field path and
/// the reason); [`ContractError::kind`] is a stable, low-cardinality label for metrics and
/// dead-letter headers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    /// The bytes are not a JSON object.
    #[error("malformed json: {reason}")]
    Malformed { reason: String },
    /// A field is missing, has the wrong type, or an unacceptable value.
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
    /// The producer speaks a newer contract than this build.
    #[error("schema_version: unsupported schema_version {version} (this build supports 1 to {supported})")]
    UnsupportedVersion { version: u64, supported: u32 },
    /// The message is valid but of another type than the topic carries.
    #[error("event_type: expected `{expected}` on this topic, found `{found}`")]
    WrongEventType { expected: EventType, found: EventType },
}

impl ContractError {
    pub(crate) fn invalid(path: impl Into<String>, reason: impl Into<String>) -> Self {
        ContractError::Invalid { path: path.into(), reason: reason.into() }
    }

    /// A stable label: `malformed`, `invalid`, `unsupported_version` or `wrong_event_type`.
    pub fn kind(&self) -> &'static str {
        match self {
            ContractError::Malformed { .. } => "malformed",
            ContractError::Invalid { .. } => "invalid",
            ContractError::UnsupportedVersion { .. } => "unsupported_version",
            ContractError::WrongEventType { .. } => "wrong_event_type",
        }
    }
}
