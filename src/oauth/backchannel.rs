//! OpenID Connect Back-Channel Logout 1.0. When a browser session ends, each client that got
//! tokens in it and registered a `backchannel_logout_uri` is sent a signed logout token by
//! POST. Ending a session only queues the logouts (in SQL, with the session's other changes);
//! a sender task on every replica claims and delivers them, with retries and back-off, so no
//! page waits on a relying party. Delivery is at least once: a sender that stalls past its
//! lease may see another replica send the same logout again, which is harmless: ending a
//! session already ended changes nothing.
use crate::clock::Clock;
use crate::domain::{Alg, Client};
use crate::keys::{Keystore, new_jti};
use crate::outbound::{Outbound, OutboundError};
use crate::store::{QueuedLogout, Store};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// Back-Channel Logout 1.0 §2.4: the one event a logout token carries.
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// A logout token is good for this long after it is signed; each attempt signs a new one.
const TOKEN_TTL: i64 = 120;
/// The sender looks for due logouts this often (retries, and logouts other replicas or the CLI
/// queued), besides being woken at once by one this process queues.
const POLL: Duration = Duration::from_secs(5);
/// A claimed logout is another sender's once this has passed (its sender died): well past the
/// outbound client's deadline.
const LEASE: i64 = 60;
/// Deliveries one sender makes at once.
const IN_FLIGHT: usize = 8;
/// The first retry waits this long; each further one twice as long, up to `MAX_BACKOFF`.
const FIRST_BACKOFF: i64 = 5;
const MAX_BACKOFF: i64 = 15 * 60;

/// The `sid` (§2.1) of `user_id`'s sign-in in the browser session whose key hashes to
/// `session_key`: the same for every client of that sign-in, another for the next person who
/// signs in to the same browser, and no use for finding the session's rows.
pub fn sid(session_key: &str, user_id: &str) -> String {
    let digest =
        crate::crypto::sha256(format!("gatehouse sid v2:{session_key}:{user_id}").as_bytes());
    crate::crypto::b64url(&digest[..16])
}

/// Back-Channel Logout 1.0 §2.4.
#[derive(Debug, Serialize)]
struct LogoutClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
    events: serde_json::Value,
    sid: &'a str,
}

/// A signed logout token for `client` (§2.4): `typ` "logout+jwt" so it never passes as an ID
/// token (RFC 8725 §3.11), with `sub` and `sid`, and never a `nonce`.
pub fn logout_token(
    keys: &Keystore,
    issuer: &str,
    client: &Client,
    logout: &QueuedLogout,
    now: i64,
) -> Result<String, crate::keys::KeyError> {
    let claims = LogoutClaims {
        iss: issuer,
        sub: &logout.user_id,
        aud: &client.id,
        iat: now,
        exp: now + TOKEN_TTL,
        jti: new_jti(),
        events: serde_json::json!({ LOGOUT_EVENT: {} }),
        sid: &logout.sid,
    };
    // Signed as the client's ID tokens are: the algorithm it verifies.
    let alg = if keys.can_sign(client.id_token_signed_response_alg) {
        client.id_token_signed_response_alg
    } else {
        Alg::RS256
    };
    keys.sign(alg, "logout+jwt", &claims)
}

/// What became of one delivery.
#[derive(Debug, PartialEq, Eq)]
enum Delivery {
    Done,
    /// Never to be delivered: the client is gone, or refused the token.
    Dropped(&'static str),
    /// Worth another try later.
    Failed(String),
}

/// The back-channel logout sender.
pub struct Sender {
    pub store: Store,
    pub keys: Arc<Keystore>,
    pub outbound: Outbound,
    pub clock: Clock,
    pub issuer: String,
}

impl Sender {
    async fn deliver(&self, logout: &QueuedLogout) -> Delivery {
        let client = match self.store.find_client(&logout.client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => return Delivery::Dropped("client deleted"),
            Err(e) => return Delivery::Failed(format!("store: {e}")),
        };
        let Some(uri) = &client.backchannel_logout_uri else {
            return Delivery::Dropped("client no longer has a back-channel logout URI");
        };
        let token = match logout_token(&self.keys, &self.issuer, &client, logout, self.clock.now())
        {
            Ok(t) => t,
            Err(e) => return Delivery::Failed(format!("signing: {e}")),
        };
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("logout_token", &token)
            .finish();
        match self.outbound.post_form(uri, body).await {
            // §2.8: 200 (some answer 204) when the logout succeeded.
            Ok(r) if (200..300).contains(&r.status) => Delivery::Done,
            // A relying party that is overloaded or restarting may take it later.
            Ok(r) if r.status >= 500 || r.status == 408 || r.status == 429 => {
                Delivery::Failed(format!("HTTP {}", r.status))
            }
            // §2.8: 400 says the token was refused; the same token again would be too.
            Ok(_) => Delivery::Dropped("refused by the relying party"),
            // Registration accepted the URL, but it resolves somewhere refused: not a glitch.
            Err(OutboundError::Refused(_) | OutboundError::Url(_)) => {
                Delivery::Dropped("the URL is not allowed")
            }
            Err(e) => Delivery::Failed(e.to_string()),
        }
    }

