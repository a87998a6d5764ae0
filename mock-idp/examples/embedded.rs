//! Embedding the mock in a test, as an application's own test suite would.
//!
//! `cargo test -p tokenstorm-mock-idp --example embedded` runs the test below;
//! `cargo run -p tokenstorm-mock-idp --example embedded` runs `main`, which does the same and prints.
#![allow(clippy::unwrap_used)]

use tokenstorm_mock_idp::{MockIdp, Options};

/// What an application's token code would do: client credentials against the authority.
async fn get_token(idp: &MockIdp, tenant: &str) -> serde_json::Value {
    let ready = idp.ready();
    let ca = reqwest::Certificate::from_pem(idp.ca_cert_pem().unwrap().as_bytes()).unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    http.post(format!("{}/oauth2/v2.0/token", idp.authority(tenant)))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", ready.clients.confidential.client_id.as_str()),
            (
                "client_secret",
                ready.clients.confidential.client_secret.as_str(),
            ),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::main]
async fn main() {
    let idp = MockIdp::start(Options::default()).await.unwrap();
    let t = get_token(&idp, "my-app-tests").await;
    println!("authority  {}", idp.authority("my-app-tests"));
    println!("expires_in {}", t["expires_in"]);
    for e in idp.journal_for("my-app-tests") {
        println!("journal    {} {} -> {}", e.method, e.path, e.status);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn my_app_gets_one_token_per_call() {
        let idp = MockIdp::start(Options::default()).await.unwrap();
        let t = get_token(&idp, "my-app-tests").await;
        assert_eq!(t["token_type"], "Bearer");
        let journal = idp.journal_for("my-app-tests");
        assert_eq!(journal.len(), 1);
        assert_eq!(journal[0].status, 200);
    } // the mock stops when `idp` is dropped
}
