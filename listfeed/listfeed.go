// Package listfeed reads the files do-not-contact lists are published in and
// imports them into a list store: the US National Do Not Call Registry's
// full and change files, US state lists, the UK TPS and CTPS files, litigator
// lists and generic CSV.
//
// A Reader streams one file in constant memory, returning one Record (a list
// key and whether to add or remove it) per line and a *LineError for a line it
// cannot read, with the line's number; the lines after a bad one are still
// read. Import writes what a Reader returns to a list in chunks, reports
// progress, keeps a checkpoint so that an interrupted import continues where
// it stopped, and replaces a list's contents through a staging list so that a
// failed full import leaves the list as it was (see Import for exactly what is
// and is not atomic).
//
// Errors name what to fix; line errors never quote the line, since a line
// holds a phone number and logs may show at most its last four digits.
// listfeed imports filter and phone only: no Fiber, Redis or bbolt.
package listfeed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"callfilter/filter"
)

// Store is what Import needs of a list store; filter.ListStore satisfies it.
// Its methods must keep the filter.ListStore contract: adding and removing are
// idempotent, ScanList returns keys in ascending order, and ReplaceList is
// atomic.
type Store interface {
	AddToList(ctx context.Context, list string, keys []uint64) (added int, err error)
	RemoveFromList(ctx context.Context, list string, keys []uint64) (removed int, err error)
	ScanList(ctx context.Context, list string, fn func(key uint64) error) error
	// SetListSource records the date of the list's data (the file's source
	// date); ENotFound if the list does not exist.
	SetListSource(ctx context.Context, list string, sourceDate time.Time) error
	// ReplaceList makes the list the keys of its variant from (the staging
	// list) and deletes from, in one atomic step; ENotFound if from does
	// not exist.
	ReplaceList(ctx context.Context, list, from string) (filter.ListInfo, error)
	// DeleteList removes a list; ENotFound if it does not exist.
	DeleteList(ctx context.Context, list string) error
	// Lists describes every list.
	Lists(ctx context.Context) ([]filter.ListInfo, error)
}

var _ Store = filter.ListStore(nil)

// Op says what a record does to the list.
type Op uint8

// Ops.
const (
	OpAdd    Op = iota + 1 // list the number
	OpRemove               // unlist the number
)

func (o Op) String() string {
	switch o {
	case OpAdd:
		return "add"
	case OpRemove:
		return "remove"
	}
	return "none"
}

// ParseOp reads "add" or "remove" (also "a", "d", "delete", "del"; any case),
// as a command line gives it for a change file without a flag per line.
func ParseOp(s string) (Op, error) {
	if op, ok := flagOp([]byte(s)); ok {
		return op, nil
	}
	return 0, filter.Errorf(filter.EInvalid, "", "unknown change operation %q: use add or remove", s)
}

// Kind says what a file holds.
type Kind uint8

// Kinds.
const (
	// KindFull is a whole list (or, for the DNC Registry, the whole list of
	// some area codes): importing it replaces what the list held there.
	KindFull Kind = iota + 1
	// KindChanges is a set of additions and removals applied to the list as
	// it is; a file of numbers to add, like a generic CSV, is one too.
	KindChanges
)

func (k Kind) String() string {
	switch k {
	case KindFull:
		return "full"
	case KindChanges:
		return "changes"
	}
	return "unknown"
}

// Record is one number read from a file.
type Record struct {
	Key uint64 // phone.Number.Key
	Op  Op
}

// Pos is a place in a file: Line lines, Offset bytes, have been read.
type Pos struct {
	Line   int64 `json:"line"`
	Offset int64 `json:"offset"`
}

// LineError is a line a Reader could not read. The line itself is not kept:
// it may hold a phone number.
type LineError struct {
	Line int64
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Reader reads one list file. It is not safe for concurrent use.
type Reader interface {
	// Next returns the next record; io.EOF after the last. A *LineError is a
	// line it could not read: call Next again for the rest. Any other error
	// is fatal (the file cannot be read, or its layout is not the format's).
	Next() (Record, error)
	// Pos is the position after the last line Next read.
	Pos() Pos
	// Skip continues reading after p, a position an earlier reader of the
	// same file returned. It seeks when the file is an io.Seeker (then it
	// must have been at its start when the Reader was made) and reads and
	// discards otherwise.
	Skip(p Pos) error
	// Format is the format's name ("dnc", "tps"…).
	Format() string
	// Kind is KindFull or KindChanges.
	Kind() Kind
	// ScopeByAreaCode reports whether a full file stands for the NANP area
	// codes whose numbers it holds, not for the whole list: a DNC Registry
	// file per area code replaces only the numbers of those area codes.
	ScopeByAreaCode() bool
	// SourceDate is the date the file's publisher gives its contents (from
	// the Config or the file name); zero when unknown.
	SourceDate() time.Time
}

// ErrNoChangeOp is returned by a change-file reader whose file has no
// add/delete flag on its lines when the Config does not say which it holds.
var ErrNoChangeOp = errors.New("the change file has no add/delete flag on its lines: say whether it holds additions or deletions")
