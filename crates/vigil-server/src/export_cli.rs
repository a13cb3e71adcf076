//! The export commands: `vigil audit exportConfig …` (GraphQL against a running server, with the
//! specification's JSON files), `vigil export public-key` and `vigil verify-export`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use vigil_core::export::{SIGNING_KEY_FILE, SigningKey, verify_export_dir};

/// The kind of an export configuration, as the CLI names it (`s3:accessKey`, …).
#[derive(Debug, Clone, Copy)]
pub enum ExportKind {
    /// `s3:accessKey`.
    S3AccessKey,
    /// `s3:assumedRole`.
    S3AssumedRole,
    /// `adls:sasToken`.
    AdlsSasToken,
}

impl ExportKind {
    /// The create mutation and its input type.
    fn create(self) -> (&'static str, &'static str) {
        match self {
            ExportKind::S3AccessKey => (
                "createS3AccessKeyExportConfiguration",
                "S3AccessKeyExportConfigurationInput",
            ),
            ExportKind::S3AssumedRole => (
                "createS3AssumedRoleExportConfiguration",
                "S3AssumedRoleExportConfigurationInput",
            ),
            ExportKind::AdlsSasToken => (
                "createAdlsSasTokenEndpointConfiguration",
                "AdlsSasTokenExportConfigurationInput",
            ),
        }
    }

    /// The update mutation and its input type.
    fn update(self) -> (&'static str, &'static str) {
        match self {
            ExportKind::S3AccessKey => (
                "updateS3AccessKeyExportConfiguration",
                "UpdateS3AccessKeyExportConfigurationInput",
            ),
            ExportKind::S3AssumedRole => (
                "updateS3AssumedRoleExportConfiguration",
                "UpdateS3AssumedRoleExportConfigurationInput",
            ),
            ExportKind::AdlsSasToken => (
                "updateAdlsSasTokenExportConfiguration",
                "UpdateAdlsSasTokenExportConfigurationInput",
            ),
        }
    }
}

/// What `vigil audit exportConfig` does.
#[derive(Debug, Clone)]
pub enum ExportConfigAction {
    /// `create:<kind> FILE`.
    Create(ExportKind, PathBuf),
    /// `update:<kind> FILE` (the file holds `id`).
    Update(ExportKind, PathBuf),
    /// `list`.
    List,
    /// `enable ID`.
    Enable(String),
    /// `disable ID`.
    Disable(String),
    /// `delete ID`.
    Delete(String),
    /// `exportNow ID`.
    ExportNow(String),
    /// `testConnection ID`.
    TestConnection(String),
}

/// Every field of a configuration, as the CLI prints it.
const CONFIG_FIELDS: &str = "id interval format enabled connectionStatus \
    endpointConfiguration { __typename \
      ... on S3AccessKeyEndpointConfiguration { bucket path region accessKeyId endpoint } \
      ... on S3AssumedRoleEndpointConfiguration { bucket path region roleArn endpoint } \
      ... on AdlsSasTokenEndpointConfiguration { storageAccount fileSystem path endpoint } } \
    exportStatus { lastExportedSequence exportedEvents lastExportedAt lastAttemptAt lastError \
      attempts pendingFromSequence pendingToSequence lastDigestKey }";

/// Reads a JSON object from `file`, naming the line and column of a syntax error.
fn read_json_object(file: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let value: Value = serde_json::from_str(&text).map_err(|error| {
        anyhow::anyhow!(
            "{}: invalid JSON at line {}, column {}: {error}",
            file.display(),
            error.line(),
            error.column()
        )
    })?;
    if !value.is_object() {
        bail!(
            "{}: expected a JSON object with the configuration's fields",
            file.display()
        );
    }
    Ok(value)
}

