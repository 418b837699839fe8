package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"callfilter/filter"
)

// Config is the service configuration, read from YAML and then from the
// environment (CALLFILTER_*), which wins.
type Config struct {
	// Listen is the address to serve HTTP on.
	Listen string `yaml:"listen"`
	// DefaultRegion reads numbers written without a country code.
	DefaultRegion string `yaml:"default_region"`
	// Rules is the rule-set file, relative to the config file.
	Rules string      `yaml:"rules"`
	Store StoreConfig `yaml:"store"`
	// HMACSecret keys the hashes that consent, relationship and attempt records
	// are stored under. HMACSecretFile names a file holding it. With neither,
	// a secret is generated beside the embedded store on first start.
	HMACSecret     string      `yaml:"hmac_secret"`
	HMACSecretFile string      `yaml:"hmac_secret_file"`
	HTTP           HTTPConfig  `yaml:"http"`
	Bloom          BloomConfig `yaml:"bloom"`
	SMS            SMSConfig   `yaml:"sms"`
	Audit          AuditConfig `yaml:"audit"`
	Scrub          ScrubConfig `yaml:"scrub"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`

	// AdminKey, from CALLFILTER_ADMIN_KEY only, is an admin key for scripts and tests.
	AdminKey string `yaml:"-"`
	dir      string // the config file's folder, which relative paths are in
	file     string // the config file, which SIGHUP re-reads ("" for the defaults)
}

// SMSConfig configures inbound text messages (POST /v1/sms/inbound).
type SMSConfig struct {
	// TwilioAuthToken (or the file TwilioAuthTokenFile holds, or
	// CALLFILTER_TWILIO_AUTH_TOKEN) verifies X-Twilio-Signature; with it,
	// Twilio's webhook needs no API key.
	TwilioAuthToken     string `yaml:"twilio_auth_token"`
	TwilioAuthTokenFile string `yaml:"twilio_auth_token_file"`
	// PublicURL is the webhook URL as configured in Twilio (the signature covers it).
	PublicURL string `yaml:"public_url"`
	// Sellers maps each sending number (E.164) to its seller.
	Sellers map[string]string `yaml:"sellers"`
}

// AuditConfig configures the audit trail.
type AuditConfig struct {
	// Retention is how long entries are kept; older ones are deleted from the
	// start of the chain. 0 means audit.DefaultRetention (5 years).
	Retention Duration `yaml:"retention"`
}

// ScrubConfig tunes bulk scrubs.
type ScrubConfig struct {
	// DuplicateMemoryMiB bounds the memory each scrub's duplicate set takes
	// (default 64, about 3M numbers); past it the set spills to the data
	// directory, at ~0.4 µs a row. More memory, fewer spills.
	DuplicateMemoryMiB int `yaml:"duplicate_memory_mib"`
	// JobRetention is how long a finished scrub job's result (the upload's
	// rows with their decisions: numbers in plain text) is kept before it is
	// deleted; the upload itself goes when the job ends. 0 means 168h.
	JobRetention Duration `yaml:"job_retention"`
}

// Duration is a time.Duration written in YAML as Go writes one ("43800h",
// "90m"), or as a bare 0, which yaml.v3 would refuse for a time.Duration.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Value == "0" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return fmt.Errorf("line %d: %q is not a duration: write it as 43800h, 90m or 0", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// StoreConfig selects and configures the store.
type StoreConfig struct {
	// Kind is "embedded" (the default: one durable file) or "redis".
	Kind string `yaml:"kind"`
	// Path is the embedded store's file, relative to the config file.
	Path string `yaml:"path"`
	// Addrs are the Redis addresses: one for a standalone server, the
	// Sentinels with MasterName, or the seed nodes of a cluster.
	Addrs      []string `yaml:"addrs"`
	MasterName string   `yaml:"master_name"`
	Username   string   `yaml:"username"`
	// Password, or CALLFILTER_REDIS_PASSWORD.
	Password string `yaml:"password"`
	DB       int    `yaml:"db"`
	// TLS connects to Redis over TLS with the system's roots.
	TLS bool `yaml:"tls"`
	// Cluster forces cluster mode with a single seed address.
	Cluster bool `yaml:"cluster"`
	// KeyPrefix namespaces callfilter's keys (default "cf").
	KeyPrefix string `yaml:"key_prefix"`
	// Timeout bounds each Redis call; a check that cannot read its facts in
	// time denies with unavailable.
	Timeout time.Duration `yaml:"timeout"`
	// WaitReplicas makes every Redis write succeed only once that many
	// replicas hold it, so a Sentinel failover cannot lose an acknowledged
	// opt-out; past WaitTimeout (default 100ms) the write fails (503).
	// Standalone or Sentinel primaries only; 0 (the default): none.
	WaitReplicas int           `yaml:"wait_replicas"`
	WaitTimeout  time.Duration `yaml:"wait_timeout"`
	// ExactLists confirms every list in the store on every check instead of
	// trusting a bloom "no" (Redis keeps the filters in step through a change
	// feed; this is for the cautious, at one more look-up per list).
	ExactLists bool `yaml:"exact_lists"`
	// SweepInterval is how often records that can no longer matter are
	// removed from the store: list entries past their expiry (refusals
	// blocked for a number of days, entries added with an expiry) and
	// attempts older than every cap window. They already change no
	// decision; the sweep frees their room. 0 means 1h.
	SweepInterval Duration `yaml:"sweep_interval"`
}

