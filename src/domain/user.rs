//! End users.

/// A user account. The password hash never leaves `store` and `accounts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Stable, opaque `sub` (OIDC Core §2: ≤ 255 ASCII characters, never reassigned).
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    /// OIDC Core §5.1: the person proved they receive mail at `email` (a link we sent), or an
    /// admin vouched for it. Cleared whenever the address changes.
    pub email_verified: bool,
    pub name: Option<String>,
    pub disabled: bool,
    pub created_at: i64,
    /// The other standard claims (OIDC Core §5.1).
    pub profile: super::Profile,
    /// OIDC Core §5.1 `updated_at`: when the profile last changed.
    pub updated_at: i64,
    /// Bumped by every stored change; a profile change made from an older one is refused.
    pub revision: i64,
}

/// Usernames: 1–64 characters of letters, digits and `._-@`; stored as given, matched exactly.
pub fn validate_username(username: &str) -> Result<(), &'static str> {
    if username.is_empty() || username.len() > 64 {
        return Err("username must be 1 to 64 characters");
    }
    if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err("username may contain only letters, digits and . _ - @");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rules() {
        assert!(validate_username("alice").is_ok());
        assert!(validate_username("a.b-c_d@example.com").is_ok());
        assert!(validate_username("").is_err());
        assert!(validate_username("has space").is_err());
        assert!(validate_username("<script>").is_err());
        assert!(validate_username(&"x".repeat(65)).is_err());
    }
}
