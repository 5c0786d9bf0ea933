//! The messages Gatehouse sends: a plain-text and an HTML body from one pair of templates, so
//! every message reads alike. The HTML is one table-free column with inline styles, which mail
//! clients render as they should.
use askama::Template;
use serde::{Deserialize, Serialize};

/// A message as queued: recipient, subject and both bodies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// What it is (`reset`, `verify`, …), for the logs; never its content.
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// One message's words: a greeting, paragraphs, one button and what to do if it was not you.
struct Body<'a> {
    site: &'a str,
    paragraphs: Vec<String>,
    action: Option<(&'a str, &'a str)>,
    footer: &'a str,
}

#[derive(Template)]
#[template(path = "mail/message.txt")]
struct Text<'a> {
    body: &'a Body<'a>,
}

#[derive(Template)]
#[template(path = "mail/message.html")]
struct Html<'a> {
    body: &'a Body<'a>,
    subject: &'a str,
}

fn build(kind: &str, to: &str, subject: String, body: Body<'_>) -> Message {
    let text = Text { body: &body }.render().unwrap_or_default();
    let html = Html {
        body: &body,
        subject: &subject,
    }
    .render()
    .unwrap_or_default();
    Message {
        kind: kind.to_owned(),
        to: to.to_owned(),
        subject,
        text,
        html,
    }
}

/// The issuer's host (and port), as people know the sign-in service: `id.example.com`.
pub fn site_name(issuer: &str) -> String {
    issuer
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned()
}

pub fn reset(issuer: &str, to: &str, username: &str, link: &str, minutes: i64) -> Message {
    let site = site_name(issuer);
    build(
        "reset",
        to,
        format!("Reset your password for {site}"),
        Body {
            site: &site,
            paragraphs: vec![
                format!("Someone asked to reset the password of the account {username} on {site}."),
                format!(
                    "To choose a new password, open this link within {minutes} minutes. It works once."
                ),
            ],
            action: Some(("Choose a new password", link)),
            footer: "If you did not ask for this, ignore this message: your password stays as it is.",
        },
    )
}

pub fn verify(issuer: &str, to: &str, username: &str, link: &str, hours: i64) -> Message {
    let site = site_name(issuer);
    build(
        "verify",
        to,
        format!("Confirm your email address for {site}"),
        Body {
            site: &site,
            paragraphs: vec![
                format!("This address was given for the account {username} on {site}."),
                format!("To confirm that it is yours, open this link within {hours} hours."),
            ],
            action: Some(("Confirm my address", link)),
            footer: "If this is not your account, ignore this message: the address stays unconfirmed.",
        },
    )
}

pub fn invite(issuer: &str, to: &str, link: &str, days: i64) -> Message {
    let site = site_name(issuer);
    build(
        "invite",
        to,
        format!("You are invited to {site}"),
        Body {
            site: &site,
            paragraphs: vec![
                format!(
                    "You are invited to create an account on {site}, which signs you in to your team's apps."
                ),
                format!("Open this link within {days} days to choose your username and password."),
            ],
            action: Some(("Create my account", link)),
            footer: "If you do not know why you got this, ignore it: no account is created.",
        },
    )
}

pub fn sign_up(issuer: &str, to: &str, link: &str, hours: i64) -> Message {
    let site = site_name(issuer);
    build(
        "signup",
        to,
        format!("Finish creating your account on {site}"),
        Body {
            site: &site,
            paragraphs: vec![
                format!("Someone started creating an account on {site} with this address."),
                format!(
                    "To go on, open this link within {hours} hours and choose your username and password."
                ),
            ],
            action: Some(("Create my account", link)),
            footer: "If it was not you, ignore this message: no account is created.",
        },
    )
}

/// Sent instead of a sign-up link when the address already has an account, so the sign-up
/// page never tells anyone which addresses have one.
pub fn already_registered(issuer: &str, to: &str, sign_in: &str) -> Message {
    let site = site_name(issuer);
    build(
        "signup-existing",
        to,
        format!("You already have an account on {site}"),
        Body {
            site: &site,
            paragraphs: vec![
                format!("Someone tried to create an account on {site} with this address, which already has one."),
                "Sign in with it instead. If you forgot its password, choose \"Forgot password?\" on the sign-in page.".into(),
            ],
            action: Some(("Sign in", sign_in)),
            footer: "If it was not you, ignore this message: nothing changed.",
        },
    )
}

pub fn test(issuer: &str, to: &str) -> Message {
    let site = site_name(issuer);
    build(
        "test",
        to,
        format!("Test message from {site}"),
        Body {
            site: &site,
            paragraphs: vec![format!(
                "This is a test message from {site}. Its mail settings work."
            )],
            action: None,
            footer: "You received it because an administrator ran `gatehouse mail test`.",
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_carry_the_link_and_escape_html() {
        let m = reset(
            "https://id.example.com",
            "a@example.com",
            "<alice>",
            "https://id.example.com/login/reset?token=abc&x=1",
            15,
        );
        assert_eq!(m.subject, "Reset your password for id.example.com");
        assert!(
            m.text
                .contains("https://id.example.com/login/reset?token=abc&x=1")
        );
        assert!(m.text.contains("account <alice> on id.example.com"));
        assert!(
            m.html
                .contains("href=\"https://id.example.com/login/reset?token=abc&#38;x=1\"")
                || m.html
                    .contains("href=\"https://id.example.com/login/reset?token=abc&amp;x=1\"")
        );
        assert!(m.html.contains("&#60;alice&#62;") || m.html.contains("&lt;alice&gt;"));
        assert!(!m.html.contains("<alice>"));
        assert!(!m.html.contains("<script"));
    }

    #[test]
    fn site_name_is_the_issuer_host() {
        assert_eq!(site_name("https://id.example.com"), "id.example.com");
        assert_eq!(site_name("http://127.0.0.1:8080"), "127.0.0.1:8080");
    }
}
