//! What the derived views (the search index, the governance projection) share: the follower
//! that keeps each one up to date with the log ([`follow`]: take in, publish progress, check the
//! view is in place and not ahead of the log, wait for the next commit, retry after a failure),
//! its progress, and its health — serving, rebuilding from the log (with progress), or stopped by
//! an integrity alarm because it holds events the log no longer has. Searches and reports ask
//! the health before answering.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::log::{EventLog, Seq};

/// Why a view does not answer now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// The view is being rebuilt from the log; it answers again when it has caught up.
    #[error(
        "the {view} is being rebuilt from the log: {reached} of {target} events done ({percent}%); try again shortly",
        percent = percent(*reached, *target)
    )]
    Rebuilding {
        /// Which view.
        view: &'static str,
        /// The sequence number reached.
        reached: Seq,
        /// The sequence number it answers from again.
        target: Seq,
    },
    /// The view holds events past the end of the log: see [`ahead_of_log_alarm`].
    #[error("{0}")]
    IntegrityAlarm(String),
}

impl crate::Classify for Unavailable {
    fn kind(&self) -> crate::ErrorKind {
        crate::ErrorKind::Unavailable
    }

    fn code(&self) -> &'static str {
        match self {
            Unavailable::Rebuilding { .. } => "rebuilding",
            Unavailable::IntegrityAlarm(_) => "unavailable",
        }
    }

    fn details(&self) -> Option<(&'static str, serde_json::Value)> {
        let Unavailable::Rebuilding {
            view,
            reached,
            target,
        } = self
        else {
            return None;
        };
        Some((
            "progress",
            serde_json::json!({
                "view": view,
                "reachedSequence": reached,
                "targetSequence": target,
                "percent": percent(*reached, *target),
            }),
        ))
    }
}

/// `reached` of `target` in whole percent.
pub fn percent(reached: Seq, target: Seq) -> u64 {
    (reached.min(target) * 100)
        .checked_div(target)
        .unwrap_or(100)
}

#[derive(Debug, Clone)]
enum State {
    Serving,
    Rebuilding { reached: Seq, target: Seq },
    Alarm(String),
}

/// The health of one derived view.
#[derive(Debug)]
pub struct ViewHealth {
    view: &'static str,
    state: Mutex<State>,
}

impl ViewHealth {
    /// A view that serves.
    pub fn serving(view: &'static str) -> ViewHealth {
        ViewHealth {
            view,
            state: Mutex::new(State::Serving),
        }
    }

    /// The view's name, as messages say it.
    pub fn view(&self) -> &'static str {
        self.view
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("view health lock")
    }

    /// Whether the view answers now; if not, why.
    pub fn check(&self) -> Result<(), Unavailable> {
        match &*self.state() {
            State::Serving => Ok(()),
            State::Rebuilding { reached, target } => Err(Unavailable::Rebuilding {
                view: self.view,
                reached: *reached,
                target: *target,
            }),
            State::Alarm(alarm) => Err(Unavailable::IntegrityAlarm(alarm.clone())),
        }
    }

    /// The view starts again from nothing and answers when it has applied `target`; with
    /// nothing to apply it serves at once. An alarm stays.
    pub fn start_rebuild(&self, target: Seq) {
        let mut state = self.state();
        if !matches!(*state, State::Alarm(_)) {
            *state = if target == 0 {
                State::Serving
            } else {
                State::Rebuilding { reached: 0, target }
            };
        }
    }

    /// The view has applied (and committed) everything up to `reached`.
    pub fn reached(&self, reached: Seq) {
        let mut state = self.state();
        if let State::Rebuilding { target, .. } = *state {
            *state = if reached >= target {
                tracing::info!(view = self.view, reached, "rebuilt from the log");
                State::Serving
            } else {
                State::Rebuilding { reached, target }
            };
        }
    }

    /// Stops the view for good (until an operator acts): it holds events the log does not.
    pub fn raise_alarm(&self, alarm: String) {
        tracing::error!("{alarm}");
        *self.state() = State::Alarm(alarm);
    }

    /// The integrity alarm, if one was raised.
    pub fn integrity_alarm(&self) -> Option<String> {
        match &*self.state() {
            State::Alarm(alarm) => Some(alarm.clone()),
            _ => None,
        }
    }

    /// Whether the view is rebuilding.
    pub fn is_rebuilding(&self) -> bool {
        matches!(*self.state(), State::Rebuilding { .. })
    }
}

