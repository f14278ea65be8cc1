package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"fileshare/internal/config"
)

// cli is what cmd/fileshare parses: the settings, the flag naming the file, and a command.
type cli struct {
	config.Config
	File string   `name:"config" env:"FILESHARE_CONFIG"`
	Run  struct{} `cmd:"" default:"1"`
	Add  struct {
		Name string `arg:""`
	} `cmd:""`
}

// clearEnv makes every variable of the settings empty, which counts as not set, so that the
// developer's shell does not leak in.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "FILESHARE_") || k == "DATABASE_URL" {
			t.Setenv(k, "")
		}
	}
	for _, k := range []string{"FILESHARE_CONFIG", "FILESHARE_UPLOAD_TTL", "FILESHARE_DATABASE_URL", "DATABASE_URL"} {
		t.Setenv(k, "")
	}
}

// load parses args the way cmd/fileshare does. It returns the configuration, and the error as
// Explain makes it: a configuration error, or kong's own when it is none.
func load(t *testing.T, args ...string) (config.Config, error) {
	t.Helper()
	var c cli
	sources := config.NewSources("config")
	p, err := kong.New(&c, sources.Option(), kong.Exit(func(int) { t.Fatal("kong exited") }))
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Parse(args)
	if err == nil {
		return c.Config, nil
	}
	if cerr := sources.Explain(err); cerr != nil {
		return c.Config, cerr
	}
	return c.Config, err
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fileshare.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The form operators already have, as the original service documents it.
const documented = `models: {
  session: {
    ttl: 86400 * 7
  },
  upload: {
    ttl: 3600
  }
}
`

func TestDocumentedFileForm(t *testing.T) {
	clearEnv(t)
	for _, tc := range []struct {
		yaml            string
		upload, session int64
	}{
		{documented, 3600, 604800},
		{"models: { session: { ttl: 86400 * 7 }, upload: { ttl: 3600 } }\n", 3600, 604800},
		{"models:\n  session:\n    ttl: 60*60*24\n  upload:\n    ttl: '2 * 60'\n", 120, 86400},
		{"models: {\n  session: {\n    ttl: 7 * 24 * 60 * 60\n  },\n  upload: {\n    ttl: 1*1\n  }\n}\n", 1, 604800},
	} {
		c, err := load(t, "--config", writeFile(t, tc.yaml))
		if err != nil {
			t.Errorf("%q refused: %v", tc.yaml, err)
			continue
		}
		if c.UploadTTL != tc.upload || c.SessionTTL != tc.session {
			t.Errorf("%q: upload ttl %d, session ttl %d; want %d, %d", tc.yaml, c.UploadTTL, c.SessionTTL, tc.upload, tc.session)
		}
	}
	// Products everywhere a whole number or a duration is read, from every source.
	file := writeFile(t, "max_upload_bytes: 2 * 1024 * 1024\norphan_grace: 60 * 60 * 2\npurge_interval: 90s\n")
	t.Setenv("FILESHARE_MAX_TTL", "86400 * 30")
	c, err := load(t, "--config", file, "--tombstone-retention", "86400*10", "--body-min-rate=2 * 512")
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxUploadBytes != 2<<20 || c.OrphanGrace != 2*time.Hour || c.PurgeInterval != 90*time.Second ||
		c.MaxTTL != 2592000 || c.TombstoneRetention != 240*time.Hour || c.BodyMinRate != 1024 {
		t.Errorf("products: %+v", c)
	}
}

func TestConfigurationErrorsNameKeyAndSource(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		file string // YAML; passed with --config
		args []string
		want string // the whole error
	}{
		{
			name: "file value",
			file: "models:\n  session:\n    ttl: abc\n",
			want: `invalid configuration: models.session.ttl in FILE: "abc" is not a whole number of seconds`,
		},
		{
			name: "file product that overflows",
			file: "models:\n  upload:\n    ttl: 86400 * 7 * 99999999999\n",
			want: `invalid configuration: models.upload.ttl in FILE: "86400 * 7 * 99999999999" is too large: at most 9223372036 seconds`,
		},
		{
			name: "file negative",
			file: "models: { upload: { ttl: -5 } }\n",
			want: `invalid configuration: models.upload.ttl in FILE: "-5" is not a whole number of seconds`,
		},
		{
			name: "file half a product",
			file: "models: { upload: { ttl: 3600 * } }\n",
			want: `invalid configuration: models.upload.ttl in FILE: "3600 *" is not a whole number of seconds`,
		},
		{
			name: "file fraction",
			file: "max_upload_bytes: 1.5\n",
			want: `invalid configuration: max_upload_bytes in FILE: "1.5" is not a whole number of bytes`,
		},
		{
			name: "file duration",
			file: "purge-interval: soon\n",
			want: `invalid configuration: purge-interval in FILE: "soon" is neither a duration such as 90s or 1h30m nor a whole number of seconds`,
		},
		{
			name: "unknown keys",
			file: "models:\n  sesion:\n    ttl: 5\nlisten_addr: x\n",
			want: `invalid configuration: models.sesion.ttl in FILE: unknown key; listen_addr in FILE: unknown key`,
		},
		{
			name: "the same setting twice",
			file: "upload_ttl: 5\nmodels:\n  upload:\n    ttl: 6\n",
			want: `invalid configuration: models.upload.ttl in FILE: the same setting as upload_ttl on line 1`,
		},
		{
			name: "a list for one value",
			file: "listen: [a, b]\n",
			want: `invalid configuration: listen in FILE: a list, where one value is expected`,
		},
		{
			name: "not YAML",
			file: "models: {\n  session: { ttl: 5\n",
			want: `invalid configuration: config file FILE: yaml: line`,
		},
		{
			name: "environment",
			env:  map[string]string{"FILESHARE_UPLOAD_TTL": "1h"},
			want: `invalid configuration: FILESHARE_UPLOAD_TTL (environment): "1h" is not a whole number of seconds`,
		},
		{
			name: "environment choice",
			env:  map[string]string{"FILESHARE_LOG_LEVEL": "loud"},
			want: `invalid configuration: FILESHARE_LOG_LEVEL (environment): "loud" is not one of debug, info, warn, error`,
		},
		{
			name: "environment bool",
			env:  map[string]string{"FILESHARE_S3_PATH_STYLE": "maybe"},
			want: `invalid configuration: FILESHARE_S3_PATH_STYLE (environment): "maybe" is not true or false`,
		},
		{
			name: "flag",
			args: []string{"--upload-ttl", "abc"},
			want: `invalid configuration: --upload-ttl (flag): "abc" is not a whole number of seconds`,
		},
		{
			name: "flag after the command",
			args: []string{"add", "x", "--db-timeout=forever"},
			want: `invalid configuration: --db-timeout (flag): "forever" is neither a duration such as 90s or 1h30m nor a whole number of seconds`,
		},
		{
			name: "flag bool",
			args: []string{"--s3-path-style=perhaps"},
			want: `invalid configuration: --s3-path-style (flag): "perhaps" is not true or false`,
		},
		{
			name: "Validate, the file to blame",
			file: "models:\n  upload:\n    ttl: 0\n",
			want: `invalid configuration: models.upload.ttl in FILE: upload-ttl must be between 1 and max-ttl (2592000), not 0`,
		},
		{
			name: "Validate, the flag to blame for a default",
			args: []string{"--max-ttl", "60"},
			want: `invalid configuration: --max-ttl (flag): upload-ttl must be between 1 and max-ttl (60), not 3600; --max-ttl (flag): session-ttl must be between 1 and max-ttl (60), not 604800`,
		},
		{
			name: "Validate, the environment",
			env:  map[string]string{"FILESHARE_BLOB_STORE": "s3"},
			want: `invalid configuration: FILESHARE_BLOB_STORE (environment): blob-store s3 needs a bucket: set FILESHARE_S3_BUCKET or --s3-bucket`,
		},
		{
			name: "Validate, a connection budget too small",
			env:  map[string]string{"FILESHARE_DB_MAX_CONNS": "3"},
			want: `invalid configuration: FILESHARE_DB_MAX_CONNS (environment): db-max-conns must be at least 4, not 3: an instance needs two connections for its queries and two sessions of its own (listening)`,
		},
		{
			name: "Validate, a pool size in the URL",
			args: []string{"--database-url=postgres://db/fileshare?pool_max_conns=20"},
			want: `invalid configuration: --database-url (flag): the database URL must not set pool_max_conns: db-max-conns (FILESHARE_DB_MAX_CONNS) bounds every connection of an instance`,
		},
		{
			name: "Validate, an empty flag",
			args: []string{"--blob-store=s3", "--s3-bucket=b", "--s3-region="},
			want: `invalid configuration: --s3-region (flag): s3-region must not be empty`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			args := tc.args
			want := tc.want
			if tc.file != "" {
				path := writeFile(t, tc.file)
				args = append([]string{"--config", path}, args...)
				want = strings.ReplaceAll(want, "FILE", path)
			}
			_, err := load(t, args...)
			if err == nil {
				t.Fatalf("accepted, want %s", want)
			}
			var errs config.Errors
			if !errorsAs(err, &errs) {
				t.Fatalf("%v (%T) is not a configuration error", err, err)
			}
			if got := err.Error(); !strings.HasPrefix(got, want) || strings.Contains(got, "\n") {
				t.Errorf("error\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func errorsAs(err error, target *config.Errors) bool {
	e, ok := err.(config.Errors)
	if ok {
		*target = e
	}
	return ok
}

// The source of a value: flags beat the environment, which beats the file, which beats the
// defaults; an empty variable counts as not set.
func TestSourcesPrecedence(t *testing.T) {
	clearEnv(t)
	file := writeFile(t, "models: { upload: { ttl: 60 * 2 }, session: { ttl: 300 } }\nlisten: 127.0.0.1:9\ntrusted_proxies:\n  - 10.0.0.0/8\n  - 192.0.2.1\n")
	c, err := load(t, "--config", file)
	if err != nil || c.UploadTTL != 120 || c.SessionTTL != 300 || c.Listen != "127.0.0.1:9" ||
		!reflect.DeepEqual(c.TrustedProxies, []string{"10.0.0.0/8", "192.0.2.1"}) {
		t.Fatalf("from the file: %+v %v", c, err)
	}
	t.Setenv("FILESHARE_CONFIG", file)
	t.Setenv("FILESHARE_UPLOAD_TTL", "7 * 60")
	t.Setenv("FILESHARE_LISTEN", "") // empty: the file's
	c, err = load(t, "--session-ttl", "2*60")
	if err != nil || c.UploadTTL != 420 || c.SessionTTL != 120 || c.Listen != "127.0.0.1:9" {
		t.Fatalf("environment and flags over the file: %+v %v", c, err)
	}
	// A bad variable that a flag overrides is not read.
	t.Setenv("FILESHARE_UPLOAD_TTL", "abc")
	if c, err = load(t, "--upload-ttl", "5"); err != nil || c.UploadTTL != 5 {
		t.Fatalf("flag over a bad variable: %d %v", c.UploadTTL, err)
	}
}

func TestEmptyVariableIsNotSet(t *testing.T) {
	clearEnv(t)
	t.Setenv("FILESHARE_DATABASE_URL", "")
	t.Setenv("DATABASE_URL", "postgres://fallback/db")
	t.Setenv("FILESHARE_LISTEN", "")
	t.Setenv("FILESHARE_UPLOAD_TTL", "")
	t.Setenv("FILESHARE_TRUSTED_PROXIES", "")
	c, err := load(t)
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseURL != "postgres://fallback/db" || c.Listen != "127.0.0.1:3001" || c.UploadTTL != 3600 || len(c.TrustedProxies) != 0 {
		t.Errorf("with empty variables: %+v", c)
	}
	t.Setenv("FILESHARE_DATABASE_URL", "postgres://first/db")
	if c, _ := load(t); c.DatabaseURL != "postgres://first/db" {
		t.Errorf("FILESHARE_DATABASE_URL does not win over DATABASE_URL: %q", c.DatabaseURL)
	}
}

// Mistakes in the command itself are not configuration errors: kong reports them with its usage.
func TestUsageErrorsAreNotConfigurationErrors(t *testing.T) {
	clearEnv(t)
	for _, args := range [][]string{{"bogus"}, {"add"}, {"--no-such-flag"}, {"--upload-ttl"}} {
		_, err := load(t, args...)
		if err == nil {
			t.Errorf("%v accepted", args)
			continue
		}
		if _, ok := err.(config.Errors); ok {
			t.Errorf("%v: a configuration error: %v", args, err)
		}
	}
}
