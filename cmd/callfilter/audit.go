package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"callfilter/audit"
	"callfilter/filter"
	"callfilter/service"
)

// rulesPollInterval is how often an instance looks for a rule edit made on
// another instance.
const rulesPollInterval = 2 * time.Second

// openOfficer starts the audit writer over the unwrapped store raw and makes
// the store's rules the ones in force (importing the file's as revision 1
// when the store has none).
func (m *Main) openOfficer(ctx context.Context, raw filter.Store) error {
	as, ok := raw.(filter.AuditStore)
	if !ok {
		return fmt.Errorf("the %s store keeps no audit trail", m.cfg.Store.Kind)
	}
	w, err := audit.NewWriter(as, audit.Options{Logger: m.log, Retention: time.Duration(m.cfg.Audit.Retention)})
	if err != nil {
		return err
	}
	m.audit = w
	rs, _ := raw.(filter.RulesStore)
	m.svc.SetOfficer(service.OfficerOptions{Auditor: w, AuditStore: as, RulesStore: rs, LoadLists: m.loadListsForRules})
	imported, err := m.svc.InitRules(ctx)
	if err != nil {
		return fmt.Errorf("rules in the store: %w", err)
	}
	if imported {
		m.log.Info("rules imported from the file into the store as revision 1", "rules_version", m.svc.Rules().Version)
	} else {
		m.log.Info("rules in force are the store's current revision", "rules_version", m.svc.Rules().Version, "revision", m.svc.RulesRevision())
	}
	return nil
}

// auditCmd is `callfilter audit verify`: it walks the store's audit chain and
// prints the report; it fails when the chain is broken.
func auditCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return fmt.Errorf("usage: callfilter audit verify [--config config.yaml]")
	}
	fs, cfgPath := flags("audit verify", stderr)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	ctx := context.Background()
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	as, ok := st.(filter.AuditStore)
	if !ok {
		return fmt.Errorf("the %s store keeps no audit trail", cfg.Store.Kind)
	}
	r, err := audit.Verify(ctx, as)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(r)
	if !r.OK {
		return fmt.Errorf("the audit trail is broken at entry %d: %s", r.BrokenAt, r.Problem)
	}
	return nil
}
