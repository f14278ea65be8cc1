package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"fileshare/internal/store/internal/dbsqlc"
)

// Webhook is a tenant's endpoint.
type Webhook struct {
	ID       uuid.UUID
	TenantID int64
	URL      string
	// Events are the types it subscribed to; empty means all of them.
	Events []string
	// Secret is the signing key.
	Secret    []byte
	CreatedBy string
	CreatedAt time.Time
}

func webhookFromRow(r dbsqlc.Webhook) Webhook {
	return Webhook{ID: r.ID, TenantID: r.TenantID, URL: r.Url, Events: r.Events, Secret: r.Secret, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt}
}

// NewWebhook is an endpoint to insert.
type NewWebhook struct {
	ID        uuid.UUID
	URL       string
	Events    []string
	Secret    []byte
	CreatedBy string
}

// WebhookAttempt is one attempt to deliver an event to an endpoint.
type WebhookAttempt struct {
	ID         uuid.UUID
	EventID    uuid.UUID
	Type       string
	Attempt    int32
	StartedAt  time.Time
	DurationMs int32
	// StatusCode is the answer's status, nil when there was none; then Error says why.
	StatusCode *int32
	Error      *string
}

// Webhooks are a tenant's endpoints and their delivery attempts.
type Webhooks struct {
	q        *dbsqlc.Queries
	tenantID int64
}

// Webhooks are the tenant's endpoints.
func (t TenantScope) Webhooks() Webhooks { return Webhooks{q: t.q, tenantID: t.id} }

// Create inserts an endpoint of the tenant.
func (w Webhooks) Create(ctx context.Context, in NewWebhook) (Webhook, error) {
	r, err := w.q.WebhookCreate(ctx, dbsqlc.WebhookCreateParams{
		ID: in.ID, TenantID: w.tenantID, Url: in.URL, Events: in.Events, Secret: in.Secret, CreatedBy: in.CreatedBy,
	})
	if err != nil {
		return Webhook{}, err
	}
	return webhookFromRow(r), nil
}

// CountLocked counts the tenant's endpoints and locks its row until the transaction ends: run
// it on a Tx before Create, so that a bound on the count holds under concurrent creations.
func (w Webhooks) CountLocked(ctx context.Context) (int64, error) {
	// Two statements: in READ COMMITTED the count's snapshot is then taken after the lock
	// was granted, and sees the creation that held it.
	if err := w.q.WebhookLockTenant(ctx, w.tenantID); err != nil {
		return 0, err
	}
	return w.q.WebhookCount(ctx, w.tenantID)
}

// Get returns an endpoint of the tenant (ErrNotFound when it has none with id).
func (w Webhooks) Get(ctx context.Context, id uuid.UUID) (Webhook, error) {
	r, err := w.q.WebhookGet(ctx, dbsqlc.WebhookGetParams{ID: id, TenantID: w.tenantID})
	if err != nil {
		return Webhook{}, err
	}
	return webhookFromRow(r), nil
}

// List returns up to n endpoints of the tenant, oldest first, after the position (nil for
// the first page).
func (w Webhooks) List(ctx context.Context, n int, after *After) ([]Webhook, error) {
	var (
		rows []dbsqlc.Webhook
		err  error
	)
	if after == nil {
		rows, err = w.q.WebhookListFirst(ctx, dbsqlc.WebhookListFirstParams{TenantID: w.tenantID, MaxRows: maxRows(n)})
	} else {
		rows, err = w.q.WebhookListAfter(ctx, dbsqlc.WebhookListAfterParams{
			TenantID: w.tenantID, AfterCreatedAt: after.At, AfterID: after.ID, MaxRows: maxRows(n),
		})
	}
	if err != nil {
		return nil, err
	}
	out := make([]Webhook, len(rows))
	for i, r := range rows {
		out[i] = webhookFromRow(r)
	}
	return out, nil
}

// Delete deletes an endpoint of the tenant with its pending deliveries, and reports how many
// endpoints went (0 or 1).
func (w Webhooks) Delete(ctx context.Context, id uuid.UUID) (int64, error) {
	return w.q.WebhookDelete(ctx, dbsqlc.WebhookDeleteParams{ID: id, TenantID: w.tenantID})
}

// Attempts returns up to n delivery attempts of an endpoint of the tenant, newest first,
// after the position (nil for the first page).
func (w Webhooks) Attempts(ctx context.Context, webhookID uuid.UUID, n int, after *After) ([]WebhookAttempt, error) {
	var out []WebhookAttempt
	add := func(id, eventID uuid.UUID, typ string, attempt int32, at time.Time, ms int32, status pgtype.Int4, msg *string) {
		a := WebhookAttempt{ID: id, EventID: eventID, Type: typ, Attempt: attempt, StartedAt: at, DurationMs: ms, Error: msg}
		if status.Valid {
			a.StatusCode = &status.Int32
		}
		out = append(out, a)
	}
	if after == nil {
		rows, err := w.q.WebhookAttemptListFirst(ctx, dbsqlc.WebhookAttemptListFirstParams{WebhookID: webhookID, TenantID: w.tenantID, MaxRows: maxRows(n)})
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			add(r.ID, r.EventID, r.Type, r.Attempt, r.StartedAt, r.DurationMs, r.StatusCode, r.Error)
		}
		return out, nil
	}
	rows, err := w.q.WebhookAttemptListAfter(ctx, dbsqlc.WebhookAttemptListAfterParams{
		WebhookID: webhookID, TenantID: w.tenantID, AfterStartedAt: after.At, AfterID: after.ID, MaxRows: maxRows(n),
	})
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		add(r.ID, r.EventID, r.Type, r.Attempt, r.StartedAt, r.DurationMs, r.StatusCode, r.Error)
	}
	return out, nil
}

