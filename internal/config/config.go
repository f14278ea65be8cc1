// Package config is fileshare's configuration: one struct, filled by kong from flags, then the
// environment, then an optional YAML file, then defaults; validated once at start-up.
package config

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"gopkg.in/yaml.v3"
)

// Config is everything the service can be told. The `config` tag names a key of the YAML file
// where it differs from the flag name.
type Config struct {
	DatabaseURL        string        `name:"database-url" env:"FILESHARE_DATABASE_URL,DATABASE_URL" help:"PostgreSQL URL (required)."`
	Listen             string        `name:"listen" env:"FILESHARE_LISTEN" default:"127.0.0.1:3001" help:"Address to serve HTTP on."`
	DataDir            string        `name:"data-dir" env:"FILESHARE_DATA_DIR" default:"./data" help:"Directory of the blobs."`
	PublicURL          string        `name:"public-url" env:"FILESHARE_PUBLIC_URL" help:"Base of absolute URLs in answers, e.g. https://host:1446/rtc/fileshare (default: from the request)."`
	UploadTTL          int64         `name:"upload-ttl" env:"FILESHARE_UPLOAD_TTL" default:"3600" config:"models.upload.ttl" help:"Default ttl of simple uploads, seconds."`
	SessionTTL         int64         `name:"session-ttl" env:"FILESHARE_SESSION_TTL" default:"604800" config:"models.session.ttl" help:"Default ttl of sessions, seconds."`
	MaxTTL             int64         `name:"max-ttl" env:"FILESHARE_MAX_TTL" default:"2592000" help:"Largest ttl a client may ask for, seconds."`
	MaxUploadBytes     int64         `name:"max-upload-bytes" env:"FILESHARE_MAX_UPLOAD_BYTES" default:"2147483648" help:"Largest file accepted, bytes."`
	PurgeInterval      time.Duration `name:"purge-interval" env:"FILESHARE_PURGE_INTERVAL" default:"60s" help:"How often serve runs the purge."`
	TombstoneRetention time.Duration `name:"tombstone-retention" env:"FILESHARE_TOMBSTONE_RETENTION" default:"720h" help:"How long an expired upload keeps answering 410."`
	OrphanGrace        time.Duration `name:"orphan-grace" env:"FILESHARE_ORPHAN_GRACE" default:"1h" help:"Age before an unreferenced blob or temp file is swept."`
	TrustedProxies     []string      `name:"trusted-proxies" env:"FILESHARE_TRUSTED_PROXIES" sep:"," help:"CIDRs of proxies whose X-Forwarded-For is believed."`
	BodyIdleTimeout    time.Duration `name:"body-idle-timeout" env:"FILESHARE_BODY_IDLE_TIMEOUT" default:"30s" help:"An upload body that sends nothing for this long, or less than body-min-rate bytes/s over such a window, is cut."`
	BodyMinRate        int64         `name:"body-min-rate" env:"FILESHARE_BODY_MIN_RATE" default:"512" help:"Least average upload speed, bytes/s, over each body-idle-timeout window."`
	DBTimeout          time.Duration `name:"db-timeout" env:"FILESHARE_DB_TIMEOUT" default:"2s" help:"Budget of each database call of a request, waiting for a pooled connection included: past it the request answers 503."`
	TokenResumeWindow  time.Duration `name:"token-resume-window" env:"FILESHARE_TOKEN_RESUME_WINDOW" default:"15m" help:"How long after its consumption a one-time download that was cut may be resumed with Range requests (until the file has been delivered once)."`
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
	WebhookAllowPrivate bool          `name:"webhook-allow-private" env:"FILESHARE_WEBHOOK_ALLOW_PRIVATE" default:"false" help:"Accept webhook endpoints on loopback, private, link-local and other internal addresses (refused by default)."`
	WebhookTimeout      time.Duration `name:"webhook-timeout" env:"FILESHARE_WEBHOOK_TIMEOUT" default:"10s" help:"How long a webhook endpoint has to answer a delivery before it is cut and retried."`
	// WebhookRetryBase, when set, replaces the first wait (5 s) between webhook retries. It is
	// never read from flags, the environment or a file: tests set it.
	WebhookRetryBase time.Duration `kong:"-"`

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

// Validate checks the configuration at start-up.
func (c *Config) Validate() error {
	var errs []error
	if c.MaxTTL < 1 {
		errs = append(errs, errors.New("max-ttl must be at least 1"))
	}
	if c.UploadTTL < 1 || c.UploadTTL > c.MaxTTL {
		errs = append(errs, fmt.Errorf("upload-ttl must be between 1 and max-ttl (%d)", c.MaxTTL))
	}
	if c.SessionTTL < 1 || c.SessionTTL > c.MaxTTL {
		errs = append(errs, fmt.Errorf("session-ttl must be between 1 and max-ttl (%d)", c.MaxTTL))
	}
	if c.MaxUploadBytes < 1 {
		errs = append(errs, errors.New("max-upload-bytes must be at least 1"))
	}
	if c.PurgeInterval <= 0 || c.TombstoneRetention < 0 || c.OrphanGrace <= 0 {
		errs = append(errs, errors.New("purge-interval and orphan-grace must be positive, tombstone-retention not negative"))
	}
	if c.WebhookTimeout < 0 {
		errs = append(errs, errors.New("webhook-timeout must not be negative"))
	}
	if c.DBTimeout < 0 {
		errs = append(errs, errors.New("db-timeout must not be negative"))
	}
	if c.BodyIdleTimeout <= 0 || c.BodyMinRate < 0 {
		errs = append(errs, errors.New("body-idle-timeout must be positive and body-min-rate not negative"))
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("public-url %q must be an absolute http(s) URL without query", c.PublicURL))
		}
	}
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				errs = append(errs, fmt.Errorf("trusted-proxies: %q is neither a CIDR nor an address", p))
			}
		}
	}
	errs = append(errs, c.validateBlobStore()...)
	return errors.Join(errs...)
}

