//! TLS for the listener (rustls): a certificate chain and a private key in PEM files, read at
//! start and read again whenever either file changes, so a rotated certificate is served to new
//! connections without a restart. A pair that does not load keeps the one in use, and says why.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// How often the files are looked at for a change.
const RELOAD_CHECK: Duration = Duration::from_secs(1);

/// The certificate and key files, and the configuration made of them.
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<ServerConfig>>,
    seen: RwLock<(Stamp, Stamp)>,
}

/// What says a file changed: its modification time and length.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}

/// Reads the pair into a server configuration; the message names the file that is wrong.
fn load(cert: &Path, key: &Path) -> Result<ServerConfig, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|error| format!("--tls-cert {}: {error}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|error| format!("--tls-cert {}: {error}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "--tls-cert {}: holds no PEM certificate",
            cert.display()
        ));
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|error| format!("--tls-key {}: {error}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS: {error}"))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|error| {
            format!(
                "--tls-cert {} and --tls-key {}: {error}",
                cert.display(),
                key.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

impl Tls {
    /// Loads the pair; an error says which file is wrong and why.
    pub fn open(cert: PathBuf, key: PathBuf) -> Result<Arc<Tls>, String> {
        let seen = (stamp(&cert), stamp(&key));
        let config = load(&cert, &key)?;
        Ok(Arc::new(Tls {
            cert,
            key,
            current: RwLock::new(Arc::new(config)),
            seen: RwLock::new(seen),
        }))
    }

    /// The acceptor for the next connection, with the configuration in use now.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.current.read().expect("tls lock").clone())
    }

    /// Reads the pair again when a file changed since it was last read.
    fn reload_if_changed(&self) {
        let now = (stamp(&self.cert), stamp(&self.key));
        if *self.seen.read().expect("tls lock") == now {
            return;
        }
        match load(&self.cert, &self.key) {
            Ok(config) => {
                *self.current.write().expect("tls lock") = Arc::new(config);
                *self.seen.write().expect("tls lock") = now;
                tracing::info!(cert = %self.cert.display(), "reloaded the TLS certificate");
            }
            // Half-written (the certificate renewed before the key): the next change retries.
            Err(error) => {
                *self.seen.write().expect("tls lock") = now;
                tracing::warn!(%error, "the TLS files changed but do not load; serving the previous certificate");
            }
        }
    }

    /// Looks at the files every second until `stop` says so.
    pub async fn watch(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(RELOAD_CHECK) => {}
                _ = stop.changed() => return,
            }
            let tls = self.clone();
            let _ = tokio::task::spawn_blocking(move || tls.reload_if_changed()).await;
        }
    }
}
