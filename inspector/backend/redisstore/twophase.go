package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// The first inventory runs in two phases. Phase one lists every session with SCAN and
// hands the tracker its key, so the table is complete (ref, framework, node, count) at
// about the speed of a bare SCAN loop. Phase two then reads PTTL and STRLEN (HLEN for
// hashes) of the keys phase one listed, without a second SCAN, and hands the tracker
// the TTL and size. Reading both in one pass would make the listing wait for the two
// reads per key, which cost Redis more than the SCAN itself.

// fillWorkers is how many phase-two pipelines are in flight at once: while Redis
// answers one page, the next is being written and the previous one parsed.
const fillWorkers = 2

// invProgress counts a two-phase inventory for its status objects. A cluster shares one
// across its masters, so that the status counts the whole cluster.
type invProgress struct {
	scanned, listed, filled, estimate atomic.Int64
	started                           time.Time
	listedAt, filledAt                atomic.Int64 // unix nanoseconds; 0 not yet
}

// snapshot is the progress as a status's inventory object.
func (p *invProgress) snapshot() *model.Inventory {
	started := p.started
	inv := &model.Inventory{Scanned: p.scanned.Load(), Sessions: p.listed.Load(), Filled: p.filled.Load(),
		Estimate: p.estimate.Load(), Phase: model.InventoryList, StartedAt: &started}
	if at := p.listedAt.Load(); at != 0 {
		t := time.Unix(0, at)
		inv.ListedAt, inv.Phase = &t, model.InventoryFill
	}
	if at := p.filledAt.Load(); at != 0 {
		t := time.Unix(0, at)
		inv.FilledAt, inv.Phase = &t, model.InventoryDone
	}
	return inv
}

// listedPage is the session keys of one SCAN page, kept from phase one for phase two.
// The strings are the ones the tracker keeps as its table's keys, so keeping them here
// costs a slice header per session, not a copy.
type listedPage struct {
	keys  []string
	types []framework.KeyType // per key; nil when every key is a string
	first int32               // the InventoryItem.Index of keys[0]
}

func (pg listedPage) typeOf(i int) framework.KeyType {
	if pg.types == nil {
		return framework.KeyString
	}
	return pg.types[i]
}

// twoPhaseInventory runs the first inventory of nodes (this store alone, or every
// master of a cluster) in two phases and reports its progress as s. It returns the
// final counts; the caller marks them done and sends the status that says so.
func (s *Store) twoPhaseInventory(ctx context.Context, feed backend.Feed, nodes []*Store) (*model.Inventory, error) {
	p := &invProgress{started: time.Now()}
	s.sendStatus(feed, model.StateInventory, p.snapshot(), "")
	stop := s.reportProgress(feed, p)
	defer stop()

	lists := make([][]listedPage, len(nodes))
	err := eachNode(nodes, func(i int, n *Store) error {
		pages, err := n.listSessions(ctx, feed, p, func() { s.sendStatus(feed, model.StateInventory, p.snapshot(), "") })
		lists[i] = pages
		return err
	})
	if err != nil {
		return p.snapshot(), err
	}
	p.listedAt.Store(time.Now().UnixNano())
	// The end of phase one must not be dropped like progress: it tells the UI (and a
	// script waiting on the status stream) that every session is listed.
	s.sendDone(ctx, feed, model.StateInventory, p.snapshot(), "")

	err = eachNode(nodes, func(i int, n *Store) error {
		pages := lists[i]
		lists[i] = nil
		return n.fillSessions(ctx, feed, pages, p)
	})
	if err != nil {
		return p.snapshot(), err
	}
	p.filledAt.Store(time.Now().UnixNano())
	return p.snapshot(), nil
}

