// Package exporttest runs the OpenTelemetry Collector's own OTLP receiver in-process,
// so that tests check what sessionscope exports as a Collector receives it.
package exporttest

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
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

// Start starts an OTLP receiver (HTTP and gRPC) on free loopback ports; it stops
// with the test.
func Start(t testing.TB) *Receiver {
	t.Helper()
	factory := otlpreceiver.NewFactory()
	cfg := factory.CreateDefaultConfig().(*otlpreceiver.Config)
	httpCfg := cfg.Protocols.HTTP.GetOrInsertDefault()
	httpAddr := freeAddr(t)
	httpCfg.ServerConfig.NetAddr.Endpoint = httpAddr
	grpcCfg := cfg.Protocols.GRPC.GetOrInsertDefault()
	grpcAddr := freeAddr(t)
	grpcCfg.NetAddr.Endpoint = grpcAddr
	cfg.Protocols.HTTP = configoptional.Some(*httpCfg)
	cfg.Protocols.GRPC = configoptional.Some(*grpcCfg)

	sink := new(consumertest.LogsSink)
	rcv, err := factory.CreateLogs(context.Background(), receivertest.NewNopSettings(factory.Type()), cfg, sink)
	if err != nil {
		t.Fatalf("otlp receiver: %v", err)
	}
	if err := rcv.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatalf("otlp receiver: start: %v", err)
	}
	t.Cleanup(func() {
		if err := rcv.Shutdown(context.Background()); err != nil {
			t.Errorf("otlp receiver: shutdown: %v", err)
		}
	})
	return &Receiver{Endpoint: "http://" + httpAddr, GRPCEndpoint: "http://" + grpcAddr, Sink: sink}
}

// freeAddr finds a free loopback port. The receiver binds it a moment later; another
// process taking it in between fails the test loudly rather than silently.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
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
