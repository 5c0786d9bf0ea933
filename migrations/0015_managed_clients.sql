-- Clients a clients file (`gatehouse apply -f`, GATEHOUSE_CLIENTS_FILE) manages: it deletes
-- those it no longer lists, and leaves every other client alone.
alter table clients add column managed_by text;
