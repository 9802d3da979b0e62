//! HTML the provider shows a person: the sign-in page and error pages.
//!
//! Rendered by minijinja with auto-escaping (template names end in `.html`), so
//! a redirect URI or email typed by anyone cannot inject markup.

use crate::config::{IssuerKind, User};
use crate::issuers::ErrorPage;
use minijinja::{Environment, Value, context};
use serde::Serialize;

pub struct Pages {
    env: Environment<'static>,
}

#[derive(Serialize)]
struct UserView {
    email: String,
    name: String,
}

fn provider_name(kind: IssuerKind) -> &'static str {
    match kind {
        IssuerKind::Google => "Google",
        IssuerKind::Microsoft => "Microsoft",
        IssuerKind::Generic => "OIDC",
    }
}

impl Pages {
    pub fn new() -> Result<Pages, minijinja::Error> {
        let mut env = Environment::new();
        env.add_template("login.html", include_str!("../templates/login.html"))?;
        env.add_template("error.html", include_str!("../templates/error.html"))?;
        Ok(Pages { env })
    }

    pub fn login(
        &self,
        kind: IssuerKind,
        issuer: &str,
        action: &str,
        request_id: &str,
        client_id: &str,
        users: &[User],
    ) -> Result<String, minijinja::Error> {
        let users: Vec<UserView> =
            users.iter().map(|u| UserView { email: u.email.clone(), name: u.display_name() }).collect();
        self.env.get_template("login.html")?.render(context! {
            provider => provider_name(kind), issuer, action, request_id, client_id,
            users => Value::from(minijinja::value::Serde(users)),
        })
    }

    pub fn error(&self, kind: IssuerKind, page: &ErrorPage) -> Result<String, minijinja::Error> {
        self.env.get_template("error.html")?.render(context! {
            provider => provider_name(kind), title => page.title.as_str(), detail => page.detail.as_str(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_escaped() {
        let pages = Pages::new().unwrap();
        let page =
            ErrorPage { status: 400, title: "t".into(), detail: "redirect_uri=<script>alert(1)</script>".into() };
        let html = pages.error(IssuerKind::Google, &page).unwrap();
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("<script>"));
        let user = User::new("\"><b>x@y.z");
        let html = pages.login(IssuerKind::Generic, "i", "/a", "r", "c<", &[user]).unwrap();
        assert!(!html.contains("<b>"));
        assert!(html.contains("c&lt;"));
    }
}
