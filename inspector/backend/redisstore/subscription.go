package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// subscription is a keyevent subscription read without go-redis' PubSub. go-redis
// dials the connection and runs its handshake (TLS, AUTH or HELLO with the ACL user
// and any credentials provider, SELECT, the OnConnect hook), exactly as for the
// store's other connections; then the subscription takes the connection over, sends
// PSUBSCRIBE and parses what arrives in place (resp.go). That saves an allocation of
// a message and three strings per notification, and a goroutine hop.
//
// It also says which notifications came in one read from the socket. Redis writes all
// the notifications of one command in one write, so a notification that needed no new
// read came with the one before it (backend.CommandGrouper). Timing the receive (as
// once) failed whenever the reader was descheduled between two messages of one command.
//
// Only the goroutine that calls receive uses a subscription, until Close.
type subscription struct {
	opts    *redis.Options
	pattern string

	client *redis.Client // the handshake's client; closing it closes conn
	conn   net.Conn      // the connection taken over, nil when not connected

	buf  []byte // read buffer: buf[r:w] holds bytes not parsed yet
	r, w int

	deadline time.Time // the read deadline set on conn
	lastRead time.Time // when the last read returned data
	pingSent time.Time // when the unanswered health-check PING went out, zero if none

	closeOnce sync.Once
}

// notification is one frame of the subscription that its reader acts on. Channel and
// Payload alias the read buffer: they are valid until the next receive.
type notification struct {
	Kind    frameKind // frameMessage or frameSubscribed
	Channel []byte
	Payload []byte
	// At is when the read that brought the frame returned.
	At time.Time
	// Buffered says the frame had begun to arrive with the frame before it: the read
	// that brought that one brought this one too, or the start of it.
	Buffered bool
}

// Health check of a silent subscription: a PING after pingAfter without data, and the
// connection given up as dead when nothing answers within pingWait. A subscription on
// an idle server is silent; only a PING tells a live connection from a peer that
// vanished without closing it.
const (
	pingAfter = 30 * time.Second
	pingWait  = 30 * time.Second
)

// readBufferSize is the read buffer's starting size; it grows for a larger frame, up
// to maxFrame. Under load Redis writes a burst of notifications at once, and the more
// one read takes in, the fewer reads (and syscalls) per notification.
const readBufferSize = 64 << 10

// subscribe prepares the pattern subscription with opts' address, credentials and
// TLS. It connects on the first receive, whose result is the confirmation.
func subscribe(_ context.Context, opts *redis.Options, pattern string) *subscription {
	return &subscription{opts: opts, pattern: pattern}
}

// connect dials with go-redis, lets it run the handshake on the connection, takes the
// connection over and sends PSUBSCRIBE.
func (s *subscription) connect(ctx context.Context) error {
	var (
		mu     sync.Mutex
		dialed net.Conn
	)
	dial := redis.NewDialer(s.opts)
	o := *s.opts
	o.PoolSize, o.MinIdleConns, o.MaxRetries = 1, 0, -1
	o.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err == nil {
			mu.Lock()
			dialed = c
			mu.Unlock()
		}
		return c, err
	}
	client := redis.NewClient(&o)
	// An ephemeral connection: go-redis never hands it to another caller, so once
	// the handshake is done nothing but this subscription reads or writes it.
	cn := client.EphemeralConn()
	if err := cn.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return err
	}
	mu.Lock()
	conn := dialed
	mu.Unlock()
	if conn == nil {
		_ = client.Close()
		return errors.New("redis backend: subscription: go-redis connected without dialing")
	}
	cmd := fmt.Appendf(nil, "*2\r\n$10\r\nPSUBSCRIBE\r\n$%d\r\n%s\r\n", len(s.pattern), s.pattern)
	_ = conn.SetWriteDeadline(time.Now().Add(o.DialTimeout + 5*time.Second))
	if _, err := conn.Write(cmd); err != nil {
		_ = client.Close()
		return fmt.Errorf("redis backend: send PSUBSCRIBE: %w", err)
	}
	_ = conn.SetWriteDeadline(time.Time{})
	s.client, s.conn = client, conn
	if s.buf == nil {
		s.buf = make([]byte, readBufferSize)
	}
	s.r, s.w = 0, 0
	s.deadline, s.pingSent = time.Time{}, time.Time{}
	s.lastRead = time.Now()
	return nil
}

// disconnect drops the connection; the next receive connects and subscribes again.
func (s *subscription) disconnect() {
	if s.client != nil {
		_ = s.client.Close()
	}
	s.client, s.conn = nil, nil
	s.r, s.w = 0, 0
}

// replyError is an error reply of the server, such as the NOPERM of an ACL that does
// not allow the channel pattern.
type replyError string

func (e replyError) Error() string { return string(e) }

// RedisError marks it as Redis' own answer, as go-redis' errors are (redis.Error).
func (replyError) RedisError() {}

var _ redis.Error = replyError("")

// timeoutError is what receive returns when nothing arrived within its timeout.
type timeoutError struct{}

