package handlers

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/sessionscope/sessionscope/inspector/codec"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/views"
)

// Limits on what one page or response shows of a payload: the codec accepts up to
// 200,000 values, far more than a browser tree can usefully show.
const (
	maxTreeNodes   = 5000
	maxStringShown = 4096
)

// payloadJSON is the decoded payload in API responses.
type payloadJSON struct {
	Format   string      `json:"format"`
	Size     int         `json:"size"`
	Redacted bool        `json:"redacted"` // sensitive values are hidden (RevealValues off)
	Fields   []nodeJSON  `json:"fields"`
	Opaque   *opaqueJSON `json:"opaque,omitempty"`
}

// nodeJSON is one key of the payload tree. Value holds scalars as JSON values; strings
// that are not valid UTF-8 are shown with Go escapes, and NaN/Inf floats as strings.
type nodeJSON struct {
	Key      string      `json:"key"`
	Kind     string      `json:"kind"`
	Class    string      `json:"class,omitempty"`
	Value    any         `json:"value,omitempty"`
	Redacted bool        `json:"redacted,omitempty"`
	Children []nodeJSON  `json:"children,omitempty"`
	More     int         `json:"more,omitempty"` // children left out (size limit)
	Opaque   *opaqueJSON `json:"opaque,omitempty"`

	display string // the value as the HTML tree shows it
}

type opaqueJSON struct {
	Type      string `json:"type"`
	Size      int    `json:"size"`
	Preview   string `json:"preview"`            // hex/ASCII dump with reveal, else the layout without byte values
	Redacted  bool   `json:"redacted,omitempty"` // the preview holds no byte values
	Truncated bool   `json:"truncated,omitempty"`
}

func kindName(k codec.Kind) string {
	switch k {
	case codec.KindNull:
		return "null"
	case codec.KindBool:
		return "bool"
	case codec.KindInt:
		return "int"
	case codec.KindFloat:
		return "float"
	case codec.KindString:
		return "string"
	case codec.KindList:
		return "list"
	case codec.KindMap:
		return "map"
	case codec.KindObject:
		return "object"
	case codec.KindOpaque:
		return "opaque"
	case codec.KindRef:
		return "ref"
	}
	return "unknown"
}

type treeBuilder struct {
	reveal bool
	names  model.Redaction
	budget int
}

// buildPayload converts a decoded payload into the API tree, redacting the values of
// sensitive names (and the bytes of opaque previews) unless reveal.
func buildPayload(p *codec.Payload, reveal bool, names model.Redaction) *payloadJSON {
	if p == nil {
		return nil
	}
	out := &payloadJSON{Format: string(p.Format), Size: p.Size, Redacted: !reveal, Fields: []nodeJSON{}}
	b := &treeBuilder{reveal: reveal, names: names, budget: maxTreeNodes}
	if p.Opaque != nil {
		out.Opaque = b.opaque(p.Opaque)
		return out
	}
	out.Fields, _ = b.entries(p.Fields, false)
	return out
}

// opaque shows undecoded bytes. Their preview is a hex/ASCII dump only with reveal:
// a password inside a pickle is as readable there as in a decoded field, so by
// default the preview gives the size, the format guess and the layout, no byte values.
func (b *treeBuilder) opaque(o *codec.Opaque) *opaqueJSON {
	out := &opaqueJSON{Type: string(o.Type), Size: o.Size, Truncated: o.Truncated}
	if b.reveal {
		out.Preview = o.Preview
	} else {
		out.Preview, out.Redacted = o.Outline(), true
	}
	return out
}

// entries converts the entries that fit in the budget and counts the rest.
func (b *treeBuilder) entries(es []codec.Entry, redact bool) ([]nodeJSON, int) {
	out := make([]nodeJSON, 0, min(len(es), b.budget))
	for i := range es {
		if b.budget <= 0 {
			return out, len(es) - i
		}
		out = append(out, b.node(es[i].Key, &es[i].Value, redact))
	}
	return out, 0
}

