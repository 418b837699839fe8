package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"callfilter/api"
	"callfilter/audit"
	"callfilter/dnc"
	"callfilter/feed"
	"callfilter/filter"
	"callfilter/filterfile"
	"callfilter/metrics"
	"callfilter/phone"
	"callfilter/service"
	"callfilter/store/embedded"
)

// Main is the running service: it owns every part and closes them in reverse
// order of opening.
type Main struct {
	cfg    Config
	level  *slog.LevelVar // log_level, which SIGHUP can change
	log    *slog.Logger
	stderr io.Writer

	store filter.Store
	lists *dnc.Lists
	feed  *feed.Feed // the change feed of a Redis store; nil for embedded
	// running is set by Run: from then on a rules revision's lists are
	// loaded before it is put in force (loadListsForRules).
	running atomic.Bool
	svc     *service.Service
	audit   *audit.Writer // the audit trail's writer (audit.go)
	server  *api.Server
	ln      net.Listener
	// debugLn serves the Go profiles (http.debug_listen); nil when off.
	debugLn net.Listener
	hup     chan os.Signal // SIGHUP, caught from Open on: its default would kill the process
	wg      sync.WaitGroup
}

// NewMain returns a Main for cfg that logs JSON to stderr.
func NewMain(cfg Config, stderr io.Writer) *Main {
	level := new(slog.LevelVar)
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by loadConfig
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	return &Main{cfg: cfg, level: level, log: log, stderr: stderr}
}

// Open opens the store, loads the rules, builds the service and binds the
// listener. Lists are loaded by Run, in the background: until then /readyz
// says not ready and checks deny with unavailable.
func (m *Main) Open(ctx context.Context) error {
	// A reload sent while starting (systemctl reload) waits for Run.
	m.hup = make(chan os.Signal, 1)
	signal.Notify(m.hup, syscall.SIGHUP)
	rs, err := loadRules(m.cfg)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, m.cfg)
	if err != nil {
		return err
	}
	reg := newRegistry()
	raw := st // the audit trail and rule versions use the store itself
	st = metrics.InstrumentStore(st, reg)
	m.store = st
	secret, err := hmacSecret(m.cfg, m.log)
	if err != nil {
		return err
	}
	m.lists = dnc.New(st, dnc.Options{FalsePositiveRate: m.cfg.Bloom.FalsePositiveRate})
	twilioToken, err := m.cfg.twilioAuthToken()
	if err != nil {
		return err
	}
	sopts := service.Options{
		SMS: service.SMSOptions{
			TwilioAuthToken: twilioToken, PublicURL: m.cfg.SMS.PublicURL, Sellers: m.cfg.SMS.Sellers,
			ReviewLog: filepath.Join(filepath.Dir(m.cfg.path(m.cfg.Store.Path)), "sms-review.jsonl"),
		},
		DefaultRegion: m.cfg.DefaultRegion,
		Hasher:        filter.NewHasher(secret),
		// store.exact_lists: confirm every list in the store on every check.
		ExactLists: m.cfg.Store.ExactLists,
	}
	m.feed = m.newFeed(st, &sopts)
	m.svc, err = service.New(st, m.lists, rs, sopts)
	if err != nil {
		return err
	}
	if err := m.openOfficer(ctx, raw); err != nil {
		return err
	}
	if err := m.keys(ctx); err != nil {
		return err
	}
	reg.MustRegister(metrics.NewListsCollector(m.lists.Status), metrics.NewStoreListsCollector(st.Lists))
	m.server = api.New(m.svc, api.Options{
		BodyLimit:            m.cfg.HTTP.BodyLimitMiB << 20,
		RequestTimeout:       m.cfg.HTTP.RequestTimeout,
		ReadTimeout:          m.cfg.HTTP.ReadTimeout,
		WriteTimeout:         m.cfg.HTTP.WriteTimeout,
		IdleTimeout:          m.cfg.HTTP.IdleTimeout,
		ScrubDir:             filepath.Join(filepath.Dir(m.cfg.path(m.cfg.Store.Path)), "scrub-jobs"),
		ScrubDuplicateMemory: int64(m.cfg.Scrub.DuplicateMemoryMiB) << 20,
		ScrubJobRetention:    time.Duration(m.cfg.Scrub.JobRetention),
		Logger:               m.log,
		Metrics:              reg,
		RateLimit:            api.RateLimit{PerSecond: m.cfg.HTTP.RateLimit, Burst: m.cfg.HTTP.RateBurst},
	})
	m.ln, err = net.Listen("tcp", m.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (set listen in the config or CALLFILTER_LISTEN)", m.cfg.Listen, err)
	}
	if d := m.cfg.HTTP.DebugListen; d != "" {
		if m.debugLn, err = net.Listen("tcp", d); err != nil {
			_ = m.ln.Close()
			return fmt.Errorf("listen on %s: %w (http.debug_listen)", d, err)
		}
	}
	if m.cfg.HTTP.TLSCertFile != "" {
		m.ln, err = tlsListener(m.ln, m.cfg.path(m.cfg.HTTP.TLSCertFile), m.cfg.path(m.cfg.HTTP.TLSKeyFile))
		if err != nil {
			return err
		}
	}
	return nil
}

