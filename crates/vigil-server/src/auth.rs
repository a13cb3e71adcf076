//! API-key authentication: `Authorization: <key>` or `Authorization: Bearer <key>`.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use vigil_core::keys::{self, ApiKeyInfo, Permission};

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub ApiKeyInfo);

impl Caller {
    /// Fails with 403 unless the caller's key has `permission`.
    pub fn require(&self, permission: Permission) -> Result<&ApiKeyInfo, ApiError> {
        if self.0.allows(permission) {
            Ok(&self.0)
        } else {
            Err(ApiError::Forbidden(permission.as_str()))
        }
    }
}

/// Takes the secret out of an `Authorization` header value: bare, or after `Bearer ` (any case).
pub fn secret_from_header(value: &str) -> Option<&str> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let secret = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => return None,
        None => value,
    };
    (!secret.is_empty()).then_some(secret)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(ApiError::Unauthenticated(
                "missing API key: send it in the Authorization header",
            ))?;
        let secret = header
            .to_str()
            .ok()
            .and_then(secret_from_header)
            .ok_or(ApiError::Unauthenticated(
                "malformed Authorization header: send `<key>` or `Bearer <key>`",
            ))?
            .to_owned();
        let log = state.log.clone();
        let key = tokio::task::spawn_blocking(move || keys::authenticate(&log, &secret)).await??;
        key.map(Caller)
            .ok_or(ApiError::Unauthenticated("unknown API key"))
    }
}

#[cfg(test)]
mod tests {
    use super::secret_from_header;

    #[test]
    fn bare_and_bearer_keys_are_accepted() {
        assert_eq!(secret_from_header("abc"), Some("abc"));
        assert_eq!(secret_from_header("Bearer abc"), Some("abc"));
        assert_eq!(secret_from_header("bearer  abc "), Some("abc"));
        assert_eq!(secret_from_header("Basic abc"), None);
        assert_eq!(secret_from_header("Bearer "), None);
    }
}
