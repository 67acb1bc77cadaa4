package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// rediscoverEvery is how often the cluster's masters are listed again (CLUSTER SLOTS):
// a failover or an added master is followed within this, on top of the cluster's own
// cluster-node-timeout before it promotes a replica.
const rediscoverEvery = 2 * time.Second

// clusterState is a watched Redis Cluster. Keyspace notifications are node-local, so
// every master gets its own subscriber, queue, inventory and resyncs: a per-node Store
// that shares the configuration. Payload reads go through the cluster client, which
// routes each key to the master of its slot.
type clusterState struct {
	mu    sync.Mutex
	nodes map[string]*clusterNode // watched masters by address
	// redirects are clients of the masters a Locate read was redirected to (locate).
	redirects map[string]*redis.Client

	// resyncMu runs one re-inventory at a time: the tracker reconciles one node's
	// frame at a time, and a second Begin would cut the first one short.
	resyncMu sync.Mutex
	wg       sync.WaitGroup
}

// clusterNode is one watched master.
type clusterNode struct {
	store    *Store
	queue    *backend.Queue
	cancel   context.CancelFunc
	reader   chan struct{} // closed when the subscription reader ends
	lastSeen time.Time     // the last time the master answered; a gap when it fails starts here
}

// detectCluster turns s into a cluster store when --cluster is set or the server says
// cluster_enabled:1. INFO may be refused to a restricted user: then only --cluster
// makes a cluster store.
func (s *Store) detectCluster(ctx context.Context) error {
	enabled := false
	if info, err := s.client.Info(ctx, "cluster").Result(); err == nil {
		enabled = strings.Contains(info, "cluster_enabled:1")
	}
	switch {
	case !enabled && len(s.cfg.Nodes) > 0:
		return notAMasterError(fmt.Sprintf("--nodes: Redis at %s is not a cluster node (INFO cluster does not say cluster_enabled:1), and --nodes picks masters of a Redis Cluster; drop --nodes, or point --redis at a node of the cluster", s.opts.Addr))
	case !enabled && !s.cfg.Cluster:
		return nil
	case !enabled:
		return fmt.Errorf("--cluster: Redis at %s is not a cluster node (INFO cluster does not say cluster_enabled:1); drop --cluster, or point --redis at a node of the cluster", s.opts.Addr)
	case s.cfg.Mode == ModePoll:
		return fmt.Errorf("--mode poll is not supported on a Redis Cluster (%s) yet: enable keyspace notifications on every master and use --mode notify", s.opts.Addr)
	}
	seed := s.client
	co := &redis.ClusterOptions{
		Addrs: []string{s.opts.Addr}, Username: s.opts.Username, Password: s.opts.Password,
		TLSConfig: s.opts.TLSConfig, PoolSize: s.opts.PoolSize, DialTimeout: s.opts.DialTimeout,
		ReadTimeout: s.opts.ReadTimeout,
		// The slot-routed reads leave the keys' LRU/LFU state alone too (NO-TOUCH).
		OnConnect: s.opts.OnConnect,
	}
	s.client = redis.NewClusterClient(co)
	_ = seed.Close()
	s.cluster = &clusterState{nodes: map[string]*clusterNode{}}
	masters, err := s.listMasters(ctx)
	if err != nil {
		_ = s.client.Close()
		return fmt.Errorf("the Redis at %s is a cluster node, but listing the masters failed (%s): check that the cluster is up (redis-cli -c CLUSTER INFO)",
			s.opts.Addr, firstLine(explainPerm(err, "+cluster|slots").Error()))
	}
	if err := s.checkNodes(masters); err != nil {
		_ = s.client.Close()
		return err
	}
	s.node = ""
	s.display = fmt.Sprintf("%s (Redis Cluster, %d masters%s)", s.display, len(masters), s.followingNote())
	return nil
}

// discoverMasters lists the masters to watch: those that serve slots, less those
// --nodes leaves to other sessionscope processes.
func (s *Store) discoverMasters(ctx context.Context) ([]string, error) {
	masters, err := s.listMasters(ctx)
	if err != nil {
		return nil, err
	}
	return s.followedOf(masters), nil
}

