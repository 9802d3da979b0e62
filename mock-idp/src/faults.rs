//! Failure modes an issuer can be switched into, to reproduce what real
//! deployments meet: tampered or mis-addressed ID tokens, slow or broken
//! endpoints. Set per issuer through the library or `PUT /__control/faults/{issuer}`.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The endpoints of an issuer, as named in fault settings and the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    Discovery,
    Authorize,
    Login,
    Token,
    Userinfo,
    Jwks,
}

/// Ways to spoil the ID token the token endpoint returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenFault {
    /// Correctly signed, then signature bytes flipped.
    BadSignature,
    /// Signed by a key that is never published, under the published key's `kid`.
    UnpublishedKey,
    /// `alg: none` and an empty signature.
    AlgNone,
    /// `iss` names another issuer.
    WrongIssuer,
    /// `iss` without `https://`, as Google sometimes spells it (`accounts.google.com`).
    IssuerWithoutScheme,
    /// `aud` is another client.
    WrongAudience,
    MissingSub,
    MissingIat,
    MissingEmail,
    EmailNotVerified,
    /// No `email_verified` claim at all (in the ID token and in userinfo): nobody vouches for the address.
    MissingEmailVerified,
    /// `exp` an hour in the past.
    Expired,
    /// `iat` an hour in the future.
    IatInFuture,
    WrongNonce,
    /// Signed by an unpublished key under its own unknown `kid`.
    UnknownKid,
    /// Signed by the key another issuer of this server publishes, under that key's `kid`.
    ForeignIssuerKey,
    /// No `kid` in the header (ambiguous once the JWKS holds several keys).
    MissingKid,
    /// `aud` an array of this client and another, with no `azp`.
    AudArrayWithoutAzp,
    /// `aud` an array of this client and another, with `azp` naming the other one.
    AudArrayWrongAzp,
    /// `alg: HS256`, signed with HMAC whose secret is the published RSA public key (algorithm confusion).
    Hs256WithPublicKey,
    /// `nbf` an hour in the future.
    NbfInFuture,
}

/// Everything currently wrong with one issuer. The default is a healthy issuer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    pub id_token: BTreeSet<TokenFault>,
    /// Userinfo answers for a different `sub` than the ID token.
    pub userinfo_sub_mismatch: bool,
    /// Every request to this issuer waits this long before being answered.
    pub delay_ms: u64,
    /// Endpoints that answer with this HTTP status (e.g. 500, 503) instead of working.
    pub http_status: BTreeMap<Endpoint, u16>,
    /// JSON endpoints that answer with a truncated, unparsable body.
    pub malformed_json: BTreeSet<Endpoint>,
    /// The discovery document names this issuer instead of its own (what a
    /// response-rewriting proxy or a copied document of another tenant shows).
    pub discovery_issuer: Option<String>,
}

impl Faults {
    pub fn has(&self, fault: TokenFault) -> bool {
        self.id_token.contains(&fault)
    }

    /// Longest delay a control call may set: enough to trip any client timeout,
    /// short enough that a forgotten fault does not hang a test run.
    pub const MAX_DELAY_MS: u64 = 120_000;

    pub fn validate(&self) -> Result<(), String> {
        if self.delay_ms > Self::MAX_DELAY_MS {
            return Err(format!("delay_ms must be at most {}", Self::MAX_DELAY_MS));
        }
        for (endpoint, status) in &self.http_status {
            if !(400..=599).contains(status) {
                return Err(format!("http_status for {endpoint:?} must be an error status (400-599), got {status}"));
            }
        }
        Ok(())
    }
}
