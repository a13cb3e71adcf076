//! Destinations as object stores (object_store's S3 and Azure clients), the environment defaults
//! for their endpoints, and the connection test.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AwsCredential};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, Attributes, ClientOptions, ObjectStore, PutOptions, PutPayload, RetryConfig,
};

use super::ExportError;
use super::config::{Destination, ExportConfig};
use super::digest::CONNECTION_TEST_OBJECT;
use super::sts::{AssumeRoleSettings, AssumedRoleCredentials};
use crate::outbound::{OutboundPolicy, PublicOnlyConnector};

/// Timeout of one request to a destination.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Timeout of connecting to a destination.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Retries of one request inside the client; the exporter retries whole runs with its own backoff.
const CLIENT_RETRIES: usize = 2;

/// Endpoint defaults and vigil's own AWS credentials, read from the environment once.
#[derive(Clone, Default)]
pub struct ExportEnvironment {
    /// `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`.
    pub s3_endpoint: Option<String>,
    /// `AWS_ENDPOINT_URL_STS` or `AWS_ENDPOINT_URL`.
    pub sts_endpoint: Option<String>,
    /// `AZURE_STORAGE_USE_EMULATOR` is true: ADLS goes to Azurite (`AZURITE_BLOB_STORAGE_URL`,
    /// default `http://127.0.0.1:10000`).
    pub azure_use_emulator: bool,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`: what roles are assumed
    /// with.
    pub own_aws_credential: Option<Arc<AwsCredential>>,
}

impl std::fmt::Debug for ExportEnvironment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportEnvironment")
            .field("s3_endpoint", &self.s3_endpoint)
            .field("sts_endpoint", &self.sts_endpoint)
            .field("azure_use_emulator", &self.azure_use_emulator)
            .field("own_aws_credential", &self.own_aws_credential.is_some())
            .finish()
    }
}

/// The standard AWS and Azure settings, named by their usual environment variables; the
/// server reads them (through its command line) and hands them over.
#[derive(Clone, Default)]
pub struct CloudSettings {
    /// `AWS_ENDPOINT_URL`: every AWS service's endpoint, unless a specific one is given.
    pub aws_endpoint_url: Option<String>,
    /// `AWS_ENDPOINT_URL_S3`.
    pub aws_endpoint_url_s3: Option<String>,
    /// `AWS_ENDPOINT_URL_STS`.
    pub aws_endpoint_url_sts: Option<String>,
    /// `AWS_ACCESS_KEY_ID`.
    pub aws_access_key_id: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub aws_secret_access_key: Option<String>,
    /// `AWS_SESSION_TOKEN`.
    pub aws_session_token: Option<String>,
    /// `AZURE_STORAGE_USE_EMULATOR`.
    pub azure_storage_use_emulator: bool,
}

impl ExportEnvironment {
    /// The endpoints and vigil's own credential from the standard settings; blank values count
    /// as absent.
    pub fn new(settings: CloudSettings) -> ExportEnvironment {
        let given = |value: Option<String>| value.filter(|value| !value.trim().is_empty());
        let own_aws_credential = match (
            given(settings.aws_access_key_id),
            given(settings.aws_secret_access_key),
        ) {
            (Some(key_id), Some(secret_key)) => Some(Arc::new(AwsCredential {
                key_id,
                secret_key,
                token: given(settings.aws_session_token),
            })),
            _ => None,
        };
        let shared = given(settings.aws_endpoint_url);
        ExportEnvironment {
            s3_endpoint: given(settings.aws_endpoint_url_s3).or_else(|| shared.clone()),
            sts_endpoint: given(settings.aws_endpoint_url_sts).or(shared),
            azure_use_emulator: settings.azure_storage_use_emulator,
            own_aws_credential,
        }
    }
}

/// What an object holds, which its `Content-Type` (and `Content-Encoding`) say, so that lake
/// readers, browsers and `aws s3 cp` treat it right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// Stored events, one JSON object a line, gzip-compressed (`.json.gz`).
    GzipNdjson,
    /// A Parquet file (`.parquet`), compressed inside.
    Parquet,
    /// A JSON document (digests, checkpoints).
    Json,
    /// Plain text (the connection test).
    Text,
}

impl Content {
    fn attributes(self) -> Attributes {
        let mut attributes = Attributes::new();
        let content_type = match self {
            Content::GzipNdjson => {
                attributes.insert(Attribute::ContentEncoding, "gzip".into());
                "application/x-ndjson"
            }
            Content::Parquet => "application/vnd.apache.parquet",
            Content::Json => "application/json",
            Content::Text => "text/plain; charset=utf-8",
        };
        attributes.insert(Attribute::ContentType, content_type.into());
        attributes
    }
}

/// An opened destination.
pub struct Sink {
    /// The store.
    pub store: Arc<dyn ObjectStore>,
    /// The folder everything goes under.
    pub prefix: String,
    assumed_role: Option<Arc<AssumedRoleCredentials>>,
    secrets: Vec<String>,
}

impl Sink {
    /// A sink over any store (tests, and stores opened elsewhere); nothing is redacted.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> Sink {
        Sink {
            store,
            prefix: prefix.trim_matches('/').to_owned(),
            assumed_role: None,
            secrets: Vec::new(),
        }
    }

    /// Writes `bytes` at `relative` under the configuration's path, with the headers of
    /// `content`. The error is the store's, unredacted.
    pub async fn write(
        &self,
        relative: &str,
        bytes: Vec<u8>,
        content: Content,
    ) -> object_store::Result<()> {
        let options = PutOptions {
            attributes: content.attributes(),
            ..PutOptions::default()
        };
        self.store
            .put_opts(&self.key(relative), PutPayload::from(bytes), options)
            .await
            .map(|_| ())
    }

    /// The full key of `relative` under the configuration's path.
    pub fn key(&self, relative: &str) -> ObjectPath {
        full_key(&self.prefix, relative)
    }

    /// An error text safe to store and show: secrets and URL query strings removed.
    pub fn redact(&self, text: &str) -> String {
        redact(text, &self.secrets)
    }

    /// Writes the connection-test object; `SUCCESS` or the error text, as `connectionStatus`.
    pub async fn test_connection(&self, config: &ExportConfig) -> String {
        let what = access_label(&config.destination);
        if let Some(role) = &self.assumed_role
            && let Err(message) = role.credentials().await
        {
            return format!("Error testing access to {what} - {}", self.redact(&message));
        }
        let text = format!(
            "vigil audit export connection test for configuration {} at {}\n",
            config.id,
            super::config::now_text()
        );
        match self
            .write(CONNECTION_TEST_OBJECT, text.into_bytes(), Content::Text)
            .await
        {
            Ok(_) => "SUCCESS".to_owned(),
            Err(error) => format!(
                "Error testing access to {what} - {}",
                self.redact(&error.to_string())
            ),
        }
    }
}

/// What a connection test tried, as its error text names it ("S3 using AssumedRole <arn>").
pub(crate) fn access_label(destination: &Destination) -> String {
    match destination {
        Destination::S3AccessKey { .. } => "S3 using AccessKey".to_owned(),
        Destination::S3AssumedRole { role_arn, .. } => format!("S3 using AssumedRole {role_arn}"),
        Destination::AdlsSasToken { .. } => "ADLS using SasToken".to_owned(),
    }
}

/// `prefix/relative`, or `relative` without a prefix.
pub fn full_key(prefix: &str, relative: &str) -> ObjectPath {
    if prefix.is_empty() {
        ObjectPath::from(relative)
    } else {
        ObjectPath::from(format!("{prefix}/{relative}"))
    }
}

fn client_options(endpoint: Option<&str>) -> ClientOptions {
    ClientOptions::new()
        .with_timeout(REQUEST_TIMEOUT)
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_allow_http(endpoint.is_some_and(|endpoint| endpoint.starts_with("http://")))
}

fn retry_config() -> RetryConfig {
    RetryConfig {
        max_retries: CLIENT_RETRIES,
        retry_timeout: Duration::from_secs(30),
        ..RetryConfig::default()
    }
}

/// Opens the destination of `config` with its unsealed `secret`.
pub fn open_sink(
    config: &ExportConfig,
    secret: Option<String>,
    environment: &ExportEnvironment,
    policy: OutboundPolicy,
) -> Result<Sink, ExportError> {
    // Endpoints an operator set in the environment are trusted; a configuration's own endpoint
    // (or the cloud's public one) is reached only at public addresses under the strict policy.
    let strict = (!policy.allow_private).then_some(PublicOnlyConnector {
        connect_timeout: CONNECT_TIMEOUT,
        timeout: REQUEST_TIMEOUT,
    });
    let cannot = |error: object_store::Error| {
        ExportError::Destination(format!("cannot set up the destination: {error}"))
    };
    let prefix = config.destination.prefix().to_owned();
    let mut secrets: Vec<String> = secret.iter().cloned().collect();
    let mut assumed_role = None;
    let store: Arc<dyn ObjectStore> = match &config.destination {
        Destination::S3AccessKey {
            bucket,
            region,
            access_key_id,
            endpoint,
            ..
        } => {
            let own_endpoint = endpoint.is_some() || environment.s3_endpoint.is_none();
            let endpoint = endpoint.clone().or_else(|| environment.s3_endpoint.clone());
            let secret = secret.ok_or_else(|| {
                ExportError::Destination("the configuration has no secret access key".into())
            })?;
            let mut builder = AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region(region)
                .with_access_key_id(access_key_id)
                .with_secret_access_key(secret)
                .with_client_options(client_options(endpoint.as_deref()))
                .with_retry(retry_config());
            if let Some(endpoint) = endpoint {
                builder = builder.with_endpoint(endpoint);
            }
            if let Some(connector) = strict.filter(|_| own_endpoint) {
                builder = builder.with_http_connector(connector);
            }
            Arc::new(builder.build().map_err(cannot)?)
        }
        Destination::S3AssumedRole {
            bucket,
            region,
            role_arn,
            endpoint,
            ..
        } => {
            let own_endpoint = endpoint.is_some() || environment.s3_endpoint.is_none();
            let endpoint = endpoint.clone().or_else(|| environment.s3_endpoint.clone());
            let own_credential = environment.own_aws_credential.clone().ok_or_else(|| {
                ExportError::Destination(
                    "vigil has no AWS credentials of its own to assume the role with \
                     (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for vigil)"
                        .into(),
                )
            })?;
            secrets.push(own_credential.secret_key.clone());
            let role = Arc::new(AssumedRoleCredentials::new(AssumeRoleSettings {
                endpoint: environment
                    .sts_endpoint
                    .clone()
                    .unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com")),
                region: region.clone(),
                role_arn: role_arn.clone(),
                external_id: config.id.clone(),
                own_credential,
            }));
            assumed_role = Some(role.clone());
            let mut builder = AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region(region)
                .with_credentials(role)
                .with_client_options(client_options(endpoint.as_deref()))
                .with_retry(retry_config());
            if let Some(endpoint) = endpoint {
                builder = builder.with_endpoint(endpoint);
            }
            if let Some(connector) = strict.filter(|_| own_endpoint) {
                builder = builder.with_http_connector(connector);
            }
            Arc::new(builder.build().map_err(cannot)?)
        }
        Destination::AdlsSasToken {
            storage_account,
            file_system,
            endpoint,
            ..
        } => {
            let sas = secret.ok_or_else(|| {
                ExportError::Destination("the configuration has no SAS token".into())
            })?;
            let sas = sas.trim().trim_start_matches('?').to_owned();
            // The token's values appear URL-encoded in request URLs.
            secrets.push(sas.clone());
            for pair in form_urlencoded::parse(sas.as_bytes()) {
                secrets.push(pair.1.into_owned());
            }
            let mut builder = MicrosoftAzureBuilder::new()
                .with_account(storage_account)
                .with_container_name(file_system)
                .with_config(AzureConfigKey::SasKey, sas)
                .with_retry(retry_config());
            match endpoint {
                Some(endpoint) => {
                    builder = builder
                        .with_endpoint(endpoint.clone())
                        .with_client_options(client_options(Some(endpoint)));
                    if let Some(connector) = strict {
                        builder = builder.with_http_connector(connector);
                    }
                }
                None if environment.azure_use_emulator => {
                    // object_store reads `AZURITE_BLOB_STORAGE_URL` itself.
                    builder = builder
                        .with_use_emulator(true)
                        .with_client_options(client_options(Some("http://")));
                }
                None => {
                    builder = builder.with_client_options(client_options(None));
                    if let Some(connector) = strict {
                        builder = builder.with_http_connector(connector);
                    }
                }
            }
            Arc::new(builder.build().map_err(cannot)?)
        }
    };
    secrets.retain(|secret| secret.len() >= 4);
    Ok(Sink {
        store,
        prefix,
        assumed_role,
        secrets,
    })
}

/// What a storage error means, in words a person can act on: from the storage's error code (the
/// `<Code>` of S3's and Azure's XML errors, a fixed vocabulary that carries no secret) or the
/// transport error. `None` when the text says nothing recognisable.
pub(crate) fn cause(text: &str) -> Option<String> {
    let code = text
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.trim());
    let lower = text.to_ascii_lowercase();
    // host:port of the first URL in the text.
    let endpoint = ["https://", "http://"].iter().find_map(|scheme| {
        let at = text.find(scheme)? + scheme.len();
        let rest = &text[at..];
        let end = rest
            .find(|c: char| c == '/' || c == '?' || c == ')' || c.is_whitespace())
            .unwrap_or(rest.len());
        Some(rest[..end].to_owned())
    });
    let by = endpoint.as_deref().unwrap_or("the endpoint");
    let known = match code {
        Some("NoSuchBucket") => "the bucket does not exist",
        Some("AccessDenied") => {
            "access denied by the bucket policy (or by the IAM policy of the credentials)"
        }
        Some("InvalidAccessKeyId") => "the access key id is not known to the storage",
        Some("SignatureDoesNotMatch") => "the secret access key does not match the access key id",
        Some("ExpiredToken" | "TokenRefreshRequired") => "the temporary credentials have expired",
        Some("ContainerNotFound" | "FilesystemNotFound") => {
            "the file system (container) does not exist"
        }
        Some(
            "AuthorizationPermissionMismatch"
            | "AuthorizationFailure"
            | "AuthorizationResourceTypeMismatch"
            | "AuthorizationServiceMismatch",
        ) => {
            "the SAS token does not allow writing here (it needs read, write, create and list on the container)"
        }
        Some("AuthenticationFailed") if lower.contains("expir") || lower.contains("time frame") => {
            "the SAS token has expired"
        }
        Some("AuthenticationFailed") => "the SAS token is not valid for this storage account",
        _ => "",
    };
    if !known.is_empty() {
        return Some(known.to_owned());
    }
    if lower.contains("connection refused") {
        return Some(format!("connection refused by {by}"));
    }
    if lower.contains("dns error")
        || lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
    {
        return Some(format!("the host of {by} does not resolve"));
    }
    if lower.contains("timed out") || lower.contains("deadline has elapsed") {
        return Some(format!("{by} did not answer in time"));
    }
    if lower.contains("certificate") {
        return Some(format!("the TLS certificate of {by} is not trusted"));
    }
    if lower.contains("403 forbidden") {
        return Some(
            "access denied (403): check the bucket policy and what the credentials may do".into(),
        );
    }
    None
}

/// Removes every secret and every URL query string from `text`, led by the [`cause`] it shows.
pub(crate) fn redact(text: &str, secrets: &[String]) -> String {
    let cause = cause(text);
    let clean = redact_only(text, secrets);
    match cause {
        Some(cause) => format!("{cause} ({clean})"),
        None => clean,
    }
}

fn redact_only(text: &str, secrets: &[String]) -> String {
    let mut text = crate::outbound::without_response_body(text);
    for secret in secrets {
        text = text.replace(secret.as_str(), "***");
        let encoded: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        text = text.replace(encoded.as_str(), "***");
    }
    // URLs keep their path but lose their query (SAS signatures live there).
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(start) = rest.find("http") {
        out.push_str(&rest[..start]);
        let url_len = rest[start..]
            .find(|c: char| c.is_whitespace() || c == ')' || c == '"' || c == '\'')
            .unwrap_or(rest.len() - start);
        let url = &rest[start..start + url_len];
        out.push_str(url.split('?').next().unwrap_or(url));
        rest = &rest[start + url_len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn storage_errors_say_their_cause() {
        use super::cause;
        for (text, expected) in [
            (
                "Generic S3 error: Error performing PUT http://127.0.0.1:5000/b/x in 1ms - Server returned non-2xx status code: 404 Not Found: <?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>",
                "the bucket does not exist",
            ),
            (
                "status code: 403 Forbidden: <Error><Code>AccessDenied</Code></Error>",
                "access denied by the bucket policy (or by the IAM policy of the credentials)",
            ),
            (
                "Error performing PUT http://127.0.0.1:10000/acct/fs/x?sig=1 - status code: 403 Forbidden: <Error><Code>AuthenticationFailed</Code><Message>Signature not valid in the specified time frame</Message></Error>",
                "the SAS token has expired",
            ),
            (
                "error sending request for url (http://127.0.0.1:9/b/x): client error (Connect): tcp connect error: Connection refused (os error 111)",
                "connection refused by 127.0.0.1:9",
            ),
        ] {
            assert_eq!(cause(text).as_deref(), Some(expected), "{text}");
        }
        assert_eq!(cause("something else"), None);
        // The cause leads; the body stays out.
        let shown = redact(
            "status code: 404 Not Found: <Error><Code>NoSuchBucket</Code><Message>secret-ish</Message></Error>",
            &[],
        );
        assert!(shown.starts_with("the bucket does not exist ("), "{shown}");
        assert!(!shown.contains("secret-ish"), "{shown}");
    }

    #[test]
    fn errors_lose_secrets_and_query_strings() {
        let text = "error sending request for url (http://127.0.0.1:10000/a/b?sv=2021&sig=abc%2Fdef) with key YOUR/SECRET";
        let clean = redact(text, &["YOUR/SECRET".into(), "abc/def".into()]);
        assert_eq!(
            clean,
            "error sending request for url (http://127.0.0.1:10000/a/b) with key ***"
        );
    }
}
