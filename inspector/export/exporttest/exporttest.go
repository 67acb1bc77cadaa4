// Package exporttest runs the OpenTelemetry Collector's own OTLP receiver in-process,
// so that tests check what sessionscope exports as a Collector receives it.
package exporttest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

// Record is one received log record, flattened for assertions.
type Record struct {
	Resource map[string]string
	Attrs    map[string]any
	Body     string
	Time     time.Time
	Severity string
}

// Receiver is a running OTLP receiver.
type Receiver struct {
	// Endpoint is the base URL to export to (http://127.0.0.1:PORT).
	Endpoint string
	// GRPCEndpoint is the grpc listener's URL.
	GRPCEndpoint string
	Sink         *consumertest.LogsSink
}

// Start starts an OTLP receiver (HTTP and gRPC) on free loopback ports that keeps
// every record in Sink; it stops with the test.
func Start(t testing.TB) *Receiver {
	t.Helper()
	sink := new(consumertest.LogsSink)
	httpAddr, err := FreeAddr()
	if err != nil {
		t.Fatalf("otlp receiver: %v", err)
	}
	grpcAddr, err := FreeAddr()
	if err != nil {
		t.Fatalf("otlp receiver: %v", err)
	}
	stop, err := Serve(context.Background(), httpAddr, grpcAddr, sink)
	if err != nil {
		t.Fatalf("otlp receiver: %v", err)
	}
	t.Cleanup(func() {
		if err := stop(context.Background()); err != nil {
			t.Errorf("otlp receiver: shutdown: %v", err)
		}
	})
	return &Receiver{Endpoint: "http://" + httpAddr, GRPCEndpoint: "http://" + grpcAddr, Sink: sink}
}

// Serve runs the Collector's OTLP receiver on httpAddr and grpcAddr (host:port),
// handing what it receives to next, until stop is called. It is Start without a
// test, for the benchmark's receiver process.
func Serve(ctx context.Context, httpAddr, grpcAddr string, next consumer.Logs) (stop func(context.Context) error, err error) {
	factory := otlpreceiver.NewFactory()
	cfg := factory.CreateDefaultConfig().(*otlpreceiver.Config)
	httpCfg := cfg.Protocols.HTTP.GetOrInsertDefault()
	httpCfg.ServerConfig.NetAddr.Endpoint = httpAddr
	grpcCfg := cfg.Protocols.GRPC.GetOrInsertDefault()
	grpcCfg.NetAddr.Endpoint = grpcAddr
	cfg.Protocols.HTTP = configoptional.Some(*httpCfg)
	cfg.Protocols.GRPC = configoptional.Some(*grpcCfg)
	rcv, err := factory.CreateLogs(ctx, receivertest.NewNopSettings(factory.Type()), cfg, next)
	if err != nil {
		return nil, err
	}
	if err := rcv.Start(ctx, componenttest.NewNopHost()); err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	return rcv.Shutdown, nil
}

// FreeAddr finds a free loopback port. The receiver binds it a moment later; another
// process taking it in between fails loudly rather than silently.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

// Records returns every record received so far.
func (r *Receiver) Records() []Record {
	var out []Record
	for _, logs := range r.Sink.AllLogs() {
		rls := logs.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			rl := rls.At(i)
			res := map[string]string{}
			rl.Resource().Attributes().Range(func(k string, v pcommon.Value) bool {
				res[k] = v.AsString()
				return true
			})
			sls := rl.ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					lr := lrs.At(k)
					attrs := lr.Attributes().AsRaw()
					out = append(out, Record{
						Resource: res,
						Attrs:    attrs,
						Body:     lr.Body().AsString(),
						Time:     lr.Timestamp().AsTime(),
						Severity: lr.SeverityText(),
					})
				}
			}
		}
	}
	return out
}

// Count returns how many records were received so far.
func (r *Receiver) Count() int { return r.Sink.LogRecordCount() }
