//! Compact JWS encoding of ID tokens, including the deliberately broken
//! encodings that the token faults ask for.

use crate::faults::{Faults, TokenFault};
use crate::keys::{Key, KeyRing};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// `at_hash`: base64url of the left half of SHA-256 of the access token (RS256).
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// Applies the claim-level faults (issuer, audience, times, missing claims).
pub fn spoil_claims(claims: &mut Map<String, Value>, faults: &Faults, now: i64, ttl: i64) {
    if faults.has(TokenFault::WrongIssuer) {
        claims.insert("iss".into(), json!("https://issuer.invalid/not-this-one"));
    }
    if faults.has(TokenFault::IssuerWithoutScheme)
        && let Some(Value::String(iss)) = claims.get("iss")
    {
        let bare = iss.trim_start_matches("https://").trim_start_matches("http://").to_string();
        claims.insert("iss".into(), json!(bare));
    }
    if faults.has(TokenFault::WrongAudience) {
        claims.insert("aud".into(), json!("some-other-client.apps.example"));
    }
    if faults.has(TokenFault::Expired) {
        claims.insert("iat".into(), json!(now - 2 * ttl));
        claims.insert("exp".into(), json!(now - ttl));
    }
    if faults.has(TokenFault::IatInFuture) {
        claims.insert("iat".into(), json!(now + 3600));
        claims.insert("exp".into(), json!(now + 3600 + ttl));
    }
    if faults.has(TokenFault::NbfInFuture) {
        claims.insert("nbf".into(), json!(now + 3600));
    }
    if faults.has(TokenFault::AudArrayWithoutAzp) || faults.has(TokenFault::AudArrayWrongAzp) {
        let own = claims.get("aud").cloned().unwrap_or(Value::Null);
        claims.insert("aud".into(), json!([own, "another-client.apps.example"]));
        claims.remove("azp");
        if faults.has(TokenFault::AudArrayWrongAzp) {
            claims.insert("azp".into(), json!("another-client.apps.example"));
        }
    }
    if faults.has(TokenFault::WrongNonce) {
        claims.insert("nonce".into(), json!("not-the-nonce-you-sent"));
    }
    if faults.has(TokenFault::EmailNotVerified) && claims.contains_key("email_verified") {
        claims.insert("email_verified".into(), json!(false));
    }
    for (fault, claim) in [
        (TokenFault::MissingSub, "sub"),
        (TokenFault::MissingIat, "iat"),
        (TokenFault::MissingEmail, "email"),
        (TokenFault::MissingEmailVerified, "email_verified"),
    ] {
        if faults.has(fault) {
            claims.remove(claim);
        }
    }
}

/// Signs `claims` with the issuer's active key, or breaks the signature as the faults say.
/// `foreign` is a key another issuer of the same server publishes (for [`TokenFault::ForeignIssuerKey`]).
pub fn encode(claims: &Map<String, Value>, keys: &KeyRing, foreign: Option<&Key>, faults: &Faults) -> String {
    let claims_b64 = URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string());
    if faults.has(TokenFault::AlgNone) {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT"}).to_string());
        return format!("{header}.{claims_b64}.");
    }
    if faults.has(TokenFault::Hs256WithPublicKey) {
        use hmac::Mac;
        let header = json!({"alg": "HS256", "kid": keys.active().kid, "typ": "JWT"});
        let signing_input = format!("{}.{claims_b64}", URL_SAFE_NO_PAD.encode(header.to_string()));
        // The secret a confused verifier would use: the published public key, as PEM.
        let secret = keys.active().public_pem();
        let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
            return signing_input;
        };
        mac.update(signing_input.as_bytes());
        return format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
    }
    let (kid, signer) = if let (true, Some(other)) = (faults.has(TokenFault::ForeignIssuerKey), foreign) {
        (other.kid.as_str(), other)
    } else if faults.has(TokenFault::UnknownKid) {
        (keys.rogue().kid.as_str(), keys.rogue())
    } else if faults.has(TokenFault::UnpublishedKey) {
        (keys.active().kid.as_str(), keys.rogue())
    } else {
        (keys.active().kid.as_str(), keys.active())
    };
    let header = if faults.has(TokenFault::MissingKid) {
        json!({"alg": "RS256", "typ": "JWT"})
    } else {
        json!({"alg": "RS256", "kid": kid, "typ": "JWT"})
    };
    let header = URL_SAFE_NO_PAD.encode(header.to_string());
    let signing_input = format!("{header}.{claims_b64}");
    let mut signature = signer.sign(signing_input.as_bytes());
    if faults.has(TokenFault::BadSignature) {
        for byte in signature.iter_mut().take(8) {
            *byte ^= 0x5a;
        }
    }
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_oidc_core_example() {
        // OpenID Connect Core, appendix A.3: access token "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y".
        assert_eq!(at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"), "77QmUPtjPfzWtF2AnpK9RQ");
    }

    #[test]
    fn claim_faults_change_only_their_claim() {
        let mut claims = Map::new();
        claims.insert("iss".into(), json!("https://accounts.example"));
        claims.insert("sub".into(), json!("1"));
        claims.insert("email_verified".into(), json!(true));
        let faults = Faults {
            id_token: [TokenFault::IssuerWithoutScheme, TokenFault::MissingSub, TokenFault::EmailNotVerified].into(),
            ..Faults::default()
        };
        spoil_claims(&mut claims, &faults, 1000, 3600);
        assert_eq!(claims["iss"], "accounts.example");
        assert!(!claims.contains_key("sub"));
        assert_eq!(claims["email_verified"], false);
    }

    #[test]
    fn relying_party_certification_faults() {
        let mut claims = Map::new();
        claims.insert("aud".into(), json!("client"));
        claims.insert("azp".into(), json!("client"));
        let faults =
            Faults { id_token: [TokenFault::AudArrayWrongAzp, TokenFault::NbfInFuture].into(), ..Faults::default() };
        spoil_claims(&mut claims, &faults, 1000, 3600);
        assert_eq!(claims["aud"], json!(["client", "another-client.apps.example"]));
        assert_eq!(claims["azp"], "another-client.apps.example");
        assert_eq!(claims["nbf"], 4600);
        let ring = KeyRing::pooled(0).unwrap();
        let header = |token: &str| -> Value {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap()
        };
        let hs = Faults { id_token: [TokenFault::Hs256WithPublicKey].into(), ..Faults::default() };
        assert_eq!(header(&encode(&claims, &ring, None, &hs))["alg"], "HS256");
        let no_kid = Faults { id_token: [TokenFault::MissingKid].into(), ..Faults::default() };
        assert!(header(&encode(&claims, &ring, None, &no_kid)).get("kid").is_none());
        let other = KeyRing::pooled(1).unwrap();
        let foreign = Faults { id_token: [TokenFault::ForeignIssuerKey].into(), ..Faults::default() };
        assert_eq!(header(&encode(&claims, &ring, Some(other.active()), &foreign))["kid"], other.active().kid.as_str());
    }
}
