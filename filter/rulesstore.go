package filter

import (
	"context"
	"time"
)

// RulesRevision is one stored edit of the rule set. Revisions count from 1;
// the latest is the rule set in force on every instance.
type RulesRevision struct {
	Revision int64
	// Version is the document's own version (RuleSet.Version); a rollback
	// makes a new revision with the version it restores.
	Version string
	// Author is the name of the API key that made the edit ("system" for
	// the import of the rules file).
	Author string
	At     time.Time
	// Summary says what the edit did, for people; Diff is a line diff of the
	// document against the previous revision.
	Summary string
	Diff    string
	Source  []byte
}

// RulesStore keeps every revision of the rule set. All methods are safe for
// concurrent use; errors are *Error values, EUnavailable when the store cannot
// be read or written.
type RulesStore interface {
	// CurrentRules returns the latest revision; ENotFound when there is none.
	CurrentRules(ctx context.Context) (RulesRevision, error)
	// PutRules stores r as revision expect+1 if the latest revision is expect
	// (0: there is none yet) and returns it with Revision and At set (At is
	// kept when set). EConflict with code stale_version when another edit
	// came first: nothing is stored.
	PutRules(ctx context.Context, r RulesRevision, expect int64) (RulesRevision, error)
	// RulesHistory returns up to limit revisions, newest first, without
	// their Source.
	RulesHistory(ctx context.Context, limit int) ([]RulesRevision, error)
	// RulesByVersion returns the latest revision whose Version is v;
	// ENotFound when none.
	RulesByVersion(ctx context.Context, v string) (RulesRevision, error)
}

// CodeStaleVersion is the code of an edit based on a version that is not
// current any more.
const CodeStaleVersion = "stale_version"
