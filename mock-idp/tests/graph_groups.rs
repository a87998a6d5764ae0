//! The Graph calls correct clients make for a groups overage: `memberOf` and
//! `transitiveMemberOf` with their `microsoft.graph.group` casts (paged), `getMemberGroups`,
//! `$expand=memberOf`, and JSON batching, with Graph's shapes and auth checks.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use tokenstorm_mock_idp::MockIdp;

/// A tenant whose user is in `groups` groups, listed `page` at a time.
fn tenant(idp: &MockIdp, t: &str, groups: usize, page: usize) {
    let base = tokenstorm_mock_idp::TenantConfig::default();
    let mut user = base.user.clone();
    user.groups = tokenstorm_mock_idp::groups(groups);
    idp.configure_tenant(
        t,
        tokenstorm_mock_idp::TenantConfig {
            user,
            graph_page_size: page,
            ..base
        },
    );
}

/// A user's Graph access token.
async fn user_token(http: &reqwest::Client, idp: &MockIdp, t: &str) -> String {
    let (_, loc, _) = authorize(http, idp, t, &[], None).await;
    let code = query_param(&loc.unwrap(), "code").unwrap();
    let tok: Value = token(
        http,
        idp,
        t,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &public_id(idp)),
            ("code", &code),
            ("redirect_uri", "http://localhost:8765/callback"),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    tok["access_token"].as_str().unwrap().to_string()
}

