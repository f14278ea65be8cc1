package store

import (
	"context"
	"time"

	"fileshare/internal/store/internal/dbsqlc"
)

// The directory of tenants, users and application passwords. The operator's commands name
// them (TenantsByName, UsersByName, AppPasswordsByName); authentication finds a login's user
// and keeps the failure counters (Auth). Both work across tenants: they are how a request
// comes to have a tenant at all.

// Tenant is a tenant's row.
type Tenant struct {
	ID        int64
	Name      string
	CreatedAt time.Time
	Limits
	// DisplayName is the name its recipients see, "" when none.
	DisplayName string
}

// TenantSummary is a tenant with its number of users.
type TenantSummary struct {
	Tenant
	Users int64
}

// TenantsByName are the tenants, named by the operator.
type TenantsByName struct{ q *dbsqlc.Queries }

// TenantsByName are the operator's tenants.
func (r Repos) TenantsByName() TenantsByName { return TenantsByName(r) }

// Create adds a tenant (ErrConflict when it exists).
func (t TenantsByName) Create(ctx context.Context, name string) (Tenant, error) {
	r, err := t.q.TenantCreate(ctx, name)
	if err != nil {
		return Tenant{}, err
	}
	return Tenant{ID: r.ID, Name: r.Name, CreatedAt: r.CreatedAt, Limits: Limits{MaxBytes: r.MaxBytes, MaxFileBytes: r.MaxFileBytes}}, nil
}

// List lists the tenants by name.
func (t TenantsByName) List(ctx context.Context) ([]TenantSummary, error) {
	rows, err := t.q.TenantList(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]TenantSummary, len(rows))
	for i, r := range rows {
		out[i] = TenantSummary{
			Tenant: Tenant{
				ID: r.ID, Name: r.Name, CreatedAt: r.CreatedAt, DisplayName: deref(r.DisplayName),
				Limits: Limits{MaxBytes: r.MaxBytes, MaxFileBytes: r.MaxFileBytes},
			},
			Users: r.UserCount,
		}
	}
	return out, nil
}

// ID returns the id of the tenant named name (ErrNotFound when none).
func (t TenantsByName) ID(ctx context.Context, name string) (int64, error) {
	return t.q.TenantIDByName(ctx, name)
}

// BlobKeys returns the blob keys of a tenant's live uploads and stored file entries,
// collected before the tenant is deleted so that they can go with it.
func (t TenantsByName) BlobKeys(ctx context.Context, name string) ([]string, error) {
	return t.q.TenantBlobKeys(ctx, name)
}

// Delete deletes a tenant with everything it owns, and reports how many went (0 or 1).
func (t TenantsByName) Delete(ctx context.Context, name string) (int64, error) {
	return t.q.TenantDelete(ctx, name)
}

// SetLimits sets a tenant's limits, each only when not nil, and reports how many tenants it
// changed (0 or 1).
func (t TenantsByName) SetLimits(ctx context.Context, name string, maxBytes, maxFileBytes *int64) (int64, error) {
	return t.q.TenantSetLimits(ctx, dbsqlc.TenantSetLimitsParams{Name: name, MaxBytes: maxBytes, MaxFileBytes: maxFileBytes})
}

// SetDisplayName sets a tenant's display name ("" clears it) and reports how many tenants it
// changed (0 or 1).
func (t TenantsByName) SetDisplayName(ctx context.Context, name, displayName string) (int64, error) {
	var v *string
	if displayName != "" {
		v = &displayName
	}
	return t.q.TenantSetDisplayName(ctx, dbsqlc.TenantSetDisplayNameParams{Name: name, DisplayName: v})
}

// UserSummary is a user as `user list` shows it.
type UserSummary struct {
	Name              string
	Tenant            string
	DisabledAt        *time.Time
	CreatedAt         time.Time
	PasswordChangedAt time.Time
}

// UsersByName are the users, named by the operator as name and tenant name.
type UsersByName struct{ q *dbsqlc.Queries }

