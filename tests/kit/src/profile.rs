//! The implementation profile: everything the kit needs to know about the
//! implementation under test, in one file (`--profile FILE`,
//! `LLM_SSO_KIT_PROFILE`), so that nothing about our own proxy is assumed.
//!
//! How to start it (an argument list, no shell: a value is one argument, never
//! split or quoted; a list inside the list is dropped when one of its
//! placeholders has no value), how to know it is ready, how to turn the kit's
//! configuration into its own, how its console shows a confirmation code, how
//! it hashes tokens, how to stop it, how slow it may be, and which capabilities
//! it claims. `docs/kit.md` is the reader's guide; `profiles/llm-sso-proxy.yaml`
//! is the profile of the workspace's proxy and the default.

use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// The shipped profile of the workspace's `llm-sso-proxy` (used when none is named).
pub const OWN_PROFILE: &str = "tests/kit/profiles/llm-sso-proxy.yaml";

/// Every capability a profile may claim, with what it means. A scenario tagged `@cap-NAME` runs only when
/// the profile claims NAME; everything else is the guide's core.
pub const CAPABILITIES: &[(&str, &str)] = &[
    ("device", "terminal sign-in (RFC 8628 device authorization at /auth/device*, /auth/revoke)"),
    ("replicas", "several instances on one PostgreSQL database (sso.database_url)"),
    ("postgres", "the token store on PostgreSQL (sso.database_url)"),
    ("operator-cli", "the operator commands: --print-config, db check, db recover, tokens revoke, --version"),
    ("strict-wording", "the reference proxy's own wording where the guide has none"),
    ("pkce", "PKCE S256 on the authorization request (the mock IdP then requires it)"),
    ("trusted-proxies", "server.trusted_proxies and the X-Forwarded-For walk"),
    ("public-url", "server.public_url: the redirect URI behind a reverse proxy, whatever Host a client sends"),
    ("upstream-timeouts", "upstreams.timeout_seconds, the whole-request deadline"),
    ("graceful-stop", "SIGTERM stops the proxy with exit code 0"),
    ("sqlite-file", "the SQLite file's own troubles: locks, corruption, recovery"),
    (
        "policy",
        "sso.authorization.mode: policy, the rules of sso.authorization.policy and the ID token's groups and roles",
    ),
];

