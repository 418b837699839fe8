package redis

import (
	"strings"

	"callfilter/filter"
)

// Arguments are checked before anything is sent, so that bad input changes
// nothing: the domain's record checks (filter/validate.go), plus list names
// without '{' or '}' (the hash tag of a list's keys).

func checkList(name string) error {
	if err := filter.ValidateListName(name); err != nil {
		return err
	}
	if strings.ContainsAny(name, "{}") {
		return filter.Errorf(filter.EInvalid, "", "list name %q contains '{' or '}', which Redis keys of lists cannot hold: rename the list", name)
	}
	return nil
}
