package model

import (
	"encoding/json"
	"math"
	"strconv"
)

// AppendJSON appends e as json.Marshal writes it, byte for byte, without reflection:
// encoding/json took an eighth of the history writer's CPU and half of the export's
// record, and events are nine objects in ten. What it does not write the same way (a
// time json.Marshal refuses or writes with an odd zone, a float that is not finite)
// goes to json.Marshal, which then decides. TestEventJSON holds it to json.Marshal
// field by field, and fails when Event gains a field this does not know. (Event has
// no MarshalJSON: json.Marshal of an Event stays the reflecting encoder it is held to.)
func (e *Event) AppendJSON(dst []byte) ([]byte, error) {
	if !eventPlain(e) {
		data, err := json.Marshal(e)
		return append(dst, data...), err
	}
	dst = append(dst, `{"type":`...)
	dst = appendJSONString(dst, e.Type)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, e.Seq, 10)
	dst = append(dst, `,"time":`...)
	dst = appendJSONTime(dst, e.Time)
	dst = append(dst, `,"kind":`...)
	dst = appendJSONString(dst, string(e.Kind))
	if e.Session != nil {
		dst = appendSessionJSON(append(dst, `,"session":`...), e.Session)
	}
	dst = append(dst, `,"backend":`...)
	dst = appendJSONString(dst, e.Backend)
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
			dst = appendJSONString(dst, c)
		}
		dst = append(dst, ']')
	}
	if e.From != nil {
		dst = appendSessionJSON(append(dst, `,"from":`...), e.From)
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
			dst = appendSessionJSON(dst, &e.Candidates[i])
		}
		dst = append(dst, ']')
	}
	if e.AgeS != nil {
		dst = appendJSONFloat(append(dst, `,"age_s":`...), *e.AgeS)
	}
	if e.IdleS != nil {
		dst = appendJSONFloat(append(dst, `,"idle_s":`...), *e.IdleS)
	}
	dst = appendOmitEmpty(dst, `,"cause":`, e.Cause)
	if e.FromTime != nil {
		dst = appendJSONTime(append(dst, `,"from_time":`...), *e.FromTime)
	}
	if e.ToTime != nil {
		dst = appendJSONTime(append(dst, `,"to_time":`...), *e.ToTime)
	}
	if e.Dropped != 0 {
		dst = strconv.AppendInt(append(dst, `,"dropped":`...), e.Dropped, 10)
	}
	dst = appendOmitEmpty(dst, `,"reason":`, e.Reason)
	dst = appendOmitEmpty(dst, `,"payload_unread":`, e.PayloadUnread)
	return append(dst, '}'), nil
}

// eventPlain says whether AppendJSON writes e itself: its times are ones
// time.Time.MarshalJSON writes as RFC 3339 (years 0-9999, a zone within a day) and
// its floats are finite.
func eventPlain(e *Event) bool {
	if !jsonTimePlain(e.Time) || (e.FromTime != nil && !jsonTimePlain(*e.FromTime)) || (e.ToTime != nil && !jsonTimePlain(*e.ToTime)) {
		return false
	}
	for _, f := range []*float64{e.AgeS, e.IdleS} {
		if f != nil && (math.IsNaN(*f) || math.IsInf(*f, 0)) {
			return false
		}
	}
	return true
}

func appendSessionJSON(dst []byte, si *SessionInfo) []byte {
	dst = append(dst, `{"ref":`...)
	dst = appendJSONString(dst, si.Ref)
	dst = append(dst, `,"id":`...)
	dst = appendJSONString(dst, si.ID)
	dst = append(dst, `,"framework":`...)
	dst = appendJSONString(dst, si.Framework)
	dst = append(dst, `,"key_prefix":`...)
	dst = appendJSONString(dst, si.KeyPrefix)
	return append(dst, '}')
}

// appendJSONFloat writes a finite float64 as encoding/json does: the shortest form, with
// an exponent only below 1e-6 or from 1e21, and no leading zero in it.
func appendJSONFloat(dst []byte, f float64) []byte {
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
