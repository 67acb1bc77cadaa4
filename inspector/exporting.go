package inspector

import "github.com/sessionscope/sessionscope/inspector/export"

// ExportStats are the OTLP exporter's counters; ok is false when nothing is exported.
func (in *Inspector) ExportStats() (st export.Stats, ok bool) {
	if in.cfg.Export == nil {
		return export.Stats{}, false
	}
	return in.cfg.Export.Stats(), true
}