// HTTPConfig bounds requests.
type HTTPConfig struct {
	BodyLimitMiB   int           `yaml:"body_limit_mib"`
	RequestTimeout time.Duration `yaml:"request_timeout"`
	ReadTimeout    time.Duration `yaml:"read_timeout"`
	WriteTimeout   time.Duration `yaml:"write_timeout"`
	IdleTimeout    time.Duration `yaml:"idle_timeout"`
	// ShutdownTimeout bounds the drain of in-flight requests on SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// TLSCertFile and TLSKeyFile (PEM, relative to the config file; or
	// CALLFILTER_TLS_CERT_FILE and CALLFILTER_TLS_KEY_FILE) make the service
	// terminate TLS itself. Left empty it serves plain HTTP, for a TLS proxy
	// in front.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// RateLimit bounds each API key's requests per second (0: no limit);
	// RateBurst is how many it may send at once (default: the rate). Past
	// them a request gets 429 with Retry-After.
	RateLimit float64 `yaml:"rate_limit"`
	RateBurst int     `yaml:"rate_burst"`
	// DebugListen (or CALLFILTER_DEBUG_LISTEN), a loopback address such as
	// 127.0.0.1:6060, serves Go's profiles (net/http/pprof: CPU, heap,
	// goroutines, execution traces) there, without a key; empty for none.
	DebugListen string `yaml:"debug_listen"`
}

// BloomConfig sizes the lists' bloom filters.
type BloomConfig struct {
	FalsePositiveRate float64 `yaml:"false_positive_rate"`
}

func defaultConfig() Config {
	return Config{
		Listen:        "127.0.0.1:8080",
		DefaultRegion: "US",
		Rules:         "rules.yaml",
		Store:         StoreConfig{Kind: "embedded", Path: "data/callfilter.db"},
		HTTP: HTTPConfig{
			BodyLimitMiB: 4, RequestTimeout: 2 * time.Second,
			ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second,
			ShutdownTimeout: 10 * time.Second,
		},
		Bloom:    BloomConfig{FalsePositiveRate: 1e-4},
		LogLevel: "info",
	}
}

// loadConfig reads the file at path (if path is "" the defaults are used),
// applies the environment and validates.
func loadConfig(path string) (Config, error) {
	c := defaultConfig()
	c.dir = "."
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("read config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("config %s: %w", path, err)
		}
		c.dir = filepath.Dir(path)
	}
	c.file = path
	c.applyEnv(os.Getenv)
	return c, c.validate()
}

