//! Running an integration: one locked run reading pages from its platform into the log, the
//! late lineage of Databricks, and the schedule loop that runs what is due.

use super::*;

impl PullService {
    /// Runs one integration now (waiting for a run of it already going), recording the outcome.
    pub(super) async fn run(
        &self,
        integration: &Integration,
        progress: &Mutex<RunSummary>,
        on_progress: &(dyn Fn() + Sync),
    ) -> Result<(), PullError> {
        let lock = self.run_lock(&integration.id);
        let _running = lock.lock().await;
        if !self.holds_lease(&integration.id).await {
            // Not this node's to run: say so in the run, and leave the integration's state to
            // the node that runs it.
            let refused = format!(
                "another vigil node runs integration {} now (it holds its lease); its runs are shown there, and this node takes over if that node stops",
                integration.id
            );
            progress.lock().expect("run progress").error = Some(refused.clone());
            return Err(PullError::Source(refused));
        }
        // It may have been changed or deleted while this run waited.
        let id = integration.id.clone();
        let integration = self.blocking(move |log| get_integration(log, &id)).await?;
        let started = now_text();
        progress.lock().expect("run progress").started_at = Some(started.clone());
        let result = match self.check_host(&integration.source).await {
            Ok(()) => self.run_locked(&integration, progress, on_progress).await,
            Err(refused) => Err(PullError::Source(refused)),
        };
        let mut summary = progress.lock().expect("run progress").clone();
        summary.finished_at = Some(now_text());
        if let Err(error) = &result {
            summary.error = Some(error.to_string());
            tracing::warn!(integration = %integration.id, %error, "query-audit run failed");
        } else {
            tracing::info!(
                integration = %integration.id,
                rows = summary.rows_read,
                stored = summary.events_stored,
                duplicates = summary.duplicates,
                malformed = summary.malformed,
                "query-audit run finished"
            );
        }
        *progress.lock().expect("run progress") = summary.clone();
        let watermark = match &result {
            Ok(watermark) => *watermark,
            Err(_) => None,
        };
        let id = integration.id.clone();
        let ok = result.is_ok();
        let fence = self.leases.fence_check();
        let lease = lease_name(&id);
        let side_write: SideWrite = Box::new(move |db| {
            // A node that lost the lease meanwhile never moves the new holder's watermark.
            fence(db, &lease)?;
            db.execute(
                "INSERT INTO integration_state (integration_id, watermark_micros, last_run_at, last_success_at, last_error, last_summary)
                 VALUES (?1, ?2, ?3, CASE WHEN ?4 THEN ?3 END, ?5, ?6)
                 ON CONFLICT (integration_id) DO UPDATE SET
                     watermark_micros = coalesce(excluded.watermark_micros, integration_state.watermark_micros),
                     last_run_at = excluded.last_run_at,
                     last_success_at = coalesce(excluded.last_success_at, integration_state.last_success_at),
                     last_error = excluded.last_error,
                     last_summary = excluded.last_summary",
                values![
                    id,
                    watermark.map(|time: DateTime<Utc>| time.timestamp_micros()),
                    started,
                    ok,
                    summary.error.clone(),
                    serde_json::to_string(&summary).expect("summary serializes"),
                ],
            )?;
            Ok(())
        });
        // Deleting an integration takes its run lock, so it cannot vanish before this write.
        self.log.append_with(Vec::new(), Some(side_write)).await?;
        result.map(|_| ())
    }

    /// Reads the window and stores its events page by page; returns the new watermark. The
    /// watermark is written by the caller, after every event is durable.
    async fn run_locked(
        &self,
        integration: &Integration,
        progress: &Mutex<RunSummary>,
        on_progress: &(dyn Fn() + Sync),
    ) -> Result<Option<DateTime<Utc>>, PullError> {
        let id = integration.id.clone();
        let status = self.blocking(move |log| read_status(log, &id)).await?;
        let id = integration.id.clone();
        let sealed = self.blocking(move |log| sealed_secret(log, &id)).await?;
        let secret = self.master.open(&integration.id, &sealed)?;
        let previous = status
            .watermark_micros
            .and_then(DateTime::<Utc>::from_timestamp_micros);
        let since = match previous {
            Some(watermark) => {
                watermark - chrono::Duration::minutes(integration.overlap_minutes.into())
            }
            None => Utc::now() - chrono::Duration::hours(integration.initial_lookback_hours.into()),
        };
        progress.lock().expect("run progress").window_start = Some(iso(since));
        on_progress();
        let mut run = RunState {
            integration,
            progress,
            on_progress,
            watermark: previous,
            shutdown: self.shutdown.subscribe(),
        };
        match &integration.source {
            Source::Snowflake(settings) => {
                let mut pages =
                    SnowflakePages::start(&self.client, settings, &secret, since).await?;
                self.read_pages(&mut pages, &mut run).await?;
            }
            Source::DatabricksUnityCatalog(settings) => {
                self.read_databricks(settings, &secret, since, &mut run)
                    .await?;
            }
        }
        Ok(run.watermark)
    }

