//! When a client comes back after a failure: Retry-After (judged for the identity provider by
//! `throttle.retry-after` and for the API by `api.retry-after`) and the exponential back-off
//! walk that `backoff.*`, `robust.malformed-response` and `api.retry-after` share.

use super::flight::Window;
use super::{about, describe, Breaches, Finding, Input};
use model::scenario::Fault;
use model::verdict::{secs, Evidence};
use model::{Completion, Endpoint, JournalEntry};

/// Identity-provider endpoints a client calls (the token endpoint is one across grants).
pub(super) fn idp_endpoint(e: Endpoint) -> bool {
    matches!(
        e,
        Endpoint::Token
            | Endpoint::Authorize
            | Endpoint::Devicecode
            | Endpoint::Discovery
            | Endpoint::Keys
            | Endpoint::InstanceDiscovery
    )
}

fn parse_http_date(s: &str) -> Option<time::OffsetDateTime> {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(s.trim(), &fmt)
        .ok()
        .map(|p| p.assume_utc())
}

/// The wait a response's `Retry-After` asks for, in µs: seconds, or an HTTP-date measured
/// against the response's own `Date`, less the 1 s the `Date` may have lost to its whole-second
/// precision (a client that waits until the date, on its own clock, may come back up to that
/// much sooner than the difference of the two headers).
pub fn retry_after_us(e: &JournalEntry) -> Option<u64> {
    let v = e.response_header("retry-after")?.trim();
    if let Ok(s) = v.parse::<f64>() {
        return (s.is_finite() && s >= 0.0).then_some((s * 1e6) as u64);
    }
    let at = parse_http_date(v)?;
    let date = parse_http_date(e.response_header("date")?)?;
    let d = (at - date).whole_milliseconds() - 1000;
    Some((d.max(0) as u64) * 1000)
}

/// Where a retry goes: the identity provider's sign-in endpoints (token, authorize, device code)
/// are one place (a throttled token request retried as an authorize or device-code request is
/// still a retry), per client; any other endpoint is a place of its own.
fn same_source(a: &JournalEntry, b: &JournalEntry) -> bool {
    let signin = |e: Endpoint| {
        matches!(
            e,
            Endpoint::Token | Endpoint::Authorize | Endpoint::Devicecode
        )
    };
    let place = if signin(a.endpoint) {
        signin(b.endpoint)
    } else {
        a.endpoint == b.endpoint
    };
    place && (a.client_id.is_none() || b.client_id.is_none() || a.client_id == b.client_id)
}

/// Splits requests (in arrival order) into places, each in arrival order: a request joins the
/// first place whose first request [`same_source`] matches it. The same as trying every place
/// in turn, in one lookup per request: a request without a client id joins the first place of
/// its kind, one with a client id the first of those begun by that client or by a request
/// without one.
fn places<'a>(reqs: impl Iterator<Item = &'a JournalEntry>) -> Vec<Vec<&'a JournalEntry>> {
    use rustc_hash::FxHashMap as HashMap;
    #[derive(Default)]
    struct Kind<'a> {
        first: Option<usize>,
        first_without_client: Option<usize>,
        first_of_client: HashMap<&'a str, usize>,
        /// The last client id looked up and the place found for it: a fleet's journal is
        /// mostly one client after another, so most lookups stop here.
        last: Option<(&'a str, usize)>,
    }
    let kind_of = |e: &JournalEntry| match e.endpoint {
        Endpoint::Token | Endpoint::Authorize | Endpoint::Devicecode => Endpoint::Token,
        other => other,
    };
    let mut kinds: HashMap<Endpoint, Kind<'a>> = HashMap::default();
    let mut places: Vec<Vec<&JournalEntry>> = Vec::new();
    for e in reqs {
        let k = kinds.entry(kind_of(e)).or_default();
        let found = match e.client_id.as_deref() {
            None => k.first,
            Some(c) => match k.last {
                Some((l, i)) if l == c => Some(i),
                _ => {
                    let f = match (k.first_without_client, k.first_of_client.get(c).copied()) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    if let Some(i) = f {
                        k.last = Some((c, i));
                    }
                    f
                }
            },
        };
        match found {
            Some(i) => places[i].push(e),
            None => {
                let i = places.len();
                places.push(vec![e]);
                k.first.get_or_insert(i);
                match e.client_id.as_deref() {
                    None => {
                        k.first_without_client.get_or_insert(i);
                    }
                    Some(c) => {
                        k.first_of_client.entry(c).or_insert(i);
                    }
                }
            }
        }
    }
    places
}

