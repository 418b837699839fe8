package api

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"callfilter/filter"
	"callfilter/service"
)

// smsRoutes registers the SMS gateways' inbound-message webhook.
func (s *Server) smsRoutes(v1 fiber.Router) {
	v1.Post("/sms/inbound", s.smsAuth, s.smsInbound)
}

// isForm reports whether a Content-Type is application/x-www-form-urlencoded.
func isForm(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mt), fiber.MIMEApplicationForm)
}

// smsAuth authenticates POST /v1/sms/inbound. Twilio's form-encoded webhook
// is authenticated by its X-Twilio-Signature when a Twilio auth token is
// configured (403 on a missing or wrong signature); every other request
// (the JSON form, or Twilio's without a token) needs an API key whose role
// may record inbound messages.
func (s *Server) smsAuth(c *fiber.Ctx) error {
	cfg := s.svc.SMSConfig()
	if cfg.TwilioAuthToken == "" || !isForm(c.Get(fiber.HeaderContentType)) {
		return s.guard(permSMS)(c)
	}
	ctx, cancel := s.deadlines.with(c.UserContext(), time.Now())
	defer cancel()
	c.SetUserContext(ctx)
	body, err := requestBody(c)
	if err != nil {
		return err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return invalidf("invalid_form", "the body is not a valid form (application/x-www-form-urlencoded)")
	}
	signed := signedURL(cfg.PublicURL, string(c.Request().RequestURI()))
	if !validTwilioSignature(cfg.TwilioAuthToken, signed, form, c.Get("X-Twilio-Signature")) {
		return filter.Errorf(filter.EForbidden, "invalid_signature", "the X-Twilio-Signature does not match the request: check the Twilio auth token and sms.public_url")
	}
	info(c).key = "twilio"
	c.Locals(localSMSForm, form)
	return c.Next()
}

type smsLocal int

const localSMSForm smsLocal = 0

// signedURL is the URL Twilio signs: publicURL as configured, with the
// request's path and query when publicURL has no path of its own.
func signedURL(publicURL, requestURI string) string {
	u, err := url.Parse(publicURL)
	if err != nil || u.Path == "" || u.Path == "/" {
		return strings.TrimSuffix(publicURL, "/") + requestURI
	}
	return publicURL
}

// twilioSignature computes Twilio's request signature: HMAC-SHA1, keyed by
// the auth token, of the full URL followed by each POST parameter's name and
// value, sorted by name (and, for a repeated name, by value), base64.
func twilioSignature(token, fullURL string, form url.Values) string {
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(fullURL))
	names := make([]string, 0, len(form))
	for k := range form {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		vals := slices.Clone(form[k])
		slices.Sort(vals)
		for _, v := range vals {
			mac.Write([]byte(k))
			mac.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func validTwilioSignature(token, fullURL string, form url.Values, got string) bool {
	if got == "" {
		return false
	}
	want := twilioSignature(token, fullURL, form)
	return hmac.Equal([]byte(want), []byte(got))
}

// smsJSONRequest is the plain JSON form of an inbound message.
type smsJSONRequest struct {
	From       string `json:"from"`
	To         string `json:"to"`
	Body       string `json:"body"`
	Seller     string `json:"seller"`
	MessageSID string `json:"message_sid"`
	At         string `json:"at"`
}

// smsResponse says what was done with an inbound message.
type smsResponse struct {
	Intent  string `json:"intent"` // stop, start, ambiguous, none
	Action  string `json:"action"` // opted_out, reopted_in, recorded_for_review, none
	Seller  string `json:"seller,omitempty"`
	Listed  bool   `json:"listed"`
	Revoked int    `json:"revoked"`
}

// smsInbound acts on an inbound message: Twilio's form (From, To, Body,
// MessageSid) or the JSON form {from, to, body, seller?, message_sid?, at?}.
func (s *Server) smsInbound(c *fiber.Ctx) error {
	var in service.SMSInput
	form, _ := c.Locals(localSMSForm).(url.Values)
	switch {
	case form != nil || isForm(c.Get(fiber.HeaderContentType)):
		if form == nil {
			body, err := requestBody(c)
			if err != nil {
				return err
			}
			// url.ParseQuery copies out of Fiber's buffer.
			if form, err = url.ParseQuery(string(body)); err != nil {
				return invalidf("invalid_form", "the body is not a valid form (application/x-www-form-urlencoded)")
			}
		}
		in = service.SMSInput{From: form.Get("From"), To: form.Get("To"), Body: form.Get("Body"), MessageSID: form.Get("MessageSid"), Source: "twilio"}
	default:
		var req smsJSONRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		at, err := parseTime("at", req.At)
		if err != nil {
			return err
		}
		in = service.SMSInput{From: req.From, To: req.To, Body: req.Body, Seller: req.Seller, MessageSID: req.MessageSID, Source: "api", At: at}
	}
	if in.From == "" {
		return invalidf("missing_from", "from is required: the number the message came from")
	}
	res, err := s.svc.SMSInbound(c.UserContext(), in)
	if err != nil {
		return err
	}
	return c.Status(http.StatusOK).JSON(smsResponse{
		Intent: res.Intent.String(), Action: res.Action, Seller: res.Seller, Listed: res.Listed, Revoked: res.Revoked,
	})
}
