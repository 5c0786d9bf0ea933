-- OpenID Connect Back-Channel Logout 1.0: where a client's back end hears of a session's end.
alter table clients add column backchannel_logout_uri text;
alter table clients add column backchannel_logout_session_required bigint not null default 0;
-- The session id (`sid`) a family's ID tokens carry; offline families outlive their session
-- but keep naming it.
alter table grants add column sid text;
-- What a signed-in session is bound to (the hash of its browser key), so the clients that got
-- tokens in it can be told when it ends, and their records dropped with it.
alter table sessions add column session_key text;
create index sessions_session_key on sessions (session_key);
-- Clients with a back-channel logout URI that got a code in a session, for which user (two
-- people can sign in, one after the other, in one browser session), and when they last did.
create table session_clients (
    session_key text not null,
    client_id text not null,
    user_id text not null,
    sid text not null,
    seen_at bigint not null,
    primary key (session_key, client_id, user_id)
);
create index session_clients_user on session_clients (user_id);
create index session_clients_seen on session_clients (seen_at);
-- Logout tokens to deliver. Nothing secret is stored: each token is signed when it is sent.
create table logout_outbox (
    id text primary key,
    client_id text not null,
    user_id text not null,
    sid text not null,
    created_at bigint not null,
    expires_at bigint not null,
    next_attempt_at bigint not null,
    attempts bigint not null default 0,
    claimed_until bigint not null default 0
);
create index logout_outbox_due on logout_outbox (next_attempt_at);
create index logout_outbox_client on logout_outbox (client_id);
