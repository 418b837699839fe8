package api

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/valyala/fasthttp"

	"callfilter/filter"
	"callfilter/scrub"
	"callfilter/service"
)

// Bulk scrubbing. POST /v1/scrub streams: the CSV is read from the request
// body stream (the app sets StreamRequestBody) through maxScrubBytes and the
// answer is written while the upload is still being read, so memory stays flat
// whatever the file size. Jobs store the upload under Options.ScrubDir and run
// one at a time in the background; they survive a restart (a job found
// queued or running is run again from the start) and never vanish unasked:
// the upload is deleted once the job has ended (the result keeps every input
// column), and the job with its result Options.ScrubJobRetention after that,
// or at once by DELETE /v1/scrub/jobs/{id}, so lead lists, which are numbers
// in plain text, do not stay on disk for ever.

const (
	// maxScrubBytes bounds one scrub upload.
	maxScrubBytes = 8 << 30
	// scrubTimeout bounds one streamed scrub: the request's own deadline
	// (RequestTimeout) is for checks, not for millions of rows.
	scrubTimeout = 2 * time.Hour
	// scrubIdle is how long a streamed scrub's connection may make no progress.
	scrubIdle = 60 * time.Second
	capsNote  = "frequency caps are not applied by a scrub; they are checked at dial time"
	// DefaultScrubJobRetention is how long a finished job is kept by default.
	DefaultScrubJobRetention = 7 * 24 * time.Hour
	// leftoverAge is how old a job directory without a record (an upload a
	// crash cut short) or a duplicate set's spill directory (a scrub a
	// crash cut short) must be before a start deletes it.
	leftoverAge = time.Hour
)

// scrubRoutes registers the bulk-scrub routes.
func (s *Server) scrubRoutes(v1 fiber.Router) {
	jobs := newScrubJobs(s)
	s.jobs = jobs
	v1.Post("/scrub", s.guard(permScrub), s.scrub)
	v1.Post("/scrub/jobs", s.guard(permScrub), jobs.create)
	v1.Get("/scrub/jobs", s.guard(permScrub), jobs.list)
	v1.Get("/scrub/jobs/:id", s.guard(permScrub), jobs.get)
	v1.Get("/scrub/jobs/:id/result", s.guard(permScrub), jobs.result)
	v1.Delete("/scrub/jobs/:id", s.guard(permScrub), jobs.remove)
	s.app.Hooks().OnShutdown(func() error {
		jobs.close()
		return nil
	})
}

// requestBody returns the body of a JSON request within the app's BodyLimit.
// The app streams request bodies (for /v1/scrub), which makes fasthttp hand
// an over-limit body to the handler as a stream instead of refusing it with
// 413: this keeps the limit for every other route.
func requestBody(c *fiber.Ctx) ([]byte, error) {
	limit := c.App().Config().BodyLimit
	cl := c.Request().Header.ContentLength()
	switch {
	case cl > limit:
		c.Context().SetConnectionClose()
		return nil, fiber.ErrRequestEntityTooLarge
	case cl >= 0 || !c.Request().IsBodyStream():
		return c.Body(), nil
	}
	// Chunked: read at most limit+1 bytes.
	b, err := io.ReadAll(io.LimitReader(c.Context().RequestBodyStream(), int64(limit)+1))
	if err != nil {
		return nil, fiber.ErrBadRequest
	}
	if len(b) > limit {
		c.Context().SetConnectionClose()
		return nil, fiber.ErrRequestEntityTooLarge
	}
	return b, nil
}

// scrubParams are the query parameters of a scrub.
type scrubParams struct {
	Purpose string    `json:"purpose"`
	Channel string    `json:"channel"`
	Seller  string    `json:"seller,omitempty"`
	Region  string    `json:"region,omitempty"`
	Column  string    `json:"column,omitempty"`
	Charset string    `json:"charset,omitempty"`
	At      time.Time `json:"at"`
}

