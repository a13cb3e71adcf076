//! Export end to end against real protocol servers on loopback: moto (S3, STS) and Azurite (Blob).
//! The specification's GraphQL and CLI examples are pasted as-is; downloaded objects hold each
//! stored event exactly once, also across a destination outage; digests verify.

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use common::emulators::{AZURITE_ACCOUNT, Emulator, azurite_account_sas, download};
use common::{ADMIN_KEY, Server, client, event, graphql};
use object_store::ObjectStore;
use serde_json::{Value, json};

/// How long an export may take to show up.
const EXPORT_WAIT: Duration = Duration::from_secs(120);

async fn ingest(server: &Server, ids: &[String]) {
    let body: Vec<Value> = ids.iter().map(|id| event(id)).collect();
    let response = client()
        .post(server.url("/api/audit/events"))
        .header("Authorization", ADMIN_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

async fn stored_event(server: &Server, id: &str) -> String {
    common::get_text(server, &format!("/api/audit/events/{id}")).await
}

async fn export_status(server: &Server, id: &str) -> Value {
    let answer = graphql(
        server,
        &format!(
            r#"{{ getExportConfiguration(id: "{id}") {{ exportStatus {{ lastExportedSequence lastError attempts pendingFromSequence }} }} }}"#
        ),
    )
    .await;
    answer["data"]["getExportConfiguration"]["exportStatus"].clone()
}

/// Waits until `condition` holds for the export status of `id`.
async fn wait_for_status(
    server: &Server,
    id: &str,
    what: &str,
    condition: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + EXPORT_WAIT;
    loop {
        let status = export_status(server, id).await;
        if condition(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; status {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every exported line, by event id, with how often it appears.
fn exported_lines(dir: &Path) -> HashMap<String, (String, usize)> {
    let mut lines: HashMap<String, (String, usize)> = HashMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(".json.gz") {
                let mut text = String::new();
                flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
                    .read_to_string(&mut text)
                    .unwrap();
                for line in text.lines() {
                    let value: Value = serde_json::from_str(line).unwrap();
                    let id = value["id"].as_str().unwrap().to_owned();
                    lines.entry(id).or_insert_with(|| (line.to_owned(), 0)).1 += 1;
                }
            }
        }
    }
    lines
}

fn vigil_verify_export(dir: &Path, data_dir: &Path) -> std::process::Output {
    common::vigil(&[
        "verify-export",
        "--dir",
        dir.to_str().unwrap(),
        "--data-dir",
        data_dir.to_str().unwrap(),
    ])
}

/// The seed's S3 access-key mutation, verbatim.
const SEED_S3_ACCESS_KEY: &str = r#"mutation {
createS3AccessKeyExportConfiguration(
data: {
interval: EVERY_12_HOURS
bucket: "your-s3-bucket"
path: "your-optional-s3-bucket-path"
region: "your-aws-region"
accessKeyId: "YOURACCESSKEYID"
secretAccessKey: "YOUR/SECRET/ACCESSKEY"
}
)
{
id
interval
enabled
connectionStatus
endpointConfiguration {
... on S3AccessKeyEndpointConfiguration {
bucket
path
region
}
}
}
}"#;

/// The seed's S3 assumed-role mutation, verbatim.
const SEED_S3_ASSUMED_ROLE: &str = r#"mutation {
createS3AssumedRoleExportConfiguration(
data: {
interval: EVERY_12_HOURS
bucket: "your-s3-bucket"
path: "your-optional-s3-bucket-path"
region: "your-region"
roleArn: "arn:aws:iam::<Your AWS Account ID>:role/<the prepared role>"
}
)
{
id
interval
enabled
connectionStatus
endpointConfiguration {
... on S3AssumedRoleEndpointConfiguration {
bucket
path
region
}
}
}
}"#;

#[tokio::test(flavor = "multi_thread")]
async fn s3_exports_from_the_seed_examples_arrive_once_and_verify() {
    let moto = Emulator::moto();
    moto.create_bucket("your-s3-bucket").await;
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(
        data.path(),
        &["--export-object-events", "40"],
        &[
            ("AWS_ENDPOINT_URL", &moto.url()),
            ("AWS_ACCESS_KEY_ID", "vigil-own-key"),
            ("AWS_SECRET_ACCESS_KEY", "vigil-own-secret"),
        ],
    );
    let ids: Vec<String> = (0..150).map(|n| format!("export-event-{n}")).collect();
    ingest(&server, &ids).await;

    // The seed's mutations, pasted as-is.
    let created = graphql(&server, SEED_S3_ACCESS_KEY).await;
    let config = &created["data"]["createS3AccessKeyExportConfiguration"];
    assert_eq!(config["connectionStatus"], "SUCCESS", "{created}");
    assert_eq!(config["interval"], "EVERY_12_HOURS");
    assert_eq!(config["enabled"], true);
    assert_eq!(
        config["endpointConfiguration"],
        json!({ "bucket": "your-s3-bucket", "path": "your-optional-s3-bucket-path", "region": "your-aws-region" })
    );
    let id = config["id"].as_str().unwrap().to_owned();
    let assumed = graphql(&server, SEED_S3_ASSUMED_ROLE).await;
    let assumed = &assumed["data"]["createS3AssumedRoleExportConfiguration"];
    // moto's STS grants any role: the temporary credentials write the test object.
    assert_eq!(assumed["connectionStatus"], "SUCCESS", "{assumed}");
    let assumed_id = assumed["id"].as_str().unwrap().to_owned();
    let listed = graphql(
        &server,
        "query {\ngetAllExportConfigurations{\nid\nconnectionStatus\n}\n}",
    )
    .await;
    assert_eq!(
        listed["data"]["getAllExportConfigurations"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let everything = graphql(
        &server,
        "{ getAllExportConfigurations { id endpointConfiguration { __typename ... on S3AccessKeyEndpointConfiguration { accessKeyId } } } }",
    )
    .await
    .to_string();
    assert!(
        everything.contains("S3AssumedRoleEndpointConfiguration"),
        "{everything}"
    );
    assert!(
        !everything.contains("YOUR/SECRET/ACCESSKEY"),
        "a secret was returned"
    );

    let store = common::emulators::moto_bucket(&moto, "your-s3-bucket");
    let test_object =
        object_store::path::Path::from("your-optional-s3-bucket-path/.immuta.export.log");
    assert!(
        store.head(&test_object).await.is_ok(),
        "the connection test wrote .immuta.export.log"
    );

    // Invalid input is refused with the field named, and stores nothing.
    for (bad, expected) in [
        (
            r#"mutation { createS3AccessKeyExportConfiguration(data: {interval: EVERY_3_HOURS, bucket: "b", region: "r", accessKeyId: "a", secretAccessKey: "s"}) { id } }"#,
            "EVERY_3_HOURS",
        ),
        (
            r#"mutation { createS3AccessKeyExportConfiguration(data: {interval: EVERY_2_HOURS, region: "r", accessKeyId: "a", secretAccessKey: "s"}) { id } }"#,
            "bucket",
        ),
        (
            r#"mutation { createS3AssumedRoleExportConfiguration(data: {interval: EVERY_2_HOURS, bucket: "b", region: "r", roleArn: "not-an-arn"}) { id } }"#,
            "roleArn",
        ),
    ] {
        let answer = graphql(&server, bad).await;
        let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{answer}");
    }
    let exports_file = data.path().join("bad-exportConfig.json");
    std::fs::write(
        &exports_file,
        "{\n\"interval\": \"EVERY_12_HOURS\"\n\"bucket\": \"b\"\n}",
    )
    .unwrap();
    let output = common::vigil(&[
        "audit",
        "exportConfig",
        "create:s3:accessKey",
        exports_file.to_str().unwrap(),
        "--url",
        &server.url(""),
        "--api-key",
        ADMIN_KEY,
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 3"), "{stderr}");
    let listed = graphql(&server, "{ getAllExportConfigurations { id } }").await;
    assert_eq!(
        listed["data"]["getAllExportConfigurations"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // The seed's CLI file, as-is.
    std::fs::write(
        data.path().join("exportConfig.json"),
        r#"{
"interval": "EVERY_12_HOURS",
"bucket": "your-s3-bucket",
"path": "your-optional-s3-bucket-path",
"region": "your-aws-region",
"accessKeyId": "YOURACCESSKEYID",
"secretAccessKey": "YOUR/SECRET/ACCESSKEY"
}"#,
    )
    .unwrap();
    let output = common::vigil(&[
        "audit",
        "exportConfig",
        "create:s3:accessKey",
        data.path().join("exportConfig.json").to_str().unwrap(),
        "--url",
        &server.url(""),
        "--api-key",
        ADMIN_KEY,
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    let cli_id = printed["data"]["createS3AccessKeyExportConfiguration"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for command in ["disable", "delete"] {
        let output = common::vigil(&[
            "audit",
            "exportConfig",
            command,
            &cli_id,
            "--url",
            &server.url(""),
            "--api-key",
            ADMIN_KEY,
        ]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    graphql(
        &server,
        &format!(r#"mutation {{ deleteExportConfiguration(id: "{assumed_id}") {{ id }} }}"#),
    )
    .await;

    // Export now, twice, with events in between: each event lands once. The head is read before
    // the run is asked for: what the run itself records (its own events) comes after it.
    let first_head = common::head_seq(&server).await;
    graphql(
        &server,
        &format!(r#"mutation {{ exportNow(id: "{id}") {{ id }} }}"#),
    )
    .await;
    wait_for_status(&server, &id, "the first export", |status| {
        status["lastExportedSequence"].as_u64() >= Some(first_head)
    })
    .await;
    let more: Vec<String> = (150..230).map(|n| format!("export-event-{n}")).collect();
    ingest(&server, &more).await;
    let second_head = common::head_seq(&server).await;
    graphql(
        &server,
        &format!(r#"mutation {{ exportNow(id: "{id}") {{ id }} }}"#),
    )
    .await;
    wait_for_status(&server, &id, "the second export", |status| {
        status["lastExportedSequence"].as_u64() >= Some(second_head)
    })
    .await;

    // Every object says what it holds, as a lake reader or `aws s3 cp` sees it (S3 keeps the
    // Content-Type and Content-Encoding given at PUT and returns them on GET).
    let listed: Vec<object_store::ObjectMeta> = {
        use futures::TryStreamExt;
        store
            .list(Some(&object_store::path::Path::from(
                "your-optional-s3-bucket-path",
            )))
            .try_collect()
            .await
            .unwrap()
    };
    for meta in &listed {
        let key = meta.location.as_ref();
        let attributes = store.get(&meta.location).await.unwrap().attributes;
        let header = |attribute| {
            attributes
                .get(&attribute)
                .map(|value| value.as_ref().to_owned())
        };
        let (content_type, encoding) = if key.ends_with(".json.gz") {
            ("application/x-ndjson", Some("gzip".to_owned()))
        } else if key.ends_with(".json") {
            ("application/json", None)
        } else {
            ("text/plain; charset=utf-8", None)
        };
        assert_eq!(
            header(object_store::Attribute::ContentType).as_deref(),
            Some(content_type),
            "{key}"
        );
        assert_eq!(
            header(object_store::Attribute::ContentEncoding),
            encoding,
            "{key}"
        );
    }
    let download_dir = tempfile::tempdir().unwrap();
    download(&store, "your-optional-s3-bucket-path", download_dir.path()).await;
    let lines = exported_lines(download_dir.path());
    for id in ids.iter().chain(&more) {
        let (line, count) = lines
            .get(id)
            .unwrap_or_else(|| panic!("{id} was not exported"));
        assert_eq!(*count, 1, "{id} exported {count} times");
        assert_eq!(
            line,
            &stored_event(&server, id).await,
            "{id} differs from the stored event"
        );
    }
    assert!(lines.values().all(|(_, count)| *count == 1));
    // Configuration changes are audit events, exported like any other; secrets never appear.
    let payload_types: Vec<String> = lines
        .values()
        .filter_map(|(line, _)| serde_json::from_str::<Value>(line).ok())
        .filter_map(|event| event["auditPayload"]["type"].as_str().map(str::to_owned))
        .collect();
    for expected in [
        "ExportConfigurationCreatedAuditPayload",
        "ExportConfigurationUpdatedAuditPayload",
        "ExportConfigurationDeletedAuditPayload",
        "AuditExportCompletedAuditPayload",
    ] {
        assert!(
            payload_types.iter().any(|t| t == expected),
            "no {expected} exported"
        );
    }
    assert!(
        lines
            .values()
            .all(|(line, _)| !line.contains("YOUR/SECRET/ACCESSKEY"))
    );
    let database = std::fs::read(data.path().join("vigil.db")).unwrap();
    assert!(
        !database.windows(21).any(|w| w == b"YOUR/SECRET/ACCESSKEY"),
        "the secret is stored in clear"
    );

    // The download verifies; an altered object is named.
    let output = vigil_verify_export(download_dir.path(), data.path());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let day = chrono::Utc::now().format("%Y/%m/%d").to_string();
    let victim = std::fs::read_dir(download_dir.path().join(&day))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.to_string_lossy().ends_with(".json.gz"))
        .unwrap();
    std::fs::write(&victim, b"not what was exported").unwrap();
    let output = vigil_verify_export(download_dir.path(), data.path());
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let victim_name = victim.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        stdout.contains(&victim_name) && stdout.contains("altered"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn adls_export_waits_out_an_outage_and_delivers_every_event_once() {
    let azurite_data = tempfile::tempdir().unwrap();
    let mut azurite = Emulator::azurite(azurite_data.path());
    let sas = azurite_account_sas();
    let container = client()
        .put(format!(
            "{}/{AZURITE_ACCOUNT}/audit-output?restype=container&{sas}",
            azurite.url()
        ))
        .send()
        .await
        .unwrap();
    assert!(
        container.status().is_success(),
        "{}",
        container.text().await.unwrap()
    );
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(
        data.path(),
        &["--export-object-events", "25"],
        &[
            ("AZURE_STORAGE_USE_EMULATOR", "true"),
            ("AZURITE_BLOB_STORAGE_URL", &azurite.url()),
        ],
    );
    let ids: Vec<String> = (0..60).map(|n| format!("adls-event-{n}")).collect();
    ingest(&server, &ids).await;
    // The seed's ADLS mutation (with its quoted interval), with the emulator's account and a
    // real token.
    let created = graphql(
        &server,
        &format!(
            r#"mutation {{
createAdlsSasTokenEndpointConfiguration(
data: {{
interval: "EVERY_12_HOURS",
storageAccount: "{AZURITE_ACCOUNT}",
fileSystem: "audit-output",
path: "immuta-audit",
sasToken: "{sas}"
}}
)
{{
id
interval
enabled
connectionStatus
endpointConfiguration {{
... on AdlsSasTokenEndpointConfiguration {{
storageAccount
fileSystem
path
}}
}}
}}
}}"#
        ),
    )
    .await;
    let config = &created["data"]["createAdlsSasTokenEndpointConfiguration"];
    assert_eq!(config["connectionStatus"], "SUCCESS", "{created}");
    assert_eq!(config["interval"], "EVERY_12_HOURS");
    let id = config["id"].as_str().unwrap().to_owned();
    assert!(
        !created.to_string().contains("sig="),
        "the SAS token was returned"
    );

    let head = common::head_seq(&server).await;
    graphql(
        &server,
        &format!(r#"mutation {{ exportNow(id: "{id}") {{ id }} }}"#),
    )
    .await;
    wait_for_status(&server, &id, "the first export", |status| {
        status["lastExportedSequence"].as_u64() >= Some(head)
    })
    .await;

    // The destination goes down; the run fails and the events wait in the log.
    let during: Vec<String> = (60..140).map(|n| format!("adls-event-{n}")).collect();
    ingest(&server, &during).await;
    azurite.stop();
    graphql(
        &server,
        &format!(r#"mutation {{ exportNow(id: "{id}") {{ id }} }}"#),
    )
    .await;
    let failed = wait_for_status(&server, &id, "a failed run", |status| {
        status["attempts"].as_u64() >= Some(1) && status["lastError"].is_string()
    })
    .await;
    assert!(
        !failed["lastError"].as_str().unwrap().contains("sig="),
        "{failed}"
    );
    // It comes back: the exporter's own retry delivers the rest. The head is read before the
    // restart: the retry's own completion event may otherwise already be past it.
    let head = common::head_seq(&server).await;
    azurite.restart();
    wait_for_status(&server, &id, "the retried export", |status| {
        status["lastExportedSequence"].as_u64() >= Some(head)
    })
    .await;

    let store = object_store::azure::MicrosoftAzureBuilder::new()
        .with_account(AZURITE_ACCOUNT)
        .with_container_name("audit-output")
        .with_endpoint(format!("{}/{AZURITE_ACCOUNT}", azurite.url()))
        .with_config(object_store::azure::AzureConfigKey::SasKey, sas)
        .with_allow_http(true)
        .build()
        .unwrap();
    let download_dir = tempfile::tempdir().unwrap();
    download(&store, "immuta-audit", download_dir.path()).await;
    let lines = exported_lines(download_dir.path());
    for id in ids.iter().chain(&during) {
        let (line, count) = lines
            .get(id)
            .unwrap_or_else(|| panic!("{id} was not exported"));
        assert_eq!(*count, 1, "{id} exported {count} times");
        assert_eq!(line, &stored_event(&server, id).await);
    }
    assert!(lines.values().all(|(_, count)| *count == 1));
    let output = vigil_verify_export(download_dir.path(), data.path());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}