// UsersByName are the operator's users.
func (r Repos) UsersByName() UsersByName { return UsersByName(r) }

// Create adds a user to a tenant (ErrNotFound when there is no such tenant, ErrConflict when
// the user exists).
func (u UsersByName) Create(ctx context.Context, tenant, name, passwordHash string) error {
	_, err := u.q.UserCreate(ctx, dbsqlc.UserCreateParams{Tenant: tenant, Name: name, PasswordHash: passwordHash})
	return err
}

// Exists reports whether the user exists.
func (u UsersByName) Exists(ctx context.Context, tenant, name string) (bool, error) {
	_, err := u.q.UserGetForAuth(ctx, dbsqlc.UserGetForAuthParams{Tenant: tenant, Name: name})
	if err == nil {
		return true, nil
	}
	if isNotFound(err) {
		return false, nil
	}
	return false, err
}

// SetPassword sets a user's password hash and reports how many users it changed (0 or 1).
func (u UsersByName) SetPassword(ctx context.Context, tenant, name, passwordHash string) (int64, error) {
	return u.q.UserSetPassword(ctx, dbsqlc.UserSetPasswordParams{Tenant: tenant, Name: name, PasswordHash: passwordHash})
}

// SetDisabled disables or enables a user and reports how many users it changed (0 or 1).
func (u UsersByName) SetDisabled(ctx context.Context, tenant, name string, disabled bool) (int64, error) {
	return u.q.UserSetDisabled(ctx, dbsqlc.UserSetDisabledParams{Tenant: tenant, Name: name, Disabled: disabled})
}

// Delete deletes a user and reports how many went (0 or 1).
func (u UsersByName) Delete(ctx context.Context, tenant, name string) (int64, error) {
	return u.q.UserDelete(ctx, dbsqlc.UserDeleteParams{Tenant: tenant, Name: name})
}