func scrubQuery(c *fiber.Ctx) (scrubParams, error) {
	p := scrubParams{
		Purpose: utils.CopyString(c.Query("purpose")),
		Channel: utils.CopyString(c.Query("channel")),
		Seller:  utils.CopyString(c.Query("seller")),
		Region:  utils.CopyString(c.Query("region")),
		Column:  utils.CopyString(c.Query("column")),
		Charset: utils.CopyString(c.Query("charset")),
	}
	at, err := parseTime("at", c.Query("at"))
	if err != nil {
		return p, err
	}
	p.At = at
	mt, params, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if p.Charset == "" {
		p.Charset = strings.Clone(params["charset"])
	}
	switch mt {
	case "text/csv", "text/plain", "application/csv", "text/tab-separated-values", "application/octet-stream", fiber.MIMEMultipartForm:
	default:
		return p, &httpError{http.StatusUnsupportedMediaType, "unsupported_media_type", "send the CSV as Content-Type: text/csv (or a multipart file field named file)"}
	}
	return p, nil
}

func (p scrubParams) input() service.ScrubInput {
	return service.ScrubInput{Purpose: p.Purpose, Channel: p.Channel, Seller: p.Seller, Region: p.Region, At: p.At}
}

// uploadBody returns the CSV of a scrub request: the file field "file" of a
// multipart form (which fasthttp spools to a temporary file), or the body
// stream read through maxScrubBytes.
func uploadBody(c *fiber.Ctx) (io.Reader, func(), error) {
	if strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEMultipartForm) {
		fh, err := c.FormFile("file")
		if err != nil {
			return nil, nil, filter.Errorf(filter.EInvalid, "missing_file", "a multipart scrub needs the CSV in a file field named \"file\"")
		}
		f, err := fh.Open()
		if err != nil {
			return nil, nil, filter.Wrap(filter.EInternal, err, "open the uploaded file")
		}
		return f, func() { f.Close() }, nil
	}
	var body io.Reader
	if st := c.Context().RequestBodyStream(); st != nil {
		body = st
	} else {
		body = bytes.NewReader(c.Body())
	}
	return &limitedReader{r: body, left: maxScrubBytes}, func() {}, nil
}

// limitedReader fails with 413 body_too_large past its limit, rather than
// ending quietly as io.LimitReader would (a cut file must not look whole).
type limitedReader struct {
	r    io.Reader
	left int64
}

var errScrubTooLarge = &httpError{http.StatusRequestEntityTooLarge, "body_too_large", "the upload is larger than a scrub accepts"}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			return 0, errScrubTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// scrub is POST /v1/scrub: the answer streams the scrubbed CSV, then the
// X-Scrub-Summary trailer (declared up front in a Trailer header) carries the
// counts by decision and reason as JSON (see scrubTrailer). A failure after
// the status is sent cuts the chunked answer short (no final chunk, no
// trailer), so no client can take a cut answer for a whole one; the log says
// why.
func (s *Server) scrub(c *fiber.Ctx) error {
	p, err := scrubQuery(c)
	if err != nil {
		return err
	}
	sc, err := s.svc.Scrubber(p.input())
	if err != nil {
		return err
	}
	body, closeBody, err := uploadBody(c)
	if err != nil {
		return err
	}
	conn := c.Context().Conn()
	extend := func() {
		_ = conn.SetDeadline(time.Now().Add(scrubIdle))
	}
	extend()
	started, err := scrub.Start(body, scrub.Options{
		Decider: sc, Region: sc.Region(), Column: p.Column, Charset: p.Charset,
		FlushEvery: 8192,
		// The duplicate set spills past its budget: to the data directory
		// (a volume in the container), not the image's /tmp.
		TempDir:         s.opts.ScrubDir,
		DuplicateMemory: s.opts.ScrubDuplicateMemory,
		Progress:        func(*scrub.Summary) { extend() },
	})
	if err != nil {
		closeBody()
		return err
	}
	info := started.Summary()
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set("X-Scrub-Column", info.ColumnName)
	c.Set("X-Scrub-Rules-Version", sc.RulesVersion())
	c.Set("X-Scrub-At", sc.At().UTC().Format(time.RFC3339))
	c.Set("X-Scrub-Note", capsNote)
	resp := &c.Context().Response
	if err := resp.Header.SetTrailer(HeaderScrubSummary); err != nil {
		closeBody()
		return err
	}
	log, route, key := s.log, routePattern(c), keyName(c)
	ctx, cancel := context.WithTimeout(context.Background(), scrubTimeout)
	pr, pw := io.Pipe()
	st := &scrubStream{pr: pr, header: &resp.Header, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(st.done)
		defer cancel()
		defer closeBody()
		sum, err := started.Write(ctx, pw)
		if err != nil {
			log.LogAttrs(ctx, slog.LevelWarn, "scrub stopped", slog.String("route", route), slog.String("key", key), slog.String("code", filter.ErrorCode(err)), slog.Any("err", err))
			_ = pw.CloseWithError(err)
			return
		}
		log.LogAttrs(ctx, slog.LevelInfo, "scrub done", slog.String("key", key), slog.Int64("rows", sum.Rows), slog.Int64("allow", sum.Allow), slog.Int64("deny", sum.Deny), slog.Int64("malformed", sum.Malformed))
		if err := sc.Record(service.WithActor(ctx, key), sum.Totals()); err != nil {
			// The rows are written; without its audit record the scrub must
			// not look complete: no trailer, the stream ends in an error.
			log.LogAttrs(ctx, slog.LevelError, "scrub not audited", slog.String("key", key), slog.Any("err", err))
			_ = pw.CloseWithError(err)
			return
		}
		st.trailer, _ = json.Marshal(newScrubTrailer(sum, sc.RulesVersion()))
		_ = pw.Close()
	}()
	// Size -1: chunked, which trailers need.
	c.Context().SetBodyStream(st, -1)
	return nil
}

