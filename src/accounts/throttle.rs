//! Sign-in back-off (RFC 6749 §2.3.1 "protect against brute force"; SECURITY.md): failures are
//! counted per username and per client address; past a free allowance each further failure
//! doubles the wait, capped, instead of locking the account (a lockout is itself a DoS).

/// Failures allowed per username before back-off starts.
pub const FREE_PER_USER: i64 = 5;
/// Per client address the allowance is larger: many people may share one address.
pub const FREE_PER_ADDRESS: i64 = 20;
/// The longest wait.
pub const MAX_BACKOFF: i64 = 15 * 60;
/// Failures older than this are forgotten.
pub const FORGET_AFTER: i64 = 60 * 60;

/// Seconds to wait after `failures` failures with `free` allowed.
pub fn backoff(failures: i64, free: i64) -> i64 {
    if failures < free {
        return 0;
    }
    let exp = (failures - free).min(20) as u32;
    (1i64 << exp).min(MAX_BACKOFF)
}

/// Usernames are hashed so an attacker's arbitrary strings cannot bloat the table.
pub fn user_key(username: &str) -> String {
    format!("user:{}", crate::crypto::hash_secret(username))
}

pub fn address_key(address: &str) -> String {
    format!("addr:{address}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(4, 5), 0);
        assert_eq!(backoff(5, 5), 1);
        assert_eq!(backoff(6, 5), 2);
        assert_eq!(backoff(9, 5), 16);
        assert_eq!(backoff(100, 5), MAX_BACKOFF);
    }
}
