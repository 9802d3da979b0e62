//! The HTML a person sees, from templates in `proxy/templates/` rendered by
//! minijinja with auto-escaping (names end in `.html`), and the security headers
//! every page carries. The templates are compiled in and parsed once; the
//! server checks them at startup ([`check`]), so a page cannot fail later for
//! want of its template.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, Value};

struct Pages {
    env: Environment<'static>,
}

/// The templates, parsed on first use.
static PAGES: std::sync::LazyLock<Result<Pages, String>> =
    std::sync::LazyLock::new(|| Pages::new().map_err(|e| e.to_string()));

/// Whether every template parses (the server refuses to start otherwise).
pub fn check() -> Result<(), String> {
    PAGES.as_ref().map(|_| ()).map_err(Clone::clone)
}

/// Renders `template` with `context` as an HTML response with `status`.
pub fn render(status: StatusCode, template: &str, context: Value) -> Response {
    match PAGES.as_ref() {
        Ok(pages) => pages.render(status, template, context),
        Err(e) => {
            tracing::error!("templates: {e}");
            secure((StatusCode::INTERNAL_SERVER_ERROR, "page rendering failed").into_response())
        }
    }
}

/// An error page: what happened, what to do, and optionally where to start again.
pub fn error(status: StatusCode, title: &str, message: &str, detail: Option<&str>, retry: bool) -> Response {
    let context = minijinja::context! {
        title, message, detail,
        retry_url => if retry { Some("/auth/login") } else { None },
    };
    render(status, "error.html", context)
}

/// Strict: no inline script, nothing from elsewhere, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; \
     img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub const COPY_JS: &str = include_str!("../../templates/copy.js");

impl Pages {
    fn new() -> Result<Pages, minijinja::Error> {
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("../../templates/base.html")),
            ("providers.html", include_str!("../../templates/providers.html")),
            ("confirm.html", include_str!("../../templates/confirm.html")),
            ("success.html", include_str!("../../templates/success.html")),
            ("renewed.html", include_str!("../../templates/renewed.html")),
            ("device.html", include_str!("../../templates/device.html")),
            ("device_confirm.html", include_str!("../../templates/device_confirm.html")),
            ("device_done.html", include_str!("../../templates/device_done.html")),
            ("error.html", include_str!("../../templates/error.html")),
        ] {
            env.add_template(name, source)?;
        }
        Ok(Pages { env })
    }

    fn render(&self, status: StatusCode, template: &str, context: Value) -> Response {
        match self.env.get_template(template).and_then(|t| t.render(context)) {
            Ok(html) => secure((status, Html(html)).into_response()),
            Err(e) => {
                tracing::error!("template {template}: {e}");
                secure((StatusCode::INTERNAL_SERVER_ERROR, "page rendering failed").into_response())
            }
        }
    }
}

/// `GET /auth/static/copy.js`: the copy button's script (no inline script under the CSP).
pub async fn copy_js() -> Response {
    secure(([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], COPY_JS).into_response())
}

/// Adds the headers every auth page carries.
pub fn secure(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reflected_values_are_escaped() {
        check().unwrap();
        let response = error(StatusCode::BAD_REQUEST, "<b>t</b>", "<script>alert(1)</script>", Some("\"x'"), true);
        assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("<b>t</b>"));
    }
}
