//! The standard profile claims of OIDC Core §5.1, each validated by its type. Set by admins
//! (`gatehouse user update`); a user edits their own name fields on `/account`.
use serde::{Deserialize, Serialize};

/// OIDC Core §5.1.1: the postal address claim.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub formatted: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub street_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub locality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub country: Option<String>,
}

impl Address {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Profile claims beyond `name`, `preferred_username` and `email`, stored as one JSON value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub middle_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nickname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub picture: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub website: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub gender: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub birthdate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub zoneinfo: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub locale: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub phone_number_verified: bool,
    #[serde(skip_serializing_if = "Address::is_empty", default)]
    pub address: Address,
}

/// Which profile field a value is for, so each gets its own check and message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Name,
    GivenName,
    FamilyName,
    MiddleName,
    Nickname,
    Picture,
    Website,
    Gender,
    Birthdate,
    Zoneinfo,
    Locale,
    PhoneNumber,
    AddressFormatted,
    StreetAddress,
    Locality,
    Region,
    PostalCode,
    Country,
}

impl Field {
    pub const ALL: [Field; 18] = [
        Self::Name,
        Self::GivenName,
        Self::FamilyName,
        Self::MiddleName,
        Self::Nickname,
        Self::Picture,
        Self::Website,
        Self::Gender,
        Self::Birthdate,
        Self::Zoneinfo,
        Self::Locale,
        Self::PhoneNumber,
        Self::AddressFormatted,
        Self::StreetAddress,
        Self::Locality,
        Self::Region,
        Self::PostalCode,
        Self::Country,
    ];

    /// The claim's name; an address part is `address.<member>` (OIDC Core §5.1.1).
    pub fn claim(self) -> &'static str {
        match self {
            Self::AddressFormatted => "address.formatted",
            Self::StreetAddress => "address.street_address",
            Self::Locality => "address.locality",
            Self::Region => "address.region",
            Self::PostalCode => "address.postal_code",
            Self::Country => "address.country",
            f => name(f),
        }
    }

    pub fn parse(claim: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.claim() == claim)
    }

    fn is_address(self) -> bool {
        matches!(
            self,
            Self::AddressFormatted
                | Self::StreetAddress
                | Self::Locality
                | Self::Region
                | Self::PostalCode
                | Self::Country
        )
    }
}

impl Profile {
    /// Sets one field after checking it; an empty value clears it. `Field::Name` lives on the
    /// user, not here, and is refused.
    pub fn set(&mut self, field: Field, value: &str) -> Result<(), String> {
        let v = check(field, value)?;
        let a = &mut self.address;
        let slot = match field {
            Field::Name => return Err("name is not a profile field".into()),
            Field::GivenName => &mut self.given_name,
            Field::FamilyName => &mut self.family_name,
            Field::MiddleName => &mut self.middle_name,
            Field::Nickname => &mut self.nickname,
            Field::Picture => &mut self.picture,
            Field::Website => &mut self.website,
            Field::Gender => &mut self.gender,
            Field::Birthdate => &mut self.birthdate,
            Field::Zoneinfo => &mut self.zoneinfo,
            Field::Locale => &mut self.locale,
            Field::PhoneNumber => {
                if v != self.phone_number {
                    // A new number is not verified until someone says so.
                    self.phone_number_verified = false;
                }
                &mut self.phone_number
            }
            Field::AddressFormatted => &mut a.formatted,
            Field::StreetAddress => &mut a.street_address,
            Field::Locality => &mut a.locality,
            Field::Region => &mut a.region,
            Field::PostalCode => &mut a.postal_code,
            Field::Country => &mut a.country,
        };
        *slot = v;
        Ok(())
    }
}

/// Checks one profile value; an empty value clears the field (returns `None`).
pub fn check(field: Field, value: &str) -> Result<Option<String>, String> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    // Only the multi-line address parts may hold line breaks.
    let allowed_control = |c: char| field.is_address() && matches!(c, '\n' | '\r');
    if v.chars().any(|c| c.is_control() && !allowed_control(c)) {
        return Err(format!(
            "{} must not contain control characters",
            name(field)
        ));
    }
    let max = if field.is_address() { 500 } else { 200 };
    if v.chars().count() > max {
        return Err(format!("{} must be at most {max} characters", name(field)));
    }
    match field {
        Field::Picture | Field::Website => {
            let ok = url::Url::parse(v)
                .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some());
            if !ok {
                return Err(format!("{} must be an http(s) URL", name(field)));
            }
        }
        // OIDC Core §5.1: YYYY-MM-DD, or YYYY alone; 0000 for a year withheld.
        Field::Birthdate if !valid_birthdate(v) => {
            return Err("birthdate must be YYYY-MM-DD or YYYY".into());
        }
        // An IANA time zone name such as Europe/Paris.
        Field::Zoneinfo => {
            let ok = v.split('/').count() >= 2
                && v.split('/').all(|p| {
                    !p.is_empty()
                        && p.chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
                })
                || v == "UTC";
            if !ok {
                return Err("zoneinfo must be a time zone name such as Europe/Paris".into());
            }
        }
        // BCP 47 language tag, e.g. en-US or fr-CA.
        Field::Locale => {
            let ok = v.split(['-', '_']).enumerate().all(|(i, p)| {
                (if i == 0 { 2..=3 } else { 1..=8 }).contains(&p.len())
                    && p.chars().all(|c| c.is_ascii_alphanumeric())
            });
            if !ok {
                return Err("locale must be a language tag such as en-US".into());
            }
        }
        // OIDC Core §5.1 recommends E.164: + and 7 to 15 digits.
        Field::PhoneNumber => {
            let digits = v.strip_prefix('+').unwrap_or("");
            if !(7..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err("phone_number must be in E.164 form, such as +14155550123".into());
            }
        }
        _ => {}
    }
    Ok(Some(v.to_owned()))
}

