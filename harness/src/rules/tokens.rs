//! `tokens.*`: the app works whatever the access token looks like.

use super::{Finding, Input};
use model::scenario::Expect;
use model::transcript::TranscriptEvent;
use model::verdict::Evidence;

/// `tokens.opaque`: everything works when the API's access token is opaque.
pub fn opaque(input: &Input<'_>) -> Finding {
    let opaque = input.client_requests().any(|e| {
        e.issued
            .iter()
            .any(|t| t.opaque && t.kind == model::TokenKind::Access)
    });
    if !opaque {
        return Finding::na("no opaque access token was issued");
    }
    let mut ev = Vec::new();
    for c in input.transcript {
        let TranscriptEvent::Command { id, op, step, .. } = &c.event else {
            continue;
        };
        if !matches!(op.as_str(), "acquire_token" | "call_api" | "whoami") {
            continue;
        }
        let expect = input
            .scenario
            .steps
            .get(*step)
            .and_then(|s| s.expect)
            .unwrap_or(Expect::Ok);
        if expect != Expect::Ok {
            continue;
        }
        let failed = input.transcript.iter().find_map(|r| match &r.event {
            TranscriptEvent::Result {
                id: rid,
                ok: false,
                body,
            } if rid == id => Some((r.at_us, body)),
            _ => None,
        });
        if let Some((at, body)) = failed {
            ev.push(Evidence {
                at_us: at,
                what: format!(
                    "{op} (command {id}) failed with an opaque token: {}",
                    body.get("description")
                        .or(body.get("error"))
                        .cloned()
                        .unwrap_or_default()
                ),
                seq: None,
            });
        }
    }
    if ev.is_empty() {
        Finding::pass("the app worked with an opaque access token")
    } else {
        Finding::fail(
            "failed-with-opaque-token",
            "the client broke on an opaque access token (did it decode it?)",
            ev,
        )
    }
}
