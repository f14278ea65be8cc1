package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"fileshare/internal/admin"
	"fileshare/internal/server"
)

type tenantCmd struct {
	Add    tenantAddCmd    `cmd:"" help:"Add a tenant."`
	List   tenantListCmd   `cmd:"" help:"List tenants."`
	Delete tenantDeleteCmd `cmd:"" help:"Delete a tenant with all its users, uploads, sessions and blobs."`
	Set    tenantSetCmd    `cmd:"" help:"Set a tenant's quota."`
	Usage  tenantUsageCmd  `cmd:"" help:"Print a tenant's usage and limits (every tenant's without NAME)."`
}

type tenantAddCmd struct {
	Name string `arg:"" help:"Tenant name: 1–63 lower-case letters, digits, '.', '-' or '_', starting and ending with a letter or digit."`
}

func (c *tenantAddCmd) Run(ctx context.Context, e *env) error {
	return e.withAdmin(ctx, func(a *admin.Admin) error {
		if err := a.AddTenant(ctx, c.Name); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "tenant %q added\n", c.Name)
		return nil
	})
}

type tenantListCmd struct{}

func (tenantListCmd) Run(ctx context.Context, e *env) error {
	return e.withAdmin(ctx, func(a *admin.Admin) error {
		list, err := a.ListTenants(ctx)
		if err != nil {
			return err
		}
		t := newTable(e.stdout, "NAME", "USERS", "CREATED AT")
		for _, x := range list {
			t.row(x.Name, strconv.FormatInt(x.Users, 10), stamp(x.CreatedAt))
		}
		return t.flush()
	})
}

type tenantDeleteCmd struct {
	Name string `arg:"" help:"Tenant name."`
}

func (c *tenantDeleteCmd) Run(ctx context.Context, e *env) error {
	return e.withAdmin(ctx, func(a *admin.Admin) error {
		blobs, err := server.OpenBlobs(ctx, e.cfg)
		if err != nil {
			return err
		}
		if err := a.DeleteTenant(ctx, blobs, c.Name); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "tenant %q deleted\n", c.Name)
		return nil
	})
}

type tenantSetCmd struct {
	Name         string `arg:"" help:"Tenant name."`
	MaxBytes     *int64 `name:"max-bytes" help:"Most bytes the tenant may keep: live uploads, stored file entries, uploads in progress (0 = unlimited)."`
	MaxFileBytes *int64 `name:"max-file-bytes" help:"Largest file the tenant may upload, bytes (0 = unlimited)."`
}

func (c *tenantSetCmd) Run(ctx context.Context, e *env) error {
	if c.MaxBytes == nil && c.MaxFileBytes == nil {
		return errors.New("nothing to set: give --max-bytes, --max-file-bytes or both")
	}
	return e.withAdmin(ctx, func(a *admin.Admin) error {
		if err := a.SetLimits(ctx, c.Name, c.MaxBytes, c.MaxFileBytes); err != nil {
			return err
		}
		u, err := a.TenantUsage(ctx, c.Name)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "tenant %q: max-bytes %s, max-file-bytes %s\n", c.Name, limit(u.MaxBytes), limit(u.MaxFileBytes))
		return nil
	})
}

type tenantUsageCmd struct {
	Name string `arg:"" optional:"" help:"Tenant name (default: every tenant)."`
}

func (c *tenantUsageCmd) Run(ctx context.Context, e *env) error {
	return e.withAdmin(ctx, func(a *admin.Admin) error {
		names := []string{c.Name}
		if c.Name == "" {
			list, err := a.ListTenants(ctx)
			if err != nil {
				return err
			}
			names = names[:0]
			for _, x := range list {
				names = append(names, x.Name)
			}
		}
		t := newTable(e.stdout, "TENANT", "BYTES", "MAX BYTES", "MAX FILE BYTES", "UPLOADS", "SESSIONS", "FILES")
		for _, name := range names {
			u, err := a.TenantUsage(ctx, name)
			if err != nil {
				return err
			}
			t.row(name, strconv.FormatInt(u.Bytes, 10), limit(u.MaxBytes), limit(u.MaxFileBytes),
				strconv.FormatInt(u.Uploads, 10), strconv.FormatInt(u.Sessions, 10), strconv.FormatInt(u.Files, 10))
		}
		return t.flush()
	})
}

// limit writes a limit in bytes, 0 as unlimited.
func limit(n int64) string {
	if n == 0 {
		return "unlimited"
	}
	return strconv.FormatInt(n, 10)
}
