package webhook

// What an integrator does with an endpoint once it is registered (docs/behaviour.md §10.7):
// change it, enable or disable it, send it a test event, rotate its secret, and send a settled
// delivery again.

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/store"
)

// Change is what PATCH /webhooks/{id} changes of an endpoint; nil fields stay as they are.
type Change struct {
	URL *string
	// Events replaces the subscription; an empty list means every type.
	Events  *[]string
	Enabled *bool
}

// Update changes an endpoint of the tenant. A new URL is checked like one at creation. Disabling
// it gives up its deliveries not made yet (POST …/retry sends one again once it is enabled);
// enabling it, or a new URL, starts its record of failures afresh.
func (s *Service) Update(ctx context.Context, tenantID int64, login string, id uuid.UUID, ch Change) (Webhook, error) {
	in := store.WebhookChange{Enabled: ch.Enabled, Reason: "disabled by " + login}
	if ch.URL != nil {
		u, err := checkURL(ctx, *ch.URL, s.allowPrivate, s.resolver)
		if err != nil {
			return Webhook{}, err
		}
		in.URL = &u
	}
	if ch.Events != nil {
		evs, err := subscription(*ch.Events)
		if err != nil {
			return Webhook{}, err
		}
		in.Events = &evs
	}
	var row store.Webhook
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		hooks := tx.Tenant(tenantID).Webhooks()
		var err error
		if row, err = hooks.Update(ctx, id, in); err != nil {
			return err
		}
		if !row.Enabled {
			_, err = hooks.GiveUpPending(ctx, id)
		}
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return Webhook{}, ErrNotFound
	}
	if err != nil {
		return Webhook{}, err
	}
	return webhookFromRow(row), nil
}

// Rotation bounds: how long the previous secret signs as well, by default and at most.
const (
	DefaultOverlap = 24 * time.Hour
	MaxOverlap     = 7 * 24 * time.Hour
)

// Rotated is an endpoint's new secret, shown only this once, and until when the one it replaced
// signs as well (nil: it does not).
type Rotated struct {
	Secret                  string
	PreviousSecretExpiresAt *time.Time
}

// RotateSecret gives an endpoint of the tenant a new secret; until overlap has passed, every
// delivery is signed with the previous one as well, so that the receiver can change its
// secret at any time in between.
func (s *Service) RotateSecret(ctx context.Context, tenantID int64, id uuid.UUID, overlap time.Duration) (Rotated, error) {
	if overlap < 0 || overlap > MaxOverlap || overlap%time.Second != 0 {
		return Rotated{}, ErrInvalidOverlap
	}
	key, secret, err := newSecret()
	if err != nil {
		return Rotated{}, err
	}
	until, err := s.st.Tenant(tenantID).Webhooks().RotateSecret(ctx, id, key, overlap)
	if errors.Is(err, store.ErrNotFound) {
		return Rotated{}, ErrNotFound
	}
	if err != nil {
		return Rotated{}, err
	}
	return Rotated{Secret: secret, PreviousSecretExpiresAt: until}, nil
}

// SendTest records a webhook.test event for one enabled endpoint of the tenant, whatever it
// subscribed to, and returns the event's id. It is delivered like any event: signed, retried.
func (s *Service) SendTest(ctx context.Context, tenantID int64, login string, id uuid.UUID) (uuid.UUID, error) {
	var eventID uuid.UUID
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		w, err := tx.Tenant(tenantID).Webhooks().Get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if !w.Enabled {
			return ErrDisabled
		}
		ev := Event{Type: WebhookTest, TenantID: tenantID, Data: TestData{WebhookID: id, Login: &login}}
		eventID, err = s.outbox.RecordFor(ctx, tx, id, ev)
		if errors.Is(err, store.ErrNotFound) {
			return ErrDisabled // disabled since it was read
		}
		return err
	})
	return eventID, err
}

// Retry sends an event again to an endpoint of the tenant, under the same webhook-id, once its
// delivery is settled: given up (or delivered, to replay it). It gets a new round of retries.
// A delivery still being tried is ErrDeliveryPending.
func (s *Service) Retry(ctx context.Context, tenantID int64, id, eventID uuid.UUID) error {
	return s.st.InTx(ctx, func(tx *store.Tx) error {
		hooks := tx.Tenant(tenantID).Webhooks()
		w, err := hooks.Get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		d, err := hooks.LockDelivery(ctx, id, eventID)
		if errors.Is(err, store.ErrNotFound) {
			return ErrDeliveryNotFound
		}
		if err != nil {
			return err
		}
		switch {
		case d.DeliveredAt == nil && d.FailedAt == nil:
			return ErrDeliveryPending
		case !w.Enabled:
			return ErrDisabled
		}
		if err := hooks.ReopenDelivery(ctx, d.ID); err != nil {
			return err
		}
		return s.outbox.queue(ctx, tx, d.ID)
	})
}
