package cli

import (
	"io"
	"strings"
	"testing"
	"time"
)

// TestFilesFlags checks the --files wiring: no --redis needed, REDIS_URL ignored,
// labels, --gc-maxlifetime in seconds or as a duration, and the combinations refused.
func TestFilesFlags(t *testing.T) {
	env := func(k string) string {
		if k == "REDIS_URL" {
			return "redis://127.0.0.1:6379/0"
		}
		return ""
	}
	tests := []struct {
		name    string
		args    []string
		gc      time.Duration
		dirs    []string // label=path of each parsed directory
		wantErr string
	}{
		{name: "watch", args: []string{"watch", "--files", "/tmp"}, gc: 1440 * time.Second, dirs: []string{"/tmp=/tmp"}},
		{name: "serve two labelled", args: []string{"serve", "--files", "web1=/a", "--files", "web2=/b", "--gc-maxlifetime", "3600"},
			gc: time.Hour, dirs: []string{"web1=/a", "web2=/b"}},
		{name: "duration", args: []string{"watch", "--files", "/tmp", "--gc-maxlifetime", "24m"}, gc: 24 * time.Minute, dirs: []string{"/tmp=/tmp"}},
		{name: "with --redis", args: []string{"watch", "--files", "/tmp", "--redis", "redis://x:1"}, wantErr: "--files and --redis"},
		{name: "with the lab", args: []string{"serve", "--lab", "--files", "/tmp"}, wantErr: "lab"},
		{name: "zero lifetime", args: []string{"watch", "--files", "/tmp", "--gc-maxlifetime", "0"}, wantErr: "--gc-maxlifetime"},
		{name: "bad lifetime", args: []string{"watch", "--files", "/tmp", "--gc-maxlifetime", "soon"}, wantErr: "want seconds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseArgs(tc.args, env, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.RedisURL != "" || cfg.GCMaxLifetime != tc.gc {
				t.Errorf("redis %q gc %s; want no Redis (REDIS_URL ignored) and %s", cfg.RedisURL, cfg.GCMaxLifetime, tc.gc)
			}
			var dirs []string
			for _, d := range cfg.fileDirs {
				dirs = append(dirs, d.Label+"="+d.Path)
			}
			if strings.Join(dirs, " ") != strings.Join(tc.dirs, " ") {
				t.Errorf("dirs %v, want %v", dirs, tc.dirs)
			}
			found := false
			for _, fw := range cfg.frameworks {
				found = found || fw.Prefix == "sess_"
			}
			if !found {
				t.Errorf("the sess_ framework row is not in the matcher's table")
			}
		})
	}
}
