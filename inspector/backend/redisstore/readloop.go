package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// readLoop is the one goroutine that drains the subscription. It only parses and
// enqueues; everything slow happens downstream.
func (s *Store) readLoop(ctx context.Context, ps *subscription, q *backend.Queue, feed backend.Feed, probe bool) {
	prefix := []byte(fmt.Sprintf("__keyevent@%d__:", s.db))
	var (
		disconnectedAt time.Time
		probeUntil     time.Time
		sawEvent       bool
		commands       backend.CommandGrouper // which notifications form one command
		// lastHeard is when the subscription last answered: anything published after
		// it may be lost when the connection turns out to be broken.
		lastHeard = time.Now()
		retry     backoff
		lastSaid  time.Time // when the last "still down" status went out
		lastKey   string    // the key of the last notification, reused while it repeats
		keys      keyIntern // one string per key name
	)
	if probe {
		probeUntil = time.Now().Add(s.cfg.ProbeWindow)
	}
	for {
		msg, err := ps.receive(ctx, time.Second)
		now := msg.At
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
				lastHeard = now
				q.Flush(now)
				continue
			}
			wait := retry.next()
			switch {
			case disconnectedAt.IsZero():
				disconnectedAt = lastHeard
				lastSaid = now
				s.sendStatus(feed, model.StateDisconnected, nil, "lost the connection to Redis: "+firstLine(err.Error())+
					"; reconnecting (events are lost until then, and reconciled after)")
			case now.Sub(lastSaid) >= stillDownEvery:
				lastSaid = now
				s.sendStatus(feed, model.StateDisconnected, nil, fmt.Sprintf("still no connection to Redis after %s: %s; retrying every %s",
					now.Sub(disconnectedAt).Round(time.Second), firstLine(err.Error()), wait))
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			continue
		}
		lastHeard = now
		switch msg.Kind {
		case frameSubscribed:
			commands = backend.CommandGrouper{} // a resubscription starts a new stream
			if !disconnectedAt.IsZero() {
				// The subscription reconnected: whatever was published in between is
				// lost, because Pub/Sub is fire-and-forget. The gap makes resyncLoop
				// re-inventory the node.
				q.PushGap(disconnectedAt, now, "disconnected from Redis")
				disconnectedAt = time.Time{}
				retry = backoff{}
				s.sendStatus(feed, model.StateInventory, nil, "reconnected to Redis; re-inventory of the sessions to reconcile the gap")
			}
		case frameMessage:
			if probe && !sawEvent {
				sawEvent = true
				if !probeUntil.IsZero() {
					s.sendStatus(feed, model.StateLive, nil, "keyspace events are arriving: notifications are on")
				}
			}
			name, ok := bytes.CutPrefix(msg.Channel, prefix)
			if !ok {
				continue
			}
			op, _ := backend.ParseOp(string(name)) // 0 for ops sessionscope does not use
			var key string
			if op != 0 {
				// One command's notifications name the same key (SETEX: new, set,
				// expire): the string found for the first serves the rest.
				if string(msg.Payload) != lastKey {
					lastKey = keys.get(msg.Payload)
				}
				key = lastKey
			}
			// A message that needed no read from the socket came in the same write as
			// the one before: one command's notifications leave Redis in one write.
			// The key of an op the store does not use is never compared, so it is
			// not made into a string.
			continues := commands.Next(op, key, now, msg.Buffered)
			if op == 0 {
				continue
			}
			if _, ok := s.cfg.Matcher.Match(key); !ok {
				continue
			}
			q.Push(backend.RawEvent{Time: now, Op: op, Key: key, Node: s.node, Continues: continues})
		}
	}
}
