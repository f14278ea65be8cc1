package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"fileshare/internal/config"
)

// parse parses args like cmd/fileshare does: kong over an embedded Config, with the YAML file
// as a configuration resolver.
func parse(t *testing.T, yaml string, args ...string) config.Config {
	t.Helper()
	var opts []kong.Option
	if yaml != "" {
		file := filepath.Join(t.TempDir(), "fileshare.yaml")
		if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		opts = append(opts, kong.Configuration(config.YAMLLoader, file))
	}
	var c struct{ config.Config }
	p, err := kong.New(&c, append(opts, kong.Exit(func(int) { t.Fatal("kong exited") }))...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return c.Config
}

func TestYAMLFileBetweenFlagsAndDefaults(t *testing.T) {
	t.Parallel()
	// Defaults of docs/behaviour.md §7 without a file.
	d := parse(t, "")
	if d.UploadTTL != 3600 || d.SessionTTL != 604800 || d.MaxTTL != 2592000 || d.MaxUploadBytes != 2147483648 ||
		d.Listen != "127.0.0.1:3001" || d.DataDir != "./data" || d.PurgeInterval != time.Minute ||
		d.TombstoneRetention != 720*time.Hour || d.OrphanGrace != time.Hour || len(d.TrustedProxies) != 0 ||
		d.DBMaxConns != 8 || d.DatabaseDirectURL != "" {
		t.Errorf("defaults: %+v", d)
	}

	yaml := `
models:
  upload:
    ttl: 111
  session:
    ttl: 4444
max-ttl: 100000
data_dir: /srv/fileshare
purge-interval: 5m
trusted-proxies:
  - 10.0.0.0/8
  - 192.0.2.1
`
	f := parse(t, yaml)
	if f.UploadTTL != 111 || f.SessionTTL != 4444 || f.MaxTTL != 100000 || f.DataDir != "/srv/fileshare" ||
		f.PurgeInterval != 5*time.Minute || strings.Join(f.TrustedProxies, " ") != "10.0.0.0/8 192.0.2.1" {
		t.Errorf("from the file: %+v", f)
	}
	// What the file does not say keeps its default.
	if f.Listen != "127.0.0.1:3001" || f.MaxUploadBytes != 2147483648 {
		t.Errorf("defaults next to a file: %+v", f)
	}

	// A flag beats the file.
	g := parse(t, yaml, "--upload-ttl", "333", "--data-dir", "/elsewhere")
	if g.UploadTTL != 333 || g.DataDir != "/elsewhere" || g.SessionTTL != 4444 {
		t.Errorf("flags over the file: upload %d, data dir %q, session %d", g.UploadTTL, g.DataDir, g.SessionTTL)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	good := parse(t, "")
	if err := good.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	for what, change := range map[string]func(c *config.Config){
		"upload ttl 0":           func(c *config.Config) { c.UploadTTL = 0 },
		"upload ttl over max":    func(c *config.Config) { c.UploadTTL = c.MaxTTL + 1 },
		"session ttl over max":   func(c *config.Config) { c.SessionTTL = c.MaxTTL + 1 },
		"max ttl 0":              func(c *config.Config) { c.MaxTTL = 0 },
		"no upload size":         func(c *config.Config) { c.MaxUploadBytes = 0 },
		"no purge interval":      func(c *config.Config) { c.PurgeInterval = 0 },
		"relative public url":    func(c *config.Config) { c.PublicURL = "/rtc/fileshare" },
		"public url with query":  func(c *config.Config) { c.PublicURL = "https://h/x?y=1" },
		"ftp public url":         func(c *config.Config) { c.PublicURL = "ftp://h/x" },
		"trusted proxy not CIDR": func(c *config.Config) { c.TrustedProxies = []string{"10.0.0.0/33"} },
		"trusted proxy a name":   func(c *config.Config) { c.TrustedProxies = []string{"proxy.local"} },
		"cors origin a host":     func(c *config.Config) { c.CORSOrigins = []string{"app.example.com"} },
		"cors origin with path":  func(c *config.Config) { c.CORSOrigins = []string{"https://app.example.com/x"} },
		"cors origin slash":      func(c *config.Config) { c.CORSOrigins = []string{"https://app.example.com/"} },
		"cors origin upper case": func(c *config.Config) { c.CORSOrigins = []string{"https://App.example.com"} },
		"connection budget of 3": func(c *config.Config) { c.DBMaxConns = 3 },
		"pool size in the URL":   func(c *config.Config) { c.DatabaseURL = "postgres://db/x?pool_max_conns=9" },
	} {
		c := good
		change(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: validates", what)
		}
	}
	c := good
	c.CORSOrigins = []string{"*", "https://app.example.com", "http://127.0.0.1:8080"}
	if err := c.Validate(); err != nil {
		t.Errorf("cors origins: %v", err)
	}
	c = good
	c.PublicURL = "https://host:1446/rtc/fileshare"
	c.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.1", "::1"}
	if err := c.Validate(); err != nil {
		t.Errorf("valid public URL and proxies: %v", err)
	}
}

// The blob store settings of docs/behaviour.md §8: their defaults, the YAML keys, and their validation.
func TestBlobStoreSettings(t *testing.T) {
	t.Parallel()
	d := parse(t, "")
	if d.BlobStore != "disk" || d.S3Region != "us-east-1" || d.S3Endpoint != "" || d.S3PathStyle || d.BlobStoreS3() {
		t.Fatalf("defaults: store %q region %q endpoint %q path style %v", d.BlobStore, d.S3Region, d.S3Endpoint, d.S3PathStyle)
	}
	c := parse(t, "blob_store: s3\ns3_endpoint: http://127.0.0.1:9000\ns3_bucket: files\ns3_prefix: fs/\ns3_path_style: true\n", "--s3-region=eu-west-1")
	if !c.BlobStoreS3() || c.S3Endpoint != "http://127.0.0.1:9000" || c.S3Bucket != "files" || c.S3Prefix != "fs/" || !c.S3PathStyle || c.S3Region != "eu-west-1" {
		t.Fatalf("from the file and flags: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid S3 settings: %v", err)
	}
	for what, change := range map[string]func(c *config.Config){
		"unknown store":                  func(c *config.Config) { c.BlobStore = "ftp" },
		"no bucket":                      func(c *config.Config) { c.S3Bucket = "" },
		"no region":                      func(c *config.Config) { c.S3Region = "" },
		"endpoint without scheme":        func(c *config.Config) { c.S3Endpoint = "127.0.0.1:9000" },
		"endpoint with a path":           func(c *config.Config) { c.S3Endpoint = "http://minio/bucket" },
		"IP endpoint, virtual-hosted":    func(c *config.Config) { c.S3PathStyle = false },
		"localhost endpoint, v-hosted":   func(c *config.Config) { c.S3Endpoint, c.S3PathStyle = "http://localhost:9000", false },
		"prefix from the root":           func(c *config.Config) { c.S3Prefix = "/fs" },
		"prefix with an empty segment":   func(c *config.Config) { c.S3Prefix = "a//b" },
		"endpoint with credentials":      func(c *config.Config) { c.S3Endpoint = "http://key:secret@minio:9000" },
		"endpoint with a query":          func(c *config.Config) { c.S3Endpoint = "https://minio:9000?x=1" },
		"ftp endpoint":                   func(c *config.Config) { c.S3Endpoint = "ftp://minio" },
		"virtual-hosted needs DNS names": func(c *config.Config) { c.S3Endpoint, c.S3PathStyle = "http://[::1]:9000", false },
	} {
		bad := c
		change(&bad)
		if err := bad.Validate(); err == nil {
			t.Errorf("%s: validates", what)
		}
	}
	aws := c
	aws.S3Endpoint, aws.S3PathStyle = "", false
	if err := aws.Validate(); err != nil {
		t.Errorf("AWS with virtual-hosted addressing: %v", err)
	}
	named := c
	named.S3Endpoint, named.S3PathStyle = "https://s3.example.com", false
	if err := named.Validate(); err != nil {
		t.Errorf("a named endpoint with virtual-hosted addressing: %v", err)
	}
	// S3 settings do not matter to the disk store.
	disk := d
	disk.S3Endpoint = "nonsense"
	if err := disk.Validate(); err != nil {
		t.Errorf("disk store with stray S3 settings: %v", err)
	}
}

// The console (docs/behaviour.md §15) is on by default with 12 h sign-ins; the file or a flag
// turns it off; a sign-in shorter than a minute is refused.
func TestConsoleSettings(t *testing.T) {
	t.Parallel()
	if d := parse(t, ""); !d.Console || d.ConsoleSessionTTL != 12*time.Hour {
		t.Fatalf("defaults: console %v, session ttl %s", d.Console, d.ConsoleSessionTTL)
	}
	if f := parse(t, "console: false\nconsole_session_ttl: 30m\n"); f.Console || f.ConsoleSessionTTL != 30*time.Minute {
		t.Fatalf("from the file: console %v, session ttl %s", f.Console, f.ConsoleSessionTTL)
	}
	if g := parse(t, "", "--no-console"); g.Console {
		t.Fatal("--no-console leaves the console on")
	}
	c := parse(t, "")
	c.ConsoleSessionTTL = 30 * time.Second
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "console-session-ttl must be at least 1m") {
		t.Fatalf("a 30 s sign-in: %v", err)
	}
}