// HeaderScrubSummary is the trailer of a streamed scrub.
const HeaderScrubSummary = "X-Scrub-Summary"

// scrubTrailer is the JSON of the X-Scrub-Summary trailer: the counts of a
// finished scrub (the first malformed lines are left to the job API).
type scrubTrailer struct {
	Rows         int64            `json:"rows"`
	Allow        int64            `json:"allow"`
	Deny         int64            `json:"deny"`
	Reasons      map[string]int64 `json:"reasons"`
	Malformed    int64            `json:"malformed"`
	StoreReads   int64            `json:"store_reads"`
	Column       int              `json:"column"`
	RulesVersion string           `json:"rules_version"`
}

func newScrubTrailer(s *scrub.Summary, rules string) scrubTrailer {
	return scrubTrailer{Rows: s.Rows, Allow: s.Allow, Deny: s.Deny, Reasons: s.Reasons, Malformed: s.Malformed,
		StoreReads: s.StoreReads, Column: s.Column, RulesVersion: rules}
}

// scrubStream is the body of a streamed scrub. The scrub writes into a pipe
// on its own goroutine; fasthttp reads the pipe after it has written the
// headers and writes the trailer after the read that ends the body, on its
// own goroutine. So Read sets the trailer's value when the pipe ends: no
// header is touched while fasthttp may be writing the headers (setting it
// from the writing goroutine would race with that).
type scrubStream struct {
	pr      *io.PipeReader
	header  *fasthttp.ResponseHeader
	cancel  context.CancelFunc
	done    chan struct{}
	trailer []byte // set before the pipe is closed without error
}

func (st *scrubStream) Read(p []byte) (int, error) {
	n, err := st.pr.Read(p)
	if err == io.EOF {
		<-st.done
		st.header.SetBytesV(HeaderScrubSummary, st.trailer)
	}
	return n, err
}

// Close is called by fasthttp when the answer is written or the client has
// gone: it stops the scrub and waits for its goroutine.
func (st *scrubStream) Close() error {
	st.cancel()
	_ = st.pr.Close()
	<-st.done
	return nil
}

// Jobs.

// jobState is where a job is.
type jobState string

const (
	jobQueued  jobState = "queued"
	jobRunning jobState = "running"
	jobDone    jobState = "done"
	jobFailed  jobState = "failed"
)

