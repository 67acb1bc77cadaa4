package lab

import (
	"testing"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// TestScenariosRedis runs scenarios with the lab's sessions in a real Redis, in
// phpredis format, watched through redisstore: the path `sessionscope --redis` takes.
func TestScenariosRedis(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	env := startLab(t, srv.URL())
	for _, id := range []string{"healthy", "no-sticky-sessions", "session-fixation", "hijack-detected"} {
		t.Run(id, func(t *testing.T) {
			checkBroken(t, env, runScenario(t, env, id, false))
			checkFixed(t, runScenario(t, env, id, true))
		})
	}
}

// TestEvictionUnderMaxmemory fills a small Redis that evicts any key (allkeys-lru)
// until it evicts the user's session. It skips without redis-server, unless
// SESSIONSCOPE_REQUIRE_REAL=1.
func TestEvictionUnderMaxmemory(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Args: []string{"--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"}})
	env := startLab(t, srv.URL())
	checkBroken(t, env, runScenario(t, env, "eviction-under-maxmemory", false))
	checkFixed(t, runScenario(t, env, "eviction-under-maxmemory", true))
}

// TestStartWaitsForTheWatch: Start returns only once the watch is live, so the first
// run's sessions are seen being created, not found by the inventory as sessions that
// were there before (which lost the healthy run's created event about once in ten
// runs on a loaded machine).
func TestStartWaitsForTheWatch(t *testing.T) {
	for _, name := range []string{"redis", "memory"} {
		t.Run(name, func(t *testing.T) {
			url := ""
			if name == "redis" {
				url = redistest.Start(t, redistest.Options{}).URL()
			}
			env := startLab(t, url)
			if st := env.Inspector.Status().Last; st.State != model.StateLive {
				t.Fatalf("Start returned with the watch %q, want %q", st.State, model.StateLive)
			}
		})
	}
}
