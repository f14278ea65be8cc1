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
	// Enabled is false once the endpoint was disabled, at DisabledAt for DisabledReason.
	Enabled        bool
	DisabledAt     *time.Time
	DisabledReason string
	// PreviousSecretExpiresAt ends the overlap of the last rotation (nil: none was asked for).
	PreviousSecretExpiresAt *time.Time
}

func webhookFromRow(r dbsqlc.Webhook) Webhook {
	w := Webhook{ID: r.ID, TenantID: r.TenantID, URL: r.Url, Events: r.Events, Secret: r.Secret, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt,
		Enabled: r.Enabled, DisabledAt: r.DisabledAt, PreviousSecretExpiresAt: r.PreviousSecretExpiresAt}
	if r.DisabledReason != nil {
		w.DisabledReason = *r.DisabledReason
	}
	return w
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

// WebhookChange is what Update changes of an endpoint; nil fields stay as they are.
type WebhookChange struct {
	URL    *string
	Events *[]string
	// Enabled disables (false) or enables (true) the endpoint; Reason is recorded on disabling.
	Enabled *bool
	Reason  string
}

// Update changes an endpoint of the tenant (ErrNotFound when it has none with id).
func (w Webhooks) Update(ctx context.Context, id uuid.UUID, in WebhookChange) (Webhook, error) {
	p := dbsqlc.WebhookUpdateParams{ID: id, TenantID: w.tenantID, Url: in.URL, Reason: in.Reason}
	if in.Events != nil {
		p.Events = *in.Events
		if p.Events == nil {
			p.Events = []string{} // NULL would keep the subscription
		}
	}
	if in.Enabled != nil {
		p.Enabled = pgtype.Bool{Bool: *in.Enabled, Valid: true}
	}
	r, err := w.q.WebhookUpdate(ctx, p)
	if err != nil {
		return Webhook{}, err
	}
	return webhookFromRow(r), nil
}

// GiveUpPending gives up the deliveries not made yet of an endpoint of the tenant, and
// reports how many.
func (w Webhooks) GiveUpPending(ctx context.Context, id uuid.UUID) (int64, error) {
	return w.q.WebhookDeliveriesGiveUp(ctx, dbsqlc.WebhookDeliveriesGiveUpParams{WebhookID: id, TenantID: w.tenantID})
}

// RotateSecret replaces the signing key of an endpoint of the tenant; the one it replaces signs
// as well for overlap (not at all when 0). It returns the end of the overlap, nil when none.
func (w Webhooks) RotateSecret(ctx context.Context, id uuid.UUID, key []byte, overlap time.Duration) (*time.Time, error) {
	return w.q.WebhookRotateSecret(ctx, dbsqlc.WebhookRotateSecretParams{
		ID: id, TenantID: w.tenantID, Secret: key, OverlapSeconds: seconds(overlap),
	})
}

// RecordEventFor records an event of the tenant for one of its enabled endpoints, with its
// delivery, and returns the delivery's id (ErrNotFound when there is no such endpoint).
func (w Webhooks) RecordEventFor(ctx context.Context, webhookID uuid.UUID, ev NewEvent) (uuid.UUID, error) {
	return w.q.WebhookEventRecordFor(ctx, dbsqlc.WebhookEventRecordForParams{
		WebhookID: webhookID, TenantID: w.tenantID, EventID: ev.ID, Type: ev.Type, Body: ev.Body,
	})
}

// DeliveryState is how far a delivery went.
type DeliveryState struct {
	ID          uuid.UUID
	DeliveredAt *time.Time
	FailedAt    *time.Time
}

// LockDelivery returns the delivery of an event to an endpoint of the tenant, locked until the
// transaction ends (ErrNotFound when there is none).
func (w Webhooks) LockDelivery(ctx context.Context, webhookID, eventID uuid.UUID) (DeliveryState, error) {
	r, err := w.q.WebhookDeliveryLock(ctx, dbsqlc.WebhookDeliveryLockParams{EventID: eventID, WebhookID: webhookID, TenantID: w.tenantID})
	return DeliveryState(r), err
}

// ReopenDelivery makes a settled delivery of the tenant pending again; its job is the caller's.
func (w Webhooks) ReopenDelivery(ctx context.Context, id uuid.UUID) error {
	return w.q.WebhookDeliveryReopen(ctx, dbsqlc.WebhookDeliveryReopenParams{ID: id, TenantID: w.tenantID})
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
	// PreviousSecret signs as well while a rotation's overlap runs; nil otherwise.
	PreviousSecret []byte
	// Enabled is false when the endpoint was disabled after the delivery was queued.
	Enabled bool
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
		URL: r.Url, Secret: r.Secret, PreviousSecret: r.PreviousSecret, Enabled: r.Enabled,
	}, nil
}

// GiveUp gives up a delivery unsent.
func (d Deliveries) GiveUp(ctx context.Context, id uuid.UUID) error {
	return d.q.WebhookDeliveryGiveUp(ctx, id)
}

// DisableFailing disables an endpoint every attempt to which failed for at least failFor, and
// returns it; ErrNotFound when it is not (or no longer) such an endpoint.
func (d Deliveries) DisableFailing(ctx context.Context, webhookID uuid.UUID, failFor time.Duration) (Webhook, error) {
	r, err := d.q.WebhookDisableFailing(ctx, dbsqlc.WebhookDisableFailingParams{ID: webhookID, FailMs: failFor.Milliseconds()})
	if err != nil {
		return Webhook{}, err
	}
	return webhookFromRow(r), nil
}

// RecordedAttempt is what logging an attempt returns.
type RecordedAttempt struct {
	Attempt int32
	// FailingSince is when the endpoint's attempts started failing, as it was before this one:
	// nil when the one before was a 2xx.
	FailingSince *time.Time
}

// RecordAttempt logs an attempt and settles its delivery: delivered on a 2xx, given up after
// the last retry. It keeps the endpoint's record of failures, and returns the attempt's number.
func (d Deliveries) RecordAttempt(ctx context.Context, a AttemptRecord) (RecordedAttempt, error) {
	p := dbsqlc.WebhookAttemptRecordParams{
		DeliveryID: a.DeliveryID, StartedAt: a.StartedAt, DurationMs: a.DurationMs, Error: a.Error,
		Delivered: a.Delivered, GiveUp: a.GiveUp,
	}
	if a.StatusCode != nil {
		p.StatusCode = pgtype.Int4{Int32: *a.StatusCode, Valid: true}
	}
	r, err := d.q.WebhookAttemptRecord(ctx, p)
	return RecordedAttempt(r), err
}

// Backlog returns how many deliveries are still to make, and when the oldest was recorded
// (now when there is none).
func (d Deliveries) Backlog(ctx context.Context) (pending int64, oldest time.Time, err error) {
	r, err := d.q.WebhookBacklog(ctx)
	return r.Pending, r.Oldest, err
}
