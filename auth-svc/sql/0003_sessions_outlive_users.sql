-- auth-svc migration 0003: a revoked session outlives its user.
--
-- A gateway that starts (or catches up) re-reads the sessions revoked in
-- the last two access-token lifetimes (op sessions.revoked) and refuses
-- their tokens. A session deleted together with its user (ON DELETE
-- CASCADE) was missing from that list, so the deleted user's access tokens
-- passed a restarted gateway until they expired. Sessions now stay when
-- their user goes (they are revoked first); sessions.revoked deletes the
-- ones whose user is gone a day after their revocation, long after their
-- last access token expired.

ALTER TABLE sessions DROP CONSTRAINT sessions_organization_id_user_id_fkey;
