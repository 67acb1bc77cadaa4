package codec

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Python pickle, protocols 0 to 5: what django-redis stores for Django's
// cache session backend and what Flask-Session's Redis interface stores. The
// parser runs pickle's stack machine over data only: opcodes that would
// import a module or call something (GLOBAL, STACK_GLOBAL, REDUCE, BUILD,
// INST, OBJ, NEWOBJ, NEWOBJ_EX, EXT1/2/4, PERSID, BINPERSID) build a
// placeholder instead, so a payload cannot make sessionscope run anything.
//
// How each value decodes:
//   - None, True/False (NEWTRUE, NEWFALSE, INT 01/00), ints and floats:
//     KindNull, KindBool, KindInt, KindFloat. Ints beyond int64 are
//     KindOpaque (type pickle) over their encoded bytes or digits.
//   - str, bytes and bytearray: KindString, str as UTF-8 and bytes as is.
//   - list, tuple, set and frozenset: KindList. dict: KindMap; str and bytes
//     keys are used as is, int keys as decimal text, any other key as
//     Value.String renders it.
//   - A global (GLOBAL, STACK_GLOBAL): KindObject whose Class is
//     "module.name" and which has no entries.
//   - A call (REDUCE, NEWOBJ, NEWOBJ_EX, OBJ, INST): KindObject whose Class
//     names what would have been called ("datetime.datetime",
//     "collections.OrderedDict") with an entry "args" (a list) when there are
//     arguments and "kwargs" (a map) for NEWOBJ_EX. BUILD adds the state: a
//     dict's entries (an instance's __dict__) become entries of the object; a
//     (dict, slots) pair gives both dicts' entries; any other state is an
//     entry "state". Items SETITEM(S) and APPEND(S) put into an object
//     (OrderedDict, defaultdict) become entries, or an entry "items".
//   - EXT1/2/4: KindObject "copyreg.extension" with the code in "code".
//     PERSID/BINPERSID: KindObject "persistent_id" with the id in "id".
//   - A container met again through the memo (GET) or DUP after it was
//     shown once: KindRef, Int holding its memo index (-1 when it has none).
//     Strings and numbers met again are shown as their value.
//
// Out-of-band buffers (NEXT_BUFFER) are not available to a reader of stored
// bytes and fail the decode.

// pickle opcodes, named as in Python's pickle module.
const (
	pkMark           = '('
	pkStop           = '.'
	pkPop            = '0'
	pkPopMark        = '1'
	pkDup            = '2'
	pkFloat          = 'F'
	pkInt            = 'I'
	pkBinInt         = 'J'
	pkBinInt1        = 'K'
	pkLong           = 'L'
	pkBinInt2        = 'M'
	pkNone           = 'N'
	pkPersID         = 'P'
	pkBinPersID      = 'Q'
	pkReduce         = 'R'
	pkString         = 'S'
	pkBinString      = 'T'
	pkShortBinString = 'U'
	pkUnicode        = 'V'
	pkBinUnicode     = 'X'
	pkAppend         = 'a'
	pkBuild          = 'b'
	pkGlobal         = 'c'
	pkDict           = 'd'
	pkEmptyDict      = '}'
	pkAppends        = 'e'
	pkGet            = 'g'
	pkBinGet         = 'h'
	pkInst           = 'i'
	pkLongBinGet     = 'j'
	pkList           = 'l'
	pkEmptyList      = ']'
	pkObj            = 'o'
	pkPut            = 'p'
	pkBinPut         = 'q'
	pkLongBinPut     = 'r'
	pkSetItem        = 's'
	pkTuple          = 't'
	pkEmptyTuple     = ')'
	pkSetItems       = 'u'
	pkBinFloat       = 'G'
	pkProto          = 0x80
	pkNewObj         = 0x81
	pkExt1           = 0x82
	pkExt2           = 0x83
	pkExt4           = 0x84
	pkTuple1         = 0x85
	pkTuple2         = 0x86
	pkTuple3         = 0x87
	pkNewTrue        = 0x88
	pkNewFalse       = 0x89
	pkLong1          = 0x8a
	pkLong4          = 0x8b
	pkBinBytes       = 'B'
	pkShortBinBytes  = 'C'
	pkShortBinUni    = 0x8c
	pkBinUnicode8    = 0x8d
	pkBinBytes8      = 0x8e
	pkEmptySet       = 0x8f
	pkAddItems       = 0x90
	pkFrozenSet      = 0x91
	pkNewObjEx       = 0x92
	pkStackGlobal    = 0x93
	pkMemoize        = 0x94
	pkFrame          = 0x95
	pkByteArray8     = 0x96
	pkNextBuffer     = 0x97
	pkReadonlyBuffer = 0x98
)

