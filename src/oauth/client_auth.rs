//! Client authentication at the token endpoint (RFC 6749 §2.3): `client_secret_basic`,
//! `client_secret_post`, and `none` for public clients. One method per request.
use super::authorize::Params;
use super::error::OAuthError;
use crate::crypto::{Secret, constant_time_eq, hash_secret};
use crate::domain::Client;
use crate::store::Store;
use base64::Engine;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Basic,
    Post,
    None,
}

/// What the request claims about its client.
#[derive(Debug)]
pub struct ClientCredentials {
    pub client_id: String,
    pub secret: Option<Secret>,
    pub method: Method,
}

/// Reads credentials from the `Authorization` header or the body. RFC 6749 §2.3: more than one
/// method in a request is an error; §2.3.1: Basic values are form-urlencoded before base64.
pub fn parse_credentials(
    authorization: Option<&str>,
    params: &Params,
) -> Result<ClientCredentials, OAuthError> {
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    if let Some(header) = authorization {
        let (scheme, value) = header.split_once(' ').unwrap_or((header, ""));
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(
                OAuthError::invalid_client().with_detail("unsupported authorization scheme")
            );
        }
        if body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use only one client authentication method",
            ));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                OAuthError::invalid_client().with_detail("malformed basic credentials")
            })?;
        let (id, secret) = decoded.split_once(':').ok_or_else(|| {
            OAuthError::invalid_client().with_detail("malformed basic credentials")
        })?;
        let id = form_decode(id);
        // RFC 6749 §5.2: a failed Basic authentication is invalid_client (401).
        if super::authorize::has_control(&id) {
            return Err(OAuthError::invalid_client().with_detail("control character in client_id"));
        }
        if body_id.is_some_and(|b| b != id) {
            return Err(OAuthError::invalid_client()
                .with_detail("client_id in body differs from basic credentials"));
        }
        return Ok(ClientCredentials {
            client_id: id,
            secret: Some(Secret::new(form_decode(secret))),
            method: Method::Basic,
        });
    }
    let id =
        body_id.ok_or_else(|| OAuthError::invalid_client().with_detail("no client credentials"))?;
    Ok(match body_secret {
        Some(s) => ClientCredentials {
            client_id: id.to_owned(),
            secret: Some(Secret::new(s)),
            method: Method::Post,
        },
        None => ClientCredentials {
            client_id: id.to_owned(),
            secret: None,
            method: Method::None,
        },
    })
}

fn form_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Confidential clients must present their secret (compared in constant time against the
/// stored SHA-256); public clients must present none.
pub async fn authenticate(store: &Store, creds: &ClientCredentials) -> Result<Client, OAuthError> {
    let client = store
        .find_client(&creds.client_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_client().with_detail("unknown client"))?;
    match (&client.secret_hash, &creds.secret) {
        (Some(stored), Some(given)) => {
            let computed = hash_secret(given.expose());
            if constant_time_eq(stored.as_bytes(), computed.as_bytes()) {
                Ok(client)
            } else {
                Err(OAuthError::invalid_client().with_detail("wrong client secret"))
            }
        }
        (None, None) => Ok(client),
        (Some(_), None) => {
            Err(OAuthError::invalid_client().with_detail("confidential client sent no secret"))
        }
        (None, Some(_)) => {
            Err(OAuthError::invalid_client().with_detail("public client sent a secret"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn basic(id: &str, secret: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        )
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let c = parse_credentials(Some(&basic("my%20app", "s%3Acret")), &params(&[])).unwrap();
        assert_eq!(c.client_id, "my app");
        assert_eq!(c.secret.unwrap().expose(), "s:cret");
        assert_eq!(c.method, Method::Basic);
    }

    #[test]
    fn control_characters_in_basic_client_id_are_invalid_client() {
        let e = parse_credentials(Some(&basic("a%00b", "s")), &params(&[])).unwrap_err();
        assert_eq!(e.code, crate::oauth::ErrorCode::InvalidClient);
    }

    #[test]
    fn two_methods_are_refused() {
        let e = parse_credentials(Some(&basic("a", "b")), &params(&[("client_secret", "b")]))
            .unwrap_err();
        assert_eq!(e.code, super::super::ErrorCode::InvalidRequest);
    }

    #[test]
    fn body_methods() {
        assert_eq!(
            parse_credentials(None, &params(&[("client_id", "a"), ("client_secret", "b")]))
                .unwrap()
                .method,
            Method::Post
        );
        assert_eq!(
            parse_credentials(None, &params(&[("client_id", "a")]))
                .unwrap()
                .method,
            Method::None
        );
        assert!(parse_credentials(None, &params(&[])).is_err());
        assert!(parse_credentials(Some("Bearer x"), &params(&[])).is_err());
    }
}
