-- auth-svc migration 0010: the API keys revoked recently, for the
-- gateways' minute (apikeys.revoked): a gateway keeps a resolved key past
-- the minute only while it has read every revocation since (gw_auth.c).
-- Partial: only revoked keys are in it, so it stays small next to the
-- keys that live.
CREATE INDEX api_keys_revoked_at ON api_keys (revoked_at) WHERE revoked_at IS NOT NULL;
