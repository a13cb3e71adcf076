//! The hash chain: each stored event's hash covers the previous hash, its sequence number and the
//! digest of its bytes. The digest is computed where events are prepared, in parallel; only the
//! short link hash is computed by the (serial) writer.

use sha2::{Digest, Sha256};

/// A chain hash.
pub type ChainHash = [u8; 32];

/// The hash before the first event.
pub const GENESIS: ChainHash = [0; 32];

/// `sha256(stored bytes)`.
pub fn body_digest(stored: &[u8]) -> ChainHash {
    Sha256::digest(stored).into()
}

/// The digest the chain links for one event: `sha256(stored bytes)` for an event stored without
/// a submitter (every event before submitters were recorded), else
/// `sha256(sha256(stored bytes) ‖ submitter)`, so that who submitted an event is as
/// tamper-evident as its bytes.
pub fn link_digest(body_digest: &ChainHash, submitter: Option<&str>) -> ChainHash {
    match submitter {
        None => *body_digest,
        Some(submitter) => {
            let mut hasher = Sha256::new();
            hasher.update(body_digest);
            hasher.update(submitter.as_bytes());
            hasher.finalize().into()
        }
    }
}

/// `sha256(previous ‖ seq as 8 bytes big-endian ‖ link digest)`.
pub fn chain_hash(previous: &ChainHash, seq: u64, body_digest: &ChainHash) -> ChainHash {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(seq.to_be_bytes());
    hasher.update(body_digest);
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_covers_previous_seq_and_bytes() {
        let base = chain_hash(&GENESIS, 1, &body_digest(b"{}"));
        assert_ne!(base, chain_hash(&GENESIS, 2, &body_digest(b"{}")));
        assert_ne!(base, chain_hash(&GENESIS, 1, &body_digest(b"{ }")));
        assert_ne!(base, chain_hash(&[1; 32], 1, &body_digest(b"{}")));
        assert_eq!(base, chain_hash(&GENESIS, 1, &body_digest(b"{}")));
    }

    #[test]
    fn the_link_covers_the_submitter_when_one_is_recorded() {
        let body = body_digest(b"{}");
        assert_eq!(link_digest(&body, None), body);
        assert_ne!(link_digest(&body, Some("vigil")), body);
        assert_ne!(
            link_digest(&body, Some("vigil")),
            link_digest(&body, Some("key:1"))
        );
    }
}
