//! The OpenAPI contract as a client meets it: `GET /api/openapi.json` answers without a key,
//! openapi-spec-validator (PyPI, installed by `scripts/test.sh`) accepts it as OpenAPI 3.1, and
//! every operation it lists is served (no 405, no bare 404 of an unknown route).

mod common;

use std::process::Command;

use common::{ADMIN_KEY, Server, client};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread")]
async fn the_served_document_is_valid_openapi_and_lists_only_served_operations() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let response = reqwest::get(server.url("/api/openapi.json")).await.unwrap();
    assert_eq!(response.status(), 200, "the contract needs no key");
    let text = response.text().await.unwrap();
    let document: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(document["openapi"], "3.1.0");

    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &text).unwrap();
    let python = std::env::var("VIGIL_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let validated = Command::new(&python)
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .unwrap_or_else(|error| panic!("{python} runs: {error}"));
    assert!(
        validated.status.success(),
        "openapi-spec-validator refuses the document (scripts/test.sh installs it into \
         VIGIL_TEST_PYTHON's environment):\n{}{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );

    let mut operations = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations += 1;
            let concrete: String = path
                .split('/')
                .map(|part| if part.starts_with('{') { "x" } else { part })
                .collect::<Vec<_>>()
                .join("/");
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut request = client()
                .request(method.clone(), server.url(&concrete))
                .header("Authorization", ADMIN_KEY);
            if method != reqwest::Method::GET && method != reqwest::Method::DELETE {
                request = request.json(&json!({}));
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            assert_ne!(status, 405, "{method} {path} is listed but not served");
            assert!(
                !(status == 404 && body.is_empty()),
                "{method} {path} is listed but no route serves it"
            );
        }
    }
    assert!(operations >= 53, "only {operations} operations listed");
}
