//! Rules for the hosts vigil calls on its administrators' behalf (export destinations, integration
//! hosts): no credentials in URLs, no loopback, private or link-local addresses unless the operator
//! allows them, and error texts that never carry what a remote server answered.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether vigil may call hosts on loopback, private or link-local addresses (an operator's
/// `--allow-private-endpoints`, for emulators, MinIO on the same network, and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Allow loopback, private, link-local and other non-public addresses.
    pub allow_private: bool,
}

/// Checks an `http(s)://host` URL field: a host, no credentials, no query string.
pub fn validate_url(field: &str, text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text)
        .map_err(|error| format!("{field}: `{text}` is not a URL ({error})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "{field}: `{text}` must be an http(s) URL with a host"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{field}: must not carry credentials (give them in their own fields, where they are sealed)"
        ));
    }
    if url.query().is_some() {
        return Err(format!("{field}: must not carry a query string"));
    }
    Ok(url)
}

/// Whether an address is one vigil calls only when the operator allows it: loopback, private
/// (RFC 1918, unique local), link-local (cloud metadata services live there), carrier-grade NAT,
/// unspecified, broadcast, documentation or multicast.
pub fn is_non_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_non_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_non_public_v4(v4),
            None => is_non_public_v6(v6),
        },
    }
}

fn is_non_public_v4(address: Ipv4Addr) -> bool {
    let [a, b, ..] = address.octets();
    address.is_loopback()
        || address.is_private()
        || address.is_link_local()
        || address.is_unspecified()
        || address.is_broadcast()
        || address.is_documentation()
        || address.is_multicast()
        || (a == 100 && (64..128).contains(&b))
        || a == 0
}

fn is_non_public_v6(address: Ipv6Addr) -> bool {
    let first = address.segments()[0];
    address.is_loopback()
        || address.is_unspecified()
        || address.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
}

/// Refuses `field`'s URL when its host is, or resolves to, a non-public address and the policy
/// does not allow those. A name that does not resolve is left to the connection to report.
pub async fn check_destination(
    field: &str,
    text: &str,
    policy: OutboundPolicy,
) -> Result<(), String> {
    let url = validate_url(field, text)?;
    let host = url.host_str().unwrap_or_default().to_owned();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    check_host(
        field,
        bare,
        url.port_or_known_default().unwrap_or(443),
        policy,
    )
    .await
}

/// Refuses `host` (a name or an address) when it is, or resolves to, a non-public address and
/// the policy does not allow those. A name that does not resolve is left to the connection.
pub async fn check_host(
    field: &str,
    host: &str,
    port: u16,
    policy: OutboundPolicy,
) -> Result<(), String> {
    if policy.allow_private {
        return Ok(());
    }
    let refused = || {
        format!(
            "{field}: `{host}` is a loopback, private or link-local address, which vigil does not call unless started with --allow-private-endpoints"
        )
    };
    if let Ok(address) = host.parse::<IpAddr>() {
        return if is_non_public(address) {
            Err(refused())
        } else {
            Ok(())
        };
    }
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
        return Err(refused());
    }
    if let Ok(addresses) = tokio::net::lookup_host((host, port)).await {
        for address in addresses {
            if is_non_public(address.ip()) {
                return Err(refused());
            }
        }
    }
    Ok(())
}