// pkKind is the kind of a node on pickle's stack.
type pkKind uint8

const (
	pkScalar pkKind = iota // val holds the Value
	pkListNode
	pkDictNode
	pkObjectNode // class, args, kwargs, entries, items
)

// pkNode is one Python object under construction. Pickle fills containers
// after pushing them (and after memoizing them), so nodes are pointers that
// the stack and the memo share; they become Values at STOP.
type pkNode struct {
	kind   pkKind
	val    Value     // pkScalar
	items  []*pkNode // list, tuple, set; an object's appended items
	keys   []*pkNode // dict and object entries, paired with vals
	vals   []*pkNode
	class  string  // pkObjectNode
	args   *pkNode // pkObjectNode: the call's arguments, nil for none
	kwargs *pkNode
	state  *pkNode // BUILD state that is not a dict
	memo   int64   // memo index, -1 when never memoized
	shown  bool    // converted once already
	visit  bool    // being converted (cycle check)
	global bool    // a bare global: class is its name
}

// pkParser runs the pickle machine over one input. Like rmParser it converts
// the input to a string once, so every decoded string shares that copy.
type pkParser struct {
	src   string
	pos   int
	b     *budget
	stack []*pkNode
	marks []int // stack lengths at each MARK
	memo  map[int64]*pkNode
	// maxMemo bounds the memo: each entry keeps a node alive after the
	// stack dropped it.
	maxMemo int
}

func (p *pkParser) remaining() int { return len(p.src) - p.pos }

func (p *pkParser) errAt(sentinel error, msg string) error { return errAt(p.pos, sentinel, msg) }

// take returns the next n bytes.
func (p *pkParser) take(n int, what string) (string, error) {
	if n > p.remaining() {
		return "", p.errAt(ErrTruncated, "expected "+what)
	}
	s := p.src[p.pos : p.pos+n]
	p.pos += n
	return s, nil
}

// uint reads an n-byte little-endian unsigned integer (n ≤ 8).
func (p *pkParser) uint(n int, what string) (uint64, error) {
	s, err := p.take(n, what)
	if err != nil {
		return 0, err
	}
	var u uint64
	for i := n - 1; i >= 0; i-- {
		u = u<<8 | uint64(s[i])
	}
	return u, nil
}

// lenBytes reads an n-byte length and that many bytes, checking the length
// against the input before taking anything.
func (p *pkParser) lenBytes(n int, what string) (string, error) {
	off := p.pos
	u, err := p.uint(n, what+" length")
	if err != nil {
		return "", err
	}
	if u > uint64(p.remaining()) {
		return "", errLength(off, what+" length", u, p.remaining())
	}
	return p.take(int(u), what)
}

// line reads text up to and without the next newline, as protocol 0's
// opcodes carry their argument.
func (p *pkParser) line(what string) (string, error) {
	i := strings.IndexByte(p.src[p.pos:], '\n')
	if i < 0 {
		return "", p.errAt(ErrTruncated, "expected a newline after "+what)
	}
	s := p.src[p.pos : p.pos+i]
	p.pos += i + 1
	return s, nil
}

// push adds a new node, counting it against the budget.
func (p *pkParser) push(n *pkNode) error {
	if err := p.b.node(); err != nil {
		return p.errAt(err, "too many values")
	}
	n.memo = -1
	p.stack = append(p.stack, n)
	return nil
}

func (p *pkParser) scalar(v Value) error { return p.push(&pkNode{kind: pkScalar, val: v}) }

func (p *pkParser) pop(op byte) (*pkNode, error) {
	low := 0
	if len(p.marks) > 0 {
		low = p.marks[len(p.marks)-1]
	}
	if len(p.stack) <= low {
		return nil, errAt(p.pos-1, ErrSyntax, fmt.Sprintf("opcode 0x%02x on an empty stack", op))
	}
	n := p.stack[len(p.stack)-1]
	p.stack = p.stack[:len(p.stack)-1]
	return n, nil
}

