//! Signing algorithms and signing-key lifecycle states.

/// A JWS algorithm Gatehouse signs with (RFC 7518 §3.1, RFC 8037 §3.1). RS256 is always on:
/// OIDC Discovery §3 requires it in `id_token_signing_alg_values_supported`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Alg {
    #[default]
    RS256,
    ES256,
    /// Ed25519 (the only EdDSA curve Gatehouse generates).
    EdDSA,
}

impl Alg {
    pub const ALL: [Self; 3] = [Self::RS256, Self::ES256, Self::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    /// The exact wire name (JWS names are case-sensitive, RFC 7515 §4.1.1).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// A set of algorithms (the ones this deployment signs with), small enough to copy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AlgSet(u8);

impl AlgSet {
    pub const ALL: Self = Self(0b111);

    pub fn of(algs: &[Alg]) -> Self {
        Self(algs.iter().fold(0, |bits, a| bits | Self::bit(*a)))
    }

    const fn bit(a: Alg) -> u8 {
        1 << (a as u8)
    }

    pub const fn without(self, a: Alg) -> Self {
        Self(self.0 & !Self::bit(a))
    }

    pub const fn contains(self, a: Alg) -> bool {
        self.0 & Self::bit(a) != 0
    }

    /// In `Alg::ALL` order, RS256 first.
    pub fn iter(self) -> impl Iterator<Item = Alg> {
        Alg::ALL.into_iter().filter(move |a| self.contains(*a))
    }
}

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Alg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s.trim()).ok_or_else(|| format!("{s:?}: one of RS256, ES256, EdDSA"))
    }
}

/// Where a signing key is in its life: published ahead of use, signing, or published only so
/// tokens it signed still verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyState {
    Current,
    Next,
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Current => "current",
            Self::Retired => "retired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Next, Self::Current, Self::Retired]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for KeyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for KeyState {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alg_names_are_exact() {
        for a in Alg::ALL {
            assert_eq!(Alg::parse(a.as_str()), Some(a));
        }
        assert_eq!(Alg::parse("es256"), None);
        assert_eq!(Alg::parse("none"), None);
        assert_eq!(Alg::parse("HS256"), None);
        let set = AlgSet::of(&[Alg::EdDSA, Alg::RS256]);
        assert!(set.contains(Alg::RS256) && set.contains(Alg::EdDSA) && !set.contains(Alg::ES256));
        assert_eq!(set.iter().collect::<Vec<_>>(), [Alg::RS256, Alg::EdDSA]);
        assert_eq!(AlgSet::ALL.iter().count(), 3);
    }

    #[test]
    fn wire_names_round_trip() {
        for k in [KeyState::Next, KeyState::Current, KeyState::Retired] {
            assert_eq!(KeyState::parse(k.as_str()), Some(k));
        }
        assert_eq!(KeyState::parse("active"), None);
    }
}
