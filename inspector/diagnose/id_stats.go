package diagnose

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"sort"
	"strings"
)

// The statistics weak-session-id judges ids by: a bounded sample of distinct ids, the
// character set they are written in, per-position entropy, sequence and the FIPS
// 140-2 tests. The rule (weak_session_id.go) turns them into a verdict.

// Bounds and parameters of the id statistics.
const (
	maxIDsKept       = 2000  // ids a sample keeps (the most recent ones)
	fipsBlockBits    = 20000 // FIPS 140-2's statistical tests run on 20,000 bits
	maxFIPSBlocks    = 4
	maxIDLen         = 256 // characters of an id looked at
	uniformZ         = 6.0 // chi-square z beyond which a position is not uniform
	uuidV4RandomBits = 122
)

// idSample collects distinct session ids of one kind (a key prefix, a cookie) and
// judges them. Memory is bounded: it keeps the latest maxIDsKept ids.
type idSample struct {
	ring   []string
	next   int
	has    map[string]struct{}
	total  int // distinct ids added, forgotten ones included (weighted, see addWeighted)
	judged int // the last size in due's sequence the sample was judged at
}

func newIDSample() *idSample {
	return &idSample{has: map[string]struct{}{}}
}

// add records an id and reports whether it was new to the sample.
func (s *idSample) add(id string) bool { return s.addWeighted(id, 1) }

// addWeighted records an id that stands for weight ids (one sampled in weight), so that
// total, and with it the sizes the sample is judged at, counts them all.
func (s *idSample) addWeighted(id string, weight int) bool {
	if id == "" {
		return false
	}
	if len(id) > maxIDLen {
		id = id[:maxIDLen]
	}
	if _, ok := s.has[id]; ok {
		return false
	}
	if len(s.ring) < maxIDsKept {
		s.ring = append(s.ring, id)
	} else {
		delete(s.has, s.ring[s.next])
		s.ring[s.next] = id
		s.next = (s.next + 1) % maxIDsKept
	}
	s.has[id] = struct{}{}
	s.total += weight
	return true
}

// due reports whether the sample just reached a size worth judging: 100, 200, 500,
// 1000, 2000, 5000, ... distinct ids (the kept ones are the latest maxIDsKept), once
// per size, also when a weighted add steps over it. Judging at a few sizes rather than
// on every id bounds the work — an inventory of a million sessions is judged 15 times —
// and the chance that a random sample fails a statistical test by luck.
func (s *idSample) due() bool {
	size := 0
	for step := minIDsAssessed; step <= s.total; {
		size = step
		switch m := leadingDigit(step); m {
		case 2:
			step = step / 2 * 5
		default: // 1 → 2, 5 → 10
			step *= 2
		}
	}
	if size == 0 || size <= s.judged {
		return false
	}
	s.judged = size
	return true
}

// leadingDigit is the first decimal digit of n > 0.
func leadingDigit(n int) int {
	for n >= 10 {
		n /= 10
	}
	return n
}

// ids returns the kept ids, oldest first.
func (s *idSample) ids() []string {
	if len(s.ring) < maxIDsKept {
		return s.ring
	}
	return append(append([]string(nil), s.ring[s.next:]...), s.ring[:s.next]...)
}

// idStats is what the statistics say of a sample's ids.
type idStats struct {
	IDs          int     // ids judged
	Length       int     // characters of the most common length
	Alphabet     string  // name of the character set
	AlphabetSize int     // characters in it
	BitsPerChar  float64 // log2(AlphabetSize); 0 for fewer than two characters
	BoundBits    float64 // varying characters × BitsPerChar: the most the ids can hold
	Bits         float64 // estimated entropy
	Constant     int     // positions with the same character in every id
	Skewed       int     // positions that vary, but less than random characters would
	UUIDv4       bool    // random UUIDs (122 random bits) with at most the variant skewed
	Sequential   bool    // the ids, read as numbers, sit close together
	MedianGap    *big.Int
	FIPSRun      bool     // enough bits for FIPS 140-2 (fipsBlockBits)
	FIPSFailed   []string // FIPS 140-2 tests failed
}

