//! Single sign-on for people: OpenID Connect's authorization code flow with PKCE, through the
//! `openidconnect` crate (discovery, the code exchange, the ID token's signature, issuer,
//! audience, expiry and nonce). Roles come from a claim (`groups` by default, a dotted path for a
//! nested one) mapped onto permissions by configuration; a person whose claim names no mapped
//! group is refused. The signed-in session is an HttpOnly, Secure, SameSite=Lax cookie; the
//! routes are `GET /auth/login`, `GET /auth/callback` and `POST /auth/logout`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
    UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use vigil_core::keys::Permission;
use vigil_core::sessions::{self, Origin, Person};

use crate::auth::{Caller, SESSION_COOKIE};
use crate::error::ApiError;
use crate::state::AppState;

/// The cookie that carries a sign-in's state, nonce and PKCE verifier to the callback.
const LOGIN_COOKIE: &str = "vigil_login";
/// How long a sign-in may take at the provider.
const LOGIN_SECONDS: u64 = 600;

/// Single sign-on settings of `vigil serve`. All or none of issuer, client id and redirect URL.
#[derive(Debug, Clone, clap::Args)]
pub struct OidcArgs {
    /// Sign people in through this OpenID provider (its issuer URL; discovery finds the rest).
    #[arg(long, env = "VIGIL_OIDC_ISSUER", value_name = "URL")]
    pub oidc_issuer: Option<String>,
    /// The client id vigil has at the provider.
    #[arg(long, env = "VIGIL_OIDC_CLIENT_ID", value_name = "ID")]
    pub oidc_client_id: Option<String>,
    /// The client secret. A secret: give it as VIGIL_OIDC_CLIENT_SECRET (or …_FILE). Without
    /// one, vigil is a public client (PKCE only).
    #[arg(
        long,
        env = "VIGIL_OIDC_CLIENT_SECRET",
        hide = true,
        hide_env_values = true
    )]
    pub oidc_client_secret: Option<String>,
    /// Where the provider sends people back: this service's `/auth/callback`, as the browser
    /// reaches it (https, except on loopback).
    #[arg(long, env = "VIGIL_OIDC_REDIRECT_URL", value_name = "URL")]
    pub oidc_redirect_url: Option<String>,
    /// The scopes asked for besides `openid`, space-separated.
    #[arg(
        long,
        env = "VIGIL_OIDC_SCOPES",
        default_value = "email profile",
        value_name = "SCOPES"
    )]
    pub oidc_scopes: String,
    /// The claim holding a person's groups (a dotted path reaches into objects, e.g.
    /// `realm_access.roles`).
    #[arg(
        long,
        env = "VIGIL_OIDC_ROLES_CLAIM",
        default_value = "groups",
        value_name = "CLAIM"
    )]
    pub oidc_roles_claim: String,
    /// A group and the permissions it gives, `GROUP=PERMISSION[+PERMISSION…]` (e.g.
    /// `auditors=AUDIT`); repeatable, `;`-separated in VIGIL_OIDC_ROLES.
    #[arg(
        long = "oidc-role",
        env = "VIGIL_OIDC_ROLES",
        value_delimiter = ';',
        value_name = "GROUP=PERMISSIONS"
    )]
    pub oidc_roles: Vec<String>,
    /// How long a sign-in lasts.
    #[arg(
        long,
        env = "VIGIL_OIDC_SESSION_HOURS",
        default_value_t = 8,
        value_name = "HOURS"
    )]
    pub oidc_session_hours: u64,
}

/// Validated single sign-on settings.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    redirect: RedirectUrl,
    scopes: Vec<String>,
    roles_claim: String,
    roles: Vec<(String, Vec<Permission>)>,
    session: Duration,
}

