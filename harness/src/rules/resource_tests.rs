//! Tests of the claims, CAE, opaque-token, single-flight and device-polling rules, by rule ID.

use super::testkit::*;
use model::transcript::{TranscriptEntry, TranscriptEvent};
use model::verdict::Status;
use model::{Endpoint, GrantType, PresentedToken, TokenKind};
use serde_json::json;

fn user(rule: &str, extra: &str) -> model::scenario::Scenario {
    serde_saphyr::from_str(&format!("name: t\nsummary: t\nflow: auth_code\nfeatures: [whoami, call_api, cae]\nrules: [{rule}]\nsteps: [{{whoami: {{}}}}]\n{extra}")).unwrap()
}
fn cmd(at: f64, id: u64, op: &str) -> TranscriptEntry {
    TranscriptEntry {
        at_us: (at * 1e6) as u64,
        event: TranscriptEvent::Command {
            id,
            op: op.into(),
            args: serde_json::Value::Null,
            step: 0,
            deadline_ms: 1000,
        },
    }
}
fn res(at: f64, id: u64, ok: bool, body: serde_json::Value) -> TranscriptEntry {
    TranscriptEntry {
        at_us: (at * 1e6) as u64,
        event: TranscriptEvent::Result { id, ok, body },
    }
}
fn status(
    s: &model::scenario::Scenario,
    rule: &str,
    j: &[model::JournalEntry],
    t: &[TranscriptEntry],
) -> Status {
    judged(rule, s, j, t, &[], &[]).0
}
fn me() -> serde_json::Value {
    let u = mock_idp::UserConfig::default();
    json!({"ok": true, "name": u.name, "username": u.username, "oid": u.oid, "roles": ["Reader"], "groups": []})
}

#[test]
fn claims_correct_and_overage() {
    let s = user("claims.correct", "tokens: { roles: [Reader] }\n");
    assert_eq!(
        status(
            &s,
            "claims.correct",
            &[],
            &[cmd(1.0, 1, "whoami"), res(1.1, 1, true, me())]
        ),
        Status::Pass
    );
    let mut wrong = me();
    wrong["roles"] = json!([]);
    assert_eq!(
        status(
            &s,
            "claims.correct",
            &[],
            &[cmd(1.0, 1, "whoami"), res(1.1, 1, true, wrong)]
        ),
        Status::Fail
    );
    assert_eq!(
        status(&s, "claims.correct", &[], &[]),
        Status::NotApplicable
    );

    let s = user("claims.groups-overage", "tokens: { groups: 250 }\n");
    let all: Vec<String> = mock_idp::groups(250).into_iter().map(|g| g.id).collect();
    let mut full = me();
    full["groups"] = json!(all);
    let mut call = entry(1, 1.05, Endpoint::Graph, 200);
    call.path = "/graph/v1.0/users/x/getMemberObjects".into();
    let t = [cmd(1.0, 1, "whoami"), res(1.1, 1, true, full.clone())];
    assert_eq!(
        status(&s, "claims.groups-overage", std::slice::from_ref(&call), &t),
        Status::Pass
    );
    let mut again = call.clone();
    again.seq = 2;
    again.arrived_us = 1_070_000;
    assert_eq!(
        status(
            &s,
            "claims.groups-overage",
            &[call.clone(), again.clone()],
            &t
        ),
        Status::Fail,
        "two queries in one sign-in"
    );
    // The same two queries with a restart of the client between them: one per process.
    let restarted = [
        TranscriptEntry {
            at_us: 0,
            event: TranscriptEvent::Started {
                pid: 1,
                incarnation: 1,
            },
        },
        cmd(1.0, 1, "whoami"),
        res(1.1, 1, true, full.clone()),
        TranscriptEntry {
            at_us: 1_060_000,
            event: TranscriptEvent::Started {
                pid: 2,
                incarnation: 2,
            },
        },
    ];
    assert_eq!(
        status(
            &s,
            "claims.groups-overage",
            &[call.clone(), again],
            &restarted
        ),
        Status::Pass,
        "a query per process"
    );
    let mut partial = me();
    partial["groups"] = json!(all[..100].to_vec());
    assert_eq!(
        status(
            &s,
            "claims.groups-overage",
            &[call],
            &[cmd(1.0, 1, "whoami"), res(1.1, 1, true, partial)]
        ),
        Status::Fail
    );
    assert_eq!(
        status(
            &user("claims.groups-overage", ""),
            "claims.groups-overage",
            &[],
            &t
        ),
        Status::NotApplicable
    );
}

