//! Work that must happen once in a cluster — each export configuration's runs, each pull
//! integration's runs, retention, signing checkpoints — runs on one live node at a time, under a
//! lease in the shared database. A keeper thread renews the leases this node holds and takes
//! the ones it wants when their holder stopped renewing; the database's clock decides expiry,
//! so the nodes' clocks need not agree. On the embedded log there is one node: it holds every
//! lease.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::log::{EventLog, SideWrite};
use crate::store::{StoreError, values};

/// A lease not renewed for this long is free for another node.
pub const LEASE_TTL: Duration = Duration::from_secs(20);
/// How often the keeper renews and takes leases: a dead node's work moves within
/// `LEASE_TTL + RENEW_EVERY`.
pub const RENEW_EVERY: Duration = Duration::from_secs(5);

/// Takes the lease `name` for `holder` when it is free, expired or already theirs; one row
/// changed means held. The expiry is the database's clock plus the TTL.
const ACQUIRE: &str = "INSERT INTO leases (name, holder, expires_at)
     VALUES (?1, ?2, clock_timestamp() + (?3::bigint) * interval '1 millisecond')
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
     WHERE leases.holder = excluded.holder OR leases.expires_at < clock_timestamp()";

/// This node's leases.
pub struct Leases {
    log: Arc<EventLog>,
    holder: String,
    wanted: Mutex<HashSet<String>>,
    held: Mutex<HashSet<String>>,
    stop: Arc<AtomicBool>,
    keeper: Mutex<Option<JoinHandle<()>>>,
}

impl Leases {
    /// The leases of this node (named `holder`, unique per process) on `log`; on a shared log a
    /// keeper thread starts.
    pub fn start(log: Arc<EventLog>, holder: String) -> Arc<Leases> {
        let leases = Arc::new(Leases {
            log,
            holder,
            wanted: Mutex::default(),
            held: Mutex::default(),
            stop: Arc::new(AtomicBool::new(false)),
            keeper: Mutex::new(None),
        });
        if leases.log.is_shared() {
            let keeper = leases.clone();
            let stop = leases.stop.clone();
            let handle = std::thread::Builder::new()
                .name("vigil-leases".into())
                .spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        keeper.renew();
                        let mut waited = Duration::ZERO;
                        while waited < RENEW_EVERY && !stop.load(Ordering::SeqCst) {
                            std::thread::sleep(Duration::from_millis(100));
                            waited += Duration::from_millis(100);
                        }
                    }
                })
                .expect("spawn the lease keeper");
            *leases.keeper.lock().expect("keeper lock") = Some(handle);
        }
        leases
    }

    /// This node's name in the lease table.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Whether this node holds `name` now; asking registers the wish, and a free lease is taken
    /// at once. Blocking (one statement on a shared log).
    pub fn holds(&self, name: &str) -> bool {
        if !self.log.is_shared() {
            return true;
        }
        let newly_wanted = self
            .wanted
            .lock()
            .expect("wanted lock")
            .insert(name.to_owned());
        if newly_wanted {
            self.try_acquire(name);
        }
        self.held.lock().expect("held lock").contains(name)
    }

    /// Gives `name` up (the work is gone, or the node stops).
    pub fn release(&self, name: &str) {
        self.wanted.lock().expect("wanted lock").remove(name);
        let was_held = self.held.lock().expect("held lock").remove(name);
        if was_held && self.log.is_shared() {
            let (name, holder) = (name.to_owned(), self.holder.clone());
            let released = self.log.query(move |db| {
                db.execute(
                    "DELETE FROM leases WHERE name = ?1 AND holder = ?2",
                    values![name, holder],
                )
            });
            if let Err(error) = released {
                tracing::debug!(%error, "could not release a lease; it expires by itself");
            }
        }
    }

    /// A check to run in the same transaction as the write that ends a piece of leased work
    /// (an export's checkpoint, a pull's watermark): it refuses the write when this node no
    /// longer holds `name`, so a node that lost its lease never moves another node's progress.
    pub fn fence(&self, name: &str) -> Option<SideWrite> {
        if !self.log.is_shared() {
            return None;
        }
        let (name, holder) = (name.to_owned(), self.holder.clone());
        Some(Box::new(move |db| fence(db, &name, &holder)))
    }

    /// [`Leases::fence`] as a check to call inside a side write of one's own.
    pub fn fence_check(
        &self,
    ) -> impl Fn(&mut dyn crate::store::Sql, &str) -> Result<(), StoreError> + Send + 'static {
        let shared = self.log.is_shared();
        let holder = self.holder.clone();
        move |db, name| {
            if shared {
                fence(db, name, &holder)
            } else {
                Ok(())
            }
        }
    }

    /// Stops the keeper and gives every lease up, so another node takes the work at once.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(keeper) = self.keeper.lock().expect("keeper lock").take() {
            let _ = keeper.join();
        }
        let held: Vec<String> = self
            .held
            .lock()
            .expect("held lock")
            .iter()
            .cloned()
            .collect();
        for name in held {
            self.release(&name);
        }
    }

    fn renew(&self) {
        let wanted: Vec<String> = self
            .wanted
            .lock()
            .expect("wanted lock")
            .iter()
            .cloned()
            .collect();
        for name in wanted {
            self.try_acquire(&name);
        }
    }

    fn try_acquire(&self, name: &str) {
        let (lease, holder) = (name.to_owned(), self.holder.clone());
        let ttl = LEASE_TTL.as_millis() as i64;
        let outcome = self
            .log
            .query(move |db| db.execute(ACQUIRE, values![lease, holder, ttl]));
        let mut held = self.held.lock().expect("held lock");
        match outcome {
            Ok(1) => {
                if held.insert(name.to_owned()) {
                    tracing::info!(lease = name, holder = %self.holder, "took the lease");
                }
            }
            Ok(_) => {
                if held.remove(name) {
                    tracing::warn!(lease = name, "lost the lease to another node");
                }
            }
            // Unreachable database: what this node held may have expired meanwhile; stop
            // doing that work until a renewal succeeds.
            Err(error) => {
                if held.remove(name) {
                    tracing::warn!(lease = name, %error, "cannot renew the lease; pausing its work");
                }
            }
        }
    }
}

fn fence(db: &mut dyn crate::store::Sql, name: &str, holder: &str) -> Result<(), StoreError> {
    let held = db
        .query_optional(
            "SELECT 1 FROM leases WHERE name = ?1 AND holder = ?2 AND expires_at > clock_timestamp()",
            values![name, holder],
        )?
        .is_some();
    if held {
        Ok(())
    } else {
        Err(StoreError::Refused(format!(
            "this node no longer holds the lease {name}: another node took the work over"
        )))
    }
}

/// A name for this process in the lease table: host and a random suffix.
pub fn node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "vigil".into());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}", &suffix[..8])
}
