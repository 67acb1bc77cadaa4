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
	"github.com/sessionscope/sessionscope/inspector/model"
)

// SentinelOptions locate the watched master through Redis Sentinel.
type SentinelOptions struct {
	Addrs    []string // sentinels, host:port; tried in order
	Master   string   // the name the sentinels monitor the master under
	Username string   // for the sentinels, not the data nodes; default none
	Password string   // for the sentinels; default none
}

// ParseSentinels splits a --sentinel value: host:port entries separated by commas,
// each optionally a redis://[user:password@]host:port URL whose credentials are the
// sentinels' (the first ones found are used for all).
func ParseSentinels(list string) (SentinelOptions, error) {
	var o SentinelOptions
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if strings.Contains(e, "://") {
			u, err := url.Parse(e)
			if err != nil || u.Scheme != "redis" || u.Host == "" {
				return o, fmt.Errorf("--sentinel entry %q: want host:port or redis://[user:password@]host:port", Redact(e))
			}
			if u.User != nil && o.Password == "" && o.Username == "" {
				o.Username = u.User.Username()
				o.Password, _ = u.User.Password()
			}
			e = u.Host
		}
		if _, _, err := net.SplitHostPort(e); err != nil {
			return o, fmt.Errorf("--sentinel entry %q: want host:port, e.g. 10.0.0.5:26379", e)
		}
		o.Addrs = append(o.Addrs, e)
	}
	if len(o.Addrs) == 0 {
		return o, errors.New("--sentinel needs at least one host:port, e.g. --sentinel 10.0.0.5:26379,10.0.0.6:26379")
	}
	return o, nil
}

// Sentinel watches the master of a Sentinel group and follows its failovers. Each
// master in turn is watched by a Store; a switch is a gap, from when the old master
// stopped answering (or the switch, if it never did) until the new master's
// subscription is live, followed by a re-inventory of the new master.
type Sentinel struct {
	cfg     Config // for the data nodes: credentials, db and TLS from cfg.URL, if any
	so      SentinelOptions
	base    *redis.Options
	display string

	mu  sync.Mutex
	cur *Store
}

// sentinelPoll is how often the sentinels are asked for the master's address, in case
// a +switch-master message was lost (Pub/Sub drops what is published while a
// subscriber reconnects). It costs the sentinels one cheap command, not the data nodes.
const sentinelPoll = 2 * time.Second

// OpenSentinel asks the sentinels for the master named so.Master and attaches to it.
func OpenSentinel(ctx context.Context, cfg Config, so SentinelOptions) (*Sentinel, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// The sentinels are asked before Open runs, and go-redis would print its dial
	// retries for them.
	quietLibrary.Do(func() { redis.SetLogger(libLogger{log: cfg.Logger}) })
	base := &redis.Options{}
	if cfg.URL != "" {
		opts, err := redis.ParseURL(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("%w: malformed --redis URL %q (with --sentinel only its credentials, db and TLS are used): %v",
				ErrConnect, Redact(cfg.URL), err)
		}
		base = opts
	}
	s := &Sentinel{cfg: cfg, so: so, base: base,
		display: fmt.Sprintf("sentinel %s master %s", strings.Join(so.Addrs, ","), so.Master)}
	addr, err := s.masterAddr(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConnect, err)
	}
	st, err := s.openAt(ctx, addr, cfg.Mode)
	if err != nil {
		return nil, err
	}
	s.cur = st
	return s, nil
}

// openAt attaches a Store to the data node at addr, as Open does for --redis.
func (s *Sentinel) openAt(ctx context.Context, addr, mode string) (*Store, error) {
	u := url.URL{Scheme: "redis", Host: addr, Path: fmt.Sprintf("/%d", s.base.DB)}
	if s.base.TLSConfig != nil {
		u.Scheme = "rediss"
	}
	if s.base.Username != "" || s.base.Password != "" {
		u.User = url.UserPassword(s.base.Username, s.base.Password)
	}
	cfg := s.cfg
	cfg.URL, cfg.Mode = u.String(), mode
	st, err := Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w (the master sentinel %s named)", err, s.so.Master)
	}
	return st, nil
}

// sentinelClient is a client for one sentinel, with the sentinels' credentials.
func (s *Sentinel) sentinelClient(addr string) *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{Addr: addr, Username: s.so.Username, Password: s.so.Password,
		DialTimeout: 3 * time.Second, ReadTimeout: 3 * time.Second, MaxRetries: 1, PoolSize: 1})
}

