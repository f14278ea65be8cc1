// Package webhook tells a tenant's HTTP endpoints what happened to its files (docs/behaviour.md
// §10): the endpoints themselves (Service), the outbox that records an event in the
// transaction of the change it reports (Outbox), and the background worker that delivers the
// events, signed as Standard Webhooks, from whichever instance is free (Dispatcher). The job
// queue under the dispatcher is River's, on the same PostgreSQL database.
package webhook

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"fileshare/internal/store"
)

// Event types.
const (
	UploadStored   = "upload.stored"
	UploadDeleted  = "upload.deleted"
	UploadExpired  = "upload.expired"
	SessionDeleted = "session.deleted"
	SessionExpired = "session.expired"
	FileStored     = "file.stored"
	FileDeleted    = "file.deleted"
	TokenConsumed  = "token.consumed"
	TokenDelivered = "token.delivered"
	TokenRevoked   = "token.revoked"
)

// Types lists every event type, in the order of the documentation.
var Types = []string{
	UploadStored, UploadDeleted, UploadExpired, SessionDeleted, SessionExpired,
	FileStored, FileDeleted, TokenConsumed, TokenDelivered, TokenRevoked,
}

// Event is a change to report to the endpoints of its tenant. Data is one of the *Data types
// below: ids, names, sizes, digests, logins and addresses, never a token, PIN or password.
type Event struct {
	Type     string
	TenantID int64
	Data     any
}

// File describes the content an event is about.
type File struct {
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Size        *int64 `json:"size"`
	SHA256      string `json:"sha256"`
}

// NewFile describes content for an event; size and digest are unknown (nil) for a file entry
// still pending.
func NewFile(name, contentType string, size *int64, sha256 []byte) File {
	f := File{Name: name, ContentType: contentType, Size: size}
	if sha256 != nil {
		f.SHA256 = hex.EncodeToString(sha256)
	}
	return f
}

// UploadData is the data of the upload.* events. Login is whoever caused the event: nil when
// nobody did (expiry).
type UploadData struct {
	UploadID uuid.UUID `json:"uploadId"`
	File
	CreatedBy string    `json:"createdBy"`
	ExpiresAt time.Time `json:"expiresAt"`
	Login     *string   `json:"login"`
}

// SessionData is the data of the session.* events.
type SessionData struct {
	SessionID uuid.UUID `json:"sessionId"`
	CreatedBy string    `json:"createdBy"`
	ExpiresAt time.Time `json:"expiresAt"`
	// Files is how many file entries went with the session.
	Files *int    `json:"files,omitempty"`
	Login *string `json:"login"`
}

// FileData is the data of the file.* events. A file stored through an upload URL has no login
// but the uploader's address.
type FileData struct {
	SessionID uuid.UUID `json:"sessionId"`
	FileID    uuid.UUID `json:"fileId"`
	File
	Login           *string `json:"login"`
	UploaderAddress *string `json:"uploaderAddress,omitempty"`
}

// TokenData is the data of the token.* events: the token's public ref, never the token.
type TokenData struct {
	SessionID uuid.UUID `json:"sessionId"`
	FileID    uuid.UUID `json:"fileId"`
	Ref       uuid.UUID `json:"ref"`
	File
	ConsumerAddress *string `json:"consumerAddress"`
	BytesSent       *int64  `json:"bytesSent,omitempty"`
	Login           *string `json:"login"`
}

// Address renders a client address for the data of an event; nil for none.
func Address(a *netip.Addr) *string {
	if a == nil || !a.IsValid() {
		return nil
	}
	s := a.Unmap().String()
	return &s
}

// body is what an endpoint receives.
type body struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// Outbox records events in the transaction of the change they report (docs/behaviour.md
// §10.3), with the queue jobs that deliver them: an event exists exactly when its change was
// committed.
type Outbox struct {
	jobs    *river.Client[pgx.Tx]
	metrics *Metrics
}

// NewOutbox returns an outbox on st's database; m may be nil.
func NewOutbox(st *store.Store, m *Metrics) *Outbox {
	// A client without queues or workers only inserts jobs; its configuration is fixed, so an
	// error here is a programming error.
	jobs, err := river.NewClient(riverpgxv5.New(st.Pool), &river.Config{Schema: store.QueueSchema})
	if err != nil {
		panic("webhook outbox: " + err.Error())
	}
	return &Outbox{jobs: jobs, metrics: m}
}

// Record records evs in tx. An event is written only while its tenant has an endpoint
// subscribed to its type, in the same statement that looks for one, so a tenant without
// webhooks pays one cheap statement and nothing else.
func (o *Outbox) Record(ctx context.Context, tx *store.Tx, evs ...Event) error {
	if len(evs) == 0 {
		return nil
	}
	now := time.Now().UTC()
	recs := make([]store.NewEvent, len(evs))
	types := make(map[uuid.UUID]string, len(evs))
	for i, ev := range evs {
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		b, err := json.Marshal(body{Type: ev.Type, Timestamp: now, Data: ev.Data})
		if err != nil {
			return fmt.Errorf("event %s: %w", ev.Type, err)
		}
		recs[i] = store.NewEvent{ID: id, TenantID: ev.TenantID, Type: ev.Type, Body: string(b)}
		types[id] = ev.Type
	}
	rows, err := tx.Outbox().Record(ctx, recs)
	if err != nil || len(rows) == 0 {
		return err
	}
	jobs := make([]river.InsertManyParams, len(rows))
	counted := map[uuid.UUID]bool{}
	for i, r := range rows {
		jobs[i] = river.InsertManyParams{Args: deliverArgs{DeliveryID: r.ID}}
		if !counted[r.EventID] {
			counted[r.EventID] = true
			o.metrics.event(types[r.EventID])
		}
	}
	if _, err := o.jobs.InsertManyFastTx(ctx, tx.PgxTx(), jobs); err != nil {
		return fmt.Errorf("queueing webhook deliveries: %w", err)
	}
	return nil
}

// deliverArgs is the queue job of one delivery: only its id, so that neither the event body nor
// a secret sits in the queue's tables.
type deliverArgs struct {
	DeliveryID uuid.UUID `json:"delivery_id"`
}

// Kind names the job in the queue.
func (deliverArgs) Kind() string { return "fileshare_webhook_delivery" }

// InsertOpts puts every delivery in the webhook queue with its retry budget.
func (deliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queueName, MaxAttempts: maxAttempts}
}
