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
	Set    tenantSetCmd    `cmd:"" help:"Set a tenant's quota or display name."`
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
		// The display name comes last: it may hold spaces, and the columns before it stay
		// readable by `awk '{print $1}'`.
		t := newTable(e.stdout, "NAME", "USERS", "CREATED AT", "DISPLAY NAME")
		for _, x := range list {
			display := x.DisplayName
			if display == "" {
				display = "-"
			}
			t.row(x.Name, strconv.FormatInt(x.Users, 10), stamp(x.CreatedAt), display)
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
	Name         string  `arg:"" help:"Tenant name."`
	MaxBytes     *int64  `name:"max-bytes" help:"Most bytes the tenant may keep: live uploads, stored file entries, uploads in progress (0 = unlimited)."`
	MaxFileBytes *int64  `name:"max-file-bytes" help:"Largest file the tenant may upload, bytes (0 = unlimited)."`
	DisplayName  *string `name:"display-name" help:"Name the tenant's recipients see on a link's page (\"ACME Support sent you a file\"): at most 100 characters, Unicode NFC, no control or format characters; \"\" removes it."`
}

func (c *tenantSetCmd) Run(ctx context.Context, e *env) error {
	if c.MaxBytes == nil && c.MaxFileBytes == nil && c.DisplayName == nil {
		return errors.New("nothing to set: give --max-bytes, --max-file-bytes, --display-name or several")
	}
	return e.withAdmin(ctx, func(a *admin.Admin) error {
		err := a.SetTenant(ctx, c.Name, admin.TenantSettings{MaxBytes: c.MaxBytes, MaxFileBytes: c.MaxFileBytes, DisplayName: c.DisplayName})
		if err != nil {
			return err
		}
		u, err := a.TenantUsage(ctx, c.Name)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "tenant %q: max-bytes %s, max-file-bytes %s", c.Name, limit(u.MaxBytes), limit(u.MaxFileBytes))
		switch {
		case c.DisplayName == nil:
		case *c.DisplayName == "":
			fmt.Fprint(e.stdout, ", no display name")
		default:
			fmt.Fprintf(e.stdout, ", display name %q", *c.DisplayName)
		}
		fmt.Fprintln(e.stdout)
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