#[test]
fn cae_challenge_handling() {
    let s = user("cae.claims-challenge", "");
    let fp = model::Fingerprint::of("old");
    let mut ch = with_header(
        entry(1, 1.0, Endpoint::Graph, 401),
        "www-authenticate",
        "Bearer error=\"insufficient_claims\", claims=\"e30=\"",
    );
    ch.presented = Some(PresentedToken {
        kind: TokenKind::Access,
        fingerprint: fp.clone(),
        uti: None,
    });
    let mut tok = entry(2, 1.1, Endpoint::Token, 200);
    tok.claims = Some(
        json!({"access_token": {"nbf": {"essential": true, "value": "1"}, "xms_cc": {"values": ["cp1"]}}}),
    );
    let mut retry = entry(3, 1.2, Endpoint::Graph, 200);
    retry.presented = Some(PresentedToken {
        kind: TokenKind::Access,
        fingerprint: model::Fingerprint::of("new"),
        uti: None,
    });
    let t = [cmd(0.9, 1, "call_api")];
    assert_eq!(
        status(
            &s,
            "cae.claims-challenge",
            &[ch.clone(), tok.clone(), retry.clone()],
            &t
        ),
        Status::Pass
    );
    // Retried with the rejected token, without new claims: fail.
    let mut same = retry.clone();
    same.presented = Some(PresentedToken {
        kind: TokenKind::Access,
        fingerprint: fp,
        uti: None,
    });
    assert_eq!(
        status(&s, "cae.claims-challenge", &[ch.clone(), same], &t),
        Status::Fail
    );
    assert_eq!(
        status(&s, "cae.claims-challenge", &[retry], &t),
        Status::NotApplicable
    );
}

#[test]
fn cae_challenges_are_judged_by_their_own_claims_and_the_fallback_must_carry_them() {
    use base64::Engine as _;
    let acrs = json!({"access_token": {"acrs": {"essential": true, "value": "c1"}}});
    let b64 = base64::engine::general_purpose::STANDARD.encode(acrs.to_string());
    let ch = with_header(
        entry(1, 1.0, Endpoint::Graph, 401),
        "www-authenticate",
        &format!("Bearer error=\"insufficient_claims\", claims=\"{b64}\""),
    );
    let retry = entry(3, 1.2, Endpoint::Graph, 200);
    let t = [cmd(0.9, 1, "call_api")];
    let s = user("cae.claims-challenge", "");
    // A token request with other claims (a generic nbf) does not answer an acrs challenge.
    let mut nbf = entry(2, 1.1, Endpoint::Token, 200);
    nbf.claims = Some(json!({"access_token": {"nbf": {"essential": true, "value": "1"}}}));
    let (st, ev) = judged(
        "cae.claims-challenge",
        &s,
        &[ch.clone(), nbf, retry.clone()],
        &t,
        &[],
        &[],
    );
    assert_eq!(st, Status::Fail);
    assert!(ev.iter().any(|e| e.contains("acrs")), "{ev:?}");
    let mut good = entry(2, 1.1, Endpoint::Token, 200);
    good.claims = Some(
        json!({"access_token": {"acrs": {"essential": true, "value": "c1"}, "xms_cc": {"values": ["cp1"]}}}),
    );
    assert_eq!(
        status(
            &s,
            "cae.claims-challenge",
            &[ch.clone(), good.clone(), retry.clone()],
            &t
        ),
        Status::Pass
    );
    // interaction_required asks for MFA claims: the interactive sign-in must carry them.
    let s = user(
            "cae.claims-challenge",
            "faults:\n  - { name: mfa, endpoint: token, grant: refresh_token, respond: { error: interaction_required, claims: '{\"access_token\":{\"capolids\":{\"essential\":true,\"values\":[\"p1\"]}}}' } }\n",
        );
    let mut refused = good.clone();
    refused.status = 400;
    refused.issued.clear();
    refused.error = Some("interaction_required".into());
    refused.fault = Some("mfa".into());
    let mut dropped = entry(4, 1.3, Endpoint::Authorize, 302);
    dropped.prompt = Some("select_account".into());
    let (st, ev) = judged(
        "cae.claims-challenge",
        &s,
        &[ch.clone(), refused.clone(), dropped.clone()],
        &t,
        &[],
        &[],
    );
    assert_eq!(st, Status::Fail);
    assert!(ev.iter().any(|e| e.contains("capolids")), "{ev:?}");
    let mut carried = dropped;
    carried.claims = Some(
        json!({"access_token": {"capolids": {"essential": true, "values": ["p1"]}, "acrs": {"essential": true, "value": "c1"}}}),
    );
    assert_eq!(
        status(&s, "cae.claims-challenge", &[ch, refused, carried], &t),
        Status::Pass
    );
}

