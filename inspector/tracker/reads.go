// Payload reads: which entry reads what within the read budget, and what comes back.

package tracker

import (
	"context"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// requestRead asks for the entry's payload (or only its TTL) within the read budget.
// One read is in flight per entry; a payload needed while a TTL read is out is asked
// for when that read returns.
func (t *Tracker) requestRead(e *entry, ttlOnly bool) {
	if e.reading {
		// The read in flight may have seen the store before this write: read again
		// when it returns, so the event describes the last write of the window.
		if !ttlOnly {
			e.wantPayload = true
		}
		return
	}
	if !ttlOnly && e.result != nil && !e.result.res.TTLOnly && e.readGen == e.writeGen {
		return // the payload read already saw the last write
	}
	req := backend.ReadRequest{Key: e.key, Type: e.m.Framework.Type, MaxBytes: t.cfg.MaxPayloadBytes, TTLOnly: ttlOnly}
	if !t.startRead(e, req) && !ttlOnly {
		e.unread = model.UnreadBudget
	}
}

// startRead sends e's read to the fetcher within the read budget and reports whether
// it went. A spent budget or a saturated read pipeline (treated as budget spent rather
// than waited for) counts as denied.
func (t *Tracker) startRead(e *entry, req backend.ReadRequest) bool {
	if !t.limiter.Allow() {
		t.stats.BudgetDenied.Add(1)
		return false
	}
	select {
	case t.fetchReq <- fetchJob{entry: e, req: req, m: e.m}:
		e.reading, e.readTTLOnly, e.readGen = true, req.TTLOnly, e.writeGen
		t.stats.Reads.Add(1)
		return true
	default:
		t.stats.BudgetDenied.Add(1)
		return false
	}
}

func (t *Tracker) onFetched(results []fetchResult) {
	for i := range results {
		r := &results[i]
		if r.verify != nil {
			t.onVerified(r)
			continue
		}
		e := r.entry
		e.reading = false
		if e.done {
			// The entry was emitted without waiting (a conflicting op forced it); keep
			// what was read so the next event on the key has a baseline.
			t.applyLate(r)
			continue
		}
		if !r.res.TTLOnly {
			e.payloadReadAt = r.at
		}
		if r.res.TTLOnly && e.result != nil && !e.result.res.TTLOnly {
			e.result.res.TTL = r.res.TTL
		} else {
			e.result = r
		}
		e.readTTLOnly = r.res.TTLOnly
		if e.handedOver() {
			// The key lives on, on another master: this deletion must not pair with
			// a new session as a regeneration.
			if set := t.pendingDels[e.m.Framework]; set != nil {
				delete(set, e)
			}
		}
		if e.wantPayload {
			e.wantPayload = false
			t.requestRead(e, false)
		}
	}
}

func (t *Tracker) applyLate(r *fetchResult) {
	if r.cached == nil || !r.res.Exists {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.sessions.get(r.entry.key); s != nil {
		s.fw = t.fwIndex(r.cached.fw)
		t.cache.put(s, r.cached)
	}
}

// fetchJob is one read request on its way to the store.
type fetchJob struct {
	entry *entry
	req   backend.ReadRequest
	m     framework.Match // the key's match, copied: the fetch goroutine must not read the entry
	// verify, instead of entry, is an inventory key read before it is taken for a
	// session (Tracker.verify).
	verify *backend.InventoryItem
}

// fetchResult is a read decoded off the tracker goroutine.
type fetchResult struct {
	entry  *entry
	at     time.Time // when the store answered
	res    backend.ReadResult
	cached *cachedPayload
	// notSession: the key matched a row that guesses from the key's shape alone (an
	// empty --prefix), and its payload is not that framework's: another
	// application's data keyed by a UUID.
	notSession bool
	verify     *backend.InventoryItem // the job's, when it verified an inventory key
}

// maxReadBatch bounds one pipeline so a burst does not become one giant round trip.
const maxReadBatch = 256

// fetchLoop batches queued reads into pipelines and decodes the payloads, so that the
// tracker goroutine never waits on the network or a decoder.
func (t *Tracker) fetchLoop(ctx context.Context) {
	for {
		var first fetchJob
		select {
		case <-ctx.Done():
			return
		case first = <-t.fetchReq:
		}
		jobs := []fetchJob{first}
	drain:
		for len(jobs) < maxReadBatch {
			select {
			case j := <-t.fetchReq:
				jobs = append(jobs, j)
			default:
				break drain
			}
		}
		reqs := make([]backend.ReadRequest, len(jobs))
		for i, j := range jobs {
			reqs[i] = j.req
		}
		readCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		results := t.store.Read(readCtx, reqs)
		cancel()
		answered := time.Now()
		out := make([]fetchResult, len(jobs))
		for i, j := range jobs {
			out[i] = fetchResult{entry: j.entry, at: answered, verify: j.verify}
			if i < len(results) {
				out[i].res = results[i]
			}
			out[i].res.TTLOnly = j.req.TTLOnly
			if out[i].res.Exists && !j.req.TTLOnly && out[i].res.Err == nil && (out[i].res.Data != nil || out[i].res.Hash != nil) {
				// Where two frameworks default to the same prefix, the payload names
				// the one that wrote it.
				fw := t.cfg.Matcher.Resolve(j.m, out[i].res.Data).Framework
				if !fw.PayloadFits(out[i].res.Data) {
					out[i].notSession = true
					continue
				}
				out[i].cached = decodePayload(out[i].res, fw, t.cfg.AuthMarkers)
			}
		}
		select {
		case t.fetchRes <- out:
		case <-ctx.Done():
			return
		}
	}
}
