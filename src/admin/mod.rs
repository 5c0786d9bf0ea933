//! What an administrator may do, whichever door they come through: the admin API, the
//! console, the command line (and later `apply -f` and dynamic registration). Each operation
//! checks its input with the `domain` rules, changes the store, and records one audit event
//! naming the actor. Imports `store`, `keys`, `accounts`, `domain` and layer 0.
pub mod access;
pub mod apply;
pub mod clients;
pub mod registration;
pub mod users;

use crate::domain::InvalidMetadata;

/// Who acts, for the audit log: `user:<id>`, `client:<id>` or `cli`, and from where.
#[derive(Clone, Copy, Debug)]
pub struct Actor<'a> {
    pub id: &'a str,
    pub address: Option<&'a str>,
}

impl Actor<'_> {
    pub const CLI: Actor<'static> = Actor {
        id: "cli",
        address: None,
    };
}

/// Why an admin operation did nothing.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Invalid(#[from] InvalidMetadata),
    /// A user setting that cannot be stored.
    #[error("{field}: {message}")]
    InvalidField {
        field: &'static str,
        message: String,
    },
    #[error("not found")]
    NotFound,
    /// The target already exists, or the change would break an invariant (the last admin).
    #[error("{0}")]
    Conflict(String),
    /// Changed by someone else since the caller read it.
    #[error("changed since it was read")]
    Stale,
    #[error("storage: {0}")]
    Store(crate::store::Error),
}

impl From<crate::accounts::AccountError> for AdminError {
    fn from(e: crate::accounts::AccountError) -> Self {
        use crate::accounts::AccountError as A;
        match e {
            A::NotFound => Self::NotFound,
            A::UsernameTaken => Self::Conflict("that username is taken".into()),
            A::Invalid(message) => Self::InvalidField {
                field: "profile",
                message,
            },
            A::Policy(why) => Self::InvalidField {
                field: "password",
                message: why.to_string(),
            },
            A::Store(e) => e.into(),
            e => Self::Store(crate::store::Error::Corrupt(e.to_string())),
        }
    }
}

impl From<crate::store::Error> for AdminError {
    fn from(e: crate::store::Error) -> Self {
        match e {
            crate::store::Error::NotFound => Self::NotFound,
            crate::store::Error::Conflict(crate::store::CHANGED) => Self::Stale,
            crate::store::Error::Conflict(what) => Self::Conflict(what.to_owned()),
            e => Self::Store(e),
        }
    }
}
