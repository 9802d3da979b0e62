//! Sign-ins in progress: the three kinds of row `pending_authorizations`
//! holds, each typed with only what it carries ([`OidcFlow`], [`Confirmation`],
//! [`DeviceRequest`]), and the caps a new one is admitted under. The table's
//! shape ([`Columns`]) is converted to and from a typed row here, once for both
//! backends; a backend only reads and writes columns by name.

use crate::clock::UnixSeconds;

/// Which step of a sign-in a row belongs to (the `kind` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingKind {
    Oidc,
    Confirmation,
    Device,
}

impl PendingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PendingKind::Oidc => "oidc",
            PendingKind::Confirmation => "confirmation",
            PendingKind::Device => "device",
        }
    }

    /// The kind of a stored row; an unknown kind is an error, never a guess.
    pub fn parse(text: &str) -> Option<PendingKind> {
        match text {
            "oidc" => Some(PendingKind::Oidc),
            "confirmation" => Some(PendingKind::Confirmation),
            "device" => Some(PendingKind::Device),
            _ => None,
        }
    }
}

/// Where a terminal's sign-in request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Nobody has answered it yet: the terminal hears `authorization_pending`.
    Pending,
    /// A user signed in and was authorized; the identity is on the row until the terminal collects it.
    Approved,
    /// The user refused it, or the authorization failed.
    Denied,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Approved => "approved",
            DeviceStatus::Denied => "denied",
        }
    }

    pub fn parse(text: &str) -> Option<DeviceStatus> {
        match text {
            "pending" => Some(DeviceStatus::Pending),
            "approved" => Some(DeviceStatus::Approved),
            "denied" => Some(DeviceStatus::Denied),
            _ => None,
        }
    }
}

/// What a sign-in is for, carried from its start to its end on its rows (the `renew_token_hash` and
/// `device_id` columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new agent token, shown on the page.
    NewToken,
    /// Re-authenticate the token with this hash (only its owner can).
    Renew(String),
    /// Approve the terminal request with this id; the terminal collects its token.
    Device(String),
}

/// Between the redirect to the identity provider and the callback; keyed by the OAuth `state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcFlow {
    pub id: String,
    pub provider: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// SHA-256 hex of the binding cookie of the browser that started it: only that browser finishes it.
    pub browser_hash: String,
    pub outcome: Outcome,
    /// The client it is counted against ([`PendingCaps::per_client`]).
    pub rate_key: String,
    pub created_at: UnixSeconds,
    pub expires_at: UnixSeconds,
}

/// Between the callback and the console code (`single_user` mode): who signed in, and the code's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    pub id: String,
    pub provider: String,
    pub user_id: String,
    pub user_email: String,
    /// SHA-256 of the confirmation code, bound to `id`.
    pub code_hash: String,
    /// Wrong codes entered so far.
    pub attempts: u32,
    pub csrf_token: String,
    pub outcome: Outcome,
    pub rate_key: String,
    pub created_at: UnixSeconds,
    pub expires_at: UnixSeconds,
}

/// A terminal's sign-in request (RFC 8628), keyed by the SHA-256 of its device code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRequest {
    pub id: String,
    /// SHA-256 of the user code the person types in the browser.
    pub user_code_hash: String,
    pub status: DeviceStatus,
    /// The token the terminal asked to renew (it sent one), if any.
    pub renew_token_hash: Option<String>,
    /// The `User-Agent` of the terminal that asked (shown on the verification page).
    pub user_agent: Option<String>,
    /// The browser that entered the user code first, once one has.
    pub browser_hash: Option<String>,
    /// Who approved it, once approved.
    pub approved_by: Option<Approver>,
    pub rate_key: String,
    pub created_at: UnixSeconds,
    pub expires_at: UnixSeconds,
}

/// The identity that approved a terminal's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approver {
    pub user_id: String,
    pub user_email: String,
    pub provider: String,
    /// The claims the policy read at this sign-in, handed on to the token ([`TokenRecord::claims`](super::TokenRecord)).
    pub claims: Option<String>,
}

/// A sign-in step to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    Oidc(OidcFlow),
    Confirmation(Confirmation),
    Device(DeviceRequest),
}

/// What a terminal's poll found, decided by one statement each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevicePoll {
    /// No such request: never made, or already collected.
    Unknown,
    Expired,
    /// Polled before the interval passed; the interval grows by 5 seconds.
    SlowDown,
    Pending,
    Denied,
    /// Approved, and now taken: of concurrent polls exactly one sees this.
    Approved(Box<DeviceRequest>),
}

