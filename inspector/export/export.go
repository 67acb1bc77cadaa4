// Package export sends events, exchanges and findings as OpenTelemetry logs (OTLP)
// through the OpenTelemetry Go SDK, so that several sessionscope processes can feed one
// Collector and be queried together.
//
// Append never blocks the caller: objects wait in a bounded queue of our own, drained
// by one goroutine into the SDK's BatchProcessor. The drain goroutine never lets the
// SDK's queue overflow (it waits while the SDK holds a full queue), so every record
// lost is lost in one place and counted: our queue overflowing, an export that failed,
// or what was still waiting when Close ran out of time.
package export

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// DefaultQueueSize is how many objects may wait for the exporter before Append drops.
const DefaultQueueSize = 65536

// sdkQueueSize bounds what the SDK's BatchProcessor holds; the drain goroutine keeps
// below it so that the SDK, which drops silently, never has to.
const sdkQueueSize = 4 * exportBatch

// exportBatch is how many records one OTLP request carries. The SDK's default, 512,
// sent one request at a time, kept up with only about 20,000 records/s here; each
// request's fixed cost is spread over more records this way.
const exportBatch = 4096

// Namespace prefixes every attribute sessionscope sets on a log record.
const Namespace = "sessionscope."

// Environment variables that turn export on without --otlp-endpoint (the SDK reads
// them, and the rest of OTEL_EXPORTER_OTLP_*, itself).
const (
	EnvEndpoint         = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvLogsEndpoint     = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"
	envProtocol         = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envLogsProtocol     = "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"
	protocolGRPC        = "grpc"
	defaultLogsHTTPPath = "/v1/logs"
)

// Options configure an Exporter.
type Options struct {
	// Endpoint is the Collector's base URL (http://host:4318, or http://host:4317 with
	// the grpc protocol); a path other than "/" is used as is. Empty: the
	// OTEL_EXPORTER_OTLP_* environment variables decide.
	Endpoint string
	// QueueSize is how many objects may wait; default DefaultQueueSize.
	QueueSize int
	// Logger receives export errors (rate-limited to one a minute); default slog.Default().
	Logger *slog.Logger
	// Resource attributes: service.name defaults to "sessionscope", service.instance.id
	// to host:pid; callers add sessionscope.nodes.
	Resource map[string]string
}

// Enabled reports whether export is asked for: an endpoint flag or one of the
// standard endpoint variables.
func Enabled(endpoint string) bool {
	return endpoint != "" || os.Getenv(EnvEndpoint) != "" || os.Getenv(EnvLogsEndpoint) != ""
}

// Stats are the exporter's counters since Open.
type Stats struct {
	Exported uint64 // records the endpoint accepted
	Dropped  uint64 // records lost: queue full, failed export, or unsent at Close
	Errors   uint64 // failed export attempts
}

// Exporter sends objects as OTLP log records.
type Exporter struct {
	provider *sdklog.LoggerProvider
	logger   otellog.Logger
	log      *slog.Logger

	queue   chan model.Object
	closing chan struct{} // Close was called: send what is queued, then stop
	abandon chan struct{} // Close's context is done: drop what is left
	drained chan struct{}
	once    sync.Once

	// handed counts records emitted into the SDK; settled counts those its exporter
	// finished with (exported or failed). Their difference is what the SDK holds.
	handed   atomic.Uint64
	settled  atomic.Uint64
	progress chan struct{} // signalled whenever settled moves

	exported  atomic.Uint64
	dropped   atomic.Uint64
	errors    atomic.Uint64
	lastError atomic.Int64 // unix nanos of the last logged error
}

