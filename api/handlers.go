package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"callfilter/filter"
	"callfilter/service"
)

// Handlers are thin: decode, call the service under the request's context
// (set by guard, with its deadline), encode. Errors go back to observe, which
// sends them through writeError.

// checkRequest is the body of POST /v1/check and each item of a batch.
type checkRequest struct {
	Number   string `json:"number"`
	Region   string `json:"region"`
	Channel  string `json:"channel"`
	Purpose  string `json:"purpose"`
	Seller   string `json:"seller"`
	Campaign string `json:"campaign"`
	At       string `json:"at"`
	Reserve  bool   `json:"reserve"`
	// PostalCode, optional: the called party's US ZIP Code.
	PostalCode string `json:"postal_code"`
}

func (r *checkRequest) input() (service.CheckInput, error) {
	at, err := parseTime("at", r.At)
	if err != nil {
		return service.CheckInput{}, err
	}
	return r.inputAt(at), nil
}

// inputAt is the request's input with its at already parsed.
func (r *checkRequest) inputAt(at time.Time) service.CheckInput {
	return service.CheckInput{
		Number: r.Number, Region: r.Region, Channel: r.Channel, Purpose: r.Purpose,
		Seller: r.Seller, Campaign: r.Campaign, At: at, Reserve: r.Reserve, PostalCode: r.PostalCode,
	}
}

func (s *Server) check(c *fiber.Ctx) error {
	var req checkRequest
	if err := decodeCheckBody(c, &req); err != nil {
		return err
	}
	in, err := req.input()
	if err != nil {
		return err
	}
	res, err := s.svc.Check(c.UserContext(), in)
	if err != nil {
		return err
	}
	s.recordDecisions(c, []service.CheckInput{in}, []service.CheckResult{res})
	sendJSON(c, func(b []byte) []byte { return appendCheckResult(b, &res) })
	return nil
}

type batchRequest struct {
	Items []json.RawMessage `json:"items"`
}

// batchResponse is the answer to a batch (written by appendBatchResults).
type batchResponse struct {
	Results []checkResponse `json:"results"`
}

func (s *Server) checkBatch(c *fiber.Ctx) error {
	ins, err := decodeBatchBody(c)
	if err != nil {
		return err
	}
	results, err := s.svc.CheckBatch(c.UserContext(), ins)
	if err != nil {
		return err
	}
	s.recordDecisions(c, ins, results)
	sendJSON(c, func(b []byte) []byte { return appendBatchResults(b, results) })
	return nil
}

// checkResponse is a decision as clients see it. Reasons is never null; Number
// is omitted when the input could not be read as a number. The handlers write
// it with appendCheckResult (api/checkjson.go), held to json.Marshal of
// newCheckResponse by TestAppendCheckResult.
type checkResponse struct {
	Decision      string       `json:"decision"`
	Reasons       []reasonJSON `json:"reasons"`
	Number        *numberJSON  `json:"number,omitempty"`
	RulesVersion  string       `json:"rules_version"`
	DecisionID    string       `json:"decision_id"`
	LocalTime     string       `json:"local_time"`
	NextAllowedAt string       `json:"next_allowed_at,omitempty"`
}

type reasonJSON struct {
	Code   string `json:"code"`
	List   string `json:"list,omitempty"`
	Detail string `json:"detail"`
}

type numberJSON struct {
	E164      string   `json:"e164"`
	Region    string   `json:"region"`
	Type      string   `json:"type"`
	TimeZones []string `json:"timezones"`
	Area      string   `json:"area,omitempty"`
}

func newCheckResponse(r service.CheckResult) checkResponse {
	d := r.Decision
	out := checkResponse{
		Decision:     string(d.Outcome),
		Reasons:      make([]reasonJSON, len(d.Reasons)),
		RulesVersion: d.RulesVersion,
		DecisionID:   d.ID,
		LocalTime:    formatTime(d.LocalTime),
	}
	for i, rs := range d.Reasons {
		out.Reasons[i] = reasonJSON{Code: string(rs.Code), List: rs.List, Detail: rs.Detail}
	}
	if !d.NextAllowedAt.IsZero() {
		// In the called party's offset too, as local_time is.
		out.NextAllowedAt = formatTime(d.NextAllowedAt.In(d.LocalTime.Location()))
	}
	if n := r.Number; n != nil {
		tz := n.TimeZones
		if tz == nil {
			tz = []string{}
		}
		out.Number = &numberJSON{E164: n.E164, Region: n.Region, Type: string(n.Type), TimeZones: tz, Area: n.Area}
	}
	return out
}

// listsResponse is GET /v1/lists.
type listsResponse struct {
	Lists []listJSON `json:"lists"`
}

