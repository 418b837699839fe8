// Command callfilter is the pre-call compliance filter: `callfilter serve` runs
// the HTTP service, `callfilter import` loads a do-not-contact list, and
// `callfilter check-config` validates a configuration and its rules. main only
// parses flags and wires the packages together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is stamped in by the release build (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `callfilter decides whether a seller may call or text a number, and says why.

Usage:
  callfilter serve        [--config config.yaml]    run the HTTP service (the default)
  callfilter import       [--config config.yaml] --list NAME [--format dnc|dnc-change|tps|ctps|state|litigator|csv]
                          [options] FILE|-   load a list file (resumable; import -h lists the options)
  callfilter import-reassigned [--config config.yaml] [--region US] FILE.csv|-
                          record a reassigned-numbers feed (number,disconnected date)
  callfilter check-config [--config config.yaml]    validate the configuration and its rules
  callfilter scrub        [--config config.yaml] IN.csv|- -o OUT.csv|- --purpose P --channel C
                          [--seller S] [--region US] [--column C] [--at T] [--charset gbk]
                          [--temp-dir DIR] [--dup-memory-mib 64]
                          decide every row of a CSV lead list (a progress bar on stderr)
  callfilter gen          --rows N [--seed S] [--full] [--format leads|dnc] [-o FILE]
                          write a messy lead list (CSV) or a DNC full file for benchmarks
  callfilter audit verify [--config config.yaml]   prove the audit trail's hash chain unbroken
                          (embedded store: stop the service first, or GET /v1/audit/verify)
  callfilter keys create  [--config config.yaml] --name NAME --role dialer|scrubber|officer|admin
                          make an API key (its secret is printed once; only its hash is stored)
  callfilter keys list    [--config config.yaml]    names, roles and creation times
  callfilter keys revoke  [--config config.yaml] --name NAME   delete a key (every instance
                          refuses it within 5 s)
  callfilter version
  callfilter trivial-server [--listen 127.0.0.1:8081]
                          a bare Fiber JSON handler: the baseline of load tests

Environment: CALLFILTER_LISTEN, CALLFILTER_STORE_PATH, CALLFILTER_HMAC_SECRET,
CALLFILTER_RULES, CALLFILTER_LOG_LEVEL, CALLFILTER_ADMIN_KEY (an admin API key).
`

// run is main with its outside world passed in, so tests can drive it.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serveCmd(args, stderr)
	case "import":
		err = importCmd(args, stdout, stderr)
	case "import-reassigned":
		err = importReassignedCmd(args, stdout, stderr)
	case "check-config":
		err = checkConfigCmd(args, stdout, stderr)
	case "scrub":
		err = scrubCmd(args, stdout, stderr)
	case "audit":
		err = auditCmd(args, stdout, stderr)
	case "keys":
		err = keysCmd(args, stdout, stderr)
	case "gen":
		err = genCmd(args, stdout, stderr)
	case "trivial-server":
		err = trivialCmd(args, stderr)
	case "version":
		fmt.Fprintln(stdout, "callfilter", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "callfilter: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "callfilter:", err)
		return 1
	}
	return 0
}

func flags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := fs.String("config", "config.yaml", "configuration file")
	return fs, cfg
}

func serveCmd(args []string, stderr io.Writer) error {
	fs, cfgPath := flags("serve", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	m := NewMain(cfg, stderr)
	if err := m.Open(ctx); err != nil {
		m.Close()
		return err
	}
	runErr := m.Run(ctx)
	if err := m.Close(); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

func checkConfigCmd(args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := flags("check-config", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	rs, err := loadRules(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "config %s is valid; rules %s version %s\n", *cfgPath, cfg.path(cfg.Rules), rs.Version)
	return nil
}
