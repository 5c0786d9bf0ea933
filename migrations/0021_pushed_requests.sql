-- RFC 9126: pushed authorization requests, each used once within its lifetime; only the
-- request_uri's hash is kept.
create table pushed_requests (
    uri_hash text primary key,
    client_id text not null references clients(id) on delete cascade,
    params text not null,
    expires_at bigint not null
);
create index pushed_requests_expiry on pushed_requests (expires_at);
-- A client that may only send pushed requests (RFC 9126 §6).
alter table clients add column require_par bigint not null default 0;
