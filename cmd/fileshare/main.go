// Command fileshare is the fileshare service and its operator's tools: serve, migrate, tenant,
// user and version. Wiring only: the work is done in internal/.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kong"
	"github.com/gin-gonic/gin"

	"fileshare/internal/admin"
	"fileshare/internal/auth"
	"fileshare/internal/config"
	"fileshare/internal/purge"
	"fileshare/internal/server"
	"fileshare/internal/store"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

type cli struct {
	config.Config
	ConfigFile kong.ConfigFlag `name:"config" env:"FILESHARE_CONFIG" help:"YAML configuration file." placeholder:"FILE"`

	Serve   serveCmd   `cmd:"" help:"Serve the HTTP API, with the purge scheduler."`
	Migrate migrateCmd `cmd:"" help:"Run the database migrations embedded in the binary."`
	Tenant  tenantCmd  `cmd:"" help:"Manage tenants."`
	User    userCmd    `cmd:"" help:"Manage users."`
	Purge   purgeCmd   `cmd:"" help:"Run one purge pass, then exit."`
	Version versionCmd `cmd:"" help:"Print the version."`
}

// env carries what every command needs.
type env struct {
	cfg    *config.Config
	log    *slog.Logger
	stdin  io.Reader
	stdout io.Writer
}

func main() {
	var c cli
	opts := []kong.Option{
		kong.Name("fileshare"),
		kong.Description("Multi-tenant HTTP file sharing for telephony and RTC platforms."),
		kong.UsageOnError(),
		kong.Configuration(config.YAMLLoader),
	}
	if path := os.Getenv("FILESHARE_CONFIG"); path != "" {
		if _, err := os.Stat(path); err != nil {
			fmt.Fprintf(os.Stderr, "fileshare: config file: %v\n", err)
			os.Exit(1)
		}
		opts = append(opts, kong.Configuration(config.YAMLLoader, path))
	}
	kctx := kong.Parse(&c, opts...)
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: parseLevel(c.LogLevel)}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	e := &env{cfg: &c.Config, log: log, stdin: os.Stdin, stdout: os.Stdout}
	kctx.BindTo(ctx, (*context.Context)(nil))
	if err := kctx.Run(e); err != nil {
		fmt.Fprintf(os.Stderr, "fileshare: %s\n", oneLine(err))
		os.Exit(1)
	}
}

func parseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// oneLine keeps an error's reason on one line, as operators read it in a deploy log.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// openStore connects to the configured database.
func (e *env) openStore(ctx context.Context) (*store.Store, error) {
	if err := e.cfg.RequireDatabase(); err != nil {
		return nil, err
	}
	return store.Open(ctx, e.cfg.DatabaseURL, store.Options{QueryTimeout: e.cfg.DBTimeout})
}

type serveCmd struct{}

func (serveCmd) Run(ctx context.Context, e *env) error {
	gin.SetMode(gin.ReleaseMode)
	return server.Serve(ctx, e.cfg, e.log)
}

type migrateCmd struct {
	Up      struct{} `cmd:"" help:"Apply all pending migrations."`
	Down    struct{} `cmd:"" help:"Roll back the latest migration."`
	Status  struct{} `cmd:"" help:"List migrations and whether they are applied."`
	Version struct{} `cmd:"" help:"Print the schema version of the database."`
}

