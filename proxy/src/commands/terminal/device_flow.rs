//! The terminal's half of RFC 8628: ask the proxy for a code, show it (and open
//! a browser when there is one), then poll at the interval the proxy asks for,
//! slowing down when told, until the sign-in is approved, refused or expired.
//!
//! What the proxy controls here, and its bound: every text it sends (codes,
//! links, error descriptions) reaches the terminal through [`screen::line`];
//! a redirect is never followed (the client is built without redirects, and a
//! 3xx is an error naming where it pointed); answers are read up to 64 KiB; the
//! wait ends at the code's expiry, at most an hour, however the proxy answers.

use super::origin::ProxyOrigin;
use super::screen;
use serde::Deserialize;
use std::time::{Duration, Instant};

/// The longest answer read from a proxy (a device authorization answer is a few hundred bytes).
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// The longest wait for a sign-in, whatever `expires_in` a proxy claims.
const MAX_WAIT_SECONDS: u64 = 3600;
/// The longest interval between polls, whatever a proxy asks for.
const MAX_INTERVAL_SECONDS: u64 = 60;

/// What `POST /auth/device/code` answers.
#[derive(Debug, Deserialize)]
pub struct DeviceCode {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    #[serde(default)]
    pub verification_uri_complete: Option<String>,
    pub expires_in: u64,
    #[serde(default = "default_interval")]
    pub interval: u64,
}

fn default_interval() -> u64 {
    5
}

/// A successful poll.
#[derive(Debug, Deserialize)]
pub struct Granted {
    /// Absent when the sign-in renewed the token the terminal already has.
    #[serde(default)]
    pub access_token: Option<String>,
    pub expires_in: i64,
    #[serde(default)]
    pub renewed: bool,
}

#[derive(Debug, Deserialize)]
struct OauthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Why a sign-in did not end with a token.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("the proxy at {0} could not be reached: {1}")]
    Unreachable(String, String),
    #[error("the sign-in was refused{}", .0.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Denied(Option<String>),
    #[error("the code expired before the sign-in was finished: run the command again")]
    Expired,
    /// The token to renew is unknown at the proxy (revoked, or another proxy's).
    #[error("{0}")]
    NotRenewable(String),
    #[error("the proxy answered {status}: {detail}")]
    Proxy { status: u16, detail: String },
    #[error(
        "the proxy answered {status} with a redirect to {location}: the client follows no redirect (the token or \
         code would go with it). Give --proxy the proxy's own URL"
    )]
    Redirected { status: u16, location: String },
}

/// A redirect, as an error naming where it pointed (shown safely).
pub fn redirected(response: &reqwest::Response) -> Option<FlowError> {
    let status = response.status();
    status.is_redirection().then(|| {
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .map(|v| screen::line(&String::from_utf8_lossy(v.as_bytes()), 200))
            .unwrap_or_else(|| "nowhere".into());
        FlowError::Redirected { status: status.as_u16(), location }
    })
}

