//! Every way a sign-in in a browser can end without success, as one enum with
//! one [`IntoResponse`]: the status, the title, what the person can do about
//! it, and whether the page offers to start again. Handlers return
//! `Result<Response, SignInError>` and use `?`; the wording lives here, once.
//!
//! What is logged is decided where the error is raised (only that code knows
//! the user and the reason); a store failure is logged by its `From`, so no
//! path can show the page without the log line.

use super::pages;
use super::providers::SsoError;
use crate::store::StoreError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A sign-in step that failed, as the person at the browser is told.
#[derive(Debug)]
pub enum SignInError {
    /// The database could not be used (the details are in the log).
    Unavailable,
    /// `/auth` on a proxy that runs without sign-in.
    NotEnabled,
    /// In backoff after failures: wait this long.
    Backoff {
        seconds: i64,
    },
    /// `/auth/login/{name}` for a provider that is not configured; `configured` lists the ones that are.
    ProviderNotConfigured {
        name: String,
        configured: Option<Vec<String>>,
    },
    /// This client (or its network) has too many sign-ins in progress.
    TooManySignIns,
    /// The whole proxy has.
    SignInsFull,
    /// The IdP could not be used or its answer did not verify.
    Provider {
        error: SsoError,
        redirect_uri: String,
    },
    /// The callback came without `state`.
    MissingState,
    /// The callback's flow was started in another browser.
    OtherBrowser,
    /// The callback's flow is over (expired, or used).
    FlowExpired,
    /// The IdP sent `error=` back.
    ProviderRefused {
        title: &'static str,
        message: &'static str,
        detail: String,
    },
    /// The callback came without a code.
    MissingCode,
    /// Enterprise mode without `api_url`.
    AuthorizationNotConfigured,
    /// The authorization API said no.
    AccessDenied {
        reason: String,
    },
    /// The authorization API failed: closed.
    AuthorizationFailed,
    /// A renewal by someone who does not own the token.
    NotYourToken,
    /// A renewal of a token that is gone.
    TokenNotFound,
    /// The confirmation is over, or this browser has none.
    CodeExpired,
    MaxAttempts,
    /// A form without its CSRF token.
    FormExpired,
    /// Two submissions of the right code: the other one won.
    CodeAlreadyUsed,
    /// Too many terminal codes typed, from the network or from everyone.
    TooManyGuesses {
        everyone: bool,
    },
    /// A terminal form that this proxy did not show in this browser.
    Forged,
    /// The terminal's code was entered in another browser first.
    CodeInUse,
    /// A sign-in for a terminal from a browser that did not enter its code.
    Unbound,
    /// The terminal's request is over.
    TerminalGone,
}

impl From<StoreError> for SignInError {
    fn from(e: StoreError) -> Self {
        tracing::error!("token store: {e}");
        SignInError::Unavailable
    }
}

/// What the error page shows.
struct Page<'a> {
    status: StatusCode,
    title: &'a str,
    message: String,
    detail: Option<String>,
    retry: bool,
    retry_after: Option<i64>,
}

fn page(status: StatusCode, title: &str, message: impl Into<String>) -> Page<'_> {
    Page { status, title, message: message.into(), detail: None, retry: false, retry_after: None }
}

impl Page<'_> {
    fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The page links to `/auth/login` to start again.
    fn retry(mut self) -> Self {
        self.retry = true;
        self
    }
}

