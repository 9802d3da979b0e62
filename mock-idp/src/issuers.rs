//! What makes a Google-like, a Microsoft-like and a generic issuer differ:
//! URL layout, discovery document, ID token claims and the wording of errors.
//! Everything else (codes, PKCE, faults) is shared and lives elsewhere.

use crate::config::{IssuerKind, MSA_CONSUMER_TENANT, User};
use crate::faults::Endpoint;
use serde_json::{Map, Value, json};

/// An endpoint of an issuer, with the Entra tenant segment when the layout has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub endpoint: Endpoint,
    pub tenant: Option<String>,
}

/// Maps the path below the issuer prefix to an endpoint, as the real provider lays it out.
pub fn route(kind: IssuerKind, rest: &str) -> Option<Route> {
    let at = |endpoint| Some(Route { endpoint, tenant: None });
    if rest == "login" {
        return at(Endpoint::Login);
    }
    match kind {
        // accounts.google.com, oauth2.googleapis.com, openidconnect.googleapis.com, www.googleapis.com
        IssuerKind::Google => match rest {
            ".well-known/openid-configuration" => at(Endpoint::Discovery),
            "o/oauth2/v2/auth" => at(Endpoint::Authorize),
            "token" => at(Endpoint::Token),
            "v1/userinfo" => at(Endpoint::Userinfo),
            "oauth2/v3/certs" => at(Endpoint::Jwks),
            _ => None,
        },
        IssuerKind::Generic => match rest {
            ".well-known/openid-configuration" => at(Endpoint::Discovery),
            "authorize" => at(Endpoint::Authorize),
            "token" => at(Endpoint::Token),
            "userinfo" => at(Endpoint::Userinfo),
            "jwks" => at(Endpoint::Jwks),
            _ => None,
        },
        // login.microsoftonline.com/{tenant}/... and graph.microsoft.com/oidc/userinfo
        IssuerKind::Microsoft => {
            if rest == "oidc/userinfo" {
                return at(Endpoint::Userinfo);
            }
            let (tenant, tail) = rest.split_once('/')?;
            let endpoint = match tail {
                "v2.0/.well-known/openid-configuration" => Endpoint::Discovery,
                "oauth2/v2.0/authorize" => Endpoint::Authorize,
                "oauth2/v2.0/token" => Endpoint::Token,
                "discovery/v2.0/keys" => Endpoint::Jwks,
                _ => return None,
            };
            Some(Route { endpoint, tenant: Some(tenant.to_string()) })
        }
    }
}

/// Entra tenant segments: a GUID or one of the three well-known aliases.
pub fn is_valid_tenant(tenant: &str) -> bool {
    matches!(tenant, "common" | "organizations" | "consumers") || is_guid(tenant)
}

fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Whether a Microsoft user may sign in through this tenant segment.
pub fn tenant_admits(tenant: &str, user: &User) -> bool {
    match tenant {
        "common" => true,
        "organizations" => user.tenant() != MSA_CONSUMER_TENANT,
        "consumers" => user.tenant() == MSA_CONSUMER_TENANT,
        guid => user.tenant().eq_ignore_ascii_case(guid),
    }
}

/// The URLs of one issuer, rooted at `{server base}/{issuer name}`.
pub struct Layout<'a> {
    pub kind: IssuerKind,
    /// `{server base}/{issuer name}`
    pub root: &'a str,
}

