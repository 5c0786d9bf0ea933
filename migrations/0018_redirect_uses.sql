-- When each redirect URI of a client last brought back a code that was redeemed (to within an
-- hour), for the posture panel's unused redirect URIs.
create table client_redirect_uses (
    client_id text not null references clients(id) on delete cascade,
    redirect_uri text not null,
    last_used_at bigint not null,
    primary key (client_id, redirect_uri)
);
