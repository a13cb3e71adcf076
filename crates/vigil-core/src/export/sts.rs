//! S3 with an assumed role: STS `AssumeRole` (signed by object_store's SigV4 signer) with the
//! configuration id as external id, and a credential provider that refreshes before expiry.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use object_store::CredentialProvider;
use object_store::aws::{AwsAuthorizer, AwsCredential};
use tokio::sync::Mutex;

/// How long the temporary credentials are asked for.
const SESSION_SECONDS: u64 = 3600;
/// Credentials this close to expiry are refreshed before use.
const REFRESH_MARGIN: chrono::TimeDelta = chrono::TimeDelta::minutes(5);
/// Timeout of one STS call.
const STS_TIMEOUT: Duration = Duration::from_secs(15);

/// What a role is assumed with.
#[derive(Clone)]
pub struct AssumeRoleSettings {
    /// STS endpoint, such as `https://sts.us-east-1.amazonaws.com`.
    pub endpoint: String,
    /// Region the request is signed for.
    pub region: String,
    /// The role.
    pub role_arn: String,
    /// The configuration id.
    pub external_id: String,
    /// vigil's own credentials.
    pub own_credential: Arc<AwsCredential>,
}

impl std::fmt::Debug for AssumeRoleSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssumeRoleSettings")
            .field("endpoint", &self.endpoint)
            .field("role_arn", &self.role_arn)
            .finish_non_exhaustive()
    }
}

/// Temporary credentials of an assumed role, refreshed before they expire.
#[derive(Debug)]
pub struct AssumedRoleCredentials {
    settings: AssumeRoleSettings,
    client: reqwest::Client,
    cached: Mutex<Option<(Arc<AwsCredential>, DateTime<Utc>)>>,
}

impl AssumedRoleCredentials {
    /// A provider for `settings`; nothing is called until credentials are needed.
    pub fn new(settings: AssumeRoleSettings) -> AssumedRoleCredentials {
        AssumedRoleCredentials {
            settings,
            client: reqwest::Client::builder()
                .timeout(STS_TIMEOUT)
                .build()
                .unwrap_or_default(),
            cached: Mutex::new(None),
        }
    }

    /// Valid credentials, assuming the role when there are none or they expire soon. The error is
    /// STS's own message.
    pub async fn credentials(&self) -> Result<Arc<AwsCredential>, String> {
        let mut cached = self.cached.lock().await;
        if let Some((credential, expires)) = cached.as_ref()
            && *expires - REFRESH_MARGIN > Utc::now()
        {
            return Ok(credential.clone());
        }
        let (credential, expires) = self.assume_role().await?;
        let credential = Arc::new(credential);
        *cached = Some((credential.clone(), expires));
        Ok(credential)
    }

    async fn assume_role(&self) -> Result<(AwsCredential, DateTime<Utc>), String> {
        let settings = &self.settings;
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("Action", "AssumeRole")
            .append_pair("DurationSeconds", &SESSION_SECONDS.to_string())
            .append_pair("ExternalId", &settings.external_id)
            .append_pair("RoleArn", &settings.role_arn)
            .append_pair("RoleSessionName", "vigil-audit-export")
            .append_pair("Version", "2011-06-15")
            .finish();
        let url = format!("{}/", settings.endpoint.trim_end_matches('/'));
        let mut request = http::Request::builder()
            .method("POST")
            .uri(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(object_store::client::HttpRequestBody::from(body.clone()))
            .map_err(|error| format!("invalid STS endpoint {url}: {error}"))?;
        AwsAuthorizer::new(&settings.own_credential, "sts", &settings.region)
            .authorize(&mut request, None);
        let mut outgoing = self.client.post(&url).body(body);
        for (name, value) in request.headers() {
            outgoing = outgoing.header(name.as_str(), value.as_bytes());
        }
        let response = outgoing
            .send()
            .await
            .map_err(|error| format!("calling STS at {url}: {}", error.without_url()))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|error| format!("reading the STS answer: {}", error.without_url()))?;
        if !status.is_success() {
            let message = xml_value(&text, "Message").unwrap_or_else(|| format!("HTTP {status}"));
            return Err(message);
        }
        let field = |name: &str| {
            xml_value(&text, name).ok_or_else(|| format!("the STS answer has no {name}"))
        };
        let expires = DateTime::parse_from_rfc3339(&field("Expiration")?)
            .map_err(|error| format!("the STS answer has a bad Expiration: {error}"))?
            .with_timezone(&Utc);
        Ok((
            AwsCredential {
                key_id: field("AccessKeyId")?,
                secret_key: field("SecretAccessKey")?,
                token: Some(field("SessionToken")?),
            },
            expires,
        ))
    }
}

#[async_trait::async_trait]
impl CredentialProvider for AssumedRoleCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        self.credentials()
            .await
            .map_err(|message| object_store::Error::Generic {
                store: "S3",
                source: format!("assuming role {}: {message}", self.settings.role_arn).into(),
            })
    }
}

/// The text of the first `<name>…</name>` element, unescaped.
fn xml_value(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(
        xml[start..end]
            .trim()
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::xml_value;

    #[test]
    fn sts_answers_are_read() {
        let answer = "<AssumeRoleResponse><AssumeRoleResult><Credentials>\
            <AccessKeyId>ASIA1</AccessKeyId><SecretAccessKey>s/k</SecretAccessKey>\
            <SessionToken>tok</SessionToken><Expiration>2026-11-22T12:00:00Z</Expiration>\
            </Credentials></AssumeRoleResult></AssumeRoleResponse>";
        assert_eq!(xml_value(answer, "AccessKeyId").as_deref(), Some("ASIA1"));
        let error = "<ErrorResponse><Error><Code>AccessDenied</Code><Message>User: a is not \
            authorized to perform: sts:AssumeRole on resource: &lt;role&gt;</Message></Error></ErrorResponse>";
        assert!(
            xml_value(error, "Message")
                .unwrap()
                .ends_with("resource: <role>")
        );
        assert_eq!(xml_value(error, "Missing"), None);
    }
}