// listMasters lists the masters that serve slots, asking the watched masters
// first (one of them may be the node that just failed) and the cluster client last.
func (s *Store) listMasters(ctx context.Context) ([]string, error) {
	cs := s.cluster
	cs.mu.Lock()
	clients := make([]redis.UniversalClient, 0, len(cs.nodes)+1)
	for _, n := range cs.nodes {
		clients = append(clients, n.store.client)
	}
	cs.mu.Unlock()
	clients = append(clients, s.client)
	var lastErr error
	for _, c := range clients {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		slots, err := c.ClusterSlots(cctx).Result()
		cancel()
		if err != nil {
			lastErr = err
			continue
		}
		var masters []string
		for _, sl := range slots {
			if len(sl.Nodes) > 0 && !slices.Contains(masters, sl.Nodes[0].Addr) {
				masters = append(masters, sl.Nodes[0].Addr)
			}
		}
		if len(masters) == 0 {
			lastErr = errors.New("no slot is assigned")
			continue
		}
		slices.Sort(masters)
		return masters, nil
	}
	return nil, lastErr
}

// nodeStore is the per-master Store: the same configuration, a client of its own.
func (s *Store) nodeStore(addr string) *Store {
	opts := *s.opts
	opts.Addr = addr
	opts.DB = 0 // a cluster has db 0 only
	return &Store{cfg: s.cfg, opts: &opts, client: redis.NewClient(&opts), node: addr, display: addr, mode: ModeNotify,
		scanPace: newScanPace(s.cfg)}
}

// watchNode checks the master's notification flags, subscribes to its keyevents and
// starts its reader. The subscription is confirmed before it returns, so that a scan
// that follows misses nothing. A non-zero gapFrom reports a gap from then until the
// subscription, before the reader starts (the queue has one pusher at a time).
func (s *Store) watchNode(ctx context.Context, feed backend.Feed, addr string, gapFrom time.Time) (*clusterNode, error) {
	sub := s.nodeStore(addr)
	notif, probe := sub.checkNotifications(ctx)
	sub.mu.Lock()
	sub.notif = notif
	sub.mu.Unlock()
	if notif.Missing != "" {
		sub.sendStatus(feed, model.StateConnecting, nil, fmt.Sprintf(
			"master %s lacks the keyspace notification flags %q: its sessions are seen by the inventory only; fix: %s", addr, notif.Missing,
			strings.Replace(notif.Fix, "redis-cli ", "redis-cli -h HOST -p PORT ", 1)))
	} else if change := sub.takeFlagsChange(); change != "" {
		sub.sendDone(ctx, feed, model.StateConnecting, nil, "master "+addr+": "+change)
	} else {
		sub.sendStatus(feed, model.StateConnecting, nil, "")
	}
	ps := subscribe(ctx, sub.opts, "__keyevent@0__:*")
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		_ = sub.client.Close()
		return nil, fmt.Errorf("redis backend: psubscribe __keyevent@0__:* on master %s: %w", addr,
			explainPerm(err, "+psubscribe and the channel pattern &__keyevent@0__:*"))
	}
	nctx, cancel := context.WithCancel(ctx)
	n := &clusterNode{store: sub, queue: feed.Queue(ctx, addr), cancel: cancel,
		reader: make(chan struct{}), lastSeen: time.Now()}
	if !gapFrom.IsZero() {
		n.queue.PushGap(gapFrom, time.Now(), "new master "+addr+": not watched before the topology change")
	}
	s.cluster.mu.Lock()
	s.cluster.nodes[addr] = n
	s.cluster.mu.Unlock()
	go func() {
		defer close(n.reader)
		defer ps.Close()
		sub.readLoop(nctx, ps, n.queue, feed, probe)
	}()
	return n, nil
}

