package config_test

import (
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"fileshare/internal/config"
)

// The commented example in deploy/ must load, and mean what its comments say.
func TestExampleConfigFileLoads(t *testing.T) {
	t.Parallel()
	_, here, _, _ := runtime.Caller(0)
	example := filepath.Join(filepath.Dir(here), "..", "..", "deploy", "fileshare.example.yaml")
	var c struct{ config.Config }
	p, err := kong.New(&c, kong.Configuration(config.YAMLLoader, example), kong.Exit(func(int) { t.Fatal("exit") }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse(nil); err != nil {
		t.Fatalf("parse with the example file: %v", err)
	}
	got := c.Config
	if got.Listen != "127.0.0.1:3001" || got.DataDir != "/var/lib/fileshare" || got.UploadTTL != 3600 ||
		got.SessionTTL != 604800 || got.MaxTTL != 2592000 || got.MaxUploadBytes != 2147483648 ||
		got.PurgeInterval != time.Minute || got.TombstoneRetention != 720*time.Hour || got.OrphanGrace != time.Hour ||
		len(got.TrustedProxies) != 1 || got.TrustedProxies[0] != "127.0.0.1/32" || got.LogLevel != "info" ||
		got.DBMaxConns != 8 {
		t.Fatalf("example config read as %+v", got)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("example config does not validate: %v", err)
	}
}
