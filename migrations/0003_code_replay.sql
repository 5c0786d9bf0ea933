-- A replayed code is marked, so tokens issued from it concurrently are revoked too.
alter table authorization_codes add column replayed_at bigint;
