// Package admin implements the operator's commands on tenants and users.
package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"fileshare/internal/auth"
	"fileshare/internal/blob"
	"fileshare/internal/coherence"
	"fileshare/internal/store"
)

// Admin runs operator commands.
type Admin struct {
	st     *store.Store
	params auth.Params
}

// New returns an Admin that hashes new passwords with params.
func New(st *store.Store, params auth.Params) *Admin { return &Admin{st: st, params: params} }

// Tenant is a row of `tenant list`.
type Tenant struct {
	Name      string
	Users     int64
	CreatedAt time.Time
	// DisplayName is the name its recipients see, "" when none.
	DisplayName string
}

// User is a row of `user list`.
type User struct {
	Login             string
	Disabled          bool
	CreatedAt         time.Time
	PasswordChangedAt time.Time
}

// AddTenant creates a tenant.
func (a *Admin) AddTenant(ctx context.Context, name string) error {
	if err := ValidTenantName(name); err != nil {
		return err
	}
	_, err := a.st.TenantsByName().Create(ctx, name)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("tenant %q already exists", name)
	}
	return err
}

// ListTenants lists the tenants by name.
func (a *Admin) ListTenants(ctx context.Context) ([]Tenant, error) {
	rows, err := a.st.TenantsByName().List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Tenant, len(rows))
	for i, r := range rows {
		out[i] = Tenant{Name: r.Name, Users: r.Users, CreatedAt: r.CreatedAt, DisplayName: r.DisplayName}
	}
	return out, nil
}

// DeleteTenant deletes a tenant with its users, uploads and sessions, then their blobs. It
// returns once no running instance serves the tenant's uploads from memory any more.
func (a *Admin) DeleteTenant(ctx context.Context, blobs blob.Store, name string) error {
	keys, err := a.st.TenantsByName().BlobKeys(ctx, name)
	if err != nil {
		return err
	}
	w, err := coherence.Watch(ctx, a.st)
	if err != nil {
		return err
	}
	defer w.Close()
	change := w.Begin()
	defer change.Done()
	var n int64
	err = a.st.InTx(ctx, func(tx *store.Tx) error {
		if err := change.Tag(ctx, tx); err != nil {
			return err
		}
		n, err = tx.TenantsByName().Delete(ctx, name)
		return err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("tenant %q does not exist", name)
	}
	if err := change.Wait(ctx); err != nil {
		return err
	}
	var errs []error
	for _, k := range keys {
		if err := blobs.Delete(ctx, k); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("tenant deleted, but %d blobs could not be removed (the purge's orphan sweep will): %w", len(errs), errors.Join(errs...))
	}
	return nil
}

// AddUser creates a user; the tenant must exist.
func (a *Admin) AddUser(ctx context.Context, login, password string) error {
	name, tenant, err := auth.ParseLogin(login)
	if err != nil {
		return err
	}
	if err := ValidUserName(name); err != nil {
		return err
	}
	hash, err := auth.HashPassword(password, a.params)
	if err != nil {
		return err
	}
	err = a.st.UsersByName().Create(ctx, tenant, name, hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("tenant %q does not exist: add it first with `fileshare tenant add %s`", tenant, tenant)
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("user %q already exists", name+"@"+tenant)
	}
	return err
}

// SetPassword changes a user's password.
func (a *Admin) SetPassword(ctx context.Context, login, password string) error {
	name, tenant, err := auth.ParseLogin(login)
	if err != nil {
		return err
	}
	if err := ValidUserName(name); err != nil {
		return err
	}
	hash, err := auth.HashPassword(password, a.params)
	if err != nil {
		return err
	}
	n, err := a.st.UsersByName().SetPassword(ctx, tenant, name, hash)
	return oneUser(n, err, name, tenant)
}

// SetDisabled disables or enables a user.
func (a *Admin) SetDisabled(ctx context.Context, login string, disabled bool) error {
	name, tenant, err := auth.ParseLogin(login)
	if err != nil {
		return err
	}
	n, err := a.st.UsersByName().SetDisabled(ctx, tenant, name, disabled)
	return oneUser(n, err, name, tenant)
}

// DeleteUser deletes a user. What the user created stays with the tenant.
func (a *Admin) DeleteUser(ctx context.Context, login string) error {
	name, tenant, err := auth.ParseLogin(login)
	if err != nil {
		return err
	}
	n, err := a.st.UsersByName().Delete(ctx, tenant, name)
	return oneUser(n, err, name, tenant)
}

func oneUser(n int64, err error, name, tenant string) error {
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("user %q does not exist", name+"@"+tenant)
	}
	return nil
}

// ListUsers lists users, of one tenant when tenant is not empty.
func (a *Admin) ListUsers(ctx context.Context, tenant string) ([]User, error) {
	var filter *string
	if tenant != "" {
		filter = &tenant
	}
	rows, err := a.st.UsersByName().List(ctx, filter)
	if err != nil {
		return nil, err
	}
	out := make([]User, len(rows))
	for i, r := range rows {
		out[i] = User{Login: r.Name + "@" + r.Tenant, Disabled: r.DisabledAt != nil, CreatedAt: r.CreatedAt, PasswordChangedAt: r.PasswordChangedAt}
	}
	return out, nil
}
