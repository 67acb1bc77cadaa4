package codec

// normalized fills zero (or negative) fields from DefaultLimits, so a caller
// can override one bound and keep the other.
func (l Limits) normalized() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxNodes <= 0 {
		l.MaxNodes = DefaultLimits.MaxNodes
	}
	return l
}

// budget tracks the work one decode may still do. It is shared by nested
// decoders (Laravel's two layers, Spring's fields) so the bound holds for the
// whole payload, not per layer.
type budget struct {
	maxDepth  int
	nodesLeft int
}

func newBudget(l Limits) *budget {
	l = l.normalized()
	return &budget{maxDepth: l.MaxDepth, nodesLeft: l.MaxNodes}
}

// node accounts for one decoded value.
func (b *budget) node() error {
	b.nodesLeft--
	if b.nodesLeft < 0 {
		return errNodeLimit
	}
	return nil
}

// repeatBytesPerNode is how many bytes of a string shown again (a Marshal link, a
// pickle memo GET, a Java back-reference) count as one more value against MaxNodes.
// The copy costs the decoder nothing, but whoever reads the tree walks and hashes it
// again: without the charge a few bytes of links could stand for gigabytes of text.
const repeatBytesPerNode = 64

// repeat accounts for a string of n bytes shown again.
func (b *budget) repeat(n int) error {
	b.nodesLeft -= n / repeatBytesPerNode
	if b.nodesLeft < 0 {
		return errNodeLimit
	}
	return nil
}

// maxPrealloc caps the entries allocated up front for one container. A
// declared count that the input could hold may still be a lie, and nested
// containers each preallocating from their counts would multiply (64 levels
// of `a:N:{` would reserve 64 times N entries of 128 bytes); beyond this many,
// append grows the slice as entries actually arrive.
const maxPrealloc = 64

// capHint bounds a slice capacity taken from a declared count by what the
// input and the node budget can still produce and by maxPrealloc, so a lying
// count never sizes an allocation.
func (b *budget) capHint(declared uint64, byInput int) int {
	n := min(byInput, maxPrealloc)
	if b.nodesLeft < n {
		n = b.nodesLeft
	}
	if declared < uint64(n) {
		n = int(declared)
	}
	if n < 0 {
		return 0
	}
	return n
}