func (c *Config) applyEnv(getenv func(string) string) {
	if v := getenv("CALLFILTER_LISTEN"); v != "" {
		c.Listen = v
	}
	if v := getenv("CALLFILTER_STORE_PATH"); v != "" {
		// A path from the environment is relative to the working directory.
		if abs, err := filepath.Abs(v); err == nil {
			v = abs
		}
		c.Store.Path = v
	}
	if v := getenv("CALLFILTER_STORE"); v != "" {
		c.Store.Kind = v
	}
	if v := getenv("CALLFILTER_REDIS_ADDRS"); v != "" {
		c.Store.Addrs = strings.Split(v, ",")
	}
	if v := getenv("CALLFILTER_REDIS_PASSWORD"); v != "" {
		c.Store.Password = v
	}
	if v := getenv("CALLFILTER_HMAC_SECRET"); v != "" {
		c.HMACSecret = v
	}
	if v := getenv("CALLFILTER_RULES"); v != "" {
		if abs, err := filepath.Abs(v); err == nil {
			v = abs
		}
		c.Rules = v
	}
	for env, dst := range map[string]*string{"CALLFILTER_TLS_CERT_FILE": &c.HTTP.TLSCertFile, "CALLFILTER_TLS_KEY_FILE": &c.HTTP.TLSKeyFile} {
		if v := getenv(env); v != "" {
			if abs, err := filepath.Abs(v); err == nil {
				v = abs
			}
			*dst = v
		}
	}
	if v := getenv("CALLFILTER_DEBUG_LISTEN"); v != "" {
		c.HTTP.DebugListen = v
	}
	if v := getenv("CALLFILTER_LOG_LEVEL"); v != "" {
		c.LogLevel = v
	}
	c.AdminKey = getenv("CALLFILTER_ADMIN_KEY")
	if v := getenv("CALLFILTER_TWILIO_AUTH_TOKEN"); v != "" {
		c.SMS.TwilioAuthToken, c.SMS.TwilioAuthTokenFile = v, ""
	}
}

