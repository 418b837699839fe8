package redis

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"slices"

	goredis "github.com/redis/go-redis/v9"

	"callfilter/filter"
)

// PutKey stores k; EConflict if its name or its hash is in use (one atomic
// script, putKeyScript). EInvalid for an empty or too long name, an unknown
// role or a zero hash.
func (s *Store) PutKey(ctx context.Context, k filter.APIKey) error {
	const op = "store API key"
	if err := k.Validate(); err != nil {
		return err
	}
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	n, err := putKeyScript.Run(ctx, s.rdb, []string{s.k.keysByName(), s.k.keysByHash()},
		k.Name, hex.EncodeToString(k.Hash[:]), encodeAPIKey(&k)).Int()
	switch {
	case err != nil:
		return fail(ctx, op, err)
	case n == 1:
		return filter.Errorf(filter.EConflict, "", "an API key named %q exists already", k.Name)
	case n == 2:
		return filter.Errorf(filter.EConflict, "", "another API key has the same secret")
	}
	return s.replicated(ctx, op)
}

// KeyByHash returns the key whose secret hashes to h; ENotFound if none.
func (s *Store) KeyByHash(ctx context.Context, h [32]byte) (filter.APIKey, error) {
	const op = "read API key"
	if err := s.begin(ctx, op); err != nil {
		return filter.APIKey{}, err
	}
	v, err := keyByHashScript.Run(ctx, s.rdb, []string{s.k.keysByName(), s.k.keysByHash()}, hex.EncodeToString(h[:])).Text()
	if errors.Is(err, goredis.Nil) {
		return filter.APIKey{}, filter.Errorf(filter.ENotFound, "", "no API key has this secret")
	}
	if err != nil {
		return filter.APIKey{}, fail(ctx, op, err)
	}
	return decodeAPIKey(v)
}

// Keys returns every key, sorted by name.
func (s *Store) Keys(ctx context.Context) ([]filter.APIKey, error) {
	const op = "read API keys"
	if err := s.begin(ctx, op); err != nil {
		return nil, err
	}
	all, err := s.rdb.HVals(ctx, s.k.keysByName()).Result()
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	out := make([]filter.APIKey, 0, len(all))
	for _, v := range all {
		k, err := decodeAPIKey(v)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b filter.APIKey) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// DeleteKey removes the named key and frees its secret; ENotFound if none.
func (s *Store) DeleteKey(ctx context.Context, name string) error {
	const op = "delete API key"
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	n, err := deleteKeyScript.Run(ctx, s.rdb, []string{s.k.keysByName(), s.k.keysByHash()}, name).Int()
	if err != nil {
		return fail(ctx, op, err)
	}
	if n == 0 {
		return filter.Errorf(filter.ENotFound, "", "no API key is named %q", name)
	}
	return s.replicated(ctx, op)
}
