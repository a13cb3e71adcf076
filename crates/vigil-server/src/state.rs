//! What every request handler shares.

use std::sync::Arc;

use vigil_core::EventLog;

/// Shared state of the HTTP server.
#[derive(Clone)]
pub struct AppState {
    /// The event log.
    pub log: Arc<EventLog>,
}
