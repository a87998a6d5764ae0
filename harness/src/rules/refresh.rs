//! `refresh.*`: renewing early when `refresh_in` says so, and serving the old token while
//! renewal fails.

use super::silent::revocations;
use super::{about, describe, scope_key, Breaches, Finding, Input};
use model::transcript::TranscriptEvent;
use model::verdict::{secs, Evidence};
use model::{Endpoint, GrantType, JournalEntry, TokenKind};

/// `refresh.proactive`: after `refresh_in` elapses (and before expiry), a need for the token
/// leads to a renewal instead of serving the old token forever.
pub fn proactive(input: &Input<'_>) -> Finding {
    let with_refresh_in: Vec<(&JournalEntry, u64, u64)> = input
        .client_requests()
        .filter(|e| e.endpoint == Endpoint::Token && e.status == 200)
        .filter_map(|e| {
            let at = e.issued_of(TokenKind::Access)?;
            let r = at.refresh_in?;
            let issued = e.finished_us.unwrap_or(e.arrived_us);
            Some((
                e,
                issued + r * 1_000_000,
                issued + at.expires_in.unwrap_or(0) * 1_000_000,
            ))
        })
        .collect();
    if with_refresh_in.is_empty() {
        return Finding::na("no token came with refresh_in");
    }
    let mut situations = 0;
    let mut ev = Vec::new();
    for (e, due, expires) in with_refresh_in {
        let key = scope_key(&e.scopes);
        let asked_after: Vec<u64> = input
            .commands("acquire_token")
            .map(|c| c.at_us)
            .filter(|t| *t >= due && *t < expires)
            .collect();
        let Some(&first_need) = asked_after.first() else {
            continue;
        };
        situations += 1;
        // Any later request for the same token renews it: one made a little before
        // `refresh_in` elapsed (a cache rounding its clock to seconds) still replaced the
        // token; asking too early is cache.reuse's business, not this rule's.
        let renewed = input.client_requests().any(|x| {
            x.endpoint == Endpoint::Token
                && x.arrived_us > e.arrived_us
                && x.arrived_us < expires
                && x.seq != e.seq
                && scope_key(&x.scopes) == key
        });
        if !renewed {
            ev.push(about(
                e,
                format!(
                    "token issued at {} with refresh_in {} s: renewable from {}",
                    secs(e.finished_us.unwrap_or(e.arrived_us)),
                    (due - e.finished_us.unwrap_or(e.arrived_us)) / 1_000_000,
                    secs(due)
                ),
            ));
            ev.push(Evidence {
                at_us: first_need,
                what: format!(
                    "{} request(s) for a token after that, and no renewal before expiry at {}",
                    asked_after.len(),
                    secs(expires)
                ),
                seq: None,
            });
        }
    }
    if situations == 0 {
        Finding::na("the app did not need a token after refresh_in elapsed")
    } else if ev.is_empty() {
        Finding::pass("the client renewed once refresh_in elapsed")
    } else {
        Finding::fail(
            "no-renewal",
            "the client kept serving the old token after refresh_in",
            ev,
        )
    }
}

fn renewal_failed(e: &JournalEntry) -> bool {
    e.endpoint == Endpoint::Token
        && (e.status == 0
            || e.status == 429
            || e.status >= 500
            || (e.status == 200 && e.issued_of(TokenKind::Access).is_none()))
}

