-- Outbound mail and the links it carries.
-- `email_verified` (OIDC Core §5.1) is true only once the person followed a link sent to the
-- address, or an admin vouched for it; changing the address clears it.
alter table users add column email_verified integer not null default 0;
-- Messages waiting to be sent. Recipient, subject and bodies are one blob sealed under the
-- master key: the links in them are secrets until used.
create table mail_outbox (
    id text primary key,
    sealed text not null,
    created_at bigint not null,
    expires_at bigint not null,
    next_attempt_at bigint not null,
    attempts bigint not null default 0,
    claimed_until bigint not null default 0
);
create index mail_outbox_due on mail_outbox (next_attempt_at);
-- Single-use links: password reset, email verification, invitation and sign-up. Only the
-- SHA-256 of each is kept. A newer link of the same purpose for the same user or address
-- replaces the older one.
create table account_links (
    token_hash text primary key,
    purpose text not null,
    user_id text references users (id) on delete cascade,
    email text not null,
    flow_id text,
    created_by text not null,
    created_at bigint not null,
    expires_at bigint not null
);
create index account_links_user on account_links (user_id, purpose);
create index account_links_email on account_links (email, purpose);
-- "Forgot password?" and sign-up look accounts up by address, ignoring case.
create index users_email_lower on users (lower(email));
