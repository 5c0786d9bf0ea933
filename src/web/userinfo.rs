//! GET/POST /userinfo with a Bearer (OIDC Core §5.3, RFC 6750 §2) or DPoP (RFC 9449 §7) token.
use super::error::BearerError;
use super::extract::{access_token, params_from};
use super::state::AppState;
use super::token::with_dpop_nonce;
use crate::oauth::OAuthError;
use crate::oauth::endpoints::USERINFO;
use crate::oauth::userinfo::{self, NO_TOKEN, Scheme};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

async fn respond(
    state: &AppState,
    headers: &HeaderMap,
    method: &str,
    token: Option<(Scheme, &str)>,
) -> Result<Response, BearerError> {
    let (scheme, token) = token.ok_or_else(|| OAuthError::invalid_token(NO_TOKEN))?;
    let fail = |error| BearerError { error, scheme };
    // The token first: a forged or dead one costs no proof check, whose replay record is a
    // write.
    let claims = userinfo::verify_access_token(
        &state.store,
        &state.keys,
        state.issuer(),
        state.now(),
        token,
    )
    .await
    .map_err(fail)?;
    // RFC 9449 §7.1: the DPoP scheme always comes with a proof made for this token, by the
    // key it is bound to; an unbound token or another key is refused before the proof is
    // recorded.
    let jkt = match (scheme, &claims.cnf) {
        (Scheme::Bearer, _) => None,
        (Scheme::Dpop, None) => {
            return Err(fail(OAuthError::invalid_token(
                "a bearer token sent with the DPoP scheme",
            )));
        }
        (Scheme::Dpop, Some(cnf)) => Some(
            state
                .dpop_proof(headers, method, USERINFO, Some((token, &cnf.jkt)))
                .await
                .map_err(fail)?
                .ok_or_else(|| fail(OAuthError::invalid_dpop_proof("a DPoP proof is required")))?
                .jkt,
        ),
    };
    let out = userinfo::userinfo_of(&state.store, &claims, jkt.as_deref())
        .await
        .map_err(fail)?;
    Ok(Json(out).into_response())
}

pub async fn userinfo_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let out = respond(&state, &headers, "GET", access_token(&headers)).await;
    with_dpop_nonce(&state, out.into_response())
}

/// RFC 6750 §2.2 also allows the token in a form body; only one method per request (§2).
pub async fn userinfo_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let out = async {
        let params = params_from(&body);
        crate::oauth::authorize::check_well_formed(&params).map_err(BearerError::from)?;
        let from_body = params.get("access_token").map(|t| (Scheme::Bearer, t));
        let from_header = access_token(&headers);
        if from_body.is_some() && from_header.is_some() {
            return Err(OAuthError::invalid_request("use only one way to send the token").into());
        }
        respond(&state, &headers, "POST", from_header.or(from_body)).await
    }
    .await;
    with_dpop_nonce(&state, out.into_response())
}
