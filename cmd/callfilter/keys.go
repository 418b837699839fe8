package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"callfilter/service"
)

const keysUsage = "usage: callfilter keys create --name NAME --role dialer|scrubber|officer|admin | keys list | keys revoke --name NAME [--config config.yaml]"

// keysCmd is `callfilter keys create|list|revoke`: the admin API's key
// routes for the command line, through the same service (validated, stored
// hashed, audited with actor "cli").
func keysCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(keysUsage)
	}
	verb, args := args[0], args[1:]
	fs, cfgPath := flags("keys "+verb, stderr)
	name := fs.String("name", "", "the key's name (letters, digits, '_', '.', '@', '-')")
	role := fs.String("role", "", "create: dialer, scrubber, officer or admin")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case verb != "create" && verb != "list" && verb != "revoke", fs.NArg() != 0:
		return errors.New(keysUsage)
	case verb != "list" && *name == "":
		return fmt.Errorf("keys %s: --name is required", verb)
	case verb == "create" && *role == "":
		return errors.New("keys create: --role is required (dialer, scrubber, officer or admin)")
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	svc, closeSvc, err := openLocal(ctx, cfg, false, "the admin API: /v1/keys")
	if err != nil {
		return err
	}
	defer closeSvc()
	ctx = service.WithActor(ctx, "cli")
	switch verb {
	case "create":
		secret, k, err := svc.CreateKey(ctx, *name, *role)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "key %s (role %s) created. Its secret, shown only now:\n%s\n", k.Name, k.Role, secret)
	case "list":
		keys, err := svc.Keys(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tCREATED")
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", k.Name, k.Role, k.CreatedAt.UTC().Format(time.RFC3339))
		}
		return tw.Flush()
	case "revoke":
		if err := svc.DeleteKey(ctx, *name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "key %s revoked\n", *name)
	}
	return nil
}
