package store

import (
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"fileshare/internal/store/internal/dbsqlc"
)

// The repositories. Every query of the service is a method of one of them, and returns this
// package's own types: the generated package (internal/dbsqlc) and its row types are invisible
// outside store, as River keeps its sqlc code inside its driver.
//
// There are three ways in, and the name of each says why its queries may run:
//
//   - Tenant(id) is the only way to the data a tenant owns (sessions, file entries, download
//     tokens and upload URLs, uploads, resumable uploads, quota, webhooks): its repositories
//     fill tenant_id in every query themselves, so that a query of tenant data cannot be made
//     without its tenant (coder's dbauthz, done with types). A foreign id is "not found".
//   - The …ByID and …ByHash repositories are the capability lookups, deliberately not
//     tenant-scoped: the unguessable id or token in the URL is the authority (a download link,
//     a token link, an upload URL, a tus upload URL, and the session below the last three),
//     and its holder has no credentials. HoldsByID releases a quota hold by its random id,
//     which only the upload holding it knows. UploadBatch inserts rows that Tenant(id) bound.
//   - Purge, Cache, Auth, Outbox, Deliveries and the …ByName repositories of the operator's
//     commands are the maintenance of the whole database, across tenants.

// Repos are the repositories on one connection: the pool (Store) or a transaction (Tx). Each
// call is bounded by the query timeout and its errors translated (see executor).
type Repos struct {
	q *dbsqlc.Queries
}

func newRepos(db dbsqlc.DBTX, timeout time.Duration) Repos {
	return Repos{q: dbsqlc.New(executor{db: db, timeout: timeout})}
}

// Tenant is the handle to the data of the tenant with id.
func (r Repos) Tenant(id int64) TenantScope { return TenantScope{q: r.q, id: id} }

// TenantScope holds the repositories of one tenant's data; each query it makes is scoped to
// that tenant in its SQL.
type TenantScope struct {
	q  *dbsqlc.Queries
	id int64
}

// ID is the tenant's id.
func (t TenantScope) ID() int64 { return t.id }

// Tx is a transaction (Store.InTx): the same repositories as on the pool, bound to
// the transaction.
type Tx struct {
	Repos
	tx pgx.Tx
}

// PgxTx is the transaction itself, for a library that writes in it: River inserts the
// delivery jobs of webhook events in the transaction of their change.
func (t *Tx) PgxTx() pgx.Tx { return t.tx }

// After is a position in a keyset-paginated list: the last row's time and id. A list that
// is given one returns the rows after it in the list's order.
type After struct {
	At time.Time
	ID uuid.UUID
}

// FileInfo is what an event or a download says of a file's content; size and digest are nil
// while a file entry is pending.
type FileInfo struct {
	Name        string
	ContentType string
	Size        *int64
	SHA256      []byte
}

func pgUUID(id *uuid.UUID) pgtype.UUID {
	if id == nil {
		return pgtype.UUID{}
	}
	return pgtype.UUID{Bytes: *id, Valid: true}
}

func uuidPtr(id pgtype.UUID) *uuid.UUID {
	if !id.Valid {
		return nil
	}
	u := uuid.UUID(id.Bytes)
	return &u
}

// maxRows is a page's row limit as the queries take it.
func maxRows(n int) int32 { return int32(n) }

// seconds is a duration as the queries take it: whole seconds.
func seconds(d time.Duration) int64 { return int64(d / time.Second) }

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