// knownAlphabets are the character sets ids are written in, in index order (so that
// a character's index is the value it encodes), smallest first.
var knownAlphabets = []struct{ name, chars string }{
	{"decimal digits", "0123456789"},
	{"hex", "0123456789abcdef"},
	{"hex", "0123456789ABCDEF"},
	{"PHP 5-bit (0-9a-v)", "0123456789abcdefghijklmnopqrstuv"},
	{"base32", "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"},
	{"base32", "abcdefghijklmnopqrstuvwxyz234567"},
	{"base32hex", "0123456789ABCDEFGHIJKLMNOPQRSTUV"},
	{"base36", "0123456789abcdefghijklmnopqrstuvwxyz"},
	{"base36", "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
	{"alphanumeric", "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"},
	{"PHP 6-bit (0-9a-zA-Z,-)", "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ,-"},
	{"base64", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"},
	{"base64url", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"},
}

// measure computes the sample's statistics.
//
// Entropy: for ids of the most common length, every character position is tested
// for uniformity over the alphabet (Pearson's chi-square, Wilson–Hilferty z above
// uniformZ). A position that passes counts for the full log2(alphabet size) — the
// plug-in Shannon estimate is biased low on a few hundred samples and would fail a
// random 128-bit hex id — and one that fails counts for log2 of the symbols it uses
// if it is uniform over those, else for its Miller–Madow corrected Shannon entropy;
// a constant position counts for nothing. The sum, bounded by length × log2(alphabet
// size), is the estimate.
//
// FIPS 140-2 (monobit, poker, runs, long run) runs on the bits of the positions that
// passed, characters written as their alphabet index in log2(alphabet size) bits,
// only for power-of-two alphabets and only on full 20,000-bit blocks: the tests'
// bounds are defined for that length and do not scale linearly, so below it they are
// skipped, not stretched. A test must fail in two blocks (of up to four) to count:
// one block fails by luck about once in a thousand (a run of 26 alone, 3 in 10,000),
// and the rule judges a sample many times over a long watch. So FIPS needs 40,000
// bits: 250 ids of 160 bits, 313 of 128.
func (s *idSample) measure() idStats {
	ids := s.ids()
	a := idStats{IDs: len(ids)}
	if len(ids) == 0 {
		return a
	}
	trimmed := make([]string, len(ids))
	lengths := map[int]int{}
	for i, id := range ids {
		trimmed[i] = strings.TrimRight(id, "=") // base64 padding carries nothing
		lengths[len(trimmed[i])]++
	}
	for l, n := range lengths {
		if n > lengths[a.Length] || n == lengths[a.Length] && l > a.Length {
			a.Length = l
		}
	}
	var same []string
	for _, id := range trimmed {
		if len(id) == a.Length {
			same = append(same, id)
		}
	}
	L, n := a.Length, len(same)

	// Positions with one character throughout (a fixed prefix, UUID dashes) carry
	// nothing and do not say which alphabet the rest is written in.
	constant := make([]bool, L)
	for p := 0; p < L; p++ {
		constant[p] = true
		for _, id := range same[1:] {
			if id[p] != same[0][p] {
				constant[p] = false
				break
			}
		}
		if constant[p] {
			a.Constant++
		}
	}
	var seen [256]bool
	for _, id := range same {
		for p := 0; p < L; p++ {
			if !constant[p] {
				seen[id[p]] = true
			}
		}
	}
	alphabet := ""
	for _, k := range knownAlphabets {
		ok := true
		for c := 0; c < 256 && ok; c++ {
			ok = !seen[c] || strings.IndexByte(k.chars, byte(c)) >= 0
		}
		if ok {
			a.Alphabet, alphabet = k.name, k.chars
			break
		}
	}
	if alphabet == "" {
		var b []byte
		for c := 0; c < 256; c++ {
			if seen[c] {
				b = append(b, byte(c))
			}
		}
		alphabet, a.Alphabet = string(b), fmt.Sprintf("%d distinct characters", len(b))
	}
	k := len(alphabet)
	a.AlphabetSize = k
	var index [256]int
	for i := range index {
		index[i] = -1
	}
	for i := 0; i < k; i++ {
		index[alphabet[i]] = i
	}
	perChar := 0.0
	if k > 1 {
		perChar = math.Log2(float64(k))
	}
	a.BitsPerChar = perChar

	a.BoundBits = float64(L-a.Constant) * perChar
	uniform := make([]bool, L)
	counts := make([]int, k)
	for p := 0; p < L; p++ {
		if constant[p] || k < 2 {
			continue
		}
		clear(counts)
		for _, id := range same {
			if i := index[id[p]]; i >= 0 {
				counts[i]++
			}
		}
		if chiSquareZ(counts, n) <= uniformZ {
			uniform[p] = true
			a.Bits += perChar
			continue
		}
		a.Skewed++
		a.Bits += min(skewedBits(counts, n), perChar)
	}
	// Java's UUID.randomUUID (Spring Session) and crypto.randomUUID: 122 random bits
	// from a CSPRNG, the fixed version and variant characters aside. That is the
	// one shape accepted under 128 bits, as long as only the variant character is
	// skewed.
	uuid := isUUIDv4Sample(same) && a.Skewed <= 1
	a.UUIDv4 = uuid
	if uuid {
		a.Bits = uuidV4RandomBits
	}

	// Sequential: read as numbers over the alphabet (varying positions only), sorted,
	// neighbours sit close together. Sorting makes this work whatever the order the
	// ids arrived in (an inventory SCANs in hash order).
	if k >= 2 && n >= 2 {
		base := big.NewInt(int64(k))
		vals := make([]*big.Int, 0, n)
		for _, id := range same {
			v := new(big.Int)
			for p := 0; p < L; p++ {
				if constant[p] {
					continue
				}
				v.Mul(v, base)
				v.Add(v, big.NewInt(int64(max(index[id[p]], 0))))
			}
			vals = append(vals, v)
		}
		sort.Slice(vals, func(i, j int) bool { return vals[i].Cmp(vals[j]) < 0 })
		gaps := make([]*big.Int, 0, len(vals)-1)
		for i := 1; i < len(vals); i++ {
			gaps = append(gaps, new(big.Int).Sub(vals[i], vals[i-1]))
		}
		sort.Slice(gaps, func(i, j int) bool { return gaps[i].Cmp(gaps[j]) < 0 })
		med := gaps[len(gaps)/2]
		varying := float64(L-a.Constant) * perChar
		if med.Sign() > 0 && float64(med.BitLen()) <= math.Min(32, varying/2) {
			a.Sequential, a.MedianGap = true, med
		}
	}

	if bits := int(math.Round(math.Log2(float64(k)))); k >= 2 && 1<<bits == k && !uuid {
		a.FIPSFailed, a.FIPSRun = fipsOnIDs(same, uniform, index, bits)
	}

	return a
}

// chiSquareZ is Pearson's chi-square of counts against the uniform distribution over
// len(counts) symbols, as a standard normal z by the Wilson–Hilferty transform.
func chiSquareZ(counts []int, n int) float64 {
	k := len(counts)
	if k < 2 || n == 0 {
		return 0
	}
	e := float64(n) / float64(k)
	x := 0.0
	for _, c := range counts {
		d := float64(c) - e
		x += d * d / e
	}
	df := float64(k - 1)
	v := 2 / (9 * df)
	return (math.Cbrt(x/df) - (1 - v)) / math.Sqrt(v)
}

// skewedBits is what a position that is not uniform over the whole alphabet holds:
// log2(m) when it is uniform over the m symbols it uses (the last character of
// base64 that encodes 2 spare bits, a UUID's variant character), else its Shannon
// entropy.
func skewedBits(counts []int, n int) float64 {
	used := make([]int, 0, len(counts))
	for _, c := range counts {
		if c > 0 {
			used = append(used, c)
		}
	}
	if len(used) >= 2 && chiSquareZ(used, n) <= uniformZ {
		return math.Log2(float64(len(used)))
	}
	return millerMadow(counts, n)
}

// millerMadow is the Shannon entropy of counts in bits, with the Miller–Madow
// correction for the plug-in estimator's bias on small samples.
func millerMadow(counts []int, n int) float64 {
	if n == 0 {
		return 0
	}
	h, m := 0.0, 0
	for _, c := range counts {
		if c == 0 {
			continue
		}
		m++
		p := float64(c) / float64(n)
		h -= p * math.Log2(p)
	}
	return h + float64(m-1)/(2*float64(n)*math.Ln2)
}

func isUUIDv4Sample(ids []string) bool {
	for _, id := range ids {
		if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' || id[14] != '4' {
			return false
		}
		if c := id[19] | 0x20; c != '8' && c != '9' && c != 'a' && c != 'b' {
			return false
		}
	}
	return len(ids) > 0
}

// fipsOnIDs writes the uniform positions' characters as bits and runs the FIPS 140-2
// tests on up to maxFIPSBlocks blocks of fipsBlockBits. It returns the names of the
// tests that failed in two blocks and whether there were enough bits (two blocks) to
// run them at all.
func fipsOnIDs(ids []string, uniform []bool, index [256]int, bitsPerChar int) ([]string, bool) {
	bits := make([]byte, 0, fipsBlockBits*maxFIPSBlocks)
	for _, id := range ids {
		for p := 0; p < len(id) && p < len(uniform); p++ {
			if !uniform[p] {
				continue
			}
			v := max(index[id[p]], 0)
			for b := bitsPerChar - 1; b >= 0; b-- {
				bits = append(bits, byte(v>>b&1))
			}
		}
		if len(bits) >= fipsBlockBits*maxFIPSBlocks {
			break
		}
	}
	blocks := len(bits) / fipsBlockBits
	if blocks < 2 {
		return nil, false
	}
	const need = 2
	fails := map[string]int{}
	for b := 0; b < blocks; b++ {
		for _, name := range fips140(bits[b*fipsBlockBits : (b+1)*fipsBlockBits]) {
			fails[name]++
		}
	}
	var out []string
	for _, name := range []string{"monobit", "poker", "runs", "long run"} {
		if fails[name] >= need {
			out = append(out, name)
		}
	}
	return out, true
}

// fips140 runs FIPS 140-2's (change notice 1) statistical tests on 20,000 bits and
// returns the names of those that fail.
func fips140(bits []byte) []string {
	var failed []string
	ones := 0
	for _, b := range bits {
		ones += int(b)
	}
	if ones <= 9725 || ones >= 10275 {
		failed = append(failed, "monobit")
	}
	var f [16]int
	for i := 0; i+4 <= len(bits); i += 4 {
		f[bits[i]<<3|bits[i+1]<<2|bits[i+2]<<1|bits[i+3]]++
	}
	sum := 0.0
	for _, c := range f {
		sum += float64(c * c)
	}
	if x := 16.0/5000.0*sum - 5000; x <= 2.16 || x >= 46.17 {
		failed = append(failed, "poker")
	}
	var runs [2][7]int // by bit value, run length 1..6 (6: six or more)
	longest, run := 0, 0
	for i, b := range bits {
		run++
		if i == len(bits)-1 || bits[i+1] != b {
			runs[b][min(run, 6)]++
			longest = max(longest, run)
			run = 0
		}
	}
	bounds := [7][2]int{{}, {2315, 2685}, {1114, 1386}, {527, 723}, {240, 384}, {103, 209}, {103, 209}}
	for v := 0; v < 2; v++ {
		for l := 1; l <= 6; l++ {
			if c := runs[v][l]; c < bounds[l][0] || c > bounds[l][1] {
				if !slices.Contains(failed, "runs") {
					failed = append(failed, "runs")
				}
			}
		}
	}
	if longest >= 26 {
		failed = append(failed, "long run")
	}
	return failed
}