// eachNode runs fn for every node at once and joins their errors, each named after
// its node.
func eachNode(nodes []*Store, fn func(i int, n *Store) error) error {
	if len(nodes) == 1 {
		return fn(0, nodes[0])
	}
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(i, n); err != nil {
				errs[i] = fmt.Errorf("%s: %w", n.node, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// reportProgress sends the inventory's progress every two seconds until stopped.
// Progress is advisory: sendStatus drops it rather than wait for the tracker.
func (s *Store) reportProgress(feed backend.Feed, p *invProgress) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				s.sendStatus(feed, model.StateInventory, p.snapshot(), "")
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// listSessions is phase one on this node: SCAN (MATCH <prefix>* with one prefix, else
// the whole keyspace filtered here, see inventory), each page's session keys handed to
// the tracker as listed items and kept for phase two. firstPage is called after the
// first page: its share of session keys, with DBSIZE, lets the tracker reserve its
// table once. One goroutine only scans, so that Redis walks the next page while this
// one is filtered and handed over, as a bare SCAN loop keeps it busy.
func (s *Store) listSessions(ctx context.Context, feed backend.Feed, p *invProgress, firstPage func()) ([]listedPage, error) {
	fws := s.cfg.Matcher.Frameworks()
	pattern := ""
	if len(fws) == 1 {
		pattern = fws[0].ScanPattern()
	}
	p.estimate.Add(s.scanEstimate(ctx, pattern))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	scanned := make(chan []string, 2)
	scanErr := make(chan error, 1)
	go func() {
		defer close(scanned)
		var cursor uint64
		for {
			keys, next, err := s.client.Scan(ctx, cursor, pattern, s.cfg.ScanCount).Result()
			if err != nil {
				scanErr <- fmt.Errorf("redis backend: scan %q: %w", pattern, explainPerm(err, "+scan"))
				return
			}
			p.scanned.Add(int64(len(keys)))
			if err := s.paceScan(ctx, len(keys)); err != nil {
				scanErr <- err
				return
			}
			select {
			case scanned <- keys:
			case <-ctx.Done():
				scanErr <- ctx.Err()
				return
			}
			if cursor = next; cursor == 0 {
				return
			}
		}
	}()
	var pages []listedPage
	var index int32 // the next listed key's InventoryItem.Index
	first := true
	for keys := range scanned {
		// The page keeps the reply's array: the filter only moves keys towards its start.
		page := listedPage{keys: keys[:0], first: index}
		items := make([]backend.InventoryItem, 0, len(keys))
		for _, k := range keys {
			m, ok := s.cfg.Matcher.Match(k)
			if !ok {
				continue
			}
			typ := m.Framework.Type
			if typ != framework.KeyString && page.types == nil {
				page.types = make([]framework.KeyType, len(page.keys), len(keys))
			}
			if page.types != nil {
				page.types = append(page.types, typ)
			}
			page.keys = append(page.keys, k)
			items = append(items, backend.InventoryItem{Key: k, Node: s.node, Type: typ, Kind: backend.ItemListed, Index: index})
			index++
		}
		if len(items) > 0 {
			p.listed.Add(int64(len(items)))
			pages = append(pages, page)
			select {
			case feed.Inventory <- items:
			case <-ctx.Done():
				return pages, ctx.Err()
			}
		}
		if first {
			first = false
			firstPage()
		}
	}
	select {
	case err := <-scanErr:
		return pages, err
	default:
		return pages, nil
	}
}

// fillSessions is phase two on this node: the TTL and size of every key phase one
// listed, a page per pipeline, paced by --scan-rate like the scan. Keys gone since
// (PTTL -2) are left out: their end reaches the tracker as a live event.
func (s *Store) fillSessions(ctx context.Context, feed backend.Feed, pages []listedPage, p *invProgress) error {
	work := make(chan listedPage, fillWorkers)
	errc := make(chan error, fillWorkers)
	var wg sync.WaitGroup
	for range fillWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf pipelineBuf
			for page := range work {
				items, err := s.readTTLSize(ctx, &buf, page.keys, page.typeOf, backend.ItemFilled, page.first)
				if err != nil {
					errc <- err
					return
				}
				p.filled.Add(int64(len(items)))
				if len(items) == 0 {
					continue
				}
				select {
				case feed.Inventory <- items:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	err := func() error {
		defer close(work)
		for i, page := range pages {
			pages[i] = listedPage{} // the tracker holds the keys; this copy can go
			if err := s.paceScan(ctx, len(page.keys)); err != nil {
				return err
			}
			select {
			case work <- page:
			case <-ctx.Done():
				return ctx.Err()
			case err := <-errc:
				return err
			}
		}
		return nil
	}()
	wg.Wait()
	if err != nil {
		return err
	}
	select {
	case err := <-errc:
		return err
	default:
	}
	return ctx.Err()
}

// pipelineBuf holds one page's commands between pipelines, so that a worker reuses
// them for its next page: go-redis keeps no reference to a command once Exec returns.
type pipelineBuf struct {
	cmds  []redis.IntCmd // PTTL of key i at 2i, its size at 2i+1
	args  []any
	queue []redis.Cmder
}

// readTTLSize reads PTTL and size for a page of keys in one pipeline. Keys that vanished
// since SCAN listed them (PTTL -2) are left out. buf, when not nil, is reused. The
// items are numbered from first (InventoryItem.Index).
//
// The commands of a page are built in three slabs (commands, their arguments, the
// pipeline's list) instead of go-redis' per-command helpers, which allocate each
// command, its argument list and a growing pipeline one by one: a million sessions
// are two million commands, and that garbage was most of the inventory's GC work.
func (s *Store) readTTLSize(ctx context.Context, buf *pipelineBuf, keys []string, typeOf func(i int) framework.KeyType,
	kind backend.ItemKind, first int32) ([]backend.InventoryItem, error) {
	n := len(keys)
	if buf == nil {
		buf = &pipelineBuf{}
	}
	if cap(buf.cmds) < 2*n {
		buf.cmds, buf.args, buf.queue = make([]redis.IntCmd, 2*n), make([]any, 4*n), make([]redis.Cmder, 2*n)
	}
	cmds, args, queue := buf.cmds[:2*n], buf.args[:4*n], buf.queue[:2*n]
	for i, k := range keys {
		size := "strlen"
		if typeOf(i) == framework.KeyHash {
			size = "hlen"
		}
		a := args[4*i : 4*i+4 : 4*i+4]
		a[0], a[1], a[2], a[3] = "pttl", k, size, k
		cmds[2*i] = *redis.NewIntCmd(ctx, a[0:2:2]...)
		cmds[2*i+1] = *redis.NewIntCmd(ctx, a[2:4:4]...)
		queue[2*i], queue[2*i+1] = &cmds[2*i], &cmds[2*i+1]
	}
	defer clear(args) // the keys belong to the tracker's table, not to this buffer
	pipe := s.client.Pipeline()
	_ = pipe.BatchProcess(ctx, queue...)
	_, err := pipe.Exec(ctx)
	if err != nil && err != redis.Nil && !isWrongType(err) {
		return nil, fmt.Errorf("redis backend: read TTL and size of %d keys: %w", n, explainPerm(err, "+pttl +strlen +hlen (@read)"))
	}
	now := time.Now()
	items := make([]backend.InventoryItem, 0, n)
	for i, k := range keys {
		ms, err := cmds[2*i].Result()
		if err != nil || ms == -2 {
			continue // gone since SCAN saw it
		}
		ttl := time.Duration(-1)
		if ms >= 0 {
			ttl = time.Duration(ms) * time.Millisecond
		}
		size, _ := cmds[2*i+1].Result()
		items = append(items, backend.InventoryItem{Key: k, Node: s.node, TTL: ttl, Size: int(size), Type: typeOf(i), Read: now,
			Kind: kind, Index: first + int32(i)})
	}
	return items, nil
}