    /// Delivers every due logout this sender can claim, `IN_FLIGHT` at a time, so a relying
    /// party that never answers holds up one slot for its deadline, not the queue; returns how
    /// many went out.
    /// After a store error it claims no more, but still settles what is in flight, so no
    /// delivery made is sent again.
    pub async fn deliver_due(self: &Arc<Self>) -> Result<usize, crate::store::Error> {
        let mut sent = 0;
        let mut failed = None;
        let mut running = tokio::task::JoinSet::new();
        loop {
            while failed.is_none() && running.len() < IN_FLIGHT {
                let now = self.clock.now();
                match self.store.claim_due_logout(now, now + LEASE).await {
                    Ok(Some(logout)) => {
                        let sender = self.clone();
                        running.spawn(async move {
                            let outcome = sender.deliver(&logout).await;
                            (logout, outcome)
                        });
                    }
                    Ok(None) => break,
                    Err(e) => failed = Some(e),
                }
            }
            let Some(done) = running.join_next().await else {
                break;
            };
            let (logout, outcome) = match done {
                Ok(d) => d,
                // Its logout is claimed until the lease runs out, then tried again.
                Err(e) => {
                    tracing::error!(error = %e, "back-channel logout delivery failed");
                    continue;
                }
            };
            match self.settle(&logout, outcome).await {
                Ok(true) => sent += 1,
                Ok(false) => {}
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(sent),
        }
    }

    /// Records what became of a delivery; true when it went out.
    async fn settle(
        &self,
        logout: &QueuedLogout,
        outcome: Delivery,
    ) -> Result<bool, crate::store::Error> {
        match outcome {
            Delivery::Done => {
                self.store.delete_logout(&logout.id).await?;
                tracing::info!(client_id = %logout.client_id, user_id = %logout.user_id, "back-channel logout delivered");
                crate::metrics::backchannel_logout("delivered");
                return Ok(true);
            }
            Delivery::Dropped(why) => {
                self.store.delete_logout(&logout.id).await?;
                tracing::warn!(client_id = %logout.client_id, reason = why, "back-channel logout dropped");
                crate::metrics::backchannel_logout("dropped");
            }
            Delivery::Failed(why) => {
                let wait = crate::clock::backoff(logout.attempts, FIRST_BACKOFF, MAX_BACKOFF);
                tracing::warn!(
                    client_id = %logout.client_id,
                    attempt = logout.attempts,
                    retry_in = wait,
                    error = %why,
                    "back-channel logout not delivered; will retry"
                );
                self.store
                    .retry_logout(&logout.id, self.clock.now() + wait)
                    .await?;
                crate::metrics::backchannel_logout("deferred");
            }
        }
        Ok(false)
    }
}

/// The sender task: delivers due logouts when woken and every `POLL`.
pub async fn run(sender: Sender) {
    let sender = Arc::new(sender);
    loop {
        if let Err(e) = sender.deliver_due().await {
            tracing::warn!(error = %e, "back-channel logout queue not processed; will try again");
        }
        tokio::select! {
            _ = sender.store.logout_queued().notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sid_is_stable_per_session_and_hides_its_key() {
        let a = sid("session-key-a", "u1");
        assert_eq!(a, sid("session-key-a", "u1"));
        assert_ne!(a, sid("session-key-b", "u1"));
        assert_ne!(a, sid("session-key-a", "u2"), "another person, another sid");
        assert!(!a.contains("session-key"));
        assert_eq!(a.len(), 22);
    }
}