func (p *pkParser) top(op byte) (*pkNode, error) {
	n, err := p.pop(op)
	if err == nil {
		p.stack = append(p.stack, n)
	}
	return n, err
}

// popMark returns the nodes pushed since the last MARK and removes the mark.
func (p *pkParser) popMark(op byte) ([]*pkNode, error) {
	if len(p.marks) == 0 {
		return nil, errAt(p.pos-1, ErrSyntax, fmt.Sprintf("opcode 0x%02x without a MARK", op))
	}
	m := p.marks[len(p.marks)-1]
	p.marks = p.marks[:len(p.marks)-1]
	items := append([]*pkNode(nil), p.stack[m:]...)
	p.stack = p.stack[:m]
	return items, nil
}

func (p *pkParser) memoPut(i int64, n *pkNode) error {
	if _, ok := p.memo[i]; !ok && len(p.memo) >= p.maxMemo {
		return p.errAt(errNodeLimit, "memo too large")
	}
	p.memo[i] = n
	if n.memo < 0 {
		n.memo = i
	}
	return nil
}

func (p *pkParser) memoGet(off int, i int64) error {
	n, ok := p.memo[i]
	if !ok {
		return errAt(off, ErrSyntax, fmt.Sprintf("memo entry %d was never stored", i))
	}
	if n.kind == pkScalar {
		if err := p.b.repeat(len(n.val.Str)); err != nil {
			return errAt(off, err, "too many copies of a long string")
		}
	}
	p.stack = append(p.stack, n)
	return nil
}

// memoIndex reads the memo index argument of PUT or GET in the width op gives it:
// a text line (protocol 0), one byte (BIN) or four (LONG_BIN).
func (p *pkParser) memoIndex(op byte, off int) (int64, error) {
	switch op {
	case pkPut, pkGet:
		s, err := p.line("a memo index")
		if err != nil {
			return 0, err
		}
		return decimal(off+1, s, "memo index")
	case pkBinPut, pkBinGet:
		u, err := p.uint(1, "memo index")
		return int64(u), err
	default:
		u, err := p.uint(4, "memo index")
		return int64(u), err
	}
}

// decimal parses a protocol 0 integer argument (GET, PUT).
func decimal(off int, s, what string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errAt(off, ErrSyntax, "malformed "+what)
	}
	return n, nil
}

// run executes opcodes until STOP and returns the value left on the stack.
func (p *pkParser) run() (*pkNode, error) {
	for {
		off := p.pos
		if off >= len(p.src) {
			return nil, p.errAt(ErrTruncated, "expected an opcode")
		}
		op := p.src[off]
		p.pos++
		if op == pkStop {
			if len(p.marks) != 0 || len(p.stack) != 1 {
				return nil, errAt(off, ErrSyntax, fmt.Sprintf("STOP with %d values and %d marks", len(p.stack), len(p.marks)))
			}
			return p.stack[0], nil
		}
		if err := p.step(op, off); err != nil {
			return nil, err
		}
	}
}

