package api

import (
	"bufio"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"callfilter/audit"
	"callfilter/filter"
	"callfilter/service"
)

// officerRoutes registers the compliance officers' routes: rules, audit,
// number lookup.
func (s *Server) officerRoutes(v1 fiber.Router) {
	v1.Get("/rules", s.guard(permRules), s.getRules)
	v1.Put("/rules", s.guard(permRules), s.putRules)
	v1.Post("/rules/validate", s.guard(permRules), s.validateRules)
	v1.Post("/rules/preview", s.guard(permRules), s.previewRules)
	v1.Get("/rules/history", s.guard(permRules), s.rulesHistory)
	v1.Get("/rules/versions/:version", s.guard(permRules), s.rulesVersion)
	v1.Post("/rules/rollback/:version", s.guard(permRules), s.rollbackRules)

	v1.Get("/audit", s.guard(permAudit), s.auditSearch)
	v1.Get("/audit/export", s.guard(permAudit), s.auditExport)
	v1.Get("/audit/verify", s.guard(permAudit), s.auditVerify)

	v1.Get("/numbers/:number", s.guard(permRules), s.lookupNumber)

	// A reassigned-numbers feed changes which consents count: officers only.
	v1.Post("/reassigned", s.guard(permListsWrite|permConsents), s.importReassigned)

	// Registered here (routes.go calls officerRoutes): the outcomes feed the
	// officers' rules on unanswered calls and refusals.
	s.outcomeRoutes(v1)
}

// reassignedRequest is the body of POST /v1/reassigned: a reassigned-numbers
// feed, each number with the date it was disconnected.
type reassignedRequest struct {
	Numbers []reassignedRow `json:"numbers"`
	Region  string          `json:"region"`
}

type reassignedRow struct {
	Number         string `json:"number"`
	DisconnectedAt string `json:"disconnected_at"`
}

type reassignedResponse struct {
	Accepted int            `json:"accepted"`
	Rejected []rejectedJSON `json:"rejected"`
}

// importReassigned records the rows it can read and reports the others by
// index (a bad date included), as list edits do.
func (s *Server) importReassigned(c *fiber.Ctx) error {
	var req reassignedRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	rows := make([]service.ReassignedInput, 0, len(req.Numbers))
	index := make([]int, 0, len(req.Numbers)) // rows[i] is req.Numbers[index[i]]
	out := reassignedResponse{Rejected: []rejectedJSON{}}
	for i, r := range req.Numbers {
		if r.DisconnectedAt == "" {
			out.Rejected = append(out.Rejected, rejectedJSON{Index: i, Code: service.CodeMissingDisconnectedAt, Message: "disconnected_at is required (RFC 3339)"})
			continue
		}
		at, err := parseTime("disconnected_at", r.DisconnectedAt)
		if err != nil {
			out.Rejected = append(out.Rejected, rejectedJSON{Index: i, Code: filter.ErrorCode(err), Message: filter.ErrorMessage(err)})
			continue
		}
		rows = append(rows, service.ReassignedInput{Number: r.Number, DisconnectedAt: at})
		index = append(index, i)
	}
	if len(rows) > 0 || len(req.Numbers) == 0 {
		res, err := s.svc.ImportReassigned(c.UserContext(), rows, req.Region)
		if err != nil {
			return err
		}
		out.Accepted = res.Accepted
		for _, r := range res.Rejected {
			out.Rejected = append(out.Rejected, rejectedJSON{Index: index[r.Index], Code: r.Code, Message: r.Message})
		}
		slices.SortFunc(out.Rejected, func(a, b rejectedJSON) int { return cmp.Compare(a.Index, b.Index) })
	}
	return c.JSON(out)
}

// rulesJSON is a stored revision of the rule set.
type rulesJSON struct {
	Version  string `json:"version"`
	Revision int64  `json:"revision"`
	Author   string `json:"author"`
	At       string `json:"at"`
	Summary  string `json:"summary"`
	Diff     string `json:"diff,omitempty"`
	Document string `json:"document,omitempty"`
}

func newRulesJSON(r filter.RulesRevision, diff bool) rulesJSON {
	out := rulesJSON{Version: r.Version, Revision: r.Revision, Author: r.Author, At: formatTime(r.At), Summary: r.Summary, Document: string(r.Source)}
	if diff {
		out.Diff = r.Diff
	}
	return out
}

