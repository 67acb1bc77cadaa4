// Package assets holds the dashboard's hand-written CSS and JavaScript and the pinned
// front-end libraries it uses (vendor/, see vendor/README.md), embedded in the binary so
// the dashboard works offline and from a single file. Each asset is served
// under a content-hashed name (app.3f2a9c1e.js), so browsers may cache it forever and
// a new build can never be mixed with an old script.
package assets

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"
)

//go:embed app.css app.js favicon.svg vendor/*.js
var files embed.FS

// VendorScripts are the vendored scripts every live page loads before app.js, in
// order: htmx, then its websocket extension, which applies the HTML fragments the live
// socket pushes.
func VendorScripts() []string {
	return []string{"vendor/htmx-2.0.11.min.js", "vendor/htmx-ext-ws-2.0.4.min.js"}
}

// Prefix is the URL path every asset is served under.
const Prefix = "/assets/"

type asset struct {
	body        []byte
	contentType string
}

// Set is the embedded assets with their hashed names. It is immutable once built.
type Set struct {
	byHashed map[string]asset  // app.3f2a9c1e.js -> content
	hashed   map[string]string // app.js -> app.3f2a9c1e.js
}

// New hashes the embedded files. It fails only if the binary was built without them.
func New() (*Set, error) {
	s := &Set{byHashed: map[string]asset{}, hashed: map[string]string{}}
	err := fs.WalkDir(files, ".", func(name string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		body, err := files.ReadFile(name)
		if err != nil {
			return fmt.Errorf("assets: read %s: %w", name, err)
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:4]) + ext
		ct := mime.TypeByExtension(ext)
		if ct == "" {
			ct = "application/octet-stream"
		}
		s.hashed[name] = hashed
		s.byHashed[hashed] = asset{body: body, contentType: ct}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("assets: list embedded files: %w", err)
	}
	return s, nil
}

// URL returns the hashed URL of an embedded file, e.g. URL("app.js") is
// "/assets/app.3f2a9c1e.js". An unknown name panics: it is a programming error that
// every page render would hit, so tests catch it at once.
func (s *Set) URL(name string) string {
	h, ok := s.hashed[name]
	if !ok {
		panic("assets: no embedded file " + name)
	}
	return Prefix + h
}

// Names lists the embedded files by their plain names.
func (s *Set) Names() []string {
	out := make([]string, 0, len(s.hashed))
	for n := range s.hashed {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ServeHTTP serves one hashed asset with a year-long immutable cache lifetime; the
// request path must be Prefix followed by a hashed name. Old or unknown names are 404:
// serving the current file under an old hash would let a browser cache it wrongly.
func (s *Set) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, Prefix)
	a, ok := s.byHashed[name]
	if !ok {
		http.Error(w, "unknown asset: reload the page to get the current asset names", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
}
