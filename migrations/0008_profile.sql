-- The standard claims of OIDC Core §5.1 beyond name and email, as one JSON object, and when
-- the profile last changed (`updated_at`).
alter table users add column profile text not null default '{}';
alter table users add column updated_at bigint not null default 0;
update users set updated_at = created_at;