// step executes one opcode other than STOP, read at off.
func (p *pkParser) step(op byte, off int) error {
	switch op {
	case pkProto:
		v, err := p.take(1, "protocol version")
		if err != nil {
			return err
		}
		if v[0] > 5 {
			return errAt(off, ErrSyntax, fmt.Sprintf("protocol %d", v[0]))
		}
		return nil
	case pkFrame:
		// A frame only groups the opcodes that follow; its length must fit.
		n, err := p.uint(8, "frame length")
		if err != nil {
			return err
		}
		if n > uint64(p.remaining()) {
			return errLength(off, "frame length", n, p.remaining())
		}
		return nil
	case pkMark:
		if len(p.marks) >= p.b.maxDepth {
			return errTooDeep(off, p.b.maxDepth)
		}
		p.marks = append(p.marks, len(p.stack))
		return nil
	case pkPop:
		if len(p.stack) == 0 || len(p.marks) > 0 && p.marks[len(p.marks)-1] == len(p.stack) {
			// Python pops the mark when nothing was pushed after it.
			_, err := p.popMark(op)
			return err
		}
		_, err := p.pop(op)
		return err
	case pkPopMark:
		_, err := p.popMark(op)
		return err
	case pkDup:
		n, err := p.top(op)
		if err != nil {
			return err
		}
		p.stack = append(p.stack, n)
		return nil
	case pkNone:
		return p.scalar(Value{Kind: KindNull})
	case pkNewTrue, pkNewFalse:
		return p.scalar(Value{Kind: KindBool, Bool: op == pkNewTrue})
	case pkBinInt:
		u, err := p.uint(4, "int")
		return p.scalarIf(Value{Kind: KindInt, Int: int64(int32(uint32(u)))}, err)
	case pkBinInt1:
		u, err := p.uint(1, "int")
		return p.scalarIf(Value{Kind: KindInt, Int: int64(u)}, err)
	case pkBinInt2:
		u, err := p.uint(2, "int")
		return p.scalarIf(Value{Kind: KindInt, Int: int64(u)}, err)
	case pkInt, pkLong:
		s, err := p.line("an int")
		if err != nil {
			return err
		}
		v, err := textInt(off+1, s, op == pkLong)
		return p.scalarIf(v, err)
	case pkLong1, pkLong4:
		var mag string
		var err error
		if op == pkLong1 {
			mag, err = p.lenBytes(1, "long")
		} else {
			mag, err = p.lenBytes(4, "long")
		}
		if err != nil {
			return err
		}
		return p.scalar(longValue(mag, p.src[off:p.pos]))
	case pkFloat:
		s, err := p.line("a float")
		if err != nil {
			return err
		}
		f, perr := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if perr != nil {
			if ne, ok := perr.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
				return errAt(off+1, ErrSyntax, "malformed float")
			}
		}
		return p.scalar(Value{Kind: KindFloat, Float: f})
	case pkBinFloat:
		s, err := p.take(8, "float")
		if err != nil {
			return err
		}
		return p.scalar(Value{Kind: KindFloat, Float: math.Float64frombits(binary.BigEndian.Uint64([]byte(s)))})
	case pkString:
		s, err := p.line("a string")
		if err != nil {
			return err
		}
		v, ok := unquotePyString(s)
		if !ok {
			return errAt(off+1, ErrSyntax, "malformed quoted string")
		}
		return p.scalar(Value{Kind: KindString, Str: v})
	case pkUnicode:
		s, err := p.line("a string")
		if err != nil {
			return err
		}
		return p.scalar(Value{Kind: KindString, Str: rawUnicodeEscape(s)})
	case pkBinString:
		// BINSTRING's length is signed.
		if p.remaining() >= 4 && p.src[p.pos+3]&0x80 != 0 {
			return errAt(off+1, ErrSyntax, "negative string length")
		}
		s, err := p.lenBytes(4, "string")
		return p.scalarIf(Value{Kind: KindString, Str: s}, err)
	case pkShortBinString, pkShortBinBytes, pkShortBinUni:
		s, err := p.lenBytes(1, "string")
		return p.scalarIf(Value{Kind: KindString, Str: s}, err)
	case pkBinUnicode, pkBinBytes:
		s, err := p.lenBytes(4, "string")
		return p.scalarIf(Value{Kind: KindString, Str: s}, err)
	case pkBinUnicode8, pkBinBytes8, pkByteArray8:
		s, err := p.lenBytes(8, "string")
		return p.scalarIf(Value{Kind: KindString, Str: s}, err)
	case pkEmptyDict:
		return p.push(&pkNode{kind: pkDictNode})
	case pkEmptyList:
		return p.push(&pkNode{kind: pkListNode})
	case pkEmptyTuple:
		return p.push(&pkNode{kind: pkListNode})
	case pkEmptySet:
		return p.push(&pkNode{kind: pkListNode})
	case pkTuple1, pkTuple2, pkTuple3:
		n := int(op-pkTuple1) + 1
		items := make([]*pkNode, n)
		for i := n - 1; i >= 0; i-- {
			it, err := p.pop(op)
			if err != nil {
				return err
			}
			items[i] = it
		}
		return p.push(&pkNode{kind: pkListNode, items: items})
	case pkTuple, pkList, pkFrozenSet:
		items, err := p.popMark(op)
		if err != nil {
			return err
		}
		return p.push(&pkNode{kind: pkListNode, items: items})
	case pkDict:
		items, err := p.popMark(op)
		if err != nil {
			return err
		}
		d := &pkNode{kind: pkDictNode}
		if err := d.setItems(items, op, off); err != nil {
			return err
		}
		return p.push(d)
	case pkAppend:
		v, err := p.pop(op)
		if err != nil {
			return err
		}
		return p.appendTo([]*pkNode{v}, op, off)
	case pkAppends, pkAddItems:
		items, err := p.popMark(op)
		if err != nil {
			return err
		}
		return p.appendTo(items, op, off)
	case pkSetItem:
		v, err := p.pop(op)
		if err != nil {
			return err
		}
		k, err := p.pop(op)
		if err != nil {
			return err
		}
		return p.setItems([]*pkNode{k, v}, op, off)
	case pkSetItems:
		items, err := p.popMark(op)
		if err != nil {
			return err
		}
		return p.setItems(items, op, off)
	case pkPut, pkBinPut, pkLongBinPut:
		i, err := p.memoIndex(op, off)
		if err != nil {
			return err
		}
		return p.memoTop(op, i)
	case pkMemoize:
		return p.memoTop(op, int64(len(p.memo)))
	case pkGet, pkBinGet, pkLongBinGet:
		i, err := p.memoIndex(op, off)
		if err != nil {
			return err
		}
		return p.memoGet(off, i)
	case pkGlobal:
		mod, err := p.line("a module name")
		if err != nil {
			return err
		}
		name, err := p.line("a global name")
		if err != nil {
			return err
		}
		return p.push(&pkNode{kind: pkObjectNode, global: true, class: mod + "." + name})
	case pkStackGlobal:
		name, err := p.pop(op)
		if err != nil {
			return err
		}
		mod, err := p.pop(op)
		if err != nil {
			return err
		}
		if mod.kind != pkScalar || mod.val.Kind != KindString || name.kind != pkScalar || name.val.Kind != KindString {
			return errAt(off, ErrSyntax, "STACK_GLOBAL needs two strings")
		}
		return p.push(&pkNode{kind: pkObjectNode, global: true, class: mod.val.Str + "." + name.val.Str})
	case pkReduce, pkNewObj:
		args, err := p.pop(op)
		if err != nil {
			return err
		}
		callable, err := p.pop(op)
		if err != nil {
			return err
		}
		return p.push(call(callable, args, nil))
	case pkNewObjEx:
		kwargs, err := p.pop(op)
		if err != nil {
			return err
		}
		args, err := p.pop(op)
		if err != nil {
			return err
		}
		cls, err := p.pop(op)
		if err != nil {
			return err
		}
		return p.push(call(cls, args, kwargs))
	case pkObj:
		items, err := p.popMark(op)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return errAt(off, ErrSyntax, "OBJ without a class")
		}
		return p.push(call(items[0], &pkNode{kind: pkListNode, items: items[1:], memo: -1}, nil))
	case pkInst:
		mod, err := p.line("a module name")
		if err != nil {
			return err
		}
		name, err := p.line("a class name")
		if err != nil {
			return err
		}
		items, err := p.popMark(op)
		if err != nil {
			return err
		}
		cls := &pkNode{kind: pkObjectNode, global: true, class: mod + "." + name, memo: -1}
		return p.push(call(cls, &pkNode{kind: pkListNode, items: items, memo: -1}, nil))
	case pkBuild:
		state, err := p.pop(op)
		if err != nil {
			return err
		}
		obj, err := p.top(op)
		if err != nil {
			return err
		}
		return p.build(obj, state, off)
	case pkExt1, pkExt2, pkExt4:
		n := 4
		switch op {
		case pkExt1:
			n = 1
		case pkExt2:
			n = 2
		}
		u, err := p.uint(n, "extension code")
		if err != nil {
			return err
		}
		code := &pkNode{kind: pkScalar, val: Value{Kind: KindInt, Int: int64(u)}, memo: -1}
		return p.push(&pkNode{kind: pkObjectNode, class: "copyreg.extension", keys: []*pkNode{strNode("code")}, vals: []*pkNode{code}})
	case pkPersID:
		s, err := p.line("a persistent id")
		if err != nil {
			return err
		}
		id := &pkNode{kind: pkScalar, val: Value{Kind: KindString, Str: s}, memo: -1}
		return p.push(&pkNode{kind: pkObjectNode, class: "persistent_id", keys: []*pkNode{strNode("id")}, vals: []*pkNode{id}})
	case pkBinPersID:
		id, err := p.pop(op)
		if err != nil {
			return err
		}
		return p.push(&pkNode{kind: pkObjectNode, class: "persistent_id", keys: []*pkNode{strNode("id")}, vals: []*pkNode{id}})
	case pkNextBuffer:
		return errAt(off, ErrSyntax, "out-of-band buffer")
	case pkReadonlyBuffer:
		_, err := p.top(op)
		return err
	}
	return errAt(off, ErrSyntax, fmt.Sprintf("unknown pickle opcode 0x%02x", op))
}

