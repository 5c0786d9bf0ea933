-- Dynamic client registration (RFC 7591, RFC 7592). Initial access tokens are issued by an
-- admin and used once; a registered client's registration access token manages it. Both are
-- kept only as hashes.
create table registration_tokens (
    token_hash text primary key,
    created_by text not null,
    created_at bigint not null,
    expires_at bigint not null,
    used_at bigint
);
alter table clients add column registration_token_hash text;
