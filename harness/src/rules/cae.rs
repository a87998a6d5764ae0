//! `cae.*`: Continuous Access Evaluation: declaring `cp1`, and answering a claims challenge.

use super::flight::Window;
use super::{about, describe, Breaches, Finding, Input};
use model::verdict::secs;
use model::{Endpoint, JournalEntry};
use serde_json::Value;

/// `cae.capable`: every token request declares the `cp1` capability (a managed identity's
/// request has no way to: it is not judged).
pub fn cae_capable(input: &Input<'_>) -> Finding {
    let reqs: Vec<_> = input
        .client_requests()
        .filter(|e| e.endpoint == Endpoint::Token)
        .filter(|e| e.grant_type != Some(model::GrantType::ManagedIdentity))
        .collect();
    if reqs.is_empty() {
        return Finding::na("the client made no token request that could declare cp1");
    }
    let without: Vec<_> = reqs
        .iter()
        .filter(|e| {
            !e.client_capabilities
                .iter()
                .any(|c| c.eq_ignore_ascii_case("cp1"))
        })
        .collect();
    // Described up to the cap only (a fleet's journal can hold a million).
    let mut missing: Vec<_> = without
        .iter()
        .take(super::MAX_EVIDENCE)
        .map(|e| about(e, format!("{} without xms_cc cp1 in `claims`", describe(e))))
        .collect();
    if let Some(first) = without.get(super::MAX_EVIDENCE) {
        missing.push(super::more_evidence(
            without.len() - super::MAX_EVIDENCE,
            first.arrived_us,
        ));
    }
    if missing.is_empty() {
        Finding::pass("every token request declared cp1")
    } else {
        Finding::fail(
            "no-cp1",
            "the client did not declare the cp1 capability, so it gets no long-lived CAE tokens",
            missing,
        )
    }
}