func etag(version string) string { return `"` + version + `"` }

func (s *Server) getRules(c *fiber.Ctx) error {
	r, err := s.svc.CurrentRules(c.UserContext())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(r.Version))
	return c.JSON(newRulesJSON(r, false))
}

// rulesDocRequest is the body of PUT /v1/rules and POST /v1/rules/validate.
type rulesDocRequest struct {
	Document string `json:"document"`
}

// problemsError is the 400 of a rule set that does not validate: every
// problem with its path.
type problemsError struct {
	Error struct {
		Code     string           `json:"code"`
		Message  string           `json:"message"`
		Problems []filter.Problem `json:"problems"`
	} `json:"error"`
}

// rulesError sends a rule set's validation problems, or returns err for
// writeError.
func rulesError(c *fiber.Ctx, err error) error {
	var re *filter.RulesError
	if !errors.As(err, &re) {
		if filter.ErrorCode(err) == filter.CodeStaleVersion {
			return &httpError{status: http.StatusPreconditionFailed, code: filter.CodeStaleVersion, message: filter.ErrorMessage(err)}
		}
		return err
	}
	var out problemsError
	out.Error.Code, out.Error.Message, out.Error.Problems = filter.CodeInvalidRules, filter.ErrorMessage(err), re.Problems
	return c.Status(http.StatusBadRequest).JSON(out)
}

// ifMatch returns the version of an If-Match header ("" when absent).
func ifMatch(c *fiber.Ctx) string {
	v := strings.TrimSpace(c.Get(fiber.HeaderIfMatch))
	v = strings.TrimPrefix(v, "W/")
	return utils.CopyString(strings.Trim(v, `"`))
}

func (s *Server) putRules(c *fiber.Ctx) error {
	var req rulesDocRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if _, err := s.svc.ValidateRules([]byte(req.Document)); err != nil {
		return rulesError(c, err)
	}
	match := ifMatch(c)
	if match == "" {
		return &httpError{status: http.StatusPreconditionRequired, code: "precondition_required",
			message: `send If-Match with the ETag of the rule set the edit is based on (GET /v1/rules), e.g. If-Match: "2026-01-15"`}
	}
	r, err := s.svc.PutRules(c.UserContext(), []byte(req.Document), match)
	if err != nil {
		return rulesError(c, err)
	}
	c.Set(fiber.HeaderETag, etag(r.Version))
	return c.JSON(newRulesJSON(r, true))
}

type validateResponse struct {
	Valid    bool             `json:"valid"`
	Version  string           `json:"version,omitempty"`
	Problems []filter.Problem `json:"problems"`
}

func (s *Server) validateRules(c *fiber.Ctx) error {
	var req rulesDocRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	rs, err := s.svc.ValidateRules([]byte(req.Document))
	var re *filter.RulesError
	switch {
	case err == nil:
		return c.JSON(validateResponse{Valid: true, Version: rs.Version, Problems: []filter.Problem{}})
	case errors.As(err, &re):
		return c.JSON(validateResponse{Problems: re.Problems})
	default:
		return err
	}
}

type historyResponse struct {
	Revisions []rulesJSON `json:"revisions"`
}

func (s *Server) rulesHistory(c *fiber.Ctx) error {
	limit := c.QueryInt("limit", 100)
	hist, err := s.svc.RulesHistory(c.UserContext(), limit)
	if err != nil {
		return err
	}
	out := historyResponse{Revisions: make([]rulesJSON, len(hist))}
	for i, r := range hist {
		out.Revisions[i] = newRulesJSON(r, false)
	}
	return c.JSON(out)
}

func (s *Server) rulesVersion(c *fiber.Ctx) error {
	r, err := s.svc.RulesVersion(c.UserContext(), utils.CopyString(c.Params("version")))
	if err != nil {
		return err
	}
	return c.JSON(newRulesJSON(r, true))
}

func (s *Server) rollbackRules(c *fiber.Ctx) error {
	r, err := s.svc.RollbackRules(c.UserContext(), utils.CopyString(c.Params("version")), ifMatch(c))
	if err != nil {
		return rulesError(c, err)
	}
	c.Set(fiber.HeaderETag, etag(r.Version))
	return c.JSON(newRulesJSON(r, true))
}

type previewRequest struct {
	Document string `json:"document"`
	Window   string `json:"window"`
	Limit    int    `json:"limit"`
}

