package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The proxy phase's anchor: nginx in front of the same upstream, one worker, a
// keep-alive upstream pool, no access log: what a production reverse proxy costs on
// this machine. It runs only where nginx is installed (Debian: nginx-light).

// nginxVersion is "nginx/1.22.1" when an nginx binary is on the PATH, else the note
// the table prints instead of its column.
func nginxVersion() string {
	bin := lookPath("nginx")
	if bin == "" {
		return "nginx not installed: its column is left out (apt-get install nginx-light)"
	}
	out, err := exec.Command(bin, "-v").CombinedOutput() // nginx prints its version on stderr
	if err != nil {
		return fmt.Sprintf("nginx -v failed (%v): its column is left out", err)
	}
	v := strings.TrimSpace(string(out))
	if _, after, ok := strings.Cut(v, "version: "); ok {
		v = after
	}
	return v
}

type nginxChild struct {
	cmd *exec.Cmd
	dir string
	url string
}

// nginxConf is the whole configuration: nginx runs in the foreground, as this user,
// with every path it writes under the run's own directory.
const nginxConf = `daemon off;
master_process on;
worker_processes 1;
%s
pid %[2]s/nginx.pid;
error_log %[2]s/error.log error;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path %[2]s/body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	upstream app {
		server %[3]s;
		keepalive 256;
	}
	server {
		listen %[4]s;
		location / {
			proxy_pass http://app;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host $host;
		}
	}
}
`

// startNginx runs nginx in front of upstream (a URL), on CPU cpu when not "", and
// returns once it accepts connections.
func startNginx(upstream, cpu string) (*nginxChild, error) {
	up, err := url.Parse(upstream)
	if err != nil || up.Host == "" {
		return nil, fmt.Errorf("nginx: upstream %q: want a URL", upstream)
	}
	dir, err := os.MkdirTemp("", "ssbench-nginx-")
	if err != nil {
		return nil, fmt.Errorf("nginx: %w", err)
	}
	// A free port: bound and released at once; nginx takes it right after.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("nginx: find a port: %w", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // else the worker runs as nobody and cannot write under dir
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConf, user, dir, up.Host, addr)), 0o600); err != nil {
		return nil, fmt.Errorf("nginx: %w", err)
	}
	args := []string{"-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log")}
	var cmd *exec.Cmd
	if cpu != "" {
		cmd = exec.Command("taskset", append([]string{"-c", cpu, lookPath("nginx")}, args...)...)
	} else {
		cmd = exec.Command(lookPath("nginx"), args...)
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	setChildAttrs(cmd)
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("nginx: start: %w", err)
	}
	n := &nginxChild{cmd: cmd, dir: dir, url: "http://" + addr}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return n, nil
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("nginx exited before it listened (%v): %s", err, log)
		case <-time.After(20 * time.Millisecond): // polling the port: nginx says nothing when it is ready
		}
		if time.Now().After(deadline) {
			n.stop()
			return nil, fmt.Errorf("nginx did not listen on %s within 10 s", addr)
		}
	}
}

func (n *nginxChild) pid() int { return n.cmd.Process.Pid }

// stop ends nginx's master (which ends its worker) and removes its directory.
func (n *nginxChild) stop() {
	_ = n.cmd.Process.Signal(os.Interrupt) // SIGINT: fast shutdown
	for i := 0; i < 200 && processAlive(n.pid()); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	_ = n.cmd.Process.Kill()
	_ = os.RemoveAll(n.dir)
}

func processAlive(pid int) bool {
	f := procStat(pid)
	return len(f) > 0 && f[0] != "Z"
}

// parentPID is pid's parent, from /proc (0 when unknown).
func parentPID(pid int) int {
	f := procStat(pid)
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// procTreeCPU is the CPU time of pid and its children (nginx's master and worker).
func procTreeCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	total := procCPU(pid)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return total
	}
	for _, e := range entries {
		if child, err := strconv.Atoi(e.Name()); err == nil && parentPID(child) == pid {
			total += procCPU(child)
		}
	}
	return total
}
