//! In flight is not a retry. A request the client decided to send before it learned of an
//! answer can't have been a reaction to that answer: concurrent commands that each missed the
//! cache, or each passed a throttle check, before the first answer arrived. Those requests are
//! `concurrency.single-flight`'s business, never a timing or cache breach.
//!
//! From the mock's side, a request is in flight with respect to an answer when
//! - it arrived before the answer was sent, or
//! - it arrived later, while commands sent before the answer were still unanswered, and the
//!   app had more commands outstanding when the answer was sent than there were requests of
//!   that source already open: each outstanding command may have had one request on its way
//!   (decided before the answer, delayed by a busy event loop or a new connection). A
//!   sequential client (one command at a time) gets no such allowance, so a retry inside one
//!   command is always judged, and so is every request beyond one per outstanding command.

use super::Input;
use model::transcript::TranscriptEvent;
use model::JournalEntry;

/// Driver commands outstanding at `at`: sent before it and answered after it (or never).
pub(crate) fn outstanding(input: &Input<'_>, at: u64) -> usize {
    still_outstanding(input, at, at)
}

/// When the oldest driver command still unanswered at `at` was sent (shutdown aside): a request
/// that arrives at `at` serves a command in progress, so the client began it no earlier than
/// that, and may count a token's lifetime from then (a loaded machine can take a second or more
/// between a client's clock reading and the request's arrival). `None` in observe mode or when
/// no command was in progress.
pub(crate) fn oldest_outstanding_command(input: &Input<'_>, at: u64) -> Option<u64> {
    unanswered(input, at, at).min()
}

/// Driver commands sent before `before` and still unanswered at `at`.
fn still_outstanding(input: &Input<'_>, before: u64, at: u64) -> usize {
    unanswered(input, before, at).count()
}

/// When each driver command (shutdown aside) sent before `before` and still unanswered at `at`
/// was sent. Linear in the transcript: each command's earliest answer is found once.
fn unanswered<'i>(input: &'i Input<'_>, before: u64, at: u64) -> impl Iterator<Item = u64> + 'i {
    let mut answered: rustc_hash::FxHashMap<u64, u64> = rustc_hash::FxHashMap::default();
    for r in input.transcript {
        if let TranscriptEvent::Result { id, .. } = &r.event {
            let t = answered.entry(*id).or_insert(r.at_us);
            *t = (*t).min(r.at_us);
        }
    }
    input
        .transcript
        .iter()
        .filter(move |e| e.at_us < before)
        .filter_map(|e| match &e.event {
            TranscriptEvent::Command { id, op, .. } if op != "shutdown" => Some((e.at_us, *id)),
            _ => None,
        })
        .filter(move |(_, id)| answered.get(id).is_none_or(|r| *r > at))
        .map(|(sent, _)| sent)
}

/// The requests an answer can't have caused, judged in arrival order.
#[derive(Debug)]
pub(crate) struct Window {
    sent: u64,
    allowance: usize,
    observed: bool,
}

impl Window {
    /// The window of `answer`, among `same_source`: the requests of the same source (endpoint
    /// and client), in arrival order (it reads only those that arrived before the answer was
    /// sent), `answer` included or not.
    pub(crate) fn of(
        input: &Input<'_>,
        answer: &JournalEntry,
        same_source: &[&JournalEntry],
    ) -> Window {
        let sent = answer.finished_us.unwrap_or(answer.arrived_us);
        // In arrival order: the requests that arrived before the answer was sent are a prefix.
        let open = same_source
            .iter()
            .take_while(|r| r.arrived_us < sent)
            .filter(|r| r.seq != answer.seq)
            .filter(|r| r.finished_us.unwrap_or(r.arrived_us) > sent)
            .count();
        let allowance = if input.observed {
            0
        } else {
            outstanding(input, sent).saturating_sub(1 + open)
        };
        Window {
            sent,
            allowance,
            observed: input.observed,
        }
    }

    /// When the answer was sent.
    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }

    /// Whether `r` (a later request of the same source; call in arrival order) was on its
    /// way before the client could have known the answer.
    pub(crate) fn in_flight(&mut self, input: &Input<'_>, r: &JournalEntry) -> bool {
        if r.arrived_us < self.sent {
            return true;
        }
        if self.observed || self.allowance == 0 {
            return false;
        }
        if still_outstanding(input, self.sent, r.arrived_us) > 0 {
            self.allowance -= 1;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;
    use model::transcript::TranscriptEntry;
    use model::Endpoint;

    fn cmd(at: f64, id: u64) -> TranscriptEntry {
        TranscriptEntry {
            at_us: (at * 1e6) as u64,
            event: TranscriptEvent::Command {
                id,
                op: "acquire_token".into(),
                args: serde_json::Value::Null,
                step: 0,
                deadline_ms: 1000,
            },
        }
    }

    fn res(at: f64, id: u64) -> TranscriptEntry {
        TranscriptEntry {
            at_us: (at * 1e6) as u64,
            event: TranscriptEvent::Result {
                id,
                ok: false,
                body: serde_json::Value::Null,
            },
        }
    }

    fn input<'a>(
        s: &'a model::scenario::Scenario,
        j: &'a [JournalEntry],
        t: &'a [TranscriptEntry],
    ) -> Input<'a> {
        Input {
            scenario: s,
            journal: j,
            transcript: t,
            state_files: &[],
            outcome: &model::Outcome::Completed,
            fired: &[],
            observed: false,
        }
    }

    #[test]
    fn a_burst_gets_one_slot_per_outstanding_command_a_sequence_none() {
        let s = scenario("[cache.reuse]", "");
        let a = entry(1, 1.0, Endpoint::Token, 429); // sent at 1.002
        let b = entry(2, 1.001, Endpoint::Token, 429); // arrived before: in flight
        let c = entry(3, 1.1, Endpoint::Token, 429); // after, within grace
        let d = entry(4, 1.2, Endpoint::Token, 429);
        let j = [a.clone(), b.clone(), c.clone(), d.clone()];
        let same: Vec<&JournalEntry> = j.iter().collect();
        // Three commands outstanding: a's, b's (still open at 1.002) and one more.
        let t = [cmd(0.9, 1), cmd(0.9, 2), cmd(0.9, 3)];
        let i = input(&s, &j, &t);
        let mut w = Window::of(&i, &a, &same);
        assert!(w.in_flight(&i, &b));
        assert!(w.in_flight(&i, &c));
        assert!(!w.in_flight(&i, &d), "only three commands were outstanding");
        // One command: nothing after the answer is in flight.
        let t = [cmd(0.9, 1)];
        let i = input(&s, &j, &t);
        let mut w = Window::of(&i, &a, &same);
        assert!(!w.in_flight(&i, &c));
        // Once the burst's commands are answered, nothing more is in flight.
        let t = [
            cmd(0.9, 1),
            cmd(0.9, 2),
            cmd(0.9, 3),
            res(1.05, 1),
            res(1.05, 2),
            res(1.05, 3),
        ];
        let i = input(&s, &j, &t);
        let mut w = Window::of(&i, &a, &same);
        assert!(w.in_flight(&i, &b), "arrived before the answer");
        assert!(!w.in_flight(&i, &c), "every command had been answered");
    }
}
