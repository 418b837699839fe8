package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"callfilter/filter"
	"callfilter/service"
)

// Error codes of request decoding.
const (
	codeInvalidJSON  = "invalid_json"
	codeUnknownField = "unknown_field"
	codeInvalidTime  = "invalid_time"
)

var errUnsupportedMediaType = &httpError{
	status:  http.StatusUnsupportedMediaType,
	code:    "unsupported_media_type",
	message: "the body must be JSON: send Content-Type: application/json",
}

// decodeBody decodes the request's JSON body into dst, a pointer to a fresh
// struct, strictly (see decodeJSON). encoding/json copies the strings it
// decodes, so dst keeps nothing of Fiber's buffer.
func decodeBody(c *fiber.Ctx, dst any) error {
	if !isJSON(c.Get(fiber.HeaderContentType)) {
		return errUnsupportedMediaType
	}
	body, err := requestBody(c)
	if err != nil {
		return err
	}
	return decodeJSON(body, dst)
}

// decodeCheckBody decodes the body of POST /v1/check into dst: by the fast
// path when the body has the common shape (decodeCheckFast), else strictly
// (decodeJSON), with the same result either way.
func decodeCheckBody(c *fiber.Ctx, dst *checkRequest) error {
	if !isJSON(c.Get(fiber.HeaderContentType)) {
		return errUnsupportedMediaType
	}
	body, err := requestBody(c)
	if err != nil {
		return err
	}
	if decodeCheckFast(body, dst) {
		return nil
	}
	// Into a fresh value: the fast path may have set fields, which decodeJSON
	// would keep when absent. Not into dst, which would then escape to the heap
	// on the fast path too.
	*dst, err = decodeCheckStrict(body)
	return err
}

func decodeCheckStrict(body []byte) (checkRequest, error) {
	var r checkRequest
	err := decodeJSON(body, &r)
	return r, err
}

// batchItemsPool holds the scratch items of fast batch decoding.
var batchItemsPool = sync.Pool{New: func() any { s := make([]checkRequest, 0, 128); return &s }}

// decodeBatchBody decodes the body of POST /v1/check/batch into the inputs of
// its items: by the fast path when the body has the common shape
// (decodeBatchFast), else strictly, item by item, an error naming its item.
// The service bounds the batch's size, as it did before.
func decodeBatchBody(c *fiber.Ctx) ([]service.CheckInput, error) {
	if !isJSON(c.Get(fiber.HeaderContentType)) {
		return nil, errUnsupportedMediaType
	}
	body, err := requestBody(c)
	if err != nil {
		return nil, err
	}
	sp := batchItemsPool.Get().(*[]checkRequest)
	defer func() {
		clear(*sp) // drop the strings
		if cap(*sp) <= 4096 {
			batchItemsPool.Put(sp)
		}
	}()
	var ok bool
	if *sp, ok = decodeBatchFast(body, (*sp)[:0]); ok {
		ins := make([]service.CheckInput, len(*sp))
		var at time.Time
		for i := range *sp {
			// A dialer's batch gives its items one instant: parsed once.
			if item := &(*sp)[i]; i == 0 || item.At != (*sp)[i-1].At {
				if at, err = parseTime("at", item.At); err != nil {
					return nil, inItem(i, err)
				}
			}
			ins[i] = (*sp)[i].inputAt(at)
		}
		return ins, nil
	}
	var req batchRequest
	if err := decodeJSON(body, &req); err != nil {
		return nil, err
	}
	ins := make([]service.CheckInput, len(req.Items))
	for i, raw := range req.Items {
		var item checkRequest
		if err := decodeJSON(raw, &item); err != nil {
			return nil, inItem(i, err)
		}
		in, err := item.input()
		if err != nil {
			return nil, inItem(i, err)
		}
		ins[i] = in
	}
	return ins, nil
}

// isJSON reports whether a Content-Type is application/json (with any
// parameters, such as charset=utf-8).
func isJSON(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mt), fiber.MIMEApplicationJSON)
}

