//! Who calls: an API key (`Authorization: <key>` or `Authorization: Bearer <key>`), or a person
//! signed in through OpenID Connect (the session cookie; a state-changing request must also echo
//! the session's CSRF token in `X-CSRF-Token`).

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use vigil_core::keys::{self, Permission, Principal};
use vigil_core::sessions;

use crate::error::ApiError;
use crate::state::AppState;

/// The cookie holding a signed-in person's session secret.
pub const SESSION_COOKIE: &str = "vigil_session";
/// The header a state-changing request of a signed-in person carries the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl Caller {
    /// Fails with 403 unless the caller has `permission`.
    pub fn require(&self, permission: Permission) -> Result<&Principal, ApiError> {
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

/// The value of the cookie `name` among the request's `Cookie` headers.
pub fn cookie_in<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// Compares two tokens in time that does not depend on where they differ.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |differ, (x, y)| differ | (x ^ y))
            == 0
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let log = state.log.clone();
        if let Some(header) = parts.headers.get(AUTHORIZATION) {
            let secret = header
                .to_str()
                .ok()
                .and_then(secret_from_header)
                .ok_or(ApiError::Unauthenticated(
                    "malformed Authorization header: send `<key>` or `Bearer <key>`",
                ))?
                .to_owned();
            let key =
                tokio::task::spawn_blocking(move || keys::authenticate(&log, &secret)).await??;
            return key
                .map(|info| Caller(Principal::key(info)))
                .ok_or(ApiError::Unauthenticated("unknown API key"));
        }
        let Some(secret) = cookie_in(&parts.headers, SESSION_COOKIE).map(str::to_owned) else {
            return Err(ApiError::Unauthenticated(
                "missing API key: send it in the Authorization header (or sign in)",
            ));
        };
        let now = chrono::Utc::now().timestamp_micros();
        let session = tokio::task::spawn_blocking(move || sessions::find(&log, &secret, now))
            .await??
            .ok_or(ApiError::Unauthenticated(
                "the session has ended: sign in again",
            ))?;
        // A cookie rides along on any request the browser makes, also one another site makes
        // it send: a change needs the token only vigil's own page can read.
        if !parts.method.is_safe() {
            let echoed = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default();
            if !same_token(echoed, &session.csrf_token) {
                return Err(ApiError::CsrfRefused);
            }
        }
        Ok(Caller(Principal::person(session)))
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
