package cli

import (
	"io"
	"strings"
	"testing"
)

func TestExportFlags(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, tc := range []struct {
		name    string
		args    []string
		getenv  func(string) string
		wantErr string // "" : valid
		wantOn  bool
	}{
		{"off by default", []string{"watch", "--redis", "redis://127.0.0.1:6379"}, env(), "", false},
		{"flag", []string{"watch", "--redis", "redis://127.0.0.1:6379", "--otlp-endpoint", "http://c:4318"}, env(), "", true},
		{"standard variable", []string{"watch", "--redis", "redis://127.0.0.1:6379"}, env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), "", true},
		{"logs variable", []string{"serve", "--redis", "redis://127.0.0.1:6379"}, env("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://c:4318/v1/logs"), "", true},
		{"endpoint without scheme", []string{"watch", "--redis", "redis://127.0.0.1:6379", "--otlp-endpoint", "c:4318"}, env(), "--otlp-endpoint", false},
		{"nodes", []string{"watch", "--redis", "redis://127.0.0.1:6379", "--nodes", "10.0.0.1:6379, 10.0.0.2:6379"}, env(), "", false},
		{"nodes without port", []string{"watch", "--redis", "redis://127.0.0.1:6379", "--nodes", "10.0.0.1"}, env(), "--nodes", false},
		{"nodes with files", []string{"watch", "--files", t.TempDir(), "--nodes", "10.0.0.1:6379"}, env(), "--nodes", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseArgs(tc.args, tc.getenv, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Export.On != tc.wantOn {
				t.Errorf("export on = %v, want %v", cfg.Export.On, tc.wantOn)
			}
		})
	}
}
