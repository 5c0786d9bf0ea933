-- APIs (resource servers) and the scopes each defines; a scope name belongs to one API.
create table apis (
    id text primary key,
    identifier text not null unique,
    name text not null,
    created_at bigint not null,
    updated_at bigint not null
);
create table api_scopes (
    name text primary key,
    api_id text not null references apis(id) on delete cascade,
    description text not null
);
create index api_scopes_api on api_scopes (api_id);

-- Roles are named sets of API scopes; groups are named sets of users that hold roles.
create table roles (
    id text primary key,
    name text not null unique,
    description text not null default '',
    created_at bigint not null
);
create table role_scopes (
    role_id text not null references roles(id) on delete cascade,
    scope text not null references api_scopes(name) on delete cascade,
    primary key (role_id, scope)
);
create table user_groups (
    id text primary key,
    name text not null unique,
    description text not null default '',
    created_at bigint not null
);
create table group_roles (
    group_id text not null references user_groups(id) on delete cascade,
    role_id text not null references roles(id) on delete cascade,
    primary key (group_id, role_id)
);
create table group_members (
    group_id text not null references user_groups(id) on delete cascade,
    user_id text not null references users(id) on delete cascade,
    primary key (group_id, user_id)
);
create index group_members_user on group_members (user_id);
create table user_roles (
    user_id text not null references users(id) on delete cascade,
    role_id text not null references roles(id) on delete cascade,
    primary key (user_id, role_id)
);

-- RFC 8707: the APIs an authorization covers, space-separated identifiers.
alter table authorization_codes add column resource text not null default '';
alter table grants add column resource text not null default '';