// runCluster is Run on a cluster: subscribe on every master, inventory them all (in
// parallel, one SCAN per master), then follow gaps and the topology until ctx ends.
func (s *Store) runCluster(ctx context.Context, feed backend.Feed) error {
	cs := s.cluster
	s.mu.Lock()
	s.mode = ModeNotify
	s.mu.Unlock()
	defer func() {
		cs.mu.Lock()
		for _, n := range cs.nodes {
			n.cancel()
		}
		cs.mu.Unlock()
		cs.wg.Wait()
		cs.mu.Lock()
		for _, n := range cs.nodes {
			<-n.reader
			_ = n.store.client.Close()
		}
		cs.mu.Unlock()
	}()
	masters, err := s.discoverMasters(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("redis backend: list the cluster's masters: %w", err)
	}
	var nodes []*clusterNode
	for _, addr := range masters {
		n, err := s.watchNode(ctx, feed, addr, time.Time{})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		nodes = append(nodes, n)
	}
	s.mu.Lock()
	s.notif = nodes[0].store.Notifications()
	for _, n := range nodes {
		if nn := n.store.Notifications(); nn.Missing != "" || nn.Error != "" {
			s.notif = nn // the one to fix is worth more than the ones in order
		}
	}
	s.mu.Unlock()

	s.sendStatus(feed, model.StateInventory, &model.Inventory{}, fmt.Sprintf("inventory of %d masters", len(nodes)))
	stores := make([]*Store, len(nodes))
	for i, n := range nodes {
		stores[i] = n.store
	}
	total, err := s.twoPhaseInventory(ctx, feed, stores)
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		s.cfg.Logger.Warn("cluster inventory failed", "err", err)
		s.sendStatus(feed, model.StateLive, total, "inventory failed on "+strings.ReplaceAll(err.Error(), "\n", "; "))
	} else {
		total.Done = true
		s.sendDone(ctx, feed, model.StateLive, total, fmt.Sprintf("%d masters: %s", len(masters), strings.Join(masters, ", ")))
	}
	for _, n := range nodes {
		s.startResyncLoop(ctx, feed, n)
	}
	s.followTopology(ctx, feed)
	return nil
}

// startResyncLoop re-inventories the node after every gap its queue reports, one
// cluster-wide resync at a time.
func (s *Store) startResyncLoop(ctx context.Context, feed backend.Feed, n *clusterNode) {
	cs := s.cluster
	cs.wg.Add(1)
	go func() {
		defer cs.wg.Done()
		for {
			var gap backend.GapInfo
			select {
			case <-ctx.Done():
				return
			case <-n.reader:
				return // the node was retired; followTopology closes its sessions
			case gap = <-n.queue.Gaps():
			}
			s.resyncNode(ctx, feed, n, gap)
		}
	}()
}

// resyncNode runs a re-inventory of one master until it succeeds (or ctx ends or the
// node is retired), retrying with backoff.
func (s *Store) resyncNode(ctx context.Context, feed backend.Feed, n *clusterNode, gap backend.GapInfo) {
	var retry backoff
	for {
		s.cluster.resyncMu.Lock()
		err := n.store.resync(ctx, feed, gap)
		s.cluster.resyncMu.Unlock()
		if err == nil || ctx.Err() != nil {
			return
		}
		wait := retry.next()
		s.cfg.Logger.Warn("re-inventory after a gap failed", "node", n.store.node, "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-n.reader:
			return
		case <-time.After(wait):
		case more := <-n.queue.Gaps():
			gap = backend.MergeGaps(gap, more)
		}
	}
}

// followTopology lists the masters every rediscoverEvery. A master that appears (a
// promoted replica, an added node) is subscribed, then re-inventoried: what it held
// before was never watched there. A master that is gone (failed over, removed) is
// retired: its gap ends, and its sessions that no current master holds are closed.
// A master that is down but still serves its slots (no failover yet) stays: its
// reader reconnects, and the gap is reconciled when it is back.
func (s *Store) followTopology(ctx context.Context, feed backend.Feed) {
	cs := s.cluster
	t := time.NewTicker(rediscoverEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.markAlive(ctx)
		masters, err := s.discoverMasters(ctx)
		if err != nil {
			s.cfg.Logger.Debug("cluster rediscovery failed", "err", err)
			continue
		}
		cs.mu.Lock()
		var added, gone []string
		for _, m := range masters {
			if cs.nodes[m] == nil {
				added = append(added, m)
			}
		}
		for addr := range cs.nodes {
			if !slices.Contains(masters, addr) {
				gone = append(gone, addr)
			}
		}
		// The gap of a new master starts when the topology last looked complete: the
		// earliest moment a retired master was last heard of, else now.
		from := time.Now()
		for _, addr := range gone {
			if seen := cs.nodes[addr].lastSeen; seen.Before(from) {
				from = seen
			}
		}
		cs.mu.Unlock()
		if len(added) == 0 && len(gone) == 0 {
			continue
		}
		if rc, ok := s.client.(*redis.ClusterClient); ok {
			rc.ReloadState(ctx) // route reads to the new masters at once
		}
		summary := fmt.Sprintf("cluster topology changed: new masters %v, gone %v", added, gone)
		s.cfg.Logger.Info(summary)
		s.sendStatus(feed, model.StateInventory, nil, summary+"; re-inventory of the new masters")
		// New masters first: their scan re-homes the sessions they took over, so that
		// retiring the old ones closes only what no master holds any more.
		for _, addr := range added {
			n, err := s.watchNode(ctx, feed, addr, from)
			if err != nil {
				s.cfg.Logger.Warn("cannot watch a new master; retrying at the next rediscovery", "node", addr, "err", err)
				s.sendStatus(feed, model.StateDisconnected, nil, fmt.Sprintf("new master %s: %s; retrying in %s", addr, firstLine(err.Error()), rediscoverEvery))
				continue
			}
			// Re-inventory it now, before any retirement below; its resync loop takes
			// over from the next gap.
			select {
			case gap := <-n.queue.Gaps():
				s.resyncNode(ctx, feed, n, gap)
			default: // the gap folded into an overflow one, which the loop will get
			}
			s.startResyncLoop(ctx, feed, n)
		}
		for _, addr := range gone {
			s.retireNode(ctx, feed, addr)
		}
	}
}