#[test]
fn giving_up_on_slow_down_breaks_polling() {
    let s = user("device.polling", "tokens: { device_interval: 2s }\n");
    let poll = |seq: u64, at: f64, error: &str| {
        let mut p = entry(seq, at, Endpoint::Token, 400);
        p.grant_type = Some(GrantType::DeviceCode);
        p.error = Some(error.into());
        p.presented = Some(PresentedToken {
            kind: TokenKind::Code,
            fingerprint: model::Fingerprint::of("device-code"),
            uti: None,
        });
        p
    };
    let j = [
        poll(1, 1.0, "authorization_pending"),
        poll(2, 3.0, "slow_down"),
    ];
    let t = [
        cmd(0.5, 1, "acquire_token"),
        res(3.1, 1, false, json!({"error": "slow_down"})),
    ];
    let (st, ev) = judged("device.polling", &s, &j, &t, &[], &[]);
    assert_eq!(st, Status::Fail);
    assert!(ev[0].contains("slow_down"), "{ev:?}");
    // Polling on, 5 s slower, until the user approves: pass.
    let mut done = entry(3, 10.1, Endpoint::Token, 200);
    done.grant_type = Some(GrantType::DeviceCode);
    done.presented = j[0].presented.clone();
    let t = [cmd(0.5, 1, "acquire_token"), res(10.2, 1, true, json!({}))];
    assert_eq!(
        status(
            &s,
            "device.polling",
            &[j[0].clone(), j[1].clone(), done],
            &t
        ),
        Status::Pass
    );
}

#[test]
fn opaque_single_flight_and_device_polling() {
    let s = user("tokens.opaque", "");
    let mut tok = entry(1, 1.0, Endpoint::Token, 200);
    tok.issued[0].opaque = true;
    assert_eq!(
        status(
            &s,
            "tokens.opaque",
            std::slice::from_ref(&tok),
            &[cmd(1.0, 1, "call_api"), res(1.2, 1, true, json!({}))]
        ),
        Status::Pass
    );
    assert_eq!(
        status(
            &s,
            "tokens.opaque",
            std::slice::from_ref(&tok),
            &[
                cmd(1.0, 1, "call_api"),
                res(1.2, 1, false, json!({"error": "jwt decode"}))
            ]
        ),
        Status::Fail
    );
    assert_eq!(status(&s, "tokens.opaque", &[], &[]), Status::NotApplicable);

    let s = user("concurrency.single-flight", "");
    let batch = [
        cmd(1.0, 1, "acquire_token"),
        cmd(1.001, 2, "acquire_token"),
        cmd(1.002, 3, "acquire_token"),
        res(1.3, 1, true, json!({})),
        res(1.3, 2, true, json!({})),
        res(1.31, 3, true, json!({})),
    ];
    assert_eq!(
        status(
            &s,
            "concurrency.single-flight",
            &[entry(1, 1.01, Endpoint::Token, 200)],
            &batch
        ),
        Status::Pass
    );
    assert_eq!(
        status(
            &s,
            "concurrency.single-flight",
            &[
                entry(1, 1.01, Endpoint::Token, 200),
                entry(2, 1.011, Endpoint::Token, 200)
            ],
            &batch
        ),
        Status::Fail
    );
    // One after another while the first token was fresh: one request could have served
    // the burst.
    assert_eq!(
        status(
            &s,
            "concurrency.single-flight",
            &[
                entry(1, 1.01, Endpoint::Token, 200),
                entry(2, 1.02, Endpoint::Token, 200)
            ],
            &batch
        ),
        Status::Fail
    );
    // One after another, each finding the previous short token already due (an MSAL-like
    // 300 s buffer facing 10 s tokens): not a single-flight breach.
    let short = |seq: u64, at: f64| {
        let mut e = entry(seq, at, Endpoint::Token, 200);
        e.issued[0].expires_in = Some(10);
        e
    };
    assert_eq!(
        status(
            &s,
            "concurrency.single-flight",
            &[short(1, 1.01), short(2, 1.02)],
            &batch
        ),
        Status::Pass
    );
    assert_eq!(
        status(
            &s,
            "concurrency.single-flight",
            &[],
            &[cmd(1.0, 1, "acquire_token")]
        ),
        Status::NotApplicable
    );

    let s = user("device.polling", "tokens: { device_interval: 2s }\n");
    let poll = |seq: u64, at: f64, st: u16, err: Option<&str>| {
        let mut p = entry(seq, at, Endpoint::Token, st);
        p.grant_type = Some(GrantType::DeviceCode);
        p.presented = Some(PresentedToken {
            kind: TokenKind::Code,
            fingerprint: model::Fingerprint::of("dc"),
            uti: None,
        });
        p.error = err.map(str::to_string);
        p
    };
    let good = [
        poll(1, 0.0, 400, Some("authorization_pending")),
        poll(2, 2.0, 400, Some("slow_down")),
        poll(3, 9.1, 200, None),
    ];
    assert_eq!(status(&s, "device.polling", &good, &[]), Status::Pass);
    let fast = [
        poll(1, 0.0, 400, Some("authorization_pending")),
        poll(2, 0.5, 200, None),
    ];
    assert_eq!(status(&s, "device.polling", &fast, &[]), Status::Fail);
    let ignored_slow_down = [
        poll(1, 0.0, 400, Some("slow_down")),
        poll(2, 2.1, 200, None),
    ];
    assert_eq!(
        status(&s, "device.polling", &ignored_slow_down, &[]),
        Status::Fail
    );
    let after_expiry = [
        poll(1, 0.0, 400, Some("expired_token")),
        poll(2, 5.0, 400, Some("expired_token")),
    ];
    assert_eq!(
        status(&s, "device.polling", &after_expiry, &[]),
        Status::Fail
    );
    assert_eq!(
        status(&s, "device.polling", &[], &[]),
        Status::NotApplicable
    );
}

