//! Verifiable exports: the signed digest each export run writes, object and digest names, and the
//! verification of a downloaded export (`vigil verify-export`).

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest as _, Sha256};

use super::ExportError;
use super::secrets::load_or_create_key_file;
use crate::log::Seq;

/// The signing key file in the data directory (PKCS#8, hex).
pub const SIGNING_KEY_FILE: &str = "export-signing.key";

/// The format name every digest carries.
pub const DIGEST_FORMAT: &str = "vigil-export-digest/1";

/// The file written to test a destination.
pub const CONNECTION_TEST_OBJECT: &str = ".immuta.export.log";

/// The Ed25519 key that signs digests.
pub struct SigningKey(Ed25519KeyPair);

impl SigningKey {
    /// The data directory's key, created on first use.
    pub fn load(data_dir: &Path) -> Result<SigningKey, ExportError> {
        let pkcs8 = load_or_create_key_file(&data_dir.join(SIGNING_KEY_FILE), || {
            Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
                .map(|document| document.as_ref().to_vec())
                .map_err(|_| ExportError::Key("could not generate a signing key".into()))
        })?;
        Ed25519KeyPair::from_pkcs8(&pkcs8)
            .map(SigningKey)
            .map_err(|error| ExportError::Key(format!("the signing key is unreadable: {error}")))
    }

    /// The signing key of `log`: the data directory's for the embedded log; for a cluster, one
    /// key shared by every node, kept in the database sealed with the master key (the first node
    /// to need it creates it), so every node signs digests and checkpoints alike.
    pub fn for_log(
        log: &crate::log::EventLog,
        data_dir: &Path,
        master: &super::MasterKey,
    ) -> Result<SigningKey, ExportError> {
        if !log.is_shared() {
            return SigningKey::load(data_dir);
        }
        const NAME: &str = "export-signing";
        let read = |log: &crate::log::EventLog| {
            log.query(|db| {
                db.query_optional(
                    "SELECT sealed FROM cluster_keys WHERE name = ?1",
                    &[NAME.into()],
                )?
                .map(|row| row.bytes(0).map(<[u8]>::to_vec))
                .transpose()
            })
        };
        let sealed = match read(log)? {
            Some(sealed) => sealed,
            None => {
                let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
                    .map_err(|_| ExportError::Key("could not generate a signing key".into()))?;
                let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
                    .map_err(|error| ExportError::Key(error.to_string()))?;
                let public_key = hex::encode(key.public_key().as_ref());
                let sealed = master.seal(NAME, &hex::encode(pkcs8.as_ref()))?;
                // Another node may create one at the same moment: the first stored wins.
                log.append_blocking(
                    Vec::new(),
                    Some(Box::new(move |db| {
                        db.execute(
                            "INSERT INTO cluster_keys (name, sealed, public_key) VALUES (?1, ?2, ?3)
                             ON CONFLICT (name) DO NOTHING",
                            &[NAME.into(), sealed.into(), public_key.into()],
                        )
                        .map(|_| ())
                    })),
                )?;
                read(log)?
                    .ok_or_else(|| ExportError::Key("the cluster's signing key vanished".into()))?
            }
        };
        let pkcs8 = hex::decode(master.open(NAME, &sealed)?)
            .map_err(|_| ExportError::Key("the cluster's signing key is unreadable".into()))?;
        Ed25519KeyPair::from_pkcs8(&pkcs8)
            .map(SigningKey)
            .map_err(|error| ExportError::Key(format!("the signing key is unreadable: {error}")))
    }

    /// The public key (hex) of a cluster's signing key, as stored beside it; `None` before any
    /// node created one.
    pub fn cluster_public_key_hex(
        log: &crate::log::EventLog,
    ) -> Result<Option<String>, ExportError> {
        Ok(log.query(|db| {
            db.query_optional(
                "SELECT public_key FROM cluster_keys WHERE name = 'export-signing'",
                &[],
            )?
            .map(|row| row.string(0))
            .transpose()
        })?)
    }

