package redisstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// Modes say how sessionscope sees changes: keyspace notifications, or polling with SCAN.
const (
	ModeAuto   = "auto"           // notifications when they are on or can be set, polling otherwise
	ModeNotify = model.ModeNotify // keyspace notifications only, even when they are off
	ModePoll   = model.ModePoll   // SCAN at an interval and diff; lower fidelity, works everywhere
)

// DefaultPollInterval is the time between two SCAN passes in poll mode.
const DefaultPollInterval = 2 * time.Second

// deadlineSlack absorbs the jitter of computing a TTL deadline from a PTTL read
// (round trip, pipeline position): a deadline that moved by less is the same deadline.
const deadlineSlack = 250 * time.Millisecond

// polledKey is what one pass knows of a session key: enough to tell a change from
// silence without holding the payload.
type polledKey struct {
	deadline  int64 // unix ns when the TTL runs out; -1: no TTL
	size      int64 // string length or hash field count
	digest    uint64
	hasDigest bool
	typ       framework.KeyType
}

// poller diffs successive SCAN passes into the raw events notifications would have
// given: created (set), updated (set), touched (expire), destroyed (del) and expired.
type poller struct {
	s        *Store
	q        *backend.Queue
	interval time.Duration
	// digestBudget caps the payload reads one pass may make to tell a same-size
	// rewrite from a TTL refresh, so that polling never costs the store more than the
	// read budget allows.
	digestBudget int
	known        map[string]polledKey
}

// chooseMode settles --mode: auto polls when the required notification flags are off
// and could not be set, or cannot even be read (CONFIG refused), since listening would
// then show nothing. The warning is the one line that says so, with today's fix.
func (s *Store) chooseMode(n model.Notifications) (mode, warning string) {
	interval := s.cfg.PollInterval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	switch s.cfg.Mode {
	case ModeNotify:
		return ModeNotify, ""
	case ModePoll:
		return ModePoll, fmt.Sprintf("--mode poll: polling every %s at lower fidelity (see the Status screen)", interval)
	}
	switch {
	case n.Missing != "":
		fix := n.Fix + ", or restart sessionscope with --configure-notifications to merge them for you"
		if s.cfg.ConfigureNotifications {
			fix = n.Fix + " (--configure-notifications was refused: set the flags another way)"
		}
		return ModePoll, fmt.Sprintf("keyspace notifications are missing the flags %q (in force: %q); without them sessionscope sees no live events, so it polls every %s instead, at lower fidelity (see the Status screen); fix: %s",
			n.Missing, n.Flags, interval, fix)
	case n.Error != "":
		reason, _, _ := strings.Cut(n.Error, "; listening")
		reason, _, _ = strings.Cut(reason, " — listening")
		return ModePoll, fmt.Sprintf("%s; polling every %s instead, at lower fidelity (see the Status screen); if the flags %s are set another way (managed Redis), use --mode notify",
			reason, interval, RequiredFlags)
	}
	return ModeNotify, ""
}

// runPoll is Run in poll mode: a first pass is the inventory, every later pass is
// diffed against the one before. It returns nil when ctx ends.
func (s *Store) runPoll(ctx context.Context, feed backend.Feed, warning string) error {
	interval := s.cfg.PollInterval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	budget := s.cfg.ReadBudget
	if budget == 0 {
		budget = 1000
	}
	digests := int(budget * interval.Seconds())
	if budget < 0 {
		digests = 1 << 30
	}
	p := &poller{s: s, q: feed.Queue(ctx, s.node), interval: interval, digestBudget: max(digests, 1)}
	s.sendStatus(feed, model.StateConnecting, nil, warning)
	if s.resume != nil {
		// A master Sentinel promoted: the first pass is the re-inventory that closes the
		// failover's gap (births and ends during it, then the old master's sessions
		// this one lacks), not a fresh inventory, and the passes after it diff on it.
		s.rescan = p.rescan
		s.resume(ctx, feed)
		if ctx.Err() != nil {
			return nil
		}
		return p.loop(ctx, feed)
	}
	s.sendStatus(feed, model.StateInventory, &model.Inventory{}, "")

	first, scanned, err := p.pass(ctx)
	for err != nil {
		if ctx.Err() != nil {
			return nil
		}
		s.sendStatus(feed, model.StateDisconnected, nil, "polling failed: "+firstLine(err.Error())+"; retrying")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
		first, scanned, err = p.pass(ctx)
	}
	inv := &model.Inventory{Scanned: scanned, Sessions: int64(len(first)), Done: true}
	if err := p.sendInventory(ctx, feed, first); err != nil {
		return nil
	}
	p.known = first
	// No message: the warning said it once, and the Status screen states the limits.
	s.sendDone(ctx, feed, model.StatePolling, inv, "")
	return p.loop(ctx, feed)
}