/// The answer's status and body, read up to [`MAX_ANSWER_BYTES`]; a redirect is an error.
pub async fn read(response: reqwest::Response) -> Result<(reqwest::StatusCode, String), FlowError> {
    if let Some(e) = redirected(&response) {
        return Err(e);
    }
    let status = response.status();
    let mut response = response;
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(FlowError::Proxy {
                        status: status.as_u16(),
                        detail: format!("an answer larger than {} KiB", MAX_ANSWER_BYTES / 1024),
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return Err(FlowError::Proxy { status: status.as_u16(), detail: crate::logging::chain(&e) }),
        }
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

pub struct Flow<'a> {
    pub http: &'a reqwest::Client,
    pub proxy: &'a ProxyOrigin,
}

impl Flow<'_> {
    /// Asks for a code; with `renew`, for the renewal of that token.
    pub async fn request(&self, renew: Option<&str>) -> Result<DeviceCode, FlowError> {
        let url = self.proxy.endpoint("/auth/device/code");
        let mut request = self.http.post(&url).form(&[("client_id", "llm-sso-proxy-cli")]);
        if let Some(token) = renew {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let (status, body) = read(response).await?;
        if status.is_success() {
            let code: DeviceCode = serde_json::from_str(&body).map_err(|e| FlowError::Proxy {
                status: status.as_u16(),
                detail: format!(
                    "not a device authorization answer ({}); is {} an llm-sso-proxy?",
                    screen::line(&e.to_string(), 200),
                    self.proxy.base()
                ),
            })?;
            if code.device_code.is_empty() || code.device_code.len() > 512 {
                return Err(FlowError::Proxy {
                    status: status.as_u16(),
                    detail: "a device_code that is empty or longer than 512 bytes".into(),
                });
            }
            return Ok(code.bounded());
        }
        match serde_json::from_str::<OauthError>(&body) {
            Ok(e) if e.error == "invalid_grant" && renew.is_some() => {
                Err(FlowError::NotRenewable(screen::line(&e.error_description.unwrap_or(e.error), 300)))
            }
            Ok(e) => Err(FlowError::Proxy { status: status.as_u16(), detail: describe(&e) }),
            Err(_) if status == reqwest::StatusCode::NOT_FOUND => Err(FlowError::Proxy {
                status: 404,
                detail: format!("{url} does not exist: is SSO enabled on this proxy, and is it an llm-sso-proxy?"),
            }),
            Err(_) => Err(FlowError::Proxy { status: status.as_u16(), detail: first_line(&body) }),
        }
    }

    /// Polls until the sign-in ends or the code expires.
    pub async fn wait(&self, code: &DeviceCode) -> Result<Granted, FlowError> {
        let url = self.proxy.endpoint("/auth/device/token");
        let deadline = Instant::now() + Duration::from_secs(code.expires_in);
        let mut interval = Duration::from_secs(code.interval);
        let mut warned = false;
        loop {
            tokio::time::sleep(interval).await;
            if Instant::now() >= deadline {
                return Err(FlowError::Expired);
            }
            let form = [("grant_type", crate::sso::device::GRANT_TYPE), ("device_code", code.device_code.as_str())];
            let (status, body) = match self.http.post(&url).form(&form).send().await {
                Ok(r) => read(r).await?,
                // The network blinked or the proxy restarted: the request is in its database, keep polling.
                Err(e) => {
                    if !warned {
                        eprintln!("(the proxy did not answer: {}; still waiting)", crate::logging::chain(&e));
                        warned = true;
                    }
                    continue;
                }
            };
            if status.is_success() {
                return serde_json::from_str(&body).map_err(|e| FlowError::Proxy {
                    status: status.as_u16(),
                    detail: format!("not a token answer: {e}"),
                });
            }
            let Ok(e) = serde_json::from_str::<OauthError>(&body) else {
                if status.is_server_error() {
                    continue;
                }
                return Err(FlowError::Proxy { status: status.as_u16(), detail: first_line(&body) });
            };
            match e.error.as_str() {
                "authorization_pending" | "temporarily_unavailable" => {}
                "slow_down" => {
                    interval = (interval + Duration::from_secs(5)).min(Duration::from_secs(MAX_INTERVAL_SECONDS))
                }
                "access_denied" => {
                    return Err(FlowError::Denied(e.error_description.map(|d| screen::line(&d, 300))));
                }
                "expired_token" => return Err(FlowError::Expired),
                _ => return Err(FlowError::Proxy { status: status.as_u16(), detail: describe(&e) }),
            }
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> FlowError {
        FlowError::Unreachable(self.proxy.base().to_string(), crate::logging::chain(e))
    }
}

impl DeviceCode {
    /// The answer with every text made safe to show and every number bounded.
    fn bounded(self) -> DeviceCode {
        DeviceCode {
            device_code: self.device_code,
            user_code: screen::line(&self.user_code, 32),
            verification_uri: screen::line(&self.verification_uri, 300),
            verification_uri_complete: self.verification_uri_complete.map(|u| screen::line(&u, 400)),
            expires_in: self.expires_in.min(MAX_WAIT_SECONDS),
            interval: self.interval.clamp(1, MAX_INTERVAL_SECONDS),
        }
    }
}

fn describe(e: &OauthError) -> String {
    let error = screen::line(&e.error, 60);
    match &e.error_description {
        Some(d) => format!("{} ({error})", screen::line(d, 300)),
        None => error,
    }
}

fn first_line(body: &str) -> String {
    screen::line(body.lines().next().unwrap_or_default(), 200)
}

/// Opens `url` in a browser when this session has one (a desktop, or `$BROWSER`);
/// over SSH and in containers there is none and nothing is started. `url` must come
/// from [`ProxyOrigin::browser_link`]: a URL of the proxy's own origin, never an option.
pub fn open_browser(url: &str, env: &dyn Fn(&str) -> Option<String>) -> bool {
    let program = if let Some(browser) = env("BROWSER").filter(|b| !b.trim().is_empty()) {
        browser
    } else if cfg!(target_os = "macos") {
        "open".to_string()
    } else if cfg!(windows) {
        "explorer".to_string()
    } else if env("DISPLAY").is_some() || env("WAYLAND_DISPLAY").is_some() {
        "xdg-open".to_string()
    } else {
        return false;
    };
    std::process::Command::new(program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}
