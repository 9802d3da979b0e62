//! `POST /auth/revoke` (RFC 7009): the holder of an agent token gives it up
//! (`llm-sso-proxy logout`). The token is its own proof; nothing else is asked.

use super::oauth::{oauth, oauth_error, unavailable};
use super::state::SsoState;
use crate::store::Store;
use crate::tokens;
use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

#[derive(Deserialize, Default)]
pub struct RevokeForm {
    #[serde(default)]
    token: String,
}

/// `POST /auth/revoke` (RFC 7009): the holder of a token gives it up (`llm-sso-proxy logout`).
/// Always 200, as the RFC asks; `revoked` says whether an active token was found.
pub async fn revoke(State(state): State<Arc<SsoState>>, form: Result<Form<RevokeForm>, FormRejection>) -> Response {
    let token = form.map(|Form(f)| f.token).unwrap_or_default();
    if token.is_empty() {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "token is missing.");
    }
    match state.store.revoke_token_hash(tokens::hash(&token)).await {
        Ok(revoked) => {
            if revoked {
                tracing::info!("an agent token was revoked by its holder");
            }
            oauth(StatusCode::OK, json!({ "revoked": revoked }))
        }
        Err(e) => unavailable(&e),
    }
}
