package redistest

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/inspectortest"
)

// ClusterOptions tune a local Redis Cluster.
type ClusterOptions struct {
	Masters  int // default 3
	Replicas int // replicas per master; default 0
	// NodeTimeout is cluster-node-timeout: how long a silent master takes to be judged
	// failed, and so how soon a failover starts. Default 1 s, so tests do not wait long.
	NodeTimeout time.Duration
	// Notifications as in Options; "" means DefaultNotifications.
	Notifications string
}

// Cluster is a local Redis Cluster on loopback ports, owned by one test.
type Cluster struct {
	Nodes []*Server
}

// StartCluster starts Masters*(1+Replicas) cluster-enabled redis-servers, joins them
// with redis-cli --cluster create, and waits until every node reports cluster_state:ok
// with all 16384 slots served. Without redis-server or redis-cli the test is skipped,
// or fails under SESSIONSCOPE_REQUIRE_REAL=1.
func StartCluster(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	cli := inspectortest.Need(t, "redis-cli", "apt-get install redis-tools")
	if opts.Masters <= 0 {
		opts.Masters = 3
	}
	if opts.NodeTimeout <= 0 {
		opts.NodeTimeout = time.Second
	}
	n := opts.Masters * (1 + opts.Replicas)
	c := &Cluster{}
	for range n {
		// Each node has its own directory, hence its own nodes.conf. A replica-validity
		// factor of 0 lets a replica take over however long it was cut off.
		c.Nodes = append(c.Nodes, Start(t, Options{Notifications: opts.Notifications, Args: []string{
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.FormatInt(opts.NodeTimeout.Milliseconds(), 10),
			"--cluster-replica-validity-factor", "0", "--repl-diskless-sync-delay", "0",
		}}))
	}
	args := []string{"--cluster", "create"}
	for _, s := range c.Nodes {
		args = append(args, s.Addr)
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(opts.Replicas), "--cluster-yes")
	// Every node goes down before any killed node's port is let go (Server.Stop): the
	// nodes still up would otherwise talk to whatever server takes that port next.
	t.Cleanup(func() {
		for _, s := range c.Nodes {
			s.kill()
		}
		for _, s := range c.Nodes {
			s.Stop()
		}
	})
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitOK(t, 30*time.Second)
	return c
}

// WaitOK waits until every running node reports cluster_state:ok, every slot is
// served by a master that is up (after a failover: the promotion is done) and every
// running replica is in sync with its master.
func (c *Cluster) WaitOK(t testing.TB, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	last := ""
	for time.Now().Before(deadline) {
		if last = c.notOK(); last == "" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("redistest: cluster not ok within %s: %s", limit, last)
}

// notOK says why the cluster is not ok yet, or "" when it is.
func (c *Cluster) notOK() string {
	up := c.Running()
	if len(up) == 0 {
		return "no node is running"
	}
	masters := map[string]bool{}
	for _, s := range up {
		info, err := Command(s.Addr, "CLUSTER", "INFO")
		if err != nil {
			return s.Addr + ": " + err.Error()
		}
		if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
			return s.Addr + " reports " + strings.ReplaceAll(firstLines(info, 3), "\r\n", " ")
		}
		role, _ := Command(s.Addr, "ROLE")
		if strings.HasPrefix(role, "master") {
			masters[s.Addr] = true
			continue
		}
		// A replica counts once it holds its master's data: a failover to a replica
		// that never synced would lose the keys.
		if repl, err := Command(s.Addr, "INFO", "replication"); err != nil || !strings.Contains(repl, "master_link_status:up") {
			return s.Addr + ": replica not in sync with its master"
		}
	}
	// Every node must agree that the slot owners are running masters.
	for _, s := range up {
		for _, owner := range slotOwners(s.Addr) {
			if !masters[owner] {
				return fmt.Sprintf("%s still routes slots to %s", s.Addr, owner)
			}
		}
	}
	return ""
}

// Running are the nodes not killed.
func (c *Cluster) Running() []*Server {
	var up []*Server
	for _, s := range c.Nodes {
		if s.cmd != nil && s.cmd.ProcessState == nil {
			up = append(up, s)
		}
	}
	return up
}

// Masters are the running nodes whose ROLE is master.
func (c *Cluster) Masters(t testing.TB) []*Server {
	t.Helper()
	var ms []*Server
	for _, s := range c.Running() {
		role, err := Command(s.Addr, "ROLE")
		if err != nil {
			t.Fatalf("redistest: ROLE on %s: %v", s.Addr, err)
		}
		if strings.HasPrefix(role, "master") {
			ms = append(ms, s)
		}
	}
	return ms
}

// URL is a redis:// URL of the first running node, as a user would pass one node.
func (c *Cluster) URL() string { return c.Running()[0].URL() }

// slotOwners lists the addresses of the masters that serve slots, as CLUSTER SHARDS
// on addr sees them. Command flattens the nested reply into lines.
func slotOwners(addr string) []string {
	reply, err := Command(addr, "CLUSTER", "SHARDS")
	if err != nil {
		return nil
	}
	// SHARDS: per shard "slots", its ranges, "nodes", then per node key/value pairs in
	// which "role" "master" marks the shard's master.
	var owners []string
	lines := strings.Split(reply, "\n")
	var ip, port, role string
	hasSlots := false
	flush := func() {
		if hasSlots && role == "master" && ip != "" && port != "" {
			owners = append(owners, ip+":"+port)
		}
		ip, port, role = "", "", ""
	}
	for i := 0; i+1 < len(lines); i++ {
		switch lines[i] {
		case "slots":
			// A failed master keeps a shard of its own, without slots.
			flush()
			hasSlots = lines[i+1] != "" && lines[i+1] != "nodes"
		case "id":
			flush()
		case "ip":
			ip = lines[i+1]
		case "port":
			port = lines[i+1]
		case "role":
			role = lines[i+1]
		}
	}
	flush()
	return owners
}

func firstLines(s string, n int) string {
	parts := strings.SplitN(s, "\n", n+1)
	if len(parts) > n {
		parts = parts[:n]
	}
	return strings.Join(parts, "\n")
}
