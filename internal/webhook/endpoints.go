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
)

// Errors of the webhook routes; the HTTP layer maps each to its status and message.
var (
	ErrNotFound      = errors.New("webhook not found")
	ErrInvalidEvents = errors.New("invalid webhook events")
	// ErrTooMany refuses a tenant's endpoint past MaxEndpoints.
	ErrTooMany = errors.New("too many webhooks")
	// ErrDisabled refuses to send a test event or a delivery again to a disabled endpoint.
	ErrDisabled = errors.New("webhook disabled")
	// ErrDeliveryNotFound answers a retry of an event the endpoint never had (or that was
	// purged).
	ErrDeliveryNotFound = errors.New("delivery not found")
	// ErrDeliveryPending refuses a retry of a delivery that is still being tried.
	ErrDeliveryPending = errors.New("delivery still pending")
	// ErrInvalidOverlap refuses a rotation overlap outside 0 … MaxOverlap.
	ErrInvalidOverlap = errors.New("invalid overlapSeconds")
)

// MaxEndpoints bounds a tenant's endpoints, so that one tenant cannot make every delivery of
// the service its own (docs/behaviour.md §10.1).
const MaxEndpoints = 16

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
	// Enabled is false once the endpoint was disabled, by its tenant or after failing for
	// DisableAfter; DisabledAt and DisabledReason say when and why.
	Enabled        bool
	DisabledAt     *time.Time
	DisabledReason string
	// PreviousSecretExpiresAt is the end of a rotation's overlap, while one runs: until then
	// the secret before the rotation signs as well.
	PreviousSecretExpiresAt *time.Time
}

func webhookFromRow(r store.Webhook) Webhook {
	w := Webhook{ID: r.ID, URL: r.URL, Events: r.Events, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt,
		Enabled: r.Enabled, DisabledAt: r.DisabledAt, DisabledReason: r.DisabledReason}
	if r.PreviousSecretExpiresAt != nil && r.PreviousSecretExpiresAt.After(time.Now()) {
		w.PreviousSecretExpiresAt = r.PreviousSecretExpiresAt
	}
	return w
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

// position is the cursor as the store's lists take it; nil for the first page.
func (c *Cursor) position() *store.After {
	if c == nil {
		return nil
	}
	return &store.After{At: c.At, ID: c.ID}
}

// Service manages the endpoints of the tenants and shows their delivery attempts.
type Service struct {
	st           *store.Store
	outbox       *Outbox
	allowPrivate bool
	resolver     *net.Resolver
}

// NewService returns the service; outbox queues its test events and retried deliveries, and
// allowPrivate accepts endpoints on internal addresses (FILESHARE_WEBHOOK_ALLOW_PRIVATE, for
// receivers on the service's own network).
func NewService(st *store.Store, outbox *Outbox, allowPrivate bool) *Service {
	return &Service{st: st, outbox: outbox, allowPrivate: allowPrivate, resolver: net.DefaultResolver}
}

// subscription checks event types an endpoint asks for and returns them without repeats, in
// the order of Subscribable.
func subscription(events []string) ([]string, error) {
	for _, e := range events {
		if !slices.Contains(Subscribable, e) {
			return nil, ErrInvalidEvents
		}
	}
	evs := make([]string, 0, len(events))
	for _, t := range Subscribable {
		if slices.Contains(events, t) {
			evs = append(evs, t)
		}
	}
	return evs, nil
}

// newSecret returns a new signing key and the secret that shows it.
func newSecret() ([]byte, string, error) {
	key := make([]byte, secretBytes)
	if _, err := rand.Read(key); err != nil {
		return nil, "", err
	}
	return key, secretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// Create registers an endpoint of a tenant, subscribed to events (none: all of them).
func (s *Service) Create(ctx context.Context, tenantID int64, login, rawURL string, events []string) (Created, error) {
	u, err := checkURL(ctx, rawURL, s.allowPrivate, s.resolver)
	if err != nil {
		return Created{}, err
	}
	evs, err := subscription(events)
	if err != nil {
		return Created{}, err
	}
	key, secret, err := newSecret()
	if err != nil {
		return Created{}, err
	}
	var row store.Webhook
	err = s.st.InTx(ctx, func(tx *store.Tx) error {
		hooks := tx.Tenant(tenantID).Webhooks()
		n, err := hooks.CountLocked(ctx)
		if err != nil {
			return err
		}
		if n >= MaxEndpoints {
			return ErrTooMany
		}
		row, err = hooks.Create(ctx, store.NewWebhook{ID: uuid.New(), URL: u, Events: evs, Secret: key, CreatedBy: login})
		return err
	})
	if err != nil {
		return Created{}, err
	}
	return Created{Webhook: webhookFromRow(row), Secret: secret}, nil
}

// Get returns an endpoint of the tenant.
func (s *Service) Get(ctx context.Context, tenantID int64, id uuid.UUID) (Webhook, error) {
	row, err := s.st.Tenant(tenantID).Webhooks().Get(ctx, id)
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
	rows, err := s.st.Tenant(tenantID).Webhooks().List(ctx, limit+1, after.position())
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
	n, err := s.st.Tenant(tenantID).Webhooks().Delete(ctx, id)
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
	rows, err := s.st.Tenant(tenantID).Webhooks().Attempts(ctx, id, limit+1, after.position())
	if err != nil {
		return nil, nil, err
	}
	out := make([]Attempt, 0, min(len(rows), limit))
	for _, r := range rows {
		a := Attempt{ID: r.ID, EventID: r.EventID, Type: r.Type, Attempt: int(r.Attempt), At: r.StartedAt, DurationMs: int(r.DurationMs)}
		if r.StatusCode != nil {
			a.StatusCode = int(*r.StatusCode)
		}
		if r.Error != nil {
			a.Error = *r.Error
		}
		out = append(out, a)
	}
	if len(out) <= limit {
		return out, nil, nil
	}
	out = out[:limit]
	last := out[limit-1]
	return out, &Cursor{At: last.At, ID: last.ID}, nil
}
