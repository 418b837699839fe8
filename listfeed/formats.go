package listfeed

import (
	"io"
	"slices"
	"strings"

	"callfilter/filter"
)

// Formats are the names New takes, as `callfilter import --format` gives them.
var Formats = []string{"dnc", "dnc-change", "tps", "ctps", "state", "litigator", "csv"}

// New returns a Reader of the named format (see Formats). EInvalid for an
// unknown format or a Config field the format does not use, so that a
// mistaken command line fails instead of being ignored.
func New(format string, r io.Reader, cfg Config) (Reader, error) {
	csvFormat := format == "state" || format == "litigator" || format == "csv"
	switch {
	case cfg.Op != 0 && format != "dnc-change" && format != "tps" && format != "ctps":
		return nil, filter.Errorf(filter.EInvalid, "", "a change operation (add or remove) is for dnc-change, tps and ctps files, not %s", format)
	case (cfg.Full || cfg.Additions || cfg.Column != "" || cfg.Index != 0) && !csvFormat && slices.Contains(Formats, format):
		return nil, filter.Errorf(filter.EInvalid, "", "full/additions and the number's column are for state, litigator and csv files, not %s", format)
	case cfg.Region != "" && !csvFormat && slices.Contains(Formats, format):
		// The file's country is fixed: a region would be ignored.
		return nil, filter.Errorf(filter.EInvalid, "", "a region is for state, litigator and csv files: %s files hold numbers of one country", format)
	}
	switch format {
	case "dnc":
		return NewDNC(r, cfg), nil
	case "dnc-change":
		return NewDNCChange(r, cfg), nil
	case "tps":
		return NewTPS(r, cfg), nil
	case "ctps":
		return NewCTPS(r, cfg), nil
	case "state":
		return NewState(r, cfg)
	case "litigator":
		return NewLitigator(r, cfg)
	case "csv":
		return NewCSV(r, cfg)
	}
	return nil, filter.Errorf(filter.EInvalid, "", "unknown list format %q: use %s", format, strings.Join(Formats, ", "))
}
