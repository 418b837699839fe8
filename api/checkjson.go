package api

import (
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"callfilter/service"
)

// Fast paths for POST /v1/check and /v1/check/batch, the hot routes:
// encoding/json's reflection was a fifth of the CPU of a check. The decoders
// accept only the common shape of a request and report "not handled" for
// anything else, so that decodeJSON, strict and with its precise errors, stays
// the one authority on every other body: whatever the fast decoder accepts,
// decodeJSON accepts and decodes to the same struct (FuzzCheckDecodeFast).

// Field indexes of checkRequest, for the seen-set and the value spans.
const (
	fNumber = iota
	fRegion
	fChannel
	fPurpose
	fSeller
	fCampaign
	fAt
	fPostalCode
	fReserve
	nCheckFields
)

// checkField returns the index of the field named exactly key (encoding/json
// also matches other cases: those bodies go to the strict path), or -1.
func checkField(key []byte) int {
	switch string(key) {
	case "number":
		return fNumber
	case "region":
		return fRegion
	case "channel":
		return fChannel
	case "purpose":
		return fPurpose
	case "seller":
		return fSeller
	case "campaign":
		return fCampaign
	case "at":
		return fAt
	case "postal_code":
		return fPostalCode
	case "reserve":
		return fReserve
	}
	return -1
}

// decodeCheckFast decodes data into *r if data is one flat JSON object of
// checkRequest's exact field names, each at most once, with string values
// free of escapes, control bytes and invalid UTF-8, reserve true or false,
// and nothing but whitespace around it. It reports false for anything else,
// leaving *r unspecified; the caller then decodes with decodeJSON.
func decodeCheckFast(data []byte, r *checkRequest) bool {
	end, ok := scanCheckObject(data, skipSpace(data, 0), r)
	return ok && skipSpace(data, end) == len(data)
}

// maxFastBatch bounds the items the fast batch decoder holds: a body of
// millions of {} (the service refuses it only once decoded) goes the strict
// way, as before, rather than costing more memory here.
const maxFastBatch = 10000

// decodeBatchFast decodes data, a batch body of the shape {"items":[obj,
// ...]} with each obj as decodeCheckFast takes it and at most maxFastBatch
// of them, appending the items to items. It reports false for anything
// else; the caller then decodes the whole body the strict way, so errors are
// reported as they always were.
func decodeBatchFast(data []byte, items []checkRequest) ([]checkRequest, bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return items, false
	}
	key, i, ok := scanString(data, skipSpace(data, i+1))
	if !ok || string(key) != "items" {
		return items, false
	}
	if i = skipSpace(data, i); i >= len(data) || data[i] != ':' {
		return items, false
	}
	if i = skipSpace(data, i+1); i >= len(data) || data[i] != '[' {
		return items, false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		i++
	} else {
		for {
			if len(items) == maxFastBatch {
				return items, false
			}
			items = append(items, checkRequest{})
			if i, ok = scanCheckObject(data, i, &items[len(items)-1]); !ok {
				return items, false
			}
			if i = skipSpace(data, i); i >= len(data) {
				return items, false
			}
			if data[i] == ']' {
				i++
				break
			}
			if data[i] != ',' {
				return items, false
			}
			i = skipSpace(data, i+1)
		}
	}
	if i = skipSpace(data, i); i >= len(data) || data[i] != '}' {
		return items, false
	}
	return items, skipSpace(data, i+1) == len(data)
}

// scanCheckObject decodes the object starting at data[i] into *r and returns
// the index after its closing brace.
func scanCheckObject(data []byte, i int, r *checkRequest) (int, bool) {
	if i >= len(data) || data[i] != '{' {
		return 0, false
	}
	*r = checkRequest{}
	var (
		seen  uint16
		spans [nCheckFields][2]int // value bytes in data, by field
		total int                  // bytes of the values to copy
	)
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, true
	}
	for {
		key, j, ok := scanString(data, i)
		if !ok {
			return 0, false
		}
		f := checkField(key)
		if f < 0 || seen&(1<<f) != 0 {
			return 0, false // unknown, other case or duplicate: the strict path decides
		}
		seen |= 1 << f
		if i = skipSpace(data, j); i >= len(data) || data[i] != ':' {
			return 0, false
		}
		i = skipSpace(data, i+1)
		if f == fReserve {
			switch {
			case hasLiteral(data, i, "true"):
				r.Reserve, i = true, i+4
			case hasLiteral(data, i, "false"):
				i += 5
			default:
				return 0, false // null, "yes", 1…
			}
		} else {
			if i >= len(data) || data[i] != '"' {
				return 0, false
			}
			if _, j, ok = scanString(data, i); !ok {
				return 0, false
			}
			spans[f] = [2]int{i + 1, j - 1}
			total += j - 1 - (i + 1)
			i = j
		}
		if i = skipSpace(data, i); i >= len(data) {
			return 0, false
		}
		if data[i] == '}' {
			i++
			break
		}
		if data[i] != ',' {
			return 0, false
		}
		i = skipSpace(data, i+1)
	}
	// Fiber reuses data after the handler returns: copy the values, all into
	// one string (one allocation per item), except the common channels.
	if ch := data[spans[fChannel][0]:spans[fChannel][1]]; string(ch) == "call" || string(ch) == "sms" {
		total -= len(ch)
		r.Channel = internChannel(ch)
		spans[fChannel] = [2]int{}
	}
	var sb strings.Builder
	sb.Grow(total)
	for _, sp := range spans[:fReserve] {
		sb.Write(data[sp[0]:sp[1]])
	}
	all, off := sb.String(), 0
	for f, dst := range [...]*string{fNumber: &r.Number, fRegion: &r.Region, fChannel: &r.Channel, fPurpose: &r.Purpose,
		fSeller: &r.Seller, fCampaign: &r.Campaign, fAt: &r.At, fPostalCode: &r.PostalCode} {
		if n := spans[f][1] - spans[f][0]; n > 0 {
			*dst = all[off : off+n]
			off += n
		}
	}
	return i, true
}