// jobMeta is a job's durable record (meta.json in its directory).
type jobMeta struct {
	ID        string         `json:"id"`
	State     jobState       `json:"state"`
	Params    scrubParams    `json:"params"`
	Bytes     int64          `json:"bytes"`
	CreatedAt time.Time      `json:"created_at"`
	CreatedBy string         `json:"created_by,omitempty"` // the key's name, for the audit record
	StartedAt time.Time      `json:"started_at,omitzero"`
	EndedAt   time.Time      `json:"ended_at,omitzero"`
	Restarts  int            `json:"restarts,omitempty"`
	Error     *errorJSON     `json:"error,omitempty"`
	Summary   *scrub.Summary `json:"summary,omitempty"`
}

// jobView is GET /v1/scrub/jobs/{id}.
type jobView struct {
	jobMeta
	RowsDone   int64   `json:"rows_done"`
	BytesDone  int64   `json:"bytes_done"`
	RowsPerSec float64 `json:"rows_per_second"`
	ETASeconds float64 `json:"eta_seconds,omitempty"`
	Note       string  `json:"note"`
}

// scrubJobs runs jobs one at a time on one goroutine, which close stops.
type scrubJobs struct {
	s      *Server
	dir    string
	queue  chan string
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	retention time.Duration

	mu      sync.Mutex
	live    map[string]*jobView // the running job's progress
	running *runningJob         // the job runOne runs, nil between jobs
	deleted map[string]bool     // jobs DELETE is removing: runOne skips them
}

// runningJob is the job under way: DELETE cancels it and waits for it.
type runningJob struct {
	id     string
	cancel context.CancelFunc
	done   chan struct{}
}

