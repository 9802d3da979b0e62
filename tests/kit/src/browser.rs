//! A person's browser, minus the rendering: keeps cookies, follows redirects
//! itself (so every hop can be checked), submits forms, and reads pages as text.

use reqwest::StatusCode;

pub struct Browser {
    client: reqwest::Client,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
    /// Every URL loaded, in order (to prove a token never appears in one).
    pub visited: Vec<String>,
}

/// A loaded page.
pub struct Page {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub html: String,
}

impl Page {
    /// The page as a person reads it (HTML entities decoded).
    pub fn text(&self) -> String {
        self.html
            .replace("&#x2f;", "/")
            .replace("&#x27;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    }

    /// The value of `<input name="{name}" value="...">`.
    pub fn input(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        self.html.split(&marker).nth(1).and_then(|r| r.split('"').next()).unwrap_or_default().to_string()
    }

    /// The hidden fields of the form that posts to `action` (name, value), as a browser would send them:
    /// whatever the page carries (a CSRF token, an id), without the kit knowing their names.
    pub fn hidden_fields(&self, action: &str) -> Vec<(String, String)> {
        let marker = format!("action=\"{action}\"");
        let Some(form) = self.html.split(&marker).nth(1).and_then(|rest| rest.split("</form>").next()) else {
            return Vec::new();
        };
        let attribute = |tag: &str, name: &str| {
            let key = format!("{name}=\"");
            tag.split(&key)
                .nth(1)
                .and_then(|r| r.split('"').next())
                .map(|v| Page { status: self.status, headers: Default::default(), html: v.to_string() }.text())
        };
        form.split("<input")
            .skip(1)
            .filter(|tag| tag.contains("type=\"hidden\""))
            .filter_map(|tag| Some((attribute(tag, "name")?, attribute(tag, "value").unwrap_or_default())))
            .collect()
    }

    /// The form a person types into (the first with a visible text field): its action, the field's name, and
    /// its hidden fields. Nothing about the names is assumed.
    pub fn entry_form(&self) -> Option<EntryForm> {
        let attribute = |tag: &str, name: &str| {
            let key = format!(" {name}=\"");
            tag.split(&key).nth(1).and_then(|r| r.split('"').next()).map(str::to_string)
        };
        for form in self.html.split("<form").skip(1) {
            let form = form.split("</form>").next().unwrap_or_default();
            let head = form.split('>').next().unwrap_or_default();
            let Some(action) = attribute(head, "action") else { continue };
            let inputs: Vec<&str> =
                form.split("<input").skip(1).map(|tag| tag.split('>').next().unwrap_or_default()).collect();
            let visible = inputs.iter().find(|tag| {
                let kind = attribute(tag, "type").unwrap_or_else(|| "text".into());
                matches!(kind.as_str(), "text" | "number" | "tel" | "password" | "search")
            });
            if let Some(field) = visible.and_then(|tag| attribute(tag, "name")) {
                let hidden = Page { status: self.status, headers: Default::default(), html: self.html.clone() };
                return Some(EntryForm { fields: hidden.hidden_fields(&action), action, field });
            }
        }
        None
    }

    /// The target of the first link whose path ends in `/{last}` (a provider on a provider list).
    pub fn link_ending(&self, last: &str) -> Option<String> {
        self.html
            .split("href=\"")
            .skip(1)
            .filter_map(|r| r.split('"').next())
            .map(|href| Page { status: self.status, headers: Default::default(), html: href.to_string() }.text())
            .find(|href| href.split(['?', '#']).next().is_some_and(|path| path.ends_with(&format!("/{last}"))))
    }

    /// The agent token on a success page, if there is one.
    pub fn token(&self) -> Option<String> {
        crate::profile::Profile::get().token_on(&self.html)
    }
}

/// A form to type into, as [`Page::entry_form`] found it.
#[derive(Debug, Clone)]
pub struct EntryForm {
    pub action: String,
    /// The name of the visible field.
    pub field: String,
    pub fields: Vec<(String, String)>,
}

/// The sign-in link in a sandbox reply's text: the first URL on `base`'s origin.
pub fn link_in(text: &str, base: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '(' | ')' | '"' | '\'' | '`' | '[' | ']'))
        .map(|w| w.trim_end_matches(['.', ',', ';', ':', '!']))
        .find(|w| w.starts_with(base))
        .map(str::to_string)
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Browser {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        Browser { client, jar, visited: Vec::new() }
    }

    async fn follow(&mut self, mut response: reqwest::Response) -> Page {
        for _ in 0..10 {
            let url = response.url().to_string();
            self.visited.push(url.clone());
            if !response.status().is_redirection() {
                let (status, headers) = (response.status(), response.headers().clone());
                return Page { status, headers, html: response.text().await.unwrap_or_default() };
            }
            let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
            let next = url::Url::parse(&url).and_then(|u| u.join(location)).expect("a usable redirect");
            response = self.client.get(next).send().await.expect("redirect target answers");
        }
        panic!("redirect loop: {:?}", self.visited);
    }

    /// The underlying client: clones share this browser's cookies (for parallel requests).
    pub fn client(&self) -> reqwest::Client {
        self.client.clone()
    }

    /// The `Cookie` header this browser would send to `url` (for raw requests).
    pub fn cookie_header(&self, url: &str) -> String {
        use reqwest::cookie::CookieStore;
        let Ok(url) = reqwest::Url::parse(url) else { return String::new() };
        self.jar.cookies(&url).and_then(|v| v.to_str().ok().map(str::to_string)).unwrap_or_default()
    }

    pub async fn open(&mut self, url: &str) -> Page {
        let response = self.client.get(url).send().await.expect("page answers");
        self.follow(response).await
    }

    /// Submits the form of `page` that posts to `action` (a path on `base`): its hidden fields, plus `fields`.
    pub async fn submit(&mut self, page: &Page, base: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let hidden = page.hidden_fields(action);
        let mut form: Vec<(&str, &str)> = hidden.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        form.extend_from_slice(fields);
        self.post(&format!("{base}{action}"), &form).await
    }

    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        let response = self.client.post(url).form(form).send().await.expect("form answers");
        self.follow(response).await
    }
}

/// The confirmation code the proxy printed for `email` (the last one), as a person reads the console
/// (the profile's pattern).
pub fn code_in(console: &str, email: &str) -> Option<String> {
    crate::profile::Profile::get().code_in(console, email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_to_type_into_is_found_without_knowing_its_names() {
        let html = "<h1>x</h1>\n<form method=\"post\" action=\"/auth/confirm\">\n  <input type=\"hidden\" name=\"csrf_token\" \
                    value=\"abc\">\n  <label for=\"code\">Code</label><br>\n  <input class=\"code\" id=\"code\" name=\"code\" \
                    inputmode=\"numeric\" required>\n  <button type=\"submit\">Go</button>\n</form>";
        let page = Page { status: StatusCode::OK, headers: Default::default(), html: html.into() };
        let form = page.entry_form().expect("a form");
        assert_eq!((form.action.as_str(), form.field.as_str()), ("/auth/confirm", "code"));
        assert_eq!(form.fields, [("csrf_token".to_string(), "abc".to_string())]);
        let list = Page {
            status: StatusCode::OK,
            headers: Default::default(),
            html: "<a href=\"/auth/login/google?x=1\">G</a>".into(),
        };
        assert_eq!(list.link_ending("google").as_deref(), Some("/auth/login/google?x=1"));
        assert_eq!(link_in("Sign in: http://h:1/auth/login.", "http://h:1").as_deref(), Some("http://h:1/auth/login"));
    }
}