    /// Reads `[since, now)` from Unity Catalog in parts: a part whose result has more than
    /// `rowsPerStatement` rows is halved until it fits (down to [`MIN_WINDOW`]), a part with few
    /// rows lets the next one double. A run stops once it has read
    /// [`RUN_BUDGET_STATEMENTS`] × `rowsPerStatement` rows and moved the watermark; the next run
    /// goes on from there.
    async fn read_databricks(
        &self,
        settings: &DatabricksSettings,
        secret: &str,
        since: DateTime<Utc>,
        run: &mut RunState<'_>,
    ) -> Result<(), PullError> {
        let now = Utc::now();
        let limit = u64::from(settings.rows_per_statement);
        let previous = run.watermark;
        let mut start = since;
        let mut span = (now - since).max(MIN_WINDOW);
        let mut read = 0;
        loop {
            let end = (start + span)
                .min(now)
                .max(start + chrono::Duration::milliseconds(1));
            let may_narrow = end - start > MIN_WINDOW;
            let opened =
                DatabricksPages::open(&self.client, settings, secret, (start, end), may_narrow)
                    .await?;
            match opened {
                Opened::TooLarge { rows } => {
                    span = (end - start) / 2;
                    tracing::info!(
                        integration = %run.integration.id,
                        rows,
                        from = %iso(start),
                        to = %iso(end),
                        "the window's result is larger than rowsPerStatement; reading it in halves"
                    );
                    run.progress.lock().expect("run progress").narrowings += 1;
                    (run.on_progress)();
                    continue;
                }
                Opened::Pages(mut pages) => {
                    let rows = self.read_pages(pages.as_mut(), run).await?;
                    read += rows;
                    if rows < limit / 4 {
                        span = (span * 2).min(now - since).max(MIN_WINDOW);
                    }
                    let mut summary = run.progress.lock().expect("run progress");
                    summary.statements += 1;
                    summary.window_end = Some(iso(end));
                }
            }
            (run.on_progress)();
            start = end;
            if start >= now {
                return Ok(());
            }
            if *run.shutdown.borrow_and_update() {
                return Err(PullError::Source(
                    "vigil is shutting down; the run stopped".into(),
                ));
            }
            if read >= limit * RUN_BUDGET_STATEMENTS && run.watermark > previous {
                run.progress.lock().expect("run progress").more_to_read = true;
                tracing::info!(
                    integration = %run.integration.id,
                    rows = read,
                    until = %iso(start),
                    "the run read its bound; the next run goes on from the watermark"
                );
                return Ok(());
            }
        }
    }

