package handlers_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// TestHARUploadBudget uploads HARs through the dashboard's handler into an inspector
// whose budget holds one import and a half: each upload drops the one before, its page
// says which and why, and the dropped import's page explains where it went.
func TestHARUploadBudget(t *testing.T) {
	t.Parallel()
	har := readFile(t, "../inspector/diagnose/testdata/loop_path.har")
	probe, err := inspector.New(idleStore{}, inspector.Config{}).ImportHAR(bytes.NewReader(har), "probe.har")
	if err != nil {
		t.Fatal(err)
	}
	src := newTrafficSource()
	src.in = inspector.New(idleStore{}, inspector.Config{HARBudget: probe.Bytes * 3 / 2})
	app := newTrafficApp(t, src)

	first := upload(t, app, "monday.har", bytes.NewReader(har), "")
	second := upload(t, app, "tuesday.har", bytes.NewReader(har), "")
	if first.Code != http.StatusSeeOther || second.Code != http.StatusSeeOther {
		t.Fatalf("uploads: %d, %d", first.Code, second.Code)
	}
	firstPage, secondPage := first.Header().Get("Location"), second.Header().Get("Location")

	doc := getPage(t, app, firstPage, http.StatusNotFound)
	gone := uitest.Text(doc.Root)
	for _, want := range []string{"monday.har", "was dropped", "to make room for tuesday.har", "--har-budget", "Import the file again"} {
		if !strings.Contains(gone, want) {
			t.Errorf("the dropped import's page lacks %q:\n%s", want, gone)
		}
	}

	note := uitest.Text(getPage(t, app, secondPage, http.StatusOK).One("har-dropped"))
	for _, want := range []string{"the oldest import was dropped: monday.har (7 requests", "--har-budget", "oldest goes first"} {
		if !strings.Contains(note, want) {
			t.Errorf("the new import's page says %q, want %q in it", note, want)
		}
	}

	// The JSON answer lists what the upload dropped.
	third := upload(t, app, "wednesday.har", bytes.NewReader(har), "application/json")
	var answer struct {
		Dropped []struct {
			ID, Name string
			Kept     int
		}
	}
	if err := json.Unmarshal(third.Body.Bytes(), &answer); err != nil || third.Code != http.StatusCreated {
		t.Fatalf("JSON upload: %d %v %s", third.Code, err, third.Body)
	}
	if len(answer.Dropped) != 1 || answer.Dropped[0].Name != "tuesday.har" || answer.Dropped[0].Kept != 7 ||
		"/har/"+answer.Dropped[0].ID != secondPage {
		t.Errorf("dropped %+v, want tuesday.har", answer.Dropped)
	}
	if n := len(src.in.HARImports()); n != 1 {
		t.Errorf("%d imports kept, want 1", n)
	}
	if doc := getPage(t, app, "/har/hffffffff", http.StatusNotFound); strings.Contains(uitest.Text(doc.Root), "was dropped") {
		t.Error("an unknown import is said to be dropped")
	}
}
