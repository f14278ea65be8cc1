package main

import (
	"context"
	"fmt"
	"strconv"

	"fileshare/internal/server"
)

type tenantCmd struct {
	Add    tenantAddCmd    `cmd:"" help:"Add a tenant."`
	List   tenantListCmd   `cmd:"" help:"List tenants."`
	Delete tenantDeleteCmd `cmd:"" help:"Delete a tenant with all its users, uploads, sessions and blobs."`
}

type tenantAddCmd struct {
	Name string `arg:"" help:"Tenant name: 1–63 lower-case letters, digits, '.', '-' or '_', starting and ending with a letter or digit."`
}

func (c *tenantAddCmd) Run(ctx context.Context, e *env) error {
	a, done, err := e.admin(ctx)
	if err != nil {
		return err
	}
	defer done()
	if err := a.AddTenant(ctx, c.Name); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "tenant %q added\n", c.Name)
	return nil
}

type tenantListCmd struct{}

func (tenantListCmd) Run(ctx context.Context, e *env) error {
	a, done, err := e.admin(ctx)
	if err != nil {
		return err
	}
	defer done()
	list, err := a.ListTenants(ctx)
	if err != nil {
		return err
	}
	t := newTable(e.stdout, "NAME", "USERS", "CREATED AT")
	for _, x := range list {
		t.row(x.Name, strconv.FormatInt(x.Users, 10), stamp(x.CreatedAt))
	}
	return t.flush()
}

type tenantDeleteCmd struct {
	Name string `arg:"" help:"Tenant name."`
}

func (c *tenantDeleteCmd) Run(ctx context.Context, e *env) error {
	a, done, err := e.admin(ctx)
	if err != nil {
		return err
	}
	defer done()
	blobs, err := server.OpenBlobs(ctx, e.cfg)
	if err != nil {
		return err
	}
	if err := a.DeleteTenant(ctx, blobs, c.Name); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "tenant %q deleted\n", c.Name)
	return nil
}
