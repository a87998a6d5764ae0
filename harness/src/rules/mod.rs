//! The rule engine: each rule of the catalog (`docs/rules.md`, `model::rules`) is a pure
//! function of the run's journal,
//! transcript and state-directory snapshot to a verdict with evidence.
//!
//! **Architecture Invariant:** rules do no I/O, read no clock and return no `Result`; every
//! time they use comes from the journal or the transcript.

// One module per rule family, named after its prefix; `flight` and `retry` are what several
// families share (in-flight requests, Retry-After and the back-off walk).
mod api;
mod backoff;
mod cache;
mod cae;
mod claims;
mod client;
mod concurrency;
mod device;
mod flight;
mod refresh;
mod retry;
mod robust;
mod silent;
mod throttle;
mod tokens;

#[cfg(test)]
mod resource_tests;

use model::rules::RuleId;
use model::scenario::Scenario;
use model::transcript::{TranscriptEntry, TranscriptEvent};
use model::verdict::{secs, Evidence, Status, Verdict};
use model::JournalEntry;
use model::{FiredEvent, Outcome, StateFile};
use std::time::Duration;

/// What a rule may look at.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// The tenant's journal, in arrival order.
    pub journal: &'a [JournalEntry],
    /// The transcript, in time order.
    pub transcript: &'a [TranscriptEntry],
    /// The state directory at the end.
    pub state_files: &'a [StateFile],
    /// How the run ended.
    pub outcome: &'a Outcome,
    /// Scenario events that fired, with their times.
    pub fired: &'a [FiredEvent],
    /// Observe mode (`tokenstorm observe`): no driver, so no commands in the transcript; only
    /// the rules [`observable`] names are judged, from the journal and the state directory.
    pub observed: bool,
}

impl<'a> Input<'a> {
    /// What a rule may look at in a scenario run (`observed`: `tokenstorm observe`).
    pub fn of(run: &'a crate::runner::ScenarioRun, observed: bool) -> Self {
        Input {
            scenario: &run.scenario,
            journal: &run.journal,
            transcript: &run.transcript,
            state_files: &run.state_files,
            outcome: &run.outcome,
            fired: &run.fired,
            observed,
        }
    }

    /// The tolerance of a rule: a request counts as early only if it comes more than this
    /// before its deadline (50 ms unless the scenario says otherwise).
    pub fn tolerance_us(&self, rule: &str) -> u64 {
        self.params(rule)
            .and_then(|p| p.tolerance)
            .map_or(50_000, |d| d.0.as_micros() as u64)
    }

    /// The renewal window (300 s unless the scenario says otherwise).
    pub fn renewal_window(&self, rule: &str) -> Duration {
        self.params(rule)
            .and_then(|p| p.renewal_window)
            .map_or(Duration::from_secs(300), |d| d.0)
    }

    fn params(&self, rule: &str) -> Option<model::scenario::RuleParams> {
        self.scenario
            .rules
            .iter()
            .find(|r| r.value.id() == rule)
            .map(|r| r.value.params())
    }

    /// Requests made for the client (authorize through its browser included; the user's
    /// device-login page and the admin API left out).
    pub fn client_requests(&self) -> impl Iterator<Item = &JournalEntry> {
        self.journal
            .iter()
            .filter(|e| e.endpoint.is_client_facing())
    }

    /// Commands of an operation the harness sent.
    pub fn commands(&self, op: &str) -> impl Iterator<Item = &TranscriptEntry> + '_ {
        let op = op.to_string();
        self.transcript
            .iter()
            .filter(move |e| matches!(&e.event, TranscriptEvent::Command { op: o, .. } if *o == op))
    }
}