// Open starts an exporter. Errors are one line saying what failed and what to do.
func Open(ctx context.Context, o Options) (*Exporter, error) {
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	e := &Exporter{
		log:      o.Logger,
		queue:    make(chan model.Object, o.QueueSize),
		closing:  make(chan struct{}),
		abandon:  make(chan struct{}),
		drained:  make(chan struct{}),
		progress: make(chan struct{}, 1),
	}
	wire, err := newWireExporter(ctx, o.Endpoint)
	if err != nil {
		return nil, err
	}
	res, err := newResource(o.Resource)
	if err != nil {
		return nil, err
	}
	e.provider = sdklog.NewLoggerProvider(
		sdklog.WithResource(res),
		// record sets each attribute key once, by construction (one per contract
		// field), so the SDK's de-duplication, which builds a map per attribute as it
		// copies them, is work for nothing: it was a third of the export's CPU.
		sdklog.WithAllowKeyDuplication(),
		sdklog.WithProcessor(sdklog.NewBatchProcessor(&countingExporter{Exporter: wire, e: e},
			sdklog.WithMaxQueueSize(sdkQueueSize), sdklog.WithExportMaxBatchSize(exportBatch))),
	)
	e.logger = e.provider.Logger("github.com/sessionscope/sessionscope")
	go e.drain()
	return e, nil
}

// newWireExporter picks the OTLP transport: grpc when the protocol variables say so,
// else HTTP/protobuf (the SDK's default).
func newWireExporter(ctx context.Context, endpoint string) (sdklog.Exporter, error) {
	grpc := protocol() == protocolGRPC
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("otlp export: --otlp-endpoint %q is not an http(s) URL with a host; give one like http://collector:4318", endpoint)
		}
		if grpc {
			return otlploggrpc.New(ctx, otlploggrpc.WithEndpointURL(u.String()))
		}
		// Like OTEL_EXPORTER_OTLP_ENDPOINT, a bare base URL gets the logs path.
		if u.Path == "" || u.Path == "/" {
			u.Path = defaultLogsHTTPPath
		}
		return otlploghttp.New(ctx, otlploghttp.WithEndpointURL(u.String()))
	}
	if grpc {
		return otlploggrpc.New(ctx)
	}
	return otlploghttp.New(ctx)
}

func protocol() string {
	if p := os.Getenv(envLogsProtocol); p != "" {
		return strings.ToLower(p)
	}
	return strings.ToLower(os.Getenv(envProtocol))
}

func newResource(extra map[string]string) (*resource.Resource, error) {
	attrs := map[string]string{"service.name": "sessionscope"}
	if host, err := os.Hostname(); err == nil {
		attrs["service.instance.id"] = host + ":" + strconv.Itoa(os.Getpid())
	} else {
		attrs["service.instance.id"] = "pid:" + strconv.Itoa(os.Getpid())
	}
	for k, v := range extra {
		attrs[k] = v
	}
	kvs := make([]attribute.KeyValue, 0, len(attrs))
	for k, v := range attrs {
		kvs = append(kvs, attribute.String(k, v))
	}
	// The environment (OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME) may add to or
	// override ours, as with any OpenTelemetry program.
	res, err := resource.Merge(resource.NewSchemaless(kvs...), resource.Environment())
	if err != nil {
		return nil, fmt.Errorf("otlp export: resource attributes: %w; check OTEL_RESOURCE_ATTRIBUTES", err)
	}
	return res, nil
}

// Append queues o for export; it never blocks. Status objects are not exported.
func (e *Exporter) Append(o model.Object) {
	if _, ok := o.(*model.Status); ok {
		return
	}
	select {
	case e.queue <- o:
	default:
		e.dropped.Add(1)
	}
}

// Stats returns the counters.
func (e *Exporter) Stats() Stats {
	return Stats{Exported: e.exported.Load(), Dropped: e.dropped.Load(), Errors: e.errors.Load()}
}

// Close exports what is queued, within ctx, and stops. What ctx leaves unsent is
// counted as dropped.
func (e *Exporter) Close(ctx context.Context) error {
	var err error
	e.once.Do(func() {
		close(e.closing)
		select {
		case <-e.drained:
		case <-ctx.Done():
		}
		close(e.abandon)
		<-e.drained
		err = e.provider.Shutdown(ctx)
		if held := e.handed.Load() - e.settled.Load(); held > 0 {
			e.dropped.Add(held)
		}
		if err != nil {
			err = fmt.Errorf("otlp export: close: %w", err)
		}
	})
	return err
}

