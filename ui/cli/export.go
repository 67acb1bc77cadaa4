package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/sessionscope/sessionscope/inspector/export"
)

// ExportOptions are the OTLP export and cluster-split flags of watch and serve.
type ExportOptions struct {
	// Endpoint (--otlp-endpoint URL) turns export on and overrides the standard
	// OTEL_EXPORTER_OTLP_* variables' endpoint; default none.
	Endpoint string
	// On: export is asked for, by Endpoint or OTEL_EXPORTER_OTLP_(LOGS_)ENDPOINT.
	On bool
	// Nodes (--nodes host:port,...) are the Redis Cluster masters to follow; default all.
	Nodes []string
}

// exportFlags adds --otlp-endpoint and --nodes to fs.
func exportFlags(fs *flag.FlagSet, o *ExportOptions) {
	fs.StringVar(&o.Endpoint, "otlp-endpoint", "", "send events, exchanges and findings as OpenTelemetry logs to this OTLP `URL` (e.g. http://collector:4318); "+
		"without it the standard OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_LOGS_ENDPOINT turn export on; OTEL_EXPORTER_OTLP_PROTOCOL=grpc sends over gRPC")
	fs.Func("nodes", "follow only these Redis Cluster masters, `host:port,...` as CLUSTER SLOTS names them (default all): split a large cluster across sessionscope processes (docs/scaling.md)", func(v string) error {
		for _, n := range strings.Split(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				o.Nodes = append(o.Nodes, n)
			}
		}
		return nil
	})
}

// exportOn reports whether export is asked for: --otlp-endpoint or a standard
// endpoint variable (the SDK reads the rest of OTEL_EXPORTER_OTLP_* itself).
func exportOn(endpoint string, getenv func(string) string) bool {
	return endpoint != "" || getenv(export.EnvEndpoint) != "" || getenv(export.EnvLogsEndpoint) != ""
}

// validateExport checks the export and --nodes flags.
func (c *Config) validateExport() error {
	o := &c.Export
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return fmt.Errorf("%w: --otlp-endpoint %q is not an http(s) URL with a host; give one like http://collector:4318", errUsage, o.Endpoint)
		}
	}
	for _, n := range o.Nodes {
		if _, port, err := net.SplitHostPort(n); err != nil || port == "" {
			return fmt.Errorf("%w: --nodes %q is not host:port; name the masters as CLUSTER SLOTS does, e.g. --nodes 10.0.0.1:6379,10.0.0.2:6379", errUsage, n)
		}
	}
	if len(o.Nodes) > 0 && (c.RedisURL == "" || c.Sentinel != "" || len(c.Files) > 0 || c.Lab) {
		return fmt.Errorf("%w: --nodes picks masters of a Redis Cluster given with --redis; drop it for --sentinel, --files or the lab", errUsage)
	}
	return nil
}

// openExport starts the OTLP exporter; run calls it when o.On.
func openExport(ctx context.Context, o ExportOptions, logger *slog.Logger) (*export.Exporter, error) {
	nodes := "all"
	if len(o.Nodes) > 0 {
		nodes = strings.Join(o.Nodes, ",")
	}
	return export.Open(ctx, export.Options{Endpoint: o.Endpoint, Logger: logger,
		Resource: map[string]string{"sessionscope.nodes": nodes}})
}

// closeExport sends what is queued, for a few seconds at most: a dead Collector must
// not hold the exit.
func closeExport(e *export.Exporter, logger *slog.Logger) {
	if e == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		logger.Warn("otlp export: records not sent at exit", "err", err, "dropped", e.Stats().Dropped)
	}
}
