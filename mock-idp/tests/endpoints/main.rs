//! The real server over TLS on port 0: every endpoint, every error path, and the journal
//! entries they leave.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

use common::*;
use model::{Completion, Endpoint, GrantType, TokenKind};
use serde_json::{json, Value};
use tokenstorm_mock_idp::Event;

mod admin;
mod resource;
mod server;
mod token;
mod user_flows;

/// Signs the default user in through authorize + code redemption; returns the token response.
pub(crate) async fn user_tokens(
    http: &reqwest::Client,
    idp: &tokenstorm_mock_idp::MockIdp,
    tenant: &str,
    extra_token_params: &[(&str, &str)],
) -> Value {
    let (verifier, challenge) = pkce();
    let (status, loc, _) = authorize(
        http,
        idp,
        tenant,
        &[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("client_info", "1"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 302);
    let code = query_param(&loc.unwrap(), "code").unwrap();
    let pid = public_id(idp);
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", pid.as_str()),
        ("code", &code),
        ("redirect_uri", "http://localhost:8765/callback"),
        ("code_verifier", &verifier),
        (
            "scope",
            "https://graph.microsoft.com/User.Read openid profile offline_access",
        ),
        ("client_info", "1"),
    ];
    form.extend_from_slice(extra_token_params);
    let r = token(http, idp, tenant, &form).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}
