package handlers

import (
	"fmt"
	"strings"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/views"
)

// feedRow describes an event for the live feed, on first load and pushed alike.
func feedRow(e *model.Event) views.FeedRow {
	r := views.FeedRow{Seq: e.Seq, Kind: string(e.Kind), Time: clock(e.Time), Meta: eventMeta(e), Detail: eventDetail(e)}
	if e.Session != nil {
		r.Ref, r.ID, r.Framework = e.Session.Ref, e.Session.ID, e.Session.Framework
		r.SessionURL = sessionURL(e.Session.Ref)
	}
	if e.Exchange != "" {
		r.ExchangeURL = exchangeURL(e.Exchange)
	}
	r.Candidates, r.CandidatesMore = candidateLinks(e.Candidates, maxFeedCandidates)
	if e.Kind == model.KindGap {
		r.ID = "—"
		r.Framework = e.Backend
	}
	return r
}

// maxFeedCandidates bounds the candidates listed on a feed row (a burst of logins
// can end dozens of sessions in one window); the session page lists them all.
const maxFeedCandidates = 5

// candidateLinks links at most limit of a birth's candidates to their session pages, by
// ref, and counts the rest.
func candidateLinks(cands []model.SessionInfo, limit int) ([]views.Link, int) {
	var links []views.Link
	for _, c := range cands {
		if len(links) == limit {
			break
		}
		links = append(links, views.Link{Text: c.Ref, URL: sessionURL(c.Ref)})
	}
	return links, len(cands) - len(links)
}

func eventMeta(e *model.Event) string {
	var parts []string
	if e.TTL != nil {
		if *e.TTL < 0 {
			parts = append(parts, "no ttl")
		} else {
			parts = append(parts, fmt.Sprintf("ttl %ds", *e.TTL))
		}
	}
	if e.Size != nil {
		parts = append(parts, fmt.Sprintf("%dB", *e.Size))
	}
	return strings.Join(parts, " · ")
}

func eventDetail(e *model.Event) string {
	var parts []string
	switch e.Kind {
	case model.KindRegenerated:
		if e.From != nil {
			s := "from " + e.From.ID + " " + e.From.Ref
			if e.Evidence != "" {
				s += " (" + e.Evidence + ")"
			}
			parts = append(parts, s)
		}
		if e.OldKept {
			parts = append(parts, "old session kept")
		}
	case model.KindUpdated:
		if len(e.Changed) > 0 {
			parts = append(parts, "changed "+strings.Join(e.Changed, ", "))
		}
	case model.KindExpired, model.KindDestroyed, model.KindEvicted:
		if e.AgeS != nil {
			parts = append(parts, "age "+secs(*e.AgeS))
		}
		if e.IdleS != nil {
			parts = append(parts, "idle "+secs(*e.IdleS))
		}
		if e.Cause != "" {
			parts = append(parts, "cause "+e.Cause)
		}
	case model.KindGap:
		s := "events may have been lost"
		if e.FromTime != nil && e.ToTime != nil {
			s += " between " + e.FromTime.Local().Format("15:04:05.000") + " and " + e.ToTime.Local().Format("15:04:05.000")
		}
		if e.Dropped > 0 {
			s += fmt.Sprintf(": %d dropped", e.Dropped)
		}
		if e.Reason != "" {
			s += " (" + e.Reason + ")"
		}
		parts = append(parts, s)
	case model.KindResynced:
		parts = append(parts, e.Reason)
	}
	if e.Evidence == model.EvidenceResync && e.Kind != model.KindResynced && e.Reason != "" {
		// Reconstructed after a gap, not seen happening: say so on the row.
		parts = append(parts, "resync: "+e.Reason)
	}
	if e.PayloadUnread != "" {
		parts = append(parts, "payload unread: "+e.PayloadUnread)
	}
	return strings.Join(parts, " · ")
}

func secs(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}
