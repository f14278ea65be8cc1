// Package config is fileshare's configuration: one struct, filled by kong from flags, then the
// environment, then an optional YAML file, then defaults; validated once at start-up.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Config is everything the service can be told. The `config` tag names a key of the YAML file
// where it differs from the flag name. The `unit` tag says what a whole number counts; such a
// number may be written as a product (86400 * 7).
type Config struct {
	DatabaseURL        string        `name:"database-url" env:"FILESHARE_DATABASE_URL,DATABASE_URL" help:"PostgreSQL URL (required); may lead to PgBouncer in transaction pooling mode."`
	DatabaseDirectURL  string        `name:"database-direct-url" env:"FILESHARE_DATABASE_DIRECT_URL" help:"URL of the same database that leads to PostgreSQL itself, not to a pooler: what needs a session of its own (listening for notifications, migrations) uses it. Without it, an instance behind a pooler serves no upload rows from memory and polls the job queue."`
	DBMaxConns         int           `name:"db-max-conns" env:"FILESHARE_DB_MAX_CONNS" default:"8" help:"Most connections one instance opens to PostgreSQL, all of its uses together: queries, background jobs, webhook deliveries, listening."`
	Listen             string        `name:"listen" env:"FILESHARE_LISTEN" default:"127.0.0.1:3001" help:"Address to serve HTTP on."`
	DataDir            string        `name:"data-dir" env:"FILESHARE_DATA_DIR" default:"./data" help:"Directory of the blobs."`
	PublicURL          string        `name:"public-url" env:"FILESHARE_PUBLIC_URL" help:"Base of absolute URLs in answers, e.g. https://host:1446/rtc/fileshare (default: from the request)."`
	UploadTTL          int64         `name:"upload-ttl" env:"FILESHARE_UPLOAD_TTL" default:"3600" config:"models.upload.ttl" unit:"seconds" help:"Default ttl of simple uploads, seconds."`
	SessionTTL         int64         `name:"session-ttl" env:"FILESHARE_SESSION_TTL" default:"604800" config:"models.session.ttl" unit:"seconds" help:"Default ttl of sessions, seconds."`
	MaxTTL             int64         `name:"max-ttl" env:"FILESHARE_MAX_TTL" default:"2592000" unit:"seconds" help:"Largest ttl a client may ask for, seconds."`
	MaxUploadBytes     int64         `name:"max-upload-bytes" env:"FILESHARE_MAX_UPLOAD_BYTES" default:"2147483648" unit:"bytes" help:"Largest file accepted, bytes."`
	PurgeInterval      time.Duration `name:"purge-interval" env:"FILESHARE_PURGE_INTERVAL" default:"60s" help:"How often serve runs the purge."`
	TombstoneRetention time.Duration `name:"tombstone-retention" env:"FILESHARE_TOMBSTONE_RETENTION" default:"720h" help:"How long an expired upload keeps answering 410."`
	OrphanGrace        time.Duration `name:"orphan-grace" env:"FILESHARE_ORPHAN_GRACE" default:"1h" help:"Age before an unreferenced blob or temp file is swept."`
	TrustedProxies     []string      `name:"trusted-proxies" env:"FILESHARE_TRUSTED_PROXIES" sep:"," help:"CIDRs of proxies whose X-Forwarded-For is believed."`
	CORSOrigins        []string      `name:"cors-origins" env:"FILESHARE_CORS_ORIGINS" sep:"," help:"Origins (scheme://host[:port]) whose browser applications may use the API, or * for any (then without credentials); none by default, which sends no CORS header."`
	BodyIdleTimeout    time.Duration `name:"body-idle-timeout" env:"FILESHARE_BODY_IDLE_TIMEOUT" default:"30s" help:"An upload body that sends nothing for this long, or less than body-min-rate bytes/s over such a window, is cut."`
	BodyMinRate        int64         `name:"body-min-rate" env:"FILESHARE_BODY_MIN_RATE" default:"512" unit:"bytes per second" help:"Least average upload speed, bytes/s, over each body-idle-timeout window."`
	IdleTimeout        time.Duration `name:"idle-timeout" env:"FILESHARE_IDLE_TIMEOUT" default:"30s" help:"How long an idle keep-alive connection is kept open."`
	DBTimeout          time.Duration `name:"db-timeout" env:"FILESHARE_DB_TIMEOUT" default:"2s" help:"Budget of each database call of a request, waiting for a pooled connection included: past it the request answers 503."`
	TokenResumeWindow  time.Duration `name:"token-resume-window" env:"FILESHARE_TOKEN_RESUME_WINDOW" default:"15m" help:"How long after its consumption a one-time download that was cut may be resumed with Range requests (until the file has been delivered once)."`
	TusExpiry          time.Duration `name:"tus-expiry" env:"FILESHARE_TUS_EXPIRY" default:"24h" help:"How long a resumable (tus) upload may take from its creation; unfinished, it is then removed with its bytes."`
	TusMaxUnfinished   int           `name:"tus-max-unfinished" env:"FILESHARE_TUS_MAX_UNFINISHED" default:"100" help:"Most unfinished resumable (tus) uploads a tenant may have; past it a creation answers 429."`
	Console            bool          `name:"console" env:"FILESHARE_CONSOLE" default:"true" negatable:"" help:"Serve the sender's console in the browser at /console/."`
	ConsoleSessionTTL  time.Duration `name:"console-session-ttl" env:"FILESHARE_CONSOLE_SESSION_TTL" default:"12h" help:"How long a sign-in to the console lasts."`
	LogLevel           string        `name:"log-level" env:"FILESHARE_LOG_LEVEL" default:"info" enum:"debug,info,warn,error" help:"Least severe log level written."`

	// Blob storage (docs/behaviour.md §8). S3 credentials are not settings: they come from the standard
	// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY variables, ~/.aws/credentials or an instance
	// role, so that no secret ends up in a flag or a copied configuration file.
	BlobStore   string `name:"blob-store" env:"FILESHARE_BLOB_STORE" default:"disk" enum:"disk,s3" help:"Where blobs live: disk (data-dir) or s3 (an S3-compatible bucket)."`
	S3Endpoint  string `name:"s3-endpoint" env:"FILESHARE_S3_ENDPOINT" help:"S3 endpoint URL, e.g. http://127.0.0.1:9000 (default: AWS)."`
	S3Region    string `name:"s3-region" env:"FILESHARE_S3_REGION" default:"us-east-1" help:"S3 region."`
	S3Bucket    string `name:"s3-bucket" env:"FILESHARE_S3_BUCKET" help:"S3 bucket of the blobs; created at start-up when missing."`
	S3Prefix    string `name:"s3-prefix" env:"FILESHARE_S3_PREFIX" help:"Key prefix of the blobs in the bucket, e.g. fileshare/."`
	S3PathStyle bool   `name:"s3-path-style" env:"FILESHARE_S3_PATH_STYLE" default:"false" help:"Path-style bucket addressing (MinIO, Ceph) instead of virtual-hosted."`

	// Webhooks (docs/behaviour.md §10).
	WebhookAllowPrivate      bool          `name:"webhook-allow-private" env:"FILESHARE_WEBHOOK_ALLOW_PRIVATE" default:"false" help:"Accept webhook endpoints on loopback, private, link-local and other internal addresses (refused by default)."`
	WebhookTenantConcurrency int           `name:"webhook-tenant-concurrency" env:"FILESHARE_WEBHOOK_TENANT_CONCURRENCY" default:"4" help:"Most webhook deliveries to one tenant's endpoints at once, per instance, so that endpoints that hang delay no other tenant."`
	WebhookTimeout           time.Duration `name:"webhook-timeout" env:"FILESHARE_WEBHOOK_TIMEOUT" default:"10s" help:"How long a webhook endpoint has to answer a delivery before it is cut and retried."`
	// WebhookRetryBase, when set, replaces the first wait (5 s) between webhook retries. It is
	// never read from flags, the environment or a file: tests set it.
	WebhookRetryBase time.Duration `kong:"-"`
	// WebhookDisableAfter, when set, replaces how long every attempt to an endpoint must fail
	// before it is disabled (5 days). Like WebhookRetryBase, only tests set it.
	WebhookDisableAfter time.Duration `kong:"-"`

	// S3Credentials, when set, replaces the credential chain. It is never read from flags, the
	// environment or a file: code that embeds the service (tests) sets it.
	S3Credentials *S3Credentials `kong:"-"`
}