/// How far a view has applied the log, with a condition to wait on (a search waits for the
/// caller's own appends; tests and tools wait for a view to catch up).
#[derive(Debug, Default)]
pub struct Progress {
    seq: Mutex<Seq>,
    changed: Condvar,
}

impl Progress {
    /// A view that has applied everything up to `seq`.
    pub fn new(seq: Seq) -> Progress {
        Progress {
            seq: Mutex::new(seq),
            changed: Condvar::new(),
        }
    }

    /// The last sequence number readers see.
    pub fn get(&self) -> Seq {
        *self.seq.lock().expect("progress lock")
    }

    /// Readers now see everything up to `seq`; wakes whoever waits.
    pub fn publish(&self, seq: Seq) {
        *self.seq.lock().expect("progress lock") = seq;
        self.changed.notify_all();
    }

    /// Waits until readers see `seq`, or `timeout` passes; returns whether they do.
    pub fn wait_until(&self, seq: Seq, timeout: Duration) -> bool {
        let guard = self.seq.lock().expect("progress lock");
        let (guard, _) = self
            .changed
            .wait_timeout_while(guard, timeout, |reached| *reached < seq)
            .expect("progress lock");
        *guard >= seq
    }
}

/// What one step of a view following the log did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Took in the events up to `taken`; readers now see up to `visible`, when that moved.
    Moved {
        /// The last sequence number taken in.
        taken: Seq,
        /// The last sequence number readers see, when it moved with this step.
        visible: Option<Seq>,
    },
    /// The log has nothing new and nothing is pending.
    CaughtUp,
}

/// A view derived from the log, as [`follow`] drives it.
pub trait View {
    /// What a step can fail with.
    type Error: std::fmt::Display;
    /// Takes in the next events after what the view holds.
    fn step(&mut self, log: &EventLog) -> Result<Step, Self::Error>;
    /// Caught up: checks that the view's files are still in place (starting a new view when they
    /// vanished) and that the log still holds what it applied. `Ok(true)`: stop following (an
    /// integrity alarm was raised).
    fn check(&mut self, log: &EventLog) -> Result<bool, Self::Error>;
    /// vigil stops: makes what was taken in durable and visible; returns what readers see.
    fn finish(&mut self) -> Result<Option<Seq>, Self::Error>;
    /// After a failed step: starts again from what is durable.
    fn resume(&mut self) -> Result<(), Self::Error>;
}

/// What [`follow`] keeps up to date, and how.
pub struct Following<'a> {
    /// The log followed.
    pub log: &'a EventLog,
    /// The view's health (moved to serving when a rebuild reaches its target).
    pub health: &'a ViewHealth,
    /// What readers see.
    pub progress: &'a Progress,
    /// Set when vigil stops.
    pub stop: &'a AtomicBool,
    /// How long to wait for the next commit before looking again (commits by other processes
    /// or nodes are seen by looking).
    pub poll: Duration,
    /// How long to wait after a failure before starting again.
    pub retry_after: Duration,
    /// A progress line is logged each time this many more events are taken in.
    pub log_every: u64,
}

