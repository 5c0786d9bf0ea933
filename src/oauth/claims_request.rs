//! The `claims` request parameter (OIDC Core §5.5), pure. A requested claim is granted
//! through the scope that covers it (§5.4), so the person consents to it like to any other
//! scope, and it then appears both in the ID token and at userinfo. Unknown claims are ignored
//! (§5.5); `essential`, `value` and `values` are read and checked for shape only.
use super::error::OAuthError;
use serde_json::Value;

/// The scope (§5.4) that releases each claim we serve.
pub fn scope_of(claim: &str) -> Option<&'static str> {
    Some(match claim {
        "name" | "given_name" | "family_name" | "middle_name" | "nickname"
        | "preferred_username" | "picture" | "website" | "gender" | "birthdate" | "zoneinfo"
        | "locale" | "updated_at" => "profile",
        "email" | "email_verified" => "email",
        "phone_number" | "phone_number_verified" => "phone",
        "address" => "address",
        _ => return None,
    })
}

/// The scopes a `claims` parameter asks for, without repeats; malformed JSON or members
/// of the wrong shape are `invalid_request`.
pub fn implied_scopes(raw: &str) -> Result<Vec<&'static str>, OAuthError> {
    let bad = |why: &'static str| OAuthError::invalid_request(why);
    let value: Value = serde_json::from_str(raw).map_err(|_| bad("claims is not valid JSON"))?;
    let Value::Object(top) = value else {
        return Err(bad("claims must be a JSON object"));
    };
    let mut scopes = Vec::new();
    for (target, requests) in &top {
        if target != "userinfo" && target != "id_token" {
            continue;
        }
        let Value::Object(requests) = requests else {
            return Err(bad("claims members userinfo and id_token must be objects"));
        };
        for (claim, request) in requests {
            match request {
                Value::Null => {}
                Value::Object(r) => {
                    if r.get("essential").is_some_and(|e| !e.is_boolean()) {
                        return Err(bad("essential must be true or false"));
                    }
                    if r.get("values").is_some_and(|v| !v.is_array()) {
                        return Err(bad("values must be an array"));
                    }
                }
                _ => return Err(bad("each requested claim must be null or an object")),
            }
            if let Some(scope) = scope_of(claim)
                && !scopes.contains(&scope)
            {
                scopes.push(scope);
            }
        }
    }
    Ok(scopes)
}

/// True when `claims` asks for `acr` as an essential claim whose only acceptable values are
/// multi-factor (§5.5.1.1). Malformed input asks for nothing here; `implied_scopes` refuses it.
pub fn requires_essential_acr(raw: &str) -> bool {
    let Ok(Value::Object(top)) = serde_json::from_str::<Value>(raw) else {
        return false;
    };
    let Some(Value::Object(acr)) = top.get("id_token").and_then(|t| t.get("acr")) else {
        return false;
    };
    if acr.get("essential") != Some(&Value::Bool(true)) {
        return false;
    }
    let multi = crate::domain::Acr::MULTI;
    let mut wanted: Vec<&str> = Vec::new();
    if let Some(Value::String(v)) = acr.get("value") {
        wanted.push(v);
    }
    if let Some(Value::Array(vs)) = acr.get("values") {
        wanted.extend(vs.iter().filter_map(Value::as_str));
    }
    !wanted.is_empty() && wanted.iter().all(|v| *v == multi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_map_to_their_scopes() {
        let s = implied_scopes(
            r#"{"userinfo":{"given_name":{"essential":true},"nonsense":null},
                "id_token":{"phone_number":null,"acr":{"values":["1"]}}}"#,
        )
        .unwrap();
        let mut s = s;
        s.sort_unstable();
        assert_eq!(s, vec!["phone", "profile"]);
        assert!(implied_scopes("{}").unwrap().is_empty());
        assert!(
            implied_scopes(r#"{"other":{"email":null}}"#)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn malformed_claims_are_invalid_request() {
        for raw in [
            "not json",
            "[]",
            r#"{"userinfo":[]}"#,
            r#"{"userinfo":{"email":1}}"#,
            r#"{"id_token":{"email":{"essential":"yes"}}}"#,
            r#"{"id_token":{"acr":{"values":"1"}}}"#,
        ] {
            assert!(implied_scopes(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn essential_acr_asks_for_mfa() {
        let m = crate::domain::Acr::MULTI;
        let essential =
            format!(r#"{{"id_token":{{"acr":{{"essential":true,"values":["{m}"]}}}}}}"#);
        assert!(requires_essential_acr(&essential));
        let single = format!(r#"{{"id_token":{{"acr":{{"essential":true,"value":"{m}"}}}}}}"#);
        assert!(requires_essential_acr(&single));
        let voluntary = format!(r#"{{"id_token":{{"acr":{{"values":["{m}"]}}}}}}"#);
        assert!(!requires_essential_acr(&voluntary));
        let either = format!(
            r#"{{"id_token":{{"acr":{{"essential":true,"values":["{m}","urn:gatehouse:acr:sfa"]}}}}}}"#
        );
        assert!(!requires_essential_acr(&either), "a single factor would do");
        assert!(!requires_essential_acr("not json"));
    }
}
