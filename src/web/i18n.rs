//! Page languages: Fluent catalogs in `locales/`, compiled into the binary. A request's
//! language is `ui_locales` (OIDC Core §3.1.2.1, remembered in the session from `/authorize`),
//! then `Accept-Language`, then English; it is set once per request by `choose_locale` and read
//! by the templates through `t`.
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use std::sync::LazyLock;
use tower_sessions::Session;

/// The languages Gatehouse's pages speak.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Locale {
    #[default]
    En,
    De,
    Fr,
}

impl Locale {
    pub const ALL: [Self; 3] = [Self::En, Self::De, Self::Fr];

    /// The BCP 47 tag (`lang` attribute, `ui_locales_supported`).
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::De => "de",
            Self::Fr => "fr",
        }
    }

    fn catalog(self) -> &'static str {
        match self {
            Self::En => include_str!("../../locales/en.ftl"),
            Self::De => include_str!("../../locales/de.ftl"),
            Self::Fr => include_str!("../../locales/fr.ftl"),
        }
    }

    /// A language tag's locale: its primary subtag decides (`de-CH` is German).
    pub fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Self::ALL.into_iter().find(|l| l.tag() == primary)
    }
}

/// `ui_locales`: space-separated tags in order of preference; the first one we speak wins.
pub fn from_ui_locales(value: &str) -> Option<Locale> {
    value.split(' ').find_map(Locale::from_tag)
}

/// RFC 9110 §12.5.4 `Accept-Language`: the highest-weighted language we speak; `q=0` means no.
pub fn from_accept_language(header: &str) -> Option<Locale> {
    let mut best: Option<(f32, usize, Locale)> = None;
    for (i, item) in header.split(',').enumerate().take(32) {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let Some(locale) = Locale::from_tag(tag) else {
            continue;
        };
        if q <= 0.0 {
            continue;
        }
        // Equal weights keep the header's order.
        if best.is_none_or(|(bq, bi, _)| q > bq || (q == bq && i < bi)) {
            best = Some((q, i, locale));
        }
    }
    best.map(|(_, _, l)| l)
}

/// Paths whose answers are JSON, JWTs, redirects to clients or static files never need a
/// language (error pages of `/authorize` do, so it counts as a page).
fn is_page(path: &str) -> bool {
    use crate::oauth::endpoints as ep;
    !(path.starts_with("/static/")
        || path.starts_with("/.well-known/")
        || [
            ep::TOKEN,
            ep::PAR,
            ep::JWKS,
            ep::USERINFO,
            ep::REVOKE,
            ep::INTROSPECT,
            ep::HEALTHZ,
            ep::READYZ,
        ]
        .contains(&path))
}

/// The session entry `/authorize` leaves when `ui_locales` named a language we speak.
pub const UI_LOCALE_KEY: &str = "ui_locale";

tokio::task_local! {
    static CURRENT: Locale;
}

/// The language of the request being served (English outside one).
pub fn current() -> Locale {
    CURRENT.try_with(|l| *l).unwrap_or_default()
}

