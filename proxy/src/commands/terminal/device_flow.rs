//! The terminal's half of RFC 8628: ask the proxy for a code, show it (and open
//! a browser when there is one), then poll at the interval the proxy asks for,
//! slowing down when told, until the sign-in is approved, refused or expired.

use serde::Deserialize;
use std::time::{Duration, Instant};

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
}

pub struct Flow<'a> {
    pub http: &'a reqwest::Client,
    /// The proxy's base URL, without a trailing `/`.
    pub proxy: &'a str,
}

impl Flow<'_> {
    /// Asks for a code; with `renew`, for the renewal of that token.
    pub async fn request(&self, renew: Option<&str>) -> Result<DeviceCode, FlowError> {
        let url = format!("{}/auth/device/code", self.proxy);
        let mut request = self.http.post(&url).form(&[("client_id", "llm-sso-proxy-cli")]);
        if let Some(token) = renew {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| self.unreachable(&e))?;
        if status.is_success() {
            return serde_json::from_str(&body).map_err(|e| FlowError::Proxy {
                status: status.as_u16(),
                detail: format!("not a device authorization answer ({e}); is {} an llm-sso-proxy?", self.proxy),
            });
        }
        match serde_json::from_str::<OauthError>(&body) {
            Ok(e) if e.error == "invalid_grant" && renew.is_some() => {
                Err(FlowError::NotRenewable(e.error_description.unwrap_or(e.error)))
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
        let url = format!("{}/auth/device/token", self.proxy);
        let deadline = Instant::now() + Duration::from_secs(code.expires_in);
        let mut interval = Duration::from_secs(code.interval.max(1));
        let mut warned = false;
        loop {
            tokio::time::sleep(interval).await;
            if Instant::now() >= deadline {
                return Err(FlowError::Expired);
            }
            let form = [("grant_type", super::GRANT_TYPE), ("device_code", code.device_code.as_str())];
            let answer = match self.http.post(&url).form(&form).send().await {
                Ok(r) => {
                    let status = r.status();
                    r.text().await.map(|body| (status, body))
                }
                Err(e) => Err(e),
            };
            let (status, body) = match answer {
                Ok(answer) => answer,
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
                "slow_down" => interval += Duration::from_secs(5),
                "access_denied" => return Err(FlowError::Denied(e.error_description)),
                "expired_token" => return Err(FlowError::Expired),
                _ => return Err(FlowError::Proxy { status: status.as_u16(), detail: describe(&e) }),
            }
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> FlowError {
        FlowError::Unreachable(self.proxy.to_string(), crate::logging::chain(e))
    }
}

fn describe(e: &OauthError) -> String {
    match &e.error_description {
        Some(d) => format!("{} ({})", d, e.error),
        None => e.error.clone(),
    }
}

fn first_line(body: &str) -> String {
    body.lines().next().unwrap_or_default().chars().filter(|c| !c.is_control()).take(200).collect()
}

/// Opens `url` in a browser when this session has one (a desktop, or `$BROWSER`);
/// over SSH and in containers there is none and nothing is started.
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
