package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gin-gonic/gin"

	"fileshare/internal/purge"
	"fileshare/internal/server"
)

type serveCmd struct{}

func (serveCmd) Run(ctx context.Context, e *env) error {
	gin.SetMode(gin.ReleaseMode)
	return server.Serve(ctx, e.cfg, e.log)
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