// keys installs the key given in the environment, or on a first start with no
// key at all prints a generated admin key once.
func (m *Main) keys(ctx context.Context) error {
	if m.cfg.AdminKey != "" {
		if err := m.svc.EnsureKey(ctx, "env-admin", filter.RoleAdmin, m.cfg.AdminKey); err != nil {
			return fmt.Errorf("CALLFILTER_ADMIN_KEY: %w", err)
		}
		return nil
	}
	secret, err := m.svc.Bootstrap(ctx)
	if err != nil {
		return fmt.Errorf("create the first admin key: %w", err)
	}
	if secret != "" {
		fmt.Fprintf(m.stderr, "\nNo API key existed, so an admin key was created. It is shown this once:\n\n    %s\n\nUse it as 'Authorization: Bearer <key>'; create narrower keys with POST /v1/keys.\n\n", secret)
	}
	return nil
}

// Run serves until ctx is cancelled (SIGINT, SIGTERM) and reloads the
// configuration and the rules on SIGHUP.
func (m *Main) Run(ctx context.Context) error {
	m.running.Store(true)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		phone.Warm()
		names := m.svc.Rules().ListNames()
		if err := m.startLists(ctx, names); err != nil {
			if ctx.Err() != nil {
				return // shutting down
			}
			m.log.Error("lists not loaded: checks deny with unavailable", "err", err)
			return
		}
		m.log.Info("lists loaded, ready", "lists", len(m.lists.Status()))
	}()

	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.svc.WatchRules(ctx, rulesPollInterval, m.log)
	}()

	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.svc.Sweep(ctx, cmp.Or(time.Duration(m.cfg.Store.SweepInterval), service.DefaultSweepInterval), m.log)
	}()

	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-m.hup:
				m.reload(ctx)
			}
		}
	}()

	if m.debugLn != nil {
		dbg := &http.Server{Handler: debugHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = dbg.Serve(m.debugLn) }()
		defer dbg.Close()
		m.log.Info("serving Go profiles", "addr", m.debugLn.Addr().String(), "path", "/debug/pprof/")
	}
	served := make(chan error, 1)
	go func() { served <- m.server.Listener(m.ln) }()
	m.log.Info("serving", "addr", m.ln.Addr().String(), "tls", m.cfg.HTTP.TLSCertFile != "", "version", version, "rules_version", m.svc.Rules().Version)
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Shutdown stops accepting, waits for in-flight requests, then stops the
	// scrub jobs (api's shutdown hook: a running job stays "running" on disk
	// and is run again on the next start). Close then flushes the audit queue
	// and closes the store.
	m.log.Info("shutting down: draining in-flight requests", "timeout", m.cfg.HTTP.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), m.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := m.server.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: requests still in flight after http.shutdown_timeout (%v): %w", m.cfg.HTTP.ShutdownTimeout, err)
	}
	<-served
	m.log.Info("in-flight requests drained, scrub jobs stopped")
	return nil
}

