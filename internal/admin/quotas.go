package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"fileshare/internal/auth"
	"fileshare/internal/share"
	"fileshare/internal/store"
)

// SetLimits sets a tenant's quota: the most bytes it may keep and the largest file, each only
// when not nil; 0 means unlimited.
func (a *Admin) SetLimits(ctx context.Context, name string, maxBytes, maxFileBytes *int64) error {
	return a.SetTenant(ctx, name, TenantSettings{MaxBytes: maxBytes, MaxFileBytes: maxFileBytes})
}

// TenantSettings are what `tenant set` changes; each only when not nil.
type TenantSettings struct {
	// MaxBytes and MaxFileBytes are the quota, 0 for unlimited.
	MaxBytes, MaxFileBytes *int64
	// DisplayName is the name the tenant's recipients see; "" clears it.
	DisplayName *string
}

// SetTenant changes a tenant's settings, all of them or none: every value is checked before
// anything is written, and they are written in one transaction.
func (a *Admin) SetTenant(ctx context.Context, name string, s TenantSettings) error {
	for _, v := range []*int64{s.MaxBytes, s.MaxFileBytes} {
		if v != nil && *v < 0 {
			return fmt.Errorf("a limit is a number of bytes, 0 for unlimited; not %d", *v)
		}
	}
	if s.DisplayName != nil {
		if err := ValidDisplayName(*s.DisplayName); err != nil {
			return err
		}
	}
	return a.st.InTx(ctx, func(tx *store.Tx) error {
		n, err := tx.TenantsByName().SetLimits(ctx, name, s.MaxBytes, s.MaxFileBytes)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("tenant %q does not exist", name)
		}
		if s.DisplayName != nil {
			_, err = tx.TenantsByName().SetDisplayName(ctx, name, *s.DisplayName)
		}
		return err
	})
}

// Usage is what a tenant keeps, and its limits (0 = unlimited).
type Usage struct {
	Tenant string
	share.Usage
}

// TenantUsage reports the usage of one tenant.
func (a *Admin) TenantUsage(ctx context.Context, name string) (Usage, error) {
	id, err := a.st.TenantsByName().ID(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return Usage{}, fmt.Errorf("tenant %q does not exist", name)
	}
	if err != nil {
		return Usage{}, err
	}
	u, err := share.TenantUsage(ctx, a.st, id)
	return Usage{Tenant: name, Usage: u}, err
}

// AppPassword is a row of `user apppw list`.
type AppPassword struct {
	Name       string
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// AddAppPassword issues an application password named name for login and returns it: it is
// shown this once, the database keeps only its hash.
func (a *Admin) AddAppPassword(ctx context.Context, login, name string) (string, error) {
	user, tenant, err := auth.ParseLogin(login)
	if err != nil {
		return "", err
	}
	if name == "" || len(name) > 100 || !auth.ValidName(name) {
		return "", fmt.Errorf("invalid application password name %q: 1–100 characters, no control characters", name)
	}
	pw, hash, err := auth.NewAppPassword()
	if err != nil {
		return "", err
	}
	err = a.st.AppPasswordsByName().Create(ctx, tenant, user, name, hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", fmt.Errorf("user %q does not exist", user+"@"+tenant)
	case errors.Is(err, store.ErrConflict):
		return "", fmt.Errorf("user %q already has an application password named %q", user+"@"+tenant, name)
	case err != nil:
		return "", err
	}
	return pw, nil
}

// ListAppPasswords lists the application passwords of login by name.
func (a *Admin) ListAppPasswords(ctx context.Context, login string) ([]AppPassword, error) {
	user, tenant, err := auth.ParseLogin(login)
	if err != nil {
		return nil, err
	}
	if exists, err := a.st.UsersByName().Exists(ctx, tenant, user); err != nil {
		return nil, err
	} else if !exists {
		return nil, fmt.Errorf("user %q does not exist", user+"@"+tenant)
	}
	rows, err := a.st.AppPasswordsByName().List(ctx, tenant, user)
	if err != nil {
		return nil, err
	}
	out := make([]AppPassword, len(rows))
	for i, r := range rows {
		out[i] = AppPassword{Name: r.Name, CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt}
	}
	return out, nil
}

// RevokeAppPassword revokes login's application password named name: it stops working on the
// next request, on every instance.
func (a *Admin) RevokeAppPassword(ctx context.Context, login, name string) error {
	user, tenant, err := auth.ParseLogin(login)
	if err != nil {
		return err
	}
	n, err := a.st.AppPasswordsByName().Revoke(ctx, tenant, user, name)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("user %q has no application password named %q", user+"@"+tenant, name)
	}
	return nil
}