/// A decision on a terminal's request, made once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceDecision {
    Approve(Approver),
    Deny,
}

/// One row of `pending_authorizations` as the table holds it: every column a kind may use. Only the
/// backends build one (reading columns by name) and only this module turns it into a typed row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    pub id: String,
    pub kind: String,
    pub provider: Option<String>,
    pub user_id: Option<String>,
    pub user_email: Option<String>,
    pub nonce: Option<String>,
    pub pkce_verifier: Option<String>,
    /// The confirmation code's hash, or a terminal's user code's hash.
    pub code_hash: Option<String>,
    pub attempts: u32,
    pub renew_token_hash: Option<String>,
    /// The rate key (an IPv4 address or an IPv6 /64), in the column's historical name.
    pub client_ip: Option<String>,
    pub csrf_token: Option<String>,
    pub browser_hash: Option<String>,
    pub device_status: Option<String>,
    pub user_agent: Option<String>,
    pub device_id: Option<String>,
    /// The approver's policy claims (JSON the proxy wrote), on an approved device row.
    pub claims: Option<String>,
    pub created_at: UnixSeconds,
    pub expires_at: UnixSeconds,
}

/// A typed kind of pending row: its `kind`, and how it is read from the table.
pub trait PendingRow: Sized + Send + 'static {
    const KIND: PendingKind;
    /// The typed row; a column the kind needs that is missing, or a value no proxy writes, is an error
    /// naming the column (never a guess at what the row is for).
    fn from_columns(columns: Columns) -> Result<Self, String>;
}

fn required(value: Option<String>, column: &str, kind: PendingKind) -> Result<String, String> {
    value.ok_or_else(|| format!("a {} row of pending_authorizations has no {column}", kind.as_str()))
}

fn check_kind(columns: &Columns, kind: PendingKind) -> Result<(), String> {
    match PendingKind::parse(&columns.kind) {
        Some(found) if found == kind => Ok(()),
        Some(found) => Err(format!("pending_authorizations row is a {} row, not {}", found.as_str(), kind.as_str())),
        None => Err(format!("unknown pending_authorizations.kind {:?}", columns.kind)),
    }
}

impl Outcome {
    fn from_columns(device_id: Option<String>, renew_token_hash: Option<String>) -> Outcome {
        match (device_id, renew_token_hash) {
            (Some(device), _) => Outcome::Device(device),
            (None, Some(hash)) => Outcome::Renew(hash),
            (None, None) => Outcome::NewToken,
        }
    }

    /// `(device_id, renew_token_hash)`.
    fn columns(&self) -> (Option<String>, Option<String>) {
        match self {
            Outcome::NewToken => (None, None),
            Outcome::Renew(hash) => (None, Some(hash.clone())),
            Outcome::Device(id) => (Some(id.clone()), None),
        }
    }
}

impl PendingRow for OidcFlow {
    const KIND: PendingKind = PendingKind::Oidc;
    fn from_columns(c: Columns) -> Result<Self, String> {
        check_kind(&c, Self::KIND)?;
        let k = Self::KIND;
        Ok(OidcFlow {
            provider: required(c.provider, "provider", k)?,
            nonce: required(c.nonce, "nonce", k)?,
            pkce_verifier: required(c.pkce_verifier, "pkce_verifier", k)?,
            browser_hash: required(c.browser_hash, "browser_hash", k)?,
            outcome: Outcome::from_columns(c.device_id, c.renew_token_hash),
            rate_key: required(c.client_ip, "client_ip", k)?,
            id: c.id,
            created_at: c.created_at,
            expires_at: c.expires_at,
        })
    }
}

impl PendingRow for Confirmation {
    const KIND: PendingKind = PendingKind::Confirmation;
    fn from_columns(c: Columns) -> Result<Self, String> {
        check_kind(&c, Self::KIND)?;
        let k = Self::KIND;
        Ok(Confirmation {
            provider: required(c.provider, "provider", k)?,
            user_id: required(c.user_id, "user_id", k)?,
            user_email: required(c.user_email, "user_email", k)?,
            code_hash: required(c.code_hash, "code_hash", k)?,
            attempts: c.attempts,
            csrf_token: required(c.csrf_token, "csrf_token", k)?,
            outcome: Outcome::from_columns(c.device_id, c.renew_token_hash),
            rate_key: required(c.client_ip, "client_ip", k)?,
            id: c.id,
            created_at: c.created_at,
            expires_at: c.expires_at,
        })
    }
}

