-- The audit log: every admin change and security event, kept for the retention setting.
-- Ids sort by time (hex microsecond, then the emitting process's sequence).
create table audit_events (
    id text primary key,
    at bigint not null,
    event text not null,
    outcome text not null,
    actor text not null,
    target text not null,
    address text
);
create index audit_events_at on audit_events (at);
create index audit_events_actor on audit_events (actor, id);
create index audit_events_target on audit_events (target, id);
create index audit_events_event on audit_events (event, id);