/// Parses `GROUP=PERMISSION[+PERMISSION…]`, splitting at the last `=` (a group may hold one, as
/// an LDAP name does).
fn parse_role(text: &str) -> Result<(String, Vec<Permission>), String> {
    let (group, permissions) = text.trim().rsplit_once('=').ok_or_else(|| {
        format!("the role `{text}` must be GROUP=PERMISSION[+PERMISSION…], e.g. auditors=AUDIT")
    })?;
    let permissions = permissions
        .split('+')
        .map(|name| {
            Permission::parse(name.trim()).ok_or_else(|| {
                format!(
                    "the role `{text}`: `{name}` is not a permission (AUDIT, INGEST, ADMIN, EXPORT_ADMIN)"
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if group.trim().is_empty() {
        return Err(format!("the role `{text}` names no group"));
    }
    Ok((group.trim().to_owned(), permissions))
}

impl OidcArgs {
    /// The settings, `None` when single sign-on is off; an error says which setting is wrong.
    pub fn settings(self) -> Result<Option<OidcSettings>, String> {
        let (issuer, client_id, redirect) = match (
            self.oidc_issuer,
            self.oidc_client_id,
            self.oidc_redirect_url,
        ) {
            (None, None, None) => return Ok(None),
            (Some(issuer), Some(client), Some(redirect)) => (issuer, client, redirect),
            _ => {
                return Err(
                    "single sign-on needs all of --oidc-issuer, --oidc-client-id and \
                     --oidc-redirect-url (VIGIL_OIDC_ISSUER, VIGIL_OIDC_CLIENT_ID, \
                     VIGIL_OIDC_REDIRECT_URL)"
                        .into(),
                );
            }
        };
        let issuer = IssuerUrl::new(issuer.trim_end_matches('/').to_owned())
            .map_err(|error| format!("--oidc-issuer: {error}"))?;
        let redirect_url = reqwest::Url::parse(&redirect)
            .map_err(|error| format!("--oidc-redirect-url `{redirect}`: {error}"))?;
        let loopback = match redirect_url.host_str() {
            Some("localhost") => true,
            Some(host) => host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback()),
            None => false,
        };
        if redirect_url.scheme() != "https" && !loopback {
            return Err(format!(
                "--oidc-redirect-url `{redirect}` must be https: the session cookie is Secure, \
                 and a browser keeps a Secure cookie over plain HTTP only on loopback"
            ));
        }
        if !redirect_url.path().ends_with("/auth/callback") {
            return Err(format!(
                "--oidc-redirect-url `{redirect}` must be this service's /auth/callback"
            ));
        }
        let roles = self
            .oidc_roles
            .iter()
            .filter(|text| !text.trim().is_empty())
            .map(|text| parse_role(text))
            .collect::<Result<Vec<_>, _>>()?;
        if roles.is_empty() {
            return Err(
                "single sign-on needs at least one --oidc-role GROUP=PERMISSIONS \
                 (VIGIL_OIDC_ROLES): without one, nobody could sign in"
                    .into(),
            );
        }
        if self.oidc_session_hours == 0 {
            return Err("--oidc-session-hours must be at least 1".into());
        }
        Ok(Some(OidcSettings {
            issuer,
            client_id: ClientId::new(client_id),
            client_secret: self
                .oidc_client_secret
                .filter(|s| !s.is_empty())
                .map(ClientSecret::new),
            redirect: RedirectUrl::from_url(redirect_url),
            scopes: self
                .oidc_scopes
                .split_whitespace()
                .filter(|scope| *scope != "openid")
                .map(str::to_owned)
                .collect(),
            roles_claim: self.oidc_roles_claim,
            roles,
            session: Duration::from_secs(self.oidc_session_hours * 3600),
        }))
    }
}

/// Single sign-on: the settings and the HTTP client that talks to the provider.
pub struct Oidc {
    settings: OidcSettings,
    http: reqwest::Client,
    /// Refused sign-ins recorded in the current minute: anyone may start a sign-in and fail it,
    /// so their records are capped; the rest are logged only.
    refusals: std::sync::Mutex<(std::time::Instant, u32)>,
}

/// Refused sign-ins recorded per minute at most (per node).
const REFUSALS_RECORDED_PER_MINUTE: u32 = 120;

/// The claims besides the standard ones, as the provider sent them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct OtherClaims {
    #[serde(flatten)]
    claims: Map<String, Value>,
}

impl AdditionalClaims for OtherClaims {}

/// Why a sign-in failed: shown to the person, and recorded when the provider was involved.
struct Refusal {
    status: StatusCode,
    message: String,
    /// Recorded as a refused sign-in (with the person, when the provider vouched for them).
    record: Option<Option<Person>>,
}

impl Refusal {
    fn bad(message: impl Into<String>) -> Refusal {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            record: None,
        }
    }

    fn recorded(status: StatusCode, message: impl Into<String>, person: Option<Person>) -> Refusal {
        Refusal {
            status,
            message: message.into(),
            record: Some(person),
        }
    }
}

impl Oidc {
    /// Single sign-on with these settings. The provider is asked nothing until someone signs in
    /// (discovery runs for each sign-in, so rotated signing keys are always current).
    pub fn new(settings: OidcSettings) -> anyhow::Result<Oidc> {
        // No redirects: the flow's requests must reach the endpoints discovery named.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Oidc {
            settings,
            http,
            refusals: std::sync::Mutex::new((std::time::Instant::now(), 0)),
        })
    }

    async fn client(
        &self,
    ) -> Result<
        openidconnect::Client<
            openidconnect::EmptyAdditionalClaims,
            openidconnect::core::CoreAuthDisplay,
            openidconnect::core::CoreGenderClaim,
            openidconnect::core::CoreJweContentEncryptionAlgorithm,
            openidconnect::core::CoreJsonWebKey,
            openidconnect::core::CoreAuthPrompt,
            openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
            openidconnect::core::CoreTokenResponse,
            openidconnect::core::CoreTokenIntrospectionResponse,
            openidconnect::core::CoreRevocableToken,
            openidconnect::core::CoreRevocationErrorResponse,
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        String,
    > {
        let metadata =
            CoreProviderMetadata::discover_async(self.settings.issuer.clone(), &self.http)
                .await
                .map_err(|error| {
                    format!(
                        "the identity provider {} could not be reached for discovery: {}",
                        self.settings.issuer.as_str(),
                        chain(&error)
                    )
                })?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            self.settings.client_id.clone(),
            self.settings.client_secret.clone(),
        )
        .set_redirect_uri(self.settings.redirect.clone()))
    }

    /// Whether one more refused sign-in may be recorded this minute.
    fn may_record_refusal(&self) -> bool {
        let mut window = self
            .refusals
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if window.0.elapsed() >= Duration::from_secs(60) {
            *window = (std::time::Instant::now(), 0);
        }
        window.1 += 1;
        window.1 <= REFUSALS_RECORDED_PER_MINUTE
    }

    /// The permissions the groups in `claim` give.
    fn permissions(&self, claim: Option<&Value>) -> Vec<Permission> {
        let groups: Vec<&str> = match claim {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(text)) => vec![text.as_str()],
            _ => Vec::new(),
        };
        let mut permissions: Vec<Permission> = self
            .settings
            .roles
            .iter()
            .filter(|(group, _)| groups.contains(&group.as_str()))
            .flat_map(|(_, permissions)| permissions.iter().copied())
            .collect();
        permissions.sort();
        permissions.dedup();
        permissions
    }
}

