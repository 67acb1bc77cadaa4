package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
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
// cluster (--nodes) and export to one Collector receiver. Between the sessions'
// creation and deletion the slots of some of them move from the first process's
// master to one the second follows (a reshard). Together the exports hold every
// session event the test caused exactly once, each from the process that follows the
// session's master at the time: a move is neither an end nor a birth.
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

	// Three slots of the first process's sessions move to a master the second follows.
	moved := map[string]bool{}
	slots := map[int64]bool{}
	for _, k := range keys {
		owner, err := cc.MasterForKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		slot, err := cc.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if owner.Options().Addr == masters[0] && (len(slots) < 3 || slots[slot]) {
			slots[slot] = true
			moved[strings.TrimPrefix(k, "PHPREDIS_SESSION:")] = true
		}
	}
	if len(slots) < 3 {
		t.Fatalf("only %d slots of %d sessions on %s", len(slots), sessions, masters[0])
	}
	for slot := range slots {
		migrateSlot(t, ctx, masters, slot, masters[0], masters[1])
	}
	cc.ReloadState(ctx)
	// A write after the move shows the second process holds them (the move itself is
	// silent); only then are they deleted, so that the deletions find them moved.
	movedRefs := map[string]bool{}
	for id := range moved {
		movedRefs[model.Ref(id)] = true
		if err := cc.Set(ctx, "PHPREDIS_SESSION:"+id, `user|s:5:"alice";cart|i:1;`, 10*time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	waitRecords(t, rcv, movedRefs, map[model.Kind]bool{model.KindUpdated: true})
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
		for _, kind := range []model.Kind{model.KindCreated, model.KindUpdated, model.KindDestroyed} {
			want := 1
			if kind == model.KindUpdated && !movedRefs[ref] {
				want = 0
			}
			if n := count[ref+" "+string(kind)]; n != want {
				t.Errorf("session %s (moved: %v): %d %s events exported, want %d", ref, movedRefs[ref], n, kind, want)
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

// migrateSlot moves one hash slot and its keys from one master to another as
// `redis-cli --cluster reshard` does: IMPORTING on the target, MIGRATING on the
// source, MIGRATE of the slot's keys, then SETSLOT NODE on every master.
func migrateSlot(t *testing.T, ctx context.Context, masters []string, slot int64, from, to string) {
	t.Helper()
	src := redis.NewClient(&redis.Options{Addr: from})
	defer src.Close()
	dst := redis.NewClient(&redis.Options{Addr: to})
	defer dst.Close()
	fromID, err := src.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatalf("cluster myid on %s: %v", from, err)
	}
	toID, err := dst.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatalf("cluster myid on %s: %v", to, err)
	}
	s := strconv.FormatInt(slot, 10)
	if err := dst.Do(ctx, "CLUSTER", "SETSLOT", s, "IMPORTING", fromID).Err(); err != nil {
		t.Fatalf("setslot importing: %v", err)
	}
	if err := src.Do(ctx, "CLUSTER", "SETSLOT", s, "MIGRATING", toID).Err(); err != nil {
		t.Fatalf("setslot migrating: %v", err)
	}
	host, port, _ := net.SplitHostPort(to)
	for {
		keys, err := src.ClusterGetKeysInSlot(ctx, int(slot), 100).Result()
		if err != nil {
			t.Fatalf("getkeysinslot %d: %v", slot, err)
		}
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		if err := src.Do(ctx, args...).Err(); err != nil {
			t.Fatalf("migrate slot %d: %v", slot, err)
		}
	}
	for _, m := range masters {
		c := redis.NewClient(&redis.Options{Addr: m})
		err := c.Do(ctx, "CLUSTER", "SETSLOT", s, "NODE", toID).Err()
		_ = c.Close()
		if err != nil {
			t.Fatalf("setslot node on %s: %v", m, err)
		}
	}
}
