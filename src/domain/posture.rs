//! A client's security posture: settings that RFC 9700 (OAuth 2.0 Security Best Current
//! Practice) advises against, each with how to fix it. Pure, so the console and the API show
//! the same findings.
use super::{Client, GrantType};

/// A secret older than this should be rotated.
pub const SECRET_MAX_AGE: i64 = 180 * 86400;
/// A public client's refresh tokens should not outlive this (RFC 9700 §4.14.2).
pub const PUBLIC_REFRESH_MAX: i64 = 7 * 86400;
/// More redirect URIs than this is worth a look (RFC 9700 §4.1).
pub const MANY_REDIRECTS: usize = 5;
/// A client without tokens for this long is probably gone.
pub const UNUSED_AFTER: i64 = 90 * 86400;
/// More audiences than this makes a stolen token good at too many APIs (RFC 9700 §2.3).
pub const MANY_AUDIENCES: usize = 3;

/// One finding: what is wrong, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub title: String,
    pub fix: &'static str,
}

/// The findings for `c`. `default_refresh_ttl` is the server's, `issuer_host` this server's
/// host (apps on its domain count as first-party), `redirect_uses` when each redirect URI last
/// brought back a redeemed code.
pub fn posture(
    c: &Client,
    now: i64,
    default_refresh_ttl: i64,
    issuer_host: &str,
    redirect_uses: &[(String, i64)],
) -> Vec<Finding> {
    let mut out = Vec::new();
    if !c.is_public() {
        match c.secret_set_at {
            Some(at) if now - at > SECRET_MAX_AGE => out.push(Finding {
                title: format!(
                    "The secret has not been rotated in {} days.",
                    (now - at) / 86400
                ),
                fix: "Rotate the secret and update the app's configuration.",
            }),
            None => out.push(Finding {
                title: "The secret was set before Gatehouse recorded when.".into(),
                fix: "Rotate the secret, so its age is known from now on.",
            }),
            _ => {}
        }
        if c.pkce_optional {
            out.push(Finding {
                title: "PKCE is optional for this client (RFC 9700 §2.1.1).".into(),
                fix: "Make PKCE required unless the app truly cannot send it.",
            });
        }
    }
    let refresh_ttl = c.refresh_token_ttl.unwrap_or(default_refresh_ttl);
    if c.is_public() && c.allows_grant(GrantType::RefreshToken) && refresh_ttl > PUBLIC_REFRESH_MAX
    {
        out.push(Finding {
            title: format!(
                "A public client's refresh tokens live {} days (RFC 9700 §4.14.2).",
                refresh_ttl / 86400
            ),
            fix: "Set a refresh token lifetime of a week or less for this client.",
        });
    }
    if c.skip_consent {
        let foreign: Vec<String> = c
            .redirect_uris
            .iter()
            .filter_map(|u| url::Url::parse(u).ok()?.host_str().map(str::to_owned))
            .filter(|h| !same_site(h, issuer_host))
            .collect();
        if let Some(h) = foreign.first() {
            out.push(Finding {
                title: format!("Consent is skipped, but the app redirects to {h}, outside this server's domain."),
                fix: "Skip consent only for your own first-party apps.",
            });
        }
    }
    if c.redirect_uris.len() > MANY_REDIRECTS {
        out.push(Finding {
            title: format!(
                "{} redirect URIs are registered (RFC 9700 §4.1).",
                c.redirect_uris.len()
            ),
            fix: "Remove the ones the app no longer uses: each is a place a code can be sent.",
        });
    }
    let idle_since = c.last_used_at.unwrap_or(c.created_at);
    if now - idle_since > UNUSED_AFTER {
        out.push(Finding {
            title: format!(
                "It has not been used in {} days.",
                (now - idle_since) / 86400
            ),
            fix: "Delete it if the app is gone: an unused client is only a risk.",
        });
    }
    if now - c.created_at > UNUSED_AFTER {
        for uri in &c.redirect_uris {
            let last = redirect_uses
                .iter()
                .find(|(u, _)| u == uri)
                .map_or(c.created_at, |(_, at)| *at);
            if now - last > UNUSED_AFTER {
                out.push(Finding {
                    title: format!("The redirect URI {uri} has not been used in {} days.", (now - last) / 86400),
                    fix: "Remove it if the app no longer uses it: it is a place a code can be sent for nothing.",
                });
            }
        }
    }
    if c.audiences.len() > MANY_AUDIENCES {
        out.push(Finding {
            title: format!(
                "Its access tokens are good at {} APIs (RFC 9700 §2.3).",
                c.audiences.len()
            ),
            fix: "Narrow the audiences, or use separate clients per API.",
        });
    }
    out
}

/// Whether two hosts share their last two labels (a loopback host is always the same site).
fn same_site(host: &str, issuer_host: &str) -> bool {
    if crate::config::is_loopback_host(host) {
        return true;
    }
    let tail = |h: &str| {
        let labels: Vec<&str> = h.rsplit('.').take(2).collect();
        labels.join(".")
    };
    tail(host) == tail(issuer_host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web() -> Client {
        Client {
            id: "c".into(),
            name: "C".into(),
            secret_hash: Some("h".into()),
            secret_set_at: Some(1000),
            redirect_uris: vec!["https://app.example.com/cb".into()],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            ..Client::default()
        }
    }

    #[test]
    fn a_well_set_client_has_no_findings() {
        assert!(posture(&web(), 2000, 30 * 86400, "id.example.com", &[]).is_empty());
    }

    #[test]
    fn each_risk_is_found_with_its_fix() {
        let mut old = web();
        old.secret_set_at = Some(0);
        assert!(
            posture(&old, SECRET_MAX_AGE + 1, 0, "id.example.com", &[])[0]
                .title
                .contains("not been rotated")
        );
        let mut spa = web();
        spa.secret_hash = None;
        let f = posture(&spa, 2000, 30 * 86400, "id.example.com", &[]);
        assert!(f[0].title.contains("refresh tokens live 30 days"), "{f:?}");
        spa.refresh_token_ttl = Some(86400);
        assert!(posture(&spa, 2000, 30 * 86400, "id.example.com", &[]).is_empty());
        let mut third = web();
        third.skip_consent = true;
        assert!(
            posture(&third, 2000, 0, "id.example.com", &[]).is_empty(),
            "same domain"
        );
        assert!(
            posture(&third, 2000, 0, "id.other.org", &[])[0]
                .title
                .contains("app.example.com")
        );
        let mut many = web();
        many.redirect_uris = (0..6)
            .map(|i| format!("https://app.example.com/{i}"))
            .collect();
        many.audiences = (0..4)
            .map(|i| format!("https://api{i}.example.com"))
            .collect();
        many.pkce_optional = true;
        let titles: Vec<String> = posture(&many, 2000, 0, "id.example.com", &[])
            .into_iter()
            .map(|f| f.title)
            .collect();
        assert_eq!(titles.len(), 3, "{titles:?}");
    }
}
