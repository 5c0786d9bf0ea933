-- Pending flows are counted per browser and per client address, so both can be capped.
alter table flows add column browser_key text not null default '';
alter table flows add column address text not null default '';
alter table flows add column created_at bigint not null default 0;
create index flows_browser_key on flows(browser_key, created_at);
create index flows_address on flows(address, created_at);