    /// The public key (hex) of the data directory's signing key, read without creating one;
    /// `None` when there is none.
    pub fn existing_public_key_hex(data_dir: &Path) -> Result<Option<String>, ExportError> {
        let path = data_dir.join(SIGNING_KEY_FILE);
        if !path.exists() {
            return Ok(None);
        }
        SigningKey::load(data_dir).map(|key| Some(key.public_key_hex()))
    }

    /// The public key, hex.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.0.public_key().as_ref())
    }

    /// Signs `message`; hex.
    pub fn sign_hex(&self, message: &[u8]) -> String {
        hex::encode(self.0.sign(message).as_ref())
    }
}

/// Checks an Ed25519 `signature` (hex) of `message` with `public_key` (hex), saying in words
/// what is wrong.
pub fn verify_hex_signature(
    public_key: &str,
    message: &[u8],
    signature: &str,
) -> Result<(), String> {
    let key = hex::decode(public_key.trim())
        .ok()
        .filter(|key| key.len() == 32)
        .ok_or("the public key must be 64 hex characters")?;
    let signature = hex::decode(signature).map_err(|_| "the signature is not hex")?;
    UnparsedPublicKey::new(&ED25519, key)
        .verify(message, &signature)
        .map_err(|_| "the signature does not verify with the given public key".to_owned())
}

/// One exported object as its digest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestObject {
    /// Key relative to the configuration's path.
    pub key: String,
    /// SHA-256 of the object's bytes, hex.
    pub sha256: String,
    /// Events (lines) in the object.
    pub events: u64,
    /// First sequence number of the range the object holds.
    pub first_seq: Seq,
    /// Last sequence number of the range.
    pub last_seq: Seq,
}

/// The signed body of a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Digest {
    /// [`DIGEST_FORMAT`].
    pub format: String,
    /// The export configuration.
    pub configuration_id: String,
    /// When the digest was written (RFC 3339).
    pub created_at: String,
    /// First sequence number of the run.
    pub first_seq: Seq,
    /// Last sequence number of the run.
    pub last_seq: Seq,
    /// The run's objects, in sequence order.
    pub objects: Vec<DigestObject>,
    /// Key of the previous run's digest, relative to the configuration's path.
    pub previous_digest_key: Option<String>,
    /// SHA-256 of the previous digest file's bytes, hex.
    pub previous_digest_sha256: Option<String>,
    /// The public key that verifies the signature, hex.
    pub public_key: String,
}

#[derive(Deserialize)]
struct DigestFile<'a> {
    #[serde(borrow)]
    digest: &'a RawValue,
    signature: String,
}

/// The bytes of a digest file: the digest and the signature over its exact JSON text.
pub fn signed_digest_file(digest: &Digest, key: &SigningKey) -> Vec<u8> {
    let body = serde_json::to_string(digest).expect("digest serializes");
    let signature = key.sign_hex(body.as_bytes());
    format!("{{\"digest\":{body},\"signature\":\"{signature}\"}}\n").into_bytes()
}

/// SHA-256, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Key of the object holding `first..=last`, exported on `date` (`YYYY/MM/DD`).
pub fn object_key(date: &str, first: Seq, last: Seq) -> String {
    format!("{date}/vigil-audit-{first:020}-{last:020}.json.gz")
}

/// Key of the Parquet object holding the events of `first..=last` whose event date (UTC) is
/// `event_date` (`YYYY-MM-DD`): a Hive-style partition under `events/`.
pub fn parquet_object_key(event_date: &str, first: Seq, last: Seq) -> String {
    format!("events/event_date={event_date}/vigil-audit-{first:020}-{last:020}.parquet")
}

/// Key of the digest of the run that exported `first..=last`.
pub fn digest_key(date: &str, first: Seq, last: Seq) -> String {
    format!("digests/{date}/vigil-digest-{first:020}-{last:020}.json")
}