func newScrubJobs(s *Server) *scrubJobs {
	j := &scrubJobs{s: s, dir: s.opts.ScrubDir, queue: make(chan string, 4096), live: map[string]*jobView{}, done: make(chan struct{}),
		retention: cmp.Or(s.opts.ScrubJobRetention, DefaultScrubJobRetention), deleted: map[string]bool{}}
	if j.dir == "" {
		close(j.done)
		return j
	}
	// Made now, not by the first job: POST /v1/scrub spills its duplicate
	// set here too, and a 10M-row stream on a fresh data directory stopped
	// at ~3.5M distinct numbers for want of it.
	if err := os.MkdirAll(j.dir, 0o700); err != nil {
		s.opts.Logger.Error("scrub directory cannot be made: jobs and large streamed scrubs will fail", "dir", j.dir, "err", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	j.cancel = cancel
	go j.run(ctx)
	return j
}

func (j *scrubJobs) close() {
	j.once.Do(func() {
		if j.cancel != nil {
			j.cancel()
		}
		<-j.done
	})
}

func (j *scrubJobs) path(id string, name string) string { return filepath.Join(j.dir, id, name) }

// run resumes the jobs a previous process left queued or running, then runs
// what is queued until ctx is done, deleting the jobs past their retention
// as it goes.
func (j *scrubJobs) run(ctx context.Context) {
	defer close(j.done)
	ents, _ := os.ReadDir(j.dir)
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		m, err := j.load(e.Name())
		if err != nil {
			j.removeLeftover(e)
			continue
		}
		if m.State == jobDone || m.State == jobFailed {
			continue
		}
		if m.State == jobRunning {
			m.Restarts++
			m.State = jobQueued
			_ = j.save(m)
		}
		j.queue <- m.ID
	}
	j.expire()
	tick := time.NewTicker(max(min(j.retention/4, 10*time.Minute), 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			j.expire()
		case id := <-j.queue:
			j.runOne(ctx, id)
		}
	}
}

// removeLeftover deletes, at start, what a crash left in the directory
// older than leftoverAge: a job directory without a record (its upload was
// cut short) or a duplicate set's spill directory.
func (j *scrubJobs) removeLeftover(e os.DirEntry) {
	fi, err := e.Info()
	if err != nil || time.Since(fi.ModTime()) < leftoverAge {
		return
	}
	if !validJobID(e.Name()) && !strings.HasPrefix(e.Name(), scrub.SpillDirPrefix) && !strings.HasPrefix(e.Name(), deletingPrefix) {
		return // not ours
	}
	if err := os.RemoveAll(filepath.Join(j.dir, e.Name())); err != nil {
		j.s.opts.Logger.Warn("a scrub's leftover files cannot be deleted", "path", filepath.Join(j.dir, e.Name()), "err", err)
	}
}

// deletingPrefix names a job directory being deleted: deleteJob renames it
// first, so that the job is gone at once (never half there: a result read
// while its files go), then removes the files.
const deletingPrefix = "deleting-"

// deleteJob deletes the job id's directory.
func (j *scrubJobs) deleteJob(id string) error {
	tmp := filepath.Join(j.dir, deletingPrefix+id)
	if err := os.Rename(filepath.Join(j.dir, id), tmp); err != nil {
		return err
	}
	return os.RemoveAll(tmp)
}

// expire deletes the jobs that ended more than the retention ago.
func (j *scrubJobs) expire() {
	ents, _ := os.ReadDir(j.dir)
	for _, e := range ents {
		if !e.IsDir() || !validJobID(e.Name()) {
			continue
		}
		m, err := j.load(e.Name())
		if err != nil || (m.State != jobDone && m.State != jobFailed) || time.Since(m.EndedAt) < j.retention {
			continue
		}
		if err := j.deleteJob(m.ID); err != nil {
			j.s.opts.Logger.Warn("an expired scrub job cannot be deleted", "job", m.ID, "err", err)
		}
	}
}

// jobFinishTimeout bounds the writes that finish a job whose rows are done
// (output sync, audit record, rename) once shutdown has begun.
const jobFinishTimeout = 10 * time.Second

func (j *scrubJobs) runOne(parent context.Context, id string) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	j.mu.Lock()
	if j.deleted[id] {
		j.mu.Unlock()
		return
	}
	run := &runningJob{id: id, cancel: cancel, done: make(chan struct{})}
	j.running = run
	j.mu.Unlock()
	defer func() {
		j.mu.Lock()
		j.running = nil
		j.mu.Unlock()
		close(run.done)
	}()
	m, err := j.load(id)
	if err != nil || m.State != jobQueued {
		// Gone, or queued twice (the start's scan can find a job that
		// create queues too) and run already.
		return
	}
	// An ended job needs its upload no more: the result holds every column.
	dropInput := func() {
		if err := os.Remove(j.path(id, "input.csv")); err != nil && !errors.Is(err, os.ErrNotExist) {
			j.s.opts.Logger.Warn("a scrub job's upload cannot be deleted", "job", id, "err", err)
		}
	}
	fail := func(err error) {
		_, code, msg := classify(err)
		m.State, m.EndedAt, m.Error = jobFailed, time.Now().UTC(), &errorJSON{Code: code, Message: msg}
		if j.save(m) == nil {
			dropInput()
		}
	}
	sc, err := j.s.svc.Scrubber(m.Params.input())
	if err != nil {
		fail(err)
		return
	}
	in, err := os.Open(j.path(id, "input.csv"))
	if err != nil {
		fail(filter.Wrap(filter.EInternal, err, "the upload is lost"))
		return
	}
	defer in.Close()
	out, err := os.Create(j.path(id, "output.csv.tmp"))
	if err != nil {
		fail(filter.Wrap(filter.EInternal, err, "cannot write the output"))
		return
	}
	defer out.Close()
	m.State, m.StartedAt = jobRunning, time.Now().UTC()
	_ = j.save(m)
	counter := &countingReader{r: in}
	view := &jobView{jobMeta: *m}
	j.mu.Lock()
	j.live[id] = view
	j.mu.Unlock()
	defer func() {
		j.mu.Lock()
		delete(j.live, id)
		j.mu.Unlock()
	}()
	start := time.Now()
	sum, err := scrub.Run(ctx, counter, out, scrub.Options{
		Decider: sc, Region: sc.Region(), Column: m.Params.Column, Charset: m.Params.Charset,
		TempDir: j.dir, DuplicateMemory: j.s.opts.ScrubDuplicateMemory,
		Progress: func(s *scrub.Summary) {
			j.mu.Lock()
			defer j.mu.Unlock()
			view.Summary = s.Clone()
			n := counter.n.Load()
			view.RowsDone, view.BytesDone = s.Rows, n
			if el := time.Since(start).Seconds(); el > 0 && s.Rows > 0 {
				view.RowsPerSec = float64(s.Rows) / el
				if n > 0 {
					view.ETASeconds = el * float64(m.Bytes-n) / float64(n)
				}
			}
		},
	})
	if ctx.Err() != nil {
		// Shutting down: the job stays running on disk and is resumed.
		return
	}
	// Every row is written: a shutdown that begins now waits for the few
	// writes that finish the job rather than fail it or run it again.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jobFinishTimeout)
	defer cancel()
	if err == nil {
		err = out.Sync()
	}
	if err == nil {
		err = sc.Record(service.WithActor(fctx, m.CreatedBy), sum.Totals())
	}
	if err == nil {
		err = os.Rename(j.path(id, "output.csv.tmp"), j.path(id, "output.csv"))
	}
	if err != nil {
		if ctx.Err() != nil {
			return // as above: resumed on the next start
		}
		m.Summary = sum
		fail(err)
		return
	}
	m.State, m.EndedAt, m.Summary = jobDone, time.Now().UTC(), sum
	if j.save(m) == nil {
		dropInput()
	}
}