/// Runs `vigil audit exportConfig …` against the server at `url`; prints the GraphQL answer.
pub fn export_config_command(
    url: &str,
    api_key: &str,
    action: ExportConfigAction,
) -> anyhow::Result<()> {
    let by_id = |mutation: &str, id: String| {
        (
            format!("mutation($id: ID!) {{ {mutation}(id: $id) {{ {CONFIG_FIELDS} }} }}"),
            json!({ "id": id }),
        )
    };
    let with_file = |(mutation, input): (&str, &str), file: &Path| {
        read_json_object(file).map(|data| {
            (
                format!(
                    "mutation($data: {input}!) {{ {mutation}(data: $data) {{ {CONFIG_FIELDS} }} }}"
                ),
                json!({ "data": data }),
            )
        })
    };
    let tests_connection = matches!(
        action,
        ExportConfigAction::Create(..)
            | ExportConfigAction::Update(..)
            | ExportConfigAction::TestConnection(_)
    );
    let only_a_test = matches!(action, ExportConfigAction::TestConnection(_));
    let (query, variables) = match action {
        ExportConfigAction::Create(kind, file) => with_file(kind.create(), &file)?,
        ExportConfigAction::Update(kind, file) => with_file(kind.update(), &file)?,
        ExportConfigAction::List => (
            format!("query {{ getAllExportConfigurations {{ {CONFIG_FIELDS} }} }}"),
            json!({}),
        ),
        ExportConfigAction::Enable(id) => by_id("enableExportConfiguration", id),
        ExportConfigAction::Disable(id) => by_id("disableExportConfiguration", id),
        ExportConfigAction::Delete(id) => by_id("deleteExportConfiguration", id),
        ExportConfigAction::ExportNow(id) => by_id("exportNow", id),
        ExportConfigAction::TestConnection(id) => by_id("testExportConfigurationConnection", id),
    };
    let answer = post_graphql(url, api_key, &query, variables)?;
    if let Some(errors) = answer["errors"]
        .as_array()
        .filter(|errors| !errors.is_empty())
    {
        let messages: Vec<&str> = errors
            .iter()
            .map(|error| error["message"].as_str().unwrap_or("(no message)"))
            .collect();
        bail!("the server refused the request: {}", messages.join("; "));
    }
    println!("{}", serde_json::to_string_pretty(&answer)?);
    // A failing connection test is said on stderr; `test-connection` then exits non-zero.
    let status = answer["data"]
        .as_object()
        .and_then(|data| data.values().next())
        .and_then(|config| config["connectionStatus"].as_str());
    if tests_connection && let Some(status) = status.filter(|status| *status != "SUCCESS") {
        eprintln!("the connection test failed: {status}");
        if only_a_test {
            bail!("the export configuration cannot write to its destination");
        }
    }
    Ok(())
}

fn post_graphql(url: &str, api_key: &str, query: &str, variables: Value) -> anyhow::Result<Value> {
    let endpoint = format!("{}/api/audit/graphql", url.trim_end_matches('/'));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(&endpoint)
            .header("Authorization", format!("Bearer {api_key}"))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .with_context(|| format!("connecting to {url}"))?;
        let status = response.status();
        let body: Value = response.json().await.context("reading the answer")?;
        if !status.is_success() {
            bail!(
                "the server answered {status}: {}",
                body["error"].as_str().unwrap_or("(no message)")
            );
        }
        Ok(body)
    })
}

/// The public key that verifies digests: the data directory's, or a cluster's (stored in its
/// database beside the sealed key).
fn public_key_hex(storage: &crate::cli::Storage) -> anyhow::Result<String> {
    if storage.database.is_some() {
        let log = storage.open_log()?;
        let key = SigningKey::cluster_public_key_hex(&log)?;
        log.shutdown();
        return key.ok_or_else(|| {
            anyhow::anyhow!(
                "the cluster has no export signing key yet (it is created when a `vigil serve` node first starts)"
            )
        });
    }
    let data_dir = &storage.data_dir;
    if !data_dir.join(SIGNING_KEY_FILE).exists() {
        bail!(
            "no export signing key in {} (it is created when `vigil serve` first starts there)",
            data_dir.display()
        );
    }
    Ok(SigningKey::load(data_dir)?.public_key_hex())
}

/// `vigil export public-key`: prints the key that verifies digests.
pub fn public_key_command(storage: &crate::cli::Storage) -> anyhow::Result<()> {
    println!("{}", public_key_hex(storage)?);
    Ok(())
}

/// `vigil verify-export`: checks a downloaded export; `Ok(false)` when something is wrong.
pub fn verify_export_command(
    dir: &Path,
    public_key: Option<String>,
    storage: &crate::cli::Storage,
) -> anyhow::Result<bool> {
    let public_key = match public_key {
        Some(key) => key,
        None => public_key_hex(storage)?,
    };
    let report = verify_export_dir(dir, &public_key)?;
    for note in &report.notes {
        println!("note: {note}");
    }
    for problem in &report.problems {
        println!("FAIL: {problem}");
    }
    let range = report
        .seq_range
        .map(|(first, last)| format!("sequence {first}..{last}"))
        .unwrap_or_else(|| "nothing".into());
    if report.ok() {
        println!(
            "export verified: {} digests, {} objects, {} events, {range}",
            report.digests, report.objects, report.events
        );
    } else {
        println!(
            "export does NOT verify: {} problem(s) in {} digests and {} objects",
            report.problems.len(),
            report.digests,
            report.objects
        );
    }
    Ok(report.ok())
}
