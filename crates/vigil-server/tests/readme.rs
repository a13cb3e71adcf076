//! The README as a user meets it: every `curl` and `vigil` command of its shell blocks runs as
//! written (from the repository root, with the files of `examples/`) against `vigil serve --demo`
//! and succeeds; and the demo's month gives every report kind something to show.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ADMIN_KEY, Server, client};
use serde_json::Value;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The commands of the README's `sh` blocks, continuation lines joined. (`bash` blocks are shown,
/// not run: commands for other machines, such as a cluster's nodes.)
fn readme_commands() -> Vec<String> {
    let text = std::fs::read_to_string(repository().join("README.md")).unwrap();
    let mut commands = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_block = line == "```sh";
            continue;
        }
        if !in_block {
            continue;
        }
        let line = line.trim();
        if let Some(start) = line.strip_suffix('\\') {
            pending.push_str(start);
            pending.push(' ');
            continue;
        }
        let command = std::mem::take(&mut pending) + line;
        if command.starts_with("curl ") || command.starts_with("vigil ") {
            commands.push(command);
        }
    }
    commands
}

/// `GET path?query` with the admin key, as JSON.
async fn get_json(server: &Server, path: &str, query: &[(&str, &str)]) -> Value {
    client()
        .get(server.url(path))
        .query(query)
        .header("Authorization", ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_readme_command_runs_against_the_demo() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with(data.path(), &["--demo"]);
    let commands = readme_commands();
    assert!(commands.len() >= 19, "{commands:#?}");
    // curl exits non-zero on an HTTP error status with this configuration.
    let curl_home = tempfile::tempdir().unwrap();
    std::fs::write(curl_home.path().join(".curlrc"), "fail\nshow-error\n").unwrap();
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_vigil"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for command in &commands {
        let command = command.replace("http://127.0.0.1:8080", &server.base);
        let output = tokio::task::spawn_blocking({
            let (path, curl_home, base) = (
                path.clone(),
                curl_home.path().to_owned(),
                server.base.clone(),
            );
            let command = command.clone();
            let data_dir = server.data_dir.clone();
            move || {
                Command::new("sh")
                    .arg("-c")
                    .arg(&command)
                    .current_dir(repository())
                    .env("PATH", path)
                    .env("CURL_HOME", curl_home)
                    .env("KEY", ADMIN_KEY)
                    .env("VIGIL_API_KEY", ADMIN_KEY)
                    .env("VIGIL_URL", base)
                    .env("VIGIL_DATA_DIR", &data_dir)
                    .output()
                    .unwrap()
            }
        })
        .await
        .unwrap();
        assert!(
            output.status.success(),
            "`{command}` failed: {}\n{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
        assert!(!output.stdout.is_empty(), "`{command}` printed nothing");
    }

    // Every report kind shows something on the demo, for one entity the demo names.
    let catalog = get_json(&server, "/api/audit/reports", &[]).await;
    let name = |entity: &str| match entity {
        "user" => "Taylor Smith",
        "group" => "Analysts",
        "project" => "Fraud Analytics",
        "purpose" => "Fraud Detection",
        "datasource" => "Sales Customers",
        "tag" => "PII",
        "policy-type" => "MASKING",
        "global-policy" => "Mask PII columns",
        "connection" => "1",
        other => panic!("the demo names no {other}"),
    };
    let kinds = catalog["reports"].as_array().unwrap();
    assert_eq!(kinds.len(), 45);
    for kind in kinds {
        let entity = kind["entityType"].as_str().unwrap();
        let mut query = vec![
            ("entityType", entity),
            ("report", kind["report"].as_str().unwrap()),
        ];
        if kind["scope"] != "all" {
            query.push(("name", name(entity)));
        }
        if kind["dateRange"] == true {
            query.push(("from", "now-31d"));
        }
        let answer = get_json(&server, "/api/audit/reports/run", &query).await;
        assert!(
            answer["rows"]
                .as_array()
                .is_some_and(|rows| !rows.is_empty()),
            "{query:?}: {answer}"
        );
    }
    server.terminate();
}
