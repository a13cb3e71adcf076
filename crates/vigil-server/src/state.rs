//! What every request handler shares.

use std::sync::Arc;

use vigil_core::EventLog;
use vigil_core::export::ExportService;
use vigil_core::forward::ForwardService;
use vigil_core::governance::Governance;
use vigil_core::query_audit::pull::PullService;
use vigil_core::registry::Registry;
use vigil_core::search::SearchIndex;

use crate::graphql::AuditSchema;
use crate::metrics::Metrics;

/// Shared state of the HTTP server.
#[derive(Clone)]
pub struct AppState {
    /// The event log.
    pub log: Arc<EventLog>,
    /// The search index over the log.
    pub search: Arc<SearchIndex>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Export configurations and exporters.
    pub exports: Arc<ExportService>,
    /// Users and data sources, derived from the log.
    pub registry: Arc<Registry>,
    /// Query-audit pull integrations and their schedule.
    pub pulls: Arc<PullService>,
    /// Forwarders to the SIEM.
    pub forwards: Arc<ForwardService>,
    /// The governance projection, which answers the reports.
    pub governance: Arc<Governance>,
    /// A governance report running longer than this is cancelled.
    pub report_timeout: std::time::Duration,
    /// Single sign-on for people, when configured.
    pub oidc: Option<Arc<crate::oidc::Oidc>>,
    /// The GraphQL schema at `/api/audit/graphql`.
    pub graphql: AuditSchema,
}