impl Layout<'_> {
    /// The `issuer` of the discovery document. For Entra's multi-tenant aliases
    /// it is the literal `{tenantid}` template, as Microsoft publishes it.
    pub fn discovery_issuer(&self, tenant: Option<&str>) -> String {
        match (self.kind, tenant) {
            (IssuerKind::Microsoft, Some("common" | "organizations")) => format!("{}/{{tenantid}}/v2.0", self.root),
            (IssuerKind::Microsoft, Some("consumers")) => format!("{}/{MSA_CONSUMER_TENANT}/v2.0", self.root),
            (IssuerKind::Microsoft, Some(guid)) => format!("{}/{guid}/v2.0", self.root),
            _ => self.root.to_string(),
        }
    }

    /// The `iss` of an ID token: for Entra always the user's real tenant.
    pub fn token_issuer(&self, user: &User) -> String {
        match self.kind {
            IssuerKind::Microsoft => format!("{}/{}/v2.0", self.root, user.tenant()),
            _ => self.root.to_string(),
        }
    }

    pub fn url(&self, endpoint: Endpoint, tenant: Option<&str>) -> String {
        let root = self.root;
        let t = tenant.unwrap_or("common");
        match (self.kind, endpoint) {
            (_, Endpoint::Login) => format!("{root}/login"),
            (IssuerKind::Google, Endpoint::Discovery) | (IssuerKind::Generic, Endpoint::Discovery) => {
                format!("{root}/.well-known/openid-configuration")
            }
            (IssuerKind::Google, Endpoint::Authorize) => format!("{root}/o/oauth2/v2/auth"),
            (IssuerKind::Google, Endpoint::Token) | (IssuerKind::Generic, Endpoint::Token) => format!("{root}/token"),
            (IssuerKind::Google, Endpoint::Userinfo) => format!("{root}/v1/userinfo"),
            (IssuerKind::Google, Endpoint::Jwks) => format!("{root}/oauth2/v3/certs"),
            (IssuerKind::Generic, Endpoint::Authorize) => format!("{root}/authorize"),
            (IssuerKind::Generic, Endpoint::Userinfo) => format!("{root}/userinfo"),
            (IssuerKind::Generic, Endpoint::Jwks) => format!("{root}/jwks"),
            (IssuerKind::Microsoft, Endpoint::Discovery) => format!("{root}/{t}/v2.0/.well-known/openid-configuration"),
            (IssuerKind::Microsoft, Endpoint::Authorize) => format!("{root}/{t}/oauth2/v2.0/authorize"),
            (IssuerKind::Microsoft, Endpoint::Token) => format!("{root}/{t}/oauth2/v2.0/token"),
            (IssuerKind::Microsoft, Endpoint::Userinfo) => format!("{root}/oidc/userinfo"),
            (IssuerKind::Microsoft, Endpoint::Jwks) => format!("{root}/{t}/discovery/v2.0/keys"),
        }
    }

    pub fn discovery(&self, tenant: Option<&str>) -> Value {
        let claims: &[&str] = match self.kind {
            IssuerKind::Google => {
                &["aud", "email", "email_verified", "exp", "hd", "iat", "iss", "name", "sub", "at_hash", "azp", "nonce"]
            }
            IssuerKind::Microsoft => &[
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nbf",
                "nonce",
                "name",
                "oid",
                "tid",
                "ver",
                "email",
                "preferred_username",
            ],
            IssuerKind::Generic => &["sub", "iss", "aud", "exp", "iat", "nonce", "email", "email_verified", "name"],
        };
        json!({
            "issuer": self.discovery_issuer(tenant),
            "authorization_endpoint": self.url(Endpoint::Authorize, tenant),
            "token_endpoint": self.url(Endpoint::Token, tenant),
            "userinfo_endpoint": self.url(Endpoint::Userinfo, tenant),
            "jwks_uri": self.url(Endpoint::Jwks, tenant),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "subject_types_supported": [if self.kind == IssuerKind::Microsoft { "pairwise" } else { "public" }],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": claims,
        })
    }
}

/// Everything an ID token is made from.
pub struct TokenContext<'a> {
    pub layout: &'a Layout<'a>,
    pub user: &'a User,
    pub client_id: &'a str,
    pub nonce: Option<&'a str>,
    pub access_token: &'a str,
    pub now: i64,
    pub ttl: i64,
}