// rescan is a poll pass handed to the tracker as a re-inventory (see Store.rescan).
func (p *poller) rescan(ctx context.Context, feed backend.Feed) (*model.Inventory, error) {
	keys, scanned, err := p.pass(ctx)
	if err != nil {
		return &model.Inventory{Scanned: scanned}, err
	}
	if err := p.sendInventory(ctx, feed, keys); err != nil {
		return &model.Inventory{Scanned: scanned}, err
	}
	p.known = keys
	return &model.Inventory{Scanned: scanned, Sessions: int64(len(keys))}, nil
}

// loop polls every interval and diffs each pass against the one before, until ctx
// ends.
func (p *poller) loop(ctx context.Context, feed backend.Feed) error {
	s, interval := p.s, p.interval
	failing := false
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		next, _, err := p.pass(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			// Nothing is lost while a pass fails: the next good pass is diffed against
			// the last good one. Only the fidelity drops, so this is a status, not a gap.
			if !failing {
				failing = true
				s.sendStatus(feed, model.StateDisconnected, nil, "polling failed: "+firstLine(err.Error())+"; retrying every "+interval.String())
			}
			continue
		}
		if failing {
			failing = false
			s.sendStatus(feed, model.StatePolling, nil, "polling again")
		}
		p.diff(ctx, next, time.Now())
		p.q.Flush(time.Now())
	}
}

