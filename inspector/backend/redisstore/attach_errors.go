package redisstore

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// explainAttachError words the attach failures that need a second look at the server
// to say what to do: a db number the server does not have (how many does it have?),
// and a port that is not Redis at all (is it HTTP, TLS, something else?). It returns
// "" when err is none of these, for the general explanations to take over.
func explainAttachError(ctx context.Context, opts *redis.Options, err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "DB index is out of range"):
		return dbOutOfRange(ctx, opts)
	case strings.Contains(msg, "SELECT is not allowed in cluster mode"):
		return fmt.Sprintf("Redis at %s is a cluster node, and a cluster has only database 0: use /0 at the end of --redis", opts.Addr)
	}
	if opts.TLSConfig != nil || !mayNotBeRedis(err) {
		return ""
	}
	switch kind := probeProtocol(ctx, opts.Network, opts.Addr); kind {
	case "redis":
		return ""
	case "TLS":
		return fmt.Sprintf("the server at %s speaks TLS on that port: use rediss:// in --redis (with --tls-ca if its certificate is not signed by a CA this machine trusts)", opts.Addr)
	case "":
		return fmt.Sprintf("the server at %s closed the connection without answering like Redis: check the host and port in --redis (Redis listens on 6379 by default)", opts.Addr)
	default:
		return notRedis(opts.Addr, kind)
	}
}

// notRedis is the line for a port that answered, but not as Redis does.
func notRedis(addr, kind string) string {
	return fmt.Sprintf("the server at %s did not answer like Redis (it looks like %s): --redis must name the Redis server's port (6379 by default), not the app's or another service's; check the host and port", addr, kind)
}

// mayNotBeRedis reports whether err is what the client says when the other end does
// not speak RESP: a reply it cannot parse, or a connection closed during the handshake.
func mayNotBeRedis(err error) bool {
	msg := err.Error()
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(msg, "invalid reply") || strings.Contains(msg, "can't parse") ||
		strings.Contains(msg, "connection reset")
}

// dbOutOfRange says that the db in the URL does not exist, and how many the server
// has when it is allowed to say (CONFIG GET databases, from database 0).
func dbOutOfRange(ctx context.Context, opts *redis.Options) string {
	head := fmt.Sprintf("Redis at %s has no database %d (ERR DB index is out of range)", opts.Addr, opts.DB)
	fix := "change the number at the end of --redis (redis://host:port/N, or ?db=N for unix://)"
	o := *opts
	o.DB, o.OnConnect, o.PoolSize, o.MaxRetries = 0, nil, 1, 0
	c := redis.NewClient(&o)
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	vals, err := c.ConfigGet(ctx, "databases").Result()
	n, convErr := strconv.Atoi(vals["databases"])
	if err != nil || convErr != nil || n < 1 {
		why := "no answer"
		if err != nil {
			why = firstLine(err.Error())
		}
		return fmt.Sprintf("%s; it would not say how many it has (CONFIG GET databases was refused: %s), the default being 16, numbered 0 to 15: %s, e.g. /0",
			head, why, fix)
	}
	if n == 1 {
		return fmt.Sprintf("%s: it has only database 0: %s to /0", head, fix)
	}
	return fmt.Sprintf("%s: it has %d, numbered 0 to %d: %s to one of them, e.g. /0", head, n, n-1, fix)
}

// probeProtocol looks at what listens on addr, for a connection that failed as if
// it were not Redis: it sends an inline PING and reads the first bytes of the answer.
// It returns "redis" for a RESP answer, a protocol's name (HTTP, TLS, SSH, ...) when
// the answer looks like one, "" when the server closed without a word.
func probeProtocol(ctx context.Context, network, addr string) string {
	if network == "" {
		network = "tcp"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return ""
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	_, _ = conn.Write([]byte("PING\r\n"))
	buf := make([]byte, 512)
	n, _ := io.ReadAtLeast(conn, buf, 1)
	_ = conn.Close()
	if kind := protocolOf(buf[:n]); kind != "" {
		return kind
	}
	if network == "tcp" && speaksTLS(ctx, addr) {
		return "TLS"
	}
	return ""
}

// protocolOf names the protocol a server's first bytes belong to; "" when there are
// none.
func protocolOf(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	lower := bytes.ToLower(b)
	switch {
	case strings.ContainsRune("+-$*:%_#,(!=~>|", rune(b[0])):
		return "redis"
	case bytes.HasPrefix(b, []byte("HTTP/")), bytes.Contains(lower, []byte("<html")), bytes.Contains(lower, []byte("<!doctype")):
		return "HTTP"
	case b[0] == 0x15 || b[0] == 0x16: // a TLS alert or handshake record
		return "TLS"
	case bytes.HasPrefix(b, []byte("SSH-")):
		return "SSH"
	case bytes.HasPrefix(b, []byte("220")):
		return "an SMTP or FTP server"
	}
	return fmt.Sprintf("another protocol, answering %q", truncateBytes(b, 24))
}

func truncateBytes(b []byte, n int) string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	if len(line) > n {
		return string(line[:n]) + "…"
	}
	return string(bytes.TrimRight(line, "\r"))
}

// speaksTLS reports whether addr completes (or refuses with a TLS alert) a TLS
// handshake: certificates are not checked, this only asks which protocol it is.
func speaksTLS(ctx context.Context, addr string) bool {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer raw.Close()
	host, _, _ := net.SplitHostPort(addr)
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, ServerName: host}) //nolint:gosec // a protocol probe: no data is exchanged
	err = c.HandshakeContext(ctx)
	var alert tls.AlertError
	return err == nil || errors.As(err, &alert) || strings.Contains(fmt.Sprint(err), "remote error: tls")
}