// masterAddr asks the sentinels in turn for the master's address.
func (s *Sentinel) masterAddr(ctx context.Context) (string, error) {
	var errs []string
	for _, a := range s.so.Addrs {
		c := s.sentinelClient(a)
		cctx, cancel := context.WithTimeout(ctx, 4*time.Second)
		res, err := c.GetMasterAddrByName(cctx, s.so.Master).Result()
		cancel()
		_ = c.Close()
		switch {
		case errors.Is(err, redis.Nil):
			return "", fmt.Errorf("sentinel %s monitors no master named %q: check --master (redis-cli -p PORT SENTINEL MASTERS lists the names)", a, s.so.Master)
		case err != nil:
			errs = append(errs, a+": "+firstLine(err.Error()))
		case len(res) == 2:
			return net.JoinHostPort(res[0], res[1]), nil
		}
	}
	return "", fmt.Errorf("no sentinel answered for master %q (%s): check --sentinel and the sentinels' password", s.so.Master, strings.Join(errs, "; "))
}

// Close releases the current master's connections.
func (s *Sentinel) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur.Close()
}

// Warnings are the current master store's start warnings (e.g. TLS unverified).
func (s *Sentinel) Warnings() []string { return s.current().Warnings() }

// Name implements backend.Store.
func (s *Sentinel) Name() string { return "redis" }

// Describe implements backend.Store.
func (s *Sentinel) Describe() string { return s.display + " at " + s.current().Node() }

// Node is the current master's address.
func (s *Sentinel) Node() string { return s.current().Node() }

// Notifications are the flags found on the current master.
func (s *Sentinel) Notifications() model.Notifications { return s.current().Notifications() }

// Read implements backend.Store on the current master.
func (s *Sentinel) Read(ctx context.Context, reqs []backend.ReadRequest) []backend.ReadResult {
	return s.current().Read(ctx, reqs)
}

func (s *Sentinel) current() *Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Run implements backend.Store: watch the master until a switch, then the new one.
func (s *Sentinel) Run(ctx context.Context, feed backend.Feed) error {
	switches := make(chan string, 1)
	go s.watchSwitches(ctx, switches)
	st := s.current()
	for {
		inner := feed
		inner.Status = make(chan model.Status, cap(feed.Status)+1)
		var down downTracker
		fwdDone := make(chan struct{})
		stopFwd := make(chan struct{})
		go func() {
			defer close(fwdDone)
			down.forward(inner.Status, feed.Status, stopFwd)
		}()
		runCtx, cancel := context.WithCancel(ctx)
		runErr := make(chan error, 1)
		go func() { runErr <- st.Run(runCtx, inner) }()

		var next string
		for next == "" {
			select {
			case <-ctx.Done():
				cancel()
				<-runErr
				close(stopFwd)
				<-fwdDone
				return nil
			case err := <-runErr:
				cancel()
				close(stopFwd)
				<-fwdDone
				return err
			case addr := <-switches:
				if addr != st.Node() {
					next = addr
				}
			}
		}
		switchedAt := time.Now()
		cancel()
		<-runErr
		close(stopFwd)
		<-fwdDone
		from := down.since(switchedAt)
		old := st.Node()
		st.mu.Lock()
		mode := st.mode // the new master is watched as the old one was
		st.mu.Unlock()
		if mode == "" {
			mode = s.cfg.Mode
		}
		pushStatus(feed.Status, model.Status{Type: model.TypeStatus, Time: switchedAt, Backend: s.Name(), Node: next,
			State: model.StateConnecting, Message: fmt.Sprintf("Sentinel failover: master %q moved from %s to %s; attaching to the new master (events are lost until then, and reconciled after)", s.so.Master, old, next)})
		nst, ok := s.attachNew(ctx, feed, next, mode, switches)
		if !ok {
			return nil
		}
		nst.resume = func(ctx context.Context, feed backend.Feed) {
			s.takeOver(ctx, feed, nst, old, backend.GapInfo{From: from, To: time.Now(),
				Reason: fmt.Sprintf("Sentinel failover of %q from %s to %s", s.so.Master, old, nst.Node())})
		}
		s.mu.Lock()
		_ = s.cur.Close()
		s.cur = nst
		s.mu.Unlock()
		st = nst
	}
}

// attachNew opens a Store on the new master, retrying with backoff (a promoted replica
// may take a moment to accept connections) and following a further switch meanwhile.
func (s *Sentinel) attachNew(ctx context.Context, feed backend.Feed, addr, mode string, switches <-chan string) (*Store, bool) {
	var retry backoff
	for {
		st, err := s.openAt(ctx, addr, mode)
		if err == nil {
			return st, true
		}
		wait := retry.next()
		pushStatus(feed.Status, model.Status{Type: model.TypeStatus, Time: time.Now(), Backend: s.Name(), Node: addr,
			State: model.StateDisconnected, Message: firstLine(err.Error()) + fmt.Sprintf("; retrying in %s", wait)})
		select {
		case <-ctx.Done():
			return nil, false
		case <-time.After(wait):
		case a := <-switches:
			addr = a
		}
	}
}

