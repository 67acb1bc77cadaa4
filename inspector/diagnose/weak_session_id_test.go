package diagnose

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// idGen makes n ids with a seeded generator, so a failure reproduces.
type idGen func(r *rand.Rand, i int) string

// phpID is PHP's bin_to_readable: random bytes read bitsPerChar bits at a time.
func phpID(length, bitsPerChar int) idGen {
	const chars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ,-"
	return func(r *rand.Rand, _ int) string {
		b := make([]byte, length)
		for i := range b {
			b[i] = chars[r.IntN(1<<bitsPerChar)]
		}
		return string(b)
	}
}

func randomHex(bytes int) idGen {
	return func(r *rand.Rand, _ int) string {
		b := make([]byte, bytes)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return hex.EncodeToString(b)
	}
}

func randomBase64URL(bytes int) idGen {
	return func(r *rand.Rand, _ int) string {
		b := make([]byte, bytes)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
}

func uuidV4(r *rand.Rand, _ int) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func sampleOf(gen idGen, n int, seed uint64) *idSample {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := newIDSample()
	for i := 0; s.total < n && i < 10*n; i++ {
		s.add(gen(r, i))
	}
	return s
}

func TestIDSampleAssess(t *testing.T) {
	tests := []struct {
		name     string
		gen      idGen
		n        int
		weak     bool
		severity model.Severity
		reasons  []string // substrings of the reasons
	}{
		{name: "PHP 8, 32 chars of 5 bits (160 bits)", gen: phpID(32, 5), n: 100},
		{name: "PHP 8, 32 chars of 5 bits, 2000 ids", gen: phpID(32, 5), n: 2000},
		{name: "php.ini-production, 26 chars of 5 bits (130 bits)", gen: phpID(26, 5), n: 500},
		{name: "PHP 6 bits per char, 2000 ids", gen: phpID(26, 6), n: 2000},
		{name: "random 128-bit hex", gen: randomHex(16), n: 100},
		{name: "random 128-bit hex, 2000 ids", gen: randomHex(16), n: 2000},
		{name: "express-session uid-safe, 24 bytes base64url", gen: randomBase64URL(24), n: 1000},
		{name: "16 bytes base64url: last char holds 2 bits", gen: randomBase64URL(16), n: 2000},
		{name: "UUID v4 (Spring Session)", gen: uuidV4, n: 1000},
		{name: "PHP sid_length=22, sid_bits_per_character=4 (88 bits)", gen: phpID(22, 4), n: 100, weak: true,
			severity: model.SeverityWarning, reasons: []string{"22 characters of hex", "at most 88 bits", "below the 128 bits"}},
		{name: "64-bit hex", gen: randomHex(8), n: 300, weak: true,
			severity: model.SeverityWarning, reasons: []string{"at most 64 bits"}},
		{name: "sequential numbers", n: 150, weak: true, severity: model.SeverityError,
			gen:     func(_ *rand.Rand, i int) string { return fmt.Sprint(4711000 + i) },
			reasons: []string{"sequential", "differ by 1", "small alphabet", "few enough to guess"}},
		{name: "sequential hex counter padded to 32 characters", n: 200, weak: true, severity: model.SeverityError,
			gen:     func(_ *rand.Rand, i int) string { return fmt.Sprintf("%032x", 0xbeef00+3*i) },
			reasons: []string{"sequential", "differ by 3", "are the same in every id"}},
		{name: "sequential, arriving out of order", n: 500, weak: true, severity: model.SeverityError,
			gen:     func(r *rand.Rand, i int) string { return fmt.Sprintf("%d", 900000+r.IntN(1000)) },
			reasons: []string{"sequential"}},
		{name: "timestamp prefix and 64 random bits", n: 1000, weak: true, severity: model.SeverityWarning,
			gen: func(r *rand.Rand, i int) string {
				return fmt.Sprintf("%08x%016x", 1763800000+i/50, r.Uint64())
			},
			reasons: []string{"vary less than random ones would", "are the same in every id"}},
		{name: "digits only, 40 random digits", n: 200, weak: true, severity: model.SeverityWarning,
			gen: func(r *rand.Rand, _ int) string {
				var b strings.Builder
				for range 40 {
					b.WriteByte(byte('0' + r.IntN(10)))
				}
				return b.String()
			},
			reasons: []string{"small alphabet: only 10 symbols"}},
		{name: "every hex digit doubled: uniform characters, 64 bits", n: 1000, weak: true, severity: model.SeverityWarning,
			gen: func(r *rand.Rand, _ int) string {
				b := make([]byte, 32)
				for i := 0; i < 32; i += 2 {
					b[i] = "0123456789abcdef"[r.IntN(16)]
					b[i+1] = b[i]
				}
				return string(b)
			},
			reasons: []string{"FIPS 140-2"}},
		{name: "biased generator: one hex digit in four is 0", n: 2000, weak: true, severity: model.SeverityWarning,
			gen: func(r *rand.Rand, _ int) string {
				b := make([]byte, 32)
				for i := range b {
					if r.IntN(4) == 0 {
						b[i] = '0'
					} else {
						b[i] = "0123456789abcdef"[r.IntN(16)]
					}
				}
				return string(b)
			},
			reasons: []string{"vary less than random ones would"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := sampleOf(tc.gen, tc.n, 1).assess()
			if a.Weak() != tc.weak {
				t.Fatalf("weak = %v, want %v: %+v", a.Weak(), tc.weak, a)
			}
			if !tc.weak {
				return
			}
			if a.Severity != tc.severity {
				t.Errorf("severity %s, want %s: %v", a.Severity, tc.severity, a.Reasons)
			}
			all := strings.Join(a.Reasons, "\n")
			for _, s := range tc.reasons {
				if !strings.Contains(all, s) {
					t.Errorf("reasons lack %q:\n%s", s, all)
				}
			}
		})
	}
}

// Good generators must pass at every size the rule judges, whatever the seed: a
// false alarm on PHP's own ids would teach users to ignore the rule.
func TestIDSampleRandomIDsPassAcrossSeeds(t *testing.T) {
	gens := map[string]idGen{"php 32x5": phpID(32, 5), "hex 128": randomHex(16), "b64url 16": randomBase64URL(16), "uuid": uuidV4}
	for name, gen := range gens {
		for seed := uint64(1); seed <= 10; seed++ {
			r := rand.New(rand.NewPCG(seed, 7))
			s := newIDSample()
			for i := 0; s.total < 2000; i++ {
				if s.add(gen(r, i)) && s.due() {
					if a := s.assess(); a.Weak() {
						t.Errorf("%s seed %d at %d ids: %v", name, seed, s.total, a.Reasons)
					}
				}
			}
		}
	}
}

func TestFIPS140(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	good := make([]byte, fipsBlockBits)
	for i := range good {
		good[i] = byte(r.IntN(2))
	}
	if f := fips140(good); len(f) != 0 {
		t.Errorf("random bits failed %v", f)
	}
	biased := make([]byte, fipsBlockBits)
	for i := range biased {
		if r.IntN(100) < 53 {
			biased[i] = 1
		}
	}
	if f := fips140(biased); !slices.Contains(f, "monobit") {
		t.Errorf("53%% ones passed monobit: %v", f)
	}
	alternating := make([]byte, fipsBlockBits)
	for i := range alternating {
		alternating[i] = byte(i % 2)
	}
	if f := fips140(alternating); !slices.Contains(f, "runs") || !slices.Contains(f, "poker") {
		t.Errorf("0101… passed: %v", f)
	}
	long := append([]byte(nil), good...)
	for i := 1000; i < 1030; i++ {
		long[i] = 0
	}
	if f := fips140(long); !slices.Contains(f, "long run") {
		t.Errorf("a run of 30 passed: %v", f)
	}
}

func TestIDSampleBoundedMemory(t *testing.T) {
	s := sampleOf(randomHex(16), 5000, 9)
	if len(s.ring) != maxIDsKept || len(s.has) != maxIDsKept || s.total != 5000 {
		t.Fatalf("ring %d, set %d, total %d", len(s.ring), len(s.has), s.total)
	}
	if got := s.ids(); len(got) != maxIDsKept {
		t.Fatalf("ids() = %d", len(got))
	}
	if s.add(s.ring[0]) {
		t.Error("a kept id counted as new")
	}
}

// The store-side rule feeds on created and regenerated events and on the inventory,
// and keeps one finding per framework and prefix that it updates as ids arrive.
func TestWeakSessionIDRule(t *testing.T) {
	at := time.Unix(5000, 0)
	feed := func(e *Engine, gen idGen, n int, prefix string, inventory bool) {
		r := rand.New(rand.NewPCG(11, 12))
		for i := 0; i < n; i++ {
			id := gen(r, i)
			info := model.SessionInfo{Ref: model.Ref(id), ID: model.Mask(id), Framework: "php", KeyPrefix: prefix, StoreID: id}
			if inventory {
				e.OnInventory(SessionFact{Session: info, TTL: time.Hour, Time: at})
				continue
			}
			kind := model.KindCreated
			if i%3 == 0 {
				kind = model.KindRegenerated
			}
			e.OnEvent(&model.Event{Seq: uint64(i + 1), Time: at.Add(time.Duration(i) * time.Second), Kind: kind, Session: &info})
			// Updates of a known id add nothing.
			e.OnEvent(&model.Event{Seq: uint64(i + 1), Time: at, Kind: model.KindUpdated, Session: &info})
		}
	}
	tests := []struct {
		name      string
		gen       idGen
		n         int
		inventory bool
		findings  int
		count     int
		contains  []string
	}{
		{name: "PHP 8 defaults", gen: phpID(32, 5), n: 600},
		{name: "sid_length=22, 4 bits per char", gen: phpID(22, 4), n: 250, findings: 1, count: 2,
			contains: []string{"at most 88 bits", "session.sid_length = 32", "genid", "at least 64 bits of entropy", "at 200 ids"}},
		{name: "sequential ids found by the inventory", gen: func(_ *rand.Rand, i int) string { return fmt.Sprintf("sess%08d", 1000+i*7) },
			n: 120, inventory: true, findings: 1, count: 1, contains: []string{"sequential", "differ by 7", "inventory"}},
		// Past 10,000 inventory ids one in 16 is sampled, counting for 16: ids that turn
		// weak after the first 10,000 are still judged, and found weak at 50,000 and
		// 100,000 (at 20,000 the kept ids are still mostly the random ones).
		{name: "a large inventory, weak past its first 10,000 ids", gen: func(r *rand.Rand, i int) string {
			if i < 10_000 {
				return randomHex(16)(r, i)
			}
			return fmt.Sprintf("sess%08d", i)
		}, n: 100_000, inventory: true, findings: 1, count: 2, contains: []string{"sequential", "at 100000 ids"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEngine(Config{})
			feed(e, tc.gen, tc.n, "PHPREDIS_SESSION:", tc.inventory)
			var got []model.Finding
			for _, f := range e.Findings() {
				if f.Rule == "weak-session-id" {
					got = append(got, f)
				}
			}
			if len(got) != tc.findings {
				t.Fatalf("%d weak-session-id findings, want %d: %+v", len(got), tc.findings, got)
			}
			if tc.findings == 0 {
				return
			}
			f := got[0]
			if f.Count != tc.count {
				t.Errorf("count %d, want %d (one per judged size)", f.Count, tc.count)
			}
			all := strings.Join(append([]string{f.Title, f.Detail, f.Fix}, f.Evidence...), "\n")
			for _, s := range tc.contains {
				if !strings.Contains(all, s) {
					t.Errorf("missing %q in\n%s", s, all)
				}
			}
			for _, s := range f.Sessions {
				if len(s) != 12 {
					t.Errorf("session %q is not a ref", s)
				}
			}
		})
	}
}

// Over the ids that responses set (a load test's HAR, a proxy's history).
func TestWeakSessionIDsFromExchanges(t *testing.T) {
	tests := []struct {
		name     string
		cookie   func(r *rand.Rand, i int) string // the Set-Cookie line
		n        int
		want     bool
		severity model.Severity
		contains []string
	}{
		{name: "PHP 8 ids", n: 150, cookie: func(r *rand.Rand, i int) string {
			return "PHPSESSID=" + phpID(32, 5)(r, i) + "; path=/; HttpOnly; Secure; SameSite=Lax"
		}},
		{name: "PHP 88-bit ids", n: 150, want: true, severity: model.SeverityWarning, cookie: func(r *rand.Rand, i int) string {
			return "PHPSESSID=" + phpID(22, 4)(r, i) + "; path=/; HttpOnly; Secure; SameSite=Lax"
		}, contains: []string{"Weak session ids in PHPSESSID", "first of 150 distinct PHPSESSID ids", "x0 ", "x149", "at most 88 bits", "session.sid_bits_per_character = 5"}},
		{name: "express ids from a counter, read through the signed cookie", n: 120, want: true, severity: model.SeverityError,
			cookie: func(r *rand.Rand, i int) string {
				sig := base64.RawStdEncoding.EncodeToString([]byte(fmt.Sprintf("%032d", r.Uint64())))
				return fmt.Sprintf("connect.sid=s%%3Auser-%06d.%s; Path=/; HttpOnly; Secure; SameSite=Lax", 1000+i, sig)
			}, contains: []string{"Weak session ids in connect.sid", "sequential", "genid"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(21, 22))
			var xs []*model.Exchange
			for i := 0; i < tc.n; i++ {
				xs = append(xs, exch(fmt.Sprintf("x%d", i), i, "GET", "https://load.example.com/", 200, setCookie(tc.cookie(r, i))))
			}
			fs := ruleFindings(xs, "weak-session-id")
			if (len(fs) == 1) != tc.want || len(fs) > 1 {
				for _, f := range fs {
					t.Log(findingText(f))
				}
				t.Fatalf("%d findings, want %v", len(fs), tc.want)
			}
			if !tc.want {
				return
			}
			f := fs[0]
			if f.Severity != tc.severity {
				t.Errorf("severity %s, want %s", f.Severity, tc.severity)
			}
			text := findingText(f)
			for _, s := range tc.contains {
				if !strings.Contains(text, s) {
					t.Errorf("missing %q in\n%s", s, text)
				}
			}
		})
	}
}