// markAlive records, for each watched master that answers PING, that it was there:
// when it fails, its gap starts no later than this.
func (s *Store) markAlive(ctx context.Context) {
	cs := s.cluster
	cs.mu.Lock()
	nodes := make([]*clusterNode, 0, len(cs.nodes))
	for _, n := range cs.nodes {
		nodes = append(nodes, n)
	}
	cs.mu.Unlock()
	for _, n := range nodes {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		at := time.Now()
		err := n.store.client.Ping(pctx).Err()
		cancel()
		if err == nil {
			cs.mu.Lock()
			n.lastSeen = at
			cs.mu.Unlock()
		}
	}
}

// retireNode stops watching a master that no longer serves slots. Its gap runs from
// when it was last heard of until now; its sessions the new masters' scans did not
// re-home are closed by an empty re-inventory of the node, which owns no key now.
func (s *Store) retireNode(ctx context.Context, feed backend.Feed, addr string) {
	cs := s.cluster
	cs.mu.Lock()
	n := cs.nodes[addr]
	delete(cs.nodes, addr)
	cs.mu.Unlock()
	if n == nil {
		return
	}
	n.cancel()
	<-n.reader
	_ = n.store.client.Close()
	// The reader is gone, so this goroutine is now the queue's one pusher.
	n.queue.PushGap(n.lastSeen, time.Now(), "master "+addr+" left the cluster (failed over or removed)")
	select {
	case gap := <-n.queue.Gaps():
		s.retireResync(ctx, feed, addr, gap)
	default:
		// The raw queue is full: the gap is folded into the overflow one, which the
		// tracker gets later; close the node's sessions anyway.
		s.retireResync(ctx, feed, addr, backend.GapInfo{From: n.lastSeen, To: time.Now(), Reason: "master " + addr + " left the cluster"})
	}
	s.sendStatus(feed, model.StateLive, nil, "master "+addr+" retired: no longer serves slots")
}

// retireResync is an empty re-inventory of a retired node, run after the new masters'
// ones: every session still tagged with it is gone from the cluster.
func (s *Store) retireResync(ctx context.Context, feed backend.Feed, addr string, gap backend.GapInfo) {
	s.cluster.resyncMu.Lock()
	defer s.cluster.resyncMu.Unlock()
	endNode(ctx, feed, addr, gap)
}

// endNode sends an empty re-inventory frame for a node that no longer holds keys (a
// master failed over or removed): the tracker ends every session still attributed
// to it. Sentinel's switch does the same for the old master.
func endNode(ctx context.Context, feed backend.Feed, node string, gap backend.GapInfo) {
	started := make(chan struct{})
	if !sendResync(ctx, feed, backend.Resync{Phase: backend.ResyncBegin, Node: node, Gap: gap, Started: started}) {
		return
	}
	select {
	case <-started:
	case <-ctx.Done():
		return
	}
	sendResync(ctx, feed, backend.Resync{Phase: backend.ResyncEnd, Node: node})
}
