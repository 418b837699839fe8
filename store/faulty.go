package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"callfilter/filter"
)

// ErrInjected is the cause of the failures Faulty injects when it is given no
// error of its own: errors.Is(err, ErrInjected) tells them from real ones.
var ErrInjected = errors.New("injected failure")

// The method names FailOn and Calls accept.
const (
	MethodAddToList       = "AddToList"
	MethodRemoveFromList  = "RemoveFromList"
	MethodScanList        = "ScanList"
	MethodLists           = "Lists"
	MethodFacts           = "Facts"
	MethodReserve         = "Reserve"
	MethodPutConsent      = "PutConsent"
	MethodRevoke          = "Revoke"
	MethodPutRelationship = "PutRelationship"
	MethodPutKey          = "PutKey"
	MethodKeyByHash       = "KeyByHash"
	MethodKeys            = "Keys"
	MethodDeleteKey       = "DeleteKey"
	MethodClose           = "Close"
	MethodAddToListUntil  = "AddToListUntil"
	MethodPutDisconnects  = "PutDisconnects"
	MethodRecordOutcome   = "RecordOutcome"
	MethodSetListSource   = "SetListSource"
	MethodReplaceList     = "ReplaceList"
	MethodDeleteList      = "DeleteList"
	MethodSweepList       = "SweepList"
	MethodPruneAttempts   = "PruneAttempts"
)

var methods = []string{
	MethodAddToList, MethodRemoveFromList, MethodScanList, MethodLists, MethodFacts,
	MethodReserve, MethodPutConsent, MethodRevoke, MethodPutRelationship,
	MethodPutKey, MethodKeyByHash, MethodKeys, MethodDeleteKey, MethodClose,
	MethodAddToListUntil, MethodPutDisconnects, MethodRecordOutcome, MethodSetListSource,
	MethodReplaceList, MethodDeleteList, MethodSweepList, MethodPruneAttempts,
}

var _ filter.Store = (*Faulty)(nil)

// Faulty is a filter.Store that passes calls to another store until told to
// fail them: every method, or one by name, or ScanList part way through; or to
// be slow. It is for tests that prove a caller fails closed (a check with a
// failing store must deny with reason unavailable). It is safe for concurrent
// use, and its settings may change while calls run.
//
// A failed call does not reach the wrapped store, so it changes nothing. Its
// error is the one given, when that already has a kind (a *filter.Error), and
// otherwise an EUnavailable *filter.Error wrapping the given error, or
// ErrInjected when none was given.
//
// Close always closes the wrapped store; only FailOn(MethodClose, …) makes it
// report an error, so that test cleanups work after FailAll.
type Faulty struct {
	inner filter.Store

	mu        sync.Mutex
	failAll   bool // every method but Close fails with all
	all       error
	on        map[string]error
	delay     time.Duration
	scanAfter int // ScanList fails after this many keys; <0 when off
	scanErr   error
	calls     map[string]int
}

// NewFaulty returns a healthy Faulty wrapping s.
func NewFaulty(s filter.Store) *Faulty {
	return &Faulty{inner: s, on: map[string]error{}, calls: map[string]int{}, scanAfter: -1}
}

// Inner returns the wrapped store.
func (f *Faulty) Inner() filter.Store { return f.inner }

// FailAll makes every method but Close fail with err (see Faulty for the
// error returned; nil means ErrInjected).
func (f *Faulty) FailAll(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failAll, f.all = true, err
}

// FailOn makes the named method (one of the Method constants) fail with err
// (nil means ErrInjected). It panics for an unknown name: a typo must not make
// a fail-closed test pass by testing nothing.
func (f *Faulty) FailOn(method string, err error) {
	checkMethod(method)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.on[method] = err
}

// FailScanAfter makes ScanList call its fn with at most n keys and then fail
// with err (nil means ErrInjected), as a store that dies during a scan would.
func (f *Faulty) FailScanAfter(n int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scanAfter, f.scanErr = max(n, 0), err
}

// Delay makes every method but Close wait d before it proceeds (to fail or to
// reach the wrapped store). A context that ends first ends the wait, and the
// call fails with an EUnavailable error wrapping ctx.Err(). Zero removes the
// delay.
func (f *Faulty) Delay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = d
}

// Heal removes every failure and delay. Call counts are kept.
func (f *Faulty) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failAll, f.all = false, nil
	clear(f.on)
	f.delay = 0
	f.scanAfter, f.scanErr = -1, nil
}

