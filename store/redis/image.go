package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Filter images: one serialized bloom filter per list, written by one
// instance so that a new one can start from it (package feed; the format and
// its checks are dnc's, this file only stores bytes). Keys, all in the list's
// hash tag (one Cluster slot):
//
//	P:list:{N}:image             hash: header (opaque, the caller's), gen, chunks
//	P:list:{N}:image:<gen>:<i>   string: chunk i of the data of generation gen
//	P:list:{N}:imagelock         string: the writer's token (SET NX PX)
//
// A write puts the chunks of a new generation (each with a TTL, so a writer
// that dies midway leaves nothing for long), then the hash pointing at them,
// then removes the TTLs and gives the previous generation's chunks a short
// one (a reader in the middle of reading them has that long to finish). A
// reader that finds a chunk missing or of the wrong size refuses the image.

// DefaultImageChunk is the size of one chunk of an image: well under Redis's
// 512 MB string limit, and small enough to cross the network within the
// read and write timeouts.
const DefaultImageChunk = 8 << 20

// imageOrphanTTL bounds how long chunks not (or no longer) referenced live.
const imageOrphanTTL = 2 * time.Minute

func (k keys) image(list string) string     { return k.list(list) + ":image" }
func (k keys) imageLock(list string) string { return k.list(list) + ":imagelock" }
func (k keys) imageChunk(list, gen string, i int) string {
	return k.image(list) + ":" + gen + ":" + strconv.Itoa(i)
}

// ImageRef says where an image's data is: its generation and chunk count.
type ImageRef struct {
	Gen    string
	Chunks int
}

// PutImage stores data as the list's image, with header (opaque here), in
// chunks of at most chunk bytes (DefaultImageChunk if ≤ 0). Hold the list's
// image lock (LockImage) around it. EUnavailable when Redis cannot be
// written; a failed write leaves the previous image in place.
func (s *Store) PutImage(ctx context.Context, list string, header, data []byte, chunk int) error {
	const op = "write filter image"
	if err := checkList(list); err != nil {
		return err
	}
	if chunk <= 0 {
		chunk = DefaultImageChunk
	}
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	old, _, err := s.ImageHeader(ctx, list)
	if err != nil {
		return err
	}
	gen := newEpoch()
	n := 0
	for off := 0; off < len(data) || n == 0; off += chunk {
		part := data[off:min(off+chunk, len(data))]
		if err := s.rdb.Set(ctx, s.k.imageChunk(list, gen, n), part, imageOrphanTTL).Err(); err != nil {
			return fail(ctx, op, err)
		}
		n++
	}
	if err := s.rdb.HSet(ctx, s.k.image(list), "header", header, "gen", gen, "chunks", n).Err(); err != nil {
		return fail(ctx, op, err)
	}
	pipe := s.rdb.Pipeline()
	for i := range n {
		pipe.Persist(ctx, s.k.imageChunk(list, gen, i))
	}
	for i := range old.Chunks {
		if old.Gen != "" && old.Gen != gen {
			pipe.PExpire(ctx, s.k.imageChunk(list, old.Gen, i), imageOrphanTTL)
		}
	}
	cmds, _ := pipe.Exec(ctx)
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return fail(ctx, op, err)
		}
	}
	return nil
}

// ImageHeader returns the header of the list's image and where its data is;
// a nil header when the list has none. EUnavailable when Redis cannot be read
// or the record is damaged.
func (s *Store) ImageHeader(ctx context.Context, list string) (ImageRef, []byte, error) {
	const op = "read filter image header"
	if err := checkList(list); err != nil {
		return ImageRef{}, nil, err
	}
	if err := s.begin(ctx, op); err != nil {
		return ImageRef{}, nil, err
	}
	vals, err := s.rdb.HMGet(ctx, s.k.image(list), "header", "gen", "chunks").Result()
	if err != nil {
		return ImageRef{}, nil, fail(ctx, op, err)
	}
	if vals[0] == nil {
		return ImageRef{}, nil, nil
	}
	n, err := strconv.Atoi(str(vals[2]))
	if err != nil || n <= 0 || str(vals[1]) == "" {
		return ImageRef{}, nil, errCorrupt("filter image header")
	}
	return ImageRef{Gen: str(vals[1]), Chunks: n}, []byte(str(vals[0])), nil
}

// ImageData reads the data of an image: exactly size bytes, or an error. The
// chunks' lengths are read and checked against size first, so that a damaged
// reference never makes this allocate more than size. EUnavailable when Redis
// cannot be read, a chunk is missing or the sizes do not add up.
func (s *Store) ImageData(ctx context.Context, list string, ref ImageRef, size int64) ([]byte, error) {
	const op = "read filter image"
	if err := checkList(list); err != nil {
		return nil, err
	}
	if err := s.begin(ctx, op); err != nil {
		return nil, err
	}
	if ref.Chunks <= 0 || size < 0 {
		return nil, errCorrupt("filter image header")
	}
	pipe := s.rdb.Pipeline()
	lens := make([]*goredis.IntCmd, ref.Chunks)
	for i := range lens {
		lens[i] = pipe.StrLen(ctx, s.k.imageChunk(list, ref.Gen, i))
	}
	_, _ = pipe.Exec(ctx) // every command's error is checked below
	var total int64
	for i, c := range lens {
		n, err := c.Result()
		if err != nil {
			return nil, fail(ctx, op, err)
		}
		if n == 0 && size > 0 {
			return nil, imageErr("chunk %d of %d is missing", i, ref.Chunks)
		}
		total += n
	}
	if total != size {
		return nil, imageErr("chunks hold %d bytes, header says %d", total, size)
	}
	data := make([]byte, 0, size)
	for i := range ref.Chunks {
		b, err := s.rdb.Get(ctx, s.k.imageChunk(list, ref.Gen, i)).Bytes()
		if err != nil {
			if errors.Is(err, goredis.Nil) {
				return nil, imageErr("chunk %d of %d is missing", i, ref.Chunks)
			}
			return nil, fail(ctx, op, err)
		}
		if int64(len(data)+len(b)) > size {
			return nil, imageErr("chunks hold more than %d bytes", size)
		}
		data = append(data, b...)
	}
	if int64(len(data)) != size {
		return nil, imageErr("chunks hold %d bytes, header says %d", len(data), size)
	}
	return data, nil
}

func imageErr(format string, args ...any) error {
	return fmt.Errorf("redis: filter image: "+format, args...)
}

// LockImage takes the list's image lock for ttl unless another holder has it:
// the token to unlock with and true, or "" and false.
func (s *Store) LockImage(ctx context.Context, list string, ttl time.Duration) (string, bool, error) {
	const op = "lock filter image"
	if err := checkList(list); err != nil {
		return "", false, err
	}
	if err := s.begin(ctx, op); err != nil {
		return "", false, err
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	ok, err := s.rdb.SetNX(ctx, s.k.imageLock(list), token, ttl).Result()
	if err != nil {
		return "", false, fail(ctx, op, err)
	}
	if !ok {
		return "", false, nil
	}
	return token, true, nil
}

// UnlockImage releases the list's image lock if token still holds it.
func (s *Store) UnlockImage(ctx context.Context, list, token string) error {
	const op = "unlock filter image"
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	return fail(ctx, op, unlockScript.Run(ctx, s.rdb, []string{s.k.imageLock(list)}, token).Err())
}

// unlockScript deletes KEYS[1] if it holds ARGV[1]. Returns 1 if deleted.
var unlockScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)
