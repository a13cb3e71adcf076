//! Signed checkpoints of the chain head: `(sequence number, chain hash, time)` signed with the
//! Ed25519 key that signs export digests (`export-signing.key`, outside the log's database). vigil
//! records one in the log when the head has moved (at most every minute, and at shutdown) and
//! sends a copy to every enabled export destination, so that a copy lives outside the machine.
//! `vigil verify` checks the chain against every checkpoint it finds: a rewrite before a
//! checkpoint, or a cut of the newest events, no longer passes.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::json;
use vigil_model::Timestamp;

use crate::chain::ChainHash;
use crate::error::LogError;
use crate::export::SigningKey;
use crate::log::{EventLog, Seq};
use crate::own_events::OwnEvent;

/// The format name every checkpoint carries; it is also the first line of what is signed.
pub const CHECKPOINT_FORMAT: &str = "vigil-checkpoint/1";
/// The payload type of the event that records a checkpoint in the log.
pub const CHECKPOINT_PAYLOAD_TYPE: &str = "ChainCheckpointAuditPayload";
/// The folder, under an export configuration's path, that holds the checkpoint copies.
pub const CHECKPOINT_FOLDER: &str = "checkpoints";

/// A signed statement: the log's chain hash after `sequence_number` was `chain_hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// [`CHECKPOINT_FORMAT`].
    pub format: String,
    /// The last sequence number covered.
    pub sequence_number: Seq,
    /// The chain hash after it, hex.
    pub chain_hash: String,
    /// When it was signed (RFC 3339, UTC).
    pub signed_at: String,
    /// The Ed25519 public key that verifies it, hex (to recognise the key; trust comes from
    /// checking against a public key kept elsewhere).
    pub public_key: String,
    /// Ed25519 signature of [`Checkpoint::signed_message`], hex.
    pub signature: String,
}

impl Checkpoint {
    /// Signs the head `(seq, hash)` now.
    pub fn sign(seq: Seq, hash: &ChainHash, key: &SigningKey) -> Checkpoint {
        let mut checkpoint = Checkpoint {
            format: CHECKPOINT_FORMAT.to_owned(),
            sequence_number: seq,
            chain_hash: hex::encode(hash),
            signed_at: Timestamp::now().to_rfc3339_utc(),
            public_key: key.public_key_hex(),
            signature: String::new(),
        };
        checkpoint.signature = key.sign_hex(&checkpoint.signed_message());
        checkpoint
    }

    /// What is signed: the format, the sequence number, the chain hash and the time, one a line.
    pub fn signed_message(&self) -> Vec<u8> {
        format!(
            "{}\n{}\n{}\n{}",
            self.format, self.sequence_number, self.chain_hash, self.signed_at
        )
        .into_bytes()
    }

    /// Checks the signature with `public_key` (hex).
    pub fn verify_signature(&self, public_key: &str) -> Result<(), String> {
        if self.format != CHECKPOINT_FORMAT {
            return Err(format!("unknown checkpoint format `{}`", self.format));
        }
        crate::export::verify_hex_signature(public_key, &self.signed_message(), &self.signature)
    }

    /// The object name of this checkpoint's copy at a destination, under the configuration's path:
    /// zero-padded, so that names sort by sequence number.
    pub fn object_key(&self) -> String {
        format!(
            "{CHECKPOINT_FOLDER}/vigil-checkpoint-{:020}.json",
            self.sequence_number
        )
    }

    /// The JSON of a copy.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a checkpoint serializes")
    }
}

/// Signs the log's head and records the checkpoint in the log, unless nothing but the previous
/// checkpoint's own event came after `covered_through` (the head covered by the last checkpoint
/// this process recorded). Returns the checkpoint and the new `covered_through`.
pub fn checkpoint_head(
    log: &EventLog,
    key: &SigningKey,
    covered_through: Seq,
) -> Result<Option<(Checkpoint, Seq)>, LogError> {
    let head = log.last_committed_seq();
    if head == 0 || head <= covered_through {
        return Ok(None);
    }
    let Some(stored) = log.get_many(&[head])?.pop() else {
        // Removed by retention in the meantime: the next tick signs the new head.
        return Ok(None);
    };
    let checkpoint = Checkpoint::sign(head, &stored.chain_hash, key);
    let mut payload = serde_json::to_value(&checkpoint).expect("a checkpoint serializes");
    payload["type"] = json!(CHECKPOINT_PAYLOAD_TYPE);
    payload["version"] = json!(1);
    let event = OwnEvent {
        action: "CHECKPOINT",
        target_type: "AUDIT_LOG",
        actor: json!({ "type": "SYSTEM_ACCOUNT", "id": "vigil", "name": "vigil" }),
        targets: json!([]),
        payload,
    }
    .into_entry();
    let results = log.append_blocking(vec![event], None)?;
    let recorded_at = match results.first() {
        Some(crate::log::AppendResult::Stored(seq)) => *seq,
        _ => head,
    };
    Ok(Some((checkpoint, recorded_at)))
}

/// Reads every checkpoint file under `path` (a file, or a folder searched recursively for
/// `vigil-checkpoint-*.json`), with the path it came from.
pub fn read_checkpoint_files(path: &Path) -> Result<Vec<(String, Checkpoint)>, String> {
    let mut files = Vec::new();
    collect_files(path, &mut files)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let mut checkpoints = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|error| format!("cannot read {}: {error}", file.display()))?;
        let checkpoint: Checkpoint = serde_json::from_str(&text)
            .map_err(|error| format!("{} is not a vigil checkpoint: {error}", file.display()))?;
        checkpoints.push((file.display().to_string(), checkpoint));
    }
    Ok(checkpoints)
}

fn collect_files(path: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    if path.is_file() {
        out.push(path.to_owned());
        return Ok(());
    }
    for entry in std::fs::read_dir(path)? {
        let path = entry?.path();
        let is_checkpoint = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with("vigil-checkpoint-") && name.ends_with(".json"));
        if path.is_dir() {
            collect_files(&path, out)?;
        } else if is_checkpoint {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_verifies_only_as_signed() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::load(dir.path()).unwrap();
        let checkpoint = Checkpoint::sign(42, &[7; 32], &key);
        assert!(checkpoint.verify_signature(&key.public_key_hex()).is_ok());
        let mut altered = checkpoint.clone();
        altered.sequence_number = 41;
        assert!(altered.verify_signature(&key.public_key_hex()).is_err());
        let other = tempfile::tempdir().unwrap();
        let other_key = SigningKey::load(other.path()).unwrap();
        assert!(
            checkpoint
                .verify_signature(&other_key.public_key_hex())
                .is_err()
        );
        assert_eq!(
            checkpoint.object_key(),
            "checkpoints/vigil-checkpoint-00000000000000000042.json"
        );
    }
}
