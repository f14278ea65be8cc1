package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"fileshare/internal/admin"
	"fileshare/internal/auth"
)

type userCmd struct {
	Add     userAddCmd     `cmd:"" help:"Add a user to an existing tenant."`
	Passwd  userPasswdCmd  `cmd:"" help:"Change a user's password."`
	Disable userDisableCmd `cmd:"" help:"Disable a user: refused from the next request on."`
	Enable  userEnableCmd  `cmd:"" help:"Enable a disabled user."`
	Delete  userDeleteCmd  `cmd:"" help:"Delete a user."`
	List    userListCmd    `cmd:"" help:"List users."`
	Apppw   apppwCmd       `cmd:"" name:"apppw" help:"Application passwords: one per integration, revocable alone."`
}

type apppwCmd struct {
	Add    apppwAddCmd    `cmd:"" help:"Issue an application password; it is printed this once."`
	List   apppwListCmd   `cmd:"" help:"List a user's application passwords with their last use."`
	Revoke apppwRevokeCmd `cmd:"" help:"Revoke an application password: refused from the next request on."`
}

type apppwAddCmd struct {
	loginArg
	Name string `name:"name" required:"" help:"Name of the integration the password is for."`
}

func (c *apppwAddCmd) Run(ctx context.Context, e *env) error {
	return e.withAdmin(ctx, func(a *admin.Admin) error {
		pw, err := a.AddAppPassword(ctx, c.Login, c.Name)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, pw)
		return nil
	})
}

type apppwListCmd struct{ loginArg }

func (c *apppwListCmd) Run(ctx context.Context, e *env) error {
	return e.withAdmin(ctx, func(a *admin.Admin) error {
		list, err := a.ListAppPasswords(ctx, c.Login)
		if err != nil {
			return err
		}
		t := newTable(e.stdout, "NAME", "CREATED AT", "LAST USED AT")
		for _, x := range list {
			last := "never"
			if x.LastUsedAt != nil {
				last = stamp(*x.LastUsedAt)
			}
			t.row(x.Name, stamp(x.CreatedAt), last)
		}
		return t.flush()
	})
}

type apppwRevokeCmd struct {
	loginArg
	Name string `arg:"" help:"Name of the application password."`
}

func (c *apppwRevokeCmd) Run(ctx context.Context, e *env) error {
	return e.withAdmin(ctx, func(a *admin.Admin) error {
		if err := a.RevokeAppPassword(ctx, c.Login, c.Name); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "application password %q of %q revoked\n", c.Name, c.Login)
		return nil
	})
}

// loginArg is the LOGIN argument of the user commands.
type loginArg struct {
	Login string `arg:"" help:"name@tenant (a bare name is of tenant default)."`
}

// passwordArgs are the arguments of the commands that set a password.
type passwordArgs struct {
	loginArg
	PasswordStdin bool `name:"password-stdin" help:"Read the password from standard input (the only way to give one)."`
}

type userAddCmd struct{ passwordArgs }

func (c *userAddCmd) Run(ctx context.Context, e *env) error {
	return e.withAdmin(ctx, func(a *admin.Admin) error {
		pw, err := readPassword(e.stdin, c.PasswordStdin)
		if err != nil {
			return err
		}
		if err := a.AddUser(ctx, c.Login, pw); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "user %q added\n", c.Login)
		return nil
	})
}

type userPasswdCmd struct{ passwordArgs }

func (c *userPasswdCmd) Run(ctx context.Context, e *env) error {
	return e.withAdmin(ctx, func(a *admin.Admin) error {
		pw, err := readPassword(e.stdin, c.PasswordStdin)
		if err != nil {
			return err
		}
		if err := a.SetPassword(ctx, c.Login, pw); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "password of %q changed\n", c.Login)
		return nil
	})
}

type userDisableCmd struct{ loginArg }

func (c *userDisableCmd) Run(ctx context.Context, e *env) error {
	return e.setDisabled(ctx, c.Login, true)
}

type userEnableCmd struct{ loginArg }

func (c *userEnableCmd) Run(ctx context.Context, e *env) error {
	return e.setDisabled(ctx, c.Login, false)
}

func (e *env) setDisabled(ctx context.Context, login string, disabled bool) error {
	return e.withAdmin(ctx, func(a *admin.Admin) error {
		if err := a.SetDisabled(ctx, login, disabled); err != nil {
			return err
		}
		state := "enabled"
		if disabled {
			state = "disabled"
		}
		fmt.Fprintf(e.stdout, "user %q %s\n", login, state)
		return nil
	})
}

type userDeleteCmd struct{ loginArg }

func (c *userDeleteCmd) Run(ctx context.Context, e *env) error {
	return e.withAdmin(ctx, func(a *admin.Admin) error {
		if err := a.DeleteUser(ctx, c.Login); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "user %q deleted\n", c.Login)
		return nil
	})
}

type userListCmd struct {
	Tenant string `name:"tenant" help:"Only users of this tenant."`
}

func (c *userListCmd) Run(ctx context.Context, e *env) error {
	return e.withAdmin(ctx, func(a *admin.Admin) error {
		list, err := a.ListUsers(ctx, c.Tenant)
		if err != nil {
			return err
		}
		t := newTable(e.stdout, "LOGIN", "STATE", "CREATED AT", "PASSWORD CHANGED AT")
		for _, x := range list {
			state := "enabled"
			if x.Disabled {
				state = "disabled"
			}
			t.row(x.Login, state, stamp(x.CreatedAt), stamp(x.PasswordChangedAt))
		}
		return t.flush()
	})
}

// readPassword reads the first line of stdin; passwords are never taken from arguments, where
// other users of the machine could see them.
func readPassword(r io.Reader, fromStdin bool) (string, error) {
	if !fromStdin {
		return "", errors.New("give the password on standard input with --password-stdin")
	}
	line, err := bufio.NewReader(io.LimitReader(r, auth.MaxPasswordLen+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("empty password on standard input")
	}
	if len(pw) > auth.MaxPasswordLen {
		return "", fmt.Errorf("password longer than %d bytes", auth.MaxPasswordLen)
	}
	return pw, nil
}
