//! What the derived views (the search index, the governance projection) share about their
//! health: serving, rebuilding from the log (with progress), or stopped by an integrity alarm
//! because they hold events the log no longer has. Each view's follower thread moves it between
//! these states; searches and reports ask it before answering.

use std::sync::Mutex;

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