/// Keeps `view` up to date with the log until vigil stops or an integrity alarm stops it: the
/// one follower loop every derived view runs on its own thread.
pub fn follow(view: &mut impl View, following: &Following<'_>) {
    let Following {
        log,
        health,
        progress,
        stop,
        ..
    } = *following;
    let started = Instant::now();
    let resumed_at = progress.get();
    let mut taken_so_far = resumed_at;
    loop {
        if stop.load(Ordering::SeqCst) {
            match view.finish() {
                Ok(Some(visible)) => {
                    health.reached(visible);
                    progress.publish(visible);
                }
                Ok(None) => {}
                Err(error) => tracing::error!(view = health.view(), %error, "could not finish"),
            }
            return;
        }
        let outcome = view.step(log).and_then(|step| match step {
            Step::Moved { taken, visible } => {
                if taken / following.log_every > taken_so_far / following.log_every {
                    let rate =
                        (taken - resumed_at) as f64 / started.elapsed().as_secs_f64().max(0.001);
                    tracing::info!(
                        view = health.view(),
                        taken,
                        events_per_second = rate as u64,
                        "following the log"
                    );
                }
                taken_so_far = taken;
                if let Some(visible) = visible {
                    // Serving again before anyone waiting for this progress is woken.
                    health.reached(visible);
                    progress.publish(visible);
                }
                Ok(false)
            }
            Step::CaughtUp => {
                if view.check(log)? {
                    return Ok(true);
                }
                // Wake on this process's next commit; the timeout also picks up other writers.
                log.wait_for_commit_after(progress.get(), following.poll);
                Ok(false)
            }
        });
        match outcome {
            Ok(true) => return,
            Ok(false) => {}
            Err(error) => {
                if health.integrity_alarm().is_some() {
                    return;
                }
                tracing::error!(view = health.view(), %error, "following the log failed; starting again from what is durable");
                let mut waited = Duration::ZERO;
                while waited < following.retry_after && !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(50));
                    waited += Duration::from_millis(50);
                }
                if let Err(error) = view.resume() {
                    tracing::error!(view = health.view(), %error, "could not start again; retrying");
                }
            }
        }
    }
}

/// An index or projection that has applied events past the end of the log: the log lost its
/// newest events (a cut, or a restore of an older copy). Rebuilding would erase the evidence.
pub fn ahead_of_log_alarm(view: &str, applied: Seq, log_last: Seq, rebuild: &str) -> String {
    format!(
        "integrity alarm: the {view} holds events up to sequence number {applied}, but the log ends at {log_last}: events were removed from the log; it does not serve until an operator checks the log (vigil verify with the export checkpoints), stops vigil and rebuilds it on purpose ({rebuild})"
    )
}

/// Raises the alarm on `health` when the log, as stored (another process may have changed it),
/// ends before `applied`. Returns whether it did.
pub fn check_not_ahead(
    health: &ViewHealth,
    log: &EventLog,
    applied: Seq,
    rebuild: &str,
) -> Result<bool, crate::error::LogError> {
    let stored_last = log.last_seq()?;
    if applied > stored_last {
        health.raise_alarm(ahead_of_log_alarm(
            health.view(),
            applied,
            stored_last,
            rebuild,
        ));
        return Ok(true);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rebuild_serves_again_once_it_reaches_its_target_and_an_alarm_stays() {
        let health = ViewHealth::serving("search index");
        health.start_rebuild(10);
        let Err(Unavailable::Rebuilding {
            reached, target, ..
        }) = health.check()
        else {
            panic!("rebuilding")
        };
        assert_eq!((reached, target), (0, 10));
        health.reached(4);
        assert!(
            health
                .check()
                .unwrap_err()
                .to_string()
                .contains("4 of 10 events done (40%)")
        );
        health.reached(10);
        assert_eq!(health.check(), Ok(()));
        health.start_rebuild(0);
        assert_eq!(health.check(), Ok(()), "nothing to rebuild: serving");
        health.raise_alarm("integrity alarm: test".into());
        health.start_rebuild(5);
        assert!(matches!(
            health.check(),
            Err(Unavailable::IntegrityAlarm(_))
        ));
    }
}