/// An error with its sources, one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The value at a dotted path in a claims object.
fn claim_at<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(path) {
        return Some(value);
    }
    let mut parts = path.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// The claims of a compact JWT whose signature the caller has verified already.
fn verified_payload(jwt: &str) -> Map<String, Value> {
    use base64::Engine;
    jwt.split('.')
        .nth(1)
        .and_then(|part| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part.trim_end_matches('='))
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// A local path to return to after signing in: never another origin.
fn local_path(path: Option<&str>) -> String {
    match path {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn query_map(request: &Request) -> std::collections::HashMap<String, String> {
    form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn cookie_header(name: &str, value: &str, path: &str, max_age: u64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; Secure; SameSite=Lax"
    ))
    .expect("cookie values are URL-safe")
}

fn origin_of(request: &Request) -> Origin {
    Origin {
        ip: request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip().to_string()),
    }
}

/// A small page for a sign-in that failed, with the way back.
fn refusal_page(status: StatusCode, message: &str) -> Response {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign-in refused · vigil</title>\
         <link rel=\"stylesheet\" href=\"/ui/app.css\"></head><body><main><h1>Sign-in refused</h1>\
         <p id=\"sign-in-refused\" role=\"alert\">{escaped}</p><p><a href=\"/\">Back to vigil</a></p></main></body></html>"
    );
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(SET_COOKIE, cookie_header(LOGIN_COOKIE, "", "/auth", 0));
    response
}

