-- RFC 9449 §10: a code requested with `dpop_jkt` (or pushed with a DPoP proof) is redeemed
-- only with a proof of that key.
alter table authorization_codes add column dpop_jkt text;
