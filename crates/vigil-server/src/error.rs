//! The one place where errors become HTTP statuses, JSON bodies and GraphQL codes: core errors
//! say their kind (`vigil_core::ErrorKind`), and the two tables here answer it. Internal details
//! are logged, never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use vigil_core::{Classify, ErrorKind};
use vigil_model::ModelError;

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or unknown API key.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// The caller lacks a permission.
    #[error("this API key (or signed-in person) lacks the {0} permission")]
    Forbidden(&'static str),
    /// A signed-in person's state-changing request without the session's CSRF token.
    #[error(
        "missing or wrong X-CSRF-Token header: a change made with the session cookie must echo the session's csrfToken (GET /api/audit/session)"
    )]
    CsrfRefused,
    /// The request body or a parameter is invalid.
    #[error("{0}")]
    BadRequest(ModelError),
    /// The request is invalid for another reason.
    #[error("{0}")]
    Invalid(String),
    /// The body is too large.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Nothing here.
    #[error("{0}")]
    NotFound(String),
    /// The request body stopped arriving.
    #[error("{0}")]
    RequestTimeout(String),
    /// An error of vigil-core, answered by the kind it says it is.
    #[error("{0}")]
    Core(Box<dyn Classify>),
    /// A failure of the server itself; details are logged only.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// The HTTP status of each kind of error: the one table.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Upstream => StatusCode::BAD_GATEWAY,
        ErrorKind::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
        ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The GraphQL `extensions.code` of each kind of error: the one table.
pub fn graphql_code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Invalid => "BAD_USER_INPUT",
        ErrorKind::NotFound => "NOT_FOUND",
        ErrorKind::Conflict => "CONFLICT",
        ErrorKind::RateLimited => "RATE_LIMITED",
        ErrorKind::Unavailable => "UNAVAILABLE",
        ErrorKind::Upstream => "UPSTREAM_ERROR",
        ErrorKind::StorageFull => "STORAGE_FULL",
        ErrorKind::Timeout => "TIMEOUT",
        ErrorKind::Internal => "INTERNAL",
    }
}

/// A core error as a GraphQL field error: its message (an internal one's is logged instead) and
/// the code of its kind.
pub fn to_graphql(error: impl Classify) -> async_graphql::Error {
    let kind = error.kind();
    let message = if kind == ErrorKind::Internal {
        tracing::error!(error = %error, "GraphQL request failed");
        "internal error".to_owned()
    } else {
        error.to_string()
    };
    async_graphql::ErrorExtensions::extend_with(
        async_graphql::Error::new(message),
        |_, extensions| extensions.set("code", graphql_code(kind)),
    )
}

impl ApiError {
    /// The kind of failure, for the errors that are not about the request's transport
    /// (authentication, size, time to arrive).
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            ApiError::Unauthenticated(_)
            | ApiError::Forbidden(_)
            | ApiError::CsrfRefused
            | ApiError::PayloadTooLarge { .. }
            | ApiError::RequestTimeout(_) => None,
            ApiError::BadRequest(_) | ApiError::Invalid(_) => Some(ErrorKind::Invalid),
            ApiError::NotFound(_) => Some(ErrorKind::NotFound),
            ApiError::Core(error) => Some(error.kind()),
            ApiError::Internal(_) => Some(ErrorKind::Internal),
        }
    }

    /// The HTTP status and the code for machines.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::CsrfRefused => (StatusCode::FORBIDDEN, "csrf_token_refused"),
            ApiError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            ApiError::RequestTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            ApiError::BadRequest(ModelError::Syntax { .. }) => {
                (StatusCode::BAD_REQUEST, "malformed_json")
            }
            ApiError::BadRequest(ModelError::Invalid { .. }) => {
                (StatusCode::BAD_REQUEST, "invalid_value")
            }
            ApiError::Core(error) => (status_of(error.kind()), error.code()),
            other => {
                let kind = other.kind().unwrap_or(ErrorKind::Internal);
                (status_of(kind), kind.code())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let internal = self.kind() == Some(ErrorKind::Internal);
        let message = if internal {
            tracing::error!(error = format!("{self:#}"), cause = ?self, "request failed");
            "internal error".to_owned()
        } else {
            self.to_string()
        };
        let mut body = json!({ "error": message, "code": code });
        match &self {
            ApiError::BadRequest(ModelError::Syntax { line, column, .. }) => {
                body["line"] = json!(line);
                body["column"] = json!(column);
            }
            ApiError::BadRequest(ModelError::Invalid { path, .. }) => body["path"] = json!(path),
            ApiError::Core(error) if !internal => {
                if let Some((field, details)) = error.details() {
                    body[field] = details;
                }
            }
            _ => {}
        }
        (status, Json(body)).into_response()
    }
}

