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

// setSourceScript records a list's source date, only if the list exists (its
// meta hash does: a hash with only a source would be a damaged list). Returns
// 1 if set, 0 if the list does not exist.
//
//	KEYS[1] the list's meta hash
//	ARGV[1] the source date, Unix ms
var setSourceScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'source', ARGV[1])
return 1
`)

// luaSameSet checks that a sorted set (zset true) or set holds exactly the
// members ARGV[first..first+n-1]: the buckets the caller read before the
// call, whose keys it passed in KEYS. A write in between makes the caller
// read them again.
var luaSameSet = `
local function sameset(key, zset, first, n)
  local card
  if zset then card = redis.call('ZCARD', key) else card = redis.call('SCARD', key) end
  if card ~= n then return false end
  for i = first, first + n - 1 do
    if zset then
      if not redis.call('ZSCORE', key, ARGV[i]) then return false end
    elseif redis.call('SISMEMBER', key, ARGV[i]) == 0 then
      return false
    end
  end
  return true
end
`

// replaceScript makes a list the contents of its variant (filter.ListVariant;
// in the list's slot) and deletes the variant: the list's buckets and expiry
// hashes are deleted, the variant's renamed in their place, and the meta
// becomes the variant's (count, source) with updated now. The list's feed
// gets an entry of op "r" (n = the old count) whose seq skips one and whose
// epoch is new: every reader sees a gap and another epoch and rebuilds its
// filter from the list (feed.go), as it does after missed changes, and no
// filter image of the old contents is used again.
//
//	KEYS[1..4]  the list's meta, buckets, feed, expiry buckets
//	KEYS[5..8]  the variant's meta, buckets, feed, expiry buckets
//	KEYS[9]     this call's result (see addScript), kept ARGV[4] ms
//	then        the list's bucket keys (ARGV[5] of them), its expiry hashes
//	            (ARGV[6]), then pairs (variant's key, list's key) for the
//	            variant's buckets (ARGV[7] pairs) and expiry hashes (ARGV[8])
//	ARGV[1]     now, Unix ms
//	ARGV[2]     the list's new epoch
//	ARGV[3]     the feed's approximate maximum length
//	ARGV[4]     how long KEYS[9] is kept, ms
//	ARGV[5..8]  the four counts above
//	ARGV[9…]    the bucket numbers of those keys, in the same order
//
// Returns "<count> <source ms or empty>", or "-1" if the variant does not
// exist, "-2" if the buckets are not those passed (nothing changed: read
// them again).
var replaceScript = goredis.NewScript(luaSameSet + `
local done = redis.call('GET', KEYS[9])
if done then
  return done
end
if redis.call('EXISTS', KEYS[5]) == 0 then
  return '-1'
end
local nb, nx, fb, fx = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local a = 9
if not (sameset(KEYS[2], true, a, nb) and sameset(KEYS[4], false, a + nb, nx) and
        sameset(KEYS[6], true, a + nb + nx, fb) and sameset(KEYS[8], false, a + nb + nx + fb, fx)) then
  return '-2'
end
local k = 10
for i = 1, nb + nx do
  redis.call('DEL', KEYS[k])
  k = k + 1
end
redis.call('DEL', KEYS[2], KEYS[4])
for i = 1, fb + fx do
  if redis.call('EXISTS', KEYS[k]) == 1 then
    redis.call('RENAME', KEYS[k], KEYS[k + 1])
  end
  k = k + 2
end
if redis.call('EXISTS', KEYS[6]) == 1 then redis.call('RENAME', KEYS[6], KEYS[2]) end
if redis.call('EXISTS', KEYS[8]) == 1 then redis.call('RENAME', KEYS[8], KEYS[4]) end
local old = redis.call('HGET', KEYS[1], 'count') or '0'
local count = redis.call('HGET', KEYS[5], 'count') or '0'
local source = redis.call('HGET', KEYS[5], 'source')
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 2)
redis.call('DEL', KEYS[1], KEYS[5], KEYS[7])
redis.call('HSET', KEYS[1], 'count', count, 'updated', ARGV[1], 'seq', seq, 'epoch', ARGV[2])
if source then
  redis.call('HSET', KEYS[1], 'source', source)
