//! Secrets at rest: the master key that seals export secrets (AES-256-GCM), and the key files of
//! the data directory.

use std::io::Write;
use std::path::Path;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use super::ExportError;

/// The master key file in the data directory, used unless `VIGIL_MASTER_KEY` is set.
pub const MASTER_KEY_FILE: &str = "master.key";

/// Length of a master key in bytes.
const MASTER_KEY_BYTES: usize = 32;

/// Seals and opens secrets stored in the database.
pub struct MasterKey(LessSafeKey);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// The key given as 64 hex characters (`VIGIL_MASTER_KEY`), or else the data directory's key
    /// file, created on first use.
    pub fn load(data_dir: &Path, given: Option<&str>) -> Result<MasterKey, ExportError> {
        let bytes = match given {
            Some(text) => {
                let bytes = hex::decode(text.trim())
                    .ok()
                    .filter(|b| b.len() == MASTER_KEY_BYTES);
                bytes.ok_or_else(|| {
                    ExportError::Key(format!(
                        "VIGIL_MASTER_KEY must be {} hex characters ({MASTER_KEY_BYTES} random bytes)",
                        MASTER_KEY_BYTES * 2
                    ))
                })?
            }
            None => load_or_create_key_file(&data_dir.join(MASTER_KEY_FILE), || {
                random_bytes(MASTER_KEY_BYTES)
            })?,
        };
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| ExportError::Key("the master key has the wrong length".into()))?;
        Ok(MasterKey(LessSafeKey::new(key)))
    }

    /// The master key of `log`: on the embedded log as [`MasterKey::load`]; a cluster's nodes
    /// must all be given the same key (`VIGIL_MASTER_KEY`), since one node's key file could not
    /// open what another node sealed.
    pub fn for_log(
        log: &crate::log::EventLog,
        data_dir: &Path,
        given: Option<&str>,
    ) -> Result<MasterKey, ExportError> {
        if log.is_shared() && given.is_none() {
            return Err(ExportError::Key(
                "a cluster (--database-url) needs VIGIL_MASTER_KEY, the same 64 hex characters on every node: secrets sealed by one node must open on every other".into(),
            ));
        }
        MasterKey::load(data_dir, given)
    }

    /// Seals `secret`, bound to `owner` (the configuration id): nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, owner: &str, secret: &str) -> Result<Vec<u8>, ExportError> {
        let nonce_bytes: [u8; NONCE_LEN] =
            random_bytes(NONCE_LEN)?.try_into().expect("nonce length");
        let mut sealed = secret.as_bytes().to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(owner.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| ExportError::Key("could not seal a secret".into()))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens what [`MasterKey::seal`] sealed for `owner`.
    pub fn open(&self, owner: &str, sealed: &[u8]) -> Result<String, ExportError> {
        let unreadable = || {
            ExportError::Key(format!(
                "the stored secret of configuration {owner} cannot be opened with this master key \
                 (was VIGIL_MASTER_KEY or {MASTER_KEY_FILE} changed?); update the configuration with its secret"
            ))
        };
        if sealed.len() < NONCE_LEN {
            return Err(unreadable());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| unreadable())?;
        let mut buffer = ciphertext.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(owner.as_bytes()), &mut buffer)
            .map_err(|_| unreadable())?;
        String::from_utf8(plain.to_vec()).map_err(|_| unreadable())
    }
}

/// `length` bytes from the system's secure random source.
pub(crate) fn random_bytes(length: usize) -> Result<Vec<u8>, ExportError> {
    let mut bytes = vec![0u8; length];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ExportError::Key("the system random source failed".into()))?;
    Ok(bytes)
}

/// Reads a key file (hex), or creates it readable by the owner only with `generate`'s bytes.
pub(crate) fn load_or_create_key_file(
    path: &Path,
    generate: impl FnOnce() -> Result<Vec<u8>, ExportError>,
) -> Result<Vec<u8>, ExportError> {
    let key_error = |what: &str, error: &dyn std::fmt::Display| {
        ExportError::Key(format!("{what} {}: {error}", path.display()))
    };
    match std::fs::read_to_string(path) {
        Ok(text) => hex::decode(text.trim()).map_err(|error| key_error("reading key file", &error)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let bytes = generate()?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options
                .open(path)
                .map_err(|error| key_error("creating key file", &error))?;
            file.write_all(hex::encode(&bytes).as_bytes())
                .and_then(|()| file.write_all(b"\n"))
                .and_then(|()| file.sync_all())
                .map_err(|error| key_error("writing key file", &error))?;
            Ok(bytes)
        }
        Err(error) => Err(key_error("reading key file", &error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_for_their_owner_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::load(dir.path(), None).unwrap();
        let sealed = key.seal("config-1", "YOUR/SECRET/ACCESSKEY").unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("SECRET"));
        assert_eq!(
            key.open("config-1", &sealed).unwrap(),
            "YOUR/SECRET/ACCESSKEY"
        );
        assert!(key.open("config-2", &sealed).is_err());
        // The key file is reused on the next start.
        let again = MasterKey::load(dir.path(), None).unwrap();
        assert_eq!(
            again.open("config-1", &sealed).unwrap(),
            "YOUR/SECRET/ACCESSKEY"
        );
        let other = MasterKey::load(dir.path(), Some(&"ab".repeat(32))).unwrap();
        assert!(other.open("config-1", &sealed).is_err());
        assert!(MasterKey::load(dir.path(), Some("short")).is_err());
    }
}
