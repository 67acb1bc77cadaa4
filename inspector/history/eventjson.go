package history

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// appendEventJSON appends e as json.Marshal writes it, byte for byte, without
// reflection: encoding/json took an eighth of the writer's CPU, and events are nine
// objects in ten. What it does not write the same way (a time json.Marshal refuses or
// writes with an odd zone, a float that is not finite) goes to json.Marshal, which
// then decides. TestEventJSON holds it to json.Marshal field by field, and fails
// when model.Event gains a field this does not know.
func appendEventJSON(dst []byte, e *model.Event) ([]byte, error) {
	if !eventPlain(e) {
		data, err := json.Marshal(e)
		return append(dst, data...), err
	}
	dst = append(dst, `{"type":`...)
	dst = appendString(dst, e.Type)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, e.Seq, 10)
	dst = append(dst, `,"time":`...)
	dst = appendTime(dst, e.Time)
	dst = append(dst, `,"kind":`...)
	dst = appendString(dst, string(e.Kind))
	if e.Session != nil {
		dst = appendSession(append(dst, `,"session":`...), e.Session)
	}
	dst = append(dst, `,"backend":`...)
	dst = appendString(dst, e.Backend)
	dst = appendOmitEmpty(dst, `,"node":`, e.Node)
	if e.TTL != nil {
		dst = strconv.AppendInt(append(dst, `,"ttl_s":`...), *e.TTL, 10)
	}
	if e.Size != nil {
		dst = strconv.AppendInt(append(dst, `,"size":`...), int64(*e.Size), 10)
	}
	dst = appendOmitEmpty(dst, `,"exchange":`, e.Exchange)
	dst = appendOmitEmpty(dst, `,"format":`, e.Format)
	if len(e.Changed) > 0 {
		dst = append(dst, `,"changed":[`...)
		for i, c := range e.Changed {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, c)
		}
		dst = append(dst, ']')
	}
	if e.From != nil {
		dst = appendSession(append(dst, `,"from":`...), e.From)
	}
	dst = appendOmitEmpty(dst, `,"evidence":`, e.Evidence)
	if e.OldKept {
		dst = append(dst, `,"old_kept":true`...)
	}
	if len(e.Candidates) > 0 {
		dst = append(dst, `,"candidates":[`...)
		for i := range e.Candidates {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendSession(dst, &e.Candidates[i])
		}
		dst = append(dst, ']')
	}
	if e.AgeS != nil {
		dst = appendFloat(append(dst, `,"age_s":`...), *e.AgeS)
	}
	if e.IdleS != nil {
		dst = appendFloat(append(dst, `,"idle_s":`...), *e.IdleS)
	}
	dst = appendOmitEmpty(dst, `,"cause":`, e.Cause)
	if e.FromTime != nil {
		dst = appendTime(append(dst, `,"from_time":`...), *e.FromTime)
	}
	if e.ToTime != nil {
		dst = appendTime(append(dst, `,"to_time":`...), *e.ToTime)
	}
	if e.Dropped != 0 {
		dst = strconv.AppendInt(append(dst, `,"dropped":`...), e.Dropped, 10)
	}
	dst = appendOmitEmpty(dst, `,"reason":`, e.Reason)
	dst = appendOmitEmpty(dst, `,"payload_unread":`, e.PayloadUnread)
	return append(dst, '}'), nil
}

// eventPlain says whether appendEventJSON writes e itself: its times are ones
// time.Time.MarshalJSON writes as RFC 3339 (years 0-9999, a zone within a day) and
// its floats are finite.
func eventPlain(e *model.Event) bool {
	if !timePlain(e.Time) || (e.FromTime != nil && !timePlain(*e.FromTime)) || (e.ToTime != nil && !timePlain(*e.ToTime)) {
		return false
	}
	for _, f := range []*float64{e.AgeS, e.IdleS} {
		if f != nil && (math.IsNaN(*f) || math.IsInf(*f, 0)) {
			return false
		}
	}
	return true
}

func timePlain(t time.Time) bool {
	if y := t.Year(); y < 0 || y > 9999 {
		return false
	}
	_, offset := t.Zone()
	return offset > -24*3600 && offset < 24*3600
}

func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

func appendSession(dst []byte, si *model.SessionInfo) []byte {
	dst = append(dst, `{"ref":`...)
	dst = appendString(dst, si.Ref)
	dst = append(dst, `,"id":`...)
	dst = appendString(dst, si.ID)
	dst = append(dst, `,"framework":`...)
	dst = appendString(dst, si.Framework)
	dst = append(dst, `,"key_prefix":`...)
	dst = appendString(dst, si.KeyPrefix)
	return append(dst, '}')
}

// appendFloat writes a finite float64 as encoding/json does: the shortest form, with
// an exponent only below 1e-6 or from 1e21, and no leading zero in it.
func appendFloat(dst []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

func appendOmitEmpty(dst []byte, key, v string) []byte {
	if v == "" {
		return dst
	}
	return appendString(append(dst, key...), v)
}

const hexDigits = "0123456789abcdef"

// appendString writes s quoted as json.Marshal does, HTML escaping on: <, > and & as
// \u003c, \u003e, \u0026; \\, \", \b, \f, \n, \r, \t; other control bytes as \u00XX;
// invalid UTF-8 as \ufffd; U+2028 and U+2029 escaped.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