/// The requests after `e` that go where it went, in arrival order (`reqs` is in arrival order,
/// so they start where its arrival time does: a journal of a million requests is not walked
/// again for each throttled one).
fn later_same<'a, 's>(
    reqs: &'s [&'a JournalEntry],
    e: &'s JournalEntry,
) -> impl Iterator<Item = &'a JournalEntry> + Clone + 's {
    let start = reqs.partition_point(|n| n.arrived_us < e.arrived_us);
    reqs[start..]
        .iter()
        .copied()
        .filter(move |n| n.seq != e.seq && same_source(e, n))
}

/// `throttle.retry-after` (identity provider) and `api.retry-after` (Graph): after a 429 or
/// 5xx with Retry-After, nothing to that place until it elapses, from when the response was
/// sent. Requests already on their way are not retries ([`Window`]). For the API, answers
/// without Retry-After are judged by back-off: 1 s and growing (MUST), 5 s exponential
/// (SHOULD).
pub fn retry_after(input: &Input<'_>, api: bool) -> Finding {
    let rule = if api {
        "api.retry-after"
    } else {
        "throttle.retry-after"
    };
    let tol = input.tolerance_us(rule);
    let reqs: Vec<&JournalEntry> = input
        .client_requests()
        .filter(|e| {
            if api {
                e.endpoint == Endpoint::Graph
            } else {
                idp_endpoint(e.endpoint)
            }
        })
        .collect();
    let mut situations = 0;
    let mut b = Breaches::default();
    for e in &reqs {
        let throttled = e.status == 429 || e.status >= 500;
        if !throttled {
            continue;
        }
        let Some(wait) = retry_after_us(e) else {
            continue;
        };
        situations += 1;
        let same = later_same(&reqs, e);
        let sent = e.finished_us.unwrap_or(e.arrived_us);
        let before_sent: Vec<&JournalEntry> =
            same.clone().take_while(|n| n.arrived_us < sent).collect();
        let mut window = Window::of(input, e, &before_sent);
        let deadline = sent + wait;
        if let Some(next) = same.clone().find(|n| !window.in_flight(input, n)) {
            if next.arrived_us + tol < deadline {
                // Up to a second early is what a whole-second clock does (MSAL Python counts
                // Retry-After from int(time.time())): a cause of its own, so that accepting
                // it never accepts ignoring Retry-After.
                let early = deadline - next.arrived_us;
                b.add(
                    if early <= 1_000_000 {
                        "early-retry-within-1s"
                    } else {
                        "early-retry"
                    },
                    [
                        about(
                            e,
                            format!(
                                "{} with Retry-After {}, response sent at {}",
                                describe(e),
                                e.response_header("retry-after").unwrap_or_default(),
                                secs(sent)
                            ),
                        ),
                        about(
                            next,
                            format!(
                                "next request ({}) at {}, {} early (allowed from {})",
                                next.endpoint,
                                secs(next.arrived_us),
                                secs(deadline - next.arrived_us),
                                secs(deadline)
                            ),
                        ),
                    ],
                );
            }
        }
    }
    let mut level = None;
    if api {
        // Without Retry-After: no fast retry loop (MUST), the identity platform's 5 s
        // exponential back-off (SHOULD).
        let no_ra = |e: &JournalEntry| {
            e.endpoint == Endpoint::Graph
                && (e.status == 429 || e.status >= 500)
                && retry_after_us(e).is_none()
        };
        let must = backoff(input, rule, no_ra, "API answer without Retry-After", 1);
        situations += must.situations;
        if must.breaches.is_empty() && b.is_empty() {
            let should = backoff(input, rule, no_ra, "API answer without Retry-After", 5);
            if !should.breaches.is_empty() {
                level = Some(model::rules::Level::Should);
                b.add("short-backoff", should.breaches);
            }
        } else if !must.breaches.is_empty() {
            b.add("fast-retry", must.breaches);
        }
    }
    if situations == 0 {
        return Finding::na(if api {
            "the API never throttled or failed this client"
        } else {
            "no throttling response carried Retry-After"
        });
    }
    let mut f = b.finding(
        format!("the client waited out all {situations} throttling response(s)"),
        if level.is_some() {
            "the client backed off from the API, but by less than the 5 s exponential back-off"
        } else {
            "the client came back before the wait the answer asked for"
        },
    );
    f.level = level;
    f
}

/// What a back-off walk found.
pub(super) struct Walk {
    /// Streaks of failures.
    pub(super) situations: usize,
    /// Evidence of retries that came too soon.
    pub(super) breaches: Vec<Evidence>,
}

