package embedded_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"callfilter/filter"
	"callfilter/store/embedded"
)

// killChildEnv, when set, makes TestKill9Child the writer process of
// TestKill9Durability; it holds the store path.
const killChildEnv = "CALLFILTER_EMBEDDED_KILL_CHILD"

const (
	killWriters = 4
	killList    = "kill"
)

var killAt = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

// killRecord is one write of the child: kind is consent, list, reserve,
// revoke or relationship; w and i identify it.
type killRecord struct {
	kind string
	w, i int
}

func (r killRecord) subject() filter.Subject { return subject(1_000_000*r.w + r.i) }
func (r killRecord) key() uint64             { return uint64(10_000_000_000 + 1_000_000*r.w + r.i) }

func killKind(i int) string {
	return [...]string{"consent", "list", "reserve", "revoke", "relationship"}[i%5]
}

// write performs r against s.
func (r killRecord) write(ctx context.Context, s *embedded.Store) error {
	switch r.kind {
	case "consent":
		return s.PutConsent(ctx, filter.Consent{Subject: r.subject(), Seller: "acme", Purpose: "insurance", Channel: filter.ChannelCall, GrantedAt: killAt})
	case "list":
		_, err := s.AddToList(ctx, killList, []uint64{r.key()})
		return err
	case "reserve":
		ok, err := s.Reserve(ctx, filter.ReserveQuery{Subject: r.subject(), Seller: "acme", Purpose: "insurance", Channel: filter.ChannelCall, At: killAt,
			Caps: []filter.Cap{{Max: 3, Window: time.Hour}}})
		if err == nil && !ok {
			err = fmt.Errorf("reservation %v denied", r)
		}
		return err
	case "revoke":
		_, err := s.Revoke(ctx, filter.Revocation{Subject: r.subject(), At: killAt, Source: "sms STOP"})
		return err
	case "relationship":
		return s.PutRelationship(ctx, filter.Relationship{Subject: r.subject(), Seller: "acme", Kind: filter.RelationshipPurchase, At: killAt})
	}
	return fmt.Errorf("unknown kind %q", r.kind)
}

// check reports whether r is in s.
func (r killRecord) check(ctx context.Context, s *embedded.Store) error {
	f, err := s.Facts(ctx, filter.FactsQuery{
		Key: r.key(), Lists: []string{killList}, Subject: r.subject(), Seller: "acme",
		Purpose: "insurance", Channel: filter.ChannelCall, AttemptsSince: killAt.Add(-time.Hour),
	})
	if err != nil {
		return err
	}
	var found bool
	switch r.kind {
	case "consent":
		found = len(f.Consents) == 1
	case "list":
		found = f.ListState(killList) == filter.ListPresent
	case "reserve":
		found = len(f.Attempts) == 1
	case "revoke":
		found = len(f.Revocations) == 1
	case "relationship":
		found = len(f.Relationships) == 1
	}
	if !found {
		return fmt.Errorf("acknowledged %s %d/%d is lost", r.kind, r.w, r.i)
	}
	return nil
}

// TestKill9Child is the writer process of TestKill9Durability: it writes
// records from several goroutines until it is killed, printing "acked KIND W
// I" after each write returns.
func TestKill9Child(t *testing.T) {
	path := os.Getenv(killChildEnv)
	if path == "" {
		t.Skip("the writer process of TestKill9Durability")
	}
	s, err := embedded.Open(path, embedded.Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "open: %v\n", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // if the parent dies
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range killWriters {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				r := killRecord{kind: killKind(i), w: w, i: i}
				if err := r.write(ctx, s); err != nil {
					fmt.Fprintf(os.Stderr, "write %v: %v\n", r, err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "acked %s %d %d\n", r.kind, r.w, r.i) // one write(2) per line
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	os.Exit(4) // not killed in time
}

// TestKill9Durability runs a writer process, SIGKILLs it mid-stream, reopens
// the file and checks that every acknowledged write is there.
func TestKill9Durability(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "callfilter.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Child$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	kill := func() {
		if !killed {
			killed = true
			_ = cmd.Process.Kill() // SIGKILL
		}
	}
	defer kill()
	const killAfter = 600
	deadline := time.AfterFunc(30*time.Second, kill)
	defer deadline.Stop()

	var acked []killRecord
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var r killRecord
		if _, err := fmt.Sscanf(sc.Text(), "acked %s %d %d", &r.kind, &r.w, &r.i); err != nil {
			continue // a line the test framework printed
		}
		acked = append(acked, r)
		if len(acked) == killAfter {
			kill() // lines already in the pipe are still read: they were acked too
		}
	}
	err = cmd.Wait()
	if !killed || err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("writer process: %v (killed by the test: %v)\nstderr:\n%s", err, killed, stderr.String())
	}
	if len(acked) < killAfter {
		t.Fatalf("writer acknowledged only %d writes before the deadline\nstderr:\n%s", len(acked), stderr.String())
	}

	s := mustOpen(t, path, embedded.Options{})
	kinds := map[string]int{}
	for _, r := range acked {
		if err := r.check(t.Context(), s); err != nil {
			t.Error(err)
		}
		kinds[r.kind]++
	}
	t.Logf("killed the writer after %d acknowledged writes %v; all present after reopen", len(acked), kinds)
	infos, err := s.Lists(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var count int64
	for _, li := range infos {
		if li.Name == killList {
			count = li.Count
		}
	}
	n := 0
	if err := s.ScanList(t.Context(), killList, func(uint64) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if int64(n) != count {
		t.Fatalf("after the crash the list holds %d keys but its count says %d", n, count)
	}
}