// sendInventory hands the first pass to the tracker as the inventory, in pages.
func (p *poller) sendInventory(ctx context.Context, feed backend.Feed, keys map[string]polledKey) error {
	const page = 1000
	now := time.Now()
	items := make([]backend.InventoryItem, 0, min(page, len(keys)))
	flush := func() error {
		if len(items) == 0 {
			return nil
		}
		select {
		case feed.Inventory <- items:
		case <-ctx.Done():
			return ctx.Err()
		}
		items = make([]backend.InventoryItem, 0, page)
		return nil
	}
	for k, st := range keys {
		ttl := time.Duration(-1)
		if st.deadline >= 0 {
			ttl = max(time.Duration(st.deadline-now.UnixNano()), 0)
		}
		items = append(items, backend.InventoryItem{Key: k, Node: p.s.node, TTL: ttl, Size: int(st.size), Type: st.typ, Read: now})
		if len(items) == page {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// pass SCANs the keyspace once (never KEYS) and reads every session key's PTTL and
// size in one pipeline per SCAN page.
func (p *poller) pass(ctx context.Context) (map[string]polledKey, int64, error) {
	s := p.s
	fws := s.cfg.Matcher.Frameworks()
	pattern := ""
	if len(fws) == 1 {
		pattern = fws[0].ScanPattern()
	}
	out := make(map[string]polledKey, len(p.known))
	var scanned int64
	var cursor uint64
	for {
		keys, next, err := s.client.Scan(ctx, cursor, pattern, s.cfg.ScanCount).Result()
		if err != nil {
			return nil, scanned, fmt.Errorf("redis backend: poll: scan %q: %w", pattern, explainPerm(err, "+scan"))
		}
		scanned += int64(len(keys))
		if err := s.paceScan(ctx, len(keys)); err != nil {
			return nil, scanned, err
		}
		batch := keys[:0]
		for _, k := range keys {
			if _, ok := s.cfg.Matcher.Match(k); ok {
				batch = append(batch, k)
			}
		}
		if len(batch) > 0 {
			items, err := p.readPassMeta(ctx, batch)
			if err != nil {
				return nil, scanned, fmt.Errorf("redis backend: poll: %w", err)
			}
			for _, it := range items {
				st := polledKey{deadline: deadlineOf(it.Read, it.TTL), size: int64(it.Size), typ: it.Type}
				if prev, ok := p.known[it.Key]; ok {
					st.digest, st.hasDigest = prev.digest, prev.hasDigest
				}
				out[it.Key] = st
			}
		}
		cursor = next
		if cursor == 0 {
			return out, scanned, nil
		}
	}
}

// readPassMeta reads a page's PTTL and size for a pass. Where the server cannot be
// told to leave LRU/LFU alone (before Redis 7.2), STRLEN and HLEN would refresh every
// session key on every pass, so that polled sessions never look idle to the evictor.
// There a pass reads PTTL first, which touches nothing, and the size only of keys the
// PTTL cannot settle: new keys, keys without a TTL (a plain SET rewrite keeps no TTL,
// only the size shows it) and keys whose deadline moved (written or touched by the
// application, which refreshed them itself). A key whose deadline stayed put keeps the
// size the last pass read: every write of a session with a TTL sets the TTL again.
func (p *poller) readPassMeta(ctx context.Context, keys []string) ([]backend.InventoryItem, error) {
	s := p.s
	if p.known == nil || s.NoTouch() {
		return s.readMeta(ctx, keys)
	}
	cmds := make([]*redis.DurationCmd, len(keys))
	_, err := s.client.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = pl.PTTL(ctx, k)
		}
		return nil
	})
	if err != nil && err != redis.Nil {
		return nil, fmt.Errorf("redis backend: read TTL of %d keys: %w", len(keys), explainPerm(err, "+pttl (@read)"))
	}
	now := time.Now()
	items := make([]backend.InventoryItem, 0, len(keys))
	var sized []string
	for i, k := range keys {
		ttl, err := cmds[i].Result()
		if err != nil || ttl == -2 {
			continue // gone since SCAN saw it
		}
		if ttl < 0 {
			ttl = -1
		}
		prev, had := p.known[k]
		deadline := deadlineOf(now, ttl)
		if !had || prev.deadline < 0 || deadline < 0 || absNs(deadline-prev.deadline) > int64(deadlineSlack) {
			sized = append(sized, k)
			continue
		}
		items = append(items, backend.InventoryItem{Key: k, Node: s.node, TTL: ttl, Size: int(prev.size), Type: prev.typ, Read: now})
	}
	if len(sized) > 0 {
		more, err := s.readMeta(ctx, sized)
		if err != nil {
			return nil, err
		}
		items = append(items, more...)
	}
	return items, nil
}

func absNs(d int64) int64 {
	if d < 0 {
		return -d
	}
	return d
}

func deadlineOf(at time.Time, ttl time.Duration) int64 {
	if ttl < 0 {
		return -1
	}
	return at.Add(ttl).UnixNano()
}

// change is one key's difference between two passes.
type change int

const (
	unchanged   change = iota
	born               // not there before
	rewritten          // size changed, the TTL was cleared, or the digest changed
	refreshed          // the TTL was set again, the content did not change (as far as can be told)
	needsDigest        // the TTL moved later at the same size: a digest decides
)

// classify compares a key's two states without reading its payload.
func classify(prev polledKey, had bool, cur polledKey) change {
	switch {
	case !had:
		return born
	case cur.size != prev.size:
		return rewritten
	case prev.deadline >= 0 && cur.deadline < 0:
		return rewritten // a plain SET clears the TTL
	case prev.deadline < 0 && cur.deadline >= 0,
		absNs(cur.deadline-prev.deadline) > int64(deadlineSlack):
		// The TTL was set again (EXPIRE, or a SETEX of the same size): a digest decides.
		return needsDigest
	}
	return unchanged
}

