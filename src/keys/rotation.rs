//! When keys change state. Pure: takes the stored keys and `now`, says what to do next.
//!
//! A new key is published (`next`) at least one JWKS cache lifetime plus one replica refresh
//! before it signs, so every cache that could be asked holds it by then (OIDC Core §10.1.1).
//! A replaced key stays published (`retired`) until every token it may have signed has
//! expired, counting the refresh lag of replicas that still signed with it.
//!
//! Each algorithm has its own keys and its own rotation. An algorithm this process does not
//! sign with is left as it is (another replica, or the CLI run with other settings, may sign
//! with it): its keys are neither created nor retired here, only deleted once retired and
//! expired. `gatehouse keys revoke` removes them for good.
use crate::config::Config;
use crate::domain::{Alg, AlgSet, KeyState};
use crate::store::StoredKey;

/// Allowed clock difference between us and the parties that verify our tokens.
pub const CLOCK_SKEW: i64 = 60;

/// The rotation windows, derived from configuration rather than guessed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// How long a key signs before it is replaced.
    pub period: i64,
    /// How long a `next` key is published before it signs.
    pub publish_lead: i64,
    /// How long a `retired` key stays published.
    pub retire_after: i64,
    /// How often each replica reloads keys and tries a rotation step.
    pub refresh_interval: i64,
    /// The algorithms signed with; RS256 is always among them.
    pub algs: AlgSet,
}

impl Policy {
    pub fn from_config(c: &Config) -> Self {
        Self {
            period: c.key_rotation_period,
            publish_lead: c.jwks_max_age + c.key_refresh_interval,
            retire_after: c.access_token_ttl.max(c.id_token_ttl)
                + c.key_refresh_interval
                + CLOCK_SKEW,
            refresh_interval: c.key_refresh_interval,
            algs: AlgSet::of(&c.signing_algs),
        }
    }
}

/// One change to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// The store has no usable key of this algorithm: create one that signs at once.
    CreateCurrent { alg: Alg },
    /// Publish a key that starts signing at `activates_at`.
    CreateNext { alg: Alg, activates_at: i64 },
    /// Make this key the signer and retire the others.
    Promote { kid: String },
    /// Remove a retired key whose tokens have all expired.
    Delete { kid: String },
}

fn activated(k: &StoredKey) -> i64 {
    k.activates_at.unwrap_or(k.created_at)
}

/// The next action, or None when the keys are as they should be.
pub fn plan(keys: &[StoredKey], p: &Policy, now: i64) -> Option<Action> {
    Alg::ALL.into_iter().find_map(|alg| {
        let mine: Vec<&StoredKey> = keys.iter().filter(|k| k.alg == alg).collect();
        if p.algs.contains(alg) {
            plan_alg(alg, &mine, p, now)
        } else {
            expired_retired(&mine, now)
        }
    })
}

/// True when every configured algorithm has a key that signs or is about to.
pub fn is_ready(keys: &[StoredKey], p: &Policy) -> bool {
    p.algs.iter().all(|alg| {
        keys.iter()
            .any(|k| k.alg == alg && (k.state == KeyState::Current || k.state == KeyState::Next))
    })
}

fn expired_retired(keys: &[&StoredKey], now: i64) -> Option<Action> {
    keys.iter()
        .find(|k| k.state == KeyState::Retired && k.retires_at.is_some_and(|r| r <= now))
        .map(|k| Action::Delete { kid: k.kid.clone() })
}