func internChannel(ch []byte) string {
	if string(ch) == "call" {
		return "call"
	}
	return "sms"
}

// scanString returns the contents of the JSON string starting at data[i] and
// the index after its closing quote, if the string is one that encoding/json
// decodes to exactly its bytes: no escape, no control byte, valid UTF-8.
func scanString(data []byte, i int) ([]byte, int, bool) {
	if i >= len(data) || data[i] != '"' {
		return nil, 0, false
	}
	start, ascii := i+1, true
	for j := start; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			s := data[start:j]
			// encoding/json replaces invalid UTF-8 with U+FFFD.
			if !ascii && !utf8.Valid(s) {
				return nil, 0, false
			}
			return s, j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, 0, false
}

func hasLiteral(data []byte, i int, lit string) bool {
	return len(data)-i >= len(lit) && string(data[i:i+len(lit)]) == lit
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// Encoding. The encoders write what json.Marshal writes for
// newCheckResponse's value, except that <, > and & are not escaped (as
// json.Encoder.SetEscapeHTML(false) does); TestAppendCheckResult holds them to
// it byte for byte.

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledBuf keeps a large batch's buffer from staying in the pool.
const maxPooledBuf = 256 << 10

// sendJSON writes the JSON that appendTo appends as the response body, with
// the Content-Type c.JSON sets.
func sendJSON(c *fiber.Ctx, appendTo func([]byte) []byte) {
	bp := bufPool.Get().(*[]byte)
	b := appendTo((*bp)[:0])
	// SetBody copies: the buffer goes back to the pool before the response is
	// written (SetBodyRaw or c.Send would keep it).
	c.Response().SetBody(b)
	c.Response().Header.SetContentType(fiber.MIMEApplicationJSON)
	if cap(b) <= maxPooledBuf {
		*bp = b
		bufPool.Put(bp)
	}
}

// appendCheckResult appends the JSON of newCheckResponse(r).
func appendCheckResult(b []byte, r *service.CheckResult) []byte {
	d := &r.Decision
	b = append(b, `{"decision":`...)
	b = appendJSONString(b, string(d.Outcome))
	b = append(b, `,"reasons":[`...)
	for i := range d.Reasons {
		rs := &d.Reasons[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"code":`...)
		b = appendJSONString(b, string(rs.Code))
		if rs.List != "" {
			b = append(b, `,"list":`...)
			b = appendJSONString(b, rs.List)
		}
		b = append(b, `,"detail":`...)
		b = appendJSONString(b, rs.Detail)
		b = append(b, '}')
	}
	b = append(b, ']')
	if n := r.Number; n != nil {
		b = append(b, `,"number":{"e164":`...)
		b = appendJSONString(b, n.E164)
		b = append(b, `,"region":`...)
		b = appendJSONString(b, n.Region)
		b = append(b, `,"type":`...)
		b = appendJSONString(b, string(n.Type))
		b = append(b, `,"timezones":[`...)
		for i, tz := range n.TimeZones {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, tz)
		}
		b = append(b, ']')
		if n.Area != "" {
			b = append(b, `,"area":`...)
			b = appendJSONString(b, n.Area)
		}
		b = append(b, '}')
	}
	b = append(b, `,"rules_version":`...)
	b = appendJSONString(b, d.RulesVersion)
	b = append(b, `,"decision_id":`...)
	b = appendJSONString(b, d.ID)
	b = append(b, `,"local_time":`...)
	b = appendJSONTime(b, d.LocalTime)
	if !d.NextAllowedAt.IsZero() {
		b = append(b, `,"next_allowed_at":`...)
		b = appendJSONTime(b, d.NextAllowedAt.In(d.LocalTime.Location()))
	}
	return append(b, '}')
}

// appendBatchResults appends the JSON of a batchResponse of rs.
func appendBatchResults(b []byte, rs []service.CheckResult) []byte {
	b = append(b, `{"results":[`...)
	for i := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCheckResult(b, &rs[i])
	}
	return append(b, "]}"...)
}

// appendJSONTime appends formatTime(t) as a JSON string. RFC 3339 output is
// ASCII with nothing to escape.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as encoding/json writes it with HTML escaping
// off: \" \\ \b \f \n \r \t, other control bytes as \u00XX, invalid UTF-8 as
// \ufffd, U+2028 and U+2029 escaped (for JavaScript).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
