package handlers

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/views"
)

// MaxHARUpload bounds one HAR upload. The file is read as a stream and never held in
// memory; the bound keeps one upload from tying the dashboard up for long.
const MaxHARUpload = 200 << 20

// harUploadField is the form field that carries the file.
const harUploadField = "har"

// harImportJSON is the answer to an upload that asks for JSON.
type harImportJSON struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	URL       string          `json:"url"` // the import's page
	Entries   int             `json:"entries"`
	Kept      int             `json:"kept"`
	Truncated bool            `json:"truncated"`
	Findings  []model.Finding `json:"findings"`
	// Dropped are the older imports forgotten to keep this one within --har-budget.
	Dropped []harDroppedJSON `json:"dropped"`
}

// harDroppedJSON is an import dropped to make room, in an upload's JSON answer.
type harDroppedJSON struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Kept  int    `json:"kept"`
	Bytes int64  `json:"bytes"`
}

// HARUpload is POST /requests/har: a multipart form with the HAR in the field "har",
// read as a stream (nothing is buffered) and analysed like `sessionscope analyze`. It
// redirects to the import's page; a bad file re-renders the Requests screen with one
// line saying what failed and what to do, and nothing else changes. With Accept:
// application/json it answers JSON instead (201 with the import and its findings).
func (h *Handlers) HARUpload(c echo.Context) error {
	wantJSON := strings.Contains(c.Request().Header.Get("Accept"), "application/json")
	imp, status, err := h.importUpload(c)
	if err != nil {
		if wantJSON {
			return jsonError(c, status, err.Error())
		}
		return h.requestsPage(c, status, err.Error())
	}
	page := "/har/" + url.PathEscape(imp.ID)
	if wantJSON {
		fs := imp.Findings
		if fs == nil {
			fs = []model.Finding{}
		}
		dropped := make([]harDroppedJSON, 0, len(imp.Dropped))
		for _, d := range imp.Dropped {
			dropped = append(dropped, harDroppedJSON{ID: d.ID, Name: d.Name, Kept: d.Kept, Bytes: d.Bytes})
		}
		return c.JSON(http.StatusCreated, harImportJSON{ID: imp.ID, Name: imp.Name, URL: page, Entries: imp.Summary.Entries,
			Kept: imp.Kept, Truncated: imp.Truncated, Findings: fs, Dropped: dropped})
	}
	return c.Redirect(http.StatusSeeOther, page)
}

// importUpload streams the uploaded file into the inspector. Its errors are one line
// for the user, with the HTTP status to answer.
func (h *Handlers) importUpload(c echo.Context) (inspector.HARImport, int, error) {
	r := c.Request()
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		return inspector.HARImport{}, http.StatusBadRequest, errors.New(
			"the upload is not a file form: use the Import a HAR form, or curl -F har=@FILE.har")
	}
	r.Body = http.MaxBytesReader(c.Response(), r.Body, MaxHARUpload)
	mr, err := r.MultipartReader()
	if err != nil {
		return inspector.HARImport{}, http.StatusBadRequest, fmt.Errorf("the upload could not be read (%v): choose the file again and resend", err)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return inspector.HARImport{}, http.StatusBadRequest, errors.New("no file was sent: choose a .har file, then Analyze")
		}
		if err != nil {
			return inspector.HARImport{}, uploadStatus(err), uploadError("the upload", err)
		}
		if part.FormName() != harUploadField {
			_ = part.Close()
			continue
		}
		name := part.FileName()
		if name == "" {
			return inspector.HARImport{}, http.StatusBadRequest, errors.New("no file was chosen: choose a .har file, then Analyze")
		}
		imp, err := h.d.Src.ImportHAR(part, name)
		_ = part.Close()
		if err != nil {
			return inspector.HARImport{}, uploadStatus(err), uploadError(truncate(importName(name), 60), err)
		}
		h.d.Logger.Info("HAR imported", "id", imp.ID, "entries", imp.Summary.Entries, "findings", len(imp.Findings), "bytes", imp.Bytes)
		for _, d := range imp.Dropped {
			h.d.Logger.Info("HAR import dropped", "id", d.ID, "name", d.Name, "bytes", d.Bytes, "for", imp.ID, "budget", imp.Budget)
		}
		return imp, http.StatusOK, nil
	}
}

// importName is an uploaded file's name without its directories.
func importName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		return name[i+1:]
	}
	return name
}

