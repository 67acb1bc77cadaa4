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
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

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
	ScanRate               float64            // keys per second SCAN may walk, per node (inventory, re-inventory, poll passes); 0 no limit
	MaxPayloadBytes        int                // default backend.DefaultMaxPayloadBytes
	ProbeWindow            time.Duration      // how long to wait for events when CONFIG is refused; default 10 s
	Mode                   string             // ModeAuto (default), ModeNotify or ModePoll
	PollInterval           time.Duration      // time between SCAN passes in poll mode; default 2 s
	ReadBudget             float64            // payload reads per second poll mode may spend on digests; default 1000, negative unlimited
	TLS                    TLSOptions         // CA, client certificate, server name for rediss://; default the system roots
	Cluster                bool               // watch a Redis Cluster; default false: detected from INFO cluster
	Nodes                  []string           // the cluster masters to follow (host:port as CLUSTER SLOTS names them); default all (see cluster_nodes.go)
	Logger                 *slog.Logger
}

// Store is a watched Redis.
type Store struct {
	cfg     Config
	opts    *redis.Options
	client  redis.UniversalClient // a *redis.ClusterClient on a cluster, which routes reads by slot
	db      int
	node    string
	display string

	mu      sync.Mutex
	notif   model.Notifications
	version string
	mode    string // ModeNotify or ModePoll once Run has chosen
	// flagsChange says what --configure-notifications did (flags before and after),
	// until the first status carries it.
	flagsChange string

	warnings []string // said once per start by the caller, e.g. TLS verification off
	// resume, set by Sentinel for a newly promoted master, replaces the first
	// inventory once the subscription is live: the failover is a gap to reconcile.
	resume func(ctx context.Context, feed backend.Feed)
	// rescan, set by the poller, is the re-inventory in poll mode: a poll pass, which
	// also becomes the state the next pass is diffed against. nil: inventory.
	rescan func(ctx context.Context, feed backend.Feed) (*model.Inventory, error)

	cluster *clusterState // nil unless the server is a cluster node (cluster.go)

	// scanPace spaces SCAN pages to cfg.ScanRate keys a second; nil: no limit.
	scanPace *rate.Limiter

	noTouch *noTouch // whether this store's connections leave LRU/LFU alone
}

// noTouch makes every connection sessionscope opens leave the keys' LRU/LFU state
// alone, where the server can (CLIENT NO-TOUCH, Redis 7.2+). Without it, STRLEN,
// GETRANGE, HLEN and HGETALL refresh a session key's idle time and raise its LFU
// counter: an observer would decide what Redis evicts under maxmemory. The server's
// version is read once, on the first connection.
type noTouch struct {
	log     *slog.Logger
	mu      sync.Mutex
	known   bool // the version question is settled (answered, or refused by the server)
	version string
	on      atomic.Bool // the server has CLIENT NO-TOUCH
	failed  sync.Once
}

// onConnect is the go-redis OnConnect hook. A server or ACL that refuses INFO or
// NO-TOUCH still serves reads, only without the guarantee, so a refusal never fails
// the connection; a broken connection does, so that what broke it (a TLS handshake
// the server rejected, say) is what the user is told.
func (n *noTouch) onConnect(ctx context.Context, cn *redis.Conn) error {
	n.mu.Lock()
	if !n.known {
		info, err := cn.Info(ctx, "server").Result()
		var refused redis.Error
		switch {
		case err == nil:
			n.known = true
			n.version = infoField(info, "redis_version")
			n.on.Store(versionAtLeast(n.version, 7, 2))
		case errors.As(err, &refused):
			n.known = true
			n.log.Debug("redis backend: INFO server refused; reads may refresh LRU/LFU", "err", err)
		default:
			n.mu.Unlock()
			return err
		}
	}
	n.mu.Unlock()
	if !n.on.Load() {
		return nil
	}
	if err := cn.Process(ctx, redis.NewStatusCmd(ctx, "client", "no-touch", "on")); err != nil {
		n.failed.Do(func() {
			n.log.Warn("redis backend: CLIENT NO-TOUCH refused; sessionscope's reads refresh the LRU/LFU state of session keys (grant +client|no-touch)",
				"err", err)
		})
	}
	return nil
}

// Active reports whether the connections run with CLIENT NO-TOUCH ON; known once a
// connection has been made (Open makes one).
func (n *noTouch) Active() bool { return n.on.Load() }

// NoTouch reports whether sessionscope's reads leave session keys' LRU/LFU state
// alone (Redis 7.2 and later, CLIENT NO-TOUCH). Older servers' STRLEN, GETRANGE, HLEN
// and HGETALL refresh it; PTTL, TYPE and SCAN do not.
func (s *Store) NoTouch() bool { return s.noTouch != nil && s.noTouch.Active() }

// infoField returns one field of an INFO reply.
func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

