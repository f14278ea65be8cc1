-- +goose Up
-- A resumable upload's lease: the request writing its bytes, on any instance, holds it in the
-- row, not on a connection of its own. The request renews it while it reads its client's body
-- and gives it back at its end; another request may take it once it ran out (its instance
-- died), or asks its holder to give it up (a client resuming after its connection broke).
ALTER TABLE tus_uploads
    ADD COLUMN lease_holder            uuid,
    ADD COLUMN lease_expires_at        timestamptz,
    ADD COLUMN lease_release_requested boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT tus_uploads_lease_check CHECK ((lease_holder IS NULL) = (lease_expires_at IS NULL));
COMMENT ON COLUMN tus_uploads.lease_holder IS 'Random id of the request that writes the upload now (PATCH, termination); NULL when none. Every change of the upload is conditional on it.';
COMMENT ON COLUMN tus_uploads.lease_expires_at IS 'When the holder''s lease runs out unless renewed (every second while it works); past it another request may take the upload. NULL when none holds it.';
COMMENT ON COLUMN tus_uploads.lease_release_requested IS 'Another request asks the holder to give the upload up: it stops reading its body, records what came in and releases the lease.';

-- +goose Down
ALTER TABLE tus_uploads
    DROP CONSTRAINT tus_uploads_lease_check,
    DROP COLUMN lease_release_requested,
    DROP COLUMN lease_expires_at,
    DROP COLUMN lease_holder;
