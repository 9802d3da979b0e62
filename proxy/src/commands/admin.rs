//! Operator subcommands, replacing the guide's raw SQL: `tokens list|revoke|hash`,
//! `ratelimit list|clear`, `db check|backup|recover`. They work on the database
//! named by the configuration, also while the proxy runs (SQLite's WAL and busy
//! timeout make that safe), except `db recover`, which wants the proxy stopped.

use crate::config::Config;
use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;
use crate::store::{AsyncStore, Store, StoreError, sqlite_file};
use crate::tokens;
use clap::Subcommand;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Agent tokens (never shows a token itself).
    Tokens {
        #[command(subcommand)]
        action: TokensAction,
    },
    /// The per-IP backoff records (`rate_limits`).
    Ratelimit {
        #[command(subcommand)]
        action: RatelimitAction,
    },
    /// The database file itself.
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokensAction {
    /// User, provider, created, expires, state of every token.
    List,
    /// Revoke (soft delete) one token by id, or every token of a user.
    Revoke {
        /// The token's id (from `tokens list`).
        id: Option<i64>,
        /// Revoke all tokens of this email instead.
        #[arg(long, value_name = "EMAIL")]
        user: Option<String>,
    },
    /// Read a token on stdin, print its token_hash (for the guide's `WHERE token_hash = ?`).
    Hash,
}

#[derive(Debug, Subcommand)]
pub enum RatelimitAction {
    /// Identifiers in backoff, their failures and until when they are blocked.
    List,
    /// Clear one identifier's backoff (e.g. an IP), or all of them.
    Clear { identifier: Option<String> },
}

#[derive(Debug, Subcommand)]
pub enum DbAction {
    /// Integrity, WAL mode, schema version and file permissions.
    Check,
    /// A consistent online copy (SQLite's backup API), safe while the proxy runs.
    Backup { path: PathBuf },
    /// Dump what is readable into a fresh database; the damaged file is kept aside. Stop the proxy first.
    Recover,
    /// Copy the SQLite database's tokens into PostgreSQL (idempotent): move to replicas without new sign-ins.
    Copy {
        /// The PostgreSQL URL, e.g. "$DATABASE_URL" (postgres://user:password@host/db?sslmode=require).
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

/// Opens the configured store: PostgreSQL when `sso.database_url` is set, else
/// the SQLite file, which must exist (a mistyped path is an error, never a new empty database).
async fn open(config: &Config) -> Result<AsyncStore, ExitCode> {
    if let Some(url) = &config.sso.database_url {
        return match PgStore::open(url.expose(), 1).await {
            Ok(store) => Ok(AsyncStore::postgres(store)),
            Err(e) => {
                eprintln!("llm-sso-proxy: {e}");
                Err(ExitCode::from(1))
            }
        };
    }
    let db = &config.sso.database_path;
    if !db.is_file() {
        eprintln!(
            "llm-sso-proxy: no database at {}: check sso.database_path (or SSO_DATABASE_PATH) and the working \
             directory; nothing was created",
            db.display()
        );
        return Err(ExitCode::from(1));
    }
    match SqliteStore::open(db) {
        Ok(store) => Ok(AsyncStore::sqlite(store)),
        Err(e) => {
            eprintln!("llm-sso-proxy: cannot open the database {e}");
            Err(ExitCode::from(1))
        }
    }
}

fn report(e: &StoreError) -> ExitCode {
    eprintln!("llm-sso-proxy: {e}");
    ExitCode::from(1)
}

pub fn run(command: &Command, config: &Config) -> ExitCode {
    let db = &config.sso.database_path;
    let file_only = matches!(command, Command::Db { action } if !matches!(action, DbAction::Copy { .. }));
    if file_only && config.sso.database_url.is_some() {
        eprintln!(
            "llm-sso-proxy: `db check|backup|recover` work on the SQLite file; with sso.database_url use \
             `llm-sso-proxy doctor` and PostgreSQL's own tools (pg_dump, pg_restore)"
        );
        return ExitCode::from(2);
    }
    match command {
        Command::Tokens { action: TokensAction::Hash } => hash_stdin(),
        Command::Tokens { action } => with_store(config, |store| tokens_cmd(action, store)),
        Command::Ratelimit { action } => with_store(config, |store| ratelimit_cmd(action, store)),
        Command::Db { action: DbAction::Check } => check(db),
        Command::Db { action: DbAction::Backup { path } } => backup(db, path),
        Command::Db { action: DbAction::Recover } => recover(db),
        Command::Db { action: DbAction::Copy { to } } => copy(db, to),
    }
}

/// A small runtime for one command.
fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
        eprintln!("llm-sso-proxy: cannot start the runtime: {e}");
        ExitCode::FAILURE
    })
}

/// Opens the store on a small runtime and runs one command against it.
fn with_store<F, Fut>(config: &Config, command: F) -> ExitCode
where
    F: FnOnce(AsyncStore) -> Fut,
    Fut: std::future::Future<Output = ExitCode>,
{
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(async {
        match open(config).await {
            Ok(store) => command(store).await,
            Err(code) => code,
        }
    })
}

fn hash_stdin() -> ExitCode {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().take(4096).read_to_string(&mut input) {
        eprintln!("llm-sso-proxy: cannot read stdin: {e}");
        return ExitCode::from(1);
    }
    // Only the line break that ends the input; other spaces are part of what the agent sends.
    let token = input.strip_suffix('\n').unwrap_or(&input);
    let token = token.strip_suffix('\r').unwrap_or(token);
    if let Err(problem) = tokens::check_format(token) {
        eprintln!("note: this is not a well-formed agent token: {}", problem.hint());
    }
    println!("{}", tokens::hash(token));
    ExitCode::SUCCESS
}

