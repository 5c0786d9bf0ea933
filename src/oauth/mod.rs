//! The protocol engine: validation, codes, tokens, claims and metadata. No HTTP or SQL types
//! in its signatures. Imports `domain`, `store`, `keys`, `accounts` and layer 0.
pub mod authorize;
pub mod backchannel;
pub mod claims;
pub mod claims_request;
pub mod client_auth;
pub mod client_keys;
pub mod discovery;
pub mod dpop;
pub mod endpoints;
pub mod error;
pub mod interaction;
pub mod jwt;
pub mod par;
pub mod pkce;
pub mod resource;
pub mod revocation;
pub mod token;
pub mod userinfo;

pub use error::{ErrorCode, OAuthError};