// S3Credentials is a static S3 access key.
type S3Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
}

// BlobStoreS3 reports whether blobs live in S3.
func (c *Config) BlobStoreS3() bool { return c.BlobStore == "s3" }

// Problem is what Validate finds wrong: a value, or a combination of values, the service cannot
// run with. Settings names the settings concerned, by flag name, the one to blame first.
type Problem struct {
	Settings []string
	Msg      string
}

func (p *Problem) Error() string { return p.Msg }

func problem(msg string, settings ...string) *Problem { return &Problem{Settings: settings, Msg: msg} }

// Validate checks the configuration at start-up. Its error joins one *Problem per finding.
func (c *Config) Validate() error {
	var errs []error
	if c.MaxTTL < 1 {
		errs = append(errs, problem(fmt.Sprintf("max-ttl must be at least 1, not %d", c.MaxTTL), "max-ttl"))
	}
	if c.UploadTTL < 1 || c.UploadTTL > c.MaxTTL {
		errs = append(errs, problem(fmt.Sprintf("upload-ttl must be between 1 and max-ttl (%d), not %d", c.MaxTTL, c.UploadTTL), "upload-ttl", "max-ttl"))
	}
	if c.SessionTTL < 1 || c.SessionTTL > c.MaxTTL {
		errs = append(errs, problem(fmt.Sprintf("session-ttl must be between 1 and max-ttl (%d), not %d", c.MaxTTL, c.SessionTTL), "session-ttl", "max-ttl"))
	}
	if c.MaxUploadBytes < 1 {
		errs = append(errs, problem(fmt.Sprintf("max-upload-bytes must be at least 1, not %d", c.MaxUploadBytes), "max-upload-bytes"))
	}
	if c.PurgeInterval <= 0 {
		errs = append(errs, problem(fmt.Sprintf("purge-interval must be positive, not %s", c.PurgeInterval), "purge-interval"))
	}
	if c.OrphanGrace <= 0 {
		errs = append(errs, problem(fmt.Sprintf("orphan-grace must be positive, not %s", c.OrphanGrace), "orphan-grace"))
	}
	if c.TombstoneRetention < 0 {
		errs = append(errs, problem(fmt.Sprintf("tombstone-retention must not be negative, not %s", c.TombstoneRetention), "tombstone-retention"))
	}
	if c.WebhookTimeout < 0 {
		errs = append(errs, problem(fmt.Sprintf("webhook-timeout must not be negative, not %s", c.WebhookTimeout), "webhook-timeout"))
	}
	if c.TusExpiry < time.Second {
		errs = append(errs, problem(fmt.Sprintf("tus-expiry must be at least 1s, not %s", c.TusExpiry), "tus-expiry"))
	}
	if c.DBMaxConns < MinDBMaxConns {
		errs = append(errs, problem(fmt.Sprintf("db-max-conns must be at least %d, not %d: an instance needs two connections for its queries and two sessions of its own (listening)", MinDBMaxConns, c.DBMaxConns), "db-max-conns"))
	}
	if strings.Contains(c.DatabaseURL, "pool_max_conns") || strings.Contains(c.DatabaseDirectURL, "pool_max_conns") {
		errs = append(errs, problem("the database URL must not set pool_max_conns: db-max-conns (FILESHARE_DB_MAX_CONNS) bounds every connection of an instance", "database-url", "db-max-conns"))
	}
	if c.DBTimeout < 0 {
		errs = append(errs, problem(fmt.Sprintf("db-timeout must not be negative, not %s", c.DBTimeout), "db-timeout"))
	}
	if c.BodyIdleTimeout <= 0 {
		errs = append(errs, problem(fmt.Sprintf("body-idle-timeout must be positive, not %s", c.BodyIdleTimeout), "body-idle-timeout"))
	}
	if c.BodyMinRate < 0 {
		errs = append(errs, problem(fmt.Sprintf("body-min-rate must not be negative, not %d", c.BodyMinRate), "body-min-rate"))
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, problem(fmt.Sprintf("public-url %q must be an absolute http(s) URL without query", c.PublicURL), "public-url"))
		}
	}
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				errs = append(errs, problem(fmt.Sprintf("trusted-proxies: %q is neither a CIDR nor an address", p), "trusted-proxies"))
			}
		}
	}
	if c.TusMaxUnfinished < 1 {
		errs = append(errs, problem(fmt.Sprintf("tus-max-unfinished must be at least 1, not %d", c.TusMaxUnfinished), "tus-max-unfinished"))
	}
	if c.ConsoleSessionTTL < time.Minute {
		errs = append(errs, problem(fmt.Sprintf("console-session-ttl must be at least 1m, not %s", c.ConsoleSessionTTL), "console-session-ttl"))
	}
	if c.IdleTimeout <= 0 {
		errs = append(errs, problem(fmt.Sprintf("idle-timeout must be positive, not %s", c.IdleTimeout), "idle-timeout"))
	}
	for _, o := range c.CORSOrigins {
		if !validOrigin(o) {
			errs = append(errs, problem(fmt.Sprintf("cors-origins: %q is neither * nor an origin such as https://app.example.com", o), "cors-origins"))
		}
	}
	errs = append(errs, c.validateBlobStore()...)
	return errors.Join(errs...)
}