/// YYYY, or a real calendar date YYYY-MM-DD (year 0000 withholds the year, so any leap day).
fn valid_birthdate(v: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = v.split('-').collect();
    match parts.as_slice() {
        [y] => y.len() == 4 && digits(y),
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
            let (Ok(year), Ok(month), Ok(day)) =
                (y.parse::<i32>(), m.parse::<u8>(), d.parse::<u8>())
            else {
                return false;
            };
            let year = if year == 0 { 2000 } else { year };
            time::Month::try_from(month)
                .ok()
                .and_then(|m| time::Date::from_calendar_date(year, m, day).ok())
                .is_some()
        }
        _ => false,
    }
}

fn name(field: Field) -> &'static str {
    match field {
        Field::Name => "name",
        Field::GivenName => "given_name",
        Field::FamilyName => "family_name",
        Field::MiddleName => "middle_name",
        Field::Nickname => "nickname",
        Field::Picture => "picture",
        Field::Website => "website",
        Field::Gender => "gender",
        Field::Birthdate => "birthdate",
        Field::Zoneinfo => "zoneinfo",
        Field::Locale => "locale",
        Field::PhoneNumber => "phone_number",
        Field::AddressFormatted => "address formatted",
        Field::StreetAddress => "address street_address",
        Field::Locality => "address locality",
        Field::Region => "address region",
        Field::PostalCode => "address postal_code",
        Field::Country => "address country",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_claim_is_checked_by_type() {
        assert_eq!(
            check(Field::GivenName, "  Ada ").unwrap().as_deref(),
            Some("Ada")
        );
        assert_eq!(check(Field::GivenName, "").unwrap(), None);
        assert!(check(Field::GivenName, "a\0b").is_err());
        assert!(check(Field::Nickname, &"x".repeat(201)).is_err());
        assert!(check(Field::Picture, "https://example.com/a.png").is_ok());
        assert!(check(Field::Picture, "javascript:alert(1)").is_err());
        assert!(check(Field::Website, "example.com").is_err());
        assert!(check(Field::Birthdate, "1990-02-28").is_ok());
        assert!(check(Field::Birthdate, "0000-02-29").is_ok());
        assert!(check(Field::Birthdate, "1990").is_ok());
        assert!(check(Field::Birthdate, "1990-02-30").is_err());
        assert!(check(Field::Birthdate, "28/02/1990").is_err());
        assert!(check(Field::Zoneinfo, "Europe/Paris").is_ok());
        assert!(check(Field::Zoneinfo, "America/Argentina/Buenos_Aires").is_ok());
        assert!(check(Field::Zoneinfo, "Paris").is_err());
        assert!(check(Field::Locale, "en-US").is_ok());
        assert!(check(Field::Locale, "fr").is_ok());
        assert!(check(Field::Locale, "english please").is_err());
        assert!(check(Field::PhoneNumber, "+14155550123").is_ok());
        assert!(check(Field::PhoneNumber, "4155550123").is_err());
        assert!(check(Field::PhoneNumber, "+1 415").is_err());
        assert!(check(Field::StreetAddress, "1 Main St\nApt 2").is_ok());
        assert!(check(Field::StreetAddress, "1 Main St\0").is_err());
        assert!(check(Field::GivenName, "Ada\nLovelace").is_err());
    }

    #[test]
    fn set_updates_and_clears() {
        let mut p = Profile::default();
        p.set(Field::PhoneNumber, "+14155550123").unwrap();
        p.phone_number_verified = true;
        p.set(Field::PhoneNumber, "+14155550123").unwrap();
        assert!(p.phone_number_verified, "same number stays verified");
        p.set(Field::PhoneNumber, "+14155550999").unwrap();
        assert!(!p.phone_number_verified, "a new number is unverified");
        p.set(Field::Country, "FR").unwrap();
        assert_eq!(p.address.country.as_deref(), Some("FR"));
        p.set(Field::Country, "").unwrap();
        assert!(p.address.is_empty());
        assert!(p.set(Field::Birthdate, "soon").is_err());
        assert!(p.set(Field::Name, "x").is_err());
    }
}
