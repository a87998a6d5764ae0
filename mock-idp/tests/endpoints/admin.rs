//! The admin API, the journal, and findings of earlier reviews.

use super::*;

#[tokio::test]
async fn admin_api_requires_its_token_and_serves_journal_and_config() {
    let idp = start().await;
    let http = client(&idp);
    let admin = format!("{}/_tokenstorm", idp.base_url());
    assert_eq!(
        http.get(format!("{admin}/health"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        http.get(format!("{admin}/health"))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        http.get(format!("{admin}/health"))
            .bearer_auth(idp.admin_token())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    client_credentials(&http, &idp, "adm").await;
    let j: Vec<model::JournalEntry> = http
        .get(format!("{admin}/journal?tenant=adm"))
        .bearer_auth(idp.admin_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(j.len(), 1);
    assert_eq!(j[0].grant_type, Some(GrantType::ClientCredentials));
    let lines = http
        .get(format!("{admin}/journal.jsonl?tenant=adm"))
        .bearer_auth(idp.admin_token())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(lines.lines().count(), 1);
    let _: model::JournalEntry = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    // Config round-trips; unknown fields are refused.
    let r = http
        .put(format!("{admin}/tenants/adm/config"))
        .bearer_auth(idp.admin_token())
        .json(&json!({"access_token_lifetime_s": 400}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        client_credentials(&http, &idp, "adm").await["expires_in"],
        400
    );
    let r = http
        .put(format!("{admin}/tenants/adm/config"))
        .bearer_auth(idp.admin_token())
        .json(&json!({"acess_token_lifetime": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("unknown field"));
    // Events. The JWKS is served from memory between rotations: each rotation shows at once.
    let kids = || {
        let http = http.clone();
        let url = format!("{}/discovery/v2.0/keys", idp.authority("adm"));
        async move {
            let jwks: Value = http.get(url).send().await.unwrap().json().await.unwrap();
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["kid"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    let before = kids().await;
    assert_eq!(before, kids().await);
    assert_eq!(before.len(), 1);
    let rotate = || {
        http.post(format!("{admin}/tenants/adm/events/rotate-keys"))
            .bearer_auth(idp.admin_token())
            .send()
    };
    assert_eq!(rotate().await.unwrap().status(), 200);
    let once = kids().await;
    assert_eq!(once.len(), 2, "old key still published: {once:?}");
    assert_eq!(once[1], before[0], "{once:?}");
    assert_eq!(rotate().await.unwrap().status(), 200);
    let twice = kids().await;
    assert_eq!(twice.len(), 2, "{twice:?}");
    assert_eq!(
        twice[1], once[0],
        "the newest key first, then the one before: {twice:?}"
    );
    assert!(!twice.contains(&before[0]), "{twice:?}");
    let r = http
        .post(format!("{admin}/tenants/adm/events/explode"))
        .bearer_auth(idp.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn a_client_that_disconnects_mid_response_is_journaled_as_such() {
    // A ~12 MB getMemberObjects answer (300k groups) read by a client with a tiny receive
    // buffer that closes after the first bytes: more than the kernel buffers can absorb.
    let idp = start().await;
    let http = client(&idp);
    let mut cfg = tokenstorm_mock_idp::TenantConfig::default();
    cfg.user.groups = (0..300_000)
        .map(|i| tokenstorm_mock_idp::Group {
            id: format!("00000000-0000-4000-8000-{i:012}"),
            display_name: String::new(),
        })
        .collect();
    let oid = cfg.user.oid.clone();
    idp.configure_tenant("big", cfg);
    let at = client_credentials(&http, &idp, "big").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let tcp = sock.connect(idp.addr()).await.unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in pem_certs(idp.ca_cert_pem().unwrap()) {
        roots.add(c).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg));
    let mut tls = connector
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap();
    let req = format!(
        "POST /graph/v1.0/users/{oid}/getMemberObjects HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {at}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}"
    );
    tls.write_all(req.as_bytes()).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tls.read(&mut buf).await.unwrap();
    assert!(n > 0);
    drop(tls);
    let mut entry = None;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        entry = idp
            .journal_for("big")
            .into_iter()
            .find(|e| e.endpoint == Endpoint::Graph);
        if entry.is_some() {
            break;
        }
    }
    let e = entry.expect("journaled");
    assert_eq!(e.status, 200);
    assert_eq!(e.completion, Completion::ClientDisconnected, "{e:?}");
    // A normal exchange is journaled as sent.
    let t = idp.journal_for("big");
    assert_eq!(t[0].completion, Completion::Sent);
}

fn pem_certs(pem: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.unwrap())
        .collect()
}

#[tokio::test]
async fn review_findings_stay_fixed() {
    let idp = start().await;
    let http = client(&idp);
    let pid = public_id(&idp);
    // An open redirect through userinfo in a "loopback" URI is refused with JSON, no redirect.
    for evil in [
        "http://localhost:1@evil.test/callback",
        "http://localhost:abc/callback",
    ] {
        let r = http
            .get(format!("{}/oauth2/v2.0/authorize", idp.authority("rv")))
            .query(&[
                ("client_id", pid.as_str()),
                ("response_type", "code"),
                ("redirect_uri", evil),
                ("scope", "openid"),
            ])
            .send()
            .await
            .unwrap();
        assert!(r.headers().get("location").is_none(), "{evil}");
        entra_error(r, 400, "invalid_request", 50011).await;
    }
    // A client that came by `localhost` gets discovery and tokens in that name (msal-node
    // validates the issuer's host:port against its authority).
    let port = idp.addr().port();
    let auth = format!("https://localhost:{port}/rv");
    let d: Value = http
        .get(format!("{auth}/v2.0/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], format!("{auth}/v2.0"));
    assert_eq!(d["token_endpoint"], format!("{auth}/oauth2/v2.0/token"));
    let (id, secret) = confidential(&idp);
    let t: Value = http
        .post(format!("{auth}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["iss"],
        format!("{auth}/v2.0")
    );
    // An unknown Host falls back to the server's own base URL.
    let d: Value = http
        .get(format!(
            "{}/rv/v2.0/.well-known/openid-configuration",
            idp.base_url()
        ))
        .header("host", "evil.test")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], format!("{}/rv/v2.0", idp.base_url()));
    // HEAD is journaled as sent, not as a disconnect.
    let r = http
        .head(format!("{}/rv/discovery/v2.0/keys", idp.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let e = idp
        .journal_for("rv")
        .into_iter()
        .find(|e| e.method == "HEAD")
        .unwrap();
    assert_eq!(e.completion, Completion::Sent);
    // A huge $skiptoken with a valid token: an empty page, not a panic.
    let user = user_tokens(&http, &idp, "rv", &[]).await;
    let at = user["access_token"].as_str().unwrap();
    let r = http
        .get(format!(
            "{}/me/memberOf?$skiptoken=18446744073709551615",
            idp.graph_url()
        ))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["value"], json!([]));
    // Graph calls carry the caller's client id; a forged token lands in no tenant's journal.
    let e = idp
        .journal_for("rv")
        .into_iter()
        .rfind(|e| e.endpoint == Endpoint::Graph)
        .unwrap();
    assert_eq!(e.client_id.as_deref(), Some(pid.as_str()));
    let forged = {
        let parts: Vec<&str> = at.split('.').collect();
        format!("{}.{}.{}", parts[0], parts[1], "AAAA")
    };
    let before = idp.journal_for("rv").len();
    let r = http
        .get(format!("{}/me", idp.graph_url()))
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(idp.journal_for("rv").len(), before);
    assert!(idp
        .journal()
        .iter()
        .any(|e| e.endpoint == Endpoint::Graph && e.tenant.is_none() && e.status == 401));
    // A `.default` user token still carries its consented permission.
    let (_, loc, _) = authorize(
        &http,
        &idp,
        "rv",
        &[(
            "scope",
            "https://graph.microsoft.com/.default openid profile",
        )],
        None,
    )
    .await;
    let code = query_param(&loc.unwrap(), "code").unwrap();
    let t: Value = token(
        &http,
        &idp,
        "rv",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &pid),
            ("code", &code),
            ("redirect_uri", "http://localhost:8765/callback"),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["scp"],
        "User.Read openid profile"
    );
    // The admin journal's cursor.
    let admin = format!("{}/_tokenstorm", idp.base_url());
    let r = http
        .get(format!("{admin}/journal"))
        .bearer_auth(idp.admin_token())
        .send()
        .await
        .unwrap();
    let next: usize = r.headers()["x-tokenstorm-next-since"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let all: Vec<model::JournalEntry> = r.json().await.unwrap();
    assert!(next >= all.len());
    let later: Vec<model::JournalEntry> = http
        .get(format!("{admin}/journal?since={next}"))
        .bearer_auth(idp.admin_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        later.iter().all(|e| e.endpoint == Endpoint::Admin),
        "{later:?}"
    );
}

/// The journal streams to one file per tenant while only a window stays in memory: a tenant's
/// whole journal still comes back, a cursor that fell behind the window is told how much it
/// missed, and the files are the journal.
#[tokio::test]
async fn the_journal_streams_to_disk_and_a_small_window_loses_nothing() {
    let idp = tokenstorm_mock_idp::MockIdp::start(tokenstorm_mock_idp::Options::default().journal(
        tokenstorm_mock_idp::JournalLimits {
            window: 4,
            cap_bytes: u64::MAX,
        },
    ))
    .await
    .unwrap();
    let http = client(&idp);
    for i in 0..6 {
        for tenant in ["wa", "wb"] {
            let t = client_credentials(&http, &idp, tenant).await;
            assert!(t["access_token"].is_string(), "request {i}: {t}");
        }
    }
    let wa = idp.journal_for("wa");
    assert_eq!(wa.len(), 6, "{wa:?}");
    assert!(wa.windows(2).all(|p| p[0].seq < p[1].seq));
    assert!(wa
        .iter()
        .all(|e| e.grant_type == Some(GrantType::ClientCredentials) && e.status == 200));
    assert_eq!(idp.journal().len(), 12);
    // The files hold the same entries.
    let dir = idp.journal_dir().unwrap();
    let on_disk = std::fs::read_to_string(dir.join("wb.jsonl")).unwrap();
    assert_eq!(on_disk.lines().count(), 6);
    // A cursor read through the admin API: 12 entries so far, the window holds the last 4.
    let admin = format!("{}/_tokenstorm", idp.base_url());
    let r = http
        .get(format!("{admin}/journal?since=2"))
        .bearer_auth(idp.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-tokenstorm-journal-missed"], "6");
    let got: Vec<model::JournalEntry> = r.json().await.unwrap();
    assert_eq!(got.len(), 4, "{got:?}");
    // From the start, a tenant's journal is whole (read back from its file), and says nothing
    // is missing.
    let r = http
        .get(format!("{admin}/journal.jsonl?tenant=wa"))
        .bearer_auth(idp.admin_token())
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("x-tokenstorm-journal-missed").is_none());
    assert_eq!(r.text().await.unwrap().lines().count(), 6);
    assert_eq!(idp.journal_dropped(None), 0);
}