fn redirect(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(
        LOCATION,
        HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/")),
    );
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The page for single sign-on routes when it is not configured.
fn not_configured() -> Response {
    refusal_page(
        StatusCode::NOT_FOUND,
        "Single sign-on is not configured on this vigil (VIGIL_OIDC_ISSUER); sign in with an API key.",
    )
}

/// `GET /auth/login[?returnTo=/path]`: sends the browser to the provider, with a new state,
/// nonce and PKCE challenge; the state, nonce and verifier wait in a short-lived cookie.
#[utoipa::path(
    get,
    path = "/auth/login",
    operation_id = "signIn",
    tag = "sign-in",
    summary = "Single sign-on: go to the identity provider",
    security(()),
    params(("returnTo" = Option<String>, Query, description = "A local path to come back to")),
    responses((status = 303, description = "To the provider's authorization endpoint"), (status = "default", description = "A page saying why sign-in cannot start", content_type = "text/html", body = String))
)]
pub async fn login(State(state): State<AppState>, request: Request) -> Response {
    let Some(oidc) = state.oidc.clone() else {
        return not_configured();
    };
    let client = match oidc.client().await {
        Ok(client) => client,
        Err(message) => {
            tracing::warn!(%message, "single sign-on could not start");
            return refusal_page(StatusCode::BAD_GATEWAY, &message);
        }
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut authorize = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in &oidc.settings.scopes {
        authorize = authorize.add_scope(Scope::new(scope.clone()));
    }
    let (url, csrf, nonce) = authorize.url();
    let back = local_path(query_map(&request).get("returnTo").map(String::as_str));
    let value = form_urlencoded::Serializer::new(String::new())
        .append_pair("state", csrf.secret())
        .append_pair("nonce", nonce.secret())
        .append_pair("verifier", verifier.secret())
        .append_pair("to", &back)
        .finish();
    let mut response = redirect(url.as_str());
    response.headers_mut().insert(
        SET_COOKIE,
        cookie_header(LOGIN_COOKIE, &value, "/auth", LOGIN_SECONDS),
    );
    response
}

/// `GET /auth/callback`: the provider's answer. Checks the state against the cookie, exchanges
/// the code (with the PKCE verifier), verifies the ID token, maps the roles claim onto
/// permissions, and either starts a session or refuses; both are recorded.
#[utoipa::path(
    get,
    path = "/auth/callback",
    operation_id = "signInCallback",
    tag = "sign-in",
    summary = "Single sign-on: the provider's answer",
    security(()),
    params(("code" = Option<String>, Query, description = "The authorization code"), ("state" = Option<String>, Query, description = "The state the sign-in started with"), ("error" = Option<String>, Query, description = "The provider's refusal")),
    responses((status = 303, description = "Signed in: the session cookie is set; back to the page that started it"), (status = "default", description = "A page saying why the sign-in was refused", content_type = "text/html", body = String))
)]
pub async fn callback(State(state): State<AppState>, request: Request) -> Response {
    let Some(oidc) = state.oidc.clone() else {
        return not_configured();
    };
    let origin = origin_of(&request);
    let query = query_map(&request);
    let headers = request.into_parts().0.headers;
    match finish_sign_in(&state, &oidc, &query, &headers, &origin).await {
        Ok((secret, back)) => {
            let mut response = redirect(&back);
            let headers = response.headers_mut();
            headers.append(
                SET_COOKIE,
                cookie_header(
                    SESSION_COOKIE,
                    &secret,
                    "/",
                    oidc.settings.session.as_secs(),
                ),
            );
            headers.append(SET_COOKIE, cookie_header(LOGIN_COOKIE, "", "/auth", 0));
            response
        }
        Err(refusal) => {
            if let Some(person) = refusal.record
                && oidc.may_record_refusal()
            {
                let log = state.log.clone();
                let reason = refusal.message.clone();
                let recorded = tokio::task::spawn_blocking(move || {
                    sessions::refuse_sign_in(&log, person.as_ref(), &reason, &origin)
                })
                .await;
                if !matches!(recorded, Ok(Ok(()))) {
                    tracing::error!("could not record a refused sign-in");
                }
            }
            tracing::warn!(message = %refusal.message, "a sign-in was refused");
            refusal_page(refusal.status, &refusal.message)
        }
    }
}