async fn app_token(http: &reqwest::Client, idp: &MockIdp, t: &str) -> String {
    client_credentials(http, idp, t).await["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

fn ids(n: usize) -> Vec<String> {
    tokenstorm_mock_idp::groups(n)
        .into_iter()
        .map(|g| g.id)
        .collect()
}

/// Asserts Graph's error shape and returns its code.
async fn graph_error(r: reqwest::Response, status: u16) -> String {
    assert_eq!(r.status().as_u16(), status);
    let b: Value = r.json().await.unwrap();
    assert!(b["error"]["message"].is_string(), "{b}");
    assert!(b["error"]["innerError"]["request-id"].is_string(), "{b}");
    b["error"]["code"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn member_lists_and_their_group_casts_page_with_next_links() {
    let idp = start().await;
    let http = client(&idp);
    let t = "gg-lists";
    tenant(&idp, t, 5, 2);
    let at = user_token(&http, &idp, t).await;
    let app = app_token(&http, &idp, t).await;
    let oid = idp.ready().user.oid;
    let upn = idp.ready().user.username;
    let cases = [
        ("/me/memberOf/microsoft.graph.group", &at),
        ("/me/transitiveMemberOf", &at),
        ("/me/transitiveMemberOf/microsoft.graph.group", &at),
        (&format!("/users/{oid}/memberOf/microsoft.graph.group"), &at),
        (&format!("/users/{oid}/transitiveMemberOf"), &at),
        (
            &format!("/users/{upn}/transitiveMemberOf/microsoft.graph.group"),
            &app,
        ),
    ];
    for (path, token) in cases {
        let cast = path.ends_with("/microsoft.graph.group");
        let mut url = format!("{}{path}", idp.graph_url());
        let mut seen = vec![];
        let mut sizes = vec![];
        loop {
            let r = http.get(&url).bearer_auth(token).send().await.unwrap();
            assert_eq!(r.status(), 200, "{url}");
            let b: Value = r.json().await.unwrap();
            let context = b["@odata.context"].as_str().unwrap();
            let set = if cast { "#groups" } else { "#directoryObjects" };
            assert!(context.ends_with(set), "{path}: {context}");
            let items = b["value"].as_array().unwrap();
            sizes.push(items.len());
            for g in items {
                assert!(g["displayName"].is_string());
                // A cast collection is all groups: no per-item type.
                assert_eq!(g.get("@odata.type").is_some(), !cast, "{path}: {g}");
                seen.push(g["id"].as_str().unwrap().to_string());
            }
            match b["@odata.nextLink"].as_str() {
                Some(next) => {
                    assert!(
                        next.starts_with(&format!("{}{path}?", idp.graph_url())),
                        "{next}"
                    );
                    url = next.to_string();
                }
                None => break,
            }
        }
        assert_eq!(sizes, vec![2, 2, 1], "{path}");
        assert_eq!(seen, ids(5), "{path}");
    }
    // $top is honoured, as on memberOf.
    let b: Value = http
        .get(format!(
            "{}/me/memberOf/microsoft.graph.group?$top=4",
            idp.graph_url()
        ))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(b["value"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn member_lists_refuse_what_graph_refuses() {
    let idp = start().await;
    let http = client(&idp);
    let t = "gg-auth";
    tenant(&idp, t, 3, 100);
    let app = app_token(&http, &idp, t).await;
    let at = user_token(&http, &idp, t).await;
    for path in [
        "/me/memberOf/microsoft.graph.group",
        "/me/transitiveMemberOf",
        "/me/transitiveMemberOf/microsoft.graph.group",
        "/users/someone/memberOf/microsoft.graph.group",
    ] {
        let url = format!("{}{path}", idp.graph_url());
        // No token, a forged one: 401 with Graph's challenge.
        let r = http.get(&url).send().await.unwrap();
        assert!(r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer realm=\"\""));
        assert_eq!(graph_error(r, 401).await, "InvalidAuthenticationToken");
        let r = http.get(&url).bearer_auth("a.b.c").send().await.unwrap();
        assert_eq!(graph_error(r, 401).await, "InvalidAuthenticationToken");
    }
    // /me needs a user; an unknown user is not found.
    let r = http
        .get(format!("{}/me/transitiveMemberOf", idp.graph_url()))
        .bearer_auth(&app)
        .send()
        .await
        .unwrap();
    assert_eq!(graph_error(r, 400).await, "BadRequest");
    let r = http
        .get(format!(
            "{}/users/nobody/memberOf/microsoft.graph.group",
            idp.graph_url()
        ))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(graph_error(r, 404).await, "Request_ResourceNotFound");
}

#[tokio::test]
async fn get_member_groups_answers_the_group_ids() {
    let idp = start().await;
    let http = client(&idp);
    let t = "gg-groups";
    tenant(&idp, t, 5, 2);
    let at = user_token(&http, &idp, t).await;
    let app = app_token(&http, &idp, t).await;
    let oid = idp.ready().user.oid;
    let post = |path: String, token: Option<&str>, body: Option<Value>| {
        let mut r = http.post(format!("{}{path}", idp.graph_url()));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send()
    };
    for (path, token, only) in [
        ("/me/getMemberGroups".to_string(), &at, true),
        (format!("/users/{oid}/getMemberGroups"), &at, false),
        (format!("/users/{oid}/getMemberGroups"), &app, true),
    ] {
        let r = post(
            path.clone(),
            Some(token),
            Some(json!({"securityEnabledOnly": only})),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let b: Value = r.json().await.unwrap();
        assert!(b["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("$metadata#Collection(Edm.String)"));
        // Not paged: every id at once.
        assert!(b.get("@odata.nextLink").is_none());
        assert_eq!(b["value"], json!(ids(5)), "{path}");
    }
    let me = || "/me/getMemberGroups".to_string();
    // securityEnabledOnly is required and boolean.
    let r = post(me(), Some(&at), None).await.unwrap();
    assert_eq!(graph_error(r, 400).await, "BadRequest");
    let r = post(me(), Some(&at), Some(json!({}))).await.unwrap();
    assert_eq!(graph_error(r, 400).await, "BadRequest");
    let r = post(me(), Some(&at), Some(json!({"securityEnabledOnly": "yes"})))
        .await
        .unwrap();
    assert_eq!(graph_error(r, 400).await, "BadRequest");
    // The same auth checks.
    let r = post(me(), None, Some(json!({"securityEnabledOnly": true})))
        .await
        .unwrap();
    assert_eq!(graph_error(r, 401).await, "InvalidAuthenticationToken");
    let r = post(me(), Some(&app), Some(json!({"securityEnabledOnly": true})))
        .await
        .unwrap();
    assert_eq!(graph_error(r, 400).await, "BadRequest");
    let r = post(
        "/users/nobody/getMemberGroups".into(),
        Some(&at),
        Some(json!({"securityEnabledOnly": true})),
    )
    .await
    .unwrap();
    assert_eq!(graph_error(r, 404).await, "Request_ResourceNotFound");
}

#[tokio::test]
async fn expand_member_of_inlines_at_most_twenty_groups() {
    let idp = start().await;
    let http = client(&idp);
    let t = "gg-expand";
    tenant(&idp, t, 25, 100);
    let at = user_token(&http, &idp, t).await;
    let oid = idp.ready().user.oid;
    for path in [
        "/me?$expand=memberOf".to_string(),
        format!("/users/{oid}?$expand=memberOf($select=id,displayName)"),
    ] {
        let r = http
            .get(format!("{}{path}", idp.graph_url()))
            .bearer_auth(&at)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["id"], oid.as_str());
        assert!(b["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("$metadata#users(memberOf())/$entity"));
        let m = b["memberOf"].as_array().unwrap();
        assert_eq!(m.len(), 20, "Graph expands at most 20 directory objects");
        assert_eq!(m[0]["@odata.type"], "#microsoft.graph.group");
        assert_eq!(m[0]["id"], ids(1)[0].as_str());
        assert!(b.get("memberOf@odata.nextLink").is_none());
    }
    // Without $expand, no memberOf.
    let b: Value = http
        .get(format!("{}/me", idp.graph_url()))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(b.get("memberOf").is_none());
    // An unknown navigation property, no token.
    let r = http
        .get(format!("{}/me?$expand=nothingLikeIt", idp.graph_url()))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(graph_error(r, 400).await, "BadRequest");
    let r = http
        .get(format!("{}/me?$expand=memberOf", idp.graph_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(graph_error(r, 401).await, "InvalidAuthenticationToken");
}

#[tokio::test]
async fn a_json_batch_routes_each_request_with_the_batch_token() {
    let idp = start().await;
    let http = client(&idp);
    let t = "gg-batch";
    tenant(&idp, t, 5, 2);
    let at = user_token(&http, &idp, t).await;
    let app = app_token(&http, &idp, t).await;
    let oid = idp.ready().user.oid;
    let batch_url = format!("{}/$batch", idp.graph_url());
    let body = json!({"requests": [
        {"id": "1", "method": "GET", "url": "/me/memberOf"},
        {"id": "2", "method": "POST", "url": "/me/getMemberGroups",
         "body": {"securityEnabledOnly": true}, "headers": {"Content-Type": "application/json"}},
        {"id": "3", "method": "GET", "url": format!("users/{oid}?$expand=memberOf")},
        {"id": "4", "method": "GET", "url": "/me/nope"},
        {"id": "5", "method": "GET", "url": "/me", "dependsOn": ["4"]},
        {"id": "6", "method": "DELETE", "url": "/me"},
        {"id": "7", "method": "GET",
         "url": "https://graph.microsoft.com/v1.0/me/transitiveMemberOf/microsoft.graph.group?$top=2&$skiptoken=2",
         "headers": {"Authorization": "Bearer not-this-one", "ConsistencyLevel": "eventual"}},
    ]});
    let r = http
        .post(&batch_url)
        .bearer_auth(&at)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    let responses = b["responses"].as_array().unwrap();
    let by_id = |id: &str| {
        responses
            .iter()
            .find(|x| x["id"] == id)
            .unwrap_or_else(|| panic!("no response {id} in {b}"))
            .clone()
    };
    let statuses: Vec<u64> = (1..=7)
        .map(|i| by_id(&i.to_string())["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, vec![200, 200, 200, 400, 424, 405, 200]);
    for r in responses {
        assert!(r["headers"]["Content-Type"]
            .as_str()
            .unwrap()
            .starts_with("application/json"));
    }
    let first = by_id("1")["body"].clone();
    assert_eq!(first["value"].as_array().unwrap().len(), 2);
    assert!(first["@odata.nextLink"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/me/memberOf?", idp.graph_url())));
    assert_eq!(by_id("2")["body"]["value"], json!(ids(5)));
    assert_eq!(by_id("3")["body"]["memberOf"].as_array().unwrap().len(), 5);
    assert_eq!(by_id("4")["body"]["error"]["code"], "BadRequest");
    assert!(by_id("4")["body"]["error"]["innerError"].is_object());
    assert_eq!(by_id("6")["body"]["error"]["code"], "Request_BadRequest");
    let seventh = by_id("7")["body"]["value"].clone();
    assert_eq!(
        seventh
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>(),
        ids(4)[2..].to_vec()
    );

    // The journal: one entry, the batch's, listing what was inside.
    let j = idp.journal_for(t);
    let e = j
        .iter()
        .find(|e| e.path == "/graph/v1.0/$batch")
        .expect("the batch is journaled under its token's tenant");
    assert_eq!(e.status, 200);
    assert_eq!(e.endpoint, model::Endpoint::Graph);
    assert_eq!(
        e.presented.as_ref().unwrap().fingerprint,
        model::Fingerprint::of(&at)
    );
    assert_eq!(
        e.batch_paths,
        vec![
            "/graph/v1.0/me/memberOf".to_string(),
            "/graph/v1.0/me/getMemberGroups".into(),
            format!("/graph/v1.0/users/{oid}"),
            "/graph/v1.0/me/nope".into(),
            "/graph/v1.0/me".into(),
            "/graph/v1.0/me".into(),
            "/graph/v1.0/me/transitiveMemberOf/microsoft.graph.group".into(),
        ]
    );
    assert_eq!(
        j.iter()
            .filter(|e| e.endpoint == model::Endpoint::Graph)
            .count(),
        1,
        "inner requests have no entries of their own"
    );

    // The inner requests carry the batch's token: an app token's /me fails inside, with
    // its own status, while the batch itself succeeds.
    let r = http
        .post(&batch_url)
        .bearer_auth(&app)
        .json(&json!({"requests": [
            {"id": "a", "method": "GET", "url": "/me/memberOf"},
            {"id": "b", "method": "GET", "url": format!("/users/{oid}/memberOf/microsoft.graph.group")},
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["responses"][0]["status"], 400);
    assert_eq!(b["responses"][1]["status"], 200);

    // Without a valid token the batch is refused whole.
    let one = json!({"requests": [{"id": "1", "method": "GET", "url": "/me"}]});
    let r = http.post(&batch_url).json(&one).send().await.unwrap();
    assert_eq!(graph_error(r, 401).await, "InvalidAuthenticationToken");
    // A malformed batch is a 400: not JSON, more than 20 requests, duplicate ids, a body
    // without Content-Type.
    let many: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/me"}))
        .collect();
    for bad in [
        json!("nope"),
        json!({"requests": many}),
        json!({"requests": [
            {"id": "x", "method": "GET", "url": "/me"},
            {"id": "X", "method": "GET", "url": "/me"},
        ]}),
        json!({"requests": [{"id": "1", "method": "POST", "url": "/me/getMemberGroups",
                             "body": {"securityEnabledOnly": true}}]}),
    ] {
        let r = http
            .post(&batch_url)
            .bearer_auth(&at)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(graph_error(r, 400).await, "BadRequest", "{bad}");
    }
    // Twenty is fine.
    let twenty: Vec<Value> = (0..20)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/me"}))
        .collect();
    let r = http
        .post(&batch_url)
        .bearer_auth(&at)
        .json(&json!({ "requests": twenty }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["responses"].as_array().unwrap().len(), 20);
}
