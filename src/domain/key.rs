//! Signing-key lifecycle states.

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
    fn wire_names_round_trip() {
        for k in [KeyState::Next, KeyState::Current, KeyState::Retired] {
            assert_eq!(KeyState::parse(k.as_str()), Some(k));
        }
        assert_eq!(KeyState::parse("active"), None);
    }
}
