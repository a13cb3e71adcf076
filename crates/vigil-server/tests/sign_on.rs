//! Single sign-on end to end: a real OpenID provider (npm's `oidc-provider`), vigil configured
//! for it, and a headless Chromium signing a person in through the provider's login and consent
//! pages. Checks the session cookie's attributes, the role mapping, CSRF protection, that the
//! sign-in, the person's searches and changes and the sign-out are recorded by the person's name,
//! and that a person whose groups give no role is refused, and recorded as refused.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::browser::Browser;
use common::emulators::free_port;
use common::oidc::{CLIENT_ID, CLIENT_SECRET, Provider};
use common::{Server, client, get_json};
use serde_json::{Value, json};

/// Events of `query` (admin key), once the search index holds `wanted` of them.
async fn events_when(server: &Server, query: &str, wanted: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let answer = get_json(
            server,
            &format!("/api/audit/events?{query}&from=2020-01-01&facets=none&size=50"),
        )
        .await;
        let hits = answer["hits"].as_array().cloned().unwrap_or_default();
        if hits.len() >= wanted {
            return hits;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "expected {wanted} events of `{query}`, found: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Signs `login` in at the provider's development pages (any password), consenting once asked.
async fn sign_in_at_provider(browser: &Browser, login: &str) {
    browser
        .wait_for(
            "the provider's login page",
            "return !!document.querySelector('input[name=login]')",
        )
        .await;
    let field = browser.find("input[name=login]").await;
    browser.type_into(&field, login).await;
    let password = browser.find("input[name=password]").await;
    browser.type_into(&password, "any password").await;
    let submit = browser.find("button[type=submit]").await;
    browser.click(&submit).await;
    browser
        .wait_for(
            "the provider's consent page",
            "return document.querySelector('input[name=prompt]')?.value === 'consent'",
        )
        .await;
    let proceed = browser.find("button[type=submit]").await;
    browser.click(&proceed).await;
}

/// A request with the browser's session cookie, and optionally the CSRF token.
async fn with_cookie(
    server: &Server,
    method: reqwest::Method,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client()
        .request(method, server.url(path))
        .header("Cookie", format!("vigil_session={cookie}"));
    if let Some(token) = csrf {
        request = request.header("X-CSRF-Token", token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `GET /api/audit/session` with the session cookie.
async fn session_of(server: &Server, cookie: &str) -> (u16, Value) {
    with_cookie(
        server,
        reqwest::Method::GET,
        "/api/audit/session",
        cookie,
        None,
        None,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_signs_in_through_the_identity_provider_and_is_recorded_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let redirect = format!("http://127.0.0.1:{port}/auth/callback");
    let provider = Provider::start(&redirect).await;
    let listen = format!("127.0.0.1:{port}");
    let server = Server::start_with_env(
        &dir.path().join("data"),
        &["--listen", &listen],
        &[
            ("VIGIL_OIDC_ISSUER", provider.issuer.as_str()),
            ("VIGIL_OIDC_CLIENT_ID", CLIENT_ID),
            ("VIGIL_OIDC_CLIENT_SECRET", CLIENT_SECRET),
            ("VIGIL_OIDC_REDIRECT_URL", redirect.as_str()),
            (
                "VIGIL_OIDC_ROLES",
                "vigil-auditors=AUDIT;vigil-admins=ADMIN+EXPORT_ADMIN",
            ),
        ],
    );
    // Asked before anyone signs in: no key.
    let options = reqwest::get(server.url("/api/audit/sign-in"))
        .await
        .unwrap();
    let options: Value = options.json().await.unwrap();
    assert_eq!(options["singleSignOn"], true, "{options}");

    let browser = Browser::start(&dir.path().join("browser"), 1280, 900).await;
    browser.open(&server.url("/#/audit")).await;
    let button = browser.find("#sso-sign-in").await;
    browser.click(&button).await;
    sign_in_at_provider(&browser, "ada").await;
    browser.wait_ready("audit").await;
    let who = browser.find("#who").await;
    assert_eq!(browser.text(&who).await, "Signed in as Ada Auditor");
    browser
        .screenshot(
            &Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots/signed-in-by-sso.png"),
        )
        .await;

    // The session cookie: HttpOnly (no script reads it), Secure, SameSite=Lax, with an expiry.
    let cookies = browser.cookies().await;
    let session = cookies
        .iter()
        .find(|cookie| cookie["name"] == "vigil_session")
        .unwrap_or_else(|| panic!("no session cookie among {cookies:?}"));
    assert_eq!(session["httpOnly"], true, "{session}");
    assert_eq!(session["secure"], true, "{session}");
    assert_eq!(session["sameSite"], "Lax", "{session}");
    assert!(session["expiry"].as_u64().is_some(), "{session}");
    let secret = session["value"].as_str().unwrap().to_owned();
    assert!(
        !cookies.iter().any(|cookie| cookie["name"] == "vigil_login"),
        "the sign-in's state cookie is cleared: {cookies:?}"
    );

    // The roles claim gave AUDIT only (ada is in vigil-auditors and staff, not vigil-admins).
    let (status, me) = session_of(&server, &secret).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["permissions"], json!(["AUDIT"]), "{me}");
    assert_eq!(me["authenticationMethod"], "OpenId", "{me}");
    assert_eq!(me["id"], "ada@example.com", "{me}");
    let csrf = me["csrfToken"].as_str().unwrap().to_owned();

    // A change with the cookie alone is refused (another site could make the browser send it);
    // with the token, it is made, by Ada.
    let search = json!({ "name": "Ada's refusals", "query": "f=actionStatus:UNAUTHORIZED" });
    for token in [None, Some("wrong-token")] {
        let (status, refused) = with_cookie(
            &server,
            reqwest::Method::POST,
            "/api/audit/saved-searches",
            &secret,
            token,
            Some(search.clone()),
        )
        .await;
        assert_eq!(status, 403, "{refused}");
        assert_eq!(refused["code"], "csrf_token_refused", "{refused}");
    }
    // GraphQL too: its refusal comes in GraphQL's shape.
    let (status, refused) = with_cookie(
        &server,
        reqwest::Method::POST,
        "/api/audit/graphql",
        &secret,
        None,
        Some(json!({ "query": "{ exportPublicKey }" })),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    let (status, saved) = with_cookie(
        &server,
        reqwest::Method::POST,
        "/api/audit/saved-searches",
        &secret,
        Some(&csrf),
        Some(search.clone()),
    )
    .await;
    assert_eq!(status, 201, "{saved}");
    // What her role does not give stays refused.
    let (status, refused) = with_cookie(
        &server,
        reqwest::Method::POST,
        "/api/audit/forwarders",
        &secret,
        Some(&csrf),
        Some(json!({ "name": "x", "target": { "type": "WEBHOOK", "url": "http://127.0.0.1:9/" } })),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("EXPORT_ADMIN"),
        "{refused}"
    );

    // Signing out in the UI ends the session.
    let sign_out = browser.find("#sign-out").await;
    browser.click(&sign_out).await;
    browser.find("#sso-sign-in").await;
    let (status, ended) = session_of(&server, &secret).await;
    assert_eq!(status, 401, "{ended}");

    // Each step is in the log, by Ada, in her session.
    let sign_ins = events_when(&server, "action=AUTHENTICATE", 1).await;
    let sign_in = &sign_ins[0];
    assert_eq!(sign_in["actionStatus"], "SUCCESS", "{sign_in}");
    assert_eq!(sign_in["actor"]["type"], "USER_ACTOR", "{sign_in}");
    assert_eq!(sign_in["actor"]["id"], "ada@example.com", "{sign_in}");
    assert_eq!(sign_in["actor"]["name"], "Ada Auditor", "{sign_in}");
    assert_eq!(
        sign_in["actor"]["identityProvider"], provider.issuer,
        "{sign_in}"
    );
    assert_eq!(
        sign_in["auditPayload"]["type"], "UserAuthenticatedAuditPayload",
        "{sign_in}"
    );
    assert_eq!(
        sign_in["auditPayload"]["authenticationMethod"], "OpenId",
        "{sign_in}"
    );
    assert_eq!(sign_in["actorIp"], "127.0.0.1", "{sign_in}");
    let session_id = sign_in["sessionId"].as_str().unwrap().to_owned();
    assert_ne!(
        session_id, secret,
        "the session id is not the cookie's secret"
    );
    let reads = events_when(&server, "action=AUDIT_QUERY&actorId=ada%40example.com", 1).await;
    assert!(
        reads
            .iter()
            .all(|read| read["actor"]["type"] == "USER_ACTOR" && read["sessionId"] == session_id),
        "the audit page's searches are Ada's: {reads:?}"
    );
    let created = events_when(
        &server,
        "action=CREATE&submittedBy=vigil&targetType=AUDIT",
        1,
    )
    .await;
    assert_eq!(created[0]["actor"]["id"], "ada@example.com", "{created:?}");
    let sign_outs = events_when(&server, "action=LOGOUT", 1).await;
    assert_eq!(sign_outs[0]["actor"]["id"], "ada@example.com");
    assert_eq!(
        sign_outs[0]["auditPayload"]["logoutReason"],
        "USER_LOGOUT_TRIGGERED"
    );
    assert_eq!(sign_outs[0]["sessionId"], session_id);

    // Mallory's groups give no role: refused, told why, and recorded as refused. (The provider
    // still knows Ada: forget its session first.)
    browser
        .open(&format!(
            "{}/.well-known/openid-configuration",
            provider.issuer
        ))
        .await;
    browser.delete_cookies().await;
    browser.open(&server.url("/")).await;
    let button = browser.find("#sso-sign-in").await;
    browser.click(&button).await;
    sign_in_at_provider(&browser, "mallory").await;
    let refusal = browser.find("#sign-in-refused").await;
    let told = browser.text(&refusal).await;
    assert!(
        told.contains("mallory@example.com has no role in vigil"),
        "{told}"
    );
    assert!(
        !browser
            .cookies()
            .await
            .iter()
            .any(|cookie| cookie["name"] == "vigil_session"),
        "a refused person gets no session"
    );
    let refused = events_when(&server, "action=AUTHENTICATE&actionStatus=UNAUTHORIZED", 1).await;
    assert_eq!(
        refused[0]["actor"]["id"], "mallory@example.com",
        "{refused:?}"
    );
    assert!(
        refused[0]["actionStatusReason"]
            .as_str()
            .unwrap()
            .contains("`groups` claim"),
        "{refused:?}"
    );
    drop(browser);
    drop(server);
}

#[tokio::test]
async fn an_incomplete_single_sign_on_setting_stops_the_start_with_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("VIGIL_OIDC_ISSUER", "https://idp.example.com")
        .env("VIGIL_OIDC_CLIENT_ID", "vigil")
        .env(
            "VIGIL_OIDC_REDIRECT_URL",
            "http://vigil.example.com/auth/callback",
        )
        .env("VIGIL_OIDC_ROLES", "auditors=AUDIT")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("must be https"), "{error}");
    assert!(
        !dir.path().join("vigil.db").exists(),
        "nothing is created before the settings are valid"
    );
}
