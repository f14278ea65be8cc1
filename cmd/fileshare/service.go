package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/gin-gonic/gin"

	"fileshare/internal/purge"
	"fileshare/internal/server"
)

type serveCmd struct{}

func (serveCmd) Run(ctx context.Context, e *env) error {
	gin.SetMode(gin.ReleaseMode)
	if os.Getenv("GOGC") == "" {
		// Requests allocate much that dies at once over a live heap of a few MiB: at Go's
		// default pace the collector would run thousands of times a second under load. GOGC
		// set in the environment wins.
		debug.SetGCPercent(serveGCPercent)
	}
	return server.Serve(ctx, e.cfg, e.log)
}

// serveGCPercent is the garbage collector's target of serve, unless GOGC is set.
const serveGCPercent = 400

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