// List lists the users by tenant and name, of one tenant when tenant is not nil.
func (u UsersByName) List(ctx context.Context, tenant *string) ([]UserSummary, error) {
	rows, err := u.q.UserList(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := make([]UserSummary, len(rows))
	for i, r := range rows {
		out[i] = UserSummary{Name: r.Name, Tenant: r.Tenant, DisabledAt: r.DisabledAt, CreatedAt: r.CreatedAt, PasswordChangedAt: r.PasswordChangedAt}
	}
	return out, nil
}

// AppPassword is an application password as `user apppw list` shows it.
type AppPassword struct {
	Name       string
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// AppPasswordsByName are the users' application passwords, named by the operator.
type AppPasswordsByName struct{ q *dbsqlc.Queries }

// AppPasswordsByName are the operator's application passwords.
func (r Repos) AppPasswordsByName() AppPasswordsByName { return AppPasswordsByName(r) }

// Create adds an application password, of which the database keeps the hash (ErrNotFound
// when there is no such user, ErrConflict when it has one of that name).
func (a AppPasswordsByName) Create(ctx context.Context, tenant, user, name string, hash []byte) error {
	_, err := a.q.AppPasswordCreate(ctx, dbsqlc.AppPasswordCreateParams{Tenant: tenant, UserName: user, Name: name, Hash: hash})
	return err
}

// List lists a user's application passwords by name.
func (a AppPasswordsByName) List(ctx context.Context, tenant, user string) ([]AppPassword, error) {
	rows, err := a.q.AppPasswordList(ctx, dbsqlc.AppPasswordListParams{Tenant: tenant, UserName: user})
	if err != nil {
		return nil, err
	}
	out := make([]AppPassword, len(rows))
	for i, r := range rows {
		out[i] = AppPassword{Name: r.Name, CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt}
	}
	return out, nil
}

// Revoke deletes a user's application password and reports how many went (0 or 1).
func (a AppPasswordsByName) Revoke(ctx context.Context, tenant, user, name string) (int64, error) {
	return a.q.AppPasswordRevoke(ctx, dbsqlc.AppPasswordRevokeParams{Tenant: tenant, UserName: user, Name: name})
}

// Auth finds the user of a login and keeps the failure counters that throttle guessing.
type Auth struct{ q *dbsqlc.Queries }

// Auth is authentication's.
func (r Repos) Auth() Auth { return Auth(r) }

// AuthQuery is what a login's one query looks up: the throttle counters of the login from
// the client's address and of the address, and the user name@tenant with the application
// password whose hash is AppHash (when any).
type AuthQuery struct {
	LoginKey, AddrKey string
	Tenant, Name      string
	AppHash           []byte
}

// UserAuth is what authenticating a user needs of it.
type UserAuth struct {
	ID           int64
	TenantID     int64
	PasswordHash string
	Disabled     bool
	// AppPasswordID is the application password the login's password is, if any, and
	// AppPasswordUsedAt its recorded last use.
	AppPasswordID     *int64
	AppPasswordUsedAt *time.Time
	// Limits are the tenant's.
	Limits
}

// AuthLookup is the answer of a login's query.
type AuthLookup struct {
	// Wait is how long the login must wait before it may be tried from the address; 0 when
	// it is not throttled.
	Wait time.Duration
	// LoginFailed: the login has failures from the address, which a success resets.
	LoginFailed bool
	// Found is false when no user has the login.
	Found bool
	User  UserAuth
}

// Lookup is every authenticated request's one query.
func (a Auth) Lookup(ctx context.Context, in AuthQuery) (AuthLookup, error) {
	r, err := a.q.AuthLookup(ctx, dbsqlc.AuthLookupParams{
		LoginKey: in.LoginKey, AddrKey: in.AddrKey, AppHash: in.AppHash, Tenant: in.Tenant, Name: in.Name,
	})
	if err != nil {
		return AuthLookup{}, err
	}
	return AuthLookup{
		Wait: time.Duration(r.WaitSeconds * float64(time.Second)), LoginFailed: r.LoginFailed, Found: r.Found,
		User: UserAuth{
			ID: r.UserID, TenantID: r.TenantID, PasswordHash: r.PasswordHash, Disabled: r.Disabled,
			AppPasswordID: r.AppPasswordID, AppPasswordUsedAt: r.AppPasswordUsedAt,
			Limits: Limits{MaxBytes: r.MaxBytes, MaxFileBytes: r.MaxFileBytes},
		},
	}, nil
}

// LoginBackoff is how a login's failures throttle it: from the threshold-th consecutive
// failure on, it waits base, doubled with each further failure, at most max.
type LoginBackoff struct {
	Threshold int
	Base, Max time.Duration
}

// AddrWindow is how an address's failures throttle it: threshold failures within the window
// lock it until the window ends.
type AddrWindow struct {
	Threshold int
	Window    time.Duration
}

// FailLogin counts a failure of the login counter key.
func (a Auth) FailLogin(ctx context.Context, key string, b LoginBackoff) error {
	return a.q.AuthThrottleFailLogin(ctx, dbsqlc.AuthThrottleFailLoginParams{
		LoginKey: key, Threshold: int32(b.Threshold), BaseMs: ms(b.Base), MaxMs: ms(b.Max),
	})
}

// FailAddr counts a failure of the address counter key.
func (a Auth) FailAddr(ctx context.Context, key string, w AddrWindow) error {
	return a.q.AuthThrottleFailAddr(ctx, dbsqlc.AuthThrottleFailAddrParams{
		AddrKey: key, WindowMs: ms(w.Window), Threshold: int32(w.Threshold),
	})
}

// Reset forgets the failures of the login counter key.
func (a Auth) Reset(ctx context.Context, key string) error {
	return a.q.AuthThrottleReset(ctx, key)
}

// TouchAppPassword records a use of the application password with id.
func (a Auth) TouchAppPassword(ctx context.Context, id int64) error {
	return a.q.AppPasswordTouch(ctx, id)
}

// ms is a duration in (fractional) milliseconds, as the throttle's SQL takes it.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// deref is a nullable text column's value, "" for NULL.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