/// The user's roles change at 2 s (Reader to Writer). An answer from the ID token the client got
/// at 1 s still says Reader, and that is right until a newer ID token is delivered; a fresh
/// token's Writer is right too. Anything else, or Reader after a newer token, is wrong.
#[test]
fn claims_may_be_those_of_the_last_id_token_or_the_present() {
    let s = user(
        "claims.correct",
        "tokens: { roles: [Reader] }\nevents:\n  - { name: grant, at: 2s, do: set_roles, roles: [Writer] }\n",
    );
    let fired = [model::FiredEvent {
        name: "grant".into(),
        action: "set_roles".into(),
        at_us: 2_000_000,
    }];
    let with_id = |seq: u64, at: f64| {
        let mut e = entry(seq, at, Endpoint::Token, 200);
        e.grant_type = Some(GrantType::AuthorizationCode);
        e.issued.push(token_of(TokenKind::Id, &format!("id-{seq}")));
        e
    };
    let answer = |roles: serde_json::Value| {
        let mut b = me();
        b["roles"] = roles;
        [cmd(3.0, 1, "whoami"), res(3.1, 1, true, b)]
    };
    let judge = |j: &[model::JournalEntry], roles| {
        judged("claims.correct", &s, j, &answer(roles), &[], &fired).0
    };
    let first = [with_id(1, 1.0)];
    assert_eq!(judge(&first, json!(["Reader"])), Status::Pass);
    assert_eq!(judge(&first, json!(["Writer"])), Status::Pass);
    assert_eq!(judge(&first, json!(["Admin"])), Status::Fail);
    // A token delivered at 2.5 s, after the change, says Writer: Reader is stale now.
    let both = [with_id(1, 1.0), with_id(2, 2.5)];
    assert_eq!(judge(&both, json!(["Reader"])), Status::Fail);
    assert_eq!(judge(&both, json!(["Writer"])), Status::Pass);
}

