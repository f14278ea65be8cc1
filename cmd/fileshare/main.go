// Command fileshare is the fileshare service and its operator's tools: serve, migrate, tenant,
// user and version. Wiring only: the work is done in internal/.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"fileshare/internal/admin"
	"fileshare/internal/auth"
	"fileshare/internal/config"
	"fileshare/internal/logwriter"
	"fileshare/internal/server"
	"fileshare/internal/store"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

type cli struct {
	config.Config
	ConfigFile string `name:"config" env:"FILESHARE_CONFIG" help:"YAML configuration file." placeholder:"FILE"`

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
	sources := config.NewSources("config")
	parser := kong.Must(&c,
		kong.Name("fileshare"),
		kong.Description("Multi-tenant HTTP file sharing for telephony and RTC platforms."),
		kong.UsageOnError(),
		sources.Option(),
	)
	kctx, err := parser.Parse(os.Args[1:])
	if err != nil {
		// A bad setting is one line naming it and its source, for a deploy log; kong's usage
		// text is for mistakes in the command itself.
		if cerr := sources.Explain(err); cerr != nil {
			fmt.Fprintf(os.Stderr, "fileshare: %s\n", oneLine(cerr))
			os.Exit(1)
		}
		parser.FatalIfErrorf(err)
	}
	// Log lines are written in batches, at most logFlush after they were logged: one write per
	// request would be a system call on every request's path. The writer is the last worker
	// to stop: it runs on no signal's context, and stops once the command has returned.
	logs := logwriter.New(os.Stderr, logFlush)
	_ = logs.Start(context.Background()) // cannot fail
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: parseLevel(c.LogLevel)}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	e := &env{cfg: &c.Config, log: log, stdin: os.Stdin, stdout: os.Stdout}
	kctx.BindTo(ctx, (*context.Context)(nil))
	err = kctx.Run(e)
	logs.Stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "fileshare: %s\n", oneLine(err))
		os.Exit(1)
	}
}

// logFlush bounds how long a log line waits in memory before it is written.
const logFlush = 20 * time.Millisecond

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
	return store.Open(ctx, e.cfg.DatabaseURL, server.StoreOptions(e.cfg))
}

// withAdmin runs fn, an operator's command on tenants and users, on an open database.
func (e *env) withAdmin(ctx context.Context, fn func(a *admin.Admin) error) error {
	st, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(admin.New(st, auth.DefaultParams))
}
