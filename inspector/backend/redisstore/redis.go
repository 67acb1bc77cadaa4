// Package redisstore watches a Redis session store: keyspace notifications for live
// events, SCAN for the inventory of existing sessions, and budgeted, pipelined reads of
// payloads. It never writes unless asked to merge the notification flags, and it never
// uses KEYS or MONITOR.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// Config configures a Redis store.
type Config struct {
	URL                    string             // redis://, rediss:// or unix:// URL
	Matcher                *framework.Matcher // which keys are sessions
	ConfigureNotifications bool               // merge missing flags with CONFIG SET
	ScanCount              int64              // SCAN COUNT hint; default 1000
	MaxPayloadBytes        int                // default 64 KiB
	ProbeWindow            time.Duration      // how long to wait for events when CONFIG is refused; default 10 s
	Mode                   string             // ModeAuto (default), ModeNotify or ModePoll
	PollInterval           time.Duration      // time between SCAN passes in poll mode; default 2 s
	ReadBudget             float64            // payload reads per second poll mode may spend on digests; default 1000, negative unlimited
	Logger                 *slog.Logger
}

// Store is a watched Redis.
type Store struct {
	cfg     Config
	opts    *redis.Options
	client  *redis.Client
	db      int
	node    string
	display string

	mu      sync.Mutex
	notif   model.Notifications
	version string
	mode    string // ModeNotify or ModePoll once Run has chosen
}

// quietLibrary routes go-redis's own log lines (dial retries, pool messages) to slog at
// debug level: a user gets one clear line from sessionscope, not the library's noise.
// go-redis only offers a process-wide logger, hence the Once.
var quietLibrary sync.Once

type libLogger struct{ log *slog.Logger }

func (l libLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug("go-redis", "msg", fmt.Sprintf(format, v...))
}

// ErrConnect is wrapped by every error that means sessionscope could not attach.
var ErrConnect = errors.New("cannot attach to Redis")

// Open parses the URL and connects, returning one clear error line when the URL is
// malformed, Redis is unreachable or the credentials are refused.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.ScanCount <= 0 {
		cfg.ScanCount = 1000
	}
	if cfg.MaxPayloadBytes <= 0 {
		cfg.MaxPayloadBytes = 64 << 10
	}
	if cfg.ProbeWindow <= 0 {
		cfg.ProbeWindow = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	quietLibrary.Do(func() { redis.SetLogger(libLogger{log: cfg.Logger}) })
	opts, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed --redis URL %q: %v; use redis://[user:password@]host:port/db, rediss://… for TLS or unix:///path/to/redis.sock?db=N",
			ErrConnect, Redact(cfg.URL), err)
	}
	// Reads are small and pipelined; a pool of a few connections is plenty and keeps
	// sessionscope's footprint on the watched server small.
	opts.PoolSize = 4
	opts.MaxRetries = 1
	opts.DialTimeout = 5 * time.Second
	opts.ReadTimeout = 10 * time.Second
	s := &Store{cfg: cfg, opts: opts, db: opts.DB, display: Redact(cfg.URL)}
	s.node = opts.Addr
	s.client = redis.NewClient(opts)
	pingCtx, cancel := context.WithTimeout(ctx, 6*time.Second)
	defer cancel()
	if err := s.client.Ping(pingCtx).Err(); err != nil {
		_ = s.client.Close()
		return nil, fmt.Errorf("%w: %s", ErrConnect, ExplainConnError(s.display, opts.Addr, err))
	}
	return s, nil
}

// Close releases the connections.
func (s *Store) Close() error { return s.client.Close() }

// Name implements backend.Store.
func (s *Store) Name() string { return "redis" }

// Describe implements backend.Store: the URL with its password hidden.
func (s *Store) Describe() string { return s.display }

// Node is the address events from this store carry.
func (s *Store) Node() string { return s.node }

// Notifications returns the flags found at start.
func (s *Store) Notifications() model.Notifications {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notif
}

