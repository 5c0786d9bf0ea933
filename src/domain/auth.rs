//! How a browser is signed in: one typed value, kept whole in the session, from which `amr`
//! and `acr` are derived.
use serde::{Deserialize, Serialize};

/// RFC 8176 authentication method reference values Gatehouse can vouch for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Amr {
    /// A password.
    Pwd,
    /// A one-time password: a TOTP code or a recovery code.
    Otp,
    /// Proof of possession of a hardware-bound key (a device-bound passkey).
    Hwk,
    /// Proof of possession of a software key (a synced passkey).
    Swk,
    /// A user-presence test.
    User,
    /// More than one kind of factor (RFC 8176 §2 "mfa").
    Mfa,
}

impl Amr {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pwd => "pwd",
            Self::Otp => "otp",
            Self::Hwk => "hwk",
            Self::Swk => "swk",
            Self::User => "user",
            Self::Mfa => "mfa",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Pwd,
            Self::Otp,
            Self::Hwk,
            Self::Swk,
            Self::User,
            Self::Mfa,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

/// Space-separated `amr` values, as codes and grants store them.
pub fn amr_to_wire(amr: &[Amr]) -> String {
    amr.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(" ")
}

/// Unknown words are dropped: they can only come from a newer version's rows.
pub fn amr_from_wire(s: &str) -> Vec<Amr> {
    s.split(' ').filter_map(Amr::parse).collect()
}

/// The authentication context classes Gatehouse offers (OIDC Core §2 `acr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Acr {
    /// One factor: a password, or a passkey without user verification.
    SingleFactor,
    /// Two kinds of factor: a password and a code or passkey, or a user-verified passkey.
    MultiFactor,
}

impl Acr {
    pub const SINGLE: &'static str = "urn:gatehouse:acr:sfa";
    pub const MULTI: &'static str = "urn:gatehouse:acr:mfa";

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SingleFactor => Self::SINGLE,
            Self::MultiFactor => Self::MULTI,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            Self::SINGLE => Some(Self::SingleFactor),
            Self::MULTI => Some(Self::MultiFactor),
            _ => None,
        }
    }

    pub fn of(amr: &[Amr]) -> Self {
        if amr.contains(&Amr::Mfa) {
            Self::MultiFactor
        } else {
            Self::SingleFactor
        }
    }
}

/// One proof a user gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    Password,
    Totp,
    RecoveryCode,
    /// `synced`: the credential may live on other devices (WebAuthn backup eligibility);
    /// `verified`: the authenticator checked the user (PIN or biometrics).
    Passkey {
        synced: bool,
        verified: bool,
    },
}

impl Factor {
    fn methods(self) -> &'static [Amr] {
        match self {
            Self::Password => &[Amr::Pwd],
            Self::Totp | Self::RecoveryCode => &[Amr::Otp],
            Self::Passkey { synced: false, .. } => &[Amr::Hwk, Amr::User],
            Self::Passkey { synced: true, .. } => &[Amr::Swk, Amr::User],
        }
    }

    /// Something known (or, for a verified passkey, the user's PIN or body) as opposed to
    /// something held.
    fn knowledge(self) -> bool {
        matches!(self, Self::Password | Self::Passkey { verified: true, .. })
    }

    fn possession(self) -> bool {
        !matches!(self, Self::Password)
    }
}

/// RFC 8176 values for a set of factors. `mfa` needs something known and something held: a
/// password with a code or passkey, or a passkey whose authenticator verified the user.
pub fn amr_of(factors: &[Factor]) -> Vec<Amr> {
    let mut out: Vec<Amr> = factors
        .iter()
        .flat_map(|f| f.methods().iter().copied())
        .collect();
    if factors.iter().any(|f| f.knowledge()) && factors.iter().any(|f| f.possession()) {
        out.push(Amr::Mfa);
    }
    out.sort();
    out.dedup();
    out
}

/// A browser's completed sign-in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authentication {
    pub user_id: String,
    /// When the user last authenticated (OIDC Core §2 `auth_time`); a step-up moves it.
    pub auth_time: i64,
    pub factors: Vec<Factor>,
    /// The flow whose sign-in form produced this authentication, if any (`prompt=login`
    /// is satisfied only by a sign-in made for that very request).
    pub login_flow: Option<String>,
}

impl Authentication {
    pub fn amr(&self) -> Vec<Amr> {
        amr_of(&self.factors)
    }

    pub fn acr(&self) -> Acr {
        Acr::of(&self.amr())
    }

    pub fn is_multi_factor(&self) -> bool {
        self.acr() == Acr::MultiFactor
    }
}

/// A sign-in that passed its first factor and waits for the second.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialSignIn {
    pub user_id: String,
    pub factors: Vec<Factor>,
    pub started_at: i64,
    pub login_flow: Option<String>,
}

/// What the session says about who is there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SignIn {
    Partial(PartialSignIn),
    Complete(Authentication),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amr_rules() {
        assert_eq!(amr_of(&[Factor::Password]), [Amr::Pwd]);
        assert_eq!(
            amr_of(&[Factor::Password, Factor::Totp]),
            [Amr::Pwd, Amr::Otp, Amr::Mfa]
        );
        assert_eq!(
            amr_of(&[Factor::Password, Factor::RecoveryCode]),
            [Amr::Pwd, Amr::Otp, Amr::Mfa]
        );
        let key = Factor::Passkey {
            synced: false,
            verified: true,
        };
        assert_eq!(amr_of(&[key]), [Amr::Hwk, Amr::User, Amr::Mfa]);
        let unverified = Factor::Passkey {
            synced: true,
            verified: false,
        };
        assert_eq!(amr_of(&[unverified]), [Amr::Swk, Amr::User]);
        assert_eq!(
            amr_of(&[Factor::Password, unverified]),
            [Amr::Pwd, Amr::Swk, Amr::User, Amr::Mfa]
        );
        // A code alone is one factor.
        assert_eq!(amr_of(&[Factor::Totp]), [Amr::Otp]);
    }

    #[test]
    fn acr_follows_mfa() {
        assert_eq!(Acr::of(&[Amr::Pwd]), Acr::SingleFactor);
        assert_eq!(Acr::of(&[Amr::Pwd, Amr::Otp, Amr::Mfa]), Acr::MultiFactor);
        assert_eq!(Acr::parse(Acr::MULTI), Some(Acr::MultiFactor));
        assert_eq!(Acr::parse("urn:other"), None);
    }

    #[test]
    fn wire_round_trip() {
        let amr = [Amr::Pwd, Amr::Otp, Amr::Mfa];
        assert_eq!(amr_to_wire(&amr), "pwd otp mfa");
        assert_eq!(amr_from_wire("pwd otp mfa future"), amr);
    }
}
