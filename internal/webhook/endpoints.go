package webhook

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net"
	"slices"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/store"
	"fileshare/internal/store/dbsqlc"
)

// Errors of the webhook routes; the HTTP layer maps each to its status and message.
var (
	ErrNotFound      = errors.New("webhook not found")
	ErrInvalidEvents = errors.New("invalid webhook events")
)

// secretBytes is the size of a signing key: above the 24 bytes Standard Webhooks asks for.
const secretBytes = 32

// secretPrefix marks a signing secret, as Standard Webhooks writes them.
const secretPrefix = "whsec_"

// Webhook is a tenant's endpoint, without its secret.
type Webhook struct {
	ID uuid.UUID
	// URL is where the events are POSTed.
	URL string
	// Events are the types it subscribed to; empty means all of them.
	Events    []string
	CreatedBy string
	CreatedAt time.Time
}

func webhookFromRow(r dbsqlc.Webhook) Webhook {
	return Webhook{ID: r.ID, URL: r.Url, Events: r.Events, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt}
}

// Created is a new endpoint with its secret, which is shown only this once.
type Created struct {
	Webhook
	Secret string
}

// Cursor marks a position in a keyset-paginated list: the last row's time and id.
type Cursor struct {
	At time.Time
	ID uuid.UUID
}

// Service manages the endpoints of the tenants and shows their delivery attempts.
type Service struct {
	st           *store.Store
	allowPrivate bool
	resolver     *net.Resolver
}

// NewService returns the service; allowPrivate accepts endpoints on internal addresses
// (FILESHARE_WEBHOOK_ALLOW_PRIVATE, for receivers on the service's own network).
func NewService(st *store.Store, allowPrivate bool) *Service {
	return &Service{st: st, allowPrivate: allowPrivate, resolver: net.DefaultResolver}
}

// Create registers an endpoint of a tenant, subscribed to events (none: all of them).
func (s *Service) Create(ctx context.Context, tenantID int64, login, rawURL string, events []string) (Created, error) {
	u, err := checkURL(ctx, rawURL, s.allowPrivate, s.resolver)
	if err != nil {
		return Created{}, err
	}
	evs := make([]string, 0, len(events))
	for _, t := range Types {
		if slices.Contains(events, t) {
			evs = append(evs, t)
		}
	}
	for _, e := range events {
		if !slices.Contains(Types, e) {
			return Created{}, ErrInvalidEvents
		}
	}
	key := make([]byte, secretBytes)
	if _, err := rand.Read(key); err != nil {
		return Created{}, err
	}
	row, err := s.st.Q.WebhookCreate(ctx, dbsqlc.WebhookCreateParams{
		ID: uuid.New(), TenantID: tenantID, Url: u, Events: evs, Secret: key, CreatedBy: login,
	})
	if err != nil {
		return Created{}, err
	}
	return Created{Webhook: webhookFromRow(row), Secret: secretPrefix + base64.StdEncoding.EncodeToString(key)}, nil
}

// Get returns an endpoint of the tenant.
func (s *Service) Get(ctx context.Context, tenantID int64, id uuid.UUID) (Webhook, error) {
	row, err := s.st.Q.WebhookGet(ctx, dbsqlc.WebhookGetParams{ID: id, TenantID: tenantID})
	if errors.Is(err, store.ErrNotFound) {
		return Webhook{}, ErrNotFound
	}
	if err != nil {
		return Webhook{}, err
	}
	return webhookFromRow(row), nil
}

// List returns up to limit endpoints of the tenant, oldest first, after the cursor (nil for
// the first page), and the next page's cursor when more remain.
func (s *Service) List(ctx context.Context, tenantID int64, limit int, after *Cursor) ([]Webhook, *Cursor, error) {
	var (
		rows []dbsqlc.Webhook
		err  error
	)
	if after == nil {
		rows, err = s.st.Q.WebhookListFirst(ctx, dbsqlc.WebhookListFirstParams{TenantID: tenantID, MaxRows: int32(limit + 1)})
	} else {
		rows, err = s.st.Q.WebhookListAfter(ctx, dbsqlc.WebhookListAfterParams{
			TenantID: tenantID, AfterCreatedAt: after.At, AfterID: after.ID, MaxRows: int32(limit + 1),
		})
	}
	if err != nil {
		return nil, nil, err
	}
	out := make([]Webhook, 0, min(len(rows), limit))
	for _, r := range rows {
		out = append(out, webhookFromRow(r))
	}
	if len(out) <= limit {
		return out, nil, nil
	}
	out = out[:limit]
	last := out[limit-1]
	return out, &Cursor{At: last.CreatedAt, ID: last.ID}, nil
}

// Delete removes an endpoint of the tenant; its deliveries still to make are dropped.
func (s *Service) Delete(ctx context.Context, tenantID int64, id uuid.UUID) error {
	n, err := s.st.Q.WebhookDelete(ctx, dbsqlc.WebhookDeleteParams{ID: id, TenantID: tenantID})
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// Attempt is one try to deliver an event to an endpoint.
type Attempt struct {
	ID         uuid.UUID
	EventID    uuid.UUID
	Type       string
	Attempt    int
	At         time.Time
	DurationMs int
	// StatusCode is the answer's status, 0 when there was none; then Error says why.
	StatusCode int
	Error      string
}

// Attempts returns up to limit delivery attempts of an endpoint of the tenant, newest first,
// after the cursor, and the next page's cursor when more remain.
func (s *Service) Attempts(ctx context.Context, tenantID int64, id uuid.UUID, limit int, after *Cursor) ([]Attempt, *Cursor, error) {
	if _, err := s.Get(ctx, tenantID, id); err != nil {
		return nil, nil, err
	}
	out := make([]Attempt, 0, limit)
	add := func(id, eventID uuid.UUID, typ string, attempt int32, at time.Time, ms int32, status *int32, msg *string) {
		a := Attempt{ID: id, EventID: eventID, Type: typ, Attempt: int(attempt), At: at, DurationMs: int(ms)}
		if status != nil {
			a.StatusCode = int(*status)
		}
		if msg != nil {
			a.Error = *msg
		}
		out = append(out, a)
	}
	if after == nil {
		rows, err := s.st.Q.WebhookAttemptListFirst(ctx, dbsqlc.WebhookAttemptListFirstParams{WebhookID: id, TenantID: tenantID, MaxRows: int32(limit + 1)})
		if err != nil {
			return nil, nil, err
		}
		for _, r := range rows {
			add(r.ID, r.EventID, r.Type, r.Attempt, r.StartedAt, r.DurationMs, int4(r.StatusCode.Int32, r.StatusCode.Valid), r.Error)
		}
	} else {
		rows, err := s.st.Q.WebhookAttemptListAfter(ctx, dbsqlc.WebhookAttemptListAfterParams{
			WebhookID: id, TenantID: tenantID, AfterStartedAt: after.At, AfterID: after.ID, MaxRows: int32(limit + 1),
		})
		if err != nil {
			return nil, nil, err
		}
		for _, r := range rows {
			add(r.ID, r.EventID, r.Type, r.Attempt, r.StartedAt, r.DurationMs, int4(r.StatusCode.Int32, r.StatusCode.Valid), r.Error)
		}
	}
	if len(out) <= limit {
		return out, nil, nil
	}
	out = out[:limit]
	last := out[limit-1]
	return out, &Cursor{At: last.At, ID: last.ID}, nil
}

func int4(v int32, valid bool) *int32 {
	if !valid {
		return nil
	}
	return &v
}
