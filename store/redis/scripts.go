package redis

import (
	"strconv"

	goredis "github.com/redis/go-redis/v9"
)

func itoa(v int) string { return strconv.Itoa(v) }

// The Lua scripts. Each runs atomically on the node of its keys, which share
// one hash tag (see keys.go). They are run with Script.Run (EVALSHA, then EVAL
// on NOSCRIPT, so a node that lost its script cache after a failover or
// restart gets the script again), never inside a pipeline, where go-redis does
// not fall back (#3228). Numbers are passed as decimal strings computed in Go,
// so Lua's doubles never format an instant.

// The list buckets. A list key k is in bucket k / bucketSize at offset
// k % bucketSize (< 1,000,000). A bucket is one Redis string in one of two
// forms, told apart by its length:
//
//   - packed: the offsets in ascending order, each as 3 bytes big-endian;
//     at most maxPacked of them (3 × 41666 = 124998 bytes);
//   - bitmap: exactly bitmapLen (125000) bytes, bit offset o set (SETBIT
//     order: the most significant bit of byte 0 is offset 0) for each
//     offset o present.
//
// A packed bucket that would pass maxPacked offsets becomes a bitmap, built
// at its full size in one SET (a bitmap grown by SETBIT over-allocates); a
// bitmap whose count falls below maxPacked/4 becomes packed again. A bucket
// with no offset is deleted. So a list costs at most about 3 bytes per key
// plus a key per bucket, and a full bucket 1 bit per key, whatever Redis's
// encoding settings (set-max-intset-entries and friends are not used).
const (
	bucketSize = 1_000_000
	bitmapLen  = bucketSize / 8
	maxPacked  = (bitmapLen - 1) / 3
)

// luaBuckets is the Lua shared by the list scripts (prepended to each).
var luaBuckets = `
local BITMAP = ` + itoa(bitmapLen) + `
local MAXPACKED = ` + itoa(maxPacked) + `
local function dec(s, i)
  local a, b, c = string.byte(s, 3 * i + 1, 3 * i + 3)
  return a * 65536 + b * 256 + c
end
local function enc(m)
  return string.char(math.floor(m / 65536), math.floor(m / 256) % 256, m % 256)
end
-- lower returns the first record index in [lo, n) whose offset is >= m (n if none).
local function lower(s, n, lo, m)
  local hi = n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if dec(s, mid) < m then lo = mid + 1 else hi = mid end
  end
  return lo
end
-- parse reads "bucket o o…" (offsets ascending, unique) into bucket, {o…}.
local function parse(arg)
  local bucket, offs = nil, {}
  for tok in string.gmatch(arg, '%d+') do
    if bucket == nil then bucket = tok else offs[#offs + 1] = tonumber(tok) end
  end
  return bucket, offs
end
-- tobitmap stores the packed records of s (n of them) as a full-size bitmap.
local function tobitmap(key, s, n)
  local bytes = {}
  for i = 1, BITMAP do bytes[i] = 0 end
  for i = 0, n - 1 do
    local m = dec(s, i)
    local j = math.floor(m / 8) + 1
    bytes[j] = bit.bor(bytes[j], bit.rshift(128, m % 8))
  end
  local out = {}
  for i = 1, BITMAP, 4096 do
    out[#out + 1] = string.char(unpack(bytes, i, math.min(i + 4095, BITMAP)))
  end
  redis.call('SET', key, table.concat(out))
end
-- topacked stores the bitmap bm as packed records.
local function topacked(key, bm)
  local out = {}
  for i = 1, BITMAP, 4096 do
    local chunk = {string.byte(bm, i, math.min(i + 4095, BITMAP))}
    for j = 1, #chunk do
      local v = chunk[j]
      if v ~= 0 then
        local base = (i + j - 2) * 8
        for b = 0, 7 do
          if bit.band(v, bit.rshift(128, b)) ~= 0 then out[#out + 1] = enc(base + b) end
        end
      end
    end
  end
  redis.call('SET', key, table.concat(out))
end
-- removeoffs removes the offsets offs (ascending, unique) from the bucket
-- key, numbered bucket, of the list whose buckets sorted set is zkey: a
-- bitmap left sparse becomes packed, an emptied bucket is deleted and leaves
-- zkey. Returns how many of offs were there.
local function removeoffs(key, zkey, bucket, offs)
  local cur = redis.call('GET', key)
  local gone = 0
  if cur and #cur == BITMAP then
    for _, m in ipairs(offs) do
      gone = gone + redis.call('SETBIT', key, m, 0)
    end
    if gone > 0 then
      local left = redis.call('BITCOUNT', key)
      if left == 0 then
        redis.call('DEL', key)
      elseif left < MAXPACKED / 4 then
        topacked(key, redis.call('GET', key))
      end
    end
  elseif cur then
    local n = #cur / 3
    local parts, pos = {}, 0
    for _, m in ipairs(offs) do
      local j = lower(cur, n, pos, m)
      if j < n and dec(cur, j) == m then
        parts[#parts + 1] = string.sub(cur, 3 * pos + 1, 3 * j)
        pos = j + 1
        gone = gone + 1
      end
    end
    if gone > 0 then
      if gone == n then
        redis.call('DEL', key)
      else
        parts[#parts + 1] = string.sub(cur, 3 * pos + 1)
        redis.call('SET', key, table.concat(parts))
      end
    end
  end
  if redis.call('EXISTS', key) == 0 then
    redis.call('ZREM', zkey, bucket)
  end
  return gone
end
-- noteremoved records in the list's meta and feed that removed keys left
-- it: the count falls and, when removed > 0, an entry of op "r" (see
-- removeScript) is appended and updated set to now. touch sets updated even
-- when nothing was removed (RemoveFromList does; a sweep does not).
local function noteremoved(meta, feed, removed, now, epoch, maxlen, touch)
  if removed > 0 then
    redis.call('HINCRBY', meta, 'count', 0 - removed)
    redis.call('HSETNX', meta, 'epoch', epoch)
    local seq = redis.call('HINCRBY', meta, 'seq', 1)
    local e = redis.call('HGET', meta, 'epoch')
    redis.call('XADD', feed, 'MAXLEN', '~', maxlen, '*', 's', seq, 'e', e, 'op', 'r', 'n', removed)
  end
  if removed > 0 or touch then
    redis.call('HSET', meta, 'updated', now)
  end
end
`

