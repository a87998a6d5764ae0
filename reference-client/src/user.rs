//! User flows: authorization code with PKCE (interaction delegated to the caller), device
//! code, refresh, and `whoami` from the ID token (one Graph call per sign-in on a groups
//! overage). Silent first: cache, then the refresh token, then `prompt=none`, then
//! interactive; never `prompt=login` or `consent`.

use crate::client::Client;
use crate::error::Error;
use crate::flow::{user_scope, Flow, Interaction, WhoAmI};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use std::time::Duration;

fn random_b64(n: usize) -> String {
    use aws_lc_rs::rand::SecureRandom;
    let mut b = vec![0u8; n];
    let _ = aws_lc_rs::rand::SystemRandom::new().fill(&mut b);
    B64.encode(b)
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once(['?', '#'])?.1;
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.replace('+', " ").into_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or(""), 16)
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|c| match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (c as char).to_string()
            }
            _ => format!("%{c:02X}"),
        })
        .collect()
}

impl Client {
    /// Signs the user in: `prompt=none` first (the browser may have a session), interactive
    /// when that needs the user. Returns the token response.
    pub(crate) async fn sign_in(
        &self,
        scopes: &[String],
        claims: &Value,
        ui: &dyn Interaction,
    ) -> Result<Value, Error> {
        match self.flow() {
            Flow::AuthCode { redirect_uri } => {
                if self.quirks().no_prompt_none {
                    return self
                        .authorize(scopes, claims, ui, &redirect_uri, false)
                        .await;
                }
                let silent = self
                    .authorize(scopes, claims, ui, &redirect_uri, true)
                    .await;
                match silent {
                    Err(Error::Refused { error, .. })
                        if matches!(
                            error.as_str(),
                            "login_required" | "interaction_required" | "consent_required"
                        ) =>
                    {
                        self.authorize(scopes, claims, ui, &redirect_uri, false)
                            .await
                    }
                    other => other,
                }
            }
            Flow::DeviceCode => self.device_flow(scopes, claims, ui).await,
            Flow::ClientCredentials => {
                Err(Error::Local("client credentials need no sign-in".into()))
            }
            Flow::OnBehalfOf => Err(Error::Local(
                "on-behalf-of needs the user's token (acquire_on_behalf_of), not a sign-in".into(),
            )),
        }
    }

