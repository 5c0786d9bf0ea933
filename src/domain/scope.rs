//! Scope values (RFC 6749 §3.3) and the ones we support.

/// Scopes Gatehouse knows. Others are ignored, never granted (OIDC Core §3.1.2.1).
pub const SUPPORTED_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "phone",
    "address",
    "offline_access",
    "groups",
];

/// The scope of tokens for the admin API. Only a client an admin allowed it can get it, and only
/// through the client credentials grant: the authorization endpoint never grants it.
pub const ADMIN_SCOPE: &str = "gatehouse:admin";

/// An ordered set of supported scope values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<String>);

impl ScopeSet {
    /// Keeps the supported values of a space-delimited `scope` parameter, in request order,
    /// without duplicates.
    pub fn parse_supported(raw: &str) -> Self {
        let mut out: Vec<String> = Vec::new();
        for s in raw.split(' ').filter(|s| !s.is_empty()) {
            if SUPPORTED_SCOPES.contains(&s) && !out.iter().any(|o| o == s) {
                out.push(s.to_owned());
            }
        }
        Self(out)
    }

    /// A stored set (flows, codes, grants, consents), whose values were checked when asked for:
    /// OpenID scopes and API scopes alike.
    pub fn from_wire(raw: &str) -> Self {
        let mut out: Vec<String> = Vec::new();
        for s in raw.split(' ').filter(|s| !s.is_empty()) {
            if !out.iter().any(|o| o == s) {
                out.push(s.to_owned());
            }
        }
        Self(out)
    }

    /// The values OpenID Connect defines; everything else in a user's set is an API's scope.
    pub fn openid_part(&self) -> ScopeSet {
        Self(
            self.0
                .iter()
                .filter(|s| SUPPORTED_SCOPES.contains(&s.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// The API scopes.
    pub fn api_part(&self) -> impl Iterator<Item = &str> {
        self.iter().filter(|s| !SUPPORTED_SCOPES.contains(s))
    }

    /// Keeps the values `keep` says yes to.
    pub fn filter(&self, keep: impl Fn(&str) -> bool) -> ScopeSet {
        Self(self.0.iter().filter(|s| keep(s)).cloned().collect())
    }

    pub fn push(&mut self, scope: &str) {
        if !self.contains(scope) {
            self.0.push(scope.to_owned());
        }
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s == scope)
    }

    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.0.iter().all(|s| other.contains(s))
    }

    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        let mut out = self.0.clone();
        for s in &other.0 {
            if !out.contains(s) {
                out.push(s.clone());
            }
        }
        Self(out)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// This set without one value.
    pub fn without(&self, scope: &str) -> ScopeSet {
        Self(self.0.iter().filter(|s| *s != scope).cloned().collect())
    }

    /// Keeps only the values in `allowed` (a client's registered scopes).
    pub fn restrict_to(&self, allowed: Option<&[String]>) -> ScopeSet {
        match allowed {
            None => self.clone(),
            Some(a) => Self(self.0.iter().filter(|s| a.contains(s)).cloned().collect()),
        }
    }

    /// The space-delimited wire form.
    pub fn to_wire(&self) -> String {
        self.0.join(" ")
    }
}

/// Words for the consent page.
pub fn describe(scope: &str) -> &'static str {
    match scope {
        "openid" => "Know who you are (your account identifier)",
        "profile" => "See your name, username and profile details",
        "email" => "See your email address",
        "phone" => "See your phone number",
        "address" => "See your postal address",
        "offline_access" => "Stay connected when you are not using it (offline access)",
        "groups" => "See the groups you belong to",
        _ => "Unknown permission",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_duplicate_scopes_are_dropped() {
        let s = ScopeSet::parse_supported("openid  admin email openid");
        assert_eq!(s.to_wire(), "openid email");
        assert!(ScopeSet::parse_supported("").is_empty());
    }

    #[test]
    fn subset_and_union() {
        let a = ScopeSet::parse_supported("openid");
        let b = ScopeSet::parse_supported("openid email");
        assert!(a.is_subset_of(&b));
        assert!(!b.is_subset_of(&a));
        assert_eq!(a.union(&b).to_wire(), "openid email");
    }

    #[test]
    fn stored_sets_keep_api_scopes() {
        let s = ScopeSet::from_wire("openid tasks:write  openid groups");
        assert_eq!(s.to_wire(), "openid tasks:write groups");
        assert_eq!(s.openid_part().to_wire(), "openid groups");
        assert_eq!(s.api_part().collect::<Vec<_>>(), ["tasks:write"]);
    }
}