/// Consecutive failures (by `is_failure`) on one place: the k-th retry must come at least
/// min(base·2^(k−1), 60) s after the previous failure (with 10 % tolerance); a success ends the
/// streak. Requests on their way before the client knew of the failure ([`Window`]) are one
/// attempt with it, not retries.
pub(super) fn backoff(
    input: &Input<'_>,
    rule: &str,
    is_failure: impl Fn(&JournalEntry) -> bool,
    what: &str,
    base_s: u64,
) -> Walk {
    let tol = input.tolerance_us(rule);
    let mut walk = Walk {
        situations: 0,
        breaches: Vec::new(),
    };
    let places = places(input.client_requests());
    for on in places {
        let mut streak: u32 = 0;
        let mut last_failure: Option<(&JournalEntry, Window)> = None;
        for (i, e) in on.iter().enumerate() {
            if let Some((f, window)) = last_failure.as_mut() {
                if window.in_flight(input, e) {
                    // Part of the same attempt: a later-ending failure is what the client
                    // learns last; a success ends the streak.
                    if !is_failure(e) {
                        streak = 0;
                        last_failure = None;
                    } else if e.finished_us > f.finished_us {
                        *f = e;
                    }
                    continue;
                }
                let k = streak.max(1);
                let need_s = (base_s << (k - 1).min(6)).min(60) as f64 * 0.9;
                let gave_up = f.finished_us.unwrap_or(f.arrived_us);
                let earliest = gave_up + (need_s * 1e6) as u64;
                if e.arrived_us + tol < earliest {
                    walk.breaches.push(about(
                        f,
                        format!(
                            "{what}: {} (failure {k} in a row), over at {}",
                            describe(f),
                            secs(gave_up)
                        ),
                    ));
                    walk.breaches.push(about(
                        e,
                        format!(
                            "retry ({}) at {}: {:.1} s after it; back-off asks at least {:.1} s",
                            e.endpoint,
                            secs(e.arrived_us),
                            (e.arrived_us.saturating_sub(gave_up)) as f64 / 1e6,
                            need_s
                        ),
                    ));
                }
            }
            if is_failure(e) {
                walk.situations += usize::from(streak == 0);
                streak += 1;
                let window = Window::of(input, e, &on[i + 1..]);
                last_failure = Some((e, window));
            } else {
                streak = 0;
                last_failure = None;
            }
        }
    }
    walk
}

pub(super) fn finish(
    walk: Walk,
    cause: &'static str,
    none: &str,
    pass: &str,
    fail: &str,
) -> Finding {
    if walk.situations == 0 {
        Finding::na(none)
    } else if walk.breaches.is_empty() {
        Finding::pass(pass)
    } else {
        Finding::fail(cause, fail, walk.breaches)
    }
}

/// A request a scripted fault held (a stall, or an answer dribbled out) until the client gave
/// up on it.
pub(super) fn stalled(e: &JournalEntry) -> bool {
    e.completion == Completion::ClientDisconnected && e.fault.is_some()
}