func (timeoutError) Error() string {
	return "redis backend: subscription: no message within the timeout"
}
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

var _ net.Error = timeoutError{}

// receive returns the next notification or subscription confirmation, connecting
// first if needed. It returns a net.Error whose Timeout is true when nothing arrived
// within timeout (the connection stays up); any other error dropped the connection,
// and the next receive reconnects and resubscribes, which its confirmation says.
func (s *subscription) receive(ctx context.Context, timeout time.Duration) (notification, error) {
	if err := ctx.Err(); err != nil {
		return notification{}, err
	}
	if s.conn == nil {
		if err := s.connect(ctx); err != nil {
			return notification{At: time.Now()}, err
		}
	}
	// fresh: no byte of the frame returned was in the buffer before a read that this
	// receive waited for. A frame begun by an earlier read (the read ended inside it)
	// came in the same write as the frame before it, as much as one read whole.
	fresh := false
	for {
		if s.r < s.w {
			f, n, err := parseFrame(s.buf[s.r:s.w])
			switch {
			case err == nil:
				s.r += n
				switch f.Kind {
				case frameMessage, frameSubscribed:
					return notification{Kind: f.Kind, Channel: f.Channel, Payload: f.Payload, At: s.lastRead, Buffered: !fresh}, nil
				case frameError:
					err := replyError(string(f.Text))
					s.disconnect()
					return notification{At: time.Now()}, err
				}
				continue // a PONG, an unsubscribe, a push of another kind
			case !errors.Is(err, errIncomplete):
				s.disconnect()
				return notification{At: time.Now()}, fmt.Errorf("redis backend: subscription: %w", err)
			}
		}
		fresh = fresh || s.r == s.w
		if err := s.fill(timeout); err != nil {
			var netErr net.Error
			if errors.As(err, &netErr) && netErr.Timeout() {
				return notification{At: time.Now()}, timeoutError{}
			}
			s.disconnect()
			return notification{At: time.Now()}, err
		}
	}
}

// fill makes room in the buffer and reads once from the connection, sending the
// health-check PING or giving the connection up when it has been silent too long.
func (s *subscription) fill(timeout time.Duration) error {
	now := time.Now()
	if err := s.checkHealth(now); err != nil {
		return err
	}
	if s.r == s.w {
		s.r, s.w = 0, 0
	} else if s.r > 0 {
		s.w = copy(s.buf, s.buf[s.r:s.w])
		s.r = 0
	}
	if s.w == len(s.buf) {
		if len(s.buf) >= maxFrame {
			return fmt.Errorf("redis backend: subscription: %w: a frame longer than %d bytes", errProtocol, maxFrame)
		}
		grown := make([]byte, min(2*len(s.buf), maxFrame))
		copy(grown, s.buf[:s.w])
		s.buf = grown
	}
	// Re-arming the deadline costs a timer update: do it only when the one set is
	// about to run out, so that most reads under load set none.
	if s.deadline.Sub(now) < timeout/2 {
		s.deadline = now.Add(timeout)
		if err := s.conn.SetReadDeadline(s.deadline); err != nil {
			return err
		}
	}
	// No pause to let small reads gather, though it saved CPU while keeping up: a
	// notification's time is taken when its read returns, and a pause would date a
	// session write later than it happened, which can join it to the app's next
	// request instead of the one that wrote it.
	n, err := s.conn.Read(s.buf[s.w:])
	if n > 0 {
		s.w += n
		s.lastRead = time.Now()
		s.pingSent = time.Time{}
		return nil
	}
	if err == nil {
		err = errors.New("redis backend: subscription: empty read")
	}
	return err
}

// checkHealth sends a PING when the subscription has been silent for pingAfter, and
// reports the connection dead when that PING went unanswered for pingWait.
func (s *subscription) checkHealth(now time.Time) error {
	switch {
	case !s.pingSent.IsZero():
		if now.Sub(s.pingSent) >= pingWait {
			return fmt.Errorf("redis backend: subscription: no answer to PING in %s", pingWait)
		}
	case now.Sub(s.lastRead) >= pingAfter:
		_ = s.conn.SetWriteDeadline(now.Add(pingWait))
		if _, err := s.conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
			return fmt.Errorf("redis backend: subscription: PING: %w", err)
		}
		_ = s.conn.SetWriteDeadline(time.Time{})
		s.pingSent = now
	}
	return nil
}

// Receive waits for the subscription's confirmation (or its refusal): the first
// receive, as Run and watchNode use it.
func (s *subscription) Receive(ctx context.Context) (notification, error) {
	for {
		n, err := s.receive(ctx, time.Second)
		if err != nil {
			var netErr net.Error
			if errors.As(err, &netErr) && netErr.Timeout() && ctx.Err() == nil {
				continue
			}
			return n, err
		}
		if n.Kind == frameSubscribed {
			return n, nil
		}
	}
}

// Close ends the subscription and its connection.
func (s *subscription) Close() error {
	s.closeOnce.Do(s.disconnect)
	return nil
}
