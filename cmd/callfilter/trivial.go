package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os/signal"
	"syscall"

	"callfilter/api"
)

// trivialCmd serves the load tests' baseline until SIGINT or SIGTERM. It logs
// the "serving" line as serve does, so scripts find its address the same way.
func trivialCmd(args []string, stderr io.Writer) error {
	fs, _ := flags("trivial-server", stderr)
	listen := fs.String("listen", "127.0.0.1:8081", "loopback address to serve on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	line, _ := json.Marshal(map[string]string{"msg": "serving", "addr": ln.Addr().String()})
	fmt.Fprintln(stderr, string(line))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); ln.Close() }()
	if err := api.ServeTrivial(ln); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
