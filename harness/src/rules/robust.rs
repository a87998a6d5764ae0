//! `robust.*`: a malformed answer is a failed attempt with back-off, and a request refused for
//! good is not sent again unchanged (the guidance's "no fast retry loop", for 4xx).

use super::flight::Window;
use super::retry::{backoff, fault_of, finish};
use super::{about, describe, Breaches, Finding, Input};
use model::scenario::Mangle;
use model::verdict::secs;
use model::{Endpoint, JournalEntry};

/// `robust.malformed-response`: a malformed answer (invalid JSON, no access token, truncated,
/// reset, closed) is a failed attempt with back-off, not a crash and not a fast retry.
pub fn malformed(input: &Input<'_>) -> Finding {
    let is_malformed = |e: &JournalEntry| {
        e.fault
            .as_deref()
            .and_then(|l| fault_of(input, l))
            .is_some_and(|f| {
                f.respond.connection.is_some()
                    || matches!(
                        f.respond.mangle,
                        Some(
                            Mangle::MalformedJson
                                | Mangle::MissingAccessToken
                                | Mangle::Truncated
                                | Mangle::Empty
                                | Mangle::GatewayHtml
                        )
                    )
            })
    };
    let walk = backoff(
        input,
        "robust.malformed-response",
        is_malformed,
        "malformed answer",
        5,
    );
    finish(
        walk,
        "fast-retry",
        "no malformed answer was sent",
        "the client treated malformed answers as failures and backed off",
        "the client retried a malformed answer too fast",
    )
}

/// Errors after which the same request can't succeed.
const PERMANENT: &[&str] = &[
    "invalid_grant",
    "invalid_client",
    "unauthorized_client",
    "interaction_required",
];

fn refused_for_good(e: &JournalEntry) -> bool {
    let permanent = e.error.as_deref().is_some_and(|x| PERMANENT.contains(&x));
    match e.endpoint {
        Endpoint::Token => permanent && (400..500).contains(&e.status),
        // Authorize refuses by redirecting with the error.
        Endpoint::Authorize => permanent,
        _ => false,
    }
}

/// The same request: endpoint, grant, client, what it presented (refresh token, code,
/// assertion) or, with nothing presented, the scopes; for authorize, `prompt` too.
fn same_request(a: &JournalEntry, b: &JournalEntry) -> bool {
    a.endpoint == b.endpoint
        && a.grant_type == b.grant_type
        && a.client_id == b.client_id
        && a.prompt == b.prompt
        && match (&a.presented, &b.presented) {
            (Some(x), Some(y)) => x.fingerprint == y.fingerprint,
            (None, None) => super::scope_key(&a.scopes) == super::scope_key(&b.scopes),
            _ => false,
        }
        && (a.error.as_deref() != Some("interaction_required") || a.claims == b.claims)
}

/// Whether something between `from` and `to` could have made the refused request succeed:
/// a scenario event (a user enabled, a session restored), or an interactive sign-in (the user
/// did what `interaction_required` asked).
fn changed_between(input: &Input<'_>, from: u64, to: u64) -> bool {
    input.fired.iter().any(|f| f.at_us > from && f.at_us < to)
        || input.client_requests().any(|e| {
            e.endpoint == Endpoint::Authorize
                && e.prompt.as_deref() != Some("none")
                && e.arrived_us > from
                && e.arrived_us < to
        })
}