/// Two call_api commands at once, both presenting the old token: the first call is challenged
/// (answered at 1.002 s); the second, already on its way, arrives at 1.0015 s, before the
/// answer, or at 1.01 s while both commands are outstanding. Neither can have reacted to the
/// challenge, so neither is a reuse of the rejected token; a third call with it, after the
/// claims request, is.
#[test]
fn cae_calls_already_on_their_way_are_not_reactions_to_the_challenge() {
    let s = user("cae.claims-challenge", "");
    let old = || {
        Some(PresentedToken {
            kind: TokenKind::Access,
            fingerprint: model::Fingerprint::of("old"),
            uti: None,
        })
    };
    let mut ch = with_header(
        entry(1, 1.0, Endpoint::Graph, 401),
        "www-authenticate",
        "Bearer error=\"insufficient_claims\", claims=\"e30=\"",
    );
    ch.presented = old();
    let mut concurrent = with_header(
        entry(2, 1.0015, Endpoint::Graph, 401),
        "www-authenticate",
        "Bearer error=\"insufficient_claims\", claims=\"e30=\"",
    );
    concurrent.presented = old();
    let mut tok = entry(3, 1.1, Endpoint::Token, 200);
    tok.claims = Some(
        json!({"access_token": {"nbf": {"essential": true, "value": "1"}, "xms_cc": {"values": ["cp1"]}}}),
    );
    let mut retry = entry(4, 1.2, Endpoint::Graph, 200);
    retry.presented = Some(PresentedToken {
        kind: TokenKind::Access,
        fingerprint: model::Fingerprint::of("new"),
        uti: None,
    });
    let t = [cmd(0.9, 1, "call_api"), cmd(0.9, 2, "call_api")];
    let j = [ch.clone(), concurrent.clone(), tok.clone(), retry.clone()];
    let (st, ev) = judged("cae.claims-challenge", &s, &j, &t, &[], &[]);
    assert_eq!(st, Status::Pass, "{ev:?}");
    // Arriving just after the answer, while both commands wait: still on its way.
    let mut late = concurrent.clone();
    late.arrived_us = 1_010_000;
    late.finished_us = Some(1_012_000);
    let j = [ch.clone(), late, tok.clone(), retry.clone()];
    let (st, ev) = judged("cae.claims-challenge", &s, &j, &t, &[], &[]);
    assert_eq!(st, Status::Pass, "{ev:?}");
    // After the claims request, the old token again: reused.
    let mut stale = retry.clone();
    stale.seq = 5;
    stale.arrived_us = 1_300_000;
    stale.finished_us = Some(1_302_000);
    stale.presented = old();
    let (st, ev) = judged(
        "cae.claims-challenge",
        &s,
        &[ch, concurrent, tok, retry, stale],
        &t,
        &[],
        &[],
    );
    assert_eq!(st, Status::Fail, "{ev:?}");
}

/// Five concurrent needs; the first request is throttled (429, Retry-After 3 s, answered at
/// 1.012 s). A client that serialises its callers but ignores the wait sends the next caller's
/// request right after: the timing rules can't tell it from one already on its way, so it is one
/// request more than a burst needs. Waiting out the Retry-After (or coming back at most 1 s
/// early, a whole-second clock's way) is one request per burst and passes.
#[test]
fn single_flight_counts_a_request_sooner_than_a_failed_answers_wait() {
    let s = user("concurrency.single-flight", "");
    let mut batch: Vec<TranscriptEntry> = (0..5)
        .map(|i| cmd(1.0 + i as f64 * 0.001, i + 1, "acquire_token"))
        .collect();
    batch.extend((0..5).map(|i| res(4.5, i + 1, true, json!({}))));
    let throttled = with_header(entry(1, 1.01, Endpoint::Token, 429), "retry-after", "3");
    let judge = |next: f64| {
        judged(
            "concurrency.single-flight",
            &s,
            &[throttled.clone(), entry(2, next, Endpoint::Token, 200)],
            &batch,
            &[],
            &[],
        )
    };
    let (st, ev) = judge(1.02);
    assert_eq!(st, Status::Fail, "{ev:?}");
    assert_eq!(judge(4.1).0, Status::Pass);
    assert_eq!(judge(3.2).0, Status::Pass, "at most 1 s early");
    // The throttle rule excuses the same request as possibly in flight: this is the rule that
    // sees it.
    let t = user("throttle.retry-after", "");
    let (st, _) = judged(
        "throttle.retry-after",
        &t,
        &[throttled.clone(), entry(2, 1.02, Endpoint::Token, 200)],
        &batch,
        &[],
        &[],
    );
    assert_eq!(st, Status::Pass);
}