// reload re-reads the configuration file (and the environment) as at start.
// An invalid file is refused whole. Otherwise the settings that can change
// while running are applied (log level, rate limit, the rules file) and each
// other changed setting is logged as needing a restart, keeping its running
// value.
func (m *Main) reload(ctx context.Context) {
	next, err := loadConfig(m.cfg.file)
	if err != nil {
		for _, e := range splitErrors(err) {
			m.log.Error("reload refused: the configuration is invalid; fix it and send SIGHUP again (the running configuration stays)", "file", m.cfg.file, "err", e)
		}
		return
	}
	applied, restart := []string{}, []string{}
	var rateKeys []string
	for _, key := range m.cfg.changedKeys(&next) {
		if !reloadable[key] {
			m.log.Warn("reload: "+key+" cannot change at run time: restart the service to apply it (the running value stays)", "key", key)
			restart = append(restart, key)
			continue
		}
		switch key {
		case "log_level":
			_ = m.level.UnmarshalText([]byte(next.LogLevel)) // validated by loadConfig
			m.cfg.LogLevel = next.LogLevel
			applied = append(applied, key)
		case "http.rate_limit", "http.rate_burst":
			rateKeys = append(rateKeys, key) // set together, below
		case "rules":
			m.cfg.Rules = next.Rules // published below, if its contents are new
		}
	}
	if len(rateKeys) > 0 {
		rl := api.RateLimit{PerSecond: next.HTTP.RateLimit, Burst: next.HTTP.RateBurst}
		if err := m.server.SetRateLimit(rl); err != nil {
			m.log.Error("reload: the rate limit is not applied; the running one stays", "keys", rateKeys, "err", err)
		} else {
			m.cfg.HTTP.RateLimit, m.cfg.HTTP.RateBurst = next.HTTP.RateLimit, next.HTTP.RateBurst
			applied = append(applied, rateKeys...)
		}
	}
	// The rules file is re-read on every SIGHUP: its contents change under an
	// unchanged name.
	if m.reloadRules(ctx) {
		applied = append(applied, "rules")
	}
	m.log.Info(fmt.Sprintf("reload: applied %v, needs restart %v", applied, restart), "applied", applied, "needs_restart", restart)
}

// splitErrors returns the errors joined in err (validate joins one per
// problem), so that each is logged on its own line.
func splitErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// reloadRules publishes the rule file's current contents as a new revision,
// reporting whether it did. A list the new rules
// name that is not loaded yet is loaded first: until then checks that need it
// deny with unavailable, so the swap waits for it rather than failing them.
func (m *Main) reloadRules(ctx context.Context) bool {
	rs, err := loadRules(m.cfg)
	if err != nil {
		m.log.Error("rules not reloaded: the previous rules stay in force", "err", err)
		return false
	}
	loaded := map[string]bool{}
	for _, st := range m.lists.Status() {
		loaded[st.Name] = st.Loaded
	}
	for _, name := range rs.ListNames() {
		if !loaded[name] {
			if err := m.loadLists(ctx, rs.ListNames()); err != nil {
				m.log.Error("rules not reloaded: their lists could not be loaded", "err", err)
				return false
			}
			break
		}
	}
	cur := m.svc.Rules().Version
	if rs.Version == cur {
		m.log.Info("rules file unchanged: its version is the one in force; give an edit a new version", "rules_version", cur)
		return false
	}
	// Published as a stored revision, as an edit over the API would be, so
	// that it is audited, reaches every instance and survives a restart (on
	// start the stored rules win over the file).
	path := m.cfg.path(m.cfg.Rules)
	rev, err := m.svc.PutRules(service.WithActor(ctx, "file "+filepath.Base(path)), []byte(rs.Source()), cur)
	if err != nil {
		m.log.Error("rules not reloaded: the previous rules stay in force", "err", err)
		return false
	}
	m.log.Info("rules reloaded", "rules_version", rev.Version, "revision", rev.Revision)
	return true
}

// Close stops the background work, writes the queued audit entries and
// closes the store.
func (m *Main) Close() error {
	m.wg.Wait()
	if m.hup != nil {
		signal.Stop(m.hup)
	}
	if m.audit != nil {
		m.audit.Close(10 * time.Second)
		m.log.Info("audit queue flushed")
	}
	if m.feed != nil {
		m.feed.Close()
	}
	if m.lists != nil {
		m.saveImages()
		m.lists.Close()
	}
	if m.store != nil {
		if err := m.store.Close(); err != nil {
			return fmt.Errorf("close store: %w", err)
		}
		m.log.Info("store closed")
	}
	return nil
}

