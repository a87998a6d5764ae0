//! The scenario parser never panics, whatever it is given; and any valid scenario survives a
//! round trip through YAML.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use std::time::Duration;
use tokenstorm_model::scenario::{self, *};

fn arb_yamlish() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("name"),
        Just("summary"),
        Just("flow"),
        Just("rules"),
        Just("steps"),
        Just("faults"),
        Just("events"),
        Just("tokens"),
        Just("respond"),
        Just("endpoint"),
        Just("calls"),
        Just("acquire_token"),
        Just("repeat"),
        Just("every"),
        Just("at"),
        Just("do"),
        Just("x"),
    ];
    let scalar = prop_oneof![
        Just("token".to_string()),
        Just("3s".to_string()),
        Just("1..2".to_string()),
        Just("client_credentials".to_string()),
        Just("[client.liveness]".to_string()),
        Just("{}".to_string()),
        Just("- a".to_string()),
        Just("&a x".to_string()),
        Just("*a".to_string()),
        Just("!!binary AAA".to_string()),
        Just("'".to_string()),
        Just("\"\\u12".to_string()),
        "[ -~]{0,12}",
    ];
    proptest::collection::vec((0usize..4, key, scalar), 0..14).prop_map(|lines| {
        lines
            .into_iter()
            .map(|(indent, k, v)| format!("{}{k}: {v}\n", "  ".repeat(indent)))
            .collect()
    })
}

fn dur() -> impl Strategy<Value = Dur> {
    (1u64..120_000).prop_map(|ms| Dur(Duration::from_millis(ms)))
}

fn respond() -> impl Strategy<Value = Respond> {
    (
        proptest::option::of(prop_oneof![
            Just(429u16),
            Just(500),
            Just(502),
            Just(503),
            Just(504)
        ]),
        proptest::option::of(dur()),
        any::<bool>(),
        proptest::option::of(dur()),
        proptest::option::of(prop_oneof![
            Just(Mangle::MalformedJson),
            Just(Mangle::Truncated),
            Just(Mangle::GatewayHtml)
        ]),
    )
        .prop_map(|(status, retry_after, http_date, delay, mangle)| Respond {
            status,
            retry_after,
            retry_after_http_date: http_date && retry_after.is_some(),
            delay,
            mangle,
            ..Respond::default()
        })
}

fn valid_scenario() -> impl Strategy<Value = Scenario> {
    (
        "[a-z][a-z0-9-]{0,20}",
        "[A-Za-z ,.]{1,40}",
        proptest::collection::vec(
            (
                proptest::option::of(1u64..5),
                proptest::option::of(dur()),
                respond(),
            ),
            0..4,
        ),
        proptest::collection::vec((proptest::option::of(1u32..10), dur()), 1..5),
        proptest::option::of(dur()),
        proptest::option::of(0usize..300),
    )
        .prop_map(
            |(name, summary, faults, steps, lifetime, groups)| Scenario {
                name: At::new(name),
                summary,
                tags: vec!["generated".into()],
                flow: At::new(Flow::ClientCredentials),
                features: vec![],
                rules: vec![At::new(RuleRef::Id("client.liveness".into()))],
                tokens: TokenShaping {
                    access_token_lifetime: lifetime,
                    groups,
                    ..TokenShaping::default()
                },
                user: UserPlay::default(),
                faults: faults
                    .into_iter()
                    .map(|(call, after, respond)| {
                        At::new(Fault {
                            name: None,
                            endpoint: At::new(FaultEndpoint::Token),
                            path: None,
                            calls: call.map(|c| At::new(c.to_string())),
                            after,
                            until: None,
                            grant: None,
                            scope: None,
                            client: None,
                            after_event: None,
                            probability: None,
                            seed: None,
                            respond,
                        })
                    })
                    .collect(),
                events: vec![],
                steps: steps
                    .into_iter()
                    .map(|(count, every)| {
                        At::new(Step {
                            acquire_token: Some(AcquireToken::default()),
                            repeat: count.map(|c| Repeat {
                                count: Some(c),
                                for_: None,
                                every,
                            }),
                            expect: Some(Expect::Either),
                            ..Step::default()
                        })
                    })
                    .collect(),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn the_parser_never_panics_on_yamlish_text(text in arb_yamlish()) {
        let _ = scenario::parse(&text, "fuzz.yaml");
    }

    #[test]
    fn the_parser_never_panics_on_any_text(text in ".{0,200}") {
        if let Err(e) = scenario::parse(&text, "fuzz.yaml") {
            for err in &e.0 {
                prop_assert!(err.to_string().starts_with("fuzz.yaml:"));
            }
        }
    }

    #[test]
    fn a_valid_scenario_round_trips(s in valid_scenario()) {
        let yaml = serde_saphyr::to_string(&s).unwrap();
        let back = scenario::parse(&yaml, "gen.yaml").map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
        prop_assert_eq!(back, s);
    }
}