end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 's', seq, 'e', ARGV[2], 'op', 'r', 'n', old)
local res = count .. ' ' .. (source or '')
redis.call('SET', KEYS[9], res, 'PX', ARGV[4])
return res
`)

// deleteScript deletes a list: its meta, buckets and expiry hashes. Its feed
// stays, with a last entry (op "r", n = the count) whose seq skips one, so
// that readers rebuild (to an empty filter) and a list created again under
// the name starts a new seq and epoch, which they notice too.
//
//	KEYS[1..4]  the list's meta, buckets, feed, expiry buckets
//	KEYS[5]     this call's result (see addScript), kept ARGV[4] ms
//	then        the list's bucket keys (ARGV[5]) and expiry hashes (ARGV[6])
//	ARGV[1..4]  as replaceScript's (ARGV[2] is used if the list had no epoch)
//	ARGV[5..6]  the two counts
//	ARGV[7…]    the bucket numbers of those keys, in the same order
//
// Returns "1", or "-1" if the list does not exist, "-2" as replaceScript.
var deleteScript = goredis.NewScript(luaSameSet + `
local done = redis.call('GET', KEYS[5])
if done then
  return done
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  return '-1'
end
local nb, nx = tonumber(ARGV[5]), tonumber(ARGV[6])
if not (sameset(KEYS[2], true, 7, nb) and sameset(KEYS[4], false, 7 + nb, nx)) then
  return '-2'
end
for k = 6, 5 + nb + nx do
  redis.call('DEL', KEYS[k])
end
local old = redis.call('HGET', KEYS[1], 'count') or '0'
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 2)
local epoch = redis.call('HGET', KEYS[1], 'epoch') or ARGV[2]
redis.call('DEL', KEYS[1], KEYS[2], KEYS[4])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 's', seq, 'e', epoch, 'op', 'r', 'n', old)
redis.call('SET', KEYS[5], '1', 'PX', ARGV[4])
return '1'
`)

// sweepScript removes the expired entries of some buckets of a list
// (SweepList passes the candidates it read with HSCAN): each offset's expiry
// is read again here, so an entry whose expiry moved later since, or that
// became permanent (its field deleted), stays. The swept entries leave their
// bucket as removeScript's keys do (removeoffs), and the removal is recorded
// as removeScript records it (noteremoved; updated only when something was
// removed). Their expiry fields are deleted, also one whose key is not in
// the bucket (left by a crash between expireScript and the add: it counts
// nothing); a bucket whose expiry hash is gone leaves the registry. A list
// whose meta hash does not exist is left alone.
//
//	KEYS[1]      list meta hash
//	KEYS[2]      list buckets sorted set
//	KEYS[3]      list change feed (stream)
//	KEYS[4]      this call's result (see addScript)
//	KEYS[5]      the list's registry of buckets with expiries (set)
//	KEYS[4+2i]   bucket i (i ≥ 1)
//	KEYS[5+2i]   bucket i's expiry hash (offset → Unix ms)
//	ARGV[1]      now, Unix ms
//	ARGV[2]      a random epoch, used only if the meta has none yet
//	ARGV[3]      the feed's approximate maximum length
//	ARGV[4]      how long KEYS[4] is kept, ms
//	ARGV[5]      before, Unix ms: entries expiring at or before it go
//	ARGV[5+i]    bucket i's number, then its candidate offsets (ascending,
//	             without repeats), space-separated (see parse)
//
// Returns the number of keys removed.
var sweepScript = goredis.NewScript(luaBuckets + `
local done = redis.call('GET', KEYS[4])
if done then
  return tonumber(done)
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local before = tonumber(ARGV[5])
local removed = 0
for i = 1, (#KEYS - 5) / 2 do
  local key, xkey = KEYS[4 + 2 * i], KEYS[5 + 2 * i]
  local bucket, cand = parse(ARGV[5 + i])
  local offs, fields = {}, {}
  for _, m in ipairs(cand) do
    local f = tostring(m)
    local exp = redis.call('HGET', xkey, f)
    if exp and tonumber(exp) <= before then
      offs[#offs + 1] = m
      fields[#fields + 1] = f
    end
  end
  if #offs > 0 then
    removed = removed + removeoffs(key, KEYS[2], bucket, offs)
    for j = 1, #fields, 1000 do
      redis.call('HDEL', xkey, unpack(fields, j, math.min(j + 999, #fields)))
    end
  end
  -- Redis deletes a hash with its last field.
  if redis.call('EXISTS', xkey) == 0 then
    redis.call('SREM', KEYS[5], bucket)
  end
end
noteremoved(KEYS[1], KEYS[3], removed, ARGV[1], ARGV[2], ARGV[3], false)
redis.call('SET', KEYS[4], removed, 'PX', ARGV[4])
return removed
`)
