-- Gatehouse schema, version 1. Integer columns are unix seconds or 0/1 flags.
create table users (
    id text primary key,
    username text not null unique,
    email text,
    name text,
    password_hash text not null,
    disabled bigint not null default 0,
    created_at bigint not null
);

create table clients (
    id text primary key,
    name text not null,
    secret_hash text,
    redirect_uris text not null,
    audiences text not null,
    skip_consent bigint not null default 0,
    created_at bigint not null
);

create table flows (
    id text primary key,
    data text not null,
    expires_at bigint not null
);

create table authorization_codes (
    code_hash text primary key,
    client_id text not null references clients(id) on delete cascade,
    user_id text not null references users(id) on delete cascade,
    redirect_uri text not null,
    scope text not null,
    nonce text,
    code_challenge text not null,
    code_challenge_method text not null,
    auth_time bigint not null,
    expires_at bigint not null,
    consumed_at bigint,
    created_at bigint not null
);

create table access_tokens (
    jti text primary key,
    client_id text not null references clients(id) on delete cascade,
    user_id text references users(id) on delete cascade,
    code_hash text,
    scope text not null,
    expires_at bigint not null,
    revoked_at bigint,
    created_at bigint not null
);
create index access_tokens_code_hash on access_tokens(code_hash);

create table consents (
    user_id text not null references users(id) on delete cascade,
    client_id text not null references clients(id) on delete cascade,
    scope text not null,
    created_at bigint not null,
    updated_at bigint not null,
    primary key (user_id, client_id)
);

create table sessions (
    id text primary key,
    data text not null,
    expires_at bigint not null
);

create table signing_keys (
    kid text primary key,
    alg text not null,
    state text not null,
    private_key text not null,
    public_jwk text not null,
    created_at bigint not null
);
