package embedded

import (
	"context"
	"crypto/sha256"
	"path/filepath"
	"testing"
	"time"

	"callfilter/filter"
)

func TestSubjectIndexNeverMisses(t *testing.T) {
	x := newSubjectIndex(16)
	var absent int
	for i := 0; i < 5000; i++ {
		s := filter.Subject(sha256.Sum256([]byte{byte(i), byte(i >> 8), 1}))
		x.add(s)
		if !x.mayHave(s) {
			t.Fatalf("subject %d added but not found", i)
		}
		if !x.mayHave(filter.Subject(sha256.Sum256([]byte{byte(i), byte(i >> 8), 2}))) {
			absent++
		}
	}
	if absent < 4000 {
		t.Errorf("only %d of 5000 unseen subjects screened absent: the index answers maybe too often", absent)
	}
}

func TestSuccessor(t *testing.T) {
	var s filter.Subject
	s[31] = 0xff
	s[30] = 0x01
	got, ok := successor(s)
	if !ok || got[30] != 0x02 || got[31] != 0 {
		t.Fatalf("successor: got %x %v", got, ok)
	}
	var max filter.Subject
	for i := range max {
		max[i] = 0xff
	}
	if _, ok := successor(max); ok {
		t.Fatal("successor of the largest subject exists")
	}
}

// TestSubjectIndexRebuiltOnOpen: a record written before a restart is found
// after it (Facts does not take the no-record shortcut for it).
func TestSubjectIndexRebuiltOnOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	st, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	subjects := make([]filter.Subject, 50)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range subjects {
		subjects[i] = filter.Subject(sha256.Sum256([]byte{byte(i), 7}))
		var err error
		switch i % 3 {
		case 0:
			err = st.PutConsent(ctx, filter.Consent{Subject: subjects[i], Seller: "acme", Purpose: "insurance", Channel: filter.ChannelSMS, GrantedAt: at, Source: "t"})
		case 1:
			err = st.PutRelationship(ctx, filter.Relationship{Subject: subjects[i], Seller: "acme", Kind: filter.RelationshipPurchase, At: at})
		case 2:
			_, err = st.Revoke(ctx, filter.Revocation{Subject: subjects[i], At: at, Source: "t"})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	st, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i, s := range subjects {
		f, err := st.Facts(ctx, filter.FactsQuery{Subject: s, Seller: "acme"})
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Consents)+len(f.Relationships)+len(f.Revocations) != 1 {
			t.Errorf("subject %d after reopen: got %+v, want its one record", i, f)
		}
	}
}
