//! Signing keys and JWTs. The mock holds parsed RSA-2048 key pairs and signs
//! `base64url(header).base64url(claims)` itself (RS256): parsing a key per token, as
//! `jsonwebtoken::encode` does, costs more than the signature (measured
//! against `openssl speed rsa2048`). Verification uses the public components directly.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::sync::RwLock;

/// One RSA signing key with its `kid`.
pub struct SigningKey {
    kid: String,
    pair: RsaKeyPair,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl SigningKey {
    /// Generates a fresh RSA-2048 key.
    pub fn generate() -> Result<Self, String> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|e| e.to_string())?;
        let comps = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let kid = {
            let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &comps.n);
            B64.encode(&d.as_ref()[..15])
        };
        Ok(SigningKey {
            kid,
            pair,
            n: comps.n,
            e: comps.e,
        })
    }

    /// The public key as a JWK (as Entra publishes it).
    pub fn jwk(&self, issuer: &str) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": B64.encode(&self.n),
            "e": B64.encode(&self.e),
            "alg": "RS256",
            "issuer": issuer,
        })
    }
}

/// Why a JWT was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not three base64url parts of JSON.
    #[error("the token is not a well-formed JWT")]
    Malformed,
    /// No known key has that kid, or the signature does not verify.
    #[error("the token's signature is invalid")]
    BadSignature,
}

/// The JWKS document of `keys`, the newest first.
fn jwks_of(keys: &[std::sync::Arc<SigningKey>], issuer: &str) -> Value {
    json!({ "keys": keys.iter().rev().map(|k| k.jwk(issuer)).collect::<Vec<_>>() })
}

/// The mock's key set: the current signing key and the keys still published after a rotation.
pub struct KeySet {
    keys: RwLock<Vec<std::sync::Arc<SigningKey>>>,
    rng: SystemRandom,
    /// The JWKS document as served, by issuer; cleared by a rotation.
    bodies: crate::bodies::Bodies,
}

impl KeySet {
    /// A key set with one fresh key.
    pub fn generate() -> Result<Self, String> {
        Ok(KeySet {
            keys: RwLock::new(vec![std::sync::Arc::new(SigningKey::generate()?)]),
            rng: SystemRandom::new(),
            bodies: Default::default(),
        })
    }

    /// A key set publishing the same keys, to rotate on its own.
    pub fn fork(&self) -> KeySet {
        KeySet {
            keys: RwLock::new(self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()),
            rng: SystemRandom::new(),
            bodies: Default::default(),
        }
    }

    fn current(&self) -> std::sync::Arc<SigningKey> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        keys[keys.len() - 1].clone()
    }

    /// Rotates: a new key signs from now on; the old ones stay published (up to `keep`).
    pub fn rotate(&self, keep: usize) -> Result<String, String> {
        let key = std::sync::Arc::new(SigningKey::generate()?);
        let kid = key.kid.clone();
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        keys.push(key);
        let excess = keys.len().saturating_sub(keep.max(1));
        keys.drain(..excess);
        // Under the keys' write lock: a body built from the old keys cannot be stored after.
        self.bodies.clear();
        Ok(kid)
    }

    /// The JWKS document as served (JSON bytes), built once per issuer and key rotation.
    pub fn jwks_body(&self, issuer: &str) -> bytes::Bytes {
        // The keys' read lock is held while the body is built and stored, so a rotation (which
        // clears the bodies under the write lock) comes wholly before or after.
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        self.bodies.get_or(issuer, || {
            serde_json::to_vec(&jwks_of(&keys, issuer)).unwrap_or_default()
        })
    }

    /// The JWKS document.
    pub fn jwks(&self, issuer: &str) -> Value {
        jwks_of(&self.keys.read().unwrap_or_else(|p| p.into_inner()), issuer)
    }

    /// Signs `claims` as an RS256 JWT with the current key.
    pub fn sign(&self, claims: &Map<String, Value>) -> String {
        let key = self.current();
        let header = json!({"typ": "JWT", "alg": "RS256", "kid": key.kid, "x5t": key.kid});
        let mut out = String::with_capacity(1024);
        B64.encode_string(header.to_string().as_bytes(), &mut out);
        out.push('.');
        B64.encode_string(
            Value::Object(claims.clone()).to_string().as_bytes(),
            &mut out,
        );
        let mut sig = vec![0u8; key.pair.public_modulus_len()];
        // Signing with a well-formed in-memory key cannot fail; an empty signature would be
        // caught by every verifier, so it is not worth a panic path.
        let _ = key.pair.sign(
            &signature::RSA_PKCS1_SHA256,
            &self.rng,
            out.as_bytes(),
            &mut sig,
        );
        out.push('.');
        B64.encode_string(&sig, &mut out);
        out
    }

    /// Verifies an RS256 JWT signed by one of the published keys and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Map<String, Value>, JwtError> {
        let (header, claims, signing_input, sig) = split(token)?;
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let key = keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or(JwtError::BadSignature)?;
        let comps = PublicKeyComponents {
            n: key.n.as_slice(),
            e: key.e.as_slice(),
        };
        comps
            .verify(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                signing_input.as_bytes(),
                &sig,
            )
            .map_err(|_| JwtError::BadSignature)?;
        Ok(claims)
    }
}

/// Decodes a JWT's claims without checking the signature (to attribute a request to a tenant).
pub fn peek_claims(token: &str) -> Result<Map<String, Value>, JwtError> {
    split(token).map(|(_, c, _, _)| c)
}

type Split<'a> = (Map<String, Value>, Map<String, Value>, &'a str, Vec<u8>);

fn split(token: &str) -> Result<Split<'_>, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let decode_obj = |p: &str| -> Result<Map<String, Value>, JwtError> {
        let bytes = B64.decode(p).map_err(|_| JwtError::Malformed)?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(JwtError::Malformed),
        }
    };
    let header = decode_obj(h)?;
    let claims = decode_obj(c)?;
    let sig = B64.decode(s).map_err(|_| JwtError::Malformed)?;
    let signing_input = &token[..h.len() + 1 + c.len()];
    Ok((header, claims, signing_input, sig))
}

/// Random URL-safe text of `n` random bytes.
pub fn random_text(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
    B64.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_and_rejects_tampering() {
        let ks = KeySet::generate().expect("keys");
        let mut claims = Map::new();
        claims.insert("sub".into(), json!("x"));
        let jwt = ks.sign(&claims);
        assert_eq!(ks.verify(&jwt).expect("valid")["sub"], "x");
        let mut tampered = jwt.clone();
        tampered.insert(tampered.len() - 3, 'A');
        assert!(ks.verify(&tampered).is_err());
        assert_eq!(ks.verify("a.b"), Err(JwtError::Malformed));
        // After a rotation old tokens still verify (the old key stays published) ...
        ks.rotate(2).expect("rotate");
        assert!(ks.verify(&jwt).is_ok());
        // ... until it falls out of the set.
        ks.rotate(1).expect("rotate");
        assert_eq!(ks.verify(&jwt), Err(JwtError::BadSignature));
    }
}
