//! Step definitions, grouped by domain: the config file and command line, the
//! agent's requests, the browser-facing pages, the console, the database.

mod agent;
mod authz;
mod browser;
mod config;
mod console;
mod database;
mod device;
mod formats;
mod hostile;
mod idp;
mod policy;
mod replicas;