type listJSON struct {
	Name      string  `json:"name"`
	Count     int64   `json:"count"`
	UpdatedAt *string `json:"updated_at"` // null for a list nothing was written to
	// SourceDate is when the list's source published the data imported last.
	SourceDate string `json:"source_date,omitempty"`
	Loaded     bool   `json:"loaded"`
	InRules    bool   `json:"in_rules"`
}

func (s *Server) lists(c *fiber.Ctx) error {
	lists, err := s.svc.Lists(c.UserContext())
	if err != nil {
		return err
	}
	out := listsResponse{Lists: make([]listJSON, len(lists))}
	for i, l := range lists {
		out.Lists[i] = listJSON{Name: l.Name, Count: l.Count, Loaded: l.Loaded, InRules: l.InRules}
		if !l.UpdatedAt.IsZero() {
			t := formatTime(l.UpdatedAt)
			out.Lists[i].UpdatedAt = &t
		}
		if !l.SourceDate.IsZero() {
			out.Lists[i].SourceDate = formatTime(l.SourceDate)
		}
	}
	return c.JSON(out)
}

// listEditRequest is the body of POST and DELETE /v1/lists/:list/numbers.
type listEditRequest struct {
	Numbers []string `json:"numbers"`
	Region  string   `json:"region"`
	// ExpiresAt (RFC 3339) or ExpiresInDays, on POST only and not both, make
	// the entries expire (filter.ExpiringListStore).
	ExpiresAt     string `json:"expires_at"`
	ExpiresInDays *int   `json:"expires_in_days"`
}

// maxExpiryDays bounds expires_in_days: ten years.
const maxExpiryDays = 3660

// expiry reads the optional expiry of a list edit; zero for none.
func (r *listEditRequest) expiry(add bool, now time.Time) (time.Time, error) {
	switch {
	case r.ExpiresAt == "" && r.ExpiresInDays == nil:
		return time.Time{}, nil
	case !add:
		return time.Time{}, invalidf("invalid_expiry", "expires_at and expires_in_days apply to adds only: a removal removes the entry and its expiry")
	case r.ExpiresAt != "" && r.ExpiresInDays != nil:
		return time.Time{}, invalidf("invalid_expiry", "give expires_at or expires_in_days, not both")
	case r.ExpiresInDays != nil:
		d := *r.ExpiresInDays
		if d < 1 || d > maxExpiryDays {
			return time.Time{}, invalidf("invalid_expiry", "expires_in_days must be 1 to %d, got %d", maxExpiryDays, d)
		}
		return now.AddDate(0, 0, d), nil
	}
	t, err := parseTime("expires_at", r.ExpiresAt)
	if err != nil {
		return time.Time{}, err
	}
	return t, nil
}

// listEditResponse reports an edit: Added for POST, Removed for DELETE.
type listEditResponse struct {
	List     string         `json:"list"`
	Accepted int            `json:"accepted"`
	Added    *int           `json:"added,omitempty"`
	Removed  *int           `json:"removed,omitempty"`
	Rejected []rejectedJSON `json:"rejected"`
}

