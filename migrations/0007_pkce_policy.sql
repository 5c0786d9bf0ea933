-- Per-client PKCE policy: 0 = required (the default), 1 = optional (confidential clients only).
alter table clients add column pkce_optional bigint not null default 0;
