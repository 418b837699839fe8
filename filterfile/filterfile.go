// Package filterfile keeps the embedded store's lists' bloom filters as image
// files beside the store, so that a restart loads a national-size list's
// filter from its file in seconds instead of scanning the list and building
// the filter again (minutes for 250M numbers). It is the embedded store's
// counterpart of package feed's images in Redis, and uses the same dnc.Image
// format and checks.
//
// An image is used only when it is of the list as the store holds it now:
// its header records the list's version — the list's UpdatedAt (set by every
// write to it, in the write's transaction) and count — read from the store
// before the image was taken, and Load compares it with the store's. The
// embedded store is one process's, so nothing writes to the list between
// that read and the image; a write after it makes the image hold more than
// the store (harmless: a key the filter says "maybe" is confirmed in the
// store) and changes the version, so the image is not used next time. Any
// other doubt — a header or data that fails dnc.DecodeImage's checks
// (length, SHA-256, canary keys), a short file, another list's image —
// means a scan, as without images, and is logged.
package filterfile

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bits-and-blooms/bloom/v3"

	"callfilter/dnc"
	"callfilter/filter"
)

// Store is what the images need of the store.
type Store interface {
	Lists(ctx context.Context) ([]filter.ListInfo, error)
	ScanList(ctx context.Context, list string, fn func(key uint64) error) error
}

// epoch marks images of this package's versions (dnc.ImageHeader.FeedEpoch).
const epoch = "embedded-1"

// version is a list's version as the store holds it.
func version(info filter.ListInfo) string {
	return strconv.FormatInt(info.UpdatedAt.UnixNano(), 10) + "/" + strconv.FormatInt(info.Count, 10)
}

