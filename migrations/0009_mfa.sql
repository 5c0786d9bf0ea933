-- Second factors: one authenticator app (TOTP) per user, ten recovery codes, any number of
-- passkeys. Secrets are sealed under the master key; recovery codes are kept as hashes.
create table totp_factors (
    user_id text primary key references users(id) on delete cascade,
    sealed_secret text not null,
    -- Null until the first code confirms the enrolment.
    confirmed_at bigint,
    -- The newest time step a code was accepted for: a code is good once (RFC 6238 §5.2).
    last_step bigint not null default 0,
    created_at bigint not null
);

create table recovery_codes (
    user_id text not null references users(id) on delete cascade,
    code_hash text not null,
    used_at bigint,
    created_at bigint not null,
    primary key (user_id, code_hash)
);

create table passkeys (
    credential_id text primary key,
    user_id text not null references users(id) on delete cascade,
    name text not null,
    -- The public credential and its counters, as the WebAuthn library serialises it.
    credential text not null,
    created_at bigint not null,
    last_used_at bigint
);
create index passkeys_user on passkeys(user_id);

-- Per-client policy: 1 = every sign-in for this client needs a second factor.
alter table clients add column require_mfa bigint not null default 0;
-- Administrators (the server may require a second factor of them).
alter table users add column admin bigint not null default 0;
update users set admin = 1 where username = 'admin';
-- How the user authenticated, for `amr`/`acr` in tokens (RFC 8176 values, space-separated).
alter table authorization_codes add column amr text not null default 'pwd';
alter table grants add column amr text not null default 'pwd';