async fn tokens_cmd(action: &TokensAction, store: AsyncStore) -> ExitCode {
    match action {
        TokensAction::List => match store.list_tokens().await {
            Ok(rows) => {
                println!("{:>4}  {:<32} {:<10} {:<19}  {:<19}  state", "id", "user", "provider", "created", "expires");
                for t in rows {
                    let state = match (t.is_active, t.is_authenticated) {
                        (false, _) => "revoked",
                        (true, true) => "active",
                        (true, false) => "needs sign-in",
                    };
                    let expires = t.auth_expires_at.unwrap_or_else(|| "-".into());
                    println!(
                        "{:>4}  {:<32} {:<10} {:<19}  {:<19}  {state}",
                        t.id, t.user_email, t.provider, t.created_at, expires
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => report(&e),
        },
        TokensAction::Revoke { id: Some(id), user: None } => match store.revoke_token(*id).await {
            Ok(true) => {
                println!("revoked token {id}");
                ExitCode::SUCCESS
            }
            Ok(false) => {
                eprintln!("llm-sso-proxy: no active token with id {id}");
                ExitCode::from(1)
            }
            Err(e) => report(&e),
        },
        TokensAction::Revoke { id: None, user: Some(email) } => match store.revoke_user_tokens(email.clone()).await {
            Ok(n) => {
                println!("revoked {n} token{} of {email}", if n == 1 { "" } else { "s" });
                ExitCode::SUCCESS
            }
            Err(e) => report(&e),
        },
        TokensAction::Revoke { .. } => {
            eprintln!("llm-sso-proxy: give a token id, or --user EMAIL (not both)");
            ExitCode::from(2)
        }
        TokensAction::Hash => hash_stdin(),
    }
}

async fn ratelimit_cmd(action: &RatelimitAction, store: AsyncStore) -> ExitCode {
    match action {
        RatelimitAction::List => match store.list_rate_limits().await {
            Ok(rows) => {
                println!("{:<40} {:>8}  blocked_until", "identifier", "failures");
                for r in rows {
                    println!("{:<40} {:>8}  {}", r.identifier, r.failed_attempts, r.blocked_until.unwrap_or_default());
                }
                ExitCode::SUCCESS
            }
            Err(e) => report(&e),
        },
        RatelimitAction::Clear { identifier: Some(id) } => match store.clear_rate_limit(id.clone()).await {
            Ok(()) => {
                println!("cleared {id}");
                ExitCode::SUCCESS
            }
            Err(e) => report(&e),
        },
        RatelimitAction::Clear { identifier: None } => match store.clear_all_rate_limits().await {
            Ok(n) => {
                println!("cleared {n} record{}", if n == 1 { "" } else { "s" });
                ExitCode::SUCCESS
            }
            Err(e) => report(&e),
        },
    }
}

/// The doctor's database checks alone: file, mode, integrity, WAL, schema, lock.
fn check(db: &Path) -> ExitCode {
    let checks = super::database_checks::database_file(db);
    print!("{}", super::checks::render(&format!("database {}", db.display()), &checks));
    let failed = checks.iter().any(|c| c.verdict == super::checks::Verdict::Fail);
    if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

fn backup(db: &Path, to: &Path) -> ExitCode {
    match sqlite_file::backup(db, to) {
        Ok(()) => {
            println!("backed up {} to {}", db.display(), to.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("llm-sso-proxy: {e}");
            ExitCode::from(1)
        }
    }
}

/// The guide's dump-and-restore; the damaged file is kept next to the new one.
fn recover(db: &Path) -> ExitCode {
    let stamp = crate::clock::to_sqlite(crate::clock::Clock.now()).replace([' ', ':'], "-");
    let aside = db.with_extension(format!("db.corrupt-{stamp}"));
    match sqlite_file::recover(db, &aside) {
        Ok(tables) => {
            for t in tables {
                match t.rows {
                    Ok(n) => println!("{}: {n} rows recovered", t.table),
                    Err(e) => println!("{}: unreadable ({e}); users sign in again", t.table),
                }
            }
            println!("damaged file kept as {}; pending sign-ins were dropped", aside.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("llm-sso-proxy: {e}");
            ExitCode::from(1)
        }
    }
}

/// Copies every token row of the SQLite file into PostgreSQL, keeping ids' meaning
/// (hashes, owners, expiry) and skipping hashes already there: safe to run twice.
fn copy(db: &Path, to: &str) -> ExitCode {
    if !db.is_file() {
        eprintln!("llm-sso-proxy: no database at {}: check sso.database_path", db.display());
        return ExitCode::from(1);
    }
    let source = match SqliteStore::open(db) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("llm-sso-proxy: cannot open the database {e}");
            return ExitCode::from(1);
        }
    };
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let tokens = match source.list_tokens().await {
            Ok(t) => t,
            Err(e) => return report(&e),
        };
        let target = match PgStore::open(to, 2).await {
            Ok(t) => t,
            Err(e) => {
                // The driver's message, never the URL: it carries the password.
                eprintln!("llm-sso-proxy: {e}");
                return ExitCode::from(1);
            }
        };
        let (mut copied, mut present, mut failed) = (0usize, 0usize, 0usize);
        for token in &tokens {
            match target.import_token(token).await {
                Ok(true) => copied += 1,
                Ok(false) => present += 1,
                Err(e) => {
                    failed += 1;
                    eprintln!("token {} ({}): not copied: {e}", token.id, token.user_email);
                }
            }
        }
        println!(
            "{} token{} in {}: {copied} copied, {present} already there, {failed} not copied",
            tokens.len(),
            if tokens.len() == 1 { "" } else { "s" },
            db.display()
        );
        if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) }
    })
}