impl PendingRow for DeviceRequest {
    const KIND: PendingKind = PendingKind::Device;
    fn from_columns(c: Columns) -> Result<Self, String> {
        check_kind(&c, Self::KIND)?;
        let k = Self::KIND;
        let status = required(c.device_status, "device_status", k)?;
        let status = DeviceStatus::parse(&status)
            .ok_or_else(|| format!("unknown pending_authorizations.device_status {status:?}"))?;
        let approved_by = match (status, c.user_id, c.user_email, c.provider) {
            (DeviceStatus::Approved, Some(user_id), Some(user_email), Some(provider)) => {
                Some(Approver { user_id, user_email, provider, claims: c.claims })
            }
            (DeviceStatus::Approved, ..) => {
                return Err("an approved device row of pending_authorizations \
                                                        names nobody (user_id, user_email, provider)"
                    .into());
            }
            _ => None,
        };
        Ok(DeviceRequest {
            user_code_hash: required(c.code_hash, "code_hash", k)?,
            status,
            renew_token_hash: c.renew_token_hash,
            user_agent: c.user_agent,
            browser_hash: c.browser_hash,
            approved_by,
            rate_key: required(c.client_ip, "client_ip", k)?,
            id: c.id,
            created_at: c.created_at,
            expires_at: c.expires_at,
        })
    }
}

impl Pending {
    pub fn id(&self) -> &str {
        match self {
            Pending::Oidc(p) => &p.id,
            Pending::Confirmation(p) => &p.id,
            Pending::Device(p) => &p.id,
        }
    }

    /// The rate key it is counted against ([`PendingCaps::per_client`]).
    pub fn rate_key(&self) -> &str {
        match self {
            Pending::Oidc(p) => &p.rate_key,
            Pending::Confirmation(p) => &p.rate_key,
            Pending::Device(p) => &p.rate_key,
        }
    }

    /// The columns to insert.
    pub fn columns(&self) -> Columns {
        match self {
            Pending::Oidc(p) => {
                let (device_id, renew_token_hash) = p.outcome.columns();
                Columns {
                    id: p.id.clone(),
                    kind: PendingKind::Oidc.as_str().into(),
                    provider: Some(p.provider.clone()),
                    nonce: Some(p.nonce.clone()),
                    pkce_verifier: Some(p.pkce_verifier.clone()),
                    browser_hash: Some(p.browser_hash.clone()),
                    device_id,
                    renew_token_hash,
                    client_ip: Some(p.rate_key.clone()),
                    created_at: p.created_at,
                    expires_at: p.expires_at,
                    ..Columns::default()
                }
            }
            Pending::Confirmation(p) => {
                let (device_id, renew_token_hash) = p.outcome.columns();
                Columns {
                    id: p.id.clone(),
                    kind: PendingKind::Confirmation.as_str().into(),
                    provider: Some(p.provider.clone()),
                    user_id: Some(p.user_id.clone()),
                    user_email: Some(p.user_email.clone()),
                    code_hash: Some(p.code_hash.clone()),
                    attempts: p.attempts,
                    csrf_token: Some(p.csrf_token.clone()),
                    device_id,
                    renew_token_hash,
                    client_ip: Some(p.rate_key.clone()),
                    created_at: p.created_at,
                    expires_at: p.expires_at,
                    ..Columns::default()
                }
            }
            Pending::Device(p) => {
                let approver = p.approved_by.clone();
                Columns {
                    id: p.id.clone(),
                    kind: PendingKind::Device.as_str().into(),
                    code_hash: Some(p.user_code_hash.clone()),
                    device_status: Some(p.status.as_str().into()),
                    renew_token_hash: p.renew_token_hash.clone(),
                    user_agent: p.user_agent.clone(),
                    browser_hash: p.browser_hash.clone(),
                    user_id: approver.as_ref().map(|a| a.user_id.clone()),
                    user_email: approver.as_ref().map(|a| a.user_email.clone()),
                    provider: approver.map(|a| a.provider),
                    client_ip: Some(p.rate_key.clone()),
                    created_at: p.created_at,
                    expires_at: p.expires_at,
                    ..Columns::default()
                }
            }
        }
    }
}

/// Bounds on sign-ins in progress: per client and per network (so one client, or one host with many
/// addresses, cannot lock everyone out) and for the whole store (a safety net against many networks).
/// Anonymous work stops at [`MAX_PENDING`]; a step of someone who has proven an identity (back from the
/// IdP, or holding a token) has room up to [`MAX_PENDING_IDENTIFIED`], so strangers filling the table
/// never refuse them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingCaps {
    pub per_client: i64,
    pub per_network: i64,
    pub total: i64,
}

