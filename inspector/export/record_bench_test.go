package export

import (
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// BenchmarkRecord is the export's cost per event on its own goroutine: the JSON
// body and the attributes (the SDK's batching and the wire come after).
func BenchmarkRecord(b *testing.B) {
	ttl, size := int64(1440), 500
	ev := &model.Event{Type: model.TypeEvent, Seq: 7, Time: time.Now(), Kind: model.KindUpdated,
		Session: &model.SessionInfo{Ref: "d03f1bb20b77", ID: "s3cr…ab", Framework: "php", KeyPrefix: "PHPREDIS_SESSION:", StoreID: "s3cr3tab"},
		Backend: "redis", Node: "127.0.0.1:7001", TTL: &ttl, Size: &size, Changed: []string{"user", "cart"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := record(ev); !ok {
			b.Fatal("not a record")
		}
	}
}