// diff turns the difference between the last pass and next into raw events, then
// makes next the baseline.
func (p *poller) diff(ctx context.Context, next map[string]polledKey, now time.Time) {
	var digestKeys []string
	changes := make(map[string]change)
	for k, cur := range next {
		prev, had := p.known[k]
		c := classify(prev, had, cur)
		if c == unchanged {
			continue
		}
		changes[k] = c
		// A digest is taken for births and rewrites so that a later TTL refresh has a
		// baseline, and for refreshes to compare against it; within the budget.
		if c != refreshed && len(digestKeys) < p.digestBudget {
			digestKeys = append(digestKeys, k)
		}
	}
	digests := p.s.digests(ctx, digestKeys, next)
	// Ends first: a deletion and a birth in one pass may be one regeneration, and the
	// tracker pairs them in either order, but ends first reads naturally in the stream.
	for k, prev := range p.known {
		if _, still := next[k]; still {
			continue
		}
		ev := backend.RawEvent{Time: now, Op: backend.OpDel, Key: k, Node: p.s.node, Evidence: model.EvidencePoll}
		if prev.deadline >= 0 && prev.deadline <= now.UnixNano()+int64(deadlineSlack) {
			// Its TTL had run out: most likely Redis expired it, when the TTL said.
			ev.Op, ev.Time = backend.OpExpired, time.Unix(0, min(prev.deadline, now.UnixNano()))
		}
		p.q.Push(ev)
	}
	for k, c := range changes {
		cur := next[k]
		d, ok := digests[k]
		prev := p.known[k]
		switch {
		case ok:
			cur.digest, cur.hasDigest = d, true
		case c != needsDigest:
			cur.hasDigest = false // rewritten unread: the old digest no longer describes it
		}
		next[k] = cur
		if c == needsDigest {
			c = refreshed
			if ok && prev.hasDigest && d != prev.digest {
				c = rewritten
			}
		}
		ops := []backend.Op{backend.OpSet}
		if c == refreshed {
			ops = []backend.Op{backend.OpExpire}
		} else if cur.deadline >= 0 {
			ops = append(ops, backend.OpExpire) // as a SETEX reports: the TTL is part of the write
		}
		for i, op := range ops {
			p.q.Push(backend.RawEvent{Time: now, Op: op, Key: k, Node: p.s.node, Evidence: model.EvidencePoll, Continues: i > 0})
		}
	}
	p.known = next
}

// digests reads the payloads of keys (capped at MaxPayloadBytes, hashes as their
// fields) and returns their xxhash. Keys gone since the pass are left out.
func (s *Store) digests(ctx context.Context, keys []string, states map[string]polledKey) map[string]uint64 {
	out := make(map[string]uint64, len(keys))
	if len(keys) == 0 {
		return out
	}
	strs := make([]*redis.StringCmd, len(keys))
	hashes := make([]*redis.MapStringStringCmd, len(keys))
	_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			if states[k].typ == framework.KeyHash {
				if states[k].size <= maxHashFields {
					hashes[i] = p.HGetAll(ctx, k)
				}
				continue
			}
			strs[i] = p.GetRange(ctx, k, 0, int64(s.cfg.MaxPayloadBytes-1))
		}
		return nil
	})
	for i, k := range keys {
		switch {
		case strs[i] != nil:
			b, err := strs[i].Bytes()
			if err == nil {
				out[k] = xxhash.Sum64(b)
			}
		case hashes[i] != nil:
			m, err := hashes[i].Result()
			if err != nil || len(m) == 0 {
				continue
			}
			// Field order from HGETALL is not stable; combine order-independently.
			var sum uint64
			for f, v := range m {
				sum += xxhash.Sum64String(f + "\x00" + v)
			}
			out[k] = sum
		}
	}
	return out
}