impl Default for PendingCaps {
    fn default() -> Self {
        PendingCaps::anonymous()
    }
}

impl PendingCaps {
    /// For a step nobody has vouched for yet (a sign-in start, a terminal's first request).
    pub fn anonymous() -> PendingCaps {
        PendingCaps { per_client: MAX_PENDING_PER_CLIENT, per_network: MAX_PENDING_PER_NETWORK, total: MAX_PENDING }
    }

    /// For a step of someone who has proven an identity: neither strangers on their network nor strangers
    /// filling the table refuse it (their own address keeps its cap).
    pub fn identified() -> PendingCaps {
        PendingCaps {
            per_client: MAX_PENDING_PER_CLIENT,
            per_network: MAX_PENDING_IDENTIFIED,
            total: MAX_PENDING_IDENTIFIED,
        }
    }
}

/// What happened to a sign-in step the flow asked to store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Stored,
    /// This client has [`PendingCaps::per_client`] sign-ins in progress already.
    ClientCapReached,
    /// This client's network (IPv4 /24, IPv6 /48) has [`PendingCaps::per_network`] in progress.
    NetworkCapReached,
    /// The store holds [`PendingCaps::total`] sign-ins in progress.
    TotalCapReached,
}

/// Most sign-ins in progress at once; past it new ones are refused until some expire.
pub const MAX_PENDING: i64 = 10_000;
/// Most sign-ins in progress for one client IP (or IPv6 /64).
pub const MAX_PENDING_PER_CLIENT: i64 = 20;
/// Most sign-ins in progress for one network (IPv4 /24, IPv6 /48).
pub const MAX_PENDING_PER_NETWORK: i64 = 100;
/// The global cap for steps of people who have proven an identity (anonymous ones stop at [`MAX_PENDING`]).
pub const MAX_PENDING_IDENTIFIED: i64 = 2 * MAX_PENDING;

#[cfg(test)]
mod tests {
    use super::*;

    fn device(status: &str) -> Columns {
        Columns {
            id: "d".into(),
            kind: "device".into(),
            code_hash: Some("u".into()),
            device_status: Some(status.into()),
            client_ip: Some("10.0.0.1".into()),
            ..Columns::default()
        }
    }

    #[test]
    fn every_kind_round_trips_through_the_tables_shape() {
        let oidc = OidcFlow {
            id: "s".into(),
            provider: "google".into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            browser_hash: "b".into(),
            outcome: Outcome::Renew("h".into()),
            rate_key: "10.0.0.1".into(),
            created_at: 1,
            expires_at: 2,
        };
        assert_eq!(OidcFlow::from_columns(Pending::Oidc(oidc.clone()).columns()), Ok(oidc));
        let confirmation = Confirmation {
            id: "c".into(),
            provider: "google".into(),
            user_id: "google:1".into(),
            user_email: "a@b.c".into(),
            code_hash: "h".into(),
            attempts: 2,
            csrf_token: "t".into(),
            outcome: Outcome::Device("d".into()),
            rate_key: "10.0.0.1".into(),
            created_at: 1,
            expires_at: 2,
        };
        assert_eq!(Confirmation::from_columns(Pending::Confirmation(confirmation.clone()).columns()), Ok(confirmation));
        let request = DeviceRequest::from_columns(device("pending")).unwrap();
        assert_eq!(DeviceRequest::from_columns(Pending::Device(request.clone()).columns()), Ok(request));
    }

    #[test]
    fn a_row_of_another_kind_an_unknown_value_or_a_missing_column_is_an_error() {
        assert!(OidcFlow::from_columns(device("pending")).is_err_and(|e| e.contains("device row")));
        let mystery = Columns { kind: "mystery".into(), ..device("pending") };
        assert!(DeviceRequest::from_columns(mystery).is_err_and(|e| e.contains("kind \"mystery\"")));
        assert!(DeviceRequest::from_columns(device("maybe")).is_err_and(|e| e.contains("device_status \"maybe\"")));
        assert!(DeviceRequest::from_columns(device("approved")).is_err_and(|e| e.contains("names nobody")));
        let no_key = Columns { client_ip: None, ..device("pending") };
        assert!(DeviceRequest::from_columns(no_key).is_err_and(|e| e.contains("no client_ip")));
    }
}
