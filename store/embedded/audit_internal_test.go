package embedded

import (
	"testing"

	bolt "go.etcd.io/bbolt"

	"callfilter/filter"
	"callfilter/store"
)

func TestAuditConformance(t *testing.T) {
	store.RunAudit(t, func(t *testing.T) filter.Store { return MustOpenTemp(t) }, store.Tamper{
		Edit: func(t *testing.T, st filter.Store, seq uint64, edit func([]byte) []byte) {
			t.Helper()
			err := st.(*Store).db.Update(func(tx *bolt.Tx) error {
				b := tx.Bucket(bucketAudit)
				return b.Put(seqKey(seq), edit(append([]byte(nil), b.Get(seqKey(seq))...)))
			})
			if err != nil {
				t.Fatal(err)
			}
		},
		Delete: func(t *testing.T, st filter.Store, seq uint64) {
			t.Helper()
			err := st.(*Store).db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketAudit).Delete(seqKey(seq)) })
			if err != nil {
				t.Fatal(err)
			}
		},
	})
}