impl SignInError {
    fn page(&self) -> Page<'_> {
        use SignInError as E;
        use StatusCode as S;
        match self {
            E::Unavailable => page(
                S::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "The proxy's database could not be used. Try again in a moment.",
            ),
            E::NotEnabled => {
                page(S::NOT_FOUND, "SSO is not enabled", "This proxy runs without sign-in (sso.enabled is false).")
            }
            E::Backoff { seconds } => Page {
                retry_after: Some(*seconds),
                ..page(
                    S::TOO_MANY_REQUESTS,
                    "Please wait before trying again",
                    format!("Please wait before trying again: {seconds} seconds left."),
                )
            },
            E::ProviderNotConfigured { name, configured } => {
                let p = page(S::NOT_FOUND, "Provider not configured", format!("Provider '{name}' not configured"));
                match configured {
                    Some(names) => {
                        p.detail(format!("Configured providers (names are case-sensitive): {}", names.join(", ")))
                    }
                    None => p,
                }
                .retry()
            }
            E::TooManySignIns => page(
                S::TOO_MANY_REQUESTS,
                "Too many sign-ins in progress",
                "Too many sign-ins were started from your address or network and not finished. Finish one, or wait \
                 ten minutes and start again.",
            ),
            E::SignInsFull => page(
                S::SERVICE_UNAVAILABLE,
                "Too many sign-ins in progress",
                "The proxy has too many sign-ins in progress. Try again in a few minutes.",
            ),
            E::Provider { error, redirect_uri } => provider_page(error, redirect_uri),
            E::MissingState => page(
                S::BAD_REQUEST,
                "Sign-in link incomplete",
                "The identity provider's answer has no state. Start the sign-in again.",
            )
            .retry(),
            E::OtherBrowser => page(
                S::BAD_REQUEST,
                "Sign-in started in another browser",
                "This sign-in was started in another browser (or its cookies were cleared), so it cannot be finished \
                 here. Start the sign-in again in this browser.",
            )
            .retry(),
            E::FlowExpired => {
                page(S::BAD_REQUEST, "Sign-in expired", "This sign-in has expired or was already used. Start again.")
                    .retry()
            }
            E::ProviderRefused { title, message, detail } => page(S::FORBIDDEN, title, *message).detail(detail).retry(),
            E::MissingCode => page(S::BAD_REQUEST, "Sign-in link incomplete", "The answer has no code.").retry(),
            E::AuthorizationNotConfigured => {
                page(S::SERVICE_UNAVAILABLE, "Authorization not configured", "Contact your administrator.")
            }
            E::AccessDenied { reason } => page(S::FORBIDDEN, "Access denied", format!("Access denied: {reason}"))
                .detail("If you should have access, contact your administrator and mention this message."),
            E::AuthorizationFailed => page(
                S::SERVICE_UNAVAILABLE,
                "Access denied",
                "The authorization service could not be reached or answered wrongly, so access was denied.",
            )
            .detail("Contact your administrator: the proxy's log names the problem.")
            .retry(),
            E::NotYourToken => page(
                S::FORBIDDEN,
                "Not your token",
                "This re-authentication link belongs to another account. Sign in with the account the agent's token \
                 was issued to.",
            )
            .retry(),
            E::TokenNotFound => page(
                S::NOT_FOUND,
                "Token not found",
                "That token was revoked or does not exist. Sign in to get a new one.",
            )
            .retry(),
            E::CodeExpired => page(
                S::GONE,
                "Confirmation code expired",
                "Confirmation code expired. Sign in again to get a new code.",
            )
            .retry(),
            E::MaxAttempts => page(
                S::FORBIDDEN,
                "Maximum attempts exceeded",
                "Maximum attempts exceeded. Sign in again to get a new code (the counter starts again).",
            )
            .retry(),
            E::FormExpired => page(S::FORBIDDEN, "Form expired", "This form is not valid any more. Reload the page."),
            E::CodeAlreadyUsed => page(
                S::CONFLICT,
                "Code already used",
                "This confirmation code was already used (the form was sent twice?). If no token was shown, sign in \
                 again.",
            )
            .retry(),
            E::TooManyGuesses { everyone } => Page {
                retry_after: Some(180),
                ..page(
                    S::TOO_MANY_REQUESTS,
                    "Please wait before trying again",
                    if *everyone {
                        "Too many wrong codes were entered on this proxy recently, so code entry is paused for a few \
                         minutes. Try again shortly."
                    } else {
                        "Too many codes were entered from your network within the hour. Wait a few minutes and try \
                         again."
                    },
                )
            },
            E::Forged => page(
                S::FORBIDDEN,
                "Form expired",
                "This form was not sent by a page this proxy showed in this browser (it may come from another site, \
                 or the browser's cookies were cleared). Open the link your terminal shows and type the code again.",
            ),
            E::CodeInUse => page(
                S::CONFLICT,
                "Code already in use",
                "This code was already entered in another browser, which now holds the sign-in. If that was not you, \
                 someone else knows your code: refuse it there if you can, and run `llm-sso-proxy login` in your \
                 terminal again for a new code.",
            ),
            E::Unbound => page(
                S::FORBIDDEN,
                "Enter the code first",
                "To sign in a terminal, open the link the terminal shows and enter its code in this browser. A sign-in \
                 link for a terminal that someone sent you is refused: it could sign them in as you.",
            ),
            E::TerminalGone => page(
                S::GONE,
                "Terminal sign-in expired",
                "This terminal sign-in expired or was already answered. Run `llm-sso-proxy login` in the terminal \
                 again.",
            ),
        }
    }
}

/// The identity provider's failures, each with the fix the guide gives.
fn provider_page<'a>(error: &'a SsoError, redirect_uri: &str) -> Page<'a> {
    use StatusCode as S;
    match error {
        SsoError::Unreachable { host, detail } => page(
            S::BAD_GATEWAY,
            "Failed to connect to identity provider",
            format!("Failed to connect to identity provider {host}."),
        )
        .detail(format!(
            "{detail}. If this server reaches the internet through a proxy, set HTTPS_PROXY (and NO_PROXY) for the \
             proxy process."
        ))
        .retry(),
        SsoError::InvalidClient { detail } => page(
            S::BAD_GATEWAY,
            "Invalid client",
            "The identity provider rejected this proxy's client credentials. Check client_id and client_secret for \
             stray spaces or line breaks, and that the secret has not expired.",
        )
        .detail(detail.as_str()),
        SsoError::RedirectUri { detail, .. } => page(
            S::BAD_GATEWAY,
            "Redirect URI mismatch",
            format!("Register exactly this redirect URI at the identity provider: {redirect_uri}"),
        )
        .detail(detail.as_str()),
        SsoError::Refused(detail) => page(S::FORBIDDEN, "Sign-in refused", detail.as_str()).retry(),
        SsoError::Verification(detail) => page(
            S::BAD_GATEWAY,
            "Sign-in could not be verified",
            "The identity provider's answer did not pass verification, so you were not signed in.",
        )
        .detail(detail.as_str())
        .retry(),
    }
}

impl IntoResponse for SignInError {
    fn into_response(self) -> Response {
        let p = self.page();
        let mut response = pages::error(p.status, p.title, &p.message, p.detail.as_deref(), p.retry);
        if let Some(v) = p.retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}
