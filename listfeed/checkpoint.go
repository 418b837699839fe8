package listfeed

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Phase is a step of an import.
type Phase string

// Phases, in order. A change import has only PhaseLoad.
const (
	PhaseLoad Phase = "load" // reading the file into the list, or into the staging list for a full file
	// PhaseAdd, for a full file: copying into the staging list the list's
	// numbers outside the file's scope (other area codes), which the replace
	// keeps, and counting the changes. The list is not written.
	PhaseAdd Phase = "add"
	// PhaseRemove is not entered any more: a checkpoint of an earlier build
	// in it continues with PhaseAdd's work, which gives the same list.
	PhaseRemove Phase = "remove"
	// PhaseCleanup, for a full file: replacing the list with the staging
	// list, in one atomic store call. (In a version 1 checkpoint: emptying
	// the staging list after the list was merged.)
	PhaseCleanup Phase = "cleanup"
	PhaseDone    Phase = "done" // finished: the state file records the import
)

// checkpointVersion is bumped when Checkpoint changes incompatibly; a state
// file of another version is refused rather than misread. Version 1 (the
// list merged with the staging list in place) is still read: its phases
// mean what they meant (see PhaseCleanup), and Import finishes them so.
const checkpointVersion = 2

// Checkpoint is what the state file holds: where an unfinished import is, or,
// once done, what the last import of the list was (its counts and source
// date).
type Checkpoint struct {
	Version  int    `json:"version"`
	List     string `json:"list"`
	Format   string `json:"format"`
	SourceID string `json:"source_id,omitempty"`
	Kind     string `json:"kind"`
	Phase    Phase  `json:"phase"`
	// Pos is the place in the file after the last acknowledged chunk.
	Pos     Pos   `json:"pos"`
	Lines   int64 `json:"lines"`
	Numbers int64 `json:"numbers"`
	Bad     int64 `json:"bad"`
	Added   int64 `json:"added"`
	Removed int64 `json:"removed"`
	// AreaCodes are those seen so far, for a full file scoped by area code.
	AreaCodes  []int     `json:"area_codes,omitempty"`
	SourceDate time.Time `json:"source_date,omitzero"`
	// LastSourceDate is that of the list's last finished import, kept on
	// record while another is under way.
	LastSourceDate time.Time `json:"last_source_date,omitzero"`
	// AreaDates are the source dates of the last imports of each area code
	// (full files scoped by area code), kept from import to import.
	AreaDates map[int]time.Time `json:"area_dates,omitempty"`
	Updated   time.Time         `json:"updated"`
}

// ReadCheckpoint reads a state file; ok is false if there is none.
func ReadCheckpoint(path string) (cp Checkpoint, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("read import state: %w", err)
	}
	if err := json.Unmarshal(b, &cp); err != nil {
		return Checkpoint{}, false, fmt.Errorf("read import state %s: %w (remove the file to start the import over)", path, err)
	}
	if cp.Version != checkpointVersion && cp.Version != 1 {
		return Checkpoint{}, false, fmt.Errorf("import state %s has version %d, this program writes %d: remove the file to start the import over", path, cp.Version, checkpointVersion)
	}
	return cp, true, nil
}

// writeCheckpoint replaces the state file durably: a crash leaves the old
// checkpoint or the new one, never a torn one (write, fsync, rename, fsync
// the directory).
func writeCheckpoint(path string, cp Checkpoint) error {
	b, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return fmt.Errorf("write import state: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write import state: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write import state: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync() // best effort: not every file system syncs directories
		_ = d.Close()
	}
	return nil
}

// FileID identifies a file for a checkpoint: its name, size and modification
// time, so that a re-run continues only an import of the same file.
func FileID(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("identify %s: %w", path, err)
	}
	return fmt.Sprintf("%s|%d|%d", filepath.Base(path), fi.Size(), fi.ModTime().UnixNano()), nil
}