// addScript adds keys to a list and keeps its meta in step, and appends the
// change to the list's change feed (a stream) in the same atomic step: a
// change is in the feed if and only if it is in the list.
//
//	KEYS[1]   list meta hash (count, updated, and the feed's seq and epoch)
//	KEYS[2]   list buckets sorted set
//	KEYS[3]   list change feed (stream)
//	KEYS[4]   this call's result (P:list:{N}:op:<random>): a call that finds it
//	          returns it and changes nothing, so that go-redis's retry of a
//	          call whose reply timed out neither counts its keys as present
//	          nor writes a second feed entry
//	KEYS[4+i] bucket i (i ≥ 1; see luaBuckets)
//	ARGV[1]   now, Unix ms (the list's new updated)
//	ARGV[2]   a random epoch, used only if the meta has none yet (a new list,
//	          or a Redis that lost the list)
//	ARGV[3]   the feed's approximate maximum length (XADD MAXLEN ~)
//	ARGV[4]   how long KEYS[4] is kept, ms
//	ARGV[4+i] bucket i's number, then its offsets (key % bucketSize, in
//	          ascending order, without repeats), space-separated
//
// Each feed entry holds s (the list's change sequence number: 1, 2, 3… with
// no gap, so a reader sees whether it missed one), e (the epoch), op ("a")
// and k (the bucket arguments joined by ';': every key passed, new or not).
// Returns the number of keys that were not there before. With no buckets it
// creates the list (count 0) or refreshes its updated, and writes no entry.
var addScript = goredis.NewScript(luaBuckets + `
local done = redis.call('GET', KEYS[4])
if done then
  return tonumber(done)
end
local added = 0
for i = 5, #KEYS do
  local key = KEYS[i]
  local bucket, offs = parse(ARGV[i])
  local cur = redis.call('GET', key)
  if cur and #cur == BITMAP then
    for _, m in ipairs(offs) do
      added = added + 1 - redis.call('SETBIT', key, m, 1)
    end
  else
    cur = cur or ''
    local n = #cur / 3
    local parts, pos, new = {}, 0, 0
    for _, m in ipairs(offs) do
      local j = lower(cur, n, pos, m)
      if j >= n or dec(cur, j) ~= m then
        parts[#parts + 1] = string.sub(cur, 3 * pos + 1, 3 * j)
        parts[#parts + 1] = enc(m)
        pos = j
        new = new + 1
      end
    end
    if new > 0 then
      parts[#parts + 1] = string.sub(cur, 3 * pos + 1)
      local s = table.concat(parts)
      if n + new <= MAXPACKED then
        redis.call('SET', key, s)
      else
        tobitmap(key, s, n + new)
      end
      added = added + new
    end
  end
  redis.call('ZADD', KEYS[2], bucket, bucket)
end
redis.call('HINCRBY', KEYS[1], 'count', added)
redis.call('HSET', KEYS[1], 'updated', ARGV[1])
if #KEYS >= 5 then
  redis.call('HSETNX', KEYS[1], 'epoch', ARGV[2])
  local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
  local epoch = redis.call('HGET', KEYS[1], 'epoch')
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 's', seq, 'e', epoch, 'op', 'a', 'k', table.concat(ARGV, ';', 5))
end
redis.call('SET', KEYS[4], added, 'PX', ARGV[4])
return added
`)