// countingReader counts the bytes read, for progress.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func validJobID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

func (j *scrubJobs) load(id string) (*jobMeta, error) {
	if !validJobID(id) {
		return nil, filter.Errorf(filter.ENotFound, "", "no scrub job %q", id)
	}
	b, err := os.ReadFile(j.path(id, "meta.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, filter.Errorf(filter.ENotFound, "", "no scrub job %q", id)
	}
	if err != nil {
		return nil, filter.Wrap(filter.EUnavailable, err, "the job cannot be read")
	}
	var m jobMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, filter.Wrap(filter.EInternal, err, "the job record is corrupt")
	}
	return &m, nil
}

// save writes m durably (temporary file, sync, rename).
func (j *scrubJobs) save(m *jobMeta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := j.path(m.ID, "meta.json.tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, j.path(m.ID, "meta.json"))
}

var errNoJobs = filter.Errorf(filter.EUnavailable, "jobs_unavailable", "scrub jobs need a data directory (api.Options.ScrubDir)")

// createScrubJob is POST /v1/scrub/jobs: it stores the upload and queues it.
func (j *scrubJobs) create(c *fiber.Ctx) error {
	s := j.s
	if j.dir == "" {
		return errNoJobs
	}
	p, err := scrubQuery(c)
	if err != nil {
		return err
	}
	sc, err := s.svc.Scrubber(p.input())
	if err != nil {
		return err
	}
	p.At = sc.At() // a resumed job decides at the same instant
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	m := &jobMeta{ID: hex.EncodeToString(raw[:]), State: jobQueued, Params: p, CreatedAt: time.Now().UTC(), CreatedBy: keyName(c)}
	if err := os.MkdirAll(filepath.Join(j.dir, m.ID), 0o700); err != nil {
		return filter.Wrap(filter.EUnavailable, err, "the job cannot be stored")
	}
	body, closeBody, err := uploadBody(c)
	if err != nil {
		return err
	}
	defer closeBody()
	_ = c.Context().Conn().SetReadDeadline(time.Now().Add(scrubTimeout))
	f, err := os.Create(j.path(m.ID, "input.csv"))
	if err != nil {
		return filter.Wrap(filter.EUnavailable, err, "the job cannot be stored")
	}
	n, err := io.Copy(f, body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		m.Bytes = n
		err = j.save(m)
	}
	if err != nil {
		_ = os.RemoveAll(filepath.Join(j.dir, m.ID))
		var he *httpError
		if errors.As(err, &he) {
			return err
		}
		return filter.Wrap(filter.EUnavailable, err, "the job cannot be stored")
	}
	select {
	case j.queue <- m.ID:
	default:
		// The queue is full: the job is on disk and runs after a restart.
	}
	return c.Status(http.StatusAccepted).JSON(j.view(m))
}

func (j *scrubJobs) view(m *jobMeta) jobView {
	j.mu.Lock()
	defer j.mu.Unlock()
	if v, ok := j.live[m.ID]; ok {
		out := *v
		out.State = jobRunning
		if v.Summary != nil {
			out.Summary = v.Summary.Clone()
		}
		out.Note = capsNote
		return out
	}
	v := jobView{jobMeta: *m, Note: capsNote}
	if m.Summary != nil {
		v.RowsDone = m.Summary.Rows
	}
	if m.State == jobDone {
		v.BytesDone = m.Bytes
		if d := m.EndedAt.Sub(m.StartedAt).Seconds(); d > 0 {
			v.RowsPerSec = float64(v.RowsDone) / d
		}
	}
	return v
}

// listScrubJobs is GET /v1/scrub/jobs: the jobs on record, newest first.
// An admin's key sees every key's; any other key its own (a job's id is what
// lets a key of the role read one it did not create).
func (j *scrubJobs) list(c *fiber.Ctx) error {
	if j.dir == "" {
		return errNoJobs
	}
	ents, err := os.ReadDir(j.dir)
	if err != nil {
		return filter.Wrap(filter.EUnavailable, err, "the jobs cannot be read")
	}
	ri := info(c)
	views := []jobView{}
	for _, e := range ents {
		if !e.IsDir() || !validJobID(e.Name()) {
			continue
		}
		m, err := j.load(e.Name())
		if err != nil {
			continue // being stored or deleted
		}
		if ri.role != filter.RoleAdmin && m.CreatedBy != ri.key {
			continue
		}
		views = append(views, j.view(m))
	}
	slices.SortFunc(views, func(a, b jobView) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return c.JSON(struct {
		Jobs []jobView `json:"jobs"`
	}{views})
}

// loadParam loads the job the request's path names.
func (j *scrubJobs) loadParam(c *fiber.Ctx) (*jobMeta, error) {
	if j.dir == "" {
		return nil, errNoJobs
	}
	return j.load(c.Params("id"))
}

// scrubJob is GET /v1/scrub/jobs/{id}: state, progress and counts so far.
func (j *scrubJobs) get(c *fiber.Ctx) error {
	m, err := j.loadParam(c)
	if err != nil {
		return err
	}
	return c.JSON(j.view(m))
}

// removeScrubJob is DELETE /v1/scrub/jobs/{id}: the job and its files go
// now; a running job is stopped first, a queued one never runs.
func (j *scrubJobs) remove(c *fiber.Ctx) error {
	m, err := j.loadParam(c)
	if err != nil {
		return err
	}
	j.mu.Lock()
	j.deleted[m.ID] = true
	run := j.running
	j.mu.Unlock()
	defer func() {
		j.mu.Lock()
		delete(j.deleted, m.ID)
		j.mu.Unlock()
	}()
	if run != nil && run.id == m.ID {
		run.cancel()
		select {
		case <-run.done:
		case <-time.After(jobFinishTimeout):
			return filter.Errorf(filter.EUnavailable, "", "the running job did not stop in time: retry the delete")
		}
	}
	if err := j.deleteJob(m.ID); err != nil {
		return filter.Wrap(filter.EUnavailable, err, "the job cannot be deleted")
	}
	return c.SendStatus(http.StatusNoContent)
}

// scrubJobResult is GET /v1/scrub/jobs/{id}/result: the output of a done job.
func (j *scrubJobs) result(c *fiber.Ctx) error {
	m, err := j.loadParam(c)
	if err != nil {
		return err
	}
	switch m.State {
	case jobDone:
	case jobFailed:
		return filter.Errorf(filter.EConflict, "job_failed", "the job failed: %s", m.Error.Message)
	default:
		return filter.Errorf(filter.EConflict, "job_not_done", "the job is %s: poll GET /v1/scrub/jobs/%s", m.State, m.ID)
	}
	f, err := os.Open(j.path(m.ID, "output.csv"))
	if err != nil {
		return filter.Wrap(filter.EUnavailable, err, "the result cannot be read")
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return filter.Wrap(filter.EUnavailable, err, "the result cannot be read")
	}
	_ = c.Context().Conn().SetWriteDeadline(time.Now().Add(scrubTimeout))
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	return c.SendStream(f, int(st.Size()))
}
