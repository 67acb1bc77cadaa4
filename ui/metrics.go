package ui

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/export"
	"github.com/sessionscope/sessionscope/inspector/history"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// MetricsSource is what /metrics reads at every scrape. An *inspector.Inspector is
// one; a dashboard Source that is not gets only the dashboard and process metrics.
type MetricsSource interface {
	Metrics() inspector.Metrics
}

// metricsCollector turns the inspector's counters and the hub's client count into
// Prometheus metrics when scraped. It keeps no counts of its own: the numbers live
// where they are made (tracker stats, inspector counters, the hub), so /metrics can
// never disagree with the Status screen.
type metricsCollector struct {
	src MetricsSource // nil: no domain metrics
	hub *Hub

	events, rawEvents, dropped, gaps, migrated    *prometheus.Desc
	handedOver, arrived                           *prometheus.Desc
	reads, readsOverBudget, readBudget, exchanges *prometheus.Desc
	sessions, scanned, invSessions, invEstimate   *prometheus.Desc
	invDone, clients                              *prometheus.Desc

	otlpExported, otlpDropped, otlpErrors *prometheus.Desc

	historyWritten, historyDropped, historyGaps, historyErrors, historyBytes *prometheus.Desc
}

// historyStatsSource is a MetricsSource that may also record a history file.
type historyStatsSource interface {
	HistoryStats() (history.Stats, bool)
}

// exportStatsSource is a MetricsSource that may also export OTLP logs.
type exportStatsSource interface {
	ExportStats() (export.Stats, bool)
}

func newMetricsCollector(src MetricsSource, hub *Hub) *metricsCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("sessionscope_"+name, help, labels, nil)
	}
	return &metricsCollector{
		src: src, hub: hub,
		events:          d("events_total", "Session events emitted, by kind.", "kind"),
		rawEvents:       d("raw_events_total", "Raw key events taken from the store's notifications."),
		dropped:         d("dropped_events_total", "Raw events lost between the store and the tracker (queue overflow); each stretch is also a gap."),
		gaps:            d("gaps_total", "Gap events: stretches where events may have been lost (disconnect, overflow)."),
		migrated:        d("sessions_migrated_total", "Sessions a Redis Cluster slot migration moved to another master (not ended)."),
		handedOver:      d("sessions_handed_over_total", "Sessions a slot migration carried to a master another sessionscope follows (--nodes); not ended."),
		arrived:         d("sessions_arrived_total", "Sessions a slot migration brought from a master another sessionscope follows (--nodes); not born."),
		reads:           d("payload_reads_total", "Payload and TTL reads sent to the store."),
		readsOverBudget: d("payload_reads_over_budget_total", "Reads skipped because the read budget (--read-budget) was spent; their events say payload_unread."),
		readBudget:      d("read_budget_per_second", "The configured read budget in reads per second; -1 means unlimited."),
		exchanges:       d("exchanges_total", "HTTP exchanges captured by the proxy."),
		sessions:        d("sessions", "Sessions tracked now."),
		scanned:         d("inventory_keys_scanned", "Keys the inventory SCAN has returned so far (latest progress report)."),
		invSessions:     d("inventory_sessions", "Sessions the inventory has found so far (latest progress report)."),
		invEstimate:     d("inventory_keys_estimate", "Keys the inventory expects to walk (DBSIZE at its start); 0 when unknown, e.g. for a MATCH scan."),
		invDone:         d("inventory_done", "1 once the inventory is complete and the session table holds every existing session, else 0."),
		clients:         d("websocket_clients", "Dashboard websockets connected now."),
		otlpExported:    d("otlp_exported_total", "Log records the OTLP endpoint accepted (--otlp-endpoint)."),
		otlpDropped:     d("otlp_dropped_total", "Log records not exported: export queue full, export failed, or unsent at exit."),
		otlpErrors:      d("otlp_errors_total", "Failed OTLP export attempts."),
		historyWritten:  d("history_written_total", "Objects written to the history file (--history)."),
		historyDropped:  d("history_dropped_total", "Objects the history did not record (queue overflow, failed writes); each stretch is a history gap."),
		historyGaps:     d("history_gaps_total", "History gaps recorded: queue overflows, failed writes, the time sessionscope was not running."),
		historyErrors:   d("history_errors_total", "Failed history writes."),
		historyBytes:    d("history_bytes", "Size of the history file and its WAL after the last write."),
	}
}

// Describe implements prometheus.Collector.
func (c *metricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.events, c.rawEvents, c.dropped, c.gaps, c.migrated, c.handedOver, c.arrived, c.reads, c.readsOverBudget,
		c.readBudget, c.exchanges, c.sessions, c.scanned, c.invSessions, c.invEstimate, c.invDone, c.clients,
		c.otlpExported, c.otlpDropped, c.otlpErrors,
		c.historyWritten, c.historyDropped, c.historyGaps, c.historyErrors, c.historyBytes} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *metricsCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.clients, prometheus.GaugeValue, float64(c.hub.Clients()))
	if c.src == nil {
		return
	}
	m := c.src.Metrics()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	for kind, n := range m.Events {
		counter(c.events, n, string(kind))
	}
	counter(c.rawEvents, m.RawEvents)
	counter(c.dropped, m.Dropped)
	counter(c.gaps, m.Gaps)
	counter(c.migrated, m.Migrated)
	counter(c.handedOver, m.HandedOver)
	counter(c.arrived, m.Arrived)
	counter(c.reads, m.Reads)
	counter(c.readsOverBudget, m.ReadsOverBudget)
	counter(c.exchanges, m.Exchanges)
	budget := m.ReadBudget
	if budget < 0 {
		budget = -1
	}
	gauge(c.readBudget, budget)
	gauge(c.sessions, float64(m.Sessions))
	inv := m.Inventory
	if inv == nil {
		inv = &model.Inventory{}
	}
	gauge(c.scanned, float64(inv.Scanned))
	gauge(c.invSessions, float64(inv.Sessions))
	gauge(c.invEstimate, float64(inv.Estimate))
	done := 0.0
	if inv.Done {
		done = 1
	}
	gauge(c.invDone, done)
	if es, ok := c.src.(exportStatsSource); ok {
		if st, on := es.ExportStats(); on {
			counter(c.otlpExported, int64(st.Exported))
			counter(c.otlpDropped, int64(st.Dropped))
			counter(c.otlpErrors, int64(st.Errors))
		}
	}
	if hs, ok := c.src.(historyStatsSource); ok {
		if st, on := hs.HistoryStats(); on {
			counter(c.historyWritten, st.Written)
			counter(c.historyDropped, st.Dropped)
			counter(c.historyGaps, st.Gaps)
			counter(c.historyErrors, st.Errors)
			gauge(c.historyBytes, float64(st.Bytes))
		}
	}
}

// metricsHandler serves the registry in Prometheus' text format. Each server has its
// own registry (no global state), holding the Go runtime and process collectors
// besides sessionscope's own.
func metricsHandler(src MetricsSource, hub *Hub) echo.HandlerFunc {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newMetricsCollector(src, hub))
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return echo.WrapHandler(http.Handler(h))
}