// validOrigin reports whether o is * or an origin as browsers send it: scheme://host[:port],
// lower case, with no path, query or credentials.
func validOrigin(o string) bool {
	if o == "*" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && !strings.HasSuffix(o, "/") && o == strings.ToLower(o)
}

func (c *Config) validateBlobStore() []error {
	switch c.BlobStore {
	case "", "disk":
		return nil
	case "s3":
	default:
		return []error{problem(fmt.Sprintf("blob-store must be disk or s3, not %q", c.BlobStore), "blob-store")}
	}
	var errs []error
	if c.S3Bucket == "" {
		errs = append(errs, problem("blob-store s3 needs a bucket: set FILESHARE_S3_BUCKET or --s3-bucket", "s3-bucket", "blob-store"))
	}
	if c.S3Region == "" {
		errs = append(errs, problem("s3-region must not be empty", "s3-region"))
	}
	if c.S3Endpoint != "" {
		u, err := url.Parse(c.S3Endpoint)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil:
			errs = append(errs, problem(fmt.Sprintf("s3-endpoint %q must be an http(s) URL of a host, without path, query or credentials", c.S3Endpoint), "s3-endpoint"))
		case !c.S3PathStyle && isIPHost(u.Hostname()):
			// Virtual-hosted style puts the bucket in the host name, which an address cannot hold.
			errs = append(errs, problem(fmt.Sprintf("s3-endpoint %q cannot carry the bucket in its host name: set s3-path-style (FILESHARE_S3_PATH_STYLE=true)", c.S3Endpoint), "s3-endpoint", "s3-path-style"))
		}
	}
	if strings.HasPrefix(c.S3Prefix, "/") || strings.Contains(c.S3Prefix, "//") {
		errs = append(errs, problem(fmt.Sprintf("s3-prefix %q must not start with / or hold an empty segment", c.S3Prefix), "s3-prefix"))
	}
	return errs
}

func isIPHost(h string) bool {
	if h == "localhost" {
		return true
	}
	_, err := netip.ParseAddr(h)
	return err == nil
}

// MinDBMaxConns is the smallest connection budget an instance works with: two sessions of its
// own (the cache coherence listener, and the job queue's listener with a direct URL) and two
// pooled connections, so that a request and a background job never wait for each other.
const MinDBMaxConns = 4

// RequireDatabase reports a missing database URL.
func (c *Config) RequireDatabase() error {
	if c.DatabaseURL == "" {
		return errors.New("no database configured: set FILESHARE_DATABASE_URL (or DATABASE_URL) or --database-url")
	}
	return nil
}

// Seconds converts a whole number of seconds to a Duration.
func Seconds(n int64) time.Duration { return time.Duration(n) * time.Second }