func (c *Config) validateBlobStore() []error {
	switch c.BlobStore {
	case "", "disk":
		return nil
	case "s3":
	default:
		return []error{fmt.Errorf("blob-store must be disk or s3, not %q", c.BlobStore)}
	}
	var errs []error
	if c.S3Bucket == "" {
		errs = append(errs, errors.New("blob-store s3 needs a bucket: set FILESHARE_S3_BUCKET or --s3-bucket"))
	}
	if c.S3Region == "" {
		errs = append(errs, errors.New("s3-region must not be empty"))
	}
	if c.S3Endpoint != "" {
		u, err := url.Parse(c.S3Endpoint)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil:
			errs = append(errs, fmt.Errorf("s3-endpoint %q must be an http(s) URL of a host, without path, query or credentials", c.S3Endpoint))
		case !c.S3PathStyle && isIPHost(u.Hostname()):
			// Virtual-hosted style puts the bucket in the host name, which an address cannot hold.
			errs = append(errs, fmt.Errorf("s3-endpoint %q cannot carry the bucket in its host name: set s3-path-style (FILESHARE_S3_PATH_STYLE=true)", c.S3Endpoint))
		}
	}
	if strings.HasPrefix(c.S3Prefix, "/") || strings.Contains(c.S3Prefix, "//") {
		errs = append(errs, fmt.Errorf("s3-prefix %q must not start with / or hold an empty segment", c.S3Prefix))
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

// RequireDatabase reports a missing database URL.
func (c *Config) RequireDatabase() error {
	if c.DatabaseURL == "" {
		return errors.New("no database configured: set FILESHARE_DATABASE_URL (or DATABASE_URL) or --database-url")
	}
	return nil
}

// Seconds converts a whole number of seconds to a Duration.
func Seconds(n int64) time.Duration { return time.Duration(n) * time.Second }

// YAMLLoader reads the YAML configuration file for kong. Nested keys are joined with dots
// (models.session.ttl); a flag is looked up under its `config` tag, else its name, with
// dashes or underscores.
func YAMLLoader(r io.Reader) (kong.Resolver, error) {
	var doc map[string]any
	if err := yaml.NewDecoder(r).Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config file: %w", err)
	}
	flat := map[string]any{}
	flatten("", doc, flat)
	return kong.ResolverFunc(func(_ *kong.Context, _ *kong.Path, flag *kong.Flag) (any, error) {
		// Kong asks resolvers after it has read the environment, and lets them win. The
		// environment must beat the file, so a flag that one of its variables sets (kong reads
		// a variable that is present, even empty) is left alone.
		for _, env := range flag.Envs {
			if _, ok := os.LookupEnv(env); ok {
				return nil, nil
			}
		}
		keys := []string{flag.Name, strings.ReplaceAll(flag.Name, "-", "_")}
		if k := flag.Tag.Get("config"); k != "" {
			keys = append([]string{k}, keys...)
		}
		for _, k := range keys {
			if v, ok := flat[k]; ok {
				if list, ok := v.([]any); ok {
					parts := make([]string, len(list))
					for i, e := range list {
						parts[i] = fmt.Sprint(e)
					}
					return strings.Join(parts, ","), nil
				}
				return fmt.Sprint(v), nil
			}
		}
		return nil, nil
	}), nil
}

func flatten(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			flatten(key, sub, out)
			continue
		}
		out[key] = v
	}
}
