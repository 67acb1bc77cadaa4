// A gorilla/sessions app whose sessions live in Redis through boj/redistore, with
// redistore's defaults: key prefix "session_", gob payloads (GobSerializer), and the
// session id in a securecookie-signed cookie. It is its own module so that the main
// module does not depend on gorilla.
//
// Run: PORT=8080 REDIS_ADDR=127.0.0.1:6379 SESSION_HASH_KEY=<32+ bytes> go run .
//
// Routes:
//
//	GET  /health.txt  readiness probe, touches no session
//	GET  /?cart=N     anonymous page: keeps cart when given (Save)
//	POST /login       what a gorilla app does at sign-in: gorilla has no id
//	                  regeneration, so it stores user_id (42) and the form's api_token
//	                  in the session it has and saves it; redirects to /dashboard
//	GET  /dashboard   reads user_id; redirects to / without one
//	POST /logout      MaxAge -1 and Save: redistore deletes the key and expires the
//	                  cookie; redirects to /
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/boj/redistore"
	"github.com/gorilla/sessions"
)

const cookieName = "session"

func main() {
	port := os.Getenv("PORT")
	redisAddr := os.Getenv("REDIS_ADDR")
	hashKey := os.Getenv("SESSION_HASH_KEY")
	if port == "" || redisAddr == "" || len(hashKey) < 32 {
		log.Fatal("PORT, REDIS_ADDR and SESSION_HASH_KEY (32 bytes or more) are required")
	}
	store, err := redistore.NewRediStore(4, "tcp", redisAddr, "", "", []byte(hashKey))
	if err != nil {
		log.Fatalf("redistore: %v", err)
	}
	defer store.Close()
	// redistore's defaults (path /, 30 days), plus the flags a careful app sets.
	store.Options = &sessions.Options{Path: "/", MaxAge: 86400 * 30, HttpOnly: true, SameSite: http.SameSiteLaxMode}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /health.txt", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s, err := store.Get(r, cookieName)
		if err != nil {
			// A cookie from another key or a deleted session: start afresh, as
			// store.Get already handed out a new session.
			log.Printf("session: %v", err)
		}
		if cart := r.URL.Query().Get("cart"); cart != "" {
			var n int
			if _, err := fmt.Sscan(cart, &n); err != nil {
				http.Error(w, "cart must be a number", http.StatusBadRequest)
				return
			}
			s.Values["cart"] = n
			if err := s.Save(r, w); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		fmt.Fprintf(w, "cart %v\n", s.Values["cart"])
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if r.PostFormValue("user") == "" {
			http.Error(w, "user is required", http.StatusBadRequest)
			return
		}
		s, _ := store.Get(r, cookieName)
		s.Values["user_id"] = 42
		if tok := r.PostFormValue("api_token"); tok != "" {
			s.Values["api_token"] = tok
		}
		if err := s.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/dashboard", http.StatusFound)
	})
	mux.HandleFunc("GET /dashboard", func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, cookieName)
		user, ok := s.Values["user_id"].(int)
		if !ok {
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		fmt.Fprintf(w, "hello user %d\n", user)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, cookieName)
		s.Options.MaxAge = -1
		if err := s.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/", http.StatusFound)
	})

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("listening")
	log.Fatal(http.Serve(ln, mux))
}