/// `refresh.outage-tolerant`: while renewal fails and the old access token is still valid,
/// `acquire_token` still succeeds (with the old token). MUST while the token is inside its
/// `refresh_in` window (before its last 300 s); SHOULD in its last 300 s, where MSAL
/// deliberately counts a token as expired. A breaker that keeps failing the app after the
/// renewal failures stopped still fails, for as long as the token was valid; a refusal for good
/// (`invalid_grant`, ...) or a revocation ends the token's claim to be served.
pub fn outage_tolerant(input: &Input<'_>) -> Finding {
    let mut situations = 0;
    let mut must = Breaches::default();
    let mut should = Breaches::default();
    let issued: Vec<(&JournalEntry, u64, u64)> = input
        .client_requests()
        .filter(|e| e.endpoint == Endpoint::Token && e.status == 200)
        .filter_map(|e| {
            let at = e.issued_of(TokenKind::Access)?;
            let t = e.finished_us.unwrap_or(e.arrived_us);
            Some((e, t, t + at.expires_in.unwrap_or(0) * 1_000_000))
        })
        .collect();
    let failures: Vec<&JournalEntry> = input
        .client_requests()
        .filter(|e| renewal_failed(e))
        .collect();
    // When the client's tokens stopped being servable for good: a renewal refused for good,
    // a revocation.
    let ends = input
        .client_requests()
        .filter(|e| {
            e.endpoint == Endpoint::Token
                && matches!(
                    e.grant_type,
                    Some(
                        GrantType::RefreshToken
                            | GrantType::ClientCredentials
                            | GrantType::JwtBearer
                    )
                )
                && matches!(
                    e.error.as_deref(),
                    Some(
                        "invalid_grant"
                            | "invalid_client"
                            | "unauthorized_client"
                            | "interaction_required"
                    )
                )
        })
        .map(|e| e.arrived_us)
        .chain(revocations(input))
        .chain(
            input
                .fired
                .iter()
                .filter(|f| f.action == "cae_revoke")
                .map(|f| f.at_us),
        )
        .collect::<Vec<u64>>();
    let mut seen_commands = std::collections::BTreeSet::new();
    for f in &failures {
        let Some((tok, issued_at, expires)) = issued
            .iter()
            .rev()
            .find(|(_, t, exp)| *t < f.arrived_us && f.arrived_us < *exp)
        else {
            continue;
        };
        situations += 1;
        let window = input.renewal_window("refresh.outage-tolerant").as_micros() as u64;
        let last_300 = expires.saturating_sub(window);
        let ended_for_good = ends
            .iter()
            .copied()
            .filter(|t| t > issued_at)
            .min()
            .unwrap_or(u64::MAX);
        let until = (*expires).min(ended_for_good);
        for c in input.commands("acquire_token") {
            let TranscriptEvent::Command { id, .. } = &c.event else {
                continue;
            };
            let result = input
                .transcript
                .iter()
                .find(|r| matches!(&r.event, TranscriptEvent::Result { id: rid, .. } if rid == id));
            let Some(r) = result else { continue };
            let TranscriptEvent::Result { ok: false, .. } = r.event else {
                continue;
            };
            if r.at_us < f.arrived_us || r.at_us >= until || !seen_commands.insert(*id) {
                continue;
            }
            let ev = [
                about(tok, format!("a valid access token until {}", secs(*expires))),
                about(f, format!("renewal failed: {}", describe(f))),
                Evidence {
                    at_us: r.at_us,
                    what: format!(
                        "acquire_token (command {id}) failed at {} although the old token was still valid ({} left)",
                        secs(r.at_us),
                        secs(expires.saturating_sub(r.at_us))
                    ),
                    seq: None,
                },
            ];
            if r.at_us < last_300 {
                must.add("failed-with-valid-token", ev);
            } else {
                should.add("failed-in-last-300s", ev);
            }
        }
    }
    if situations == 0 {
        return Finding::na("renewal never failed while a token was valid");
    }
    if !must.is_empty() {
        let Breaches { causes, evidence } = should;
        for c in causes {
            must.add(c, []);
        }
        must.evidence.extend(evidence);
        return must.finding("", "the app failed while its old token was still valid");
    }
    let mut f = should.finding(
        "the app kept working on the old token while renewal failed",
        "the app failed while its old token was still valid, in its last 300 s (a SHOULD: MSAL counts such a token as expired)",
    );
    if f.status == model::verdict::Status::Fail {
        f.level = Some(model::rules::Level::Should);
    }
    f
}