/// `robust.permanent-refusal`.
pub fn permanent(input: &Input<'_>) -> Finding {
    let reqs: Vec<&JournalEntry> = input
        .client_requests()
        .filter(|e| matches!(e.endpoint, Endpoint::Token | Endpoint::Authorize))
        .collect();
    let refusals: Vec<&JournalEntry> = reqs
        .iter()
        .copied()
        .filter(|e| refused_for_good(e))
        .collect();
    if refusals.is_empty() {
        return Finding::na("the identity provider refused nothing for good");
    }
    let mut b = Breaches::default();
    for r in &refusals {
        let same: Vec<&JournalEntry> = reqs
            .iter()
            .copied()
            .filter(|e| e.seq != r.seq && e.arrived_us > r.arrived_us && same_request(r, e))
            .collect();
        let mut window = Window::of(input, r, &same);
        let repeat = same.iter().find(|e| {
            !window.in_flight(input, e) && !changed_between(input, window.sent(), e.arrived_us)
        });
        if let Some(again) = repeat {
            let repeats = same
                .iter()
                .filter(|e| e.arrived_us >= again.arrived_us)
                .count();
            b.add(
                "repeated-refused-request",
                [
                    about(
                        r,
                        format!(
                            "{} refused for good: {}",
                            describe(r),
                            r.error.as_deref().unwrap_or_default()
                        ),
                    ),
                    about(
                        again,
                        format!(
                            "the same request sent again at {} ({repeats} time(s) in all), with nothing changed that could make it succeed",
                            secs(again.arrived_us)
                        ),
                    ),
                ],
            );
        }
    }
    b.finding(
        format!(
            "no refused request ({}) was sent again unchanged",
            refusals.len()
        ),
        "the client repeated a request the identity provider had refused for good",
    )
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use model::verdict::Status;
    use model::{Endpoint, GrantType, PresentedToken, TokenKind};

    fn refresh(seq: u64, at: f64, rt: &str, status: u16) -> model::JournalEntry {
        let mut e = entry(seq, at, Endpoint::Token, status);
        e.grant_type = Some(GrantType::RefreshToken);
        e.presented = Some(PresentedToken {
            kind: TokenKind::Refresh,
            fingerprint: model::Fingerprint::of(rt),
            uti: None,
        });
        if status == 400 {
            e.error = Some("invalid_grant".into());
        }
        e
    }

    #[test]
    fn presenting_a_refused_refresh_token_again_fails() {
        let s = scenario("[robust.permanent-refusal]", "");
        let j = [refresh(1, 1.0, "rt-a", 400), refresh(2, 2.0, "rt-a", 400)];
        let (st, ev) = judged("robust.permanent-refusal", &s, &j, &[], &[], &[]);
        assert_eq!(st, Status::Fail);
        assert!(
            ev[0].contains("invalid_grant") && ev[1].contains("2.000 s"),
            "{ev:?}"
        );
    }

    #[test]
    fn another_refresh_token_or_a_sign_in_in_between_passes() {
        let s = scenario("[robust.permanent-refusal]", "");
        let j = [refresh(1, 1.0, "rt-a", 400), refresh(2, 2.0, "rt-b", 200)];
        assert_eq!(
            judged("robust.permanent-refusal", &s, &j, &[], &[], &[]).0,
            Status::Pass
        );
        let mut signin = entry(2, 1.5, Endpoint::Authorize, 302);
        signin.grant_type = None;
        let j = [
            refresh(1, 1.0, "rt-a", 400),
            signin,
            refresh(3, 2.0, "rt-a", 200),
        ];
        assert_eq!(
            judged("robust.permanent-refusal", &s, &j, &[], &[], &[]).0,
            Status::Pass
        );
        // Nothing refused: not applicable.
        let j = [refresh(1, 1.0, "rt-a", 200)];
        assert_eq!(
            judged("robust.permanent-refusal", &s, &j, &[], &[], &[]).0,
            Status::NotApplicable
        );
    }

    #[test]
    fn a_wrong_secret_tried_again_fails() {
        let s = scenario("[robust.permanent-refusal]", "");
        let mut a = entry(1, 1.0, Endpoint::Token, 401);
        a.error = Some("invalid_client".into());
        let mut b = a.clone();
        b.seq = 2;
        b.arrived_us = 1_500_000;
        b.finished_us = Some(1_502_000);
        let (st, _) = judged("robust.permanent-refusal", &s, &[a, b], &[], &[], &[]);
        assert_eq!(st, Status::Fail);
    }
}
