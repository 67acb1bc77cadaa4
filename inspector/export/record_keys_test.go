package export

import (
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// TestRecordSetsEachKeyOnce guards WithAllowKeyDuplication: the SDK no longer removes
// a key set twice, so a record with every field filled must name each key once.
func TestRecordSetsEachKeyOnce(t *testing.T) {
	ttl, size := int64(1440), 500
	si := func(ref string) *model.SessionInfo {
		return &model.SessionInfo{Ref: ref, ID: "s3cr…ab", Framework: "php", KeyPrefix: "PHPREDIS_SESSION:", StoreID: "s3cr3tab"}
	}
	now := time.Now()
	objects := []model.Object{
		&model.Event{Type: model.TypeEvent, Seq: 7, Time: now, Kind: model.KindRegenerated,
			Session: si("d03f1bb20b77"), From: si("aa3f1bb20b77"), Candidates: []model.SessionInfo{*si("bb3f1bb20b77")},
			Backend: "redis", Node: "127.0.0.1:7001", Exchange: "x1", TTL: &ttl, Size: &size,
			Evidence: "payload", Cause: "login", Changed: []string{"user"}, Dropped: 3, Reason: "r"},
		&model.Exchange{Type: model.TypeExchange, Seq: 8, ID: "x1", Start: now, Method: "GET", Status: 200,
			URL: "http://app/", Upstream: "http://up/", Client: model.Client{Addr: "127.0.0.1:5000"},
			SessionRef: "d03f1bb20b77", Source: "proxy"},
		&model.Finding{Type: model.TypeFinding, Seq: 9, ID: "f1", Time: now, Rule: "login-loop",
			Severity: model.SeverityError, Title: "t", Count: 2, Sessions: []string{"d03f1bb20b77"}},
	}
	for _, o := range objects {
		rec, ok := record(o)
		if !ok {
			t.Fatalf("%T: not a record", o)
		}
		seen := map[string]bool{}
		rec.WalkAttributes(func(kv attribute.KeyValue) bool {
			k := string(kv.Key)
			if seen[k] {
				t.Errorf("%T: attribute %s set twice", o, k)
			}
			seen[k] = true
			return true
		})
		if len(seen) < 8 {
			t.Errorf("%T: only %d attributes: %v", o, len(seen), seen)
		}
	}
}
