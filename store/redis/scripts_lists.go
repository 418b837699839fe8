package redis

import goredis "github.com/redis/go-redis/v9"

// The scripts of expiring list entries (see keys.go: a list's expiry hashes
// and their registry share the list's hash tag, so each script's keys are in
// one slot). Run as scripts.go says its scripts are.

// luaMember says whether a bucket (see luaBuckets) holds an offset. A
// packed bucket is searched by GETRANGE, halving down to 64 records and then
// reading those, so a test copies at most ~200 bytes out of Redis's memory.
var luaMember = `
local function member(key, m)
  local n = redis.call('STRLEN', key)
  if n == ` + itoa(bitmapLen) + ` then
    return redis.call('GETBIT', key, m) == 1
  end
  local function dec3(s, i)
    local a, b, c = string.byte(s, 3 * i + 1, 3 * i + 3)
    return a * 65536 + b * 256 + c
  end
  local lo, hi = 0, n / 3
  while hi - lo > 64 do
    local mid = math.floor((lo + hi) / 2)
    if dec3(redis.call('GETRANGE', key, 3 * mid, 3 * mid + 2), 0) < m then lo = mid + 1 else hi = mid end
  end
  if lo >= n / 3 then
    return false
  end
  local s = redis.call('GETRANGE', key, 3 * lo, 3 * hi + 2)
  for i = 0, #s / 3 - 1 do
    local v = dec3(s, i)
    if v == m then return true end
    if v > m then return false end
  end
  return false
end
`

// memberUntilScript says whether a list holds a key, and until when: 0 when
// it does not, 1 when it does for good, else the entry's expiry in Unix ms
// (always above 1). Read-only; run with EVALSHA in the Facts pipeline
// (reloaded on NOSCRIPT, see Facts). The expiry is reported whether or not
// it has passed: Decide compares it with the decision's instant.
//
//	KEYS[1] the key's bucket
//	KEYS[2] the bucket's expiry hash (offset → Unix ms)
//	ARGV[1] the key's offset (key % bucketSize)
var memberUntilScript = goredis.NewScript(luaMember + `
local m = tonumber(ARGV[1])
if not member(KEYS[1], m) then
  return 0
end
local exp = redis.call('HGET', KEYS[2], ARGV[1])
if exp then
  return tonumber(exp)
end
return 1
`)

// expireScript sets the expiry of keys of one bucket before AddToListUntil
// adds them (addScript), so that an entry's expiry only moves later: an
// offset present without expiry is permanent and left so; otherwise the
// later of its recorded expiry and ARGV[1] is kept. A crash between this
// script and the add leaves an expiry for a key that is not listed, which a
// later add of that key replaces or (permanent add) deletes: never a shorter
// block.
//
//	KEYS[1] the list's registry of buckets with expiries (set)
//	KEYS[2] the bucket
//	KEYS[3] the bucket's expiry hash (offset → Unix ms)
//	ARGV[1] the expiry, Unix ms
//	ARGV[2] the bucket's number
//	ARGV[3…] offsets
//
// Returns the number of expiries written.
var expireScript = goredis.NewScript(luaMember + `
local exp = tonumber(ARGV[1])
local set = 0
for i = 3, #ARGV do
  local m = tonumber(ARGV[i])
  local old = redis.call('HGET', KEYS[3], ARGV[i])
  if old then
    if tonumber(old) < exp then
      redis.call('HSET', KEYS[3], ARGV[i], ARGV[1])
      set = set + 1
    end
  elseif not member(KEYS[2], m) then
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[1])
    set = set + 1
  end
end
if set > 0 then
  redis.call('SADD', KEYS[1], ARGV[2])
end
return set
`)