pub(super) fn fault_of<'a>(input: &'a Input<'_>, label: &str) -> Option<&'a Fault> {
    input.scenario.faults.iter().enumerate().find_map(|(i, f)| {
        let l = f
            .value
            .name
            .clone()
            .unwrap_or_else(|| format!("fault-{}", i + 1));
        (l == label).then_some(&f.value)
    })
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use model::verdict::Status;
    use model::Endpoint;

    /// `places` groups as trying every place in turn with `same_source` would, for requests
    /// with and without client ids across endpoints.
    #[test]
    fn places_are_the_first_matching_place_of_each_request() {
        let endpoints = [
            Endpoint::Token,
            Endpoint::Authorize,
            Endpoint::Graph,
            Endpoint::Devicecode,
            Endpoint::Discovery,
        ];
        let clients = [None, Some("a"), Some("b"), Some("c")];
        let mut state: u64 = 7;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        for _ in 0..50 {
            let reqs: Vec<model::JournalEntry> = (0..40)
                .map(|i| {
                    let mut e = entry(i, i as f64, endpoints[next() % endpoints.len()], 200);
                    e.client_id = clients[next() % clients.len()].map(str::to_string);
                    e
                })
                .collect();
            let mut naive: Vec<Vec<&model::JournalEntry>> = Vec::new();
            for e in &reqs {
                match naive.iter_mut().find(|p| super::same_source(p[0], e)) {
                    Some(p) => p.push(e),
                    None => naive.push(vec![e]),
                }
            }
            let seqs = |ps: Vec<Vec<&model::JournalEntry>>| -> Vec<Vec<u64>> {
                ps.iter()
                    .map(|p| p.iter().map(|e| e.seq).collect())
                    .collect()
            };
            assert_eq!(seqs(super::places(reqs.iter())), seqs(naive));
        }
    }

    fn status(
        rule: &str,
        s: &model::scenario::Scenario,
        j: &[model::JournalEntry],
    ) -> (Status, Vec<String>) {
        judged(rule, s, j, &[], &[], &[])
    }

    #[test]
    fn retry_after_pass_fail_na() {
        let s = scenario("[throttle.retry-after]", "");
        let t = with_header(entry(1, 2.0, Endpoint::Token, 429), "retry-after", "3");
        // Came back 3.5 s later: pass.
        assert_eq!(
            status(
                "throttle.retry-after",
                &s,
                &[t.clone(), entry(2, 5.5, Endpoint::Token, 200)]
            )
            .0,
            Status::Pass
        );
        // Came back 0.5 s later: fail, with the times.
        let (st, ev) = status(
            "throttle.retry-after",
            &s,
            &[t.clone(), entry(2, 2.5, Endpoint::Token, 200)],
        );
        assert_eq!(st, Status::Fail);
        assert!(
            ev[0].contains("Retry-After 3") && ev[1].contains("2.500 s") && ev[1].contains("early"),
            "{ev:?}"
        );
        // Within the 50 ms tolerance: pass.
        assert_eq!(
            status(
                "throttle.retry-after",
                &s,
                &[t.clone(), entry(2, 4.97, Endpoint::Token, 200)]
            )
            .0,
            Status::Pass
        );
        // Never came back: pass (it gave up).
        assert_eq!(status("throttle.retry-after", &s, &[t]).0, Status::Pass);
        // No throttling at all: not applicable.
        assert_eq!(
            status(
                "throttle.retry-after",
                &s,
                &[entry(1, 1.0, Endpoint::Token, 200)]
            )
            .0,
            Status::NotApplicable
        );
        // An HTTP-date Retry-After, measured against the response's Date: 10 s apart, so the
        // wait is 9 s (the Date may have been 15:00:00.999 when the answer was sent at 2.002 s).
        let d = with_header(
            with_header(
                entry(1, 2.0, Endpoint::Token, 503),
                "date",
                "Tue, 24 Nov 2026 15:00:00 GMT",
            ),
            "retry-after",
            "Tue, 24 Nov 2026 15:00:10 GMT",
        );
        assert_eq!(
            status(
                "throttle.retry-after",
                &s,
                &[d.clone(), entry(2, 5.0, Endpoint::Token, 200)]
            )
            .0,
            Status::Fail
        );
        assert_eq!(
            status(
                "throttle.retry-after",
                &s,
                &[d.clone(), entry(2, 12.1, Endpoint::Token, 200)]
            )
            .0,
            Status::Pass
        );
        // A client that waited until 15:00:10 on its clock, the answer having been sent at
        // 15:00:00.9: back 9.1 s later, at 11.1 s. Right.
        assert_eq!(
            status(
                "throttle.retry-after",
                &s,
                &[d.clone(), entry(2, 11.1, Endpoint::Token, 200)]
            )
            .0,
            Status::Pass
        );
        // Back at 10.5 s, half a second before even the earliest instant the date can name.
        let (st, ev) = status(
            "throttle.retry-after",
            &s,
            &[d, entry(2, 10.5, Endpoint::Token, 200)],
        );
        assert_eq!(st, Status::Fail, "{ev:?}");
    }

    #[test]
    fn api_retry_after_and_its_backoff() {
        let s = scenario("[api.retry-after]", "");
        let t = with_header(entry(1, 1.0, Endpoint::Graph, 429), "retry-after", "2");
        assert_eq!(
            status(
                "api.retry-after",
                &s,
                &[t.clone(), entry(2, 3.2, Endpoint::Graph, 200)]
            )
            .0,
            Status::Pass
        );
        assert_eq!(
            status(
                "api.retry-after",
                &s,
                &[t, entry(2, 1.5, Endpoint::Graph, 200)]
            )
            .0,
            Status::Fail
        );
        // A 503 without Retry-After: back-off from 5 s.
        let u = entry(1, 1.0, Endpoint::Graph, 503);
        assert_eq!(
            status(
                "api.retry-after",
                &s,
                &[u.clone(), entry(2, 2.0, Endpoint::Graph, 200)]
            )
            .0,
            Status::Fail
        );
        assert_eq!(
            status(
                "api.retry-after",
                &s,
                &[u, entry(2, 6.1, Endpoint::Graph, 200)]
            )
            .0,
            Status::Pass
        );
        // Identity-provider throttling does not count for the API rule.
        let idp = with_header(entry(1, 1.0, Endpoint::Token, 429), "retry-after", "2");
        assert_eq!(
            status("api.retry-after", &s, &[idp]).0,
            Status::NotApplicable
        );
    }

    #[test]
    fn backoff_grows_exponentially() {
        let s = scenario("[backoff.5xx]", "");
        // Failures at 0, 5.1, 15.2 (gaps 5 then 10): pass.
        let good = [
            entry(1, 0.0, Endpoint::Token, 503),
            entry(2, 5.1, Endpoint::Token, 503),
            entry(3, 15.2, Endpoint::Token, 200),
        ];
        assert_eq!(status("backoff.5xx", &s, &good).0, Status::Pass);
        // A constant 5 s interval: the second retry is early.
        let constant = [
            entry(1, 0.0, Endpoint::Token, 503),
            entry(2, 5.1, Endpoint::Token, 503),
            entry(3, 10.2, Endpoint::Token, 200),
        ];
        let (st, ev) = status("backoff.5xx", &s, &constant);
        assert_eq!(st, Status::Fail);
        assert!(ev.iter().any(|e| e.contains("at least 9.0 s")), "{ev:?}");
        // A fast retry after 1 s: fail.
        assert_eq!(
            status(
                "backoff.5xx",
                &s,
                &[
                    entry(1, 0.0, Endpoint::Token, 500),
                    entry(2, 1.0, Endpoint::Token, 200)
                ]
            )
            .0,
            Status::Fail
        );
        // A 5xx with Retry-After is the throttle rule's, not this one's.
        let ra = with_header(entry(1, 0.0, Endpoint::Token, 503), "retry-after", "1");
        assert_eq!(
            status(
                "backoff.5xx",
                &s,
                &[ra, entry(2, 1.1, Endpoint::Token, 200)]
            )
            .0,
            Status::NotApplicable
        );
    }

    #[test]
    fn timeouts_and_malformed_answers_back_off() {
        let mut stalled = entry(1, 1.0, Endpoint::Token, 0);
        stalled.completion = model::Completion::ClientDisconnected;
        stalled.finished_us = Some(11_000_000);
        stalled.fault = Some("hang".into());
        let s = scenario("[backoff.timeout]", "");
        assert_eq!(
            status(
                "backoff.timeout",
                &s,
                &[stalled.clone(), entry(2, 16.0, Endpoint::Token, 200)]
            )
            .0,
            Status::Pass
        );
        let (st, ev) = status(
            "backoff.timeout",
            &s,
            &[stalled, entry(2, 11.5, Endpoint::Token, 200)],
        );
        assert_eq!(st, Status::Fail);
        assert!(ev[0].contains("over at 11.000 s"), "{ev:?}");
        // An answer dribbled out by a fault (its head sent: 200) that the client stopped
        // reading at 11 s is a stall it gave up on, as one never answered.
        let mut dribbled = entry(1, 1.0, Endpoint::Token, 200);
        dribbled.completion = model::Completion::ClientDisconnected;
        dribbled.finished_us = Some(11_000_000);
        dribbled.fault = Some("dribble".into());
        let (st, ev) = status(
            "backoff.timeout",
            &s,
            &[dribbled.clone(), entry(2, 11.5, Endpoint::Token, 200)],
        );
        assert_eq!(st, Status::Fail, "{ev:?}");
        assert_eq!(
            status(
                "backoff.timeout",
                &s,
                &[dribbled, entry(2, 16.0, Endpoint::Token, 200)]
            )
            .0,
            Status::Pass
        );
        assert_eq!(
            status(
                "backoff.timeout",
                &s,
                &[entry(1, 1.0, Endpoint::Token, 200)]
            )
            .0,
            Status::NotApplicable
        );

        let s = scenario("[robust.malformed-response]", "faults:\n  - { name: junk, endpoint: token, calls: \"1\", respond: { mangle: malformed_json } }\n");
        let mut junk = entry(1, 1.0, Endpoint::Token, 200);
        junk.fault = Some("junk".into());
        junk.issued.clear();
        assert_eq!(
            status(
                "robust.malformed-response",
                &s,
                &[junk.clone(), entry(2, 1.8, Endpoint::Token, 200)]
            )
            .0,
            Status::Fail
        );
        assert_eq!(
            status(
                "robust.malformed-response",
                &s,
                &[junk, entry(2, 6.2, Endpoint::Token, 200)]
            )
            .0,
            Status::Pass
        );
        assert_eq!(
            status(
                "robust.malformed-response",
                &s,
                &[entry(1, 1.0, Endpoint::Token, 200)]
            )
            .0,
            Status::NotApplicable
        );
    }
}
