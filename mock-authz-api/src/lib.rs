//! Mock enterprise authorization API (SPEC §10).
//!
//! Not built yet: issue 3 fills this crate. It exists now so the workspace layout
//! is final from the first commit and later issues only add code.