    /// Translates and stores every page of a result, moving `run.watermark`; returns the rows read.
    async fn read_pages(
        &self,
        pages: &mut dyn PageSource,
        run: &mut RunState<'_>,
    ) -> Result<u64, PullError> {
        let integration = run.integration;
        let mut read = 0;
        while let Some(page) = pages.next_page().await? {
            if *run.shutdown.borrow_and_update() {
                return Err(PullError::Source(
                    "vigil is shutting down; the run stopped".into(),
                ));
            }
            let log = self.log.clone();
            let registry = self.registry.clone();
            let snapshot = tokio::task::spawn_blocking(move || registry.catch_up(&log)).await??;
            let arrival = vigil_model::Timestamp::now();
            let now = Utc::now();
            let mut pending = Vec::new();
            let mut entries = Vec::new();
            let mut counts = RunSummary::default();
            for row in page.rows() {
                counts.rows_read += 1;
                let outcome = match &integration.source {
                    Source::Snowflake(settings) => snowflake::translate_row(
                        &row,
                        settings,
                        &integration.id,
                        &snapshot,
                        (
                            now,
                            settings.access_history_settle(integration.overlap_minutes),
                        ),
                    ),
                    Source::DatabricksUnityCatalog(settings) => {
                        databricks::translate_row(&row, settings, &integration.id, &snapshot, now)
                    }
                };
                match outcome {
                    RowOutcome::Events { events, end_time } => {
                        pending.extend(events);
                        run.watermark = run.watermark.max(Some(end_time));
                    }
                    RowOutcome::Skipped { end_time } => {
                        counts.skipped += 1;
                        run.watermark = run.watermark.max(Some(end_time));
                    }
                    RowOutcome::Deferred => counts.deferred += 1,
                    RowOutcome::Malformed(reason) => {
                        counts.malformed += 1;
                        tracing::warn!(integration = %integration.id, %reason, "skipping a malformed row");
                    }
                }
            }
            self.resolve_late_lineage(&mut pending).await?;
            for event in pending {
                let id = event.id.clone();
                match event.into_entry(arrival) {
                    Ok(entry) => {
                        entries.push(entry.submitted_by(Submitter::integration(&integration.id)))
                    }
                    Err(error) => {
                        counts.malformed += 1;
                        tracing::warn!(integration = %integration.id, event = %id, %error, "skipping a query event that does not validate");
                    }
                }
            }
            read += counts.rows_read;
            let stored = store_events(&self.log, entries).await?;
            let mut summary = run.progress.lock().expect("run progress");
            summary.rows_read += counts.rows_read;
            summary.skipped += counts.skipped;
            summary.deferred += counts.deferred;
            summary.malformed += counts.malformed;
            summary.events_stored += stored.stored;
            summary.duplicates += stored.duplicates;
            summary.watermark = run.watermark.map(iso);
            drop(summary);
            (run.on_progress)();
        }
        Ok(read)
    }

    /// Marks the events whose statement was already stored without tables (its lineage, or its
    /// `ACCESS_HISTORY` row, came after the settle time): they become `QUERY_LINEAGE_RESOLVED`
    /// events naming that event, so one statement stays one `QUERY` and its tables are not lost.
    async fn resolve_late_lineage(&self, events: &mut [QueryEvent]) -> Result<(), PullError> {
        let twins: Vec<String> = events
            .iter()
            .filter_map(|event| event.twin.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if twins.is_empty() {
            return Ok(());
        }
        let log = self.log.clone();
        let stored = tokio::task::spawn_blocking(move || log.stored_ids(&twins)).await??;
        for event in events {
            if let Some(twin) = &event.twin
                && stored.contains(twin)
            {
                event.resolves = Some(twin.clone());
            }
        }
        Ok(())
    }

    pub(super) async fn schedule_loop(self: Arc<Self>) {
        let mut shutdown = self.shutdown.subscribe();
        loop {
            let next = match self.run_due().await {
                Ok(next) => next,
                Err(error) => {
                    tracing::warn!(%error, "the query-audit scheduler could not read its integrations");
                    Utc::now() + chrono::Duration::minutes(1)
                }
            };
            let wait = (next - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    /// Runs every enabled integration whose time has come; returns when the next one is due. An
    /// integration first runs one interval after it was created (or on a manual load).
    async fn run_due(&self) -> Result<DateTime<Utc>, PullError> {
        let schedule = self.schedule().await?;
        let mut next = Utc::now() + chrono::Duration::hours(1);
        for (integration, status) in self.list().await? {
            if !integration.enabled {
                continue;
            }
            let interval = chrono::Duration::minutes(
                schedule
                    .get(&integration.source.kind())
                    .copied()
                    .unwrap_or(DEFAULT_INTERVAL_MINUTES)
                    .into(),
            );
            let last = status
                .last_run_at
                .as_deref()
                .unwrap_or(&integration.created_at);
            let due = DateTime::parse_from_rfc3339(last)
                .map(|time| time.with_timezone(&Utc))
                .unwrap_or_else(|_| Utc::now())
                + interval;
            if self.log.is_shared() && !self.holds_lease(&integration.id).await {
                // Another node runs it; look again soon, to take over if that node stops.
                next = next.min(Utc::now() + crate::cluster::RENEW_EVERY);
                continue;
            }
            if due <= Utc::now() {
                let progress = Mutex::new(RunSummary::default());
                // The outcome is recorded in the integration's state.
                let _ = self.run(&integration, &progress, &|| {}).await;
                next = next.min(Utc::now() + interval);
            } else {
                next = next.min(due);
            }
        }
        Ok(next)
    }
}
