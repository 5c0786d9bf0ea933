-- JWTs that are single use (RFC 9449 DPoP proofs, RFC 7523 client assertions), by the hash
-- of what names them, kept until they could no longer pass, so a replay is refused on every
-- replica.
create table seen_jwts (
    id_hash text primary key,
    expires_at bigint not null
);
create index seen_jwts_expiry on seen_jwts (expires_at);
-- The key a public client's refresh tokens are bound to (RFC 9449 §5), per family.
alter table grants add column dpop_jkt text;
-- A client whose every token request must carry a proof (RFC 9449 §5.2).
alter table clients add column dpop_bound bigint not null default 0;