// takeOver runs inside the new master's Run once its subscription is live, in place of
// the first inventory: the gap, then a re-inventory of the new master, then the close
// of the old master's sessions the new one does not hold (writes the replica had not
// received when the old master died).
func (s *Sentinel) takeOver(ctx context.Context, feed backend.Feed, st *Store, old string, gap backend.GapInfo) {
	n := st.Notifications()
	st.mu.Lock()
	polling := st.mode == ModePoll
	st.mu.Unlock()
	if !polling && (n.Missing != "" || n.Error != "") {
		msg := fmt.Sprintf("the new master %s lacks the notify-keyspace-events flags %q (in force: %q), so live events are lost: run %s on it, or restart sessionscope with --configure-notifications",
			st.Node(), n.Missing, n.Flags, FixCommand(MergeFlags(n.Flags, n.Missing)))
		if n.Missing == "" {
			msg = "on the new master " + st.Node() + ": " + n.Error
		}
		st.sendStatus(feed, model.StateLive, nil, msg)
	}
	select {
	case feed.Raw <- backend.RawEvent{Time: gap.To, Op: backend.OpGap, Node: st.Node(), Gap: &gap}:
	case <-ctx.Done():
		return
	}
	var retry backoff
	for {
		err := st.resync(ctx, feed, gap)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry.next()):
		}
	}
	// The scan above moved the surviving sessions to the new node; end those still
	// attributed to the old one.
	endNode(ctx, feed, old, gap)
}

// watchSwitches reports the master's address whenever a sentinel announces a switch
// (+switch-master) or, as a fallback, when polling the sentinels finds it changed.
func (s *Sentinel) watchSwitches(ctx context.Context, out chan string) {
	report := func(addr string) {
		select { // keep only the latest address
		case <-out:
		default:
		}
		select {
		case out <- addr:
		default:
		}
	}
	var retry backoff
	for i := 0; ctx.Err() == nil; i++ {
		c := s.sentinelClient(s.so.Addrs[i%len(s.so.Addrs)])
		ps := c.Subscribe(ctx, "+switch-master")
		lastPoll := time.Now()
		for ctx.Err() == nil {
			msg, err := ps.ReceiveTimeout(ctx, sentinelPoll)
			if m, ok := msg.(*redis.Message); ok && err == nil {
				// "<name> <old-ip> <old-port> <new-ip> <new-port>"
				f := strings.Fields(m.Payload)
				if len(f) == 5 && f[0] == s.so.Master {
					report(net.JoinHostPort(f[3], f[4]))
				}
			}
			var netErr net.Error
			broken := err != nil && !(errors.As(err, &netErr) && netErr.Timeout())
			if broken || time.Since(lastPoll) >= sentinelPoll {
				lastPoll = time.Now()
				if addr, perr := s.masterAddr(ctx); perr == nil {
					report(addr)
				}
			}
			if broken {
				break
			}
			retry = backoff{}
		}
		_ = ps.Close()
		_ = c.Close()
		select {
		case <-ctx.Done():
		case <-time.After(retry.next()):
		}
	}
}

// downTracker forwards a store's statuses and remembers when it first said it was
// disconnected: that is where a failover's gap begins.
type downTracker struct {
	mu    sync.Mutex
	first time.Time
}

func (d *downTracker) forward(in <-chan model.Status, out chan<- model.Status, stop <-chan struct{}) {
	for {
		select {
		case st := <-in:
			d.mu.Lock()
			if st.State == model.StateDisconnected && d.first.IsZero() {
				// The store's reader last heard from Redis up to one receive timeout
				// earlier: anything since may be lost.
				d.first = st.Time.Add(-time.Second)
			}
			d.mu.Unlock()
			pushStatus(out, st)
		case <-stop:
			for {
				select {
				case st := <-in:
					pushStatus(out, st)
				default:
					return
				}
			}
		}
	}
}

// since is the start of the outage, or fallback when the store never noticed one.
func (d *downTracker) since(fallback time.Time) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.first.IsZero() || d.first.After(fallback) {
		return fallback
	}
	return d.first
}

// pushStatus delivers a status without blocking: the next one supersedes it.
func pushStatus(out chan<- model.Status, st model.Status) {
	select {
	case out <- st:
	default:
	}
}
