//! A real OpenID provider for the sign-in tests: the npm registry's `oidc-provider` (installed by
//! `scripts/test.sh`) run by `tests/fixtures/oidc_provider.mjs` on a free loopback port, with its
//! development login and consent pages and accounts whose `groups` claim vigil maps.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::emulators::{free_port, program};

/// The client vigil is at the provider.
pub const CLIENT_ID: &str = "vigil";
/// Its secret.
pub const CLIENT_SECRET: &str = "vigil-test-client-secret";

/// A running provider; stopped on drop.
pub struct Provider {
    child: Child,
    /// Its issuer URL, `http://localhost:PORT`: another site than vigil's `127.0.0.1`, so the
    /// sign-in crosses sites as it does in a deployment.
    pub issuer: String,
}

impl Provider {
    /// Starts the provider with one client whose redirect URI is `redirect`, and waits until its
    /// discovery document answers.
    pub async fn start(redirect: &str) -> Provider {
        let package = std::env::var_os("VIGIL_TEST_OIDC_PROVIDER")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var("HOME").unwrap_or_default())
                    .join(".cache/vigil-test-tools/oidc-provider/node_modules/oidc-provider")
            });
        assert!(
            package.join("lib/index.js").exists(),
            "oidc-provider is missing at {}: run scripts/test.sh (it installs it), or point \
             VIGIL_TEST_OIDC_PROVIDER at the package",
            package.display()
        );
        let port = free_port();
        let child = Command::new(program("VIGIL_TEST_NODE", "node"))
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oidc_provider.mjs"))
            .args([&port.to_string(), CLIENT_ID, CLIENT_SECRET, redirect])
            .env("VIGIL_TEST_OIDC_PROVIDER", &package)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts the OpenID provider");
        let provider = Provider {
            child,
            issuer: format!("http://localhost:{port}"),
        };
        let discovery = format!("http://127.0.0.1:{port}/.well-known/openid-configuration");
        let started = Instant::now();
        loop {
            if let Ok(response) = reqwest::get(&discovery).await
                && response.status().is_success()
            {
                return provider;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the OpenID provider did not answer at {discovery}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
