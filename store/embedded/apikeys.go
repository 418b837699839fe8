package embedded

import (
	"context"

	bolt "go.etcd.io/bbolt"

	"callfilter/filter"
)

// PutKey stores k. EConflict if a key with that name exists, or one with the
// same secret hash (KeyByHash could not tell them apart); EInvalid for an
// empty or over-long name, an unknown role or a zero hash.
func (s *Store) PutKey(ctx context.Context, k filter.APIKey) error {
	if err := k.Validate(); err != nil {
		return err
	}
	val := encodeAPIKey(nil, &k)
	return s.update(ctx, "store api key", func(tx *bolt.Tx) error {
		keys, hashes := tx.Bucket(bucketAPIKeys), tx.Bucket(bucketAPIKeyHash)
		if keys.Get([]byte(k.Name)) != nil {
			return filter.Errorf(filter.EConflict, "", "api key %q exists", k.Name)
		}
		if hashes.Get(k.Hash[:]) != nil {
			return filter.Errorf(filter.EConflict, "", "an api key with the same secret exists")
		}
		if err := keys.Put([]byte(k.Name), val); err != nil {
			return err
		}
		return hashes.Put(k.Hash[:], []byte(k.Name))
	})
}

// KeyByHash returns the key whose secret hashes to h; ENotFound if none.
func (s *Store) KeyByHash(ctx context.Context, h [32]byte) (filter.APIKey, error) {
	var k filter.APIKey
	err := s.view(ctx, "read api key", func(tx *bolt.Tx) error {
		name := tx.Bucket(bucketAPIKeyHash).Get(h[:])
		if name == nil {
			return filter.Errorf(filter.ENotFound, "", "no api key has that secret")
		}
		v := tx.Bucket(bucketAPIKeys).Get(name)
		var ok bool
		if k, ok = decodeAPIKey(name, v); v == nil || !ok {
			return errCorrupt("api key")
		}
		return nil
	})
	if err != nil {
		return filter.APIKey{}, err
	}
	return k, nil
}

// Keys returns every key, sorted by name.
func (s *Store) Keys(ctx context.Context) ([]filter.APIKey, error) {
	var out []filter.APIKey
	err := s.view(ctx, "read api keys", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAPIKeys).ForEach(func(name, v []byte) error {
			k, ok := decodeAPIKey(name, v)
			if !ok {
				return errCorrupt("api key")
			}
			out = append(out, k)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteKey removes the named key; ENotFound if none.
func (s *Store) DeleteKey(ctx context.Context, name string) error {
	if err := filter.ValidateField("key name", name, true); err != nil {
		return err
	}
	return s.update(ctx, "delete api key", func(tx *bolt.Tx) error {
		keys := tx.Bucket(bucketAPIKeys)
		v := keys.Get([]byte(name))
		if v == nil {
			return filter.Errorf(filter.ENotFound, "", "no api key is named %q", name)
		}
		k, ok := decodeAPIKey([]byte(name), v)
		if !ok {
			return errCorrupt("api key")
		}
		if err := tx.Bucket(bucketAPIKeyHash).Delete(k.Hash[:]); err != nil {
			return err
		}
		return keys.Delete([]byte(name))
	})
}
