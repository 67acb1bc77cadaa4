// gobgen writes the gob payloads under ../gob the way a gorilla/sessions app
// stored in Redis by boj/redistore does: session.Values (a
// map[interface{}]interface{}) through redistore's own GobSerializer, with the
// app's types registered as an app must register them for gob. It is its own
// module so that the main module does not depend on gorilla. Run it from this
// directory:
//
//	go run . ../gob
package main

import (
	"encoding/gob"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/boj/redistore"
	"github.com/gorilla/sessions"
)

// User is what an app keeps of its signed-in user; the Password field is why
// sessionscope must redact values it decodes.
type User struct {
	ID       int64
	Name     string
	Password string
	Admin    bool // false: gob leaves it out
	Roles    []string
	Address  Address
}

// Address is a struct inside a struct.
type Address struct {
	City string
	Zip  string
}

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: go run . OUTDIR")
	}
	out := os.Args[1]
	if err := os.MkdirAll(out, 0o755); err != nil {
		log.Fatal(err)
	}
	// An app registers every concrete type it puts in session.Values.
	gob.Register(User{})
	gob.Register(time.Time{})
	gob.Register([]string{})
	gob.Register(map[string]interface{}{})

	write(out, "anonymous.bin", func(s *sessions.Session) {
		s.Values["cart"] = 3
	})
	write(out, "login.bin", func(s *sessions.Session) {
		s.Values["cart"] = 3
		s.Values["user_id"] = 42
		s.Values["api_token"] = "tok-Zq81-SECRET-7c4e"
	})
	write(out, "flash.bin", func(s *sessions.Session) {
		s.AddFlash("saved")
		s.AddFlash("again", "notice")
	})
	write(out, "types.bin", func(s *sessions.Session) {
		s.Values["name"] = "ada"
		s.Values["visits"] = -7
		s.Values["remember"] = true
		s.Values["ratio"] = 0.25
		s.Values["user"] = User{ID: 42, Name: "ada", Password: "hunter2", Roles: []string{"editor", "viewer"}, Address: Address{City: "Paris"}}
		s.Values["tags"] = []string{"a", "b"}
		s.Values["prefs"] = map[string]interface{}{"theme": "dark", "size": 12, "nested": map[string]interface{}{"deep": true}}
		s.Values["login_at"] = time.Date(2026, 11, 22, 1, 2, 3, 456789000, time.UTC)
		s.Values["local_at"] = time.Date(2026, 11, 22, 1, 2, 3, 0, time.FixedZone("CET", 3600))
		s.Values["raw"] = []byte{0, 1, 0xff}
		s.Values["big"] = uint64(1) << 63
		s.Values["nothing"] = nil
		s.Values[7] = "int key"
	})
}

// write fills a new session's values and stores what redistore would SETEX.
func write(dir, name string, fill func(*sessions.Session)) {
	s := sessions.NewSession(nil, "session")
	fill(s)
	b, err := redistore.GobSerializer{}.Serialize(s)
	if err != nil {
		log.Fatalf("%s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		log.Fatal(err)
	}
}
