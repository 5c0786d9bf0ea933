//! APIs in the protocol: RFC 8707 resource indicators, the API scopes a client may ask for, and
//! what a user's roles let them be granted. The rules are pure; the lookups come last.
use super::error::{ErrorCode, OAuthError};
use crate::domain::scope::SUPPORTED_SCOPES;
use crate::domain::{Access, Api, Client, ScopeSet};
use crate::store::{self, Store};

/// What an authorization request is for: its scopes, OpenID and API alike, and the APIs it
/// covers (RFC 8707 §2.1), by identifier.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resolved {
    pub scope: ScopeSet,
    pub resources: Vec<String>,
}

fn invalid_target(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidTarget, description)
}

/// The values of a `scope` that may name an API's scope (everything OpenID does not define).
pub fn api_candidates(raw: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for s in raw.split(' ').filter(|s| !s.is_empty()) {
        if !SUPPORTED_SCOPES.contains(&s) && !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// RFC 8707 §2 and RFC 6749 §3.3 for an authorization request. `openid` is its OpenID part,
/// already limited to the client's scopes; `candidates` its other values, in request order;
/// `apis` every API that owns a candidate or is named by `resources`.
///
/// - Each `resource` must be an API this client may use, or the request fails with
///   `invalid_target`.
/// - An API scope must belong to a named resource, or, with none named, all the API scopes
///   must belong to one API: otherwise `invalid_scope`.
/// - Values no API defines are ignored (OIDC Core §3.1.2.1), and API scopes the client may not
///   ask for are dropped, not refused (RFC 6749 §3.3).
pub fn resolve(
    openid: ScopeSet,
    candidates: &[&str],
    resources: &[String],
    apis: &[Api],
    client: &Client,
) -> Result<Resolved, OAuthError> {
    for r in resources {
        // One answer for unknown and forbidden: a client learns nothing of other APIs.
        if !apis
            .iter()
            .any(|a| &a.identifier == r && client.may_use_api(a))
        {
            return Err(invalid_target("resource is not an API this client may use"));
        }
    }
    let owned: Vec<(&str, &Api)> = candidates
        .iter()
        .filter_map(|s| apis.iter().find(|a| a.owns(s)).map(|a| (*s, a)))
        .collect();
    let mut covered: Vec<String> = resources.to_vec();
    for (_, api) in &owned {
        if covered.contains(&api.identifier) {
            continue;
        }
        if !resources.is_empty() {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                "a scope belongs to an API the request does not name in resource",
            ));
        }
        if !covered.is_empty() {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                "the scopes belong to more than one API; name them with resource",
            ));
        }
        covered.push(api.identifier.clone());
    }
    let mut scope = openid;
    for (s, api) in &owned {
        if client.may_request_api_scope(api, s) {
            scope.push(s);
        }
    }
    // An API reached only through scopes the client may not ask for is not covered.
    if resources.is_empty()
        && !owned
            .iter()
            .any(|(s, a)| client.may_request_api_scope(a, s))
    {
        covered.clear();
    }
    Ok(Resolved {
        scope,
        resources: covered,
    })
}

/// RFC 6749 §3.3: the part of a request a user may be granted: its OpenID scopes, and the API
/// scopes one of their roles carries.
pub fn for_user(scope: &ScopeSet, access: &Access) -> ScopeSet {
    scope.filter(|s| SUPPORTED_SCOPES.contains(&s) || access.allows(s))
}

/// RFC 8707 §2.2: the API a token request is for, among those its grant covers; without a
/// `resource`, the first. One token has one API.
pub fn pick<'a>(covered: &'a [String], asked: &[String]) -> Result<Option<&'a str>, OAuthError> {
    match asked {
        [] => Ok(covered.first().map(String::as_str)),
        [one] => covered
            .iter()
            .find(|c| *c == one)
            .map(|c| Some(c.as_str()))
            .ok_or_else(|| invalid_target("the grant does not cover that resource")),
        _ => Err(invalid_target("a token request names at most one resource")),
    }
}

