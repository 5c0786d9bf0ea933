-- Each change to a client bumps its revision: the admin API's ETag, so two admins editing one
-- client cannot overwrite each other. When its secret was last set, for the posture checks.
alter table clients add column revision bigint not null default 0;
alter table clients add column secret_set_at bigint;
