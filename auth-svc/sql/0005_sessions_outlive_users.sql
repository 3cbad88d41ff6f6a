-- auth-svc migration 0005: a revoked session outlives its user.
--
-- A gateway that starts (or catches up) re-reads the sessions revoked in
-- the last two access-token lifetimes (op sessions.revoked) and refuses
-- their tokens. A session deleted together with its user (ON DELETE
-- CASCADE) was missing from that list, so the deleted user's access tokens
-- passed a restarted gateway until they expired. Now a user's deletion
-- only clears the session's user_id (a session can still never be created
-- for a user that does not exist: the foreign key stays) and ends the
-- session if it was not ended yet; sessions.revoked deletes the sessions
-- whose user is gone a day after their revocation, long after their last
-- access token expired.

ALTER TABLE sessions DROP CONSTRAINT sessions_organization_id_user_id_fkey;
ALTER TABLE sessions ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE sessions ADD CONSTRAINT sessions_user_fkey FOREIGN KEY (organization_id, user_id)
    REFERENCES users (organization_id, id) ON DELETE SET NULL (user_id);

CREATE FUNCTION sessions_end_with_user () RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.user_id IS NULL AND NEW.revoked_at IS NULL THEN
        NEW.revoked_at := now ();
        NEW.revoke_reason := 'user deleted';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER sessions_end_with_user BEFORE UPDATE OF user_id ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_end_with_user ();

CREATE INDEX sessions_orphans ON sessions (revoked_at) WHERE user_id IS NULL;
