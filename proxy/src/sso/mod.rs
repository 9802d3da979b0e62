//! The browser half: provider selection, the OIDC code flow, then
//! authorization and token issuance ([`flow`]), on pages from [`pages`].

pub mod flow;
pub mod pages;
pub mod providers;
