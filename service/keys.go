package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"regexp"
	"strings"
	"sync"
	"time"

	"callfilter/filter"
)

// keyPrefix marks callfilter secrets so that secret scanners and people can
// recognise one.
const keyPrefix = "cf_"

var keyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$`)

// NewSecret returns a fresh API key secret: 32 random bytes, base64url.
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return keyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// HashSecret returns what the store keeps of a secret. Secrets are random and
// long, so a plain SHA-256 is enough; a slow hash would only slow every request.
func HashSecret(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

// keyCacheTTL bounds how long a deleted key keeps working on an instance that
// had it cached; it saves a store read per request.
const keyCacheTTL = 5 * time.Second

type cachedKey struct {
	key     filter.APIKey
	expires time.Time
}

type keyCache struct {
	mu sync.RWMutex
	m  map[[32]byte]cachedKey
}

// Authenticate returns the key whose secret is given: EUnauthorized when none.
func (s *Service) Authenticate(ctx context.Context, secret string) (filter.APIKey, error) {
	if secret == "" {
		return filter.APIKey{}, filter.Errorf(filter.EUnauthorized, "", "an API key is required: Authorization: Bearer <key>")
	}
	h := HashSecret(secret)
	now := time.Now()
	s.keys.mu.RLock()
	c, ok := s.keys.m[h]
	s.keys.mu.RUnlock()
	if ok && now.Before(c.expires) && subtle.ConstantTimeCompare(c.key.Hash[:], h[:]) == 1 {
		return c.key, nil
	}
	k, err := s.store.KeyByHash(ctx, h)
	if err != nil {
		if filter.ErrorKind(err) == filter.ENotFound {
			return filter.APIKey{}, filter.Errorf(filter.EUnauthorized, "", "the API key is not valid")
		}
		return filter.APIKey{}, err
	}
	s.keys.mu.Lock()
	if s.keys.m == nil || len(s.keys.m) > 10000 {
		s.keys.m = map[[32]byte]cachedKey{}
	}
	s.keys.m[h] = cachedKey{key: k, expires: now.Add(keyCacheTTL)}
	s.keys.mu.Unlock()
	return k, nil
}

// CreateKey makes a key with a fresh secret, which is returned once and never
// stored.
func (s *Service) CreateKey(ctx context.Context, name, role string) (string, filter.APIKey, error) {
	if !keyName.MatchString(name) {
		return "", filter.APIKey{}, filter.Errorf(filter.EInvalid, "invalid_name", "key name %q: use 1-64 letters, digits, '_', '.', '@' or '-'", name)
	}
	r, err := filter.ParseRole(role)
	if err != nil {
		return "", filter.APIKey{}, err
	}
	secret := NewSecret()
	k := filter.APIKey{Name: name, Role: r, Hash: HashSecret(secret), CreatedAt: s.opts.Now().UTC()}
	if err := s.store.PutKey(ctx, k); err != nil {
		return "", filter.APIKey{}, err
	}
	return secret, k, s.changed(ctx, nil, change{Action: "key.create", Target: name, Detail: "role " + string(r)})
}

// Keys lists the keys (names, roles, creation times; never secrets).
func (s *Service) Keys(ctx context.Context) ([]filter.APIKey, error) { return s.store.Keys(ctx) }

// DeleteKey removes the named key. Instances that cached it accept it for at
// most keyCacheTTL more.
func (s *Service) DeleteKey(ctx context.Context, name string) error {
	if err := s.store.DeleteKey(ctx, name); err != nil {
		return err
	}
	s.keys.mu.Lock()
	for h, c := range s.keys.m {
		if c.key.Name == name {
			delete(s.keys.m, h)
		}
	}
	s.keys.mu.Unlock()
	return s.changed(ctx, nil, change{Action: "key.delete", Target: name})
}

// EnsureKey makes sure a key named name with role holds secret: the key given
// through the environment for scripts and tests. A key of that name with
// another secret is replaced.
func (s *Service) EnsureKey(ctx context.Context, name string, role filter.Role, secret string) error {
	if len(strings.TrimSpace(secret)) < 16 {
		return filter.Errorf(filter.EInvalid, "weak_key", "the key given for %q must have at least 16 characters", name)
	}
	h := HashSecret(secret)
	if k, err := s.store.KeyByHash(ctx, h); err == nil && k.Name == name && k.Role == role {
		return nil
	}
	if err := s.store.DeleteKey(ctx, name); err != nil && filter.ErrorKind(err) != filter.ENotFound {
		return err
	}
	return s.store.PutKey(ctx, filter.APIKey{Name: name, Role: role, Hash: h, CreatedAt: s.opts.Now().UTC()})
}

// Bootstrap creates an admin key when the store holds none and returns its
// secret, to be shown once; it returns "" when keys exist.
func (s *Service) Bootstrap(ctx context.Context) (string, error) {
	keys, err := s.store.Keys(ctx)
	if err != nil || len(keys) > 0 {
		return "", err
	}
	secret, _, err := s.CreateKey(ctx, "admin", string(filter.RoleAdmin))
	return secret, err
}
