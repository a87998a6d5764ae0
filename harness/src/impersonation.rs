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

/// What a client is given to trust the run's CA: the CA bundle and, with a JDK here, the JVM's
/// options (its trust store and the proxy).
#[derive(Debug, Clone)]
pub struct Trust {
    /// The system's CAs and the run's, in one PEM file.
    pub bundle: PathBuf,
    /// `JAVA_TOOL_OPTIONS` naming the run's JVM trust store and the proxy.
    pub jvm_options: Option<String>,
}

/// Writes `dir/ca-bundle.pem`: the system's CAs and the run's CA (and, with a JDK here, the
/// JVM's trust store beside it).
pub fn write_bundle(idp: &MockIdp, dir: &Path) -> std::io::Result<Trust> {
    let jvm_options = write_jvm_options(idp, dir);
    let mut pem = system_bundle()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    if !pem.is_empty() && !pem.ends_with('\n') {
        pem.push('\n');
    }
    pem.push_str("# tokenstorm: the CA of this run (impersonating Entra and Graph)\n");
    pem.push_str(idp.ca_cert_pem().unwrap_or_default());
    let bundle = dir.join("ca-bundle.pem");
    std::fs::write(&bundle, pem)?;
    Ok(Trust {
        bundle,
        jvm_options,
    })
}

/// The password of the JVM trust store written for a run (a trust store holds only public
/// certificates; `changeit` is the JDK's own default).
const JVM_STORE_PASSWORD: &str = "changeit";

/// The JDK's `cacerts` and `keytool`, from `JAVA_HOME` or the `java` on `PATH`.
fn jdk() -> Option<(PathBuf, PathBuf)> {
    let home = std::env::var_os("JAVA_HOME")
        .map(PathBuf::from)
        .or_else(|| {
            let java = std::env::var_os("PATH").and_then(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join("java"))
                    .find(|j| j.is_file())
            })?;
            // bin/java -> the JDK's home (following the alternatives symlinks).
            Some(
                std::fs::canonicalize(java)
                    .ok()?
                    .parent()?
                    .parent()?
                    .to_path_buf(),
            )
        })?;
    let cacerts = home.join("lib/security/cacerts");
    let keytool = home.join("bin/keytool");
    (cacerts.is_file() && keytool.is_file()).then_some((cacerts, keytool))
}

/// Writes `dir/jvm-truststore.p12`, the JDK's CAs and the run's CA, when a JDK is here; returns
/// the `JAVA_TOOL_OPTIONS` that make a JVM use it and the proxy (the JVM reads neither
/// `HTTPS_PROXY` nor `SSL_CERT_FILE`).
fn write_jvm_options(idp: &MockIdp, dir: &Path) -> Option<String> {
    let proxy = idp.proxy_url()?;
    let port = proxy.rsplit(':').next()?.to_string();
    let (cacerts, keytool) = jdk()?;
    let store = dir.join("jvm-truststore.p12");
    let ca = idp.ca_cert_path()?;
    let quiet = |c: &mut std::process::Command| {
        c.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let copied = quiet(
        std::process::Command::new(&keytool)
            .args(["-importkeystore", "-noprompt", "-srckeystore"])
            .arg(&cacerts)
            .args(["-srcstorepass", JVM_STORE_PASSWORD, "-destkeystore"])
            .arg(&store)
            .args([
                "-deststoretype",
                "PKCS12",
                "-deststorepass",
                JVM_STORE_PASSWORD,
            ]),
    );
    let added = copied
        && quiet(
            std::process::Command::new(&keytool)
                .args([
                    "-importcert",
                    "-noprompt",
                    "-alias",
                    "tokenstorm-run-ca",
                    "-file",
                ])
                .arg(ca)
                .arg("-keystore")
                .arg(&store)
                .args(["-storetype", "PKCS12", "-storepass", JVM_STORE_PASSWORD]),
        );
    if !added {
        tracing::warn!(
            "could not write a JVM trust store with keytool; Java apps will not trust the mock"
        );
        return None;
    }
    Some(format!(
        "-Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort={port} -Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort={port} -Dhttp.nonProxyHosts=localhost|127.0.0.1 -Djavax.net.ssl.trustStore={} -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword={JVM_STORE_PASSWORD}",
        store.display()
    ))
}

/// The variables that send an app through the impersonation proxy and make it trust the run's
/// CA: proxy variables in both spellings (loopback excepted, so the mock's own URLs go direct),
/// and the trust variables of OpenSSL, Python (requests, httpx), curl, Go and Node; for a JVM,
/// `JAVA_TOOL_OPTIONS` when a JVM trust store was written; `NODE_USE_ENV_PROXY=1`, which makes
/// Node's own `fetch` read the proxy variables (Node >= 22.21 and 24; older Node ignores it).
pub fn environment(idp: &MockIdp, trust: &Trust) -> Vec<(String, String)> {
    let mut env = Vec::new();
    if let Some(opts) = &trust.jvm_options {
        env.push(("JAVA_TOOL_OPTIONS".to_string(), opts.clone()));
    }
    if let Some(proxy) = idp.proxy_url() {
        env.push(("NODE_USE_ENV_PROXY".to_string(), "1".to_string()));
        for k in ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"] {
            env.push((k.to_string(), proxy.clone()));
        }
        for k in ["NO_PROXY", "no_proxy"] {
            env.push((k.to_string(), "localhost,127.0.0.1,::1".to_string()));
        }
    }
    let bundle = trust.bundle.display().to_string();
    for k in ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"] {
        env.push((k.to_string(), bundle.clone()));
    }
    if let Some(ca) = idp.ca_cert_path() {
        env.push(("NODE_EXTRA_CA_CERTS".to_string(), ca.display().to_string()));
    }
    env
}