/// The DNS resolver of vigil's outbound HTTP clients under a strict policy: it drops loopback,
/// private and link-local addresses from every answer, at every connection. Checking a name once,
/// when it is configured, is not enough: a name can resolve to a public address then and to a
/// private one later (DNS rebinding).
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let public: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|address| !is_non_public(address.ip()))
                .collect();
            if public.is_empty() {
                return Err(format!(
                    "`{host}` resolves only to loopback, private or link-local addresses, which vigil does not call unless started with --allow-private-endpoints"
                )
                .into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// An HTTP client for calls out under `policy`: with the strict policy, every connection goes
/// only to public addresses ([`PublicOnlyResolver`]).
pub fn http_client(
    policy: OutboundPolicy,
    connect_timeout: std::time::Duration,
    timeout: std::time::Duration,
) -> reqwest::Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(timeout);
    if policy.allow_private {
        builder.build()
    } else {
        builder
            .dns_resolver(std::sync::Arc::new(PublicOnlyResolver))
            .build()
    }
}

/// object_store's HTTP clients under the strict policy: [`http_client`] with the given timeouts.
#[derive(Debug, Clone, Copy)]
pub struct PublicOnlyConnector {
    /// How long a connection may take.
    pub connect_timeout: std::time::Duration,
    /// How long a request may take.
    pub timeout: std::time::Duration,
}

impl object_store::client::HttpConnector for PublicOnlyConnector {
    fn connect(
        &self,
        _options: &object_store::ClientOptions,
    ) -> object_store::Result<object_store::client::HttpClient> {
        let client = http_client(
            OutboundPolicy::default(),
            self.connect_timeout,
            self.timeout,
        )
        .map_err(|error| object_store::Error::Generic {
            store: "vigil",
            source: Box::new(error),
        })?;
        Ok(object_store::client::HttpClient::new(client))
    }
}

/// An error text without what the remote server sent in its body: the HTTP clients append the
/// body after the status (`… status code: 403 Forbidden: <body>`), and a body is neither shown
/// to callers nor stored. The status and the cause in words stay.
pub fn without_response_body(text: &str) -> String {
    const MARKER: &str = "status code: ";
    let Some(at) = text.find(MARKER) else {
        return text.to_owned();
    };
    let after = &text[at + MARKER.len()..];
    // `403 Forbidden` then `: <body>`; keep the code and the reason phrase.
    match after.find(": ") {
        Some(end) => format!(
            "{}{} (response body not shown)",
            &text[..at + MARKER.len()],
            &after[..end]
        ),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_public_addresses_are_recognised() {
        for text in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_non_public(text.parse().unwrap()), "{text}");
        }
        for text in ["8.8.8.8", "52.95.110.1", "2606:4700::1111"] {
            assert!(!is_non_public(text.parse().unwrap()), "{text}");
        }
    }

    #[test]
    fn urls_may_not_carry_credentials() {
        assert!(validate_url("endpoint", "https://s3.example.com").is_ok());
        let error = validate_url("endpoint", "https://user:pass@s3.example.com").unwrap_err();
        assert!(
            error.starts_with("endpoint: must not carry credentials"),
            "{error}"
        );
        assert!(validate_url("endpoint", "ftp://s3.example.com").is_err());
    }

    #[tokio::test]
    async fn private_destinations_need_the_operators_consent() {
        let strict = OutboundPolicy::default();
        for url in [
            "http://127.0.0.1:9000",
            "http://[::1]:9000",
            "http://169.254.169.254/latest",
            "http://localhost:10000/devstoreaccount1",
        ] {
            let error = check_destination("endpoint", url, strict)
                .await
                .unwrap_err();
            assert!(
                error.contains("--allow-private-endpoints"),
                "{url}: {error}"
            );
        }
        let open = OutboundPolicy {
            allow_private: true,
        };
        assert!(
            check_destination("endpoint", "http://127.0.0.1:9000", open)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn every_connection_of_a_strict_client_goes_to_public_addresses_only() {
        // A name that resolves to loopback at connection time (as a rebound name would) is not
        // called, although a server listens there.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let timeout = std::time::Duration::from_secs(5);
        let strict = http_client(OutboundPolicy::default(), timeout, timeout).unwrap();
        let error = strict
            .get(format!("http://localhost:{port}/"))
            .send()
            .await
            .unwrap_err();
        let chain = format!("{:?}", anyhow_chain(&error));
        assert!(chain.contains("--allow-private-endpoints"), "{chain}");

        // The same call with the operator's consent connects.
        let open = OutboundPolicy {
            allow_private: true,
        };
        let client = http_client(open, timeout, timeout).unwrap();
        let accepted = tokio::spawn(async move { listener.accept().await.is_ok() });
        let _ = client
            .get(format!("http://localhost:{port}/"))
            .timeout(std::time::Duration::from_millis(500))
            .send()
            .await;
        assert!(accepted.await.unwrap(), "the allowed call connected");
    }

    /// An error and its sources, as text.
    fn anyhow_chain(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
        let mut texts = Vec::new();
        let mut cause = Some(error);
        while let Some(error) = cause {
            texts.push(error.to_string());
            cause = error.source();
        }
        texts
    }

    #[test]
    fn response_bodies_are_cut_from_errors() {
        let text = "Error performing PUT http://x/a in 1ms - Server returned non-2xx status code: 403 Forbidden: <Error><Code>AccessDenied</Code><Secret>leak</Secret></Error>";
        assert_eq!(
            without_response_body(text),
            "Error performing PUT http://x/a in 1ms - Server returned non-2xx status code: 403 Forbidden (response body not shown)"
        );
        assert_eq!(
            without_response_body("connection refused"),
            "connection refused"
        );
    }
}
