-- RFC 9449 DPoP. Proofs already seen, by the hash of key thumbprint and jti, kept until
-- their iat falls out of the acceptance window, so a replay is refused on every replica.
create table dpop_proofs (
    proof_hash text primary key,
    expires_at bigint not null
);
create index dpop_proofs_expiry on dpop_proofs (expires_at);
-- The key a public client's refresh tokens are bound to (RFC 9449 §5), per family.
alter table grants add column dpop_jkt text;
-- A client whose every token request must carry a proof (RFC 9449 §5.2).
alter table clients add column dpop_bound bigint not null default 0;