/// The ID token claims the imitated provider would send.
pub fn id_token_claims(ctx: &TokenContext<'_>) -> Map<String, Value> {
    let user = ctx.user;
    let mut c = Map::new();
    c.insert("iss".into(), json!(ctx.layout.token_issuer(user)));
    c.insert("aud".into(), json!(ctx.client_id));
    c.insert("iat".into(), json!(ctx.now));
    c.insert("exp".into(), json!(ctx.now + ctx.ttl));
    c.insert("name".into(), json!(user.display_name()));
    if let Some(nonce) = ctx.nonce {
        c.insert("nonce".into(), json!(nonce));
    }
    match ctx.layout.kind {
        IssuerKind::Google | IssuerKind::Generic => {
            c.insert("sub".into(), json!(user.subject()));
            c.insert("email".into(), json!(user.email));
            c.insert("email_verified".into(), json!(user.email_verified));
            c.insert("at_hash".into(), json!(crate::jwt::at_hash(ctx.access_token)));
            if ctx.layout.kind == IssuerKind::Google {
                c.insert("azp".into(), json!(ctx.client_id));
                if let Some(hd) = &user.hd {
                    c.insert("hd".into(), json!(hd));
                }
            }
            if !user.groups.is_empty() {
                c.insert("groups".into(), json!(user.groups));
            }
        }
        IssuerKind::Microsoft => {
            // Entra's `sub` is pairwise: unique per user *and* application.
            c.insert("sub".into(), json!(pairwise_sub(&user.object_id(), ctx.client_id)));
            c.insert("oid".into(), json!(user.object_id()));
            c.insert("tid".into(), json!(user.tenant()));
            c.insert("preferred_username".into(), json!(user.email));
            c.insert("nbf".into(), json!(ctx.now));
            c.insert("ver".into(), json!("2.0"));
            if !user.omit_email {
                c.insert("email".into(), json!(user.email));
            }
            if user.groups.len() > crate::config::ENTRA_GROUP_LIMIT {
                // Entra's group overage: the groups are a Microsoft Graph call away, not in the token.
                let endpoint = format!("https://graph.microsoft.com/v1.0/users/{}/getMemberObjects", user.object_id());
                c.insert("_claim_names".into(), json!({ "groups": "src1" }));
                c.insert("_claim_sources".into(), json!({ "src1": { "endpoint": endpoint } }));
            } else if !user.groups.is_empty() {
                c.insert("groups".into(), json!(user.groups));
            }
        }
    }
    if !user.roles.is_empty() {
        c.insert("roles".into(), json!(user.roles));
    }
    c
}

/// The userinfo document for a user (before faults).
pub fn userinfo(kind: IssuerKind, user: &User, client_id: &str) -> Map<String, Value> {
    let mut c = Map::new();
    let sub = match kind {
        IssuerKind::Microsoft => pairwise_sub(&user.object_id(), client_id),
        _ => user.subject(),
    };
    c.insert("sub".into(), json!(sub));
    c.insert("name".into(), json!(user.display_name()));
    if !(kind == IssuerKind::Microsoft && user.omit_email) {
        c.insert("email".into(), json!(user.email));
    }
    if kind != IssuerKind::Microsoft {
        c.insert("email_verified".into(), json!(user.email_verified));
    }
    if let (IssuerKind::Google, Some(hd)) = (kind, &user.hd) {
        c.insert("hd".into(), json!(hd));
    }
    c
}

fn pairwise_sub(oid: &str, client_id: &str) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{oid}|{client_id}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..32])
}

/// An error page the provider shows instead of redirecting back.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorPage {
    pub status: u16,
    pub title: String,
    pub detail: String,
}

/// Unknown `client_id` at the authorize endpoint.
pub fn unknown_client_page(kind: IssuerKind, client_id: &str) -> ErrorPage {
    match kind {
        IssuerKind::Microsoft => ErrorPage {
            status: 400,
            title: "AADSTS700016".into(),
            detail: format!(
                "AADSTS700016: Application with identifier '{client_id}' was not found in the directory. \
                 This can happen if the application has not been installed by the administrator of the tenant."
            ),
        },
        _ => ErrorPage {
            status: 401,
            title: "Error 401: invalid_client".into(),
            detail: format!("The OAuth client was not found. Request details: client_id={client_id}"),
        },
    }
}

/// `redirect_uri` not registered (exact match) for the client.
pub fn redirect_mismatch_page(kind: IssuerKind, client_id: &str, redirect_uri: &str) -> ErrorPage {
    match kind {
        IssuerKind::Microsoft => ErrorPage {
            status: 400,
            title: "AADSTS50011".into(),
            detail: format!(
                "AADSTS50011: The redirect URI '{redirect_uri}' specified in the request does not match the \
                 redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in \
                 the request matches one added to your application in the Azure portal."
            ),
        },
        _ => ErrorPage {
            status: 400,
            title: "Error 400: redirect_uri_mismatch".into(),
            detail: format!(
                "Access blocked: This app's request is invalid. You can't sign in because this app sent an \
                 invalid request. Request details: redirect_uri={redirect_uri} flowName=GeneralOAuthFlow"
            ),
        },
    }
}