func (b *treeBuilder) node(key string, v *codec.Value, redact bool) nodeJSON {
	b.budget--
	n := nodeJSON{Key: key, Kind: kindName(v.Kind)}
	if !b.reveal && (redact || b.names.Sensitive(key)) {
		// Redact the whole subtree: a nested {"password": ...} under "user" is as
		// sensitive as a top-level one, and so is everything under "auth".
		n.Redacted = true
		n.display = "••• redacted"
		return n
	}
	switch v.Kind {
	case codec.KindNull:
		n.display = "null"
	case codec.KindBool:
		n.Value, n.display = v.Bool, strconv.FormatBool(v.Bool)
	case codec.KindInt:
		n.Value, n.display = v.Int, strconv.FormatInt(v.Int, 10)
	case codec.KindFloat:
		n.display = strconv.FormatFloat(v.Float, 'g', -1, 64)
		if math.IsNaN(v.Float) || math.IsInf(v.Float, 0) {
			n.Value = n.display // JSON has no NaN or Inf
		} else {
			n.Value = v.Float
		}
	case codec.KindString:
		n.Value, n.display = jsonString(v.Str), displayString(v.Str)
	case codec.KindRef:
		n.Value, n.display = v.Int, "&"+strconv.FormatInt(v.Int, 10)
	case codec.KindOpaque:
		if v.Opaque != nil {
			n.Opaque = b.opaque(v.Opaque)
		}
	case codec.KindList:
		n.Children = make([]nodeJSON, 0, min(len(v.Items), max(b.budget, 0)))
		for i := range v.Items {
			if b.budget <= 0 {
				n.More = len(v.Items) - i
				break
			}
			n.Children = append(n.Children, b.node(strconv.Itoa(i), &v.Items[i], false))
		}
	case codec.KindMap, codec.KindObject:
		n.Class = v.Class
		switch {
		case v.Opaque != nil:
			n.Opaque = b.opaque(v.Opaque)
		case v.Entries == nil && v.Str != "" && v.Kind == codec.KindObject:
			n.Value, n.display = v.Class+"::"+v.Str, v.Class+"::"+v.Str // an enum case
		default:
			n.Children, n.More = b.entries(v.Entries, false)
			if len(n.Children) == 0 && n.More == 0 {
				if v.Kind == codec.KindObject && v.Class != "" {
					n.display = v.Class + " {}"
				} else {
					n.display = "{}"
				}
			}
		}
	}
	if v.Kind == codec.KindList && len(n.Children) == 0 && n.More == 0 {
		n.display = "[]"
	}
	return n
}

// jsonString keeps valid UTF-8 as it is; binary strings are shown with Go escapes
// rather than silently turned into U+FFFD by the JSON encoder.
func jsonString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// displayString quotes a string the way DevTools does, escaping control bytes, and
// cuts very long ones.
func displayString(s string) string {
	if len(s) > maxStringShown {
		cut := maxStringShown
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "… (" + strconv.Itoa(len(s)) + " bytes)"
	}
	return strconv.Quote(s)
}

// viewPayload converts the API tree for the HTML view.
func viewPayload(p *payloadJSON) *views.Payload {
	if p == nil {
		return nil
	}
	out := &views.Payload{Format: p.Format, Size: p.Size}
	if p.Opaque != nil {
		out.Opaque = viewOpaque(p.Opaque)
		return out
	}
	out.Nodes = viewNodes(p.Fields)
	return out
}

func viewNodes(ns []nodeJSON) []views.PayloadNode {
	out := make([]views.PayloadNode, 0, len(ns))
	for _, n := range ns {
		vn := views.PayloadNode{Key: n.Key, Kind: n.Kind, Class: n.Class, Value: n.display, Redacted: n.Redacted,
			More: n.More, Children: viewNodes(n.Children)}
		if n.Opaque != nil {
			vn.Opaque = viewOpaque(n.Opaque)
		}
		out = append(out, vn)
	}
	return out
}

func viewOpaque(o *opaqueJSON) *views.Opaque {
	return &views.Opaque{Type: o.Type, Size: o.Size, Preview: o.Preview, Truncated: o.Truncated}
}