// versionAtLeast compares a Redis version string ("7.2.4") with major.minor.
func versionAtLeast(v string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(v, "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// newScanPace is the limiter for cfg.ScanRate, nil for no limit. Each Store (each
// cluster master) has its own: the rate is per node.
func newScanPace(cfg Config) *rate.Limiter {
	if cfg.ScanRate <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(cfg.ScanRate), int(max(cfg.ScanCount, 1)))
}

// paceScan waits until n more scanned keys fit in the scan rate. Each key a scan
// walks costs Redis a lookup now and a PTTL and a size read next; at full speed an
// inventory of a million keys keeps a core of Redis busy for seconds, which a user
// watching a busy production Redis may not want to spend at once.
func (s *Store) paceScan(ctx context.Context, n int) error {
	if s.scanPace == nil {
		return nil
	}
	for burst := s.scanPace.Burst(); n > 0; n -= burst {
		if err := s.scanPace.WaitN(ctx, min(n, burst)); err != nil {
			return err
		}
	}
	return nil
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
		cfg.MaxPayloadBytes = backend.DefaultMaxPayloadBytes
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
	if err := applyTLS(opts, cfg.TLS); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConnect, err)
	}
	opts.PoolSize = 4
	opts.MaxRetries = 1
	opts.DialTimeout = 5 * time.Second
	opts.ReadTimeout = 10 * time.Second
	nt := &noTouch{log: cfg.Logger}
	opts.OnConnect = nt.onConnect
	s := &Store{cfg: cfg, opts: opts, db: opts.DB, display: Redact(cfg.URL), scanPace: newScanPace(cfg), noTouch: nt}
	s.node = opts.Addr
	if opts.TLSConfig != nil && opts.TLSConfig.InsecureSkipVerify {
		s.warnings = append(s.warnings, insecureWarning(opts.Addr))
		// Debug only: the caller prints Warnings() as the one user-facing line.
		cfg.Logger.Debug("TLS certificate verification is off", "addr", opts.Addr)
	}
	s.client = redis.NewClient(opts)
	pingCtx, cancel := context.WithTimeout(ctx, 6*time.Second)
	defer cancel()
	if err := s.client.Ping(pingCtx).Err(); err != nil {
		_ = s.client.Close()
		if msg := explainAttachError(ctx, opts, err); msg != "" {
			return nil, fmt.Errorf("%w: %s", ErrConnect, msg)
		}
		if msg := explainTLSError(opts.Addr, opts, cfg.TLS, err); msg != "" {
			return nil, fmt.Errorf("%w: %s", ErrConnect, msg)
		}
		return nil, fmt.Errorf("%w: %s", ErrConnect, ExplainConnError(s.display, opts.Addr, err))
	}
	if err := s.detectCluster(pingCtx); err != nil {
		_ = s.client.Close()
		return nil, fmt.Errorf("%w: %w", ErrConnect, err)
	}
	return s, nil
}

// Warnings are lines the caller must show on every start, such as TLS verification
// being off; nil when there is nothing to warn about.
func (s *Store) Warnings() []string { return s.warnings }

// Close releases the connections.
func (s *Store) Close() error {
	if cs := s.cluster; cs != nil {
		cs.mu.Lock()
		for _, c := range cs.redirects {
			_ = c.Close()
		}
		cs.redirects = nil
		cs.mu.Unlock()
	}
	return s.client.Close()
}

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
	case strings.Contains(msg, "DB index is out of range"):
		return fmt.Sprintf("Redis at %s has no such database (ERR DB index is out of range): change the number at the end of the URL (%s), e.g. /0; a default Redis has 16, numbered 0 to 15", addr, display)
	case strings.Contains(msg, "HTTP/"), strings.Contains(strings.ToLower(msg), "<html"), strings.Contains(strings.ToLower(msg), "<!doctype"):
		return notRedis(addr, "HTTP")
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
	if s.cluster != nil {
		return s.runCluster(ctx, feed)
	}
	notif, refused := s.checkNotifications(ctx)
	mode, warning := s.chooseMode(notif)
	s.mu.Lock()
	s.notif = notif
	s.mode = mode
	s.mu.Unlock()
	if mode == ModePoll {
		return s.runPoll(ctx, feed, warning)
	}
	if change := s.takeFlagsChange(); change != "" {
		s.sendDone(ctx, feed, model.StateConnecting, nil, change) // the user asked for the change: it must not be dropped
	} else {
		s.sendStatus(feed, model.StateConnecting, nil, "")
	}

	ps := subscribe(ctx, s.opts, fmt.Sprintf("__keyevent@%d__:*", s.db))
	defer ps.Close()
	// Wait for the subscription to be confirmed before the inventory starts, so that no
	// session written during the scan falls between the two.
	if _, err := ps.Receive(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		// Redis 7 matches a PSUBSCRIBE pattern against the user's channel patterns
		// literally, so &__keyevent@*__:* does not allow __keyevent@0__:*.
		return fmt.Errorf("redis backend: psubscribe %s: %w", fmt.Sprintf("__keyevent@%d__:*", s.db),
			explainPerm(err, fmt.Sprintf("+psubscribe and the channel pattern &__keyevent@%d__:*", s.db)))
	}
	queue := feed.Queue(ctx, s.node)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		s.readLoop(ctx, ps, queue, feed, refused)
	}()

	if s.resume != nil {
		s.resume(ctx, feed)
		s.resyncLoop(ctx, feed, queue)
		<-readerDone
		return nil
	}
	inv, err := s.twoPhaseInventory(ctx, feed, []*Store{s})
	if err != nil && ctx.Err() == nil {
		s.cfg.Logger.Warn("inventory failed", "err", err)
		s.sendStatus(feed, model.StateLive, inv, "inventory failed: "+err.Error())
	} else if ctx.Err() == nil {
		inv.Done = true
		s.sendDone(ctx, feed, model.StateLive, inv, "")
	}
	// Every gap (a reconnect, a queue overflow) may have hidden births and ends: the
	// node is re-inventoried until ctx ends.
	s.resyncLoop(ctx, feed, queue)
	<-readerDone
	return nil
}