/// What one token of a user carries: its scope, the API it is for, and the roles it names.
#[derive(Debug)]
pub struct TokenAccess<'a> {
    pub scope: ScopeSet,
    /// `None` when no scope of the API is granted now: the token is not for it.
    pub api: Option<&'a Api>,
    pub roles: Vec<String>,
}

/// A user's token for `api`: the granted OpenID scopes, and the granted scopes of that API that
/// the client may still ask for and the user's roles still carry. Every token reads them anew,
/// so a role or a client permission taken away ends at the next one.
pub fn token_access<'a>(
    granted: &ScopeSet,
    api: Option<&'a Api>,
    client: &Client,
    access: &Access,
) -> TokenAccess<'a> {
    let usable = api.filter(|a| client.may_use_api(a));
    let scope = granted.filter(|s| {
        SUPPORTED_SCOPES.contains(&s)
            || usable.is_some_and(|a| a.owns(s) && client.may_request_api_scope(a, s))
                && access.allows(s)
    });
    let api_scopes: Vec<&str> = scope.api_part().collect();
    TokenAccess {
        api: usable.filter(|_| !api_scopes.is_empty()),
        roles: access.roles_carrying(&api_scopes),
        scope,
    }
}

/// Space-separated identifiers as stored with codes and grants.
pub fn covered(stored: &str) -> Vec<String> {
    stored
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Resolves an authorization request's scopes and resources against the stored APIs.
pub async fn resolve_request(
    store: &Store,
    client: &Client,
    openid: ScopeSet,
    raw_scope: &str,
    resources: &[String],
) -> Result<Resolved, OAuthError> {
    for r in resources {
        if crate::domain::access::validate_api_identifier(r).is_err() {
            return Err(invalid_target(
                "resource must be an absolute URI without a fragment",
            ));
        }
    }
    let candidates = api_candidates(raw_scope);
    if candidates.is_empty() && resources.is_empty() {
        return Ok(Resolved {
            scope: openid,
            resources: Vec::new(),
        });
    }
    let ids: Vec<&str> = resources.iter().map(String::as_str).collect();
    let apis = store.apis_for_cached(&candidates, &ids).await?;
    resolve(openid, &candidates, resources, &apis, client)
}

/// What the user behind a flow may be granted of its scopes; reads their roles only when the
/// scopes hold an API's.
pub async fn effective(store: &Store, scope: &ScopeSet, user_id: &str) -> store::Result<ScopeSet> {
    if scope.api_part().next().is_none() {
        return Ok(scope.clone());
    }
    Ok(for_user(scope, &store.user_access(user_id).await?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::HeldRole;

    fn apis() -> Vec<Api> {
        vec![
            Api::for_tests("https://tasks.example", &["tasks:read", "tasks:write"]),
            Api::for_tests("https://notes.example", &["notes:read"]),
        ]
    }

    fn client(audiences: &[&str], allowed: Option<&[&str]>) -> Client {
        Client {
            id: "app".into(),
            audiences: audiences.iter().map(|s| (*s).into()).collect(),
            allowed_scopes: allowed.map(|l| l.iter().map(|s| (*s).into()).collect()),
            ..Default::default()
        }
    }

    fn run(raw: &str, resources: &[&str], c: &Client) -> Result<(String, Vec<String>), OAuthError> {
        let resources: Vec<String> = resources.iter().map(|s| (*s).into()).collect();
        resolve(
            ScopeSet::parse_supported(raw),
            &api_candidates(raw),
            &resources,
            &apis(),
            c,
        )
        .map(|r| (r.scope.to_wire(), r.resources))
    }

    const BOTH: &[&str] = &["https://tasks.example", NOTES_ID];
    const NOTES_ID: &str = "https://notes.example";

    #[test]
    fn the_api_is_the_one_owning_the_scopes() {
        let c = client(BOTH, None);
        let (scope, res) = run("openid tasks:write unknown", &[], &c).unwrap();
        assert_eq!(scope, "openid tasks:write");
        assert_eq!(res, ["https://tasks.example"]);
        let (scope, res) = run("openid", &[], &c).unwrap();
        assert_eq!((scope.as_str(), res.len()), ("openid", 0));
    }

    #[test]
    fn two_apis_without_resources_is_invalid_scope() {
        let c = client(BOTH, None);
        let e = run("openid tasks:read notes:read", &[], &c).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidScope);
        // Both named: RFC 8707 §2.1 lets one grant cover several.
        let (scope, res) = run("openid tasks:read notes:read", BOTH, &c).unwrap();
        assert_eq!(scope, "openid tasks:read notes:read");
        assert_eq!(res, BOTH);
        // A scope outside the named resource.
        let e = run("tasks:read notes:read", &["https://tasks.example"], &c).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidScope);
    }

    #[test]
    fn resources_the_client_may_not_use_are_invalid_target() {
        let c = client(&["https://tasks.example"], None);
        for r in ["https://notes.example", "https://unknown.example"] {
            let e = run("openid", &[r], &c).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidTarget, "{r}");
        }
        let (_, res) = run("openid", &["https://tasks.example"], &c).unwrap();
        assert_eq!(res, ["https://tasks.example"]);
    }

    #[test]
    fn scopes_the_client_may_not_ask_for_are_dropped() {
        // No audience list and no API scope registered: no API at all.
        let plain = client(&[], None);
        assert_eq!(
            run("openid tasks:write", &[], &plain).unwrap(),
            ("openid".to_owned(), vec![])
        );
        // Its registered scopes limit it within the API.
        let narrow = client(&[], Some(&["openid", "tasks:read"]));
        let (scope, res) = run("openid tasks:read tasks:write", &[], &narrow).unwrap();
        assert_eq!(scope, "openid tasks:read");
        assert_eq!(res, ["https://tasks.example"]);
    }

    #[test]
    fn the_user_gets_what_their_roles_carry() {
        let access = Access {
            roles: vec![HeldRole {
                name: "reader".into(),
                scopes: vec!["tasks:read".into()],
                direct: true,
                via: vec![],
            }],
            groups: vec![],
        };
        let asked = ScopeSet::from_wire("openid tasks:read tasks:write");
        assert_eq!(for_user(&asked, &access).to_wire(), "openid tasks:read");
        let tasks = &apis()[0];
        let granted = ScopeSet::from_wire("openid tasks:read notes:read");
        let c = client(BOTH, None);
        let t = token_access(&granted, Some(tasks), &c, &access);
        assert_eq!(t.scope.to_wire(), "openid tasks:read");
        assert_eq!(t.roles, ["reader"]);
        assert!(t.api.is_some());
        let t = token_access(&granted, None, &c, &access);
        assert_eq!(
            (t.scope.to_wire().as_str(), t.api.is_none()),
            ("openid", true)
        );
        // No role: the token is not for the API at all.
        let t = token_access(&granted, Some(tasks), &c, &Access::default());
        assert_eq!(
            (t.scope.to_wire().as_str(), t.api.is_none()),
            ("openid", true)
        );
        assert!(t.roles.is_empty());
        // The client lost the API since the grant.
        let t = token_access(&granted, Some(tasks), &client(&[NOTES_ID], None), &access);
        assert_eq!(
            (t.scope.to_wire().as_str(), t.api.is_none()),
            ("openid", true)
        );
    }

    #[test]
    fn token_requests_pick_one_covered_api() {
        let covered: Vec<String> = BOTH.iter().map(|s| (*s).into()).collect();
        assert_eq!(pick(&covered, &[]).unwrap(), Some("https://tasks.example"));
        assert_eq!(
            pick(&covered, &["https://notes.example".into()]).unwrap(),
            Some("https://notes.example")
        );
        let e = pick(&covered, &["https://other.example".into()]).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTarget);
        assert_eq!(pick(&[], &[]).unwrap(), None);
        assert!(pick(&covered, &covered).is_err());
    }
}