func (migrateCmd) Run(ctx context.Context, kctx *kong.Context, e *env) error {
	st, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	m, err := st.NewMigrator()
	if err != nil {
		return err
	}
	defer m.Close()
	switch kctx.Command() {
	case "migrate up":
		res, err := m.Up(ctx)
		for _, r := range res {
			fmt.Fprintf(e.stdout, "applied %s (%s)\n", r.Source.Path, r.Duration.Round(time.Millisecond))
		}
		if err != nil {
			return err
		}
		v, err := m.GetDBVersion(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "schema at version %d\n", v)
		if q, _, err := m.QueueVersion(ctx); err == nil {
			fmt.Fprintf(e.stdout, "job queue schema at version %d\n", q)
		}
	case "migrate down":
		r, err := m.Down(ctx)
		if r != nil {
			fmt.Fprintf(e.stdout, "rolled back %s\n", r.Source.Path)
		}
		return err
	case "migrate status":
		st, err := m.Status(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "VERSION\tSTATE\tAPPLIED AT\tFILE")
		for _, s := range st {
			at := "-"
			if !s.AppliedAt.IsZero() {
				at = s.AppliedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", s.Source.Version, s.State, at, s.Source.Path)
		}
		return w.Flush()
	case "migrate version":
		v, err := m.GetDBVersion(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%d (latest embedded: %d)\n", v, m.Latest())
	}
	return nil
}

type tenantCmd struct {
	Add struct {
		Name string `arg:"" help:"Tenant name."`
	} `cmd:"" help:"Add a tenant."`
	List   struct{} `cmd:"" help:"List tenants."`
	Delete struct {
		Name string `arg:"" help:"Tenant name."`
	} `cmd:"" help:"Delete a tenant with all its users, uploads, sessions and blobs."`
}

func (t *tenantCmd) Run(ctx context.Context, kctx *kong.Context, e *env) error {
	st, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	a := admin.New(st, auth.DefaultParams)
	switch kctx.Command() {
	case "tenant add <name>":
		if err := a.AddTenant(ctx, t.Add.Name); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "tenant %q added\n", t.Add.Name)
	case "tenant list":
		list, err := a.ListTenants(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tUSERS\tCREATED AT")
		for _, t := range list {
			fmt.Fprintf(w, "%s\t%d\t%s\n", t.Name, t.Users, t.CreatedAt.UTC().Format(time.RFC3339))
		}
		return w.Flush()
	case "tenant delete <name>":
		blobs, err := server.OpenBlobs(ctx, e.cfg)
		if err != nil {
			return err
		}
		if err := a.DeleteTenant(ctx, blobs, t.Delete.Name); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "tenant %q deleted\n", t.Delete.Name)
	}
	return nil
}

type loginArg struct {
	Login string `arg:"" help:"name@tenant (a bare name is of tenant default)."`
}

type passwordArgs struct {
	Login         string `arg:"" help:"name@tenant (a bare name is of tenant default)."`
	PasswordStdin bool   `name:"password-stdin" help:"Read the password from standard input (the only way to give one)."`
}

type userCmd struct {
	Add     passwordArgs `cmd:"" help:"Add a user to an existing tenant."`
	Passwd  passwordArgs `cmd:"" help:"Change a user's password."`
	Disable loginArg     `cmd:"" help:"Disable a user: refused from the next request on."`
	Enable  loginArg     `cmd:"" help:"Enable a disabled user."`
	Delete  loginArg     `cmd:"" help:"Delete a user."`
	List    struct {
		Tenant string `name:"tenant" help:"Only users of this tenant."`
	} `cmd:"" help:"List users."`
}

func (u *userCmd) Run(ctx context.Context, kctx *kong.Context, e *env) error {
	st, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	a := admin.New(st, auth.DefaultParams)
	switch kctx.Command() {
	case "user add <login>":
		pw, err := readPassword(e.stdin, u.Add.PasswordStdin)
		if err != nil {
			return err
		}
		if err := a.AddUser(ctx, u.Add.Login, pw); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "user %q added\n", u.Add.Login)
	case "user passwd <login>":
		pw, err := readPassword(e.stdin, u.Passwd.PasswordStdin)
		if err != nil {
			return err
		}
		if err := a.SetPassword(ctx, u.Passwd.Login, pw); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "password of %q changed\n", u.Passwd.Login)
	case "user disable <login>":
		if err := a.SetDisabled(ctx, u.Disable.Login, true); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "user %q disabled\n", u.Disable.Login)
	case "user enable <login>":
		if err := a.SetDisabled(ctx, u.Enable.Login, false); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "user %q enabled\n", u.Enable.Login)
	case "user delete <login>":
		if err := a.DeleteUser(ctx, u.Delete.Login); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "user %q deleted\n", u.Delete.Login)
	case "user list":
		list, err := a.ListUsers(ctx, u.List.Tenant)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "LOGIN\tSTATE\tCREATED AT\tPASSWORD CHANGED AT")
		for _, x := range list {
			state := "enabled"
			if x.Disabled {
				state = "disabled"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", x.Login, state, x.CreatedAt.UTC().Format(time.RFC3339), x.PasswordChangedAt.UTC().Format(time.RFC3339))
		}
		return w.Flush()
	}
	return nil
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

type purgeCmd struct{}

func (purgeCmd) Run(ctx context.Context, e *env) error {
	st, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	blobs, err := server.OpenBlobs(ctx, e.cfg)
	if err != nil {
		return err
	}
	res, err := purge.New(st, blobs, e.log, server.PurgeOptions(e.cfg)).RunOnce(ctx)
	out, _ := json.Marshal(res)
	fmt.Fprintf(e.stdout, "%s\n", out)
	return err
}

type versionCmd struct{}

func (versionCmd) Run(e *env) error {
	fmt.Fprintf(e.stdout, "fileshare %s\n", version)
	return nil
}