func (p *pkParser) scalarIf(v Value, err error) error {
	if err != nil {
		return err
	}
	return p.scalar(v)
}

func (p *pkParser) memoTop(op byte, i int64) error {
	n, err := p.top(op)
	if err != nil {
		return err
	}
	return p.memoPut(i, n)
}

func strNode(s string) *pkNode {
	return &pkNode{kind: pkScalar, val: Value{Kind: KindString, Str: s}, memo: -1}
}

// call is the placeholder for calling callable with args (and kwargs): it
// names what would have been called and keeps the arguments as data. Two
// helpers that older protocols route through are read for what they mean:
// copyreg's _reconstructor(cls, base, state) and __newobj__(cls, *args)
// make an instance of cls, and _codecs.encode(text, "latin1") is how
// protocols 0 to 2 write bytes.
func call(callable, args, kwargs *pkNode) *pkNode {
	if callable.global && args.kind == pkListNode && len(args.items) > 0 {
		first := args.items[0]
		switch callable.class {
		case "copy_reg._reconstructor", "copyreg._reconstructor":
			if first.global && len(args.items) == 3 && args.items[1].global && strings.HasSuffix(args.items[1].class, ".object") &&
				args.items[2].kind == pkScalar && args.items[2].val.Kind == KindNull {
				return &pkNode{kind: pkObjectNode, class: first.class}
			}
		case "copyreg.__newobj__", "copy_reg.__newobj__":
			if first.global {
				return call(first, &pkNode{kind: pkListNode, items: args.items[1:], memo: -1}, kwargs)
			}
		case "_codecs.encode":
			if len(args.items) == 2 && first.kind == pkScalar && first.val.Kind == KindString && args.items[1].kind == pkScalar &&
				args.items[1].val.Kind == KindString && args.items[1].val.Str == "latin1" {
				if b, ok := latin1(first.val.Str); ok {
					return &pkNode{kind: pkScalar, val: Value{Kind: KindString, Str: b}}
				}
			}
		}
	}
	o := &pkNode{kind: pkObjectNode, class: callable.name()}
	if args != nil && !(args.kind == pkListNode && len(args.items) == 0) {
		o.args = args
	}
	o.kwargs = kwargs
	return o
}