// Redact hides the password of a Redis URL.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if err != nil {
			return "(unparseable URL)"
		}
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// ExplainConnError turns a connection error into one line saying what failed and what
// to do next.
func ExplainConnError(display, addr string, err error) string {
	msg := err.Error()
	var netErr net.Error
	switch {
	case strings.Contains(msg, "WRONGPASS"), strings.Contains(msg, "invalid password"),
		strings.Contains(msg, "invalid username-password"):
		return fmt.Sprintf("Redis at %s refused the credentials (%s): check the user and password in --redis or REDIS_URL", addr, firstLine(msg))
	case strings.Contains(msg, "NOAUTH"):
		return fmt.Sprintf("Redis at %s requires a password: put it in the URL, e.g. redis://:PASSWORD@%s/0", addr, addr)
	case strings.Contains(msg, "NOPERM"):
		return fmt.Sprintf("Redis at %s refused the connection handshake for this user (%s): the user needs +@connection", addr, firstLine(msg))
	case strings.Contains(msg, "connection refused"):
		return fmt.Sprintf("cannot reach Redis at %s: connection refused; is redis-server running there? Check --redis or REDIS_URL (%s)", addr, display)
	case strings.Contains(msg, "no such host"):
		return fmt.Sprintf("cannot resolve the Redis host in %s: check the host name in --redis or REDIS_URL", display)
	case strings.Contains(msg, "no such file or directory"):
		return fmt.Sprintf("no Redis socket at %s: check the unix:// path in --redis", addr)
	case strings.Contains(msg, "certificate"), strings.Contains(msg, "tls:"):
		return fmt.Sprintf("TLS handshake with Redis at %s failed (%s): check rediss:// and the server's certificate", addr, firstLine(msg))
	case errors.As(err, &netErr) && netErr.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("Redis at %s did not answer within 6 s: check the address, firewall and whether TLS (rediss://) is needed", addr)
	}
	return fmt.Sprintf("cannot talk to Redis at %s: %s", addr, firstLine(msg))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Run implements backend.Store: check notifications, subscribe, inventory, then stream
// until ctx ends. It returns nil when ctx is cancelled.
func (s *Store) Run(ctx context.Context, feed backend.Feed) error {
	notif, refused := s.checkNotifications(ctx)
	mode, warning := s.chooseMode(notif)
	s.mu.Lock()
	s.notif = notif
	s.mode = mode
	s.mu.Unlock()
	if mode == ModePoll {
		return s.runPoll(ctx, feed, warning)
	}
	s.sendStatus(feed, model.StateConnecting, nil, "")

	ps := s.client.PSubscribe(ctx, fmt.Sprintf("__keyevent@%d__:*", s.db))
	defer ps.Close()
	// Wait for the subscription to be confirmed before the inventory starts, so that no
	// session written during the scan falls between the two.
	if _, err := ps.Receive(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("redis backend: psubscribe %s: %w", fmt.Sprintf("__keyevent@%d__:*", s.db), explainPerm(err, "+psubscribe and the channel pattern __keyevent@*"))
	}
	queue := backend.NewQueue(feed.Raw, s.node)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		s.readLoop(ctx, ps, queue, feed, refused)
	}()

	s.sendStatus(feed, model.StateInventory, &model.Inventory{}, "")
	inv, err := s.inventory(ctx, feed)
	if err != nil && ctx.Err() == nil {
		s.cfg.Logger.Warn("inventory failed", "err", err)
		s.sendStatus(feed, model.StateLive, inv, "inventory failed: "+err.Error())
	} else if ctx.Err() == nil {
		inv.Done = true
		s.sendStatus(feed, model.StateLive, inv, "")
	}
	<-readerDone
	return nil
}

func (s *Store) sendStatus(feed backend.Feed, state string, inv *model.Inventory, msg string) {
	s.mu.Lock()
	n := s.notif
	mode := s.mode
	s.mu.Unlock()
	st := model.Status{Type: model.TypeStatus, Time: time.Now(), Backend: s.Name(), Node: s.node, State: state, Mode: mode,
		Notifications: &n, Inventory: inv, Message: msg}
	select {
	case feed.Status <- st:
	default:
		// Status is advisory and the next one supersedes it; never block the store on it.
	}
}

// readLoop is the one goroutine that drains the subscription. It only parses and
// enqueues; everything slow happens downstream.
func (s *Store) readLoop(ctx context.Context, ps *redis.PubSub, q *backend.Queue, feed backend.Feed, probe bool) {
	prefix := fmt.Sprintf("__keyevent@%d__:", s.db)
	var (
		disconnectedAt time.Time
		probeUntil     time.Time
		sawEvent       bool
	)
	if probe {
		probeUntil = time.Now().Add(s.cfg.ProbeWindow)
	}
	for {
		msg, err := ps.ReceiveTimeout(ctx, time.Second)
		now := time.Now()
		if ctx.Err() != nil {
			return
		}
		if probe && !probeUntil.IsZero() && now.After(probeUntil) {
			probeUntil = time.Time{}
			if !sawEvent {
				s.sendStatus(feed, model.StateLive, nil, fmt.Sprintf(
					"no keyspace events arrived in %s: either notifications are off on this server or the app was idle; sessionscope keeps listening", s.cfg.ProbeWindow))
			}
		}
		if err != nil {
			var netErr net.Error
			if errors.As(err, &netErr) && netErr.Timeout() {
				q.Flush(now)
				continue
			}
			if disconnectedAt.IsZero() {
				disconnectedAt = now
				s.sendStatus(feed, model.StateDisconnected, nil, "lost the connection to Redis: "+firstLine(err.Error())+"; reconnecting")
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if !disconnectedAt.IsZero() {
				// go-redis resubscribed after a reconnect: whatever was published in
				// between is lost, because Pub/Sub is fire-and-forget.
				q.PushGap(disconnectedAt, now, "disconnected from Redis")
				disconnectedAt = time.Time{}
				s.sendStatus(feed, model.StateLive, nil, "reconnected to Redis")
			}
		case *redis.Message:
			if probe && !sawEvent {
				sawEvent = true
				if !probeUntil.IsZero() {
					s.sendStatus(feed, model.StateLive, nil, "keyspace events are arriving: notifications are on")
				}
			}
			name, ok := strings.CutPrefix(m.Channel, prefix)
			if !ok {
				continue
			}
			op, ok := backend.ParseOp(name)
			if !ok {
				continue
			}
			if _, ok := s.cfg.Matcher.Match(m.Payload); !ok {
				continue
			}
			q.Push(backend.RawEvent{Time: now, Op: op, Key: m.Payload, Node: s.node})
		}
	}
}

// Dropped reports nothing here; the tracker counts gaps from the queue's gap events.

// explainPerm names the ACL permission a refused command needs.
func explainPerm(err error, need string) error {
	if err != nil && strings.Contains(err.Error(), "NOPERM") {
		return fmt.Errorf("%w (the Redis user lacks a permission: grant %s)", err, need)
	}
	return err
}