/// Core errors become [`ApiError::Core`], answered by their kind.
macro_rules! core_errors {
    ($($error:ty),* $(,)?) => {
        $(impl From<$error> for ApiError {
            fn from(error: $error) -> Self {
                ApiError::Core(Box::new(error))
            }
        })*
    };
}

core_errors!(
    vigil_core::LogError,
    vigil_core::view::Unavailable,
    vigil_core::search::SearchError,
    vigil_core::saved_searches::SavedSearchError,
    vigil_core::governance::ReportError,
    vigil_core::governance::ProjectionError,
    vigil_core::query_audit::pull::PullError,
    vigil_core::keys::KeyError,
    vigil_core::export::ExportError,
    vigil_core::forward::ForwardError,
    vigil_core::alerts::AlertError,
);

impl From<ModelError> for ApiError {
    fn from(error: ModelError) -> Self {
        ApiError::BadRequest(error)
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(error: tokio::task::JoinError) -> Self {
        ApiError::Internal(error.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_core::governance::{Entity, ReportError};

    async fn answer(error: impl Into<ApiError>) -> (StatusCode, serde_json::Value) {
        let response = error.into().into_response();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("the body is read");
        (
            status,
            serde_json::from_slice(&body).expect("the body is JSON"),
        )
    }

    /// Core errors are answered by their kind from the one table, with the finer code and the
    /// details the error gives, and an internal one's text stays in the log.
    #[tokio::test]
    async fn core_errors_answer_by_their_kind() {
        let (status, body) = answer(ReportError::NotFound {
            entity: "user",
            name: "Tayl".into(),
            suggestions: vec![Entity {
                id: "taylor".into(),
                name: "Taylor Smith".into(),
                key: Some(1),
            }],
        })
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["code"], "unknown_entity");
        assert_eq!(body["suggestions"][0]["name"], "Taylor Smith", "{body}");
        assert!(body["error"].as_str().unwrap().contains("Tayl"), "{body}");

        let (status, body) = answer(vigil_core::LogError::Unavailable("refused".into())).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["code"], "unavailable");
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("nothing was stored"),
            "{body}"
        );

        let (status, body) = answer(vigil_core::view::Unavailable::Rebuilding {
            view: "search index",
            reached: 25,
            target: 100,
        })
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["code"], "rebuilding");
        assert_eq!(body["progress"]["percent"], 25, "{body}");

        let (status, body) = answer(vigil_core::query_audit::pull::PullError::Source(
            "Snowflake answered 500".into(),
        ))
        .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert_eq!(body["code"], "upstream_error");

        let (status, body) = answer(vigil_core::LogError::Backend(
            "relation \"secret_table\" does not exist".into(),
        ))
        .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["code"], "internal");
        assert_eq!(body["error"], "internal error", "{body}");

        let (status, body) = answer(ReportError::TimedOut(std::time::Duration::from_secs(9))).await;
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(body["code"], "report_timeout");
    }

    /// Over GraphQL the same kinds give the codes of the other table.
    #[test]
    fn core_errors_have_one_graphql_code_per_kind() {
        use vigil_core::export::ExportError;
        let code = |error: ExportError| {
            to_graphql(error)
                .extensions
                .and_then(|extensions| extensions.get("code").cloned())
                .map(|code| code.to_string())
        };
        assert_eq!(
            code(ExportError::Invalid("name: empty".into())).as_deref(),
            Some("\"BAD_USER_INPUT\"")
        );
        assert_eq!(
            code(ExportError::RateLimited("again in 5 s".into())).as_deref(),
            Some("\"RATE_LIMITED\"")
        );
        assert_eq!(
            code(ExportError::Destination("403 from S3".into())).as_deref(),
            Some("\"UPSTREAM_ERROR\"")
        );
        let internal = to_graphql(ExportError::Io(std::io::Error::other("disk detail")));
        assert_eq!(internal.message, "internal error");
    }
}