// latin1 encodes UTF-8 text whose runes are all below 256 as Latin-1 bytes.
func latin1(s string) (string, bool) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff || r == utf8.RuneError {
			return "", false
		}
		b = append(b, byte(r))
	}
	return string(b), true
}

// name is the class a call on n would create: a global's name, or the class
// of the object n stands for.
func (n *pkNode) name() string {
	if n.kind == pkObjectNode {
		return n.class
	}
	return "?"
}

// appendTo adds items to the list (or set, or object) on top of the stack.
func (p *pkParser) appendTo(items []*pkNode, op byte, off int) error {
	t, err := p.top(op)
	if err != nil {
		return err
	}
	switch t.kind {
	case pkListNode, pkObjectNode:
		t.items = append(t.items, items...)
		return nil
	}
	return errAt(off, ErrSyntax, fmt.Sprintf("opcode 0x%02x on a value that takes no items", op))
}

// setItems adds key, value pairs to the dict (or object) on top of the stack.
func (p *pkParser) setItems(kv []*pkNode, op byte, off int) error {
	t, err := p.top(op)
	if err != nil {
		return err
	}
	return t.setItems(kv, op, off)
}

func (n *pkNode) setItems(kv []*pkNode, op byte, off int) error {
	if len(kv)%2 != 0 {
		return errAt(off, ErrSyntax, "odd number of items for a dict")
	}
	if n.kind != pkDictNode && n.kind != pkObjectNode {
		return errAt(off, ErrSyntax, fmt.Sprintf("opcode 0x%02x on a value that takes no entries", op))
	}
	for i := 0; i < len(kv); i += 2 {
		n.keys = append(n.keys, kv[i])
		n.vals = append(n.vals, kv[i+1])
	}
	return nil
}

