//! TLS: a root CA and a leaf certificate for `localhost`, `127.0.0.1` and `::1`, generated at
//! start (ECDSA P-256: keys take microseconds), and the rustls server configuration.

use crate::error::StartError;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// The generated CA and the server configuration that presents the leaf.
pub struct Tls {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// The rustls configuration (ALPN h2 and http/1.1).
    pub server_config: Arc<rustls::ServerConfig>,
}

fn crypto(what: &'static str) -> impl Fn(rcgen::Error) -> StartError {
    move |e| StartError::Crypto {
        what,
        message: e.to_string(),
    }
}

/// Generates a fresh CA and leaf. `extra_names` are added to the leaf's subject alternative
/// names (for `--allow-remote` on another address).
pub fn generate(extra_names: &[String]) -> Result<Tls, StartError> {
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(crypto("CA key"))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(crypto("CA"))?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        "tokenstorm mock-idp CA (generated per run)",
    );
    dn.push(DnType::OrganizationName, "tokenstorm");
    ca_params.distinguished_name = dn;
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(crypto("CA"))?;
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(crypto("leaf key"))?;
    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_string()]).map_err(crypto("leaf"))?;
    leaf_params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    leaf_params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    for name in extra_names {
        match name.parse::<IpAddr>() {
            Ok(ip) => leaf_params.subject_alt_names.push(SanType::IpAddress(ip)),
            Err(_) => {
                let dns = name.clone().try_into().map_err(crypto("leaf name"))?;
                leaf_params.subject_alt_names.push(SanType::DnsName(dns));
            }
        }
    }
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "localhost");
    leaf_params.distinguished_name = dn;
    leaf_params.is_ca = IsCa::NoCa;
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.use_authority_key_identifier_extension = true;
    let leaf_cert = leaf_params
        .signed_by(&leaf_key, &issuer)
        .map_err(crypto("leaf"))?;

    let chain: Vec<CertificateDer<'static>> = vec![leaf_cert.der().clone(), ca_cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StartError::Crypto {
            what: "TLS config",
            message: e.to_string(),
        })?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| StartError::Crypto {
            what: "TLS config",
            message: e.to_string(),
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Tls {
        ca_pem: ca_cert.pem(),
        server_config: Arc::new(config),
    })
}