// Calls returns how many times the named method was called, failed calls
// included. It panics for an unknown name.
func (f *Faulty) Calls(method string) int {
	checkMethod(method)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

func checkMethod(m string) {
	if !slices.Contains(methods, m) {
		panic(fmt.Sprintf("store.Faulty: unknown method %q", m))
	}
}

// injected converts a configured failure into the error a call returns.
func injected(method string, err error) error {
	if err == nil {
		return filter.Wrap(filter.EUnavailable, ErrInjected, "store: %s", method)
	}
	if _, ok := errors.AsType[*filter.Error](err); ok {
		return err
	}
	return filter.Wrap(filter.EUnavailable, err, "store: %s", method)
}

// enter counts a call, waits out the delay and returns the failure to report,
// if any.
func (f *Faulty) enter(ctx context.Context, method string) error {
	f.mu.Lock()
	f.calls[method]++
	delay := f.delay
	f.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return filter.Wrap(filter.EUnavailable, ctx.Err(), "store: %s", method)
		case <-t.C:
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err, ok := f.on[method]; ok {
		return injected(method, err)
	}
	if f.failAll {
		return injected(method, f.all)
	}
	return nil
}

// AddToList implements filter.ListStore.
func (f *Faulty) AddToList(ctx context.Context, list string, keys []uint64) (int, error) {
	if err := f.enter(ctx, MethodAddToList); err != nil {
		return 0, err
	}
	return f.inner.AddToList(ctx, list, keys)
}

// AddToListUntil implements filter.ExpiringListStore.
func (f *Faulty) AddToListUntil(ctx context.Context, list string, keys []uint64, expiresAt time.Time) (int, error) {
	if err := f.enter(ctx, MethodAddToListUntil); err != nil {
		return 0, err
	}
	return f.inner.AddToListUntil(ctx, list, keys, expiresAt)
}

// PruneAttempts implements filter.Store.
func (f *Faulty) PruneAttempts(ctx context.Context, before time.Time) (int, error) {
	if err := f.enter(ctx, MethodPruneAttempts); err != nil {
		return 0, err
	}
	return f.inner.PruneAttempts(ctx, before)
}

// SweepList implements filter.ExpiringListStore.
func (f *Faulty) SweepList(ctx context.Context, list string, before time.Time) (int, error) {
	if err := f.enter(ctx, MethodSweepList); err != nil {
		return 0, err
	}
	return f.inner.SweepList(ctx, list, before)
}

// PutDisconnects implements filter.ReassignedStore.
func (f *Faulty) PutDisconnects(ctx context.Context, ds []filter.Disconnect) error {
	if err := f.enter(ctx, MethodPutDisconnects); err != nil {
		return err
	}
	return f.inner.PutDisconnects(ctx, ds)
}

// RecordOutcome implements filter.OutcomeStore.
func (f *Faulty) RecordOutcome(ctx context.Context, o filter.CallOutcome) error {
	if err := f.enter(ctx, MethodRecordOutcome); err != nil {
		return err
	}
	return f.inner.RecordOutcome(ctx, o)
}

// RemoveFromList implements filter.ListStore.
func (f *Faulty) RemoveFromList(ctx context.Context, list string, keys []uint64) (int, error) {
	if err := f.enter(ctx, MethodRemoveFromList); err != nil {
		return 0, err
	}
	return f.inner.RemoveFromList(ctx, list, keys)
}

// ScanList implements filter.ListStore.
func (f *Faulty) ScanList(ctx context.Context, list string, fn func(key uint64) error) error {
	if err := f.enter(ctx, MethodScanList); err != nil {
		return err
	}
	f.mu.Lock()
	after, scanErr := f.scanAfter, f.scanErr
	f.mu.Unlock()
	if after < 0 {
		return f.inner.ScanList(ctx, list, fn)
	}
	errStop := errors.New("stop")
	seen := 0
	err := f.inner.ScanList(ctx, list, func(k uint64) error {
		if seen == after {
			return errStop
		}
		seen++
		return fn(k)
	})
	if errors.Is(err, errStop) {
		return injected(MethodScanList, scanErr)
	}
	if err != nil {
		return err
	}
	// The list had no more than n keys: fail anyway, as configured.
	return injected(MethodScanList, scanErr)
}

// Lists implements filter.ListStore.
func (f *Faulty) Lists(ctx context.Context) ([]filter.ListInfo, error) {
	if err := f.enter(ctx, MethodLists); err != nil {
		return nil, err
	}
	return f.inner.Lists(ctx)
}

// SetListSource implements filter.ListStore.
func (f *Faulty) SetListSource(ctx context.Context, list string, sourceDate time.Time) error {
	if err := f.enter(ctx, MethodSetListSource); err != nil {
		return err
	}
	return f.inner.SetListSource(ctx, list, sourceDate)
}

// ReplaceList implements filter.ListStore.
func (f *Faulty) ReplaceList(ctx context.Context, list, from string) (filter.ListInfo, error) {
	if err := f.enter(ctx, MethodReplaceList); err != nil {
		return filter.ListInfo{}, err
	}
	return f.inner.ReplaceList(ctx, list, from)
}

// DeleteList implements filter.ListStore.
func (f *Faulty) DeleteList(ctx context.Context, list string) error {
	if err := f.enter(ctx, MethodDeleteList); err != nil {
		return err
	}
	return f.inner.DeleteList(ctx, list)
}

// Facts implements filter.FactStore.
func (f *Faulty) Facts(ctx context.Context, q filter.FactsQuery) (filter.Facts, error) {
	if err := f.enter(ctx, MethodFacts); err != nil {
		return filter.Facts{}, err
	}
	return f.inner.Facts(ctx, q)
}

// FactsMany implements filter.FactStore; it fails as Facts does
// (MethodFacts).
func (f *Faulty) FactsMany(ctx context.Context, qs []filter.FactsQuery) ([]filter.Facts, error) {
	if err := f.enter(ctx, MethodFacts); err != nil {
		return nil, err
	}
	return f.inner.FactsMany(ctx, qs)
}

// Reserve implements filter.FactStore.
func (f *Faulty) Reserve(ctx context.Context, q filter.ReserveQuery) (bool, error) {
	if err := f.enter(ctx, MethodReserve); err != nil {
		return false, err
	}
	return f.inner.Reserve(ctx, q)
}

// PutConsent implements filter.FactStore.
func (f *Faulty) PutConsent(ctx context.Context, c filter.Consent) error {
	if err := f.enter(ctx, MethodPutConsent); err != nil {
		return err
	}
	return f.inner.PutConsent(ctx, c)
}

// Revoke implements filter.FactStore.
func (f *Faulty) Revoke(ctx context.Context, r filter.Revocation) (int, error) {
	if err := f.enter(ctx, MethodRevoke); err != nil {
		return 0, err
	}
	return f.inner.Revoke(ctx, r)
}

// PutRelationship implements filter.FactStore.
func (f *Faulty) PutRelationship(ctx context.Context, r filter.Relationship) error {
	if err := f.enter(ctx, MethodPutRelationship); err != nil {
		return err
	}
	return f.inner.PutRelationship(ctx, r)
}

// PutKey implements filter.KeyStore.
func (f *Faulty) PutKey(ctx context.Context, k filter.APIKey) error {
	if err := f.enter(ctx, MethodPutKey); err != nil {
		return err
	}
	return f.inner.PutKey(ctx, k)
}

// KeyByHash implements filter.KeyStore.
func (f *Faulty) KeyByHash(ctx context.Context, h [32]byte) (filter.APIKey, error) {
	if err := f.enter(ctx, MethodKeyByHash); err != nil {
		return filter.APIKey{}, err
	}
	return f.inner.KeyByHash(ctx, h)
}

// Keys implements filter.KeyStore.
func (f *Faulty) Keys(ctx context.Context) ([]filter.APIKey, error) {
	if err := f.enter(ctx, MethodKeys); err != nil {
		return nil, err
	}
	return f.inner.Keys(ctx)
}

// DeleteKey implements filter.KeyStore.
func (f *Faulty) DeleteKey(ctx context.Context, name string) error {
	if err := f.enter(ctx, MethodDeleteKey); err != nil {
		return err
	}
	return f.inner.DeleteKey(ctx, name)
}

// Close closes the wrapped store, and reports the failure set with
// FailOn(MethodClose, …) if any, else the wrapped store's result.
func (f *Faulty) Close() error {
	f.mu.Lock()
	f.calls[MethodClose]++
	err, fail := f.on[MethodClose]
	f.mu.Unlock()
	cerr := f.inner.Close()
	if fail {
		return injected(MethodClose, err)
	}
	return cerr
}
