//! The harness playing the user and the browser: it follows authorize URLs with a cookie jar
//! that outlives client restarts (as a real browser's SSO cookie does), stops at the first
//! redirect that leaves the mock (the app's redirect URI), and answers device codes as the
//! scenario's user would.

use crate::driver::{Frame, UserAgent};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use model::scenario::{DeviceAnswer, Interactive, ThirdPartyCookies, UserPlay};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The user and their browser, for one scenario.
#[derive(Clone)]
pub struct Browser {
    http: reqwest::Client,
    base_url: String,
    cookies: Arc<Mutex<BTreeMap<String, String>>>,
    play: UserPlay,
    impersonating: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Browser {
    /// A browser that trusts the mock's CA (PEM) and plays the scenario's user; with the
    /// impersonation proxy, it reaches Entra's real names through it, as the app does.
    pub fn new(
        base_url: &str,
        ca_pem: Option<&str>,
        proxy: Option<&str>,
        play: UserPlay,
    ) -> Result<Browser, String> {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30));
        if let Some(p) = proxy {
            b = b.proxy(reqwest::Proxy::https(p).map_err(|e| e.to_string())?);
        }
        if let Some(pem) = ca_pem {
            let ca = reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|e| e.to_string())?;
            b = b.tls_certs_only([ca]);
        }
        Ok(Browser {
            http: b.build().map_err(|e| e.to_string())?,
            base_url: base_url.to_string(),
            cookies: Arc::default(),
            play,
            impersonating: proxy.is_some(),
        })
    }

    /// Forgets the SSO session (a `clear_sso` step).
    pub fn clear_cookies(&self) {
        lock(&self.cookies).clear();
    }

    fn on_mock(&self, url: &str) -> bool {
        if self.impersonating
            && mock_idp::AUTHORITY_HOSTS
                .iter()
                .any(|h| url.starts_with(&format!("https://{h}/")))
        {
            return true;
        }
        // The mock answers on 127.0.0.1, localhost and [::1] at its port.
        let port = self.base_url.rsplit(':').next().unwrap_or_default();
        ["127.0.0.1", "localhost", "[::1]"].iter().any(|h| {
            url.starts_with(&format!("https://{h}:{port}/"))
                || url.starts_with(&format!("http://{h}:{port}/"))
        })
    }

    async fn follow(self, start: String, frame: Frame) -> Result<String, String> {
        let interactive = !start.contains("prompt=none");
        // A browser that blocks third-party cookies neither sends nor keeps them in an iframe.
        let cookies_blocked = frame == Frame::Iframe
            && self.play.third_party_cookies == Some(ThirdPartyCookies::Blocked);
        if interactive && self.play.interactive == Some(Interactive::Cancel) {
            return Err("the user closed the sign-in window".to_string());
        }
        let mut url = start;
        for _ in 0..10 {
            if !self.on_mock(&url) {
                return Ok(url);
            }
            let cookie: String = if cookies_blocked {
                String::new()
            } else {
                lock(&self.cookies)
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let mut req = self.http.get(&url);
            if !cookie.is_empty() {
                req = req.header("cookie", cookie);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| format!("the browser could not load the page: {e}"))?;
            for v in resp
                .headers()
                .get_all("set-cookie")
                .iter()
                .filter(|_| !cookies_blocked)
            {
                if let Ok(s) = v.to_str() {
                    if let Some((kv, _)) = s.split_once(';').or(Some((s, ""))) {
                        if let Some((k, val)) = kv.split_once('=') {
                            let mut jar = lock(&self.cookies);
                            if val.is_empty() || s.contains("Max-Age=0") {
                                jar.remove(k.trim());
                            } else {
                                jar.insert(k.trim().to_string(), val.trim().to_string());
                            }
                        }
                    }
                }
            }
            let status = resp.status();
            if status.is_redirection() {
                match resp.headers().get("location").and_then(|v| v.to_str().ok()) {
                    Some(l) => url = l.to_string(),
                    None => return Err(format!("a {status} without a Location")),
                }
                continue;
            }
            // What a user would see of a throttled page: when to come back.
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(|v| format!(" (Retry-After: {v})"))
                .unwrap_or_default();
            let body = resp.text().await.unwrap_or_default();
            // form_post: the page would post its fields to the redirect URI; hand them over as
            // the URL the app receives them on.
            if let Some(action) = attr_after(&body, "action=\"") {
                let mut ser = form_urlencoded::Serializer::new(String::new());
                let mut rest = body.as_str();
                while let Some(i) = rest.find("<input type=\"hidden\" name=\"") {
                    rest = &rest[i + 27..];
                    let name = rest.split('"').next().unwrap_or_default().to_string();
                    let value = attr_after(rest, "value=\"").unwrap_or_default();
                    ser.append_pair(&unescape(&name), &unescape(&value));
                }
                return Ok(format!("{}?{}", unescape(&action), ser.finish()));
            }
            return Err(format!(
                "the sign-in page answered {status}{retry_after}: {}",
                body.chars().take(200).collect::<String>()
            ));
        }
        Err("too many redirects".to_string())
    }
}

fn attr_after(s: &str, marker: &str) -> Option<String> {
    let i = s.find(marker)? + marker.len();
    Some(s[i..].split('"').next()?.to_string())
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl UserAgent for Browser {
    fn browse(&self, url: String, frame: Frame) -> BoxFuture<'static, Result<String, String>> {
        self.clone().follow(url, frame).boxed()
    }

    fn device_code(
        &self,
        user_code: String,
        verification_uri: String,
    ) -> BoxFuture<'static, String> {
        let this = self.clone();
        async move {
            let answer = this.play.device_code.unwrap_or(DeviceAnswer::Approve);
            if let Some(d) = this.play.device_code_delay {
                tokio::time::sleep(d.0).await;
            }
            let action = match answer {
                DeviceAnswer::Ignore => return "ignore".to_string(),
                DeviceAnswer::Approve => "approve",
                DeviceAnswer::Deny => "deny",
            };
            let mut url = format!("{verification_uri}?user_code={}", user_code);
            if action == "deny" {
                url.push_str("&action=deny");
            }
            match this.http.get(&url).send().await {
                Ok(r) if r.status().is_success() => action.to_string(),
                Ok(r) => format!("{action} failed: {}", r.status()),
                Err(e) => format!("{action} failed: {e}"),
            }
        }
        .boxed()
    }
}