/// `error_description` for a token request with bad client credentials.
pub fn invalid_client_description(kind: IssuerKind, client_id: &str, known_client: bool) -> String {
    match (kind, known_client) {
        (IssuerKind::Microsoft, true) => format!(
            "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the \
             client secret value, not the client secret ID, for a secret added to app '{client_id}'."
        ),
        (IssuerKind::Microsoft, false) => {
            format!("AADSTS700016: Application with identifier '{client_id}' was not found in the directory.")
        }
        (_, true) => "Unauthorized".into(),
        (_, false) => "The OAuth client was not found.".into(),
    }
}

/// `error_description` for an authorization code that cannot be redeemed.
pub fn invalid_grant_description(kind: IssuerKind, why: &str) -> String {
    match kind {
        IssuerKind::Microsoft => {
            format!("AADSTS70008: The provided authorization code or refresh token is invalid: {why}")
        }
        _ => why.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_follow_each_providers_layout() {
        let r = route(IssuerKind::Microsoft, "common/v2.0/.well-known/openid-configuration").unwrap();
        assert_eq!(r, Route { endpoint: Endpoint::Discovery, tenant: Some("common".into()) });
        assert_eq!(route(IssuerKind::Google, "o/oauth2/v2/auth").unwrap().endpoint, Endpoint::Authorize);
        assert_eq!(route(IssuerKind::Google, "authorize"), None);
        assert_eq!(route(IssuerKind::Generic, "jwks").unwrap().endpoint, Endpoint::Jwks);
        assert_eq!(route(IssuerKind::Microsoft, "common/nope"), None);
    }

    #[test]
    fn tenants() {
        assert!(is_valid_tenant("common"));
        assert!(is_valid_tenant(MSA_CONSUMER_TENANT));
        assert!(!is_valid_tenant("contoso"));
        assert!(!is_valid_tenant("9188040d-6c67-4c5b-b112-36a304b66dax"));
        let mut user = User::new("a@b.c");
        assert!(tenant_admits("organizations", &user));
        assert!(!tenant_admits("consumers", &user));
        user.tenant_id = Some(MSA_CONSUMER_TENANT.into());
        assert!(tenant_admits("consumers", &user));
        assert!(!tenant_admits("organizations", &user));
    }

    #[test]
    fn common_discovery_issuer_is_the_tenantid_template() {
        let layout = Layout { kind: IssuerKind::Microsoft, root: "http://h/microsoft" };
        assert_eq!(layout.discovery_issuer(Some("common")), "http://h/microsoft/{tenantid}/v2.0");
        let user = User::new("a@b.c");
        assert_eq!(layout.token_issuer(&user), format!("http://h/microsoft/{}/v2.0", user.tenant()));
    }

    #[test]
    fn groups_and_roles_in_each_shape_and_entras_overage() {
        let claims = |kind, user: &User| {
            let layout = Layout { kind, root: "http://h/x" };
            let ctx =
                TokenContext { layout: &layout, user, client_id: "c", nonce: None, access_token: "t", now: 0, ttl: 60 };
            id_token_claims(&ctx)
        };
        let mut user = User::new("a@b.c");
        user.groups = vec!["llm-users@b.c".into()];
        user.roles = vec!["Reader".into()];
        for kind in [IssuerKind::Google, IssuerKind::Microsoft, IssuerKind::Generic] {
            let c = claims(kind, &user);
            assert_eq!(c["groups"], json!(["llm-users@b.c"]), "{kind:?}");
            assert_eq!(c["roles"], json!(["Reader"]), "{kind:?}");
        }
        user.groups = (0..=crate::config::ENTRA_GROUP_LIMIT).map(|i| format!("g{i}")).collect();
        let c = claims(IssuerKind::Microsoft, &user);
        assert!(c.get("groups").is_none());
        assert_eq!(c["_claim_names"], json!({ "groups": "src1" }));
        assert!(c["_claim_sources"]["src1"]["endpoint"].as_str().is_some_and(|e| e.contains("getMemberObjects")));
        user.groups.pop();
        assert_eq!(claims(IssuerKind::Microsoft, &user)["groups"].as_array().map(Vec::len), Some(200));
    }
}