/// The claims a challenge asks for: `claims="<base64 JSON>"` in `WWW-Authenticate`.
fn challenge_claims(e: &JournalEntry) -> Option<Value> {
    use base64::Engine as _;
    let h = e.response_header("www-authenticate")?;
    let i = h.find("claims=\"")? + 8;
    let b64 = h[i..].split('"').next()?;
    let t = b64.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(t)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Whether a request carries `wanted`: every member of each of its objects (`access_token`,
/// `id_token`), with the same value; other members (`xms_cc`) may be merged in.
fn carries(e: &JournalEntry, wanted: &Value) -> bool {
    let Some(sent) = e.claims.as_ref() else {
        return false;
    };
    let sent = match sent {
        // Claims journaled as text (not JSON): read them.
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        v => v.clone(),
    };
    let Some(w) = wanted.as_object() else {
        return false;
    };
    w.iter().all(|(part, members)| match members.as_object() {
        Some(m) => m
            .iter()
            .all(|(k, v)| sent.get(part).and_then(|p| p.get(k)) == Some(v)),
        None => sent.get(part) == Some(members),
    })
}

/// What the client must carry after `c`: the challenge's own claims, or (when they can't be
/// read) anything beyond the capabilities.
fn carries_challenge(e: &JournalEntry, wanted: Option<&Value>) -> bool {
    match wanted {
        Some(w) => carries(e, w),
        None => e
            .claims
            .as_ref()
            .and_then(|x| x.get("access_token"))
            .and_then(Value::as_object)
            .is_some_and(|a| a.keys().any(|k| k != "xms_cc")),
    }
}

/// The claims an `interaction_required` refusal asked the client to carry into its sign-in:
/// those of the scenario fault that scripted it (or imposed the step-up the refusal enforces).
fn refusal_claims(input: &Input<'_>, refusal: &JournalEntry) -> Option<Value> {
    let faults = &input.scenario.faults;
    let by_label = refusal.fault.as_deref().and_then(|label| {
        faults.iter().enumerate().find_map(|(i, f)| {
            let l = f
                .value
                .name
                .clone()
                .unwrap_or_else(|| format!("fault-{}", i + 1));
            (l == label).then_some(&f.value)
        })
    });
    let f = by_label.or_else(|| {
        faults
            .iter()
            .map(|f| &f.value)
            .find(|f| f.respond.error.as_deref() == Some("interaction_required"))
    })?;
    serde_json::from_str(f.respond.claims.as_deref()?).ok()
}

fn is_challenge(e: &JournalEntry) -> bool {
    e.status == 401
        && e.response_header("www-authenticate")
            .is_some_and(|w| w.contains("insufficient_claims"))
}

/// `cae.claims-challenge`: after an `insufficient_claims` challenge, a token request (or an
/// interactive sign-in) carrying the challenge's claims before the next call, the rejected token
/// never presented again, at most one retry per challenge, and, when the identity provider
/// answers `interaction_required`, an interactive sign-in carrying the claims it asked for.
pub fn claims_challenge(input: &Input<'_>) -> Finding {
    let reqs: Vec<&JournalEntry> = input.client_requests().collect();
    let challenges: Vec<&&JournalEntry> = reqs.iter().filter(|e| is_challenge(e)).collect();
    if challenges.is_empty() {
        return Finding::na("the resource never challenged");
    }
    let mut b = Breaches::default();
    let graph: Vec<&JournalEntry> = reqs
        .iter()
        .copied()
        .filter(|e| e.endpoint == Endpoint::Graph)
        .collect();
    for c in &challenges {
        let wanted = challenge_claims(c);
        let rejected = c.presented.as_ref().map(|p| p.fingerprint.clone());
        let after: Vec<&&JournalEntry> = reqs
            .iter()
            .filter(|e| e.arrived_us > c.arrived_us)
            .collect();
        // The Graph calls that can have reacted to the challenge: concurrent calls already on
        // their way when it was answered can't have (see `flight`).
        let mut window = Window::of(input, c, &graph);
        let calls: Vec<&JournalEntry> = graph
            .iter()
            .copied()
            .filter(|e| e.arrived_us > c.arrived_us)
            .filter(|e| !window.in_flight(input, e))
            .collect();
        if let Some(fp) = &rejected {
            if let Some(again) = calls
                .iter()
                .find(|e| e.presented.as_ref().is_some_and(|p| &p.fingerprint == fp))
            {
                b.add(
                    "rejected-token-reused",
                    [
                        about(c, format!("challenge at {}", secs(c.arrived_us))),
                        about(
                            again,
                            format!(
                                "the rejected token presented again at {}",
                                secs(again.arrived_us)
                            ),
                        ),
                    ],
                );
            }
        }
        let next_call = calls.first();
        let claims_request = after.iter().find(|e| {
            matches!(e.endpoint, Endpoint::Token | Endpoint::Authorize)
                && carries_challenge(e, wanted.as_ref())
        });
        let asked = wanted
            .as_ref()
            .map_or_else(|| "its claims".to_string(), Value::to_string);
        match (next_call, claims_request) {
            (Some(n), Some(t)) if t.arrived_us > n.arrived_us => b.add(
                "retried-before-claims",
                [about(
                    n,
                    format!(
                        "the call was retried at {} before a token with the challenge's claims ({asked})",
                        secs(n.arrived_us)
                    ),
                )],
            ),
            (Some(n), None) => b.add(
                "retried-without-claims",
                [about(
                    n,
                    format!(
                        "the call was retried at {} without asking for a token with the challenge's claims ({asked})",
                        secs(n.arrived_us)
                    ),
                )],
            ),
            _ => {}
        }
        // At most one retry per challenge: Graph calls after it, up to the next call_api command.
        let next_command = input
            .commands("call_api")
            .map(|e| e.at_us)
            .find(|t| *t > c.arrived_us)
            .unwrap_or(u64::MAX);
        // A call after the previous one was throttled or failed (429, 5xx, no answer) is that
        // call again, not another answer to the challenge.
        let before_next: Vec<&JournalEntry> = calls
            .iter()
            .copied()
            .filter(|e| e.arrived_us < next_command)
            .collect();
        let retries = before_next
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                *i == 0 || {
                    let p = before_next[i - 1];
                    !(p.status == 429 || p.status >= 500 || p.status == 0)
                }
            })
            .count();
        if retries > 1 {
            b.add(
                "several-retries",
                [about(
                    c,
                    format!(
                        "challenge at {}, then {retries} calls before the app asked again",
                        secs(c.arrived_us)
                    ),
                )],
            );
        }
        // interaction_required: an interactive sign-in must follow, carrying the claims the
        // refusal asked for.
        let refusal = after.iter().find(|e| {
            matches!(e.endpoint, Endpoint::Token | Endpoint::Authorize)
                && e.error.as_deref() == Some("interaction_required")
        });
        if let Some(t) = refusal {
            let interactive: Vec<&&&JournalEntry> = after
                .iter()
                .filter(|e| {
                    e.endpoint == Endpoint::Authorize
                        && e.arrived_us > t.arrived_us
                        && e.prompt.as_deref() != Some("none")
                })
                .collect();
            let owed = refusal_claims(input, t);
            match interactive.first() {
                None => b.add(
                    "no-interaction",
                    [about(
                        t,
                        format!(
                            "{} answered interaction_required; no interactive sign-in followed",
                            describe(t)
                        ),
                    )],
                ),
                Some(a) => {
                    if let Some(w) = &owed {
                        if !carries(a, w) {
                            b.add(
                                "dropped-claims-on-fallback",
                                [
                                    about(
                                        t,
                                        format!(
                                            "{} answered interaction_required, asking for the claims {w}",
                                            describe(t)
                                        ),
                                    ),
                                    about(
                                        a,
                                        format!(
                                            "the interactive sign-in at {} carried {} instead",
                                            secs(a.arrived_us),
                                            a.claims
                                                .as_ref()
                                                .map_or_else(|| "no claims".to_string(), Value::to_string)
                                        ),
                                    ),
                                ],
                            );
                        }
                    }
                }
            }
        }
    }
    b.finding(
        format!(
            "every challenge ({}) was answered with its claims and one retry",
            challenges.len()
        ),
        "the client mishandled a CAE claims challenge",
    )
}