func loadRules(cfg Config) (*filter.RuleSet, error) {
	rs, err := filter.LoadRules(cfg.path(cfg.Rules))
	if err != nil {
		return nil, fmt.Errorf("rules %s: %w", cfg.path(cfg.Rules), err)
	}
	return rs, nil
}

func openStore(ctx context.Context, cfg Config) (filter.Store, error) {
	var st filter.Store
	var err error
	switch cfg.Store.Kind {
	case "redis":
		st, err = openRedis(ctx, cfg.Store)
	default:
		st, err = embedded.Open(cfg.path(cfg.Store.Path), embedded.Options{})
	}
	if err != nil {
		return nil, fmt.Errorf("open %s store: %w", cfg.Store.Kind, err)
	}
	return st, nil
}

// hmacSecret returns the configured secret or, when none is configured, the one
// kept beside the embedded store, generating it on first start. Losing it
// orphans every consent record, so it is never regenerated silently.
func hmacSecret(cfg Config, log *slog.Logger) ([]byte, error) {
	if cfg.HMACSecret != "" {
		return []byte(cfg.HMACSecret), nil
	}
	file := cfg.HMACSecretFile
	generate := false
	if file == "" {
		file = filepath.Join(filepath.Dir(cfg.path(cfg.Store.Path)), "hmac.secret")
		generate = true
	} else {
		file = cfg.path(file)
	}
	data, err := os.ReadFile(file)
	switch {
	case err == nil:
		s := strings.TrimSpace(string(data))
		if len(s) < 16 {
			return nil, fmt.Errorf("hmac secret file %s holds fewer than 16 characters", file)
		}
		return []byte(s), nil
	case errors.Is(err, os.ErrNotExist) && generate:
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		s := hex.EncodeToString(b[:])
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", filepath.Dir(file), err)
		}
		if err := writeFileDurably(file, []byte(s+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("write hmac secret: %w", err)
		}
		log.Warn("generated an HMAC secret beside the store; back it up with the store, or set CALLFILTER_HMAC_SECRET", "file", file)
		return []byte(s), nil
	default:
		return nil, fmt.Errorf("read hmac secret: %w", err)
	}
}

// writeFileDurably writes data to a temporary file, syncs it and renames it into
// place, so a crash leaves either no file or the whole file: a half-written
// secret would orphan every record keyed by it.
func writeFileDurably(name string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".tmp-"+filepath.Base(name))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(name))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

// debugHandler serves net/http/pprof's handlers under /debug/pprof/.
func debugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// minImageKeys is the size from which a list's filter is kept in an image
// file (embedded store): smaller lists are scanned as fast.
const minImageKeys = 1_000_000

// imageDir is where the embedded store's filter images are kept.
func (m *Main) imageDir() string {
	return filepath.Join(filepath.Dir(m.cfg.path(m.cfg.Store.Path)), "filters")
}

// startLists loads the lists at start: on the embedded store from their
// filter images where they are current (then writes the images of the lists
// it scanned), otherwise as loadLists does.
func (m *Main) startLists(ctx context.Context, names []string) error {
	if m.feed != nil || m.cfg.Store.Kind != "embedded" {
		return m.loadLists(ctx, names)
	}
	if _, err := filterfile.Load(ctx, m.imageDir(), m.lists, m.store, names, m.log); err != nil {
		return err
	}
	m.saveImages()
	return nil
}

// saveImages brings the embedded store's filter images up to date (at start
// and at shutdown); a failure costs the next start a scan, so it is logged.
func (m *Main) saveImages() {
	if m.feed != nil || m.cfg.Store.Kind != "embedded" || m.store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := filterfile.Save(ctx, m.imageDir(), m.lists, m.store, minImageKeys, m.log); err != nil {
		m.log.Warn("filter images not written: the next start scans the lists", "err", err)
	}
}

// loadListsForRules is the service's hook to load the lists a rules
// revision names before it is put in force. Until Run it does nothing: Run's
// first load, in the background while /readyz says not ready, loads the
// lists of the rules in force then (from their filter images where it can);
// loading them here, in Open, would hold up the start by a scan of every
// list (a quarter of an hour for a national one) and then load them again.
func (m *Main) loadListsForRules(ctx context.Context, names []string) error {
	if !m.running.Load() {
		return nil
	}
	return m.loadLists(ctx, names)
}