// drain moves queued objects into the SDK, never more than its queue holds. Once Close
// is called it sends what is queued, until Close's context gives up (abandon).
func (e *Exporter) drain() {
	defer close(e.drained)
	ctx := context.Background()
	for {
		select {
		case o := <-e.queue:
			if e.waitRoom() {
				e.emit(ctx, o)
			} else {
				e.dropped.Add(1)
			}
			continue
		default:
		}
		select {
		case o := <-e.queue:
			if e.waitRoom() {
				e.emit(ctx, o)
			} else {
				e.dropped.Add(1)
			}
		case <-e.closing:
			if len(e.queue) == 0 {
				return
			}
		}
	}
}

// waitRoom waits until the SDK's queue has room; false when Close abandons.
func (e *Exporter) waitRoom() bool {
	for e.handed.Load()-e.settled.Load() >= sdkQueueSize {
		select {
		case <-e.progress:
		case <-e.abandon:
			return false
		}
	}
	select {
	case <-e.abandon:
		return false
	default:
		return true
	}
}

func (e *Exporter) emit(ctx context.Context, o model.Object) {
	rec, ok := record(o)
	if !ok {
		return
	}
	e.handed.Add(1)
	e.logger.Emit(ctx, rec)
}

// countingExporter counts what the wire exporter did with each batch.
type countingExporter struct {
	sdklog.Exporter
	e *Exporter
}

func (c *countingExporter) Export(ctx context.Context, records []sdklog.Record) error {
	err := c.Exporter.Export(ctx, records)
	n := uint64(len(records))
	if err != nil {
		c.e.errors.Add(1)
		c.e.dropped.Add(n)
		c.e.logError(err, len(records))
	} else {
		c.e.exported.Add(n)
	}
	c.e.settled.Add(n)
	select {
	case c.e.progress <- struct{}{}:
	default:
	}
	// Counted and logged (once a minute) here: returned, the SDK would hand it to
	// OpenTelemetry's global error handler, which prints every failed batch.
	return nil
}

// logError logs at most one export error a minute: a dead Collector would otherwise
// write a line per batch.
func (e *Exporter) logError(err error, records int) {
	now := time.Now().UnixNano()
	last := e.lastError.Load()
	if now-last < int64(time.Minute) || !e.lastError.CompareAndSwap(last, now) {
		return
	}
	e.log.Warn("otlp export failed; records dropped", "err", err, "records", records)
}

// record turns an object into a log record: its time, its JSON line as the body, and
// the attributes of the JSON contract under Namespace.
func record(o model.Object) (otellog.Record, bool) {
	var rec otellog.Record
	var body []byte
	var err error
	a := attrs{kvs: make([]attribute.KeyValue, 0, 24)} // the most an object sets: one allocation
	switch v := o.(type) {
	case *model.Event:
		v = masked(v)
		body, err = v.AppendJSON(nil)
		rec.SetTimestamp(v.Time)
		rec.SetEventName("sessionscope.event")
		rec.SetSeverity(otellog.SeverityInfo)
		a.str(Namespace+"type", model.TypeEvent)
		a.int(Namespace+"seq", int64(v.Seq))
		a.str(Namespace+"kind", string(v.Kind))
		a.session(v.Session)
		a.str(Namespace+"backend", v.Backend)
		a.str(Namespace+"node", v.Node)
		a.str(Namespace+"exchange", v.Exchange)
		if v.TTL != nil {
			a.int(Namespace+"ttl_s", *v.TTL)
		}
		if v.Size != nil {
			a.int(Namespace+"size", int64(*v.Size))
		}
		if v.From != nil {
			a.str(Namespace+"from.ref", v.From.Ref)
			a.str(Namespace+"from.id", v.From.ID)
		}
		a.str(Namespace+"evidence", v.Evidence)
		a.str(Namespace+"cause", v.Cause)
		if len(v.Changed) > 0 {
			a.kvs = append(a.kvs, attribute.StringSlice(Namespace+"changed", v.Changed))
		}
		if len(v.Candidates) > 0 {
			refs := make([]string, len(v.Candidates))
			for i, c := range v.Candidates {
				refs[i] = c.Ref
			}
			a.kvs = append(a.kvs, attribute.StringSlice(Namespace+"candidates", refs))
		}
		if v.Dropped != 0 {
			a.int(Namespace+"dropped", v.Dropped)
		}
		a.str(Namespace+"reason", v.Reason)
	case *model.Exchange:
		body, err = v.AppendJSON(nil)
		rec.SetTimestamp(v.Start)
		rec.SetEventName("sessionscope.exchange")
		rec.SetSeverity(otellog.SeverityInfo)
		a.str(Namespace+"type", model.TypeExchange)
		a.int(Namespace+"seq", int64(v.Seq))
		a.str(Namespace+"exchange", v.ID)
		a.str(Namespace+"method", v.Method)
		a.int(Namespace+"status", int64(v.Status))
		a.str(Namespace+"url", v.URL)
		a.str(Namespace+"upstream", v.Upstream)
		a.str(Namespace+"client.addr", v.Client.Addr)
		a.str(Namespace+"session.ref", v.SessionRef)
		a.str(Namespace+"source", v.Source)
	case *model.Finding:
		body, err = json.Marshal(v)
		rec.SetTimestamp(v.Time)
		rec.SetEventName("sessionscope.finding")
		rec.SetSeverity(severity(v.Severity))
		rec.SetSeverityText(string(v.Severity))
		a.str(Namespace+"type", model.TypeFinding)
		a.int(Namespace+"seq", int64(v.Seq))
		a.str(Namespace+"finding.id", v.ID)
		a.str(Namespace+"rule", v.Rule)
		a.str(Namespace+"severity", string(v.Severity))
		a.str(Namespace+"title", v.Title)
		a.int(Namespace+"count", int64(v.Count))
		if len(v.Sessions) > 0 {
			a.kvs = append(a.kvs, attribute.StringSlice(Namespace+"sessions", v.Sessions))
		}
	default:
		return rec, false
	}
	if err != nil {
		// The JSON contract's types always encode; keep the attributes regardless.
		body = []byte(`{"error":` + strconv.Quote(err.Error()) + `}`)
	}
	rec.SetObservedTimestamp(time.Now())
	rec.SetBody(attribute.StringValue(string(body)))
	rec.AddAttributes(a.kvs...)
	return rec, true
}

