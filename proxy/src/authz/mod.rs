//! After SSO proves who the user is, authorization decides whether they may
//! have a token: a confirmation code printed in the server console
//! ([`single_user`]), the company's authorization API ([`enterprise`]), or the
//! organisation's rules in the configuration ([`policy`]).
//! [`backoff`] slows down whoever keeps failing.

pub mod backoff;
pub mod enterprise;
pub mod policy;
pub mod single_user;