/// An overage: the ID token carries no groups, so the client knows them from its query. The
/// user's groups change (250 to 260) after the query; a refresh delivers a new ID token, still
/// without groups. Answering the queried 250 is right (a second query would be an extra one);
/// an unknown list is wrong. A query that failed (503) taught nothing: asking again at the next
/// whoami is the sign-in's one query.
#[test]
fn overage_groups_count_from_the_last_query_and_failed_queries_are_not_queries() {
    let s = user(
        "claims.groups-overage",
        "tokens: { groups: 250 }\nevents:\n  - { name: more, at: 2s, do: set_groups, groups: 260 }\n",
    );
    let fired = [model::FiredEvent {
        name: "more".into(),
        action: "set_groups".into(),
        at_us: 2_000_000,
    }];
    let with_id = |seq: u64, at: f64| {
        let mut e = entry(seq, at, Endpoint::Token, 200);
        e.issued.push(token_of(TokenKind::Id, &format!("id-{seq}")));
        e
    };
    let query = |seq: u64, at: f64, status: u16| {
        let mut q = entry(seq, at, Endpoint::Graph, status);
        q.path = "/graph/v1.0/me/memberOf".into();
        q
    };
    let ids = |n: usize| -> Vec<String> { mock_idp::groups(n).into_iter().map(|g| g.id).collect() };
    let answer = |at: f64, id: u64, groups: Vec<String>| {
        let mut b = me();
        b["groups"] = json!(groups);
        [cmd(at, id, "whoami"), res(at + 0.1, id, true, b)]
    };
    let j = [with_id(1, 0.5), query(2, 1.0, 200), with_id(3, 11.0)];
    let t = answer(12.0, 1, ids(250));
    let (st, ev) = judged("claims.groups-overage", &s, &j, &t, &[], &fired);
    assert_eq!(st, Status::Pass, "{ev:?}");
    let t = answer(12.0, 1, ids(100));
    let (st, ev) = judged("claims.groups-overage", &s, &j, &t, &[], &fired);
    assert_eq!(st, Status::Fail, "{ev:?}");
    // The first query failed; the next whoami's query is the one.
    let j = [with_id(1, 0.5), query(2, 1.0, 503), query(3, 6.0, 200)];
    let mut t = vec![cmd(1.0, 1, "whoami"), res(1.1, 1, false, json!({}))];
    t.extend(answer(6.0, 2, ids(260)));
    let (st, ev) = judged("claims.groups-overage", &s, &j, &t, &[], &fired);
    assert_eq!(st, Status::Pass, "{ev:?}");
}

/// After a challenge and a renewal with its claims, the retry is throttled (429, Retry-After
/// 2 s) and the client calls again 2.3 s later within the same command: one retry, throttled
/// and repeated, not several answers to the challenge. Two retries that were answered are.
#[test]
fn cae_a_throttled_retry_repeated_is_one_retry() {
    let s = user("cae.claims-challenge", "");
    let mut ch = with_header(
        entry(1, 0.237, Endpoint::Graph, 401),
        "www-authenticate",
        "Bearer error=\"insufficient_claims\", claims=\"e30=\"",
    );
    ch.presented = Some(PresentedToken {
        kind: TokenKind::Access,
        fingerprint: model::Fingerprint::of("old"),
        uti: None,
    });
    let mut tok = entry(2, 0.242, Endpoint::Token, 200);
    tok.claims = Some(
        json!({"access_token": {"nbf": {"essential": true, "value": "1"}, "xms_cc": {"values": ["cp1"]}}}),
    );
    let call = |seq: u64, at: f64, status: u16| {
        let mut c = with_header(entry(seq, at, Endpoint::Graph, status), "retry-after", "2");
        c.presented = Some(PresentedToken {
            kind: TokenKind::Access,
            fingerprint: model::Fingerprint::of("new"),
            uti: None,
        });
        c
    };
    let t = [cmd(0.2, 1, "call_api"), res(2.6, 1, true, json!({}))];
    let (st, ev) = judged(
        "cae.claims-challenge",
        &s,
        &[
            ch.clone(),
            tok.clone(),
            call(3, 0.249, 429),
            call(4, 2.553, 200),
        ],
        &t,
        &[],
        &[],
    );
    assert_eq!(st, Status::Pass, "{ev:?}");
    let (st, ev) = judged(
        "cae.claims-challenge",
        &s,
        &[ch, tok, call(3, 0.249, 200), call(4, 2.553, 200)],
        &t,
        &[],
        &[],
    );
    assert_eq!(st, Status::Fail, "{ev:?}");
}