async fn finish_sign_in(
    state: &AppState,
    oidc: &Oidc,
    query: &std::collections::HashMap<String, String>,
    headers: &HeaderMap,
    origin: &Origin,
) -> Result<(String, String), Refusal> {
    let login: std::collections::HashMap<String, String> = crate::auth::cookie_in(
        headers,
        LOGIN_COOKIE,
    )
    .map(|value| {
        form_urlencoded::parse(value.as_bytes())
            .into_owned()
            .collect()
    })
    .ok_or_else(|| {
        Refusal::bad(
            "This sign-in was not started here, or took longer than 10 minutes. Start again.",
        )
    })?;
    let expected = login.get("state").map(String::as_str).unwrap_or_default();
    let returned = query.get("state").map(String::as_str).unwrap_or_default();
    if expected.is_empty() || expected != returned {
        return Err(Refusal::bad(
            "The sign-in's state does not match the one this browser started. Start again.",
        ));
    }
    if let Some(error) = query.get("error") {
        let detail = query
            .get("error_description")
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        return Err(Refusal::recorded(
            StatusCode::FORBIDDEN,
            format!("The identity provider refused the sign-in ({error}{detail})."),
            None,
        ));
    }
    let code = query
        .get("code")
        .ok_or_else(|| Refusal::bad("The identity provider sent no authorization code."))?;
    let upstream = |message: String| Refusal::recorded(StatusCode::BAD_GATEWAY, message, None);
    let client = oidc.client().await.map_err(upstream)?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .map_err(|error| upstream(format!("the provider names no token endpoint: {error}")))?
        .set_pkce_verifier(PkceCodeVerifier::new(
            login.get("verifier").cloned().unwrap_or_default(),
        ))
        .request_async(&oidc.http)
        .await
        .map_err(|error| {
            upstream(format!(
                "The identity provider did not exchange the code: {}",
                chain(&error)
            ))
        })?;
    let id_token = tokens.id_token().ok_or_else(|| {
        Refusal::recorded(
            StatusCode::BAD_GATEWAY,
            "The identity provider sent no ID token.",
            None,
        )
    })?;
    let nonce = Nonce::new(login.get("nonce").cloned().unwrap_or_default());
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .map_err(|error| {
            Refusal::recorded(
                StatusCode::FORBIDDEN,
                format!("The ID token is not valid: {}", chain(&error)),
                None,
            )
        })?;
    // Verified above: the rest of its claims may be read.
    let mut other = verified_payload(&id_token.to_string());
    let mut email = claims.email().map(|email| email.to_string());
    let mut name = claims
        .name()
        .and_then(|name| name.get(None))
        .map(|name| name.to_string());
    let subject = claims.subject().to_string();
    // Many providers give the profile and the groups only at the user info endpoint.
    if (claim_at(&other, &oidc.settings.roles_claim).is_none() || email.is_none() || name.is_none())
        && let Ok(request) = client.user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
    {
        let info: UserInfoClaims<OtherClaims, openidconnect::core::CoreGenderClaim> =
            request.request_async(&oidc.http).await.map_err(|error| {
                upstream(format!(
                    "The identity provider's user info could not be read: {}",
                    chain(&error)
                ))
            })?;
        email = email.or_else(|| info.email().map(|email| email.to_string()));
        name = name.or_else(|| {
            info.name()
                .and_then(|name| name.get(None))
                .map(|name| name.to_string())
        });
        for (key, value) in info.additional_claims().claims.clone() {
            other.entry(key).or_insert(value);
        }
    }
    let id = email.clone().unwrap_or_else(|| subject.clone());
    let person = Person {
        name: name.or(email).unwrap_or_else(|| subject.clone()),
        id,
        subject,
        identity_provider: claims.issuer().to_string(),
    };
    let permissions = oidc.permissions(claim_at(&other, &oidc.settings.roles_claim));
    if permissions.is_empty() {
        return Err(Refusal::recorded(
            StatusCode::FORBIDDEN,
            format!(
                "{} has no role in vigil: the identity provider's `{}` claim names none of the groups vigil gives permissions to.",
                person.id, oidc.settings.roles_claim
            ),
            Some(person),
        ));
    }
    let log = state.log.clone();
    let lifetime = oidc.settings.session;
    let origin = origin.clone();
    let made = tokio::task::spawn_blocking(move || {
        sessions::sign_in(&log, person, permissions, lifetime, &origin)
    })
    .await
    .map_err(|_| Refusal::bad("the sign-in could not be stored"))?
    .map_err(|error| {
        tracing::error!(%error, "a session could not be stored");
        Refusal {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "The sign-in could not be stored; try again.".into(),
            record: None,
        }
    })?;
    let back = local_path(login.get("to").map(String::as_str));
    Ok((made.secret, back))
}

