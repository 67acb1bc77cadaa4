package views

import (
	"fmt"
	"strings"
	"time"
)

// FlowStep is one step of a flow as the handler words it, before layout: a request or
// response arrow between the browser and an upstream, or a store event. LayoutFlow
// decides where it goes; the step only says what it shows.
type FlowStep struct {
	// Row is the step's content: Kind (request, response, event), Class, Label, Title,
	// URL, Exchange, Status, Seq, Time, ISO, and the Text and Class of its Marks.
	// LayoutFlow fills in every coordinate.
	Row FlowRow
	// Lane is the upstream a request goes to or a response comes from; for a store
	// event, the upstream of the drawn exchange that caused it ("" when none is drawn:
	// the event then has no arrow).
	Lane string
	// LaneName is Lane as short as the lane's header shows it.
	LaneName string
	// Gap is the silence since the previous step, and GapText how the screen words it.
	Gap     time.Duration
	GapText string
	// Cited marks a step the flow's finding cites: its row is highlighted.
	Cited bool
}

// Flow geometry, in SVG units.
const (
	flowMaxUpstreams = 5 // upstream lanes; further upstreams share an "other upstreams" lane
	flowLaneX0       = 190
	flowLaneGap      = 270
	flowLabelRoom    = 290 // right of the store lane, for event labels
	flowLaneTop      = 34
	flowFirstY       = 66
	flowLine         = 13              // one annotation line
	flowPause        = 5 * time.Second // a longer silence between steps is drawn as a pause
)

// otherLane is the lane key of the upstreams beyond flowMaxUpstreams; no host has it.
const otherLane = "\x00other"

// LayoutFlow lays out steps, given in time order, as the swimlane diagram: lanes for
// the browser, the upstreams in order of appearance and the store; one row per step,
// with its arrow, label and annotation lines placed; a pause row before a silence
// longer than flowPause; cited rows banded. total is how many steps the flow has in
// all, of which steps are the ones drawn.
func LayoutFlow(steps []FlowStep, total int) Flow {
	f := Flow{Total: total, Shown: len(steps), LaneTop: flowLaneTop}
	laneOf := flowLanes(&f, steps)
	browserX, storeX := f.Lanes[0].X, f.Lanes[len(f.Lanes)-1].X
	laneX := func(name string) int { return f.Lanes[laneOf[name]].X }
	f.Width = storeX + flowLabelRoom

	y := flowFirstY
	for i, s := range steps {
		if i > 0 && s.Gap > flowPause {
			f.Rows = append(f.Rows, FlowRow{Kind: "pause", Y: y - 4, Label: "⋯ " + s.GapText + " later",
				LabelX: (browserX + storeX) / 2, LabelY: y - 2, Anchor: "middle", Title: "Nothing happened for " + s.GapText})
			y += 22
		}
		r := s.Row
		event := r.Kind == "event"
		switch {
		case event:
			r.DotX, r.LabelX, r.Anchor = storeX, storeX+12, "start"
			if s.Lane != "" {
				r.X1, r.X2 = laneX(s.Lane), storeX-7
			}
		case r.Kind == "response":
			upX := laneX(s.Lane)
			r.X1, r.X2, r.LabelX, r.Anchor = upX, browserX+3, (browserX+upX)/2, "middle"
		default:
			upX := laneX(s.Lane)
			r.X1, r.X2, r.LabelX, r.Anchor = browserX, upX-3, (browserX+upX)/2, "middle"
		}
		r.Y, r.LabelY = y, y-6
		first, height := y+14, 30
		if event {
			r.LabelY, first, height = y+4, y+18, 24
		}
		r.Marks = append([]FlowMark(nil), r.Marks...)
		for j := range r.Marks {
			r.Marks[j].X, r.Marks[j].Y, r.Marks[j].Anchor = r.LabelX, first+j*flowLine, r.Anchor
		}
		height += len(r.Marks) * flowLine
		if r.X1 != r.X2 {
			dir := 1
			if r.X2 < r.X1 {
				dir = -1
			}
			r.Head = arrowHead(r.X2, y, dir)
		}
		if s.Cited {
			r.Class = strings.TrimSpace(r.Class + " cited")
			r.BandY, r.BandH = y-18, height
		}
		f.Rows = append(f.Rows, r)
		y += height
	}
	f.Height = y + 4
	return f
}

// flowLanes adds the lanes to f, placed, and returns the index of each upstream's lane.
func flowLanes(f *Flow, steps []FlowStep) map[string]int {
	f.Lanes = append(f.Lanes, FlowLane{Kind: "browser", Name: "browser", Title: "The browser (the client of the requests)"})
	laneOf := map[string]int{}
	for _, s := range steps {
		if s.Row.Kind == "event" {
			continue // an event's arrow starts from its exchange's lane, already placed
		}
		if _, ok := laneOf[s.Lane]; ok {
			continue
		}
		if len(f.Lanes)-1 >= flowMaxUpstreams {
			if _, ok := laneOf[otherLane]; !ok {
				laneOf[otherLane] = len(f.Lanes)
				f.Lanes = append(f.Lanes, FlowLane{Kind: "upstream", Name: "other upstreams", Title: "Further upstreams share this lane"})
			}
			laneOf[s.Lane] = laneOf[otherLane]
			continue
		}
		laneOf[s.Lane] = len(f.Lanes)
		f.Lanes = append(f.Lanes, FlowLane{Kind: "upstream", Name: s.LaneName, Title: "Upstream " + s.Lane})
	}
	if len(f.Lanes) == 1 {
		f.Lanes = append(f.Lanes, FlowLane{Kind: "upstream", Name: "app", Title: "The app (no request in this flow)"})
	}
	f.Lanes = append(f.Lanes, FlowLane{Kind: "store", Name: "store", Title: "The session store"})
	for i := range f.Lanes {
		f.Lanes[i].X = flowLaneX0 + i*flowLaneGap
	}
	return laneOf
}

// arrowHead is the path of an arrowhead pointing at x along a horizontal line.
func arrowHead(x, y, dir int) string {
	b := x - dir*8
	return fmt.Sprintf("M%d,%d L%d,%d L%d,%d Z", x, y, b, y-4, b, y+4)
}