// validate reports every problem, each saying how to fix it.
func (c *Config) validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("listen: set an address such as 127.0.0.1:8080"))
	}
	if c.Rules == "" {
		errs = append(errs, errors.New("rules: name the rule-set file, e.g. rules.yaml"))
	}
	switch c.Store.Kind {
	case "embedded":
		if c.Store.Path == "" {
			errs = append(errs, errors.New("store.path: name the embedded store's file, e.g. data/callfilter.db"))
		}
	case "redis":
		if len(c.Store.Addrs) == 0 {
			errs = append(errs, errors.New("store.addrs: list the Redis addresses, e.g. [127.0.0.1:6379] (or set CALLFILTER_REDIS_ADDRS)"))
		}
		for i, a := range c.Store.Addrs {
			if _, _, err := net.SplitHostPort(strings.TrimSpace(a)); err != nil {
				errs = append(errs, fmt.Errorf("store.addrs[%d]: %q is not host:port", i, a))
			}
		}
		if c.Store.Timeout < 0 {
			errs = append(errs, fmt.Errorf("store.timeout (%v) cannot be negative", c.Store.Timeout))
		}
		if len(c.Store.Addrs) > 0 {
			// The rest as Open would check it (wait_replicas, db in Cluster mode…).
			if err := redisOptions(c.Store).Validate(); err != nil {
				errs = append(errs, fmt.Errorf("store: %s", filter.ErrorMessage(err)))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("store.kind: %q is not a store kind; use \"embedded\" or \"redis\"", c.Store.Kind))
	}
	if c.HMACSecret != "" && c.HMACSecretFile != "" {
		errs = append(errs, errors.New("hmac_secret and hmac_secret_file are both set: keep one"))
	}
	if c.HMACSecret != "" && len(c.HMACSecret) < 16 {
		errs = append(errs, errors.New("hmac_secret: use at least 16 characters (32 random bytes recommended)"))
	}
	if c.HTTP.BodyLimitMiB <= 0 {
		errs = append(errs, fmt.Errorf("http.body_limit_mib (%d) must be at least 1", c.HTTP.BodyLimitMiB))
	}
	for name, d := range map[string]time.Duration{
		"http.request_timeout": c.HTTP.RequestTimeout, "http.read_timeout": c.HTTP.ReadTimeout,
		"http.write_timeout": c.HTTP.WriteTimeout, "http.idle_timeout": c.HTTP.IdleTimeout,
		"http.shutdown_timeout": c.HTTP.ShutdownTimeout,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s (%v) must be positive, e.g. 2s", name, d))
		}
	}
	switch cert, key := c.HTTP.TLSCertFile, c.HTTP.TLSKeyFile; {
	case (cert == "") != (key == ""):
		errs = append(errs, errors.New("http.tls_cert_file and http.tls_key_file: set both to serve TLS, or neither to serve plain HTTP behind a TLS proxy"))
	case cert != "":
		if _, err := tls.LoadX509KeyPair(c.path(cert), c.path(key)); err != nil {
			errs = append(errs, fmt.Errorf("http.tls_cert_file, http.tls_key_file: %w (give a PEM certificate chain and its private key)", err))
		}
	}
	if d := c.HTTP.DebugListen; d != "" && !loopback(d) {
		errs = append(errs, fmt.Errorf("http.debug_listen: %q is not a loopback host:port such as 127.0.0.1:6060 (the profiles need no key: keep them on the machine)", d))
	}
	if v := time.Duration(c.Store.SweepInterval); v != 0 && v < time.Second {
		errs = append(errs, fmt.Errorf("store.sweep_interval (%v) must be at least 1s: give a duration such as 1h, or 0 for that default", v))
	}
	if v := time.Duration(c.Scrub.JobRetention); v < 0 {
		errs = append(errs, fmt.Errorf("scrub.job_retention (%v) cannot be negative: give a duration such as 168h, or 0 for that default", v))
	}
	if c.Scrub.DuplicateMemoryMiB < 0 {
		errs = append(errs, fmt.Errorf("scrub.duplicate_memory_mib (%d) cannot be negative: give MiB, or 0 for the default (64)", c.Scrub.DuplicateMemoryMiB))
	}
	if c.Audit.Retention < 0 {
		errs = append(errs, fmt.Errorf("audit.retention (%v) cannot be negative: give a duration such as 43800h (5 years), or 0 for that default", time.Duration(c.Audit.Retention)))
	}
	if c.HTTP.RateLimit < 0 || c.HTTP.RateBurst < 0 {
		errs = append(errs, fmt.Errorf("http.rate_limit (%v) and http.rate_burst (%d) cannot be negative: 0 means no limit (and a burst of the rate)", c.HTTP.RateLimit, c.HTTP.RateBurst))
	}
	if p := c.Bloom.FalsePositiveRate; p <= 0 || p >= 0.1 {
		errs = append(errs, fmt.Errorf("bloom.false_positive_rate (%v) must be between 0 and 0.1, e.g. 0.0001", p))
	}
	if c.SMS.TwilioAuthToken != "" && c.SMS.TwilioAuthTokenFile != "" {
		errs = append(errs, errors.New("sms.twilio_auth_token and sms.twilio_auth_token_file are both set: keep one"))
	}
	if (c.SMS.TwilioAuthToken != "" || c.SMS.TwilioAuthTokenFile != "") && !strings.HasPrefix(c.SMS.PublicURL, "https://") && !strings.HasPrefix(c.SMS.PublicURL, "http://") {
		errs = append(errs, errors.New("sms.public_url: set the webhook URL as configured in Twilio, e.g. https://cf.example.com/v1/sms/inbound (the signature covers it)"))
	}
	for num, seller := range c.SMS.Sellers {
		if !strings.HasPrefix(num, "+") || seller == "" {
			errs = append(errs, fmt.Errorf("sms.sellers: %q → %q: key by the sending number in E.164 (\"+12125550100\") and name a seller", num, seller))
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level: %q is not a level; use debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// loopback reports whether addr is host:port with a loopback host.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// twilioAuthToken returns the Twilio auth token, read from its file if need be.
func (c *Config) twilioAuthToken() (string, error) {
	if c.SMS.TwilioAuthTokenFile == "" {
		return c.SMS.TwilioAuthToken, nil
	}
	b, err := os.ReadFile(c.path(c.SMS.TwilioAuthTokenFile))
	if err != nil {
		return "", fmt.Errorf("sms.twilio_auth_token_file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// path resolves p relative to the config file's folder.
func (c *Config) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// reloadable are the settings a SIGHUP applies to a running service; every
// other setting is fixed when the service starts.
var reloadable = map[string]bool{
	"log_level":       true,
	"http.rate_limit": true,
	"http.rate_burst": true,
	"rules":           true,
}

// changedKeys returns the YAML keys (dotted: "http.rate_limit") whose values
// differ between c and n, in the order Config declares them. It walks the
// struct so that a setting added later is compared without being listed here.
func (c *Config) changedKeys(n *Config) []string {
	var keys []string
	var walk func(prefix string, a, b reflect.Value)
	walk = func(prefix string, a, b reflect.Value) {
		t := a.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" || name == "" {
				continue // the environment's admin key, the config's folder
			}
			key := prefix + name
			if f.Type.Kind() == reflect.Struct {
				walk(key+".", a.Field(i), b.Field(i))
				continue
			}
			if !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
				keys = append(keys, key)
			}
		}
	}
	walk("", reflect.ValueOf(c).Elem(), reflect.ValueOf(n).Elem())
	return keys
}
