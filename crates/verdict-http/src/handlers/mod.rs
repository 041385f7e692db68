//! Request handlers: authorize, parse, call one service method, map the outcome. Handlers never
//! sequence ports themselves.

pub mod audit;
pub mod connections;
pub mod fleet;
pub mod health;
pub mod runs;
pub mod schedules;
pub mod verifications;
pub mod webhooks;

use verdict_core::services::{
    AcknowledgeError, AuditReadError, ConnectionError, FleetStatusError, ReadRunError, StartVerificationError,
};

use crate::dto::AcknowledgementDto;
use crate::error::ApiError;

impl From<ReadRunError> for ApiError {
    fn from(e: ReadRunError) -> Self {
        match e {
            ReadRunError::NotFound => Self::NotFound,
            ReadRunError::ReportNotReady => Self::ReportNotReady,
            ReadRunError::Store(e) => e.into(),
        }
    }
}

impl From<FleetStatusError> for ApiError {
    fn from(e: FleetStatusError) -> Self {
        match e {
            FleetStatusError::NotFound => Self::NotFound,
            FleetStatusError::Store(e) => e.into(),
        }
    }
}

impl From<StartVerificationError> for ApiError {
    fn from(e: StartVerificationError) -> Self {
        match e {
            StartVerificationError::NotFound => Self::NotFound,
            StartVerificationError::Forbidden => Self::Forbidden,
            StartVerificationError::UnknownFlow => Self::invalid("flow", "is not a flow this service runs"),
            StartVerificationError::Store(e) => e.into(),
        }
    }
}

impl From<ConnectionError> for ApiError {
    fn from(e: ConnectionError) -> Self {
        match e {
            ConnectionError::NotFound => Self::NotFound,
            ConnectionError::Forbidden => Self::Forbidden,
            ConnectionError::Disabled => Self::ConnectionDisabled,
            ConnectionError::Encryption(e) => Self::Internal(e.into()),
            ConnectionError::Store(e) => e.into(),
        }
    }
}

impl From<AuditReadError> for ApiError {
    fn from(e: AuditReadError) -> Self {
        match e {
            AuditReadError::NotFound => Self::NotFound,
            AuditReadError::Forbidden => Self::Forbidden,
            AuditReadError::Store(e) => e.into(),
        }
    }
}

impl From<AcknowledgeError> for ApiError {
    fn from(e: AcknowledgeError) -> Self {
        match e {
            AcknowledgeError::NotFound => Self::NotFound,
            AcknowledgeError::Forbidden => Self::Forbidden,
            AcknowledgeError::ReportMismatch => Self::invalid("report_id", "must equal the run id of the path"),
            AcknowledgeError::RunNotCompleted => Self::RunNotCompleted,
            AcknowledgeError::CheckNotFound => {
                Self::CheckNotAcknowledgeable("the run's report has no check with this key".to_owned())
            }
            AcknowledgeError::NotAcknowledgeable { status } => Self::CheckNotAcknowledgeable(format!(
                "only failing or warning checks can be acknowledged; this check is {}",
                status.as_str()
            )),
            AcknowledgeError::ExpiresInPast => Self::invalid("expires_at", "must not be earlier than now"),
            AcknowledgeError::AlreadyAcknowledged(existing) => {
                Self::AlreadyAcknowledged(Box::new(AcknowledgementDto::from(*existing)))
            }
            AcknowledgeError::Store(e) => e.into(),
        }
    }
}
