//! What a terminal remembers about its sign-ins: one JSON file, created `0600`
//! in a `0700` directory under the user's config directory
//! (`$XDG_CONFIG_HOME/llm-sso-proxy/credentials.json`, else
//! `~/.config/llm-sso-proxy/credentials.json`; `LLM_SSO_CREDENTIALS` or
//! `--credentials` name another file). One entry per proxy URL (its expiry, and
//! the token itself unless the user's credential store holds it: see
//! [`super::vault`]), and the proxy of the last login as the default. Writes go
//! to a private temporary file renamed over the old one, so a crash never
//! leaves half a file.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What is kept for one proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The token, when it is kept in this file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The token is in the user's credential store instead.
    #[serde(default)]
    pub in_keyring: bool,
    /// Unix seconds; the proxy decides, this only spares a request that would be refused.
    pub expires_at: i64,
    pub obtained_at: i64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The proxy of the last login, used when no `--proxy` is given.
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub proxies: BTreeMap<String, Entry>,
}

/// The file's default place.
pub fn default_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(path) = env("LLM_SSO_CREDENTIALS").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let config_dir = env("XDG_CONFIG_HOME")
        .filter(|p| Path::new(p).is_absolute())
        .map(PathBuf::from)
        .or_else(|| env("HOME").filter(|h| !h.is_empty()).map(|h| Path::new(&h).join(".config")))
        .or_else(|| env("APPDATA").map(PathBuf::from))?;
    Some(config_dir.join("llm-sso-proxy").join("credentials.json"))
}

impl Credentials {
    /// Reads the file; a missing file is no credentials. A file others can read is
    /// made private again, with a warning.
    pub fn load(path: &Path) -> Result<Credentials, String> {
        let dir = parent(path);
        if dir.exists() {
            check_private_dir(dir)?;
        }
        let mut file = match open_no_follow(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Credentials::default()),
            Err(e) => return Err(open_error(path, &e)),
        };
        restrict(&file, path)?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(&mut file, MAX_FILE_BYTES), &mut text)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| {
            format!("{} is not a credentials file ({e}); remove it and run `llm-sso-proxy login` again", path.display())
        })
    }

    /// Writes the whole file privately and atomically.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let fail = |what: &str, e: std::io::Error| format!("cannot {what} {}: {e}", path.display());
        let dir = parent(path);
        create_private_dir(dir).map_err(|e| fail("create the directory of", e))?;
        check_private_dir(dir)?;
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(symlink_error(path));
        }
        let text = serde_json::to_string_pretty(self).map_err(|e| format!("cannot encode credentials: {e}"))?;
        let temp = dir.join(format!(".credentials-{}.tmp", std::process::id()));
        let _ = std::fs::remove_file(&temp);
        let written = create_private_file(&temp).and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()
        });
        if let Err(e) = written.and_then(|()| std::fs::rename(&temp, path)) {
            let _ = std::fs::remove_file(&temp);
            return Err(fail("write", e));
        }
        Ok(())
    }
}

/// A credentials file is a few hundred bytes per proxy; a larger one is not read past this.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

fn parent(path: &Path) -> &Path {
    path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

fn symlink_error(path: &Path) -> String {
    format!(
        "{} is a symbolic link: refusing to read or write credentials through it (someone could point it at \
         another file). Remove the link and run `llm-sso-proxy login` again",
        path.display()
    )
}

fn open_error(path: &Path, e: &std::io::Error) -> String {
    #[cfg(unix)]
    if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
        return symlink_error(path);
    }
    format!("cannot read {}: {e}", path.display())
}

#[cfg(unix)]
fn open_no_follow(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let flags = rustix::fs::OFlags::NOFOLLOW.bits();
    std::fs::OpenOptions::new().read(true).custom_flags(flags as i32).open(path)
}

#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> std::io::Result<std::fs::File> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(std::io::Error::other("a symbolic link"));
    }
    std::fs::File::open(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// The directory must be the user's and writable only by them: whoever else can write to it can replace
/// the file (and the token an agent reads with it).
#[cfg(unix)]
fn check_private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(dir).map_err(|e| format!("cannot use the directory {}: {e}", dir.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!(
            "{} belongs to another user (uid {}): refusing to keep credentials there; choose a directory of \
             your own with --credentials",
            dir.display(),
            meta.uid()
        ));
    }
    if mode & 0o022 != 0 {
        return Err(format!(
            "{} can be written by other users (mode {mode:04o}): they could replace the credentials file. \
             Run `chmod 700 {}` (or choose another place with --credentials)",
            dir.display(),
            dir.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_dir(_dir: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).create_new(true).open(path)
}

/// A file others can read is made private again, on the open file itself (never through a path that
/// could have been swapped since).
#[cfg(unix)]
fn restrict(file: &std::fs::File, path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = file.metadata().map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        eprintln!("warning: {} was readable by others; making it private (0600)", path.display());
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("cannot make {} private: {e}", path.display()))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_file: &std::fs::File, _path: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("llm-sso-creds-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("nested").join("credentials.json")
    }

    #[test]
    fn saved_privately_and_read_back() {
        let path = temp("round-trip");
        let mut c = Credentials { default: Some("http://p".into()), ..Credentials::default() };
        let entry = Entry { token: Some("t".into()), in_keyring: false, expires_at: 2, obtained_at: 1 };
        c.proxies.insert("http://p".into(), entry);
        c.save(&path).unwrap();
        assert_eq!(Credentials::load(&path).unwrap(), c);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            Credentials::load(&path).unwrap();
            assert_eq!(mode(&path), 0o600, "a readable file is made private again");
        }
        let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }

    #[test]
    fn a_missing_file_is_empty_and_a_broken_one_is_an_error() {
        let path = temp("broken");
        assert_eq!(Credentials::load(&path).unwrap(), Credentials::default());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "not json").unwrap();
        let e = Credentials::load(&path).unwrap_err();
        assert!(e.contains("login"), "{e}");
        let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_others_can_write_and_a_symlink_in_the_files_place_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let path = temp("hostile");
        let dir = path.parent().unwrap();
        std::fs::create_dir_all(dir).unwrap();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = Credentials::load(&path).unwrap_err();
        assert!(e.contains("written by other users") && e.contains("chmod 700"), "{e}");
        assert!(Credentials::default().save(&path).is_err(), "nothing written there");
        assert!(!path.exists());

        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let target = dir.join("target");
        std::fs::write(&target, "{}").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let e = Credentials::load(&path).unwrap_err();
        assert!(e.contains("symbolic link"), "{e}");
        let e = Credentials::default().save(&path).unwrap_err();
        assert!(e.contains("symbolic link"), "{e}");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "the link's target is left alone");
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }

    #[test]
    fn the_default_place_follows_the_environment() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        let file = default_path(&env(&[("LLM_SSO_CREDENTIALS", "/x/c.json"), ("HOME", "/h")]));
        assert_eq!(file, Some(PathBuf::from("/x/c.json")));
        let xdg = default_path(&env(&[("XDG_CONFIG_HOME", "/cfg"), ("HOME", "/h")]));
        assert_eq!(xdg, Some(PathBuf::from("/cfg/llm-sso-proxy/credentials.json")));
        let home = default_path(&env(&[("XDG_CONFIG_HOME", "relative"), ("HOME", "/h")]));
        assert_eq!(home, Some(PathBuf::from("/h/.config/llm-sso-proxy/credentials.json")));
    }
}
