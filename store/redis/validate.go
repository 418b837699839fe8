package redis

import (
	"strings"
	"time"

	"callfilter/filter"
)

// Arguments are checked before anything is sent, so that bad input changes
// nothing. The checks are those of store/embedded, plus list names without
// '{' or '}' (the hash tag of a list's keys).

// maxField is the longest string allowed in a key or field.
const maxField = 255

// maxListKey is the largest list key: E.164 numbers have at most 15 digits.
const maxListKey = 999_999_999_999_999

func invalid(format string, args ...any) error {
	return filter.Errorf(filter.EInvalid, "", format, args...)
}

func checkField(what, s string, required bool) error {
	if required && s == "" {
		return invalid("%s is required", what)
	}
	if len(s) > maxField {
		return invalid("%s is %d bytes long; at most %d are allowed", what, len(s), maxField)
	}
	return nil
}

func checkSubject(s filter.Subject) error {
	if s == (filter.Subject{}) {
		return invalid("subject is required (the keyed hash of the number)")
	}
	return nil
}

func checkLast4(s string) error {
	if len(s) > 4 {
		return invalid("last4 holds %d characters; records may hold at most the last four digits of a number", len(s))
	}
	return nil
}

func checkTime(what string, t time.Time) error {
	if t.IsZero() {
		return invalid("%s is required", what)
	}
	return nil
}

func checkList(name string) error {
	if err := checkField("list name", name, true); err != nil {
		return err
	}
	if strings.ContainsAny(name, "{}") {
		return invalid("list name %q contains '{' or '}', which Redis keys of lists cannot hold: rename the list", name)
	}
	return nil
}

func checkListKeys(keys []uint64) error {
	for i, k := range keys {
		if k == 0 || k > maxListKey {
			return invalid("list key #%d is not a number's key (the digits of an E.164 number, 1 to 15 of them)", i)
		}
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func checkConsent(c *filter.Consent) error {
	if err := firstErr(
		checkSubject(c.Subject),
		checkLast4(c.Last4),
		checkField("seller", c.Seller, true),
		checkField("purpose", c.Purpose, true),
		checkField("channel", string(c.Channel), true),
		checkTime("granted_at", c.GrantedAt),
	); err != nil {
		return err
	}
	if !c.ExpiresAt.IsZero() && c.ExpiresAt.Before(c.GrantedAt) {
		return invalid("consent expires (%v) before it is granted (%v)", c.ExpiresAt, c.GrantedAt)
	}
	return nil
}

func checkRevocation(r *filter.Revocation) error {
	return firstErr(
		checkSubject(r.Subject),
		checkLast4(r.Last4),
		checkField("seller", r.Seller, false),
		checkField("purpose", r.Purpose, false),
		checkField("channel", string(r.Channel), false),
		checkTime("revocation time", r.At),
	)
}

func checkRelationship(r *filter.Relationship) error {
	return firstErr(
		checkSubject(r.Subject),
		checkLast4(r.Last4),
		checkField("seller", r.Seller, true),
		checkField("relationship kind", string(r.Kind), true),
		checkTime("relationship time", r.At),
	)
}

func checkReserve(q *filter.ReserveQuery) error {
	if err := firstErr(
		checkSubject(q.Subject),
		checkField("seller", q.Seller, true),
		checkField("purpose", q.Purpose, true),
		checkField("channel", string(q.Channel), true),
		checkTime("attempt time", q.At),
	); err != nil {
		return err
	}
	for i, c := range q.Caps {
		if c.Max < 0 {
			return invalid("cap #%d: max (%d) must not be negative", i, c.Max)
		}
		if c.Window <= 0 {
			return invalid("cap #%d: window (%v) must be positive", i, c.Window)
		}
	}
	return nil
}

func checkFactsQuery(q *filter.FactsQuery) error {
	for _, l := range q.Lists {
		if err := checkList(l); err != nil {
			return err
		}
	}
	return firstErr(
		checkField("seller", q.Seller, false),
		checkField("purpose", q.Purpose, false),
		checkField("channel", string(q.Channel), false),
	)
}

func checkAPIKey(k *filter.APIKey) error {
	if err := checkField("key name", k.Name, true); err != nil {
		return err
	}
	if _, err := filter.ParseRole(string(k.Role)); err != nil {
		return err
	}
	if k.Hash == ([32]byte{}) {
		return invalid("key hash is required (the SHA-256 of the secret)")
	}
	return nil
}