/// What `verify-export` found.
#[derive(Debug, Default)]
pub struct ExportVerifyReport {
    /// Digests whose signature and objects were checked.
    pub digests: usize,
    /// Objects checked against their digest.
    pub objects: usize,
    /// Events in the checked objects.
    pub events: u64,
    /// First and last sequence number covered.
    pub seq_range: Option<(Seq, Seq)>,
    /// Problems, each naming the file; empty when the export verifies.
    pub problems: Vec<String>,
    /// Remarks that are not failures (where the chain starts).
    pub notes: Vec<String>,
}

impl ExportVerifyReport {
    /// Whether everything verified.
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.digests > 0
    }
}

fn relative(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Checks a downloaded export (the configuration's path as a local directory) against its
/// digests: every digest's signature with `public_key` (hex), every listed object's SHA-256 and
/// line count, the chain of digests, and that no object is unlisted.
pub fn verify_export_dir(dir: &Path, public_key: &str) -> Result<ExportVerifyReport, ExportError> {
    let public_key = hex::decode(public_key.trim())
        .ok()
        .filter(|key| key.len() == 32)
        .ok_or_else(|| ExportError::Invalid("the public key must be 64 hex characters".into()))?;
    let verifier = UnparsedPublicKey::new(&ED25519, public_key);
    let mut files = Vec::new();
    walk(dir, &mut files)
        .map_err(|error| ExportError::Invalid(format!("cannot read {}: {error}", dir.display())))?;
    let mut report = ExportVerifyReport::default();
    let mut digests: Vec<(String, Digest, String)> = Vec::new();
    let mut objects_on_disk = BTreeSet::new();
    for path in &files {
        let key = relative(dir, path);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if key.starts_with("digests/") && name.starts_with("vigil-digest-") {
            let bytes = match std::fs::read(path) {
                Ok(bytes) => bytes,
                Err(error) => {
                    report
                        .problems
                        .push(format!("digest {key}: unreadable: {error}"));
                    continue;
                }
            };
            match open_digest(&bytes, &verifier) {
                Ok(digest) => digests.push((key, digest, sha256_hex(&bytes))),
                Err(problem) => report.problems.push(format!("digest {key}: {problem}")),
            }
        } else if name.starts_with("vigil-audit-") {
            objects_on_disk.insert(key);
        }
    }
    digests.sort_by_key(|(_, digest, _)| (digest.first_seq, digest.last_seq));
    let mut listed = BTreeSet::new();
    for (index, (key, digest, _)) in digests.iter().enumerate() {
        report.digests += 1;
        if index == 0 {
            if let Some(previous) = &digest.previous_digest_key {
                report.notes.push(format!(
                    "the chain in this directory starts at {key}, after {previous}, which is not here"
                ));
            }
        } else {
            let (previous_key, previous_digest, previous_sha) = &digests[index - 1];
            if digest.previous_digest_key.as_deref() != Some(previous_key.as_str()) {
                report.problems.push(format!(
                    "digest {key}: its previous digest is {}, but the digest before it here is {previous_key} (a digest is missing or out of order)",
                    digest.previous_digest_key.as_deref().unwrap_or("none"),
                ));
            } else if digest.previous_digest_sha256.as_deref() != Some(previous_sha.as_str()) {
                report.problems.push(format!(
                    "digest {previous_key}: altered (its SHA-256 differs from the one recorded in {key})"
                ));
            } else if digest.first_seq != previous_digest.last_seq + 1 {
                report.problems.push(format!(
                    "digest {key}: starts at sequence {} but {previous_key} ended at {}",
                    digest.first_seq, previous_digest.last_seq
                ));
            }
        }
        let mut expected_first = digest.first_seq;
        // The Parquet objects of one range (one per event date) follow each other; together they
        // hold each event of the range once.
        let mut range: Option<(Seq, Seq)> = None;
        let mut seqs_of_range = BTreeSet::new();
        for object in &digest.objects {
            listed.insert(object.key.clone());
            let another_part = range == Some((object.first_seq, object.last_seq))
                && object.key.ends_with(PARQUET_SUFFIX);
            if !another_part {
                seqs_of_range.clear();
                if object.first_seq != expected_first {
                    report.problems.push(format!(
                        "digest {key}: object {} starts at sequence {}, expected {expected_first} (reordered or missing object)",
                        object.key, object.first_seq
                    ));
                }
                expected_first = object.last_seq + 1;
            }
            range = Some((object.first_seq, object.last_seq));
            report.objects += 1;
            match check_object(&dir.join(&object.key), object, &mut seqs_of_range) {
                Ok(()) => report.events += object.events,
                Err(problem) => report
                    .problems
                    .push(format!("object {}: {problem}", object.key)),
            }
        }
        if expected_first != digest.last_seq + 1 {
            report.problems.push(format!(
                "digest {key}: its objects end at sequence {}, but the run ends at {}",
                expected_first.saturating_sub(1),
                digest.last_seq
            ));
        }
    }
    for unlisted in objects_on_disk.difference(&listed) {
        report.problems.push(format!(
            "object {unlisted}: not listed in any digest (added, or its digest is missing)"
        ));
    }
    if let (Some(first), Some(last)) = (digests.first(), digests.last()) {
        report.seq_range = Some((first.1.first_seq, last.1.last_seq));
    }
    if digests.is_empty() && report.problems.is_empty() {
        report
            .problems
            .push(format!("no digest found under {}/digests", dir.display()));
    }
    Ok(report)
}

fn open_digest(bytes: &[u8], verifier: &UnparsedPublicKey<Vec<u8>>) -> Result<Digest, String> {
    let file: DigestFile<'_> =
        serde_json::from_slice(bytes).map_err(|error| format!("not a digest file: {error}"))?;
    let signature = hex::decode(&file.signature).map_err(|_| "malformed signature".to_owned())?;
    verifier
        .verify(file.digest.get().as_bytes(), &signature)
        .map_err(|_| {
            "signature does not verify with this public key (altered or signed by another key)"
                .to_owned()
        })?;
    let digest: Digest = serde_json::from_str(file.digest.get())
        .map_err(|error| format!("malformed digest: {error}"))?;
    if digest.format != DIGEST_FORMAT {
        return Err(format!("unknown digest format {}", digest.format));
    }
    Ok(digest)
}

/// How the key of a Parquet object ends.
const PARQUET_SUFFIX: &str = ".parquet";

/// Checks one object: its SHA-256 and its count of events; for Parquet also that every sequence
/// number in it lies in its range and is in no other object of the range (`seen`).
fn check_object(
    path: &Path,
    object: &DigestObject,
    seen: &mut BTreeSet<Seq>,
) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => "missing".to_owned(),
        _ => format!("unreadable: {error}"),
    })?;
    if sha256_hex(&bytes) != object.sha256 {
        return Err("altered (SHA-256 differs from its digest)".into());
    }
    if object.key.ends_with(PARQUET_SUFFIX) {
        let seqs = super::parquet::read_seqs(bytes)?;
        if seqs.len() as u64 != object.events {
            return Err(format!(
                "holds {} events, its digest says {}",
                seqs.len(),
                object.events
            ));
        }
        for seq in seqs {
            if !(object.first_seq..=object.last_seq).contains(&seq) {
                return Err(format!(
                    "holds sequence number {seq}, outside its range {}..{}",
                    object.first_seq, object.last_seq
                ));
            }
            if !seen.insert(seq) {
                return Err(format!(
                    "holds sequence number {seq}, which another object of its range holds too"
                ));
            }
        }
        return Ok(());
    }
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .read_to_string(&mut text)
        .map_err(|error| format!("not gzip text: {error}"))?;
    let lines = text.lines().count() as u64;
    if lines != object.events {
        return Err(format!(
            "holds {lines} events, its digest says {}",
            object.events
        ));
    }
    Ok(())
}
