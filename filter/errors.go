package filter

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the edges: the API maps each kind to one HTTP
// status in one place. Anything without a kind is internal.
type Kind string

// Error kinds.
const (
	EInvalid      Kind = "invalid"      // the input is malformed or breaks a rule; nothing changed
	ENotFound     Kind = "not_found"    // the thing asked for does not exist
	EConflict     Kind = "conflict"     // the thing exists already, or a precondition failed
	EUnavailable  Kind = "unavailable"  // a store or list cannot be read or written now
	EUnauthorized Kind = "unauthorized" // no valid credentials
	EForbidden    Kind = "forbidden"    // credentials lack the role
	EInternal     Kind = "internal"     // a bug or an unclassified failure
)

// Stable error codes for clients, beyond the kinds themselves.
const (
	CodeUnknownPurpose = "unknown_purpose"
	CodeUnknownChannel = "unknown_channel"
	CodeInvalidNumber  = "invalid_number"
	CodeMissingNumber  = "missing_number"
	CodeInvalidRules   = "invalid_rules"
)

// Error is an error with a kind, a stable code for clients and a message safe to
// show them. Err, if set, is the cause, for logs only.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind k with code (the kind itself when empty) and a
// formatted message.
func Errorf(k Kind, code, format string, args ...any) *Error {
	if code == "" {
		code = string(k)
	}
	return &Error{Kind: k, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error of kind k that keeps err as its cause.
func Wrap(k Kind, err error, format string, args ...any) *Error {
	return &Error{Kind: k, Code: string(k), Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorKind returns the kind of the first *Error in err's chain, EInternal if there
// is none, and "" for a nil error.
func ErrorKind(err error) Kind {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return EInternal
}

// ErrorCode returns the client code of err: the code of its first *Error, or
// "internal".
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return string(EInternal)
}

// ErrorMessage returns the client message of err: its first *Error's message, or
// a generic one, so that causes never reach clients.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
