//! What an unmodified app needs to reach the mock by Entra's and Graph's real names: the
//! impersonation proxy in the proxy variables every common runtime reads, and a CA bundle that
//! trusts the run's CA besides the system's (so the app's own HTTPS calls, tunnelled unchanged,
//! still verify). `docs/impersonation.md` lists, per runtime, what this covers and what an app
//! must set itself.

use mock_idp::MockIdp;
use std::path::{Path, PathBuf};

/// Where system CA bundles live, in the order runtimes look for them.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The system's CA bundle (the one `SSL_CERT_FILE` names, if set), when there is one.
fn system_bundle() -> Option<PathBuf> {
    std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(PathBuf::from))
        .find(|p| p.is_file())
}

/// Writes `dir/ca-bundle.pem`: the system's CAs and the run's CA; returns its path.
pub fn write_bundle(idp: &MockIdp, dir: &Path) -> std::io::Result<PathBuf> {
    let mut pem = system_bundle()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    if !pem.is_empty() && !pem.ends_with('\n') {
        pem.push('\n');
    }
    pem.push_str("# tokenstorm: the CA of this run (impersonating Entra and Graph)\n");
    pem.push_str(idp.ca_cert_pem().unwrap_or_default());
    let path = dir.join("ca-bundle.pem");
    std::fs::write(&path, pem)?;
    Ok(path)
}

/// The variables that send an app through the impersonation proxy and make it trust the run's
/// CA: proxy variables in both spellings (loopback excepted, so the mock's own URLs go direct),
/// and the trust variables of OpenSSL, Python (requests, httpx), curl, Go and Node.
pub fn environment(idp: &MockIdp, bundle: &Path) -> Vec<(String, String)> {
    let mut env = Vec::new();
    if let Some(proxy) = idp.proxy_url() {
        for k in ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"] {
            env.push((k.to_string(), proxy.clone()));
        }
        for k in ["NO_PROXY", "no_proxy"] {
            env.push((k.to_string(), "localhost,127.0.0.1,::1".to_string()));
        }
    }
    let bundle = bundle.display().to_string();
    for k in ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"] {
        env.push((k.to_string(), bundle.clone()));
    }
    if let Some(ca) = idp.ca_cert_path() {
        env.push(("NODE_EXTRA_CA_CERTS".to_string(), ca.display().to_string()));
    }
    env
}
