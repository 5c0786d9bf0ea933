-- RFC 7523 private_key_jwt: a client's public keys, as a JWK Set held here or at its URL
-- (RFC 7591 §2: one or the other).
alter table clients add column jwks text;
alter table clients add column jwks_uri text;