// build applies BUILD's state to the object n, as data. A dict's entries
// are copied into the object; each copy counts against the budget, since a
// few bytes (BINGET of one large dict, BUILD) may copy it again and again.
func (p *pkParser) build(n, state *pkNode, off int) error {
	if n.kind != pkObjectNode {
		return errAt(off, ErrSyntax, "BUILD on a value that is not an object")
	}
	merge := func(d *pkNode) error {
		for range d.keys {
			if err := p.b.node(); err != nil {
				return errAt(off, err, "too many values")
			}
		}
		n.keys = append(n.keys, d.keys...)
		n.vals = append(n.vals, d.vals...)
		return nil
	}
	switch {
	case state.kind == pkDictNode:
		return merge(state)
	case state.kind == pkListNode && len(state.items) == 2 && state.items[1].kind == pkDictNode &&
		(state.items[0].kind == pkDictNode || state.items[0].kind == pkScalar && state.items[0].val.Kind == KindNull):
		// (__dict__ or None, __slots__ values)
		for _, d := range state.items {
			if err := merge(d); err != nil {
				return err
			}
		}
	case n.state == nil:
		n.state = state
	default:
		n.state = &pkNode{kind: pkListNode, items: []*pkNode{n.state, state}, memo: -1}
	}
	return nil
}

// textInt parses protocol 0's INT (01 and 00 are True and False) and LONG
// (digits and an L) arguments.
func textInt(off int, s string, long bool) (Value, error) {
	if !long {
		switch s {
		case "01":
			return Value{Kind: KindBool, Bool: true}, nil
		case "00":
			return Value{Kind: KindBool, Bool: false}, nil
		}
	}
	digits := strings.TrimSuffix(s, "L")
	n, err := strconv.ParseInt(digits, 10, 64)
	if err == nil {
		return Value{Kind: KindInt, Int: n}, nil
	}
	if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		return Value{Kind: KindOpaque, Opaque: opaqueOfString(digits, FormatPickle)}, nil
	}
	return Value{}, errAt(off, ErrSyntax, "malformed int")
}

// longValue is LONG1/LONG4's little-endian two's complement integer: KindInt
// when it fits an int64, else an Opaque over the opcode's bytes.
func longValue(mag, whole string) Value {
	if len(mag) == 0 {
		return Value{Kind: KindInt}
	}
	neg := mag[len(mag)-1]&0x80 != 0
	// Drop sign-extension bytes that do not change the value.
	for len(mag) > 1 {
		last, prev := mag[len(mag)-1], mag[len(mag)-2]
		if last == 0 && prev&0x80 == 0 || last == 0xff && prev&0x80 != 0 {
			mag = mag[:len(mag)-1]
			continue
		}
		break
	}
	if len(mag) > 8 {
		return Value{Kind: KindOpaque, Opaque: opaqueOfString(whole, FormatPickle)}
	}
	var u uint64
	if neg {
		u = math.MaxUint64
	}
	for i := len(mag) - 1; i >= 0; i-- {
		u = u<<8 | uint64(mag[i])
	}
	return Value{Kind: KindInt, Int: int64(u)}
}

// unquotePyString decodes protocol 0's STRING argument: a Python bytes
// literal in single or double quotes with backslash escapes.
func unquotePyString(s string) (string, bool) {
	if len(s) < 2 || s[0] != s[len(s)-1] || s[0] != '\'' && s[0] != '"' {
		return "", false
	}
	s = s[1 : len(s)-1]
	if strings.IndexByte(s, '\\') < 0 {
		return s, true
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			sb.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			return "", false
		}
		switch c = s[i]; c {
		case 'n':
			sb.WriteByte('\n')
		case 't':
			sb.WriteByte('\t')
		case 'r':
			sb.WriteByte('\r')
		case 'a':
			sb.WriteByte('\a')
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'v':
			sb.WriteByte('\v')
		case '\n':
		case 'x':
			if i+2 >= len(s) {
				return "", false
			}
			b, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", false
			}
			sb.WriteByte(byte(b))
			i += 2
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := 0
			j := i
			for ; j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7'; j++ {
				v = v*8 + int(s[j]-'0')
			}
			sb.WriteByte(byte(v))
			i = j - 1
		default:
			// Python keeps the backslash of an unknown escape ('\\' and
			// quotes are the known ones that drop it).
			if c != '\\' && c != '\'' && c != '"' {
				sb.WriteByte('\\')
			}
			sb.WriteByte(c)
		}
	}
	return sb.String(), true
}

