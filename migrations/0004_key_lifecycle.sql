-- Key lifecycle: next (published, not signing) -> current (signing) -> retired (published until
-- its tokens expire) -> deleted. Leases let exactly one replica perform each rotation step.
alter table signing_keys add column activates_at bigint;
alter table signing_keys add column retires_at bigint;

create table leases (
    name text primary key,
    holder text not null,
    expires_at bigint not null
);
