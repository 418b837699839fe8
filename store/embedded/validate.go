package embedded

import "callfilter/filter"

// Arguments are checked before anything is written, so that bad input changes
// nothing: the domain's record checks (filter/validate.go), plus the instants
// this layout's keys can hold.

func checkList(name string) error { return filter.ValidateListName(name) }

func checkReserve(q *filter.ReserveQuery) error {
	if err := q.Validate(); err != nil {
		return err
	}
	if !inTSRange(q.At) {
		return filter.Errorf(filter.EInvalid, "", "attempt time %v is out of range (years 1678 to 2262)", q.At)
	}
	return nil
}
