//! APIs (resource servers) and their scopes, and the roles and groups through which users may be
//! granted those scopes.

/// A permission an API defines, with the words the consent page shows for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiScope {
    pub name: String,
    pub description: String,
}

/// A resource server. Its identifier is the `aud` of the access tokens minted for it (RFC 8707,
/// RFC 9068 §3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Api {
    pub id: String,
    pub identifier: String,
    pub name: String,
    pub scopes: Vec<ApiScope>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Api {
    /// An API whose id is its identifier and whose scopes' words are empty: for tests.
    #[cfg(test)]
    pub fn for_tests(identifier: &str, scopes: &[&str]) -> Self {
        Self {
            id: identifier.into(),
            identifier: identifier.into(),
            name: identifier.into(),
            scopes: scopes
                .iter()
                .map(|s| ApiScope {
                    name: (*s).into(),
                    description: String::new(),
                })
                .collect(),
            created_at: 0,
            updated_at: 0,
        }
    }

    pub fn owns(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s.name == scope)
    }

    pub fn scope(&self, name: &str) -> Option<&ApiScope> {
        self.scopes.iter().find(|s| s.name == name)
    }
}

/// A named set of API scopes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub description: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
}

/// A named set of users holding roles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Role names.
    pub roles: Vec<String>,
    pub created_at: i64,
}

/// A role a user holds, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldRole {
    pub name: String,
    pub scopes: Vec<String>,
    /// Granted to the user directly.
    pub direct: bool,
    /// The user's groups that hold it.
    pub via: Vec<String>,
}

/// What a user may be granted: their roles, direct or through groups, and their groups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Access {
    pub roles: Vec<HeldRole>,
    pub groups: Vec<String>,
}

impl Access {
    /// Whether one of the user's roles carries this scope.
    pub fn allows(&self, scope: &str) -> bool {
        self.roles
            .iter()
            .any(|r| r.scopes.iter().any(|s| s == scope))
    }

    /// The union of the roles' scopes, sorted.
    pub fn scopes(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .roles
            .iter()
            .flat_map(|r| r.scopes.iter().cloned())
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// The names of the user's roles that carry one of `scopes` (RFC 9068 §2.2.3.1 `roles`):
    /// a token says no more of the roles than of the scopes it grants.
    pub fn roles_carrying(&self, scopes: &[&str]) -> Vec<String> {
        self.roles
            .iter()
            .filter(|r| r.scopes.iter().any(|s| scopes.contains(&s.as_str())))
            .map(|r| r.name.clone())
            .collect()
    }
}

/// Scope names OpenID Connect or Gatehouse itself give a meaning to: no API may define them.
fn reserved_scope(name: &str) -> bool {
    super::scope::SUPPORTED_SCOPES.contains(&name) || name.starts_with("gatehouse:")
}

/// RFC 6749 §3.3 `scope-token` (printable ASCII but space, `"` and `\`), at most 128
/// characters, and none of the names OpenID Connect defines.
pub fn validate_scope_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 128 {
        return Err("a scope name must be 1 to 128 characters".into());
    }
    if !name
        .bytes()
        .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
    {
        return Err(format!(
            "scope {name:?}: only printable ASCII without spaces, quotes or backslashes"
        ));
    }
    if reserved_scope(name) {
        return Err(format!("scope {name:?} is reserved"));
    }
    Ok(())
}

/// RFC 8707 §2: a resource is an absolute URI without a fragment. Stored and compared as
/// given, so it must be printable ASCII without spaces (RFC 3986 §2): the parser would quietly
/// clean what the comparison keeps.
pub fn validate_api_identifier(identifier: &str) -> Result<(), String> {
    if identifier.len() > 255 {
        return Err("an API identifier is at most 255 characters".into());
    }
    if !identifier.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("an API identifier is printable ASCII without spaces".into());
    }
    match url::Url::parse(identifier) {
        Ok(u) if u.fragment().is_none() && !identifier.contains('#') => Ok(()),
        Ok(_) => Err("an API identifier must not have a fragment".into()),
        Err(_) => {
            Err("an API identifier must be an absolute URI, such as https://api.example".into())
        }
    }
}

/// Role and group names travel in tokens: 1–64 letters, digits and `._-:`.
pub fn validate_access_name(kind: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err(format!("a {kind} name must be 1 to 64 characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'))
    {
        return Err(format!(
            "a {kind} name may contain only letters, digits and . _ - :"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str, scopes: &[&str]) -> HeldRole {
        HeldRole {
            name: name.into(),
            scopes: scopes.iter().map(|s| (*s).into()).collect(),
            direct: true,
            via: vec![],
        }
    }

    #[test]
    fn scope_names() {
        assert!(validate_scope_name("tasks:write").is_ok());
        assert!(validate_scope_name("https://tasks.example/read").is_ok());
        for bad in [
            "",
            "has space",
            "quo\"te",
            "back\\slash",
            "openid",
            "groups",
            "gatehouse:admin",
        ] {
            assert!(validate_scope_name(bad).is_err(), "{bad}");
        }
        assert!(validate_scope_name(&"x".repeat(129)).is_err());
    }

    #[test]
    fn identifiers_are_absolute_without_fragment() {
        assert!(validate_api_identifier("https://tasks.example").is_ok());
        assert!(validate_api_identifier("urn:example:tasks").is_ok());
        assert!(validate_api_identifier("tasks").is_err());
        assert!(validate_api_identifier("/tasks").is_err());
        assert!(validate_api_identifier("https://tasks.example/#x").is_err());
        assert!(validate_api_identifier("https://tasks.example/#").is_err());
        for bad in [
            "https://tasks.example/a b",
            "https://tasks\t.example",
            "https://t\u{0}.example",
            "https://tâches.example",
        ] {
            assert!(validate_api_identifier(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn access_is_the_union_of_roles() {
        let tasks = Api::for_tests("https://tasks.example", &["tasks:read", "tasks:write"]);
        let access = Access {
            roles: vec![
                role("reader", &["tasks:read"]),
                role("billing", &["invoices:read"]),
                role("editor", &["tasks:read", "tasks:write"]),
            ],
            groups: vec!["team-a".into()],
        };
        assert!(access.allows("tasks:write"));
        assert!(!access.allows("tasks:delete"));
        assert_eq!(
            access.scopes(),
            ["invoices:read", "tasks:read", "tasks:write"]
        );
        assert_eq!(access.roles_carrying(&["tasks:read"]), ["reader", "editor"]);
        assert_eq!(access.roles_carrying(&["tasks:write"]), ["editor"]);
        assert!(Access::default().roles_carrying(&["tasks:read"]).is_empty());
        assert!(tasks.owns("tasks:write"));
    }

    #[test]
    fn access_names() {
        assert!(validate_access_name("role", "editor").is_ok());
        assert!(validate_access_name("group", "team-a.eu").is_ok());
        assert!(validate_access_name("role", "").is_err());
        assert!(validate_access_name("role", "with space").is_err());
    }
}
