package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// PreloadChunk is how many numbers one list request carries.
const PreloadChunk = 10_000

// Preload adds numbers to the do-not-call list on target (a base URL), in
// chunks of PreloadChunk. key needs the officer or admin role. It stops at
// the first refused chunk.
func Preload(ctx context.Context, target, key, list string, numbers []string) error {
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("preload: target %q: %v", target, err)
	}
	u.Path = "/v1/lists/" + url.PathEscape(list) + "/numbers"
	client := &http.Client{Timeout: time.Minute}
	for lo := 0; lo < len(numbers); lo += PreloadChunk {
		hi := min(lo+PreloadChunk, len(numbers))
		body, err := json.Marshal(map[string][]string{"numbers": numbers[lo:hi]})
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("preload %s [%d:%d]: %w", list, lo, hi, err)
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("preload %s [%d:%d]: %s: %s", list, lo, hi, resp.Status, strings.TrimSpace(string(msg)))
		}
	}
	return nil
}

// TrivialHandler answers like /v1/check and /v1/check/batch without doing
// any work ({"decision":"allow","reasons":[]} per item), so a run against it
// measures the generator's own ceiling: the baseline of a real run.
func TrivialHandler(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	switch string(ctx.Path()) {
	case "/healthz", "/readyz":
		ctx.SetBodyString(`{"status":"ok"}`)
	case "/v1/check":
		ctx.SetBodyString(`{"decision":"allow","reasons":[]}`)
	case "/v1/check/batch":
		// Decoding the items is the least a batch answer needs: the
		// answer must have one result per item.
		var in struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(ctx.PostBody(), &in); err != nil {
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			ctx.SetBodyString(`{"error":{"code":"invalid_json","message":"bad batch"}}`)
			return
		}
		var b bytes.Buffer
		b.WriteString(`{"results":[`)
		for i := range in.Items {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"decision":"allow","reasons":[]}`)
		}
		b.WriteString(`]}`)
		ctx.SetBody(b.Bytes())
	default:
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		ctx.SetBodyString(`{"error":{"code":"not_found","message":"no such route"}}`)
	}
}

// ServeTrivial serves TrivialHandler on addr (loopback only) until ctx is
// done. ready, if not nil, receives the bound address once listening. It
// returns when the server has stopped.
func ServeTrivial(ctx context.Context, addr string, ready func(net.Addr)) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("trivial server: %v", err)
	}
	if !isLoopback(host) {
		return fmt.Errorf("trivial server: %q is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("trivial server: %v", err)
	}
	srv := &fasthttp.Server{Handler: TrivialHandler, Name: "callfilter-loadtest-trivial"}
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }() // stopped by Shutdown below
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		if err := srv.Shutdown(); err != nil {
			return err
		}
		return <-errc
	}
}
