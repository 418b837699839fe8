package redis

import goredis "github.com/redis/go-redis/v9"

// The Lua scripts. Each runs atomically on the node of its keys, which share
// one hash tag (see keys.go). They are run with Script.Run (EVALSHA, then EVAL
// on NOSCRIPT, so a node that lost its script cache after a failover or
// restart gets the script again), never inside a pipeline, where go-redis does
// not fall back (#3228). Numbers are passed as decimal strings computed in Go,
// so Lua's doubles never format an instant.

// addScript adds keys to a list and keeps its meta in step, and appends the
// change to the list's change feed (a stream) in the same atomic step: a
// change is in the feed if and only if it is in the list.
//
//	KEYS[1]   list meta hash (count, updated, and the feed's seq and epoch)
//	KEYS[2]   list buckets sorted set
//	KEYS[3]   list change feed (stream)
//	KEYS[3+i] bucket set i (i ≥ 1)
//	ARGV[1]   now, Unix ms (the list's new updated)
//	ARGV[2]   a random epoch, used only if the meta has none yet (a new list,
//	          or a Redis that lost the list)
//	ARGV[3]   the feed's approximate maximum length (XADD MAXLEN ~)
//	ARGV[3+i] bucket i's number, then its members (key % 10000), space-separated
//
// Each feed entry holds s (the list's change sequence number: 1, 2, 3… with
// no gap, so a reader sees whether it missed one), e (the epoch), op ("a")
// and k (the bucket arguments joined by ';': every key passed, new or not).
// Returns the number of keys that were not there before. With no buckets it
// creates the list (count 0) or refreshes its updated, and writes no entry.
var addScript = goredis.NewScript(`
local added = 0
for i = 4, #KEYS do
  local bucket = nil
  local batch = {}
  for tok in string.gmatch(ARGV[i], '%d+') do
    if bucket == nil then
      bucket = tok
    else
      batch[#batch + 1] = tok
      if #batch == 1000 then
        added = added + redis.call('SADD', KEYS[i], unpack(batch))
        batch = {}
      end
    end
  end
  if #batch > 0 then
    added = added + redis.call('SADD', KEYS[i], unpack(batch))
  end
  redis.call('ZADD', KEYS[2], bucket, bucket)
end
redis.call('HINCRBY', KEYS[1], 'count', added)
redis.call('HSET', KEYS[1], 'updated', ARGV[1])
if #KEYS >= 4 then
  redis.call('HSETNX', KEYS[1], 'epoch', ARGV[2])
  local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
  local epoch = redis.call('HGET', KEYS[1], 'epoch')
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 's', seq, 'e', epoch, 'op', 'a', 'k', table.concat(ARGV, ';', 4))
end
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
var removeScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local removed = 0
for i = 4, #KEYS do
  local bucket = nil
  local batch = {}
  for tok in string.gmatch(ARGV[i], '%d+') do
    if bucket == nil then
      bucket = tok
    else
      batch[#batch + 1] = tok
      if #batch == 1000 then
        removed = removed + redis.call('SREM', KEYS[i], unpack(batch))
        batch = {}
      end
    end
  end
  if #batch > 0 then
    removed = removed + redis.call('SREM', KEYS[i], unpack(batch))
  end
  if redis.call('SCARD', KEYS[i]) == 0 then
    redis.call('ZREM', KEYS[2], bucket)
  end
end
if removed > 0 then
  redis.call('HINCRBY', KEYS[1], 'count', 0 - removed)
  redis.call('HSETNX', KEYS[1], 'epoch', ARGV[2])
  local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
  local epoch = redis.call('HGET', KEYS[1], 'epoch')
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 's', seq, 'e', epoch, 'op', 'r', 'n', removed)
end
redis.call('HSET', KEYS[1], 'updated', ARGV[1])
return removed
`)

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
// Returns 1 when granted (and recorded), 0 when a cap is full.
var reserveScript = goredis.NewScript(`
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
// Returns 0 when stored, 1 when the name is in use, 2 when the hash is.
var putKeyScript = goredis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
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
