package traffic

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// TestProxyTimeouts: the proxy closes slow-header and idle keep-alive connections,
// yet a response that streams for longer than those timeouts reaches the client whole.
func TestProxyTimeouts(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/stream" {
			io.WriteString(w, "ok")
			return
		}
		io.WriteString(w, "first;")
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "last")
	}))
	defer up.Close()
	defer close(release) // before up.Close, which waits for the handler

	p, err := NewProxy(ProxyConfig{Upstreams: []*url.URL{mustURL(t, up.URL)}})
	if err != nil {
		t.Fatal(err)
	}
	short := 300 * time.Millisecond
	p.headerTimeout, p.idleTimeout = short, short
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	addr := ln.Addr().String()

	const guard = 20 * time.Second // far above the timeouts: reaching it means the proxy held on
	dial := func() net.Conn {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		_ = conn.SetDeadline(time.Now().Add(guard))
		return conn
	}
	waitClosed := func(r io.Reader, what string) {
		t.Helper()
		if _, err := io.ReadAll(r); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%s: the proxy still holds the connection after %v", what, guard)
		}
	}

	// The stream starts first; it must outlive everything below.
	stream := dial()
	if _, err := io.WriteString(stream, "GET /stream HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	sr := bufio.NewReader(stream)
	resp, err := http.ReadResponse(sr, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, len("first;"))
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatalf("stream start: %v", err)
	}

	slow := dial()
	go func() {
		for _, b := range []byte("GET / HTTP/1.1\r\nHost: " + addr + "\r\nX-Slow: " + strings.Repeat("a", 1000)) {
			if _, err := slow.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond) // the attack itself: one byte at a time
		}
	}()
	waitClosed(slow, "slow headers")

	idle := dial()
	if _, err := io.WriteString(idle, "GET / HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	ir := bufio.NewReader(idle)
	iresp, err := http.ReadResponse(ir, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, iresp.Body)
	if iresp.Close {
		t.Fatal("the proxy closed a keep-alive connection at once; want it kept until idle")
	}
	waitClosed(ir, "idle keep-alive")

	// Both timeouts have passed (the connections above were cut): the stream goes on.
	release <- struct{}{}
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "last" {
		t.Fatalf("stream end: %q, %v; want the whole body", rest, err)
	}
}