type previewResponse struct {
	DraftVersion      string                    `json:"draft_version"`
	CurrentVersion    string                    `json:"current_version"`
	From              string                    `json:"from"`
	To                string                    `json:"to"`
	Replayed          int                       `json:"replayed"`
	Skipped           int                       `json:"skipped"`
	AllowToDeny       int                       `json:"allow_to_deny"`
	DenyToAllow       int                       `json:"deny_to_allow"`
	ByPurpose         map[string]*service.Flips `json:"by_purpose"`
	ByReason          map[string]*service.Flips `json:"by_reason"`
	SampleAllowToDeny []string                  `json:"sample_allow_to_deny"`
	SampleDenyToAllow []string                  `json:"sample_deny_to_allow"`
}

func (s *Server) previewRules(c *fiber.Ctx) error {
	var req previewRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	in := service.PreviewInput{Document: []byte(req.Document), Limit: req.Limit}
	if req.Window != "" {
		d, err := time.ParseDuration(req.Window)
		if err != nil || d <= 0 {
			return filter.Errorf(filter.EInvalid, "invalid_window", "window %q: use a duration such as \"24h\" or \"90m\"", req.Window)
		}
		in.Window = d
	}
	p, err := s.svc.PreviewRules(c.UserContext(), in)
	if err != nil {
		return rulesError(c, err)
	}
	out := previewResponse{
		DraftVersion: p.DraftVersion, CurrentVersion: p.CurrentVersion, From: formatTime(p.From), To: formatTime(p.To),
		Replayed: p.Replayed, Skipped: p.Skipped, AllowToDeny: p.Flips.AllowToDeny, DenyToAllow: p.Flips.DenyToAllow,
		ByPurpose: p.ByPurpose, ByReason: p.ByReason, SampleAllowToDeny: p.SampleAllowToDeny, SampleDenyToAllow: p.SampleDenyToAllow,
	}
	if out.SampleAllowToDeny == nil {
		out.SampleAllowToDeny = []string{}
	}
	if out.SampleDenyToAllow == nil {
		out.SampleDenyToAllow = []string{}
	}
	return c.JSON(out)
}

// auditQuery reads the audit filters of the query string (copied: Fiber
// reuses its buffers).
func auditQuery(c *fiber.Ctx) (service.AuditQuery, error) {
	q := service.AuditQuery{
		Number: utils.CopyString(c.Query("number")), Region: utils.CopyString(c.Query("region")),
		Seller: utils.CopyString(c.Query("seller")), Kind: utils.CopyString(c.Query("kind")),
		Decision: utils.CopyString(c.Query("decision")), Cursor: utils.CopyString(c.Query("cursor")),
	}
	var err error
	if q.From, err = parseTime("from", c.Query("from")); err != nil {
		return q, err
	}
	if q.To, err = parseTime("to", c.Query("to")); err != nil {
		return q, err
	}
	if l := c.Query("limit"); l != "" {
		if q.Limit, err = strconv.Atoi(l); err != nil || q.Limit < 1 {
			return q, filter.Errorf(filter.EInvalid, "invalid_limit", "limit must be between 1 and 1000")
		}
	}
	return q, nil
}

type auditResponse struct {
	Entries    []filter.AuditEntry `json:"entries"`
	NextCursor string              `json:"next_cursor"`
}

func (s *Server) auditSearch(c *fiber.Ctx) error {
	q, err := auditQuery(c)
	if err != nil {
		return err
	}
	es, next, err := s.svc.Audit(c.UserContext(), q)
	if err != nil {
		return err
	}
	if es == nil {
		es = []filter.AuditEntry{}
	}
	return c.JSON(auditResponse{Entries: es, NextCursor: next})
}

// exportTimeout bounds one export stream.
const exportTimeout = 10 * time.Minute

var csvHeader = []string{"seq", "time", "kind", "id", "actor", "subject", "last4", "seller", "purpose", "channel", "campaign",
	"decision", "reasons", "rules_version", "action", "target", "detail", "prev", "hash"}

