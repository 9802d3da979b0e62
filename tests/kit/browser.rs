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

    /// The agent token on a success page, if there is one.
    pub fn token(&self) -> Option<String> {
        let token = self.html.split("id=\"token\" readonly value=\"").nth(1).and_then(|r| r.split('"').next())?;
        token.starts_with("llmsso_").then(|| token.to_string())
    }
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

/// The confirmation code the proxy printed for `email` (the last one), as a person reads the console.
pub fn code_in(console: &str, email: &str) -> Option<String> {
    console
        .lines()
        .rev()
        .filter(|l| l.contains(email))
        .find_map(|l| l.split("Confirmation Code: ").nth(1))
        .map(|rest| rest.chars().take(6).collect())
}
