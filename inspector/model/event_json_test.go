package model

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestEventJSON holds Event.AppendJSON to json.Marshal, byte for byte, on events with
// every field set at random (strings with the characters JSON escapes, odd times and
// floats). A field added to Event is set here through reflection, so that
// AppendJSON, not knowing it, fails the comparison.
func TestEventJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		var e Event
		fillRandom(r, reflect.ValueOf(&e).Elem(), i%4 == 0)
		want, wantErr := json.Marshal(&e)
		got, err := e.AppendJSON([]byte("prefix"))
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("event %d: err %v, json.Marshal's %v", i, err, wantErr)
		}
		if wantErr != nil {
			continue
		}
		if !bytes.Equal(got[len("prefix"):], want) || !bytes.HasPrefix(got, []byte("prefix")) {
			t.Fatalf("event %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

var jsonHard = []string{"", "a", "<&>", "\"\\", "\b\f\n\r\t\x01\x1f", "\u2028\u2029", "\xff\xfe", "é…日本", "PHPREDIS_SESSION:"}

// fillRandom sets v (and what it points to) to random values; sparse leaves about
// half of the fields at their zero value, so that omitempty is exercised.
func fillRandom(r *rand.Rand, v reflect.Value, sparse bool) {
	switch v.Kind() {
	case reflect.String:
		var b strings.Builder
		for range r.IntN(3) {
			b.WriteString(jsonHard[r.IntN(len(jsonHard))])
		}
		v.SetString(b.String())
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int64:
		v.SetInt(r.Int64N(1<<40) - 1<<39)
	case reflect.Uint64:
		v.SetUint(r.Uint64())
	case reflect.Float64:
		fs := []float64{0, 1.5, 1e-7, 1e21, 123456789.125, -3.25e-9, math.Inf(1), math.NaN(), r.Float64() * 1e6}
		v.SetFloat(fs[r.IntN(len(fs))])
	case reflect.Pointer:
		if r.IntN(3) == 0 {
			return
		}
		p := reflect.New(v.Type().Elem())
		fillRandom(r, p.Elem(), sparse)
		v.Set(p)
	case reflect.Slice:
		n := r.IntN(3)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fillRandom(r, s.Index(i), sparse)
		}
		v.Set(s)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			times := []time.Time{
				time.Unix(0, r.Int64N(1<<62)).UTC(),
				time.Unix(r.Int64N(1<<33), 0).In(time.FixedZone("x", 5*3600+1800)),
				time.Date(10001, 1, 1, 0, 0, 0, 0, time.UTC),
				time.Time{},
			}
			v.Set(reflect.ValueOf(times[r.IntN(len(times))]))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() && (!sparse || r.IntN(2) == 0) {
				fillRandom(r, v.Field(i), sparse)
			}
		}
	default:
		panic("fillRandom: no case for " + v.Type().String())
	}
}

// BenchmarkEventJSON compares Event.AppendJSON with json.Marshal on a watch's event.
func BenchmarkEventJSON(b *testing.B) {
	ttl, size := int64(1440), 412
	e := &Event{Type: TypeEvent, Seq: 7, Time: time.Date(2026, 12, 7, 14, 2, 5, 123456789, time.UTC), Kind: KindUpdated,
		Session: &SessionInfo{Ref: "d03f1bb20b77", ID: "s3cr…ab", Framework: "php", KeyPrefix: "PHPREDIS_SESSION:"},
		Backend: "redis", Node: "127.0.0.1:6379", TTL: &ttl, Size: &size, Changed: []string{"user", "cart"}}
	b.Run("AppendJSON", func(b *testing.B) {
		var buf []byte
		for range b.N {
			buf, _ = e.AppendJSON(buf[:0])
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for range b.N {
			json.Marshal(e)
		}
	})
}