// NewEvent is an event to record: the tenant is the one whose change it reports.
type NewEvent struct {
	ID       uuid.UUID
	TenantID int64
	Type     string
	Body     string
}

// RecordedDelivery is a delivery the outbox made of an event, for one endpoint.
type RecordedDelivery struct {
	ID      uuid.UUID
	EventID uuid.UUID
}

// Outbox records the events of a change in its transaction. A batch holds the events of
// several tenants (the purge's), each naming its own: the statement matches an event only
// with the endpoints of that tenant, so the scope is in the SQL, not in a handle.
type Outbox struct{ q *dbsqlc.Queries }

// Outbox is the webhook events' outbox.
func (r Repos) Outbox() Outbox { return Outbox(r) }

// Record records each event whose tenant has an endpoint subscribed to its type, with one
// delivery per such endpoint, and returns the deliveries.
func (o Outbox) Record(ctx context.Context, evs []NewEvent) ([]RecordedDelivery, error) {
	p := dbsqlc.WebhookEventRecordParams{
		Ids: make([]uuid.UUID, len(evs)), TenantIds: make([]int64, len(evs)),
		Types: make([]string, len(evs)), Bodies: make([]string, len(evs)),
	}
	for i, ev := range evs {
		p.Ids[i], p.TenantIds[i], p.Types[i], p.Bodies[i] = ev.ID, ev.TenantID, ev.Type, ev.Body
	}
	rows, err := o.q.WebhookEventRecord(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([]RecordedDelivery, len(rows))
	for i, r := range rows {
		out[i] = RecordedDelivery{ID: r.ID, EventID: r.EventID}
	}
	return out, nil
}

// Delivery is what a delivery job needs: the endpoint, its key and the event.
type Delivery struct {
	ID          uuid.UUID
	EventID     uuid.UUID
	WebhookID   uuid.UUID
	TenantID    int64
	DeliveredAt *time.Time
	FailedAt    *time.Time
	Attempts    int32
	Type        string
	// Body is the event's JSON, exactly as signed.
	Body           string
	EventCreatedAt time.Time
	URL            string
	Secret         []byte
}

// AttemptRecord is one attempt of a delivery, as the dispatcher logs it.
type AttemptRecord struct {
	DeliveryID uuid.UUID
	StartedAt  time.Time
	DurationMs int32
	// StatusCode is nil when there was no answer; Error says why.
	StatusCode *int32
	Error      *string
	// Delivered: the endpoint answered 2xx. GiveUp: it was the last retry.
	Delivered, GiveUp bool
}

// Deliveries are the webhook deliveries as the dispatcher works them: by the id a queue job
// carries, across tenants.
type Deliveries struct{ q *dbsqlc.Queries }

// Deliveries are the dispatcher's.
func (r Repos) Deliveries() Deliveries { return Deliveries(r) }

// Get returns a delivery (ErrNotFound when its endpoint was deleted, and it with it).
func (d Deliveries) Get(ctx context.Context, id uuid.UUID) (Delivery, error) {
	r, err := d.q.WebhookDeliveryGet(ctx, id)
	if err != nil {
		return Delivery{}, err
	}
	return Delivery{
		ID: r.ID, EventID: r.EventID, WebhookID: r.WebhookID, TenantID: r.TenantID, DeliveredAt: r.DeliveredAt,
		FailedAt: r.FailedAt, Attempts: r.Attempts, Type: r.Type, Body: r.Body, EventCreatedAt: r.EventCreatedAt,
		URL: r.Url, Secret: r.Secret,
	}, nil
}

// RecordAttempt logs an attempt and settles its delivery: delivered on a 2xx, given up after
// the last retry. It returns the attempt's number.
func (d Deliveries) RecordAttempt(ctx context.Context, a AttemptRecord) (int32, error) {
	p := dbsqlc.WebhookAttemptRecordParams{
		DeliveryID: a.DeliveryID, StartedAt: a.StartedAt, DurationMs: a.DurationMs, Error: a.Error,
		Delivered: a.Delivered, GiveUp: a.GiveUp,
	}
	if a.StatusCode != nil {
		p.StatusCode = pgtype.Int4{Int32: *a.StatusCode, Valid: true}
	}
	return d.q.WebhookAttemptRecord(ctx, p)
}

// Backlog returns how many deliveries are still to make, and when the oldest was recorded
// (now when there is none).
func (d Deliveries) Backlog(ctx context.Context) (pending int64, oldest time.Time, err error) {
	r, err := d.q.WebhookBacklog(ctx)
	return r.Pending, r.Oldest, err
}
