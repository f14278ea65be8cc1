package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"fileshare/internal/auth"
	"fileshare/internal/share"
	"fileshare/internal/store"
	"fileshare/internal/store/dbsqlc"
)

// SetLimits sets a tenant's quota: the most bytes it may keep and the largest file, each only
// when not nil; 0 means unlimited.
func (a *Admin) SetLimits(ctx context.Context, name string, maxBytes, maxFileBytes *int64) error {
	for _, v := range []*int64{maxBytes, maxFileBytes} {
		if v != nil && *v < 0 {
			return fmt.Errorf("a limit is a number of bytes, 0 for unlimited; not %d", *v)
		}
	}
	n, err := a.st.Q.TenantSetLimits(ctx, dbsqlc.TenantSetLimitsParams{Name: name, MaxBytes: maxBytes, MaxFileBytes: maxFileBytes})
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("tenant %q does not exist", name)
	}
	return nil
}

// Usage is what a tenant keeps, and its limits (0 = unlimited).
type Usage struct {
	Tenant string
	share.Usage
}

// TenantUsage reports the usage of one tenant.
func (a *Admin) TenantUsage(ctx context.Context, name string) (Usage, error) {
	id, err := a.st.Q.TenantIDByName(ctx, name)
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
	_, err = a.st.Q.AppPasswordCreate(ctx, dbsqlc.AppPasswordCreateParams{Name: name, Hash: hash, Tenant: tenant, UserName: user})
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
	if _, err := a.st.Q.UserGetForAuth(ctx, dbsqlc.UserGetForAuthParams{Tenant: tenant, Name: user}); errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("user %q does not exist", user+"@"+tenant)
	} else if err != nil {
		return nil, err
	}
	rows, err := a.st.Q.AppPasswordList(ctx, dbsqlc.AppPasswordListParams{Tenant: tenant, UserName: user})
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
	n, err := a.st.Q.AppPasswordRevoke(ctx, dbsqlc.AppPasswordRevokeParams{Tenant: tenant, UserName: user, Name: name})
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("user %q has no application password named %q", user+"@"+tenant, name)
	}
	return nil
}