/// One word of the start command: a word, or a group dropped when one of its placeholders has no value.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Word {
    One(String),
    Group(Vec<String>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Start {
    /// The argument list. Placeholders: `{bin}`, `{config}` (absent when a scenario passes no file),
    /// `{port}`, `{db}`, `{dir}`. A scenario's own arguments come after.
    pub command: Vec<Word>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Ready {
    /// Ready when `GET` of this path answers (any status below 500).
    pub http: Option<String>,
    /// Ready when the console shows this text.
    pub console: Option<String>,
    /// Ready when the port accepts connections (the fallback when neither of the above is given).
    #[serde(default)]
    pub port: bool,
    #[serde(default = "thirty")]
    pub timeout_seconds: u64,
}

fn thirty() -> u64 {
    30
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConfigWriter {
    /// Turns the kit's configuration (`{kit_config}`, the reference proxy's YAML with the guide's keys) into
    /// the implementation's own (`{config}`). Absent: the kit's file is used as it is.
    pub command: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Console {
    /// A regular expression whose first group is a confirmation code (default: the guide's).
    #[serde(default = "guide_code")]
    pub confirmation_code: String,
    /// Whether the line with the code also names the user's email (then the code is looked up by email).
    #[serde(default)]
    pub code_line_names_email: bool,
    /// A file (relative to the proxy's directory) that is read as console output too.
    pub log_file: Option<String>,
}

fn guide_code() -> String {
    r"Confirmation Code: (\d{6})".into()
}

impl Default for Console {
    fn default() -> Self {
        Console { confirmation_code: guide_code(), code_line_names_email: false, log_file: None }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// The SQLite file the guide's SQL runs against (placeholders `{dir}`, `{db}`).
    #[serde(default = "sqlite_default")]
    pub sqlite: String,
}

fn sqlite_default() -> String {
    "{db}".into()
}

impl Default for Database {
    fn default() -> Self {
        Database { sqlite: sqlite_default() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tokens {
    /// How `token_hash` is computed: `sha256-hex`, or a command that reads the token on stdin and prints it.
    #[serde(default = "sha256")]
    pub hash: String,
    pub hash_command: Option<Vec<String>>,
    /// What a token looks like (a regular expression), to find it on the success page.
    #[serde(default = "token_pattern")]
    pub pattern: String,
    /// The prefix of tokens the kit writes into the database itself.
    #[serde(default)]
    pub prefix: String,
}

fn sha256() -> String {
    "sha256-hex".into()
}

fn token_pattern() -> String {
    r"[A-Za-z0-9_\-]{32,}".into()
}

impl Default for Tokens {
    fn default() -> Self {
        Tokens { hash: sha256(), hash_command: None, pattern: token_pattern(), prefix: String::new() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stop {
    /// `TERM` or `INT`.
    #[serde(default = "term")]
    pub signal: String,
    #[serde(default = "ten")]
    pub grace_seconds: u64,
    /// Signal the whole process group (a wrapper's children too), and kill the group when a scenario ends.
    #[serde(default = "yes")]
    pub process_group: bool,
}

fn term() -> String {
    "TERM".into()
}
fn ten() -> u64 {
    10
}
fn yes() -> bool {
    true
}

impl Default for Stop {
    fn default() -> Self {
        Stop { signal: term(), grace_seconds: ten(), process_group: true }
    }
}

/// A parsed profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub start: Start,
    #[serde(default)]
    pub ready: Ready,
    #[serde(default)]
    pub config: ConfigWriter,
    #[serde(default)]
    pub console: Console,
    #[serde(default)]
    pub database: Database,
    #[serde(default)]
    pub tokens: Tokens,
    #[serde(default)]
    pub stop: Stop,
    /// Every wait of the kit is multiplied by this (a slow implementation: 2, 3, ...).
    #[serde(default = "one")]
    pub time_scale: f64,
    /// Scenarios run at once.
    #[serde(default = "four")]
    pub concurrency: usize,
    #[serde(default)]
    pub capabilities: BTreeSet<String>,
    /// Where the profile file is: relative paths in commands resolve from there.
    #[serde(skip)]
    pub dir: PathBuf,
    #[serde(skip)]
    code: Option<Regex>,
    #[serde(skip)]
    token: Option<Regex>,
}

fn one() -> f64 {
    1.0
}
fn four() -> usize {
    4
}

impl Profile {
    /// Parses and checks a profile; `dir` is where relative paths in it resolve from.
    pub fn parse(text: &str, dir: &Path) -> Result<Profile, String> {
        let mut profile: Profile = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        if profile.start.command.is_empty() {
            return Err("start.command is empty".into());
        }
        let known: BTreeSet<&str> = CAPABILITIES.iter().map(|(name, _)| *name).collect();
        if let Some(unknown) = profile.capabilities.iter().find(|c| !known.contains(c.as_str())) {
            return Err(format!(
                "unknown capability {unknown:?} (known: {})",
                known.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        if !(profile.time_scale > 0.0 && profile.time_scale <= 100.0) {
            return Err("time_scale must be above 0 and at most 100".into());
        }
        if !["TERM", "INT"].contains(&profile.stop.signal.as_str()) {
            return Err("stop.signal must be TERM or INT".into());
        }
        if profile.tokens.hash != "sha256-hex" && profile.tokens.hash != "command" {
            return Err("tokens.hash must be sha256-hex or command (with tokens.hash_command)".into());
        }
        if profile.tokens.hash == "command" && profile.tokens.hash_command.as_ref().is_none_or(Vec::is_empty) {
            return Err("tokens.hash: command needs tokens.hash_command".into());
        }
        let code =
            Regex::new(&profile.console.confirmation_code).map_err(|e| format!("console.confirmation_code: {e}"))?;
        if code.captures_len() < 2 {
            return Err("console.confirmation_code needs a group around the code".into());
        }
        profile.code = Some(code);
        profile.token = Some(Regex::new(&profile.tokens.pattern).map_err(|e| format!("tokens.pattern: {e}"))?);
        profile.concurrency = profile.concurrency.clamp(1, 16);
        profile.dir = dir.to_path_buf();
        Ok(profile)
    }

    /// Reads a profile file.
    pub fn load(path: &Path) -> Result<Profile, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let dir = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        // Absolute, because the implementation starts in a directory of its own.
        let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        Profile::parse(&text, &dir).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The profile of this run: `LLM_SSO_KIT_PROFILE`, or the shipped one of the workspace's proxy.
    pub fn get() -> &'static Profile {
        static PROFILE: OnceLock<Profile> = OnceLock::new();
        PROFILE.get_or_init(|| {
            let path = std::env::var_os("LLM_SSO_KIT_PROFILE")
                .map_or_else(|| crate::workspace_root().join(OWN_PROFILE), PathBuf::from);
            Profile::load(&path).unwrap_or_else(|e| panic!("the implementation profile: {e}"))
        })
    }

    pub fn claims(&self, capability: &str) -> bool {
        self.capabilities.contains(capability)
    }

    /// `seconds` of the kit's own waits, scaled.
    pub fn wait(&self, seconds: f64) -> Duration {
        Duration::from_secs_f64(seconds * self.time_scale)
    }

    /// The argument list with `values` filled in (`None`: absent); groups with an absent value are dropped.
    pub fn argv(&self, values: &[(&str, Option<String>)]) -> Vec<String> {
        let fill = |word: &str| -> Option<String> {
            let mut out = word.to_string();
            for (name, value) in values {
                let key = format!("{{{name}}}");
                if out.contains(&key) {
                    out = out.replace(&key, value.as_deref()?);
                }
            }
            Some(out)
        };
        let mut argv = Vec::new();
        for word in &self.start.command {
            match word {
                Word::One(w) => argv.push(fill(w).unwrap_or_default()),
                Word::Group(words) => {
                    if let Some(filled) = words.iter().map(|w| fill(w)).collect::<Option<Vec<String>>>() {
                        argv.extend(filled);
                    }
                }
            }
        }
        argv
    }

    /// The last confirmation code on `console` (on a line naming `email` when the profile says lines do).
    pub fn code_in(&self, console: &str, email: &str) -> Option<String> {
        let code = self.code.as_ref()?;
        console
            .lines()
            .rev()
            .filter(|l| !self.console.code_line_names_email || l.contains(email))
            .find_map(|l| code.captures(l).and_then(|c| c.get(1)).map(|m| m.as_str().to_string()))
    }

    /// Whether `text` shows a confirmation code at all.
    pub fn shows_a_code(&self, text: &str) -> bool {
        self.code.as_ref().is_some_and(|c| c.is_match(text))
    }

    /// A token on a success page: the value of a read-only field, or a `<code>`, that looks like a token.
    pub fn token_on(&self, html: &str) -> Option<String> {
        let token = self.token.as_ref()?;
        let full = |candidate: &str| token.find(candidate).filter(|m| m.len() == candidate.len()).is_some();
        let values = html.split("value=\"").skip(1).filter_map(|r| r.split('"').next());
        let codes = html.split("<code>").skip(1).filter_map(|r| r.split("</code>").next());
        values.chain(codes).map(str::trim).find(|c| full(c)).map(str::to_string)
    }

    /// A new token for the kit to write into the database: the contract's format when the prefix is the
    /// contract's, else the prefix and 43 random characters of `0-9A-Za-z`.
    pub fn new_token(&self) -> String {
        if self.tokens.prefix == crate::contract::PREFIX {
            return crate::contract::generate_token();
        }
        use rand::Rng;
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut rng = rand::rngs::OsRng;
        let body: String = (0..43).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
        format!("{}{body}", self.tokens.prefix)
    }

    /// The `token_hash` the implementation stores for `token`.
    pub fn token_hash(&self, token: &str) -> Result<String, String> {
        let Some(command) = self.tokens.hash_command.as_ref().filter(|_| self.tokens.hash == "command") else {
            return Ok(crate::contract::token_hash(token));
        };
        use std::io::Write;
        let mut child = std::process::Command::new(&command[0])
            .args(&command[1..])
            .current_dir(&self.dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("tokens.hash_command: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(token.as_bytes()).map_err(|e| format!("tokens.hash_command: {e}"))?;
        }
        let out = child.wait_with_output().map_err(|e| format!("tokens.hash_command: {e}"))?;
        if !out.status.success() {
            return Err(format!("tokens.hash_command exited with {}", out.status));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(extra: &str) -> Result<Profile, String> {
        Profile::parse(
            &format!(
                "name: x\nstart:\n  command: [\"p\", [\"--config\", \"{{config}}\"], \"--port\", \"{{port}}\"]\n{extra}"
            ),
            Path::new("."),
        )
    }

    #[test]
    fn an_absent_value_drops_its_group_and_a_value_stays_one_argument() {
        let p = profile("").unwrap();
        let argv = p.argv(&[("config", None), ("port", Some("8080".into()))]);
        assert_eq!(argv, ["p", "--port", "8080"]);
        let argv = p.argv(&[("config", Some("/tmp/a b/c'd.yaml".into())), ("port", Some("1".into()))]);
        assert_eq!(argv, ["p", "--config", "/tmp/a b/c'd.yaml", "--port", "1"]);
    }

    #[test]
    fn the_guides_code_line_is_the_default_and_bad_profiles_are_named() {
        let p = profile("").unwrap();
        assert_eq!(p.code_in("x\nConfirmation Code: 123456\n", "a@b").as_deref(), Some("123456"));
        assert!(profile("capabilities: [teleport]\n").unwrap_err().contains("unknown capability"));
        assert!(profile("console: { confirmation_code: 'Code \\d+' }\n").unwrap_err().contains("group"));
        assert!(profile("time_scale: 0\n").is_err());
        assert!(profile("colour: blue\n").is_err(), "unknown keys are refused");
    }

    #[test]
    fn a_token_is_found_by_its_pattern() {
        let p = profile("tokens: { pattern: 'tok_[a-z]{8}' }\n").unwrap();
        assert_eq!(p.token_on("<input value=\"tok_abcdefgh\" readonly>").as_deref(), Some("tok_abcdefgh"));
        assert_eq!(p.token_on("<p><code> tok_zyxwvuts </code></p>").as_deref(), Some("tok_zyxwvuts"));
        assert_eq!(p.token_on("<input value=\"tok_abc\">"), None);
    }
}
