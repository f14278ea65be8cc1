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
	"slices"
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
	// WebhookDisabled tells a tenant's other endpoints that one was disabled after failing.
	WebhookDisabled = "webhook.disabled"
	// WebhookTest is sent on request to one endpoint, whatever it subscribed to.
	WebhookTest = "webhook.test"
)

// Types lists the event types of the tenant's files, in the order of the documentation.
var Types = []string{
	UploadStored, UploadDeleted, UploadExpired, SessionDeleted, SessionExpired,
	FileStored, FileDeleted, TokenConsumed, TokenDelivered, TokenRevoked,
}

// Subscribable lists the types an endpoint may subscribe to: those of the files, and
// webhook.disabled. A test event is not one: it goes to the endpoint it was asked for.
var Subscribable = append(slices.Clip(Types), WebhookDisabled)

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

// TestData is the data of webhook.test: the endpoint asked to receive it, and who asked.
type TestData struct {
	WebhookID uuid.UUID `json:"webhookId"`
	Login     *string   `json:"login"`
}

// DisabledData is the data of webhook.disabled: the endpoint disabled, when and why. Nobody
// logged in caused it.
type DisabledData struct {
	WebhookID  uuid.UUID `json:"webhookId"`
	URL        string    `json:"url"`
	DisabledAt time.Time `json:"disabledAt"`
	Reason     string    `json:"reason"`
	Login      *string   `json:"login"`
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
		rec, err := newEvent(ev, now)
		if err != nil {
			return err
		}
		recs[i] = rec
		types[rec.ID] = ev.Type
	}
	rows, err := tx.Outbox().Record(ctx, recs)
	if err != nil || len(rows) == 0 {
		return err
	}
	ids := make([]uuid.UUID, len(rows))
	counted := map[uuid.UUID]bool{}
	for i, r := range rows {
		ids[i] = r.ID
		if !counted[r.EventID] {
			counted[r.EventID] = true
			o.metrics.event(types[r.EventID])
		}
	}
	return o.queue(ctx, tx, ids...)
}

// RecordFor records ev in tx for one enabled endpoint of ev's tenant, whatever it subscribed
// to, and returns the event's id; store.ErrNotFound when the tenant has no such endpoint.
func (o *Outbox) RecordFor(ctx context.Context, tx *store.Tx, webhookID uuid.UUID, ev Event) (uuid.UUID, error) {
	rec, err := newEvent(ev, time.Now().UTC())
	if err != nil {
		return uuid.Nil, err
	}
	delivery, err := tx.Tenant(ev.TenantID).Webhooks().RecordEventFor(ctx, webhookID, rec)
	if err != nil {
		return uuid.Nil, err
	}
	o.metrics.event(ev.Type)
	return rec.ID, o.queue(ctx, tx, delivery)
}

// newEvent is ev as recorded: a new id (UUIDv7) and the body endpoints receive.
func newEvent(ev Event, now time.Time) (store.NewEvent, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return store.NewEvent{}, err
	}
	b, err := json.Marshal(body{Type: ev.Type, Timestamp: now, Data: ev.Data})
	if err != nil {
		return store.NewEvent{}, fmt.Errorf("event %s: %w", ev.Type, err)
	}
	return store.NewEvent{ID: id, TenantID: ev.TenantID, Type: ev.Type, Body: string(b)}, nil
}

// queue inserts in tx the jobs of the deliveries.
func (o *Outbox) queue(ctx context.Context, tx *store.Tx, deliveries ...uuid.UUID) error {
	jobs := make([]river.InsertManyParams, len(deliveries))
	for i, id := range deliveries {
		jobs[i] = river.InsertManyParams{Args: deliverArgs{DeliveryID: id}}
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
