//! Sign-in back-off (RFC 6749 §2.3.1 "protect against brute force"; SECURITY.md): failures are
//! counted per username and per client address for browsers we do not know, and per device for
//! browsers that signed in as that user before; past a free allowance each further failure
//! doubles the wait, capped, instead of locking the account (a lockout is itself a DoS).

/// Failures allowed per username before back-off starts.
pub const FREE_PER_USER: i64 = 5;
/// A known device gets fewer: its owner rarely mistypes more often than this.
pub const FREE_PER_DEVICE: i64 = 3;
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

/// Second-factor codes are counted per user: whoever holds the password is already past the
/// first factor, so the address does not matter.
pub fn factor_key(user_id: &str) -> String {
    format!("factor:{user_id}")
}

/// One counter per device that signed in as this user.
pub fn device_key(username: &str, device_id: &str) -> String {
    format!("{}{device_id}", device_prefix(username))
}

/// What every device key of this user starts with (`user unlock` clears them all).
pub fn device_prefix(username: &str) -> String {
    format!("device:{}:", crate::crypto::hash_secret(username))
}

/// IPv6 clients are keyed by their /64: one host usually holds a whole /64, and per-address
/// counting would let it rotate through 2^64 addresses.
pub fn address_key(address: &str) -> String {
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("addr:{v4}"),
            None => {
                let net = u128::from(v6) & !((1u128 << 64) - 1);
                format!("addr:{}/64", std::net::Ipv6Addr::from(net))
            }
        },
        _ => format!("addr:{address}"),
    }
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

    #[test]
    fn ipv6_addresses_share_their_slash_64() {
        assert_eq!(
            address_key("2001:db8:1:2:aaaa::1"),
            address_key("2001:db8:1:2:ffff:1:2:3")
        );
        assert_eq!(address_key("2001:db8:1:2::9"), "addr:2001:db8:1:2::/64");
        assert_ne!(
            address_key("2001:db8:1:2::1"),
            address_key("2001:db8:1:3::1")
        );
        assert_eq!(address_key("::ffff:192.0.2.7"), "addr:192.0.2.7");
        assert_eq!(address_key("192.0.2.7"), "addr:192.0.2.7");
        assert_ne!(address_key("192.0.2.7"), address_key("192.0.2.8"));
    }

    #[test]
    fn device_keys_belong_to_their_user() {
        assert!(device_key("alice", "d1").starts_with(&device_prefix("alice")));
        assert!(!device_key("alice", "d1").starts_with(&device_prefix("bob")));
    }
}
