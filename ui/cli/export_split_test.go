package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/export/exporttest"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// noOTELEnv is isolatedEnv without OTEL_* variables, so the test's --otlp-endpoint
// alone decides where the records go.
func noOTELEnv(t *testing.T) []string {
	var env []string
	for _, kv := range isolatedEnv(t) {
		if !strings.HasPrefix(kv, "OTEL_") {
			env = append(env, kv)
		}
	}
	return env
}

// TestSplitClusterExport: two sessionscope processes each follow part of a 3-master
// cluster (--nodes) and export to one Collector receiver. Together the exports hold
// every session event the test caused exactly once, each from the process that
// follows the session's master.
func TestSplitClusterExport(t *testing.T) {
	c := redistest.StartCluster(t, redistest.ClusterOptions{Masters: 3})
	var masters []string
	for _, m := range c.Masters(t) {
		masters = append(masters, m.Addr)
	}
	if len(masters) != 3 {
		t.Fatalf("masters = %v, want 3", masters)
	}
	t.Run("unknown master", func(t *testing.T) {
		cmd := exec.Command(sessionscopeBinary(t), "watch", "--redis", c.URL(), "--nodes", masters[0]+",127.0.0.1:1", "--no-history")
		cmd.Env = noOTELEnv(t)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Fatalf("exit = %v, want 2; stderr: %s", err, stderr.String())
		}
		msg := strings.TrimSpace(stderr.String())
		if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "127.0.0.1:1") || strings.Contains(msg, masters[0]+",127.0.0.1:1") {
			t.Errorf("stderr = %q, want one line naming 127.0.0.1:1 alone", msg)
		}
		for _, m := range masters {
			if !strings.Contains(msg, m) {
				t.Errorf("stderr = %q, want the masters listed (%s missing)", msg, m)
			}
		}
	})
	rcv := exporttest.Start(t)
	halves := []string{masters[0], masters[1] + "," + masters[2]}
	var procs []*watchProc
	for _, nodes := range halves {
		procs = append(procs, startWatchEnv(t, noOTELEnv(t), "--redis", c.URL(), "--nodes", nodes,
			"--otlp-endpoint", rcv.Endpoint, "--no-history"))
	}
	for _, p := range procs {
		p.waitLive()
	}

	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: masters, MaxRedirects: 16})
	defer cc.Close()
	ctx := context.Background()
	const sessions = 90
	refs := map[string]bool{}
	var keys []string
	for range sessions {
		b := make([]byte, 13)
		_, _ = rand.Read(b)
		id := hex.EncodeToString(b)
		keys = append(keys, "PHPREDIS_SESSION:"+id)
		refs[model.Ref(id)] = true
	}
	for _, k := range keys {
		if err := cc.Set(ctx, k, `user|s:5:"alice";`, 10*time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Deletions only once every creation is out, so that none pairs with a creation
	// into a regeneration.
	waitRecords(t, rcv, refs, map[model.Kind]bool{model.KindCreated: true})
	for _, k := range keys {
		if err := cc.Del(ctx, k).Err(); err != nil {
			t.Fatal(err)
		}
	}
	waitRecords(t, rcv, refs, map[model.Kind]bool{model.KindCreated: true, model.KindDestroyed: true})
	// Stopping the processes flushes their exports: anything sent twice shows now.
	for _, p := range procs {
		_ = p.cmd.Process.Signal(os.Interrupt)
		<-p.done
	}

	count := map[string]int{}
	perProcess := map[string]int{}
	for _, r := range rcv.Records() {
		ref, _ := r.Attrs["sessionscope.session.ref"].(string)
		kind, _ := r.Attrs["sessionscope.kind"].(string)
		if r.Attrs["sessionscope.type"] != model.TypeEvent || !refs[ref] {
			continue
		}
		nodes := r.Resource["sessionscope.nodes"]
		node, _ := r.Attrs["sessionscope.node"].(string)
		if !strings.Contains(","+nodes+",", ","+node+",") {
			t.Errorf("%s of %s on node %q exported by the process following %s", kind, ref, node, nodes)
		}
		perProcess[nodes]++
		count[ref+" "+kind]++
	}
	for ref := range refs {
		for _, kind := range []model.Kind{model.KindCreated, model.KindDestroyed} {
			if n := count[ref+" "+string(kind)]; n != 1 {
				t.Errorf("session %s: %d %s events exported, want exactly 1", ref, n, kind)
			}
		}
	}
	for _, nodes := range halves {
		if perProcess[nodes] == 0 {
			t.Errorf("the process following %s exported nothing (%v)", nodes, perProcess)
		}
	}
}

// waitRecords waits until the receiver holds, for every ref, an event of each kind.
// The limit only guards against a hang.
func waitRecords(t *testing.T, rcv *exporttest.Receiver, refs map[string]bool, kinds map[model.Kind]bool) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	limit := time.After(60 * time.Second)
	for {
		seen := map[string]bool{}
		for _, r := range rcv.Records() {
			ref, _ := r.Attrs["sessionscope.session.ref"].(string)
			kind, _ := r.Attrs["sessionscope.kind"].(string)
			if refs[ref] && kinds[model.Kind(kind)] {
				seen[ref+" "+kind] = true
			}
		}
		if len(seen) == len(refs)*len(kinds) {
			return
		}
		select {
		case <-tick.C:
		case <-limit:
			t.Fatalf("after 60 s the receiver holds %d of %d expected events", len(seen), len(refs)*len(kinds))
		}
	}
}
