//! Integration tests of the mock identity provider over real sockets.
//! One test binary (modules below) so the suite links once.

mod authorize;
mod binary;
mod common;
mod control;
mod discovery;
mod faults;
mod relying_party;
mod token;
