-- Access tokens are self-contained: issuing one writes nothing. Revoking one writes its jti
-- here, kept until the token would have expired; a user's tokens are also revoked with their
-- grant, which every code redemption now records.
create table revoked_tokens (
    jti text primary key,
    expires_at bigint not null
);
create index revoked_tokens_expires_at on revoked_tokens(expires_at);
insert into revoked_tokens (jti, expires_at)
    select jti, expires_at from access_tokens where revoked_at is not null;
drop table access_tokens;
