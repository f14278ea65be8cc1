-- name: UploadGet :one
-- Public download: the unguessable id is the capability, so no tenant scope here.
SELECT *, (expires_at <= now())::bool AS expired FROM uploads WHERE id = @id;

-- name: UploadDelete :one
DELETE FROM uploads WHERE id = @id AND tenant_id = @tenant_id
RETURNING blob_key, purged_at, name, content_type, size, sha256, created_by, expires_at;

-- name: UploadCreateMany :many
-- Makes the rows of simple uploads, one or many in one statement (share.createUploads).
WITH u AS (
    SELECT unnest(@ids::uuid[]) AS id, unnest(@tenant_ids::bigint[]) AS tenant_id,
           unnest(@created_by::text[]) AS created_by, unnest(@names::text[]) AS name,
           unnest(@content_types::text[]) AS content_type, unnest(@sizes::bigint[]) AS size,
           unnest(@sha256s::bytea[]) AS sha256, unnest(@blob_keys::text[]) AS blob_key,
           unnest(@ttl_seconds::bigint[]) AS ttl_seconds
)
INSERT INTO uploads (id, tenant_id, created_by, name, content_type, size, sha256, blob_key, expires_at)
SELECT u.id, u.tenant_id, u.created_by, u.name, u.content_type, u.size, u.sha256, u.blob_key,
       now() + u.ttl_seconds * interval '1 second'
FROM u
RETURNING *;