// decodeJSON decodes data, which must hold one JSON object, into dst. It is
// strict, because a typo in a compliance request must not be ignored: an
// unknown field is a 400 unknown_field naming it; malformed JSON is a 400
// invalid_json giving the byte offset; a value of the wrong type is a 400
// invalid_json naming the field.
func decodeJSON(data []byte, dst any) error {
	first := bytes.TrimLeft(data, " \t\r\n")
	switch {
	case len(first) == 0:
		return invalidf(codeInvalidJSON, "the body is empty: send a JSON object")
	case first[0] != '{':
		return invalidf(codeInvalidJSON, "expected a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(data, dst, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalidf(codeInvalidJSON, "unexpected data after the JSON object at byte %d", dec.InputOffset())
	}
	return nil
}

// jsonError turns an encoding/json error into a client error. Messages never
// quote values from the request, which may be phone numbers.
func jsonError(data []byte, dst any, err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return invalidf(codeInvalidJSON, "invalid JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return invalidf(codeInvalidJSON, "invalid JSON: the body ends at byte %d before the object does", len(data))
	case errors.As(err, &typ):
		got, _, _ := strings.Cut(typ.Value, " ") // "number 2125550134": keep the kind only
		if typ.Field == "" {
			return invalidf(codeInvalidJSON, "expected a JSON object, got %s", article(got))
		}
		return invalidf(codeInvalidJSON, "field %q: expected %s, got %s", typ.Field, describe(typ.Type), article(got))
	}
	// encoding/json reports an unknown field without a type to tell it by:
	// look for the field ourselves.
	if name, ok := unknownField(data, reflect.TypeOf(dst)); ok {
		return invalidf(codeUnknownField, "unknown field %q; the fields are: %s", masked(name), strings.Join(fieldNames(reflect.TypeOf(dst)), ", "))
	}
	return invalidf(codeInvalidJSON, "the body is not a valid request")
}

// masked returns a name from the request fit to quote in a response: at most
// 64 bytes, and with every digit but the last four masked, so that a phone
// number sent as a field name is not sent back.
func masked(name string) string {
	if len(name) > 64 {
		name = strings.ToValidUTF8(name[:64], "") + "…"
	}
	digits := 0
	for _, r := range name {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	if digits <= 4 {
		return name
	}
	b := []byte(name)
	for i := range b {
		if b[i] >= '0' && b[i] <= '9' && digits > 4 {
			b[i] = 'x'
			digits--
		}
	}
	return string(b)
}

func invalidf(code, format string, args ...any) error {
	return filter.Errorf(filter.EInvalid, code, format, args...)
}

// inItem prefixes the message of a client error with the batch item it is
// about ("items[3]: ...").
func inItem(i int, err error) error {
	var fe *filter.Error
	if !errors.As(err, &fe) {
		return err
	}
	return &filter.Error{Kind: fe.Kind, Code: fe.Code, Message: fmt.Sprintf("items[%d]: %s", i, fe.Message), Err: fe.Err}
}

// article names a JSON kind as encoding/json reports it ("number", "string",
// "bool", "array", "object") with its article.
func article(kind string) string {
	switch kind {
	case "":
		return "another type"
	case "array", "object":
		return "an " + kind
	case "bool":
		return "true or false"
	case "null":
		return kind
	}
	return "a " + kind
}

// describe says what JSON a Go type takes.
func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "of another type"
}

// unknownField returns the first member of the JSON object data (in name
// order) that the struct t points to has no field for, matching names as
// encoding/json does (case-insensitively). Only called on errors.
func unknownField(data []byte, t reflect.Type) (string, bool) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return "", false
	}
	known := fieldNames(t)
	names := make([]string, 0, len(members))
	for name := range members {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.ContainsFunc(known, func(k string) bool { return strings.EqualFold(k, name) }) {
			return name, true
		}
	}
	return "", false
}

var fieldNameCache sync.Map // reflect.Type → []string

// fieldNames returns the JSON names of the fields of the struct t points to.
func fieldNames(t reflect.Type) []string {
	if names, ok := fieldNameCache.Load(t); ok {
		return names.([]string)
	}
	st := t
	for st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	var names []string
	if st.Kind() == reflect.Struct {
		for f := range st.Fields() {
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch name {
			case "-":
				continue
			case "":
				name = f.Name
			}
			names = append(names, name)
		}
	}
	fieldNameCache.Store(t, names)
	return names
}

// Input times are bounded: before 1970 nothing was recorded, and far enough
// from year 9999 that any time derived from them (a next allowed instant) can
// still be written in RFC 3339.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// parseTime reads an optional RFC 3339 time: "" is the zero time.
func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, invalidf(codeInvalidTime, "field %q must be an RFC 3339 time, such as 2026-11-18T15:00:00Z", field)
	}
	if t.Before(minTime) || !t.Before(maxTime) {
		return time.Time{}, invalidf(codeInvalidTime, "field %q must be a time from 1970 to 8999", field)
	}
	return t, nil
}

// formatTime writes t as RFC 3339 in t's own offset (for a decision, the called
// party's), to the second.
func formatTime(t time.Time) string { return t.Format(time.RFC3339) }