    async fn authorize(
        &self,
        scopes: &[String],
        claims: &Value,
        ui: &dyn Interaction,
        redirect_uri: &str,
        silent: bool,
    ) -> Result<Value, Error> {
        let verifier = random_b64(32);
        let challenge = B64.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            verifier.as_bytes(),
        ));
        let state = random_b64(12);
        let scope = user_scope(scopes);
        let mut url = format!(
            "{}/oauth2/v2.0/authorize?client_id={}&response_type=code&redirect_uri={}&scope={}&state={}&nonce={}&code_challenge={}&code_challenge_method=S256&client_info=1&claims={}",
            self.authority(),
            enc(self.client_id()),
            enc(redirect_uri),
            enc(&scope),
            enc(&state),
            enc(&random_b64(12)),
            challenge,
            enc(&claims.to_string()),
        );
        if silent {
            url.push_str("&prompt=none");
        } else if self.quirks().forced_prompt {
            url.push_str("&prompt=login");
        }
        let landed = ui.browse(url).await.map_err(|e| Error::Refused {
            error: "user_cancelled".into(),
            description: e,
        })?;
        if let Some(err) = query_param(&landed, "error") {
            return Err(Error::Refused {
                error: err,
                description: query_param(&landed, "error_description").unwrap_or_default(),
            });
        }
        if query_param(&landed, "state").as_deref() != Some(state.as_str()) {
            return Err(Error::Refused {
                error: "state_mismatch".into(),
                description: "the redirect's state is not ours".into(),
            });
        }
        let code = query_param(&landed, "code").ok_or_else(|| Error::Refused {
            error: "no_code".into(),
            description: landed.clone(),
        })?;
        self.token_request(&[
            ("grant_type", "authorization_code".into()),
            ("code", code),
            ("redirect_uri", redirect_uri.to_string()),
            ("code_verifier", verifier),
            ("scope", scope),
            ("client_info", "1".into()),
            ("claims", claims.to_string()),
        ])
        .await
    }

    async fn device_flow(
        &self,
        scopes: &[String],
        claims: &Value,
        ui: &dyn Interaction,
    ) -> Result<Value, Error> {
        let scope = user_scope(scopes);
        let start = self
            .post_form("devicecode", &[("scope", scope.clone())])
            .await?;
        self.gate_success();
        let device_code = start["device_code"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let fast = self.quirks().fast_poll;
        let mut interval = if fast {
            1
        } else {
            start["interval"].as_u64().unwrap_or(5).max(1)
        };
        let expires = tokio::time::Instant::now()
            + Duration::from_secs(start["expires_in"].as_u64().unwrap_or(900));
        ui.device_code(
            start["user_code"].as_str().unwrap_or_default().to_string(),
            start["verification_uri"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
        .await;
        loop {
            tokio::time::sleep(Duration::from_secs(interval)).await;
            if tokio::time::Instant::now() >= expires {
                return Err(Error::Refused {
                    error: "expired_token".into(),
                    description: "the device code expired".into(),
                });
            }
            match self
                .token_request(&[
                    (
                        "grant_type",
                        "urn:ietf:params:oauth:grant-type:device_code".into(),
                    ),
                    ("device_code", device_code.clone()),
                    ("claims", claims.to_string()),
                ])
                .await
            {
                Ok(v) => return Ok(v),
                Err(Error::Refused { error, .. }) if error == "authorization_pending" => continue,
                Err(Error::Refused { error, .. }) if error == "slow_down" => {
                    if !self.quirks().ignore_slow_down {
                        interval += 5;
                    }
                }
                Err(Error::Transient(_)) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Who is signed in: from the ID token; on a groups overage, one Graph call per sign-in.
    pub async fn whoami(
        &self,
        scopes: &[String],
        ui: Option<&dyn Interaction>,
    ) -> Result<WhoAmI, Error> {
        let token = self.acquire_with(scopes, ui).await?;
        let (claims, cached_groups) = self.account();
        let claims = claims.ok_or_else(|| Error::Local("no ID token".into()))?;
        let s = |k: &str| {
            claims
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let list = |k: &str| -> Vec<String> {
            claims
                .get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let q = self.quirks();
        if q.userinfo {
            let base: String = self
                .authority()
                .splitn(4, '/')
                .take(3)
                .collect::<Vec<_>>()
                .join("/");
            let _ = self
                .call_api_with_token("GET", &format!("{base}/oidc/userinfo"), &token, None)
                .await;
        }
        if q.directory {
            let _ = self
                .call_api_with_token(
                    "GET",
                    &format!("{}/me/memberOf", self.graph_url()),
                    &token,
                    None,
                )
                .await;
        }
        let overage = !q.no_overage
            && (claims
                .get("_claim_names")
                .and_then(|n| n.get("groups"))
                .is_some()
                || claims.get("hasgroups") == Some(&Value::Bool(true)));
        let groups = if !overage {
            list("groups")
        } else if let Some(g) = cached_groups {
            g
        } else {
            let endpoint = claims
                .pointer("/_claim_sources/src1/endpoint")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| {
                    format!("{}/users/{}/getMemberObjects", self.graph_url(), s("oid"))
                });
            let r = self
                .call_api_with_token(
                    "POST",
                    &endpoint,
                    &token,
                    Some(json!({"securityEnabledOnly": false})),
                )
                .await?;
            if !(200..300).contains(&r.status) {
                return Err(Error::Transient(format!(
                    "Graph answered {} to the overage query",
                    r.status
                )));
            }
            let g: Vec<String> = r.body["value"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            self.remember_groups(g.clone())?;
            g
        };
        Ok(WhoAmI {
            name: s("name"),
            username: s("preferred_username"),
            oid: s("oid"),
            roles: list("roles"),
            groups,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::id_token_claims;

    #[test]
    fn redirect_parsing_and_scopes() {
        assert_eq!(
            query_param("http://localhost/cb?code=a%2Bb&state=s", "code").as_deref(),
            Some("a+b")
        );
        assert_eq!(
            query_param("http://localhost/cb?error=login_required", "error").as_deref(),
            Some("login_required")
        );
        assert_eq!(
            user_scope(&["User.Read".into()]),
            "User.Read openid profile offline_access"
        );
        let jwt = format!("e30.{}.sig", B64.encode(br#"{"oid":"x"}"#));
        assert_eq!(
            id_token_claims(&jwt)
                .and_then(|c| c["oid"].as_str().map(str::to_string))
                .as_deref(),
            Some("x")
        );
    }
}