/// Middleware: picks the request's language and serves the request in it.
pub async fn choose_locale(req: Request, next: Next) -> Response {
    // Only pages have words: the protocol endpoints and static files skip the work.
    if !is_page(req.uri().path()) {
        return next.run(req).await;
    }
    let from_session = match req.extensions().get::<Session>() {
        Some(s) => s.get::<Locale>(UI_LOCALE_KEY).await.ok().flatten(),
        None => None,
    };
    let locale = from_session
        .or_else(|| {
            req.headers()
                .get(axum::http::header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(from_accept_language)
        })
        .unwrap_or_default();
    let mut resp = CURRENT.scope(locale, next.run(req)).await;
    // Caches must not hand one language's page to another's reader.
    resp.headers_mut().append(
        axum::http::header::VARY,
        axum::http::HeaderValue::from_static("Accept-Language"),
    );
    resp
}

struct Catalogs {
    bundles: Vec<(Locale, FluentBundle<FluentResource>)>,
}

static CATALOGS: LazyLock<Catalogs> = LazyLock::new(|| Catalogs {
    bundles: Locale::ALL.into_iter().map(|l| (l, bundle(l))).collect(),
});

fn bundle(locale: Locale) -> FluentBundle<FluentResource> {
    let lang = locale
        .tag()
        .parse()
        .unwrap_or_else(|_| unic_langid::LanguageIdentifier::default());
    let mut bundle = FluentBundle::new_concurrent(vec![lang]);
    // Pages are HTML: no Unicode isolation marks around placeables.
    bundle.set_use_isolating(false);
    let resource = match FluentResource::try_new(locale.catalog().to_owned()) {
        Ok(r) => r,
        Err((r, errors)) => {
            tracing::error!(
                locale = locale.tag(),
                errors = errors.len(),
                "message catalog has errors"
            );
            r
        }
    };
    if let Err(errors) = bundle.add_resource(resource) {
        tracing::error!(
            locale = locale.tag(),
            errors = errors.len(),
            "message catalog has duplicates"
        );
    }
    bundle
}

fn format(locale: Locale, id: &str, args: Option<&FluentArgs>) -> Option<String> {
    let bundle = &CATALOGS.bundles.iter().find(|(l, _)| *l == locale)?.1;
    let pattern = bundle.get_message(id)?.value()?;
    let mut errors = Vec::new();
    let text = bundle.format_pattern(pattern, args, &mut errors);
    errors.is_empty().then(|| text.into_owned())
}

/// A message in the request's language, falling back to English, then to its id.
pub fn t(id: &str) -> String {
    message(current(), id, None)
}

/// A message, or `fallback` when no catalog has it (a scope without a description).
pub fn t_or(id: &str, fallback: &str) -> String {
    format(current(), id, None)
        .or_else(|| format(Locale::En, id, None))
        .unwrap_or_else(|| fallback.to_owned())
}

/// A message with one argument.
pub fn t1(id: &str, name: &str, value: &str) -> String {
    let mut args = FluentArgs::new();
    args.set(name, value.to_owned());
    message(current(), id, Some(&args))
}

/// A message with one argument whose text holds markup of ours: the argument is escaped
/// first, and the result goes into the page as it is (`|safe`).
pub fn t1_html(id: &str, name: &str, value: &str) -> String {
    t1(id, name, &escape(value))
}

/// A number argument (Fluent picks the plural form).
pub fn tn(id: &str, name: &str, value: i64) -> String {
    let mut args = FluentArgs::new();
    args.set(name, value);
    message(current(), id, Some(&args))
}

fn message(locale: Locale, id: &str, args: Option<&FluentArgs>) -> String {
    format(locale, id, args)
        .or_else(|| format(Locale::En, id, args))
        .unwrap_or_else(|| id.to_owned())
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The `lang` attribute of the page being rendered.
pub fn lang() -> &'static str {
    current().tag()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(from_ui_locales("de"), Some(Locale::De));
        assert_eq!(from_ui_locales("ja fr-CA en"), Some(Locale::Fr));
        assert_eq!(from_ui_locales("ja"), None);
        assert_eq!(
            from_accept_language("fr-FR,fr;q=0.9,en;q=0.8"),
            Some(Locale::Fr)
        );
        assert_eq!(from_accept_language("en;q=0.5, de"), Some(Locale::De));
        assert_eq!(from_accept_language("ja, de;q=0"), None);
        assert_eq!(from_accept_language("*"), None);
        assert_eq!(from_accept_language(""), None);
    }

    /// Every catalog parses, and German and French have every English message.
    #[test]
    fn catalogs_are_complete() {
        let ids = |l: Locale| -> Vec<String> {
            let r = FluentResource::try_new(l.catalog().to_owned())
                .unwrap_or_else(|(_, e)| panic!("{} does not parse: {e:?}", l.tag()));
            r.entries()
                .filter_map(|e| match e {
                    fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
                    _ => None,
                })
                .collect()
        };
        let en = ids(Locale::En);
        assert!(en.len() > 50);
        for l in [Locale::De, Locale::Fr] {
            let other = ids(l);
            let missing: Vec<_> = en.iter().filter(|id| !other.contains(id)).collect();
            assert!(missing.is_empty(), "{} lacks {missing:?}", l.tag());
            let extra: Vec<_> = other.iter().filter(|id| !en.contains(id)).collect();
            assert!(extra.is_empty(), "{} has unknown {extra:?}", l.tag());
        }
    }

    #[test]
    fn arguments_are_escaped_for_html() {
        let text = message(Locale::En, "login-continue-to", None);
        assert!(!text.is_empty());
        assert_eq!(escape("<b>&\"'"), "&lt;b&gt;&amp;&quot;&#39;");
        assert_eq!(
            message(Locale::De, "no-such-message", None),
            "no-such-message"
        );
    }
}
