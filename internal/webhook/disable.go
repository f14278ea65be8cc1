package webhook

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"fileshare/internal/store"
)

// disableFailing disables an endpoint every attempt to which has failed for DisableAfter, with
// no 2xx in between (docs/behaviour.md §10.7). In one transaction: the endpoint is disabled,
// its deliveries not made yet are given up, and a webhook.disabled event is recorded for the
// tenant's other endpoints (the disabled one no longer matches). The database decides, on its
// clock, whether the time has come; an error leaves it to the next failed attempt.
func (d *Dispatcher) disableFailing(ctx context.Context, st *store.Store, outbox *Outbox, webhookID uuid.UUID) {
	ctx = context.WithoutCancel(ctx)
	var w store.Webhook
	err := st.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if w, err = tx.Deliveries().DisableFailing(ctx, webhookID, d.opt.DisableAfter); err != nil {
			return err
		}
		if _, err := tx.Tenant(w.TenantID).Webhooks().GiveUpPending(ctx, w.ID); err != nil {
			return err
		}
		data := DisabledData{WebhookID: w.ID, URL: w.URL, Reason: w.DisabledReason}
		if w.DisabledAt != nil {
			data.DisabledAt = w.DisabledAt.UTC()
		}
		return outbox.Record(ctx, tx, Event{Type: WebhookDisabled, TenantID: w.TenantID, Data: data})
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Disabled already, deleted, or a 2xx came in between.
	case err != nil:
		d.log.Warn("webhook dispatcher: disabling a failing endpoint failed; the next failed attempt tries again", "webhook_id", webhookID, "err", err)
	default:
		d.metrics.disabled()
		// Without the URL, which may carry a receiver's credentials in its query.
		d.log.Warn("webhook endpoint disabled: "+w.DisabledReason, "webhook_id", w.ID)
	}
}
