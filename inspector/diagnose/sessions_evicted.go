package diagnose

import (
	"fmt"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// sessionsEvicted reports sessions the store threw out under memory pressure: Redis
// reached maxmemory and its eviction policy picked session keys. Those users are
// logged out at random, long before their sessions were due to expire.
type sessionsEvicted struct{}

func (sessionsEvicted) ID() string { return "sessions-evicted" }

func (sessionsEvicted) OnInventory(SessionFact, *Recorder) {}

func (sessionsEvicted) Tick(time.Time, *Recorder) {}

func (sessionsEvicted) OnEvent(ev *model.Event, r *Recorder) {
	if ev.Kind != model.KindEvicted || ev.Session == nil {
		return
	}
	where := ev.Backend
	if ev.Node != "" {
		where += " " + ev.Node
	}
	r.Report(Report{
		Cause:    where + "\x00" + ev.Session.KeyPrefix,
		Severity: model.SeverityError,
		Title:    "Sessions evicted: the store ran out of memory",
		Detail: fmt.Sprintf("The store (%s) reached its maxmemory limit and evicted %s sessions (%s…). "+
			"Each eviction logs a user out at random, before the session was due to expire; from the user's side it looks like a flaky login.",
			where, ev.Session.Framework, ev.Session.KeyPrefix),
		Fix: "Give sessions memory they cannot be evicted from: a Redis of their own with enough maxmemory and maxmemory-policy noeviction " +
			"(writes then fail loudly instead of users vanishing), or volatile-ttl so keys nearest expiry go first. " +
			"Check with redis-cli INFO memory and CONFIG GET maxmemory-policy. Shorter session TTLs also shrink the set.",
		Session:  ev.Session.Ref,
		Event:    ev.Seq,
		Evidence: fmt.Sprintf("%s evicted session %s (%s, key prefix %s)", ev.Time.UTC().Format("15:04:05.000"), ev.Session.Ref, ev.Session.Framework, ev.Session.KeyPrefix),
		Time:     ev.Time,
	})
}