// path is the image file of the named list in dir: list names are limited
// by filter.ValidateListName, and escaped here so that none is a path.
func path(dir, list string) string {
	return filepath.Join(dir, strings.NewReplacer("%", "%25", "/", "%2F", `\`, "%5C", ".", "%2E").Replace(list)+".img")
}

// Load loads the lists as dnc.Lists.Load does (names, and every list of the
// store), from their image files in dir where an image is of the list as
// the store holds it, and from the store for the others. It returns the
// lists it installed from images.
func Load(ctx context.Context, dir string, lists *dnc.Lists, st Store, names []string, log *slog.Logger) ([]string, error) {
	infos, err := st.Lists(ctx)
	if err != nil {
		return nil, lists.Load(ctx, names) // the load reports the store's failure
	}
	skip := map[string]bool{}
	var installed []string
	for _, info := range infos {
		start := time.Now()
		h, f, err := read(path(dir, info.Name), info)
		switch {
		case errors.Is(err, os.ErrNotExist):
			continue
		case err != nil:
			log.Warn("filter image not used: the list is scanned instead", "list", info.Name, "err", err)
			continue
		}
		if err := lists.Install(info.Name, h, f); err != nil {
			log.Warn("filter image not installed: the list is scanned instead", "list", info.Name, "err", err)
			continue
		}
		skip[info.Name] = true
		installed = append(installed, info.Name)
		log.Info("filter image loaded", "list", info.Name, "keys", h.Count, "took", time.Since(start).Round(time.Millisecond).String())
	}
	return installed, lists.LoadExcept(ctx, names, skip)
}

// read reads and checks the image file of the list described by info.
func read(file string, info filter.ListInfo) (dnc.ImageHeader, *bloom.BloomFilter, error) {
	fh, err := os.Open(file)
	if err != nil {
		return dnc.ImageHeader{}, nil, err
	}
	defer fh.Close()
	r := bufio.NewReaderSize(fh, 1<<20)
	h, err := header(r, file)
	if err != nil {
		return h, nil, err
	}
	if err := matches(h, info, file); err != nil {
		return h, nil, err
	}
	if err := dnc.CheckImageHeader(h); err != nil {
		return h, nil, fmt.Errorf("%s: %w", file, err)
	}
	data := make([]byte, h.Bytes)
	if _, err := io.ReadFull(r, data); err != nil {
		return h, nil, fmt.Errorf("%s: %d bytes of data expected: %v", file, h.Bytes, err)
	}
	if n, _ := r.Read(make([]byte, 1)); n != 0 {
		return h, nil, fmt.Errorf("%s: data past the image's %d bytes", file, h.Bytes)
	}
	f, err := dnc.DecodeImage(h, data)
	if err != nil {
		return h, nil, fmt.Errorf("%s: %w", file, err)
	}
	return h, f, nil
}

// Save writes an image file in dir for each loaded list of at least minKeys
// keys whose file is missing or of another version (a smaller list is
// scanned as fast as its image is read), and removes the other files. Each file is written whole to a temporary file, synced and
// renamed into place, so a crash leaves the old image or the new one.
func Save(ctx context.Context, dir string, lists *dnc.Lists, st Store, minKeys int64, log *slog.Logger) error {
	infos, err := st.Lists(ctx)
	if err != nil {
		return fmt.Errorf("filter images: read the lists: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("filter images: %w", err)
	}
	keep := map[string]bool{}
	var errs []error
	for _, info := range infos {
		if info.Count < minKeys {
			continue
		}
		file := path(dir, info.Name)
		keep[filepath.Base(file)] = true
		if current(file, info) {
			continue
		}
		start := time.Now()
		// The version first, then the image (see the package comment).
		h, data, err := lists.Image(info.Name, canaries(ctx, st, info.Name))
		if err != nil {
			continue // not loaded here: no image
		}
		h.FeedID, h.FeedEpoch = version(info), epoch
		if err := write(file, h, data); err != nil {
			errs = append(errs, err)
			continue
		}
		log.Info("filter image written", "list", info.Name, "keys", h.Count, "bytes", h.Bytes, "took", time.Since(start).Round(time.Millisecond).String())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if name := e.Name(); strings.HasSuffix(name, ".img") && !keep[name] {
			_ = os.Remove(filepath.Join(dir, name))
		}
	}
	return errors.Join(errs...)
}

// current reports whether file holds an image header of the list's version.
func current(file string, info filter.ListInfo) bool {
	fh, err := os.Open(file)
	if err != nil {
		return false
	}
	defer fh.Close()
	h, err := header(bufio.NewReaderSize(fh, 4096), file)
	return err == nil && matches(h, info, file) == nil
}

// header reads an image file's header line.
func header(r *bufio.Reader, file string) (dnc.ImageHeader, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return dnc.ImageHeader{}, fmt.Errorf("%s: no header line of at most %d bytes (%v)", file, r.Size(), err)
	}
	var h dnc.ImageHeader
	if err := json.Unmarshal(line, &h); err != nil {
		return dnc.ImageHeader{}, fmt.Errorf("%s: header: %w", file, err)
	}
	return h, nil
}

// matches says why h is not an image of the list as info describes it, nil
// when it is.
func matches(h dnc.ImageHeader, info filter.ListInfo, file string) error {
	switch want := version(info); {
	case h.List != info.Name:
		return fmt.Errorf("%s holds the image of list %q", file, h.List)
	case h.FeedEpoch != epoch:
		return fmt.Errorf("%s: an image of another kind (%q)", file, h.FeedEpoch)
	case h.FeedID != want:
		return fmt.Errorf("%s: the image is of the list's version %s, the store's is %s (written since)", file, h.FeedID, want)
	}
	return nil
}

// canaries returns the first keys of the list: members the image must hold.
func canaries(ctx context.Context, st Store, list string) []uint64 {
	var out []uint64
	errEnough := errors.New("enough")
	_ = st.ScanList(ctx, list, func(k uint64) error {
		out = append(out, k)
		if len(out) == 16 {
			return errEnough
		}
		return nil
	})
	return out
}

func write(file string, h dnc.ImageHeader, data []byte) error {
	head, err := json.Marshal(h)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".image-*")
	if err != nil {
		return fmt.Errorf("filter image of list %q: %w", h.List, err)
	}
	defer os.Remove(tmp.Name()) // after the rename, nothing
	w := bufio.NewWriterSize(tmp, 1<<20)
	_, _ = w.Write(head)
	_ = w.WriteByte('\n')
	_, _ = w.Write(data)
	err = errors.Join(w.Flush(), tmp.Sync(), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		return fmt.Errorf("filter image of list %q: %w", h.List, err)
	}
	return nil
}