func (s *Store) sendStatus(feed backend.Feed, state string, inv *model.Inventory, msg string) {
	select {
	case feed.Status <- s.status(state, inv, msg):
	default:
		// Progress is advisory and the next one supersedes it; never block the store on it.
	}
}

// sendDone sends the status that ends an inventory. Unlike progress it must not be
// dropped: it ends the tracker's tombstones and tells the UI the table is complete.
func (s *Store) sendDone(ctx context.Context, feed backend.Feed, state string, inv *model.Inventory, msg string) {
	select {
	case feed.Status <- s.status(state, inv, msg):
	case <-ctx.Done():
	}
}

func (s *Store) status(state string, inv *model.Inventory, msg string) model.Status {
	s.mu.Lock()
	n := s.notif
	mode := s.mode
	s.mu.Unlock()
	return model.Status{Type: model.TypeStatus, Time: time.Now(), Backend: s.Name(), Node: s.node, State: state, Mode: mode,
		Notifications: &n, Inventory: inv, Message: msg}
}

// Dropped reports nothing here; the tracker counts gaps from the queue's gap events.

// ACLRule is the minimal ACL SETUSER rule (after the user name, "on" and a
// password) for a read-only sessionscope user watching db: read commands on the
// session prefixes only, the keyevent channel pattern of that db, and CONFIG GET to
// check the notification flags. Redis 7 checks a PSUBSCRIBE pattern against the
// user's channel patterns literally, hence one &__keyevent@DB__:* per database;
// SELECT is @keyspace, not @read, and is needed for a db other than 0.
func ACLRule(db int, fws []framework.Framework) []string {
	rule := []string{"resetkeys"}
	seen := map[string]bool{}
	for _, fw := range fws {
		if p := "%R~" + fw.Prefix + "*"; !seen[p] {
			seen[p] = true
			rule = append(rule, p)
		}
	}
	return append(rule, "resetchannels", fmt.Sprintf("&__keyevent@%d__:*", db),
		"-@all", "+@read", "+@connection", "+psubscribe", "+select", "+config|get")
}

// PermError is a command the Redis ACL refused (NOPERM), with the permission that
// would allow it, so callers can say exactly what to grant.
type PermError struct {
	Need string // e.g. "+config|get", or a key or channel pattern
	Err  error  // Redis' NOPERM reply
}

func (e *PermError) Error() string {
	return fmt.Sprintf("the ACL user lacks %s (Redis said: %s); grant it, see the README's minimal ACL rule", e.Need, firstLine(e.Err.Error()))
}

func (e *PermError) Unwrap() error { return e.Err }

// refusedCommand finds the command in Redis 7's "no permissions to run the 'x|y'
// command", which is more exact than any guess by the caller.
var refusedCommand = regexp.MustCompile(`to run the '([^']+)' command`)

// explainPerm turns a NOPERM reply into a *PermError naming the missing permission:
// the command Redis names, else read access for a refused key, else need, the
// caller's description (channels, or a command on an older server).
func explainPerm(err error, need string) error {
	if err == nil || !strings.Contains(err.Error(), "NOPERM") {
		return err
	}
	msg := err.Error()
	switch {
	case refusedCommand.MatchString(msg):
		need = "+" + refusedCommand.FindStringSubmatch(msg)[1]
	case strings.Contains(msg, "one of the keys"):
		need = "read access to the session keys (a %R~PREFIX* key pattern per session prefix)"
	}
	return &PermError{Need: need, Err: err}
}
