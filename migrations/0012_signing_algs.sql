-- Per-client signing algorithms (OIDC Registration §2 id_token_signed_response_alg; the access
-- token's by the same pattern). RS256 stays the default, as OIDC requires.
alter table clients add column id_token_signed_response_alg text not null default 'RS256';
alter table clients add column access_token_signed_response_alg text not null default 'RS256';
