-- Failed sign-in counters per username and per client address, for back-off.
create table login_throttle (
    key text primary key,
    failures bigint not null,
    last_failure_at bigint not null,
    blocked_until bigint not null
);
