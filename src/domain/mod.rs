//! Plain data and its invariants: no I/O. Imports only layer 0.
pub mod access;
pub mod auth;
pub mod client;
pub mod flow;
pub mod key;
pub mod posture;
pub mod profile;
pub mod scope;
pub mod user;

pub use access::{Access, Api, ApiScope, Group, HeldRole, Role};
pub use auth::{Acr, Amr, Authentication, Factor, PartialSignIn, SignIn};
pub use client::{
    Client, ClientChanges, GrantType, InvalidMetadata, RedirectUriError, check_client,
    redirect_uri_matches, validate_client_id, validate_client_secret, validate_redirect_uri,
};
pub use flow::{AcrRequest, Flow, ResponseMode};
pub use key::{Alg, AlgSet, KeyState};
pub use profile::{Address, Profile};
pub use scope::{ADMIN_SCOPE, ScopeSet};
pub use user::{User, validate_username};