/// The scope set a token is for (OIDC scopes aside), for cache keys.
pub(crate) fn scope_key(scopes: &[String]) -> Vec<String> {
    let mut v: Vec<String> = scopes
        .iter()
        .filter(|s| !["openid", "profile", "offline_access", "email"].contains(&s.as_str()))
        .cloned()
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Start times of the client's incarnations (µs).
pub(crate) fn incarnations(input: &Input<'_>) -> Vec<u64> {
    input
        .transcript
        .iter()
        .filter(|e| matches!(e.event, TranscriptEvent::Started { .. }))
        .map(|e| e.at_us)
        .collect()
}

/// Which incarnation (from 1) was running at `at`.
pub(crate) fn incarnation_of(starts: &[u64], at: u64) -> usize {
    starts.iter().filter(|s| **s <= at).count()
}

/// What a rule function concludes.
pub struct Finding {
    /// The conclusion.
    pub status: Status,
    /// Why, in one sentence.
    pub summary: String,
    /// The evidence.
    pub evidence: Vec<Evidence>,
    /// For a fail: which checks failed (stable names, matched by expected-failures entries).
    pub causes: Vec<&'static str>,
    /// A level other than the catalog's, for a rule whose breach is a SHOULD in some
    /// situations (`refresh.outage-tolerant` in a token's last minutes).
    pub level: Option<model::rules::Level>,
}

impl Finding {
    fn pass(summary: impl Into<String>) -> Self {
        Finding {
            status: Status::Pass,
            summary: summary.into(),
            evidence: vec![],
            causes: vec![],
            level: None,
        }
    }

    fn na(summary: impl Into<String>) -> Self {
        Finding {
            status: Status::NotApplicable,
            summary: summary.into(),
            evidence: vec![],
            causes: vec![],
            level: None,
        }
    }

    fn fail(cause: &'static str, summary: impl Into<String>, evidence: Vec<Evidence>) -> Self {
        Finding {
            status: Status::Fail,
            summary: summary.into(),
            evidence,
            causes: vec![cause],
            level: None,
        }
    }
}

/// Breaches of a rule's checks, gathered as a rule reads the run: each with its cause.
#[derive(Default)]
pub(crate) struct Breaches {
    causes: Vec<&'static str>,
    evidence: Vec<Evidence>,
}

impl Breaches {
    /// Records a breach of the check `cause`, shown by `evidence`.
    pub(crate) fn add(
        &mut self,
        cause: &'static str,
        evidence: impl IntoIterator<Item = Evidence>,
    ) {
        if !self.causes.contains(&cause) {
            self.causes.push(cause);
        }
        self.evidence.extend(evidence);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.causes.is_empty()
    }

    /// Pass when nothing was breached, else a fail with every cause and its evidence.
    pub(crate) fn finding(self, pass: impl Into<String>, fail: impl Into<String>) -> Finding {
        if self.causes.is_empty() {
            Finding::pass(pass)
        } else {
            let mut evidence = self.evidence;
            evidence.dedup();
            Finding {
                status: Status::Fail,
                summary: fail.into(),
                evidence,
                causes: self.causes,
                level: None,
            }
        }
    }
}

/// How many items of evidence a verdict carries: past it, one more item says how many were
/// left out (the journal holds them all). A fleet's hour in `observe` can breach a rule a
/// million times; a report (and a pull-request comment) lists the first ones.
pub const MAX_EVIDENCE: usize = 100;

/// The item that stands for `n` more items of evidence, the first of them at `at_us`.
pub(crate) fn more_evidence(n: usize, at_us: u64) -> Evidence {
    Evidence {
        at_us,
        what: format!("… and {n} more like these (the journal has them all)"),
        seq: None,
    }
}

/// Keeps the first [`MAX_EVIDENCE`] items and says how many more there were (a rule that
/// stopped collecting at the cap has said so itself: its list is left as it is).
fn cap_evidence(mut evidence: Vec<Evidence>) -> Vec<Evidence> {
    if evidence.len() > MAX_EVIDENCE + 1 {
        let more = more_evidence(evidence.len() - MAX_EVIDENCE, evidence[MAX_EVIDENCE].at_us);
        evidence.truncate(MAX_EVIDENCE);
        evidence.push(more);
    }
    evidence
}

/// Evidence about a journal entry.
pub fn about(e: &JournalEntry, what: String) -> Evidence {
    Evidence {
        at_us: e.arrived_us,
        what,
        seq: Some(e.seq),
    }
}

/// A short description of a request: `POST token (refresh_token) -> 429`.
pub fn describe(e: &JournalEntry) -> String {
    let grant = e
        .grant_type
        .as_ref()
        .map(|g| {
            format!(
                " ({})",
                serde_json::to_value(g)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            )
        })
        .unwrap_or_default();
    let status = if e.status == 0 {
        "no response".to_string()
    } else {
        e.status.to_string()
    };
    format!(
        "{} {}{grant} at {} -> {status}",
        e.method,
        e.endpoint,
        secs(e.arrived_us)
    )
}

/// The rules observe mode judges: what the journal (and the state directory) alone can show.
/// The others need to know what the app asked for (driver commands) and are not applicable.
pub fn observable() -> impl Iterator<Item = RuleId> {
    RuleId::ALL.iter().copied().filter(|r| r.rule().observable)
}

/// The guards every driven run is judged by, whatever its scenario lists.
const ALWAYS: &[RuleId] = &[RuleId::ClientOutcome, RuleId::ClientLiveness];

fn judge_one(id: RuleId, input: &Input<'_>) -> Finding {
    use RuleId::*;
    match id {
        ClientLiveness => client::liveness(input),
        ClientOutcome => client::outcome(input),
        ThrottleRetryAfter => throttle::retry_after(input),
        ApiRetryAfter => api::retry_after(input),
        Backoff5xx => backoff::backoff_5xx(input),
        BackoffTimeout => backoff::backoff_timeout(input),
        RobustMalformedResponse => robust::malformed(input),
        RobustPermanentRefusal => robust::permanent(input),
        CacheReuse => cache::reuse(input),
        CachePersist => cache::persist(input),
        CacheProtected => cache::protected(input),
        SilentOrder => silent::order(input),
        SilentPromptNone => silent::prompt_none(input),
        SilentNoForcedPrompt => silent::no_forced_prompt(input),
        RefreshProactive => refresh::proactive(input),
        RefreshOutageTolerant => refresh::outage_tolerant(input),
        ClaimsIdTokenOverUserinfo => claims::no_userinfo(input),
        ClaimsRolesInToken => claims::roles_in_token(input),
        ClaimsCorrect => claims::correct(input),
        ClaimsGroupsOverage => claims::groups_overage(input),
        CaeClaimsChallenge => cae::claims_challenge(input),
        CaeCapable => cae::cae_capable(input),
        TokensOpaque => tokens::opaque(input),
        ConcurrencySingleFlight => concurrency::single_flight(input),
        DevicePolling => device::device_polling(input),
    }
}

/// Judges a run by the scenario's rules and the guards (observe mode: by every observable
/// rule).
pub fn judge(input: &Input<'_>) -> Vec<Verdict> {
    let mut ids: Vec<RuleId> = if input.observed {
        // The journal can show any of these, whatever the scenario was written to test.
        observable().collect()
    } else {
        input
            .scenario
            .rules
            .iter()
            .filter_map(|r| RuleId::parse(r.value.id()))
            .collect()
    };
    if !input.observed {
        for g in ALWAYS {
            if !ids.contains(g) {
                ids.push(*g);
            }
        }
    } else if !ids.contains(&RuleId::ClientLiveness) {
        ids.push(RuleId::ClientLiveness);
    }
    let mut out = Vec::new();
    for id in ids {
        let rule = id.rule();
        let f = match input.outcome {
            Outcome::NotApplicable { reason } => Finding::na(reason.clone()),
            Outcome::Unjudgeable { reason } => Finding {
                status: Status::Error,
                summary: format!("the run could not be judged: {reason}"),
                evidence: vec![],
                causes: vec![],
                level: None,
            },
            Outcome::ClientFailed { .. } if id != RuleId::ClientLiveness => Finding {
                status: Status::Error,
                summary: "the run could not be judged: the client failed (see client.liveness)"
                    .into(),
                evidence: vec![],
                causes: vec![],
                level: None,
            },
            _ => judge_one(id, input),
        };
        debug_assert!(
            f.causes.iter().all(|c| rule.causes.contains(c)),
            "{id} failed for {:?}, not among its declared causes {:?}",
            f.causes,
            rule.causes
        );
        out.push(Verdict {
            rule: id.to_string(),
            level: f.level.unwrap_or(rule.level),
            status: f.status,
            summary: f.summary,
            evidence: cap_evidence(f.evidence),
            causes: f.causes.iter().map(|c| c.to_string()).collect(),
            expected: None,
        });
    }
    out
}

/// The operation of command `id`.
pub(crate) fn op_of<'a>(input: &'a Input<'_>, id: u64) -> Option<&'a str> {
    input.transcript.iter().find_map(|e| match &e.event {
        TranscriptEvent::Command { id: cid, op, .. } if *cid == id => Some(op.as_str()),
        _ => None,
    })
}

#[cfg(test)]
pub(crate) mod testkit {
    //! Hand-built journals and transcripts for rule tests.
    use model::{Completion, Endpoint, GrantType, IssuedToken, JournalEntry, TokenKind};

    pub fn entry(seq: u64, at_s: f64, endpoint: Endpoint, status: u16) -> JournalEntry {
        let at = (at_s * 1e6) as u64;
        JournalEntry {
            seq,
            tenant: Some("t".into()),
            arrived_us: at,
            finished_us: Some(at + 2_000),
            completion: Completion::Sent,
            method: if endpoint == Endpoint::Graph {
                "GET".into()
            } else {
                "POST".into()
            },
            path: String::new(),
            endpoint,
            http_version: "HTTP/1.1".into(),
            grant_type: (endpoint == Endpoint::Token).then_some(GrantType::ClientCredentials),
            client_id: Some("c".into()),
            scopes: vec!["https://graph.microsoft.com/.default".into()],
            prompt: None,
            claims: None,
            client_capabilities: vec![],
            client_request_id: None,
            client_sku: None,
            presented: None,
            status,
            response_headers: vec![],
            error: None,
            error_codes: vec![],
            issued: if status == 200 && endpoint == Endpoint::Token {
                vec![IssuedToken {
                    kind: TokenKind::Access,
                    fingerprint: model::Fingerprint::of(&format!("token-{seq}")),
                    uti: None,
                    expires_in: Some(3599),
                    refresh_in: None,
                    scopes: vec!["https://graph.microsoft.com/.default".into()],
                    audience: None,
                    cae: false,
                    opaque: false,
                }]
            } else {
                vec![]
            },
            fault: None,
            batch_paths: vec![],
        }
    }

    /// Judges a hand-built run (completed) and returns one rule's status and evidence.
    pub fn judged(
        rule: &str,
        scenario: &model::scenario::Scenario,
        journal: &[JournalEntry],
        transcript: &[model::transcript::TranscriptEntry],
        state_files: &[model::StateFile],
        fired: &[model::FiredEvent],
    ) -> (model::verdict::Status, Vec<String>) {
        let v = super::judge(&super::Input {
            scenario,
            journal,
            transcript,
            state_files,
            outcome: &model::Outcome::Completed,
            fired,
            observed: false,
        });
        let v = v
            .into_iter()
            .find(|v| v.rule == rule)
            .unwrap_or_else(|| panic!("no verdict for {rule}"));
        (v.status, v.evidence.into_iter().map(|e| e.what).collect())
    }

    /// A token of `kind` (no lifetime, no scopes) whose fingerprint is that of `label`.
    pub fn token_of(kind: TokenKind, label: &str) -> IssuedToken {
        IssuedToken {
            kind,
            fingerprint: model::Fingerprint::of(label),
            uti: None,
            expires_in: None,
            refresh_in: None,
            scopes: vec![],
            audience: None,
            cae: false,
            opaque: kind != TokenKind::Access && kind != TokenKind::Id,
        }
    }

    pub fn with_header(mut e: JournalEntry, k: &str, v: &str) -> JournalEntry {
        e.response_headers.push((k.into(), v.into()));
        e
    }

    pub fn scenario(yaml_rules: &str, extra: &str) -> model::scenario::Scenario {
        let text = format!(
            "name: t\nsummary: t\nflow: client_credentials\nfeatures: [persist, call_api]\nrules: {yaml_rules}\nsteps: [{{acquire_token: {{}}}}, {{restart: {{}}}}, {{call_api: {{path: /users/x}}}}]\n{extra}"
        );
        // Tests build scenarios that the validator may judge unexercisable; they are parsed
        // without the cross-checks.
        serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::testkit::*;
    use super::*;
    use model::transcript::TranscriptEntry;
    use model::Endpoint;

    /// A rule breached a thousand times lists the first [`MAX_EVIDENCE`] items and says how
    /// many more there were; one breached a few times lists them all.
    #[test]
    fn evidence_is_capped_with_a_count_of_the_rest() {
        let s = scenario("[cae.capable, cache.reuse]", "");
        let journal: Vec<_> = (0..1000)
            .map(|i| entry(i, 1.0 + i as f64 * 0.5, Endpoint::Token, 200))
            .collect();
        let t = vec![
            TranscriptEntry {
                at_us: 0,
                event: TranscriptEvent::Command {
                    id: 1,
                    op: "acquire_token".into(),
                    args: serde_json::json!({}),
                    step: 0,
                    deadline_ms: 1000,
                },
            },
            TranscriptEntry {
                at_us: 1,
                event: TranscriptEvent::Command {
                    id: 2,
                    op: "acquire_token".into(),
                    args: serde_json::json!({}),
                    step: 1,
                    deadline_ms: 1000,
                },
            },
        ];
        // Every request lacks cp1: 1000 breaches.
        let (st, ev) = judged("cae.capable", &s, &journal, &t, &[], &[]);
        assert_eq!(st, Status::Fail);
        assert_eq!(ev.len(), MAX_EVIDENCE + 1, "{ev:?}");
        assert!(
            ev[MAX_EVIDENCE].contains("900 more"),
            "{}",
            ev[MAX_EVIDENCE]
        );
        // Nearly every request came while an earlier token was valid: the first 50 are shown
        // as pairs (the token, the request), the rest counted.
        let (st, ev) = judged("cache.reuse", &s, &journal, &t, &[], &[]);
        assert_eq!(st, Status::Fail);
        assert_eq!(ev.len(), MAX_EVIDENCE + 1, "{ev:?}");
        let more: usize = ev[MAX_EVIDENCE]
            .trim_start_matches("… and ")
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!((900..950).contains(&more), "{}", ev[MAX_EVIDENCE]);
        // A few breaches: all listed, no count.
        let (_, ev) = judged("cae.capable", &s, &journal[..3], &t, &[], &[]);
        assert_eq!(ev.len(), 3, "{ev:?}");
        // The cap applies to any rule's list, however it was gathered.
        let long: Vec<Evidence> = (0..250)
            .map(|i| Evidence {
                at_us: i,
                what: format!("e{i}"),
                seq: Some(i),
            })
            .collect();
        let capped = cap_evidence(long);
        assert_eq!(capped.len(), MAX_EVIDENCE + 1);
        assert_eq!(capped[MAX_EVIDENCE].at_us, MAX_EVIDENCE as u64);
        assert!(capped[MAX_EVIDENCE].what.contains("150 more"));
    }

    /// A client ended by a signal after shutdown: killed by the harness (it did not exit in
    /// time), or crashed by itself; a transcript from before signals were recorded reads as
    /// killed, as it always did.
    #[test]
    fn a_signal_at_shutdown_is_a_kill_when_the_harness_sent_it_and_a_crash_when_not() {
        let s = scenario("[client.liveness]", "");
        let started = TranscriptEntry {
            at_us: 1,
            event: TranscriptEvent::Started {
                pid: 7,
                incarnation: 1,
            },
        };
        let exited = |signal: Option<i32>| TranscriptEntry {
            at_us: 12_500_000,
            event: TranscriptEvent::Exited {
                code: None,
                signal,
                expected: true,
                stderr_tail: vec!["last words".into()],
            },
        };
        let term = TranscriptEntry {
            at_us: 12_000_000,
            event: TranscriptEvent::Signalled {
                signal: "SIGTERM".into(),
            },
        };
        let liveness = |t: Vec<TranscriptEntry>| {
            let v = judge(&Input {
                scenario: &s,
                journal: &[],
                transcript: &t,
                state_files: &[],
                outcome: &Outcome::Completed,
                fired: &[],
                observed: false,
            });
            v.into_iter()
                .find(|v| v.rule == "client.liveness")
                .expect("judged")
        };
        let killed = liveness(vec![started.clone(), term.clone(), exited(Some(15))]);
        assert_eq!(killed.status, Status::Fail);
        assert_eq!(killed.causes, ["killed-at-shutdown"]);
        assert!(killed
            .evidence
            .iter()
            .any(|e| e.at_us == 12_000_000 && e.what.contains("the harness sent SIGTERM")));
        assert!(killed
            .evidence
            .iter()
            .any(|e| e.what == "stderr: last words"));

        let crashed = liveness(vec![started.clone(), exited(Some(11))]);
        assert_eq!(crashed.causes, ["crash"]);
        assert!(crashed.evidence[0].what.contains("signal 11 (SIGSEGV)"));
        assert!(crashed
            .evidence
            .iter()
            .any(|e| e.what == "stderr: last words"));

        // A SIGTERM sent to an earlier incarnation says nothing about this one.
        let restarted = liveness(vec![
            started.clone(),
            term,
            started.clone(),
            exited(Some(6)),
        ]);
        assert_eq!(restarted.causes, ["crash"]);

        let old = liveness(vec![started, exited(None)]);
        assert_eq!(old.causes, ["killed-at-shutdown"]);
    }

    /// A journal with holes (its cap reached) is judged by no rule, the guard included: the
    /// missing requests could have been the client's offence or its excuse.
    #[test]
    fn a_run_with_holes_in_its_journal_is_an_error_for_every_rule() {
        let s = scenario("[client.liveness, cache.reuse]", "");
        let v = judge(&Input {
            scenario: &s,
            journal: &[],
            transcript: &[],
            state_files: &[],
            outcome: &Outcome::Unjudgeable {
                reason: "3 of this scenario's requests are missing from the journal".into(),
            },
            fired: &[],
            observed: false,
        });
        assert!(v.len() >= 2);
        for r in &v {
            assert_eq!(r.status, Status::Error, "{r:?}");
            assert!(r
                .summary
                .contains("3 of this scenario's requests are missing"));
        }
    }

    #[test]
    fn liveness_pass_fail_and_error_for_the_others() {
        let s = scenario("[client.liveness, throttle.retry-after]", "");
        let t = vec![TranscriptEntry {
            at_us: 10,
            event: TranscriptEvent::Exited {
                code: Some(0),
                signal: None,
                expected: true,
                stderr_tail: vec![],
            },
        }];
        let ok = judge(&Input {
            scenario: &s,
            journal: &[],
            transcript: &t,
            state_files: &[],
            outcome: &Outcome::Completed,
            fired: &[],
            observed: false,
        });
        let live = ok.iter().find(|v| v.rule == "client.liveness").unwrap();
        assert_eq!(live.status, Status::Pass);

        let failed = Outcome::ClientFailed {
            reason: "no answer to command 3 (acquire_token) within 60s".into(),
            stderr_tail: vec!["panic: boom".into()],
        };
        let v = judge(&Input {
            scenario: &s,
            journal: &[],
            transcript: &t,
            state_files: &[],
            outcome: &failed,
            fired: &[],
            observed: false,
        });
        let live = v.iter().find(|v| v.rule == "client.liveness").unwrap();
        assert_eq!(live.status, Status::Fail);
        assert!(live.evidence.iter().any(|e| e.what.contains("panic: boom")));
        assert_eq!(
            v.iter()
                .find(|v| v.rule == "throttle.retry-after")
                .unwrap()
                .status,
            Status::Error
        );

        let na = Outcome::NotApplicable {
            reason: "the client lacks the feature(s) cae".into(),
        };
        let v = judge(&Input {
            scenario: &s,
            journal: &[],
            transcript: &[],
            state_files: &[],
            outcome: &na,
            fired: &[],
            observed: false,
        });
        assert!(v.iter().all(|v| v.status == Status::NotApplicable));

        let garbage = vec![TranscriptEntry {
            at_us: 5,
            event: TranscriptEvent::ProtocolError {
                message: "not JSON".into(),
                line: "hello".into(),
            },
        }];
        let v = judge(&Input {
            scenario: &s,
            journal: &[],
            transcript: &garbage,
            state_files: &[],
            outcome: &Outcome::Completed,
            fired: &[],
            observed: false,
        });
        assert_eq!(
            v.iter()
                .find(|v| v.rule == "client.liveness")
                .unwrap()
                .status,
            Status::Fail
        );
    }

    #[test]
    fn every_catalog_rule_is_judged() {
        for r in model::rules::CATALOG.iter() {
            let s = scenario(&format!("[{}]", r.id), "");
            let v = judge(&Input {
                scenario: &s,
                journal: &[],
                transcript: &[],
                state_files: &[],
                outcome: &Outcome::Completed,
                fired: &[],
                observed: false,
            });
            assert!(
                v.iter().any(|v| v.rule == r.id.as_str()),
                "{} gave no verdict",
                r.id
            );
        }
    }

    #[test]
    fn describe_names_the_request() {
        let e = entry(1, 2.013, Endpoint::Token, 429);
        assert_eq!(
            describe(&e),
            "POST token (client_credentials) at 2.013 s -> 429"
        );
    }
}