/// `POST /auth/logout`: ends the caller's session (the CSRF token is required, as for every
/// change) and records the sign-out.
#[utoipa::path(
    post,
    path = "/auth/logout",
    operation_id = "signOut",
    tag = "sign-in",
    summary = "End the signed-in session (with X-CSRF-Token)",
    responses((status = 204, description = "Signed out; the cookie is cleared"), crate::openapi::Refused)
)]
pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if caller.0.session.is_none() {
        return Err(ApiError::Invalid(
            "this request carries an API key, not a signed-in session: there is nothing to sign out of".into(),
        ));
    }
    let secret = crate::auth::cookie_in(&headers, SESSION_COOKIE)
        .unwrap_or_default()
        .to_owned();
    let log = state.log.clone();
    tokio::task::spawn_blocking(move || sessions::sign_out(&log, &secret)).await??;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, cookie_header(SESSION_COOKIE, "", "/", 0));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_split_at_the_last_equals_sign() {
        assert_eq!(
            parse_role("cn=auditors,ou=groups=AUDIT+EXPORT_ADMIN").unwrap(),
            (
                "cn=auditors,ou=groups".to_owned(),
                vec![Permission::Audit, Permission::ExportAdmin]
            )
        );
        assert!(
            parse_role("auditors")
                .unwrap_err()
                .contains("GROUP=PERMISSION")
        );
        assert!(parse_role("auditors=READ").unwrap_err().contains("`READ`"));
        assert!(parse_role("=AUDIT").unwrap_err().contains("no group"));
    }

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(local_path(Some("/#/audit?f=a")), "/#/audit?f=a");
        assert_eq!(local_path(Some("//evil.example")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(Some("https://evil.example")), "/");
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn nested_claims_are_reached_by_a_dotted_path() {
        let claims: Map<String, Value> = serde_json::from_str(
            r#"{"groups": ["a"], "realm_access": {"roles": ["b"]}, "x.y": 1}"#,
        )
        .unwrap();
        assert_eq!(claim_at(&claims, "groups"), Some(&serde_json::json!(["a"])));
        assert_eq!(
            claim_at(&claims, "realm_access.roles"),
            Some(&serde_json::json!(["b"]))
        );
        assert_eq!(claim_at(&claims, "x.y"), Some(&serde_json::json!(1)));
        assert_eq!(claim_at(&claims, "realm_access.missing"), None);
    }

    fn args() -> OidcArgs {
        OidcArgs {
            oidc_issuer: Some("https://idp.example.com/".into()),
            oidc_client_id: Some("vigil".into()),
            oidc_client_secret: None,
            oidc_redirect_url: Some("https://vigil.example.com/auth/callback".into()),
            oidc_scopes: "openid email profile".into(),
            oidc_roles_claim: "groups".into(),
            oidc_roles: vec!["auditors=AUDIT".into()],
            oidc_session_hours: 8,
        }
    }

    #[test]
    fn refused_sign_ins_are_recorded_up_to_a_cap_a_minute() {
        let oidc = Oidc::new(args().settings().unwrap().unwrap()).unwrap();
        let recorded = (0..REFUSALS_RECORDED_PER_MINUTE + 5)
            .filter(|_| oidc.may_record_refusal())
            .count();
        assert_eq!(recorded, REFUSALS_RECORDED_PER_MINUTE as usize);
    }

    #[test]
    fn settings_are_checked() {
        let settings = args().settings().unwrap().unwrap();
        assert_eq!(settings.issuer.as_str(), "https://idp.example.com");
        assert_eq!(settings.scopes, ["email", "profile"]);
        let mut plain = args();
        plain.oidc_redirect_url = Some("http://vigil.example.com/auth/callback".into());
        assert!(plain.settings().unwrap_err().contains("must be https"));
        let mut loopback = args();
        loopback.oidc_redirect_url = Some("http://127.0.0.1:8080/auth/callback".into());
        assert!(loopback.settings().is_ok());
        let mut half = args();
        half.oidc_client_id = None;
        assert!(half.settings().unwrap_err().contains("needs all of"));
        let mut roleless = args();
        roleless.oidc_roles.clear();
        assert!(roleless.settings().unwrap_err().contains("at least one"));
        let none = OidcArgs {
            oidc_issuer: None,
            oidc_client_id: None,
            oidc_redirect_url: None,
            ..args()
        };
        assert!(none.settings().unwrap().is_none());
    }
}
