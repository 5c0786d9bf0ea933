-- Client options, refresh-token families (grants), and their rotating refresh tokens.
alter table clients add column allowed_scopes text;
alter table clients add column grant_types text not null default '["authorization_code"]';
alter table clients add column post_logout_redirect_uris text not null default '[]';
alter table clients add column allowed_origins text not null default '[]';
alter table clients add column refresh_token_ttl bigint;
alter table clients add column refresh_idle_ttl bigint;
alter table clients add column resource_audiences text not null default '[]';

alter table authorization_codes add column session_key text;
alter table access_tokens add column grant_id text;
create index access_tokens_grant_id on access_tokens(grant_id);

create table grants (
    id text primary key,
    client_id text not null references clients(id) on delete cascade,
    user_id text not null references users(id) on delete cascade,
    scope text not null,
    auth_time bigint not null,
    session_key text,
    code_hash text,
    created_at bigint not null,
    expires_at bigint not null,
    revoked_at bigint
);
create index grants_user_client on grants(user_id, client_id);
create index grants_session_key on grants(session_key);
create index grants_code_hash on grants(code_hash);

create table refresh_tokens (
    token_hash text primary key,
    grant_id text not null references grants(id) on delete cascade,
    created_at bigint not null,
    expires_at bigint not null,
    rotated_at bigint,
    replay_response text
);
create index refresh_tokens_grant_id on refresh_tokens(grant_id);