fn plan_alg(alg: Alg, keys: &[&StoredKey], p: &Policy, now: i64) -> Option<Action> {
    let mut current: Vec<&StoredKey> = keys
        .iter()
        .copied()
        .filter(|k| k.state == KeyState::Current)
        .collect();
    current.sort_by_key(|k| (activated(k), k.created_at));
    let mut next: Vec<&StoredKey> = keys
        .iter()
        .copied()
        .filter(|k| k.state == KeyState::Next)
        .collect();
    next.sort_by_key(|k| (activated(k), k.created_at));

    let Some(signer) = current.last() else {
        return Some(match next.first() {
            Some(n) => Action::Promote { kid: n.kid.clone() },
            None => Action::CreateCurrent { alg },
        });
    };
    if let Some(n) = next.first()
        && activated(n) <= now
    {
        return Some(Action::Promote { kid: n.kid.clone() });
    }
    if current.len() > 1 {
        // Left by an interrupted promotion: keep the newest.
        return Some(Action::Promote {
            kid: signer.kid.clone(),
        });
    }
    if let Some(delete) = expired_retired(keys, now) {
        return Some(delete);
    }
    let due = activated(signer) + p.period;
    if next.is_empty() && now >= due - p.publish_lead {
        return Some(Action::CreateNext {
            alg,
            activates_at: due.max(now + p.publish_lead),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Policy = Policy {
        period: 1000,
        publish_lead: 100,
        retire_after: 200,
        refresh_interval: 10,
        algs: AlgSet::ALL,
    };
    const RSA_ONLY: Policy = Policy {
        algs: AlgSet::ALL.without(Alg::ES256).without(Alg::EdDSA),
        ..P
    };

    fn key(
        kid: &str,
        state: &str,
        created: i64,
        activates: Option<i64>,
        retires: Option<i64>,
    ) -> StoredKey {
        alg_key(Alg::RS256, kid, state, created, activates, retires)
    }

    fn alg_key(
        alg: Alg,
        kid: &str,
        state: &str,
        created: i64,
        activates: Option<i64>,
        retires: Option<i64>,
    ) -> StoredKey {
        StoredKey {
            kid: kid.into(),
            alg,
            state: KeyState::parse(state).expect("test key state"),
            sealed_private_key: String::new(),
            public_jwk: String::new(),
            created_at: created,
            activates_at: activates,
            retires_at: retires,
        }
    }

    #[test]
    fn empty_store_creates_a_signer() {
        assert_eq!(
            plan(&[], &RSA_ONLY, 0),
            Some(Action::CreateCurrent { alg: Alg::RS256 })
        );
    }

    #[test]
    fn next_key_is_published_one_lead_before_it_is_due() {
        let keys = [key("a", "current", 0, Some(0), None)];
        assert_eq!(plan(&keys, &RSA_ONLY, 899), None);
        assert_eq!(
            plan(&keys, &RSA_ONLY, 900),
            Some(Action::CreateNext {
                alg: Alg::RS256,
                activates_at: 1000
            })
        );
        // Late (the server was down): still a full lead before it signs.
        assert_eq!(
            plan(&keys, &RSA_ONLY, 5000),
            Some(Action::CreateNext {
                alg: Alg::RS256,
                activates_at: 5100
            })
        );
    }

    #[test]
    fn next_key_is_promoted_when_due_and_not_before() {
        let keys = [
            key("a", "current", 0, Some(0), None),
            key("b", "next", 900, Some(1000), None),
        ];
        assert_eq!(plan(&keys, &RSA_ONLY, 999), None);
        assert_eq!(
            plan(&keys, &RSA_ONLY, 1000),
            Some(Action::Promote { kid: "b".into() })
        );
    }

    #[test]
    fn retired_key_is_deleted_only_after_its_window() {
        let keys = [
            key("a", "retired", 0, Some(0), Some(1200)),
            key("b", "current", 900, Some(1000), None),
        ];
        assert_eq!(plan(&keys, &RSA_ONLY, 1199), None);
        assert_eq!(
            plan(&keys, &RSA_ONLY, 1200),
            Some(Action::Delete { kid: "a".into() })
        );
    }

    #[test]
    fn interrupted_promotion_keeps_the_newest_signer() {
        let keys = [
            key("a", "current", 0, Some(0), None),
            key("b", "current", 900, Some(1000), None),
        ];
        assert_eq!(
            plan(&keys, &RSA_ONLY, 1001),
            Some(Action::Promote { kid: "b".into() })
        );
    }

    #[test]
    fn lone_next_key_is_promoted_at_once() {
        let keys = [key("b", "next", 0, Some(50), None)];
        assert_eq!(
            plan(&keys, &RSA_ONLY, 10),
            Some(Action::Promote { kid: "b".into() })
        );
    }

    #[test]
    fn each_algorithm_gets_its_own_signer() {
        let rsa = [key("a", "current", 0, Some(0), None)];
        assert_eq!(
            plan(&rsa, &P, 10),
            Some(Action::CreateCurrent { alg: Alg::ES256 })
        );
        assert!(!is_ready(&rsa, &P));
        assert!(is_ready(&rsa, &RSA_ONLY));
        let all = [
            key("a", "current", 0, Some(0), None),
            alg_key(Alg::ES256, "b", "current", 0, Some(0), None),
            alg_key(Alg::EdDSA, "c", "current", 500, Some(500), None),
        ];
        assert!(is_ready(&all, &P));
        assert_eq!(plan(&all, &P, 10), None);
        // The Ed25519 key came later, so its rotation falls due later.
        assert_eq!(
            plan(&all, &P, 900),
            Some(Action::CreateNext {
                alg: Alg::RS256,
                activates_at: 1000
            })
        );
        let mut rotated = all.to_vec();
        rotated.push(key("d", "next", 900, Some(1000), None));
        rotated.push(alg_key(Alg::ES256, "e", "next", 900, Some(1000), None));
        assert_eq!(plan(&rotated, &P, 900), None);
        assert_eq!(
            plan(&rotated, &P, 1400),
            Some(Action::Promote { kid: "d".into() })
        );
    }

    #[test]
    fn an_algorithm_not_configured_here_is_left_alone() {
        // Two processes with different settings must not undo each other's keys.
        let keys = [
            key("a", "current", 0, Some(0), None),
            alg_key(Alg::ES256, "b", "current", 0, Some(0), None),
            alg_key(Alg::ES256, "c", "retired", 0, Some(0), Some(50)),
        ];
        assert_eq!(plan(&keys, &RSA_ONLY, 10), None, "b stays current");
        assert_eq!(
            plan(&keys, &RSA_ONLY, 60),
            Some(Action::Delete { kid: "c".into() })
        );
        assert_eq!(
            plan(&keys[..2], &RSA_ONLY, 5000),
            Some(Action::CreateNext {
                alg: Alg::RS256,
                activates_at: 5100,
            })
        );
        let retired = [
            key("a", "current", 0, Some(0), None),
            alg_key(Alg::ES256, "b", "retired", 0, Some(0), Some(300)),
        ];
        assert_eq!(plan(&retired, &RSA_ONLY, 299), None);
        assert_eq!(
            plan(&retired, &RSA_ONLY, 300),
            Some(Action::Delete { kid: "b".into() })
        );
    }
}