func (s *Server) auditExport(c *fiber.Ctx) error {
	q, err := auditQuery(c)
	if err != nil {
		return err
	}
	format := c.Query("format", "jsonl")
	switch format {
	case "csv":
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	case "jsonl":
		c.Set(fiber.HeaderContentType, "application/x-ndjson")
	default:
		return filter.Errorf(filter.EInvalid, "invalid_format", "format %q: use csv or jsonl", format)
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="audit.`+format+`"`)
	// The stream outlives the handler (and its deadline): it gets its own.
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		ctx, cancel := context.WithTimeout(context.Background(), exportTimeout)
		defer cancel()
		var cw *csv.Writer
		if format == "csv" {
			cw = csv.NewWriter(w)
			_ = cw.Write(csvHeader)
		}
		enc := json.NewEncoder(w)
		n := 0
		err := s.svc.ExportAudit(ctx, q, func(e filter.AuditEntry) error {
			if cw != nil {
				if err := cw.Write(csvRow(&e)); err != nil {
					return err
				}
			} else if err := enc.Encode(e); err != nil {
				return err
			}
			if n++; n%1000 == 0 {
				if cw != nil {
					cw.Flush()
				}
				return w.Flush()
			}
			return nil
		})
		if cw != nil {
			cw.Flush()
		}
		if err != nil {
			// The status is sent already: the last line says the export is
			// incomplete.
			s.log.Error("audit export failed", "err", err)
			if cw != nil {
				_, _ = w.WriteString("# export incomplete: " + filter.ErrorMessage(err) + "\n")
			} else {
				_ = enc.Encode(map[string]any{"error": map[string]string{"code": filter.ErrorCode(err), "message": "export incomplete: " + filter.ErrorMessage(err)}})
			}
		}
		_ = w.Flush()
	})
	return nil
}

func csvRow(e *filter.AuditEntry) []string {
	reasons := make([]string, len(e.Reasons))
	for i, r := range e.Reasons {
		reasons[i] = string(r.Code)
		if r.List != "" {
			reasons[i] += ":" + r.List
		}
	}
	subj := ""
	if e.Subject != (filter.Subject{}) {
		subj = hex.EncodeToString(e.Subject[:])
	}
	return []string{strconv.FormatUint(e.Seq, 10), e.Time.UTC().Format(time.RFC3339Nano), string(e.Kind), e.ID, e.Actor, subj, e.Last4,
		e.Seller, e.Purpose, string(e.Channel), e.Campaign, string(e.Decision), strings.Join(reasons, " "), e.RulesVersion,
		e.Action, e.Target, e.Detail, audit.HexHash(e.Prev), audit.HexHash(e.Hash)}
}

func (s *Server) auditVerify(c *fiber.Ctx) error {
	st, err := s.svc.AuditStore()
	if err != nil {
		return err
	}
	// Verification reads the whole chain: it gets more than a request's time.
	ctx, cancel := context.WithTimeout(context.Background(), exportTimeout)
	defer cancel()
	r, err := audit.Verify(ctx, st)
	if err != nil {
		return err
	}
	return c.JSON(r)
}

type lookupResponse struct {
	Number        numberJSON         `json:"number"`
	Seller        string             `json:"seller"`
	At            string             `json:"at"`
	RulesVersion  string             `json:"rules_version"`
	Lists         []lookupList       `json:"lists"`
	Consents      []lookupConsent    `json:"consents"`
	Revocations   []lookupRevocation `json:"revocations"`
	Relationships []lookupRel        `json:"relationships"`
	// DisconnectedAt is the latest disconnect a reassigned-numbers feed
	// reported: consents granted before it no longer count.
	DisconnectedAt string           `json:"disconnected_at,omitempty"`
	Decisions      []lookupDecision `json:"decisions"`
}

type lookupList struct {
	List string `json:"list"`
	On   bool   `json:"on"`
	// State is present, absent, unknown or expired (an entry whose expiry
	// has passed: it no longer matches).
	State     string `json:"state"`
	ExpiresAt string `json:"expires_at,omitempty"`
}

type lookupConsent struct {
	Seller    string `json:"seller"`
	Purpose   string `json:"purpose"`
	Channel   string `json:"channel"`
	GrantedAt string `json:"granted_at"`
	ExpiresAt string `json:"expires_at,omitempty"`
	Source    string `json:"source"`
	Evidence  string `json:"evidence"`
}

type lookupRevocation struct {
	Seller  string `json:"seller,omitempty"`
	Purpose string `json:"purpose,omitempty"`
	Channel string `json:"channel,omitempty"`
	At      string `json:"at"`
	Source  string `json:"source"`
}

type lookupRel struct {
	Seller          string `json:"seller"`
	Kind            string `json:"kind"`
	At              string `json:"at"`
	PolicyExpiresAt string `json:"policy_expires_at,omitempty"`
}

type lookupDecision struct {
	Purpose       string       `json:"purpose"`
	Channel       string       `json:"channel"`
	Decision      string       `json:"decision"`
	Reasons       []reasonJSON `json:"reasons"`
	Attempts      []string     `json:"attempts"`
	Caps          []capJSON    `json:"caps"`
	NextAllowedAt string       `json:"next_allowed_at,omitempty"`
}

type capJSON struct {
	Max    int    `json:"max"`
	Window string `json:"window"`
}

func (s *Server) lookupNumber(c *fiber.Ctx) error {
	raw, err := url.PathUnescape(c.Params("number"))
	if err != nil {
		return filter.Errorf(filter.EInvalid, filter.CodeInvalidNumber, "the number in the path is not URL-encoded correctly")
	}
	l, err := s.svc.LookupNumber(c.UserContext(), strings.Clone(raw), utils.CopyString(c.Query("region")), utils.CopyString(c.Query("seller")))
	if err != nil {
		return err
	}
	n := l.Number
	tz := n.TimeZones
	if tz == nil {
		tz = []string{}
	}
	out := lookupResponse{
		Number: numberJSON{E164: n.E164, Region: n.Region, Type: string(n.Type), TimeZones: tz, Area: n.Area},
		Seller: l.Seller, At: formatTime(l.At), RulesVersion: l.RulesVersion,
		Lists: []lookupList{}, Consents: []lookupConsent{}, Revocations: []lookupRevocation{}, Relationships: []lookupRel{}, Decisions: []lookupDecision{},
	}
	for _, f := range l.Lists {
		st := map[filter.ListState]string{filter.ListPresent: "present", filter.ListAbsent: "absent"}[f.State]
		if st == "" {
			st = "unknown"
		}
		on := f.StateAt(l.At) == filter.ListPresent
		if f.State == filter.ListPresent && !on {
			st = "expired"
		}
		ll := lookupList{List: f.List, On: on, State: st}
		if !f.ExpiresAt.IsZero() {
			ll.ExpiresAt = formatTime(f.ExpiresAt)
		}
		out.Lists = append(out.Lists, ll)
	}
	if !l.DisconnectedAt.IsZero() {
		out.DisconnectedAt = formatTime(l.DisconnectedAt)
	}
	for _, x := range l.Consents {
		lc := lookupConsent{Seller: x.Seller, Purpose: x.Purpose, Channel: string(x.Channel), GrantedAt: formatTime(x.GrantedAt), Source: x.Source, Evidence: x.Evidence}
		if !x.ExpiresAt.IsZero() {
			lc.ExpiresAt = formatTime(x.ExpiresAt)
		}
		out.Consents = append(out.Consents, lc)
	}
	for _, x := range l.Revocations {
		out.Revocations = append(out.Revocations, lookupRevocation{Seller: x.Seller, Purpose: x.Purpose, Channel: string(x.Channel), At: formatTime(x.At), Source: x.Source})
	}
	for _, x := range l.Relationships {
		lr := lookupRel{Seller: x.Seller, Kind: string(x.Kind), At: formatTime(x.At)}
		if !x.PolicyExpiresAt.IsZero() {
			lr.PolicyExpiresAt = formatTime(x.PolicyExpiresAt)
		}
		out.Relationships = append(out.Relationships, lr)
	}
	for _, d := range l.Decisions {
		ld := lookupDecision{Purpose: d.Purpose, Channel: string(d.Channel), Decision: string(d.Decision.Outcome),
			Reasons: make([]reasonJSON, len(d.Decision.Reasons)), Attempts: make([]string, len(d.Attempts)), Caps: make([]capJSON, len(d.Caps))}
		for i, r := range d.Decision.Reasons {
			ld.Reasons[i] = reasonJSON{Code: string(r.Code), List: r.List, Detail: r.Detail}
		}
		for i, a := range d.Attempts {
			ld.Attempts[i] = formatTime(a)
		}
		for i, cp := range d.Caps {
			ld.Caps[i] = capJSON{Max: cp.Max, Window: cp.Window.String()}
		}
		if !d.Decision.NextAllowedAt.IsZero() {
			ld.NextAllowedAt = formatTime(d.Decision.NextAllowedAt)
		}
		out.Decisions = append(out.Decisions, ld)
	}
	return c.JSON(out)
}