func severity(s model.Severity) otellog.Severity {
	switch s {
	case model.SeverityError:
		return otellog.SeverityError
	case model.SeverityWarning:
		return otellog.SeverityWarn
	}
	return otellog.SeverityInfo
}

// attrs collects attributes, leaving out empty ones as the JSON contract's omitempty does.
type attrs struct{ kvs []attribute.KeyValue }

// str and int take the whole key (Namespace+"kind"): a constant, not a concatenation
// per record.
func (a *attrs) str(key, v string) {
	if v != "" {
		a.kvs = append(a.kvs, attribute.String(key, v))
	}
}

func (a *attrs) int(key string, v int64) {
	a.kvs = append(a.kvs, attribute.Int64(key, v))
}

// masked returns ev with every session id masked: with --reveal-ids the live stream
// shows full ids, but an export leaves the machine, and a session id is a bearer
// credential. ev is copied only when an id is shown in full.
func masked(ev *model.Event) *model.Event {
	revealed := func(s *model.SessionInfo) bool { return s != nil && s.StoreID != "" && s.ID != model.Mask(s.StoreID) }
	shown := revealed(ev.Session) || revealed(ev.From)
	for i := range ev.Candidates {
		shown = shown || revealed(&ev.Candidates[i])
	}
	if !shown {
		return ev
	}
	c := *ev
	mask := func(s *model.SessionInfo) *model.SessionInfo {
		if s == nil {
			return nil
		}
		m := *s
		if m.StoreID != "" {
			m.ID = model.Mask(m.StoreID)
		}
		return &m
	}
	c.Session, c.From = mask(ev.Session), mask(ev.From)
	if len(ev.Candidates) > 0 {
		c.Candidates = make([]model.SessionInfo, len(ev.Candidates))
		for i := range ev.Candidates {
			c.Candidates[i] = *mask(&ev.Candidates[i])
		}
	}
	return &c
}

// session adds a session's identity: its ref, its masked id (masked above even
// under --reveal-ids), framework and key prefix; never the store id.
func (a *attrs) session(s *model.SessionInfo) {
	if s == nil {
		return
	}
	a.str(Namespace+"session.ref", s.Ref)
	a.str(Namespace+"session.id", s.ID)
	a.str(Namespace+"session.framework", s.Framework)
	a.str(Namespace+"session.key_prefix", s.KeyPrefix)
}
