-- Whose session it is (signed in, or half-way through a two-step sign-in), so a factor change
-- or an admin's reset can end that user's other sessions. Null for anonymous sessions.
alter table sessions add column user_id text;
create index sessions_user on sessions(user_id);