func uploadStatus(err error) int {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// uploadError says in one line what failed and what to do.
func uploadError(name string, err error) error {
	var tooBig *http.MaxBytesError
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	switch {
	case errors.As(err, &tooBig):
		return fmt.Errorf("%s is larger than %s, the dashboard's upload limit: run sessionscope analyze %s in a terminal, which reads any size", name, bytesText(MaxHARUpload), name)
	case errors.Is(err, inspector.ErrBadHAR):
		msg = strings.TrimPrefix(msg, "import HAR: ")
		msg = strings.TrimPrefix(msg, "har: ")
		return fmt.Errorf("%s is not a readable HAR (%s): export the flow again from the browser's Network panel (Save all as HAR) and upload that file", name, msg)
	}
	return fmt.Errorf("the upload of %s stopped (%s): send it again", name, msg)
}

// HARShow renders one imported HAR: its findings grouped by rule with their fix, its
// flow, and its requests (filtered and paged like the Requests screen).
func (h *Handlers) HARShow(c echo.Context) error {
	id := c.Param("id")
	var imp inspector.HARImport
	err := inspector.ErrHARImportNotFound
	if validImportID(id) {
		imp, err = h.d.Src.HARImport(id)
	}
	if errors.Is(err, inspector.ErrHARImportNotFound) {
		return h.ErrorPage(c, http.StatusNotFound, "HAR import not found", harGone(id, err), views.Link{Text: "Go to Requests", URL: "/requests"})
	}
	if err != nil {
		return fmt.Errorf("HAR import %s: %w", id, err)
	}
	set, err := h.exchangeSet(imp.ID)
	if err != nil {
		return fmt.Errorf("HAR import %s: %w", id, err)
	}
	base := "/har/" + url.PathEscape(imp.ID)
	vm := views.HARPage{Layout: h.Layout("HAR "+imp.Name, "requests"), ID: imp.ID, Name: imp.Name, Imported: stamp(imp.Imported),
		Entries: imp.Summary.Entries, Kept: imp.Kept, Truncated: imp.Truncated, Creator: imp.Summary.Creator,
		Browser: imp.Summary.Browser, First: stamp(imp.Summary.First), Last: stamp(imp.Summary.Last),
		FlowURL: withQuery("/flow", url.Values{"har": {imp.ID}}), JSONURL: withQuery("/api/exchanges", url.Values{"har": {imp.ID}})}
	if imp.Summary.CookiesAbsent {
		vm.Notes = append(vm.Notes, "This HAR holds no cookie at all: Chrome's default export drops them. In DevTools, allow sensitive data in exported HARs (Network panel settings), export again, and import that file.")
	} else if imp.Summary.ValuesStripped {
		vm.Notes = append(vm.Notes, fmt.Sprintf("Cookie values were stripped from %d request(s) (a sanitized export): conclusions that need them (which session a cookie belongs to) could not be drawn.", imp.Summary.StrippedExchanges))
	}
	vm.Dropped = droppedText(imp)
	vm.Groups = harFindingGroups(imp.Findings, imp.ID)

	all := set.query(inspector.ExchangeQuery{Limit: flowMaxExchanges})
	vm.Flow = flowView(all, nil, nil)

	q, qerr := parseExchangeQuery(c, RequestsPageSize)
	q.HAR = imp.ID
	var xs []*model.Exchange
	var next uint64
	if qerr == nil {
		xs, next, qerr = set.list(q)
	}
	if qerr != nil {
		vm.Notes = append(vm.Notes, qerr.Error())
	}
	vm.Table = requestsTable(xs, next, q, base)
	return Render(c, http.StatusOK, views.HARView(vm))
}

// harFindingGroups groups an import's findings by rule, worst severity first, as the Findings screen
// does, with links to their requests and flow.
func harFindingGroups(fs []model.Finding, har string) []views.FindingGroup {
	byRule := map[string]*views.FindingGroup{}
	var order []string
	for _, f := range fs {
		g, ok := byRule[f.Rule]
		if !ok {
			g = &views.FindingGroup{Rule: f.Rule, Severity: string(f.Severity)}
			byRule[f.Rule] = g
			order = append(order, f.Rule)
		}
		if model.Severity(g.Severity).Rank() < f.Severity.Rank() {
			g.Severity = string(f.Severity)
		}
		g.Count += max(f.Count, 1)
		g.Findings = append(g.Findings, findingTraffic(findingView(f), f, har))
	}
	sort.SliceStable(order, func(i, j int) bool {
		return model.Severity(byRule[order[i]].Severity).Rank() > model.Severity(byRule[order[j]].Severity).Rank()
	})
	out := make([]views.FindingGroup, 0, len(order))
	for _, r := range order {
		out = append(out, *byRule[r])
	}
	return out
}

// droppedText says, in the new import's page, which older imports were forgotten to
// keep it, and why; empty when none was.
func droppedText(imp inspector.HARImport) string {
	if len(imp.Dropped) == 0 {
		return ""
	}
	names := make([]string, 0, len(imp.Dropped))
	for _, d := range imp.Dropped {
		names = append(names, fmt.Sprintf("%s (%d requests, imported %s, %s)", d.Name, d.Kept, d.Imported.Local().Format(time.TimeOnly), bytesText(d.Bytes)))
	}
	what := "the oldest import was"
	if len(names) > 1 {
		what = fmt.Sprintf("the %d oldest imports were", len(names))
	}
	return fmt.Sprintf("To keep this file (%s in memory), %s dropped: %s. Imports share %s of memory (--har-budget), and the oldest goes first. Import a dropped file again to see it; to keep more, start sessionscope with a larger --har-budget.",
		bytesText(imp.Bytes), what, strings.Join(names, "; "), bytesText(imp.Budget))
}

// harGone explains a HAR import id that is not kept: dropped for a newer import, or
// unknown (a mistyped link, or from before a restart).
func harGone(id string, err error) string {
	var dropped *inspector.HARImportDroppedError
	if errors.As(err, &dropped) {
		d := dropped.DroppedHARImport
		return fmt.Sprintf("The HAR import %s (imported %s) was dropped at %s to make room for %s: imports share %s of memory (--har-budget), and the oldest goes first. Import the file again from the Requests screen, or start sessionscope with a larger --har-budget.",
			d.Name, d.Imported.Local().Format(time.TimeOnly), d.Dropped.Local().Format(time.TimeOnly), d.ForName, bytesText(d.Budget))
	}
	return fmt.Sprintf("No kept HAR import has the id %q: imports are kept in memory until sessionscope stops, within --har-budget (the oldest dropped first). Import the file again from the Requests screen.",
		truncate(id, 40))
}