// removeScript removes keys from a list and keeps its meta in step. A list
// whose meta hash does not exist is left alone (nothing is created). When
// keys were removed it appends an entry with op "r" to the feed (readers
// only count them: a bloom filter cannot forget).
//
//	KEYS and ARGV as addScript's.
//
// Returns the number of keys that were there.
var removeScript = goredis.NewScript(luaBuckets + `
local done = redis.call('GET', KEYS[4])
if done then
  return tonumber(done)
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local removed = 0
for i = 5, #KEYS do
  local bucket, offs = parse(ARGV[i])
  removed = removed + removeoffs(KEYS[i], KEYS[2], bucket, offs)
end
noteremoved(KEYS[1], KEYS[3], removed, ARGV[1], ARGV[2], ARGV[3], true)
redis.call('SET', KEYS[4], removed, 'PX', ARGV[4])
return removed
`)

// The membership test of the Facts pipeline is memberUntilScript
// (scripts_lists.go): it reads an entry's expiry too.

// feedHeadScript reads where a list's change feed ends, atomically with the
// meta's sequence number and epoch, so that a reader that scans the list
// after it and then reads the feed from the returned id misses nothing.
//
//	KEYS[1] list meta hash
//	KEYS[2] list change feed (stream)
//
// Returns {last entry id or "0-0", seq or "0", epoch or ""}.
var feedHeadScript = goredis.NewScript(`
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local id = '0-0'
if #last > 0 then
  id = last[1][1]
end
return {id, redis.call('HGET', KEYS[1], 'seq') or '0', redis.call('HGET', KEYS[1], 'epoch') or ''}
`)

// reserveScript checks the caps of one (subject, seller, purpose, channel) and
// records the attempt if they all have room.
//
//	KEYS[1]      attempts sorted set (score = Unix ms, member unique)
//	ARGV[1]      the attempt's instant, Unix ms (its score)
//	ARGV[2]      the attempt's member ("<ms>-<random>")
//	ARGV[3]      prune bound: attempts with score ≤ it are deleted (no cap can
//	             count them); "" prunes nothing (no caps)
//	ARGV[4]      TTL of the key in ms, applied when the key's TTL is shorter;
//	             "0" leaves it
//	ARGV[3+2i]   cap i's max (i ≥ 1)
//	ARGV[4+2i]   cap i's exclusive lower bound, "(<at - window ms>"
//
// Returns 1 when granted (and recorded), 0 when a cap is full. A call whose
// member is recorded already is a retry (go-redis sends a call again when its
// reply was lost) of one that was granted: it returns 1 and changes nothing,
// rather than count its own attempt against the caps and report a denial
// while the attempt stays recorded.
var reserveScript = goredis.NewScript(`
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then
  return 1
end
if ARGV[3] ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
end
for i = 5, #ARGV, 2 do
  local n = redis.call('ZCOUNT', KEYS[1], ARGV[i + 1], '+inf')
  if n + 1 > tonumber(ARGV[i]) then
    return 0
  end
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
local ttl = tonumber(ARGV[4])
if ttl > 0 and redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
`)

// relationshipScript keeps the latest relationship event of a (seller, kind).
//
//	KEYS[1] relationships hash of the subject
//	ARGV[1] field (relField)
//	ARGV[2] the event's instant, Unix ms
//	ARGV[3] the record (JSON with "at", Unix ms)
//
// Returns 1 when stored, 0 when the recorded event is later.
var relationshipScript = goredis.NewScript(`
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local ok, rec = pcall(cjson.decode, old)
  if ok and type(rec) == 'table' and tonumber(rec.at) and tonumber(rec.at) > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`)

// putKeyScript stores an API key unless its name or hash is in use.
//
//	KEYS[1] API keys by name hash
//	KEYS[2] API key names by hash hash
//	ARGV[1] name, ARGV[2] hex SHA-256, ARGV[3] record (JSON)
//
// Returns 0 when stored, 1 when the name is in use, 2 when the hash is. The
// very record already stored under the name and hash is a retry of this
// call (its reply was lost): 0, nothing written again.
var putKeyScript = goredis.NewScript(`
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old == ARGV[3] and redis.call('HGET', KEYS[2], ARGV[2]) == ARGV[1] then
  return 0
end
if old then
  return 1
end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then
  return 2
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
return 0
`)

// keyByHashScript looks an API key up by hash.
//
//	KEYS as putKeyScript's; ARGV[1] hex SHA-256
//
// Returns the record, or nil when no key has that hash.
var keyByHashScript = goredis.NewScript(`
local name = redis.call('HGET', KEYS[2], ARGV[1])
if not name then
  return false
end
return redis.call('HGET', KEYS[1], name)
`)

// deleteKeyScript deletes an API key and its hash entry.
//
//	KEYS as putKeyScript's; ARGV[1] name
//
// Returns 1 when deleted, 0 when no key has that name.
var deleteKeyScript = goredis.NewScript(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then
  return 0
end
local ok, rec = pcall(cjson.decode, v)
if ok and type(rec) == 'table' and rec.hash then
  redis.call('HDEL', KEYS[2], rec.hash)
end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
`)
