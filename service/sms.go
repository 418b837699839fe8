package service

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"callfilter/filter"
	"callfilter/optout"
)

// SMSOptions configure inbound text messages (POST /v1/sms/inbound).
type SMSOptions struct {
	// TwilioAuthToken verifies Twilio's X-Twilio-Signature. When it is set,
	// Twilio's form-encoded webhook is authenticated by its signature instead
	// of an API key; when it is empty, the webhook needs an API key too.
	TwilioAuthToken string
	// PublicURL is the URL Twilio posts to, as configured in Twilio: the
	// signature covers it. A URL without a path ("https://cf.example.com") has
	// the request's path and query appended.
	PublicURL string
	// Sellers maps the number a message was sent to (E.164, "+12125550100")
	// to the seller that number texts for.
	Sellers map[string]string
	// ReviewLog is the file (JSON lines, append-only) that records the messages
	// a person must review: ambiguous replies and re-opt-in requests the rules
	// do not honour automatically. Entries hold the number's HMAC subject and
	// last four digits, never the number. Empty: such messages are refused
	// with unavailable (the gateway retries) rather than dropped.
	ReviewLog string
}

// SMSInput is one inbound text message.
type SMSInput struct {
	From string
	To   string
	Body string
	// MessageSID is the gateway's id of the message (Twilio's MessageSid).
	MessageSID string
	// Seller, when set, names the seller the reply is to; otherwise it comes
	// from SMSOptions.Sellers by To. A reply whose seller is unknown revokes
	// the consents of every seller (the safe direction).
	Seller string
	// Source says where the message came from ("twilio", "api").
	Source string
	At     time.Time // zero = now
}

// SMS actions: what SMSInbound did.
const (
	SMSOptedOut  = "opted_out"           // company list + consents revoked
	SMSReoptedIn = "reopted_in"          // removed from the company list (rules allow)
	SMSReview    = "recorded_for_review" // in the review log, nothing else changed
	SMSNone      = "none"                // nothing to do
)

// SMSResult says what an inbound message did.
type SMSResult struct {
	Intent optout.Intent
	Action string
	Seller string
	// Listed and Revoked are the opt-out's (see OptOutResult).
	Listed  bool
	Revoked int
}

// SMSConfig returns the SMS options the service was built with. The API reads
// the Twilio token and public URL from it.
func (s *Service) SMSConfig() SMSOptions { return s.opts.SMS }

// SMSInbound acts on an inbound text: a stop request opts the sender out (the
// company list, and every consent of the seller revoked; idempotent), a
// start request re-opts in only where the rule set allows it (else it is
// recorded for review, as is an ambiguous text), anything else does nothing.
func (s *Service) SMSInbound(ctx context.Context, in SMSInput) (SMSResult, error) {
	n, err := s.normalizeForRecord(in.From, "")
	if err != nil {
		return SMSResult{}, err
	}
	seller := in.Seller
	if seller == "" && in.To != "" {
		if to, err := s.normalizeForRecord(in.To, ""); err == nil {
			seller = s.opts.SMS.Sellers[to.E164]
		}
	}
	source := "sms-reply"
	if in.Source != "" {
		source += ":" + in.Source
	}
	at := s.instant(in.At)
	res := SMSResult{Intent: optout.Classify(in.Body), Seller: seller, Action: SMSNone}
	switch res.Intent {
	case optout.Stop:
		o, err := s.OptOut(ctx, OptOutInput{Number: n.E164, Seller: seller, Source: source, At: at})
		if err != nil {
			return SMSResult{}, err
		}
		res.Action, res.Listed, res.Revoked = SMSOptedOut, o.Listed, o.Revoked
	case optout.Start:
		if s.rules.Load().SMSStartReoptsIn() {
			if _, err := s.lists.Remove(ctx, InternalList, []uint64{n.Key}); err != nil {
				return SMSResult{}, err
			}
			res.Action = SMSReoptedIn
		} else {
			res.Action = SMSReview
		}
	case optout.Ambiguous:
		res.Action = SMSReview
	}
	if res.Action == SMSReview || res.Action == SMSReoptedIn {
		// A re-opt-in is logged too: a person may want to see who came back.
		err := s.sms.review.append(s.opts.SMS.ReviewLog, reviewEntry{
			At: at.UTC().Format(time.RFC3339Nano), Intent: res.Intent.String(), Action: res.Action,
			Subject: subjectHex(s.subject(n)), Last4: n.Last4(), Seller: seller,
			MessageSID: in.MessageSID, Source: source, Body: maskDigits(in.Body),
		})
		if err != nil {
			return SMSResult{}, err
		}
	}
	return res, nil
}

// smsState is the service's SMS state; its zero value is ready.
type smsState struct {
	review reviewLog
}

// reviewEntry is one line of the review log.
type reviewEntry struct {
	At         string `json:"at"`
	Intent     string `json:"intent"`
	Action     string `json:"action"`
	Subject    string `json:"subject"` // hex HMAC-SHA256 of the E.164 number
	Last4      string `json:"last4"`
	Seller     string `json:"seller,omitempty"`
	MessageSID string `json:"message_sid,omitempty"`
	Source     string `json:"source"`
	Body       string `json:"body"` // digit runs longer than 4 masked
}

// reviewLog appends entries to a JSON-lines file, each synced before append
// returns: an acknowledged message is never lost. Safe for concurrent use.
type reviewLog struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

func (l *reviewLog) append(path string, e reviewEntry) error {
	if path == "" {
		return filter.Errorf(filter.EUnavailable, "", "no SMS review log is configured: the message cannot be recorded")
	}
	line, err := json.Marshal(e)
	if err != nil {
		return filter.Wrap(filter.EInternal, err, "encode review entry")
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil || l.path != path {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return filter.Wrap(filter.EUnavailable, err, "create the SMS review log's folder")
		}
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return filter.Wrap(filter.EUnavailable, err, "open the SMS review log")
		}
		if l.f != nil {
			_ = l.f.Close()
		}
		l.f, l.path = f, path
	}
	if _, err := l.f.Write(line); err != nil {
		return filter.Wrap(filter.EUnavailable, err, "write the SMS review log")
	}
	if err := l.f.Sync(); err != nil {
		return filter.Wrap(filter.EUnavailable, err, "sync the SMS review log")
	}
	return nil
}

// maxReviewBody bounds the text kept for review (ten SMS segments).
const maxReviewBody = 1600

// maskDigits masks every digit of a run of more than four digits but the last
// four, so that a number written in a message is not kept in plain text.
func maskDigits(s string) string {
	if len(s) > maxReviewBody {
		s = strings.ToValidUTF8(s[:maxReviewBody], "")
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	isDigit := func(r rune) bool { return r >= '0' && r <= '9' || r >= '０' && r <= '９' }
	rs := []rune(s)
	for i := 0; i < len(rs); {
		if !isDigit(rs[i]) {
			i++
			continue
		}
		j := i
		// A run may hold separators ("212-555-0134", "(212) 555 0134").
		digits := 0
		for k := i; k < len(rs) && (isDigit(rs[k]) || strings.ContainsRune(" -.()+", rs[k])); k++ {
			if isDigit(rs[k]) {
				digits++
				j = k + 1
			}
		}
		if digits > 4 {
			seen := 0
			for k := i; k < j; k++ {
				if isDigit(rs[k]) {
					seen++
					if seen <= digits-4 {
						rs[k] = '•'
					}
				}
			}
		}
		i = j
	}
	return string(rs)
}

func subjectHex(sub filter.Subject) string { return hex.EncodeToString(sub[:]) }