type rejectedJSON struct {
	Index   int    `json:"index"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (s *Server) addNumbers(c *fiber.Ctx) error    { return s.editList(c, true) }
func (s *Server) removeNumbers(c *fiber.Ctx) error { return s.editList(c, false) }

func (s *Server) editList(c *fiber.Ctx, add bool) error {
	// The list name outlives the request (the service may keep it): copy it
	// out of Fiber's buffer.
	list := utils.CopyString(c.Params("list"))
	var req listEditRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	until, err := req.expiry(add, s.svc.Now())
	if err != nil {
		return err
	}
	edit := s.svc.RemoveNumbers
	switch {
	case !until.IsZero():
		edit = func(ctx context.Context, list string, numbers []string, region string) (service.ListChange, error) {
			return s.svc.AddNumbersUntil(ctx, list, numbers, region, until)
		}
	case add:
		edit = s.svc.AddNumbers
	}
	ch, err := edit(c.UserContext(), list, req.Numbers, req.Region)
	if err != nil {
		return err
	}
	out := listEditResponse{List: ch.List, Accepted: ch.Accepted, Rejected: make([]rejectedJSON, len(ch.Rejected))}
	if add {
		out.Added = &ch.Changed
	} else {
		out.Removed = &ch.Changed
	}
	for i, r := range ch.Rejected {
		out.Rejected[i] = rejectedJSON{Index: r.Index, Code: r.Code, Message: r.Message}
	}
	return c.JSON(out)
}

type consentRequest struct {
	Number    string `json:"number"`
	Region    string `json:"region"`
	Seller    string `json:"seller"`
	Purpose   string `json:"purpose"`
	Channel   string `json:"channel"`
	Source    string `json:"source"`
	Evidence  string `json:"evidence"`
	GrantedAt string `json:"granted_at"`
	ExpiresAt string `json:"expires_at"`
}

var recorded = statusBody{Status: "recorded"}

func (s *Server) putConsent(c *fiber.Ctx) error {
	var req consentRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	granted, err := parseTime("granted_at", req.GrantedAt)
	if err != nil {
		return err
	}
	expires, err := parseTime("expires_at", req.ExpiresAt)
	if err != nil {
		return err
	}
	err = s.svc.PutConsent(c.UserContext(), service.ConsentInput{
		Number: req.Number, Region: req.Region, Seller: req.Seller, Purpose: req.Purpose,
		Channel: req.Channel, Source: req.Source, Evidence: req.Evidence,
		GrantedAt: granted, ExpiresAt: expires,
	})
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(recorded)
}

type revokeRequest struct {
	Number  string `json:"number"`
	Region  string `json:"region"`
	Seller  string `json:"seller"`
	Purpose string `json:"purpose"`
	Channel string `json:"channel"`
	Source  string `json:"source"`
	At      string `json:"at"`
}

type revokeResponse struct {
	Revoked int `json:"revoked"`
}

func (s *Server) revokeConsent(c *fiber.Ctx) error {
	var req revokeRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	at, err := parseTime("at", req.At)
	if err != nil {
		return err
	}
	n, err := s.svc.RevokeConsent(c.UserContext(), service.RevokeInput{
		Number: req.Number, Region: req.Region, Seller: req.Seller, Purpose: req.Purpose,
		Channel: req.Channel, Source: req.Source, At: at,
	})
	if err != nil {
		return err
	}
	return c.JSON(revokeResponse{Revoked: n})
}

type relationshipRequest struct {
	Number string `json:"number"`
	Region string `json:"region"`
	Seller string `json:"seller"`
	Kind   string `json:"kind"`
	At     string `json:"at"`
	// PolicyExpiresAt (RFC 3339), optional: when the policy expires, for
	// purposes with a renewal window.
	PolicyExpiresAt string `json:"policy_expires_at"`
}

func (s *Server) putRelationship(c *fiber.Ctx) error {
	var req relationshipRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	// The date decides how long the relationship exempts a number: it is
	// required rather than defaulted to now.
	if req.At == "" {
		return filter.Errorf(filter.EInvalid, "missing_at", "at is required: when the purchase or inquiry happened (RFC 3339)")
	}
	at, err := parseTime("at", req.At)
	if err != nil {
		return err
	}
	policy, err := parseTime("policy_expires_at", req.PolicyExpiresAt)
	if err != nil {
		return err
	}
	err = s.svc.PutRelationship(c.UserContext(), service.RelationshipInput{
		Number: req.Number, Region: req.Region, Seller: req.Seller, Kind: req.Kind, At: at, PolicyExpiresAt: policy,
	})
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(recorded)
}

type optOutRequest struct {
	Number  string `json:"number"`
	Region  string `json:"region"`
	Seller  string `json:"seller"`
	Channel string `json:"channel"`
	Source  string `json:"source"`
	At      string `json:"at"`
}

type optOutResponse struct {
	Listed  bool `json:"listed"`
	Revoked int  `json:"revoked"`
}

func (s *Server) optOut(c *fiber.Ctx) error {
	var req optOutRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	at, err := parseTime("at", req.At)
	if err != nil {
		return err
	}
	res, err := s.svc.OptOut(c.UserContext(), service.OptOutInput{
		Number: req.Number, Region: req.Region, Seller: req.Seller,
		Channel: req.Channel, Source: req.Source, At: at,
	})
	if err != nil {
		return err
	}
	return c.JSON(optOutResponse{Listed: res.Listed, Revoked: res.Revoked})
}

type keyRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

type keyJSON struct {
	Name      string `json:"name"`
	Role      string `json:"role"`
	Key       string `json:"key,omitempty"` // the secret, in the creation response only
	CreatedAt string `json:"created_at"`
}

type keysResponse struct {
	Keys []keyJSON `json:"keys"`
}

func (s *Server) createKey(c *fiber.Ctx) error {
	var req keyRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	secret, k, err := s.svc.CreateKey(c.UserContext(), req.Name, req.Role)
	if err != nil {
		return err
	}
	// The secret is shown this once: no cache may keep it.
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(http.StatusCreated).JSON(keyJSON{Name: k.Name, Role: string(k.Role), Key: secret, CreatedAt: formatTime(k.CreatedAt)})
}

func (s *Server) keys(c *fiber.Ctx) error {
	keys, err := s.svc.Keys(c.UserContext())
	if err != nil {
		return err
	}
	out := keysResponse{Keys: make([]keyJSON, len(keys))}
	for i, k := range keys {
		out.Keys[i] = keyJSON{Name: k.Name, Role: string(k.Role), CreatedAt: formatTime(k.CreatedAt)}
	}
	return c.JSON(out)
}

func (s *Server) deleteKey(c *fiber.Ctx) error {
	name := utils.CopyString(c.Params("name"))
	if err := s.svc.DeleteKey(c.UserContext(), name); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}
