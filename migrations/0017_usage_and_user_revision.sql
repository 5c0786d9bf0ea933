-- When a client last got tokens (to within an hour), for the posture panel's unused clients.
alter table clients add column last_used_at bigint;
-- Each change to a user bumps its revision: the admin API's ETag for users.
alter table users add column revision bigint not null default 0;