// rawUnicodeEscape decodes protocol 0's UNICODE argument: Latin-1 bytes with
// \uXXXX and \UXXXXXXXX escapes, to UTF-8.
func rawUnicodeEscape(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
			n := 4
			if s[i+1] == 'U' {
				n = 8
			}
			if i+2+n <= len(s) {
				if r, err := strconv.ParseUint(s[i+2:i+2+n], 16, 32); err == nil {
					if utf8.ValidRune(rune(r)) {
						sb.WriteRune(rune(r))
					} else {
						sb.WriteRune(utf8.RuneError)
					}
					i += 1 + n
					continue
				}
			}
		}
		if c < 0x80 {
			sb.WriteByte(c)
		} else {
			sb.WriteRune(rune(c))
		}
	}
	return sb.String()
}

// converter turns the finished nodes into Values.
type converter struct{ b *budget }

func (c *converter) value(n *pkNode, depth int) (Value, error) {
	if n.kind == pkScalar {
		return n.val, nil
	}
	if n.shown || n.visit {
		return Value{Kind: KindRef, Int: n.memo}, nil
	}
	if depth >= c.b.maxDepth {
		return Value{}, errTooDeep(0, c.b.maxDepth)
	}
	n.visit = true
	defer func() { n.visit = false; n.shown = true }()
	switch n.kind {
	case pkListNode:
		items := make([]Value, 0, len(n.items))
		for _, it := range n.items {
			v, err := c.value(it, depth+1)
			if err != nil {
				return Value{}, err
			}
			items = append(items, v)
		}
		return Value{Kind: KindList, Items: items}, nil
	case pkDictNode:
		es, err := c.entries(n, depth)
		if err != nil {
			return Value{}, err
		}
		return Value{Kind: KindMap, Entries: es}, nil
	}
	o := Value{Kind: KindObject, Class: n.class}
	if n.global {
		return o, nil
	}
	add := func(key string, x *pkNode) error {
		v, err := c.value(x, depth+1)
		if err == nil {
			o.Entries = append(o.Entries, Entry{Key: key, Value: v})
		}
		return err
	}
	if n.args != nil {
		if err := add("args", n.args); err != nil {
			return Value{}, err
		}
	}
	if n.kwargs != nil {
		if err := add("kwargs", n.kwargs); err != nil {
			return Value{}, err
		}
	}
	es, err := c.entries(n, depth)
	if err != nil {
		return Value{}, err
	}
	o.Entries = append(o.Entries, es...)
	if n.state != nil {
		if err := add("state", n.state); err != nil {
			return Value{}, err
		}
	}
	if len(n.items) > 0 {
		if err := add("items", &pkNode{kind: pkListNode, items: n.items, memo: -1}); err != nil {
			return Value{}, err
		}
	}
	return o, nil
}

// entries converts n's key, value pairs.
func (c *converter) entries(n *pkNode, depth int) ([]Entry, error) {
	es := make([]Entry, 0, len(n.keys))
	for i, k := range n.keys {
		kv, err := c.value(k, depth+1)
		if err != nil {
			return nil, err
		}
		v, err := c.value(n.vals[i], depth+1)
		if err != nil {
			return nil, err
		}
		es = append(es, Entry{Key: entryKey(kv), Value: v})
	}
	return es, nil
}

// decodePickle decodes a pickled session (django-redis, Flask-Session): a
// top-level dict's entries become Fields; any other value becomes a single
// field named "".
func decodePickle(data []byte, b *budget) (*Payload, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("pickle session: %w", errAt(0, ErrTruncated, "expected an opcode"))
	}
	p := &pkParser{src: string(data), b: b, memo: map[int64]*pkNode{}, maxMemo: b.nodesLeft}
	top, err := p.run()
	if err != nil {
		return nil, fmt.Errorf("pickle session: %w", err)
	}
	if p.pos != len(p.src) {
		return nil, fmt.Errorf("pickle session: %w", p.errAt(ErrSyntax, "trailing data after STOP"))
	}
	c := &converter{b: b}
	v, err := c.value(top, 0)
	if err != nil {
		return nil, fmt.Errorf("pickle session: %w", err)
	}
	fields := []Entry{{Key: "", Value: v}}
	if v.Kind == KindMap {
		fields = v.Entries
	}
	return &Payload{Format: FormatPickle, Fields: fields}, nil
}
