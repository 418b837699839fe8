package service

import (
	"time"

	"callfilter/filter"
	"callfilter/phone"
)

// CheckInput is one check as a client sends it: raw strings, validated here.
type CheckInput struct {
	Number   string
	Region   string // default region for numbers without a country code; "" = the service default
	Channel  string
	Purpose  string
	Seller   string
	Campaign string
	// PostalCode, optional, is the called party's US ZIP Code: its state's
	// rules and zones apply too (the most restrictive wins).
	PostalCode string
	// At is the instant to evaluate at; zero means now.
	At      time.Time
	Reserve bool
}

// CheckResult is the answer to one check. Number is nil when the input could not
// be read as a number (the decision then says invalid_number or missing_number).
type CheckResult struct {
	Decision filter.Decision
	Number   *phone.Number
}

// ListChange reports a bulk list edit: how many entries were accepted (valid
// numbers), how many changed the list (added or removed), and every rejected
// entry with its index in the request.
type ListChange struct {
	List     string
	Accepted int
	Changed  int
	Rejected []Rejected
}

// Rejected is one input entry that was refused, and why.
type Rejected struct {
	Index   int
	Code    string
	Message string
}

// ListStatus describes a list for operators.
type ListStatus struct {
	Name      string
	Count     int64
	UpdatedAt time.Time
	// SourceDate is when the list's source published the data imported last
	// (zero when unknown): list_stale counts a list's age from it.
	SourceDate time.Time
	// Loaded says the list's bloom filter is built and checks can use it.
	Loaded bool
	// InRules says some purpose of the current rule set applies the list.
	InRules bool
}

// ConsentInput records a consent grant.
type ConsentInput struct {
	Number    string
	Region    string
	Seller    string
	Purpose   string
	Channel   string
	Source    string
	Evidence  string
	GrantedAt time.Time // zero = now
	ExpiresAt time.Time // zero = never
}

// RevokeInput revokes consents: empty Seller, Purpose or Channel revoke all.
type RevokeInput struct {
	Number  string
	Region  string
	Seller  string
	Purpose string
	Channel string
	Source  string
	At      time.Time // zero = now
}

// RelationshipInput records a purchase or an inquiry.
type RelationshipInput struct {
	Number string
	Region string
	Seller string
	Kind   string
	At     time.Time // zero = now
	// PolicyExpiresAt, optional, is when the insurance policy expires (for
	// purposes with a renewal window).
	PolicyExpiresAt time.Time
}

// OptOutInput is a do-not-contact request from the person called.
type OptOutInput struct {
	Number  string
	Region  string
	Seller  string
	Channel string
	Source  string
	At      time.Time // zero = now
}

// OptOutResult says what an opt-out did.
type OptOutResult struct {
	// Listed is true when the number was not on the company list before.
	Listed bool
	// Revoked is how many recorded consents the revocation matched.
	Revoked int
}
