package inspector_test

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// step is one request's worth of store commands and the event it must produce.
type step struct {
	name   string
	cmds   [][]any
	expect model.Kind
	on     string // key the expected event is about
}

// javaLong is a java.lang.Long as JdkSerializationRedisSerializer writes it, the way
// Spring Session stores creationTime and lastAccessedTime by default.
func javaLong(v int64) string {
	head := []byte{0xac, 0xed, 0x00, 0x05, 0x73, 0x72, 0x00, 0x0e}
	head = append(head, "java.lang.Long"...)
	head = append(head, 0x3b, 0x8b, 0xe4, 0x90, 0xcc, 0x8f, 0x23, 0xdf, 0x02, 0x00, 0x01, 0x4a, 0x00, 0x05)
	head = append(head, "value"...)
	head = append(head, 0x78, 0x72, 0x00, 0x10)
	head = append(head, "java.lang.Number"...)
	head = append(head, 0x86, 0xac, 0x95, 0x1d, 0x0b, 0x94, 0xe0, 0x8b, 0x02, 0x00, 0x00, 0x78, 0x70)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(v))
	return string(append(head, b[:]...))
}

// javaString is a java.lang.String attribute value (TC_STRING).
func javaString(s string) string {
	b := []byte{0xac, 0xed, 0x00, 0x05, 0x74, byte(len(s) >> 8), byte(len(s))}
	return string(append(b, s...))
}

func laravel(inner string) string { return phpString(inner) }

func msgpackMap(t *testing.T, m map[string]any) string {
	b, err := msgpack.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func gobMap(t *testing.T, m map[string]string) string {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(m); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestFrameworkReplays replays each framework's exact command sequence for an
// anonymous visit, a login with regeneration, a read that touches and a logout, and
// checks the events, their from and evidence.
func TestFrameworkReplays(t *testing.T) {
	const (
		token = "f3c1a9e04b7d22c8a61e5f09d3b4c7a1"
	)
	phpAnon := "csrf|" + phpString(token)
	phpUser := phpAnon + "user_id|i:42;"
	lvAnon := `a:1:{s:6:"_token";` + phpString(token) + `}`
	lvUser := `a:2:{s:6:"_token";` + phpString(token) + phpString("login_web_59ba36addc2b2f9401580f014c7f58ea4e30989d") + `i:42;}`
	sfMeta := `_sf2_meta|a:3:{s:1:"u";i:1763770000;s:1:"c";i:1763770000;s:1:"l";i:0;}`
	sfAnon := `_sf2_attributes|a:1:{s:4:"csrf";` + phpString(token) + `}_symfony_flashes|a:0:{}` + sfMeta
	sfUser := `_sf2_attributes|a:2:{s:4:"csrf";` + phpString(token) + `s:14:"_security_main";s:9:"user:4242";}_symfony_flashes|a:0:{}` + sfMeta
	exAnon := `{"cookie":{"originalMaxAge":86400000,"expires":"2026-11-23T01:00:00.000Z","httpOnly":true,"path":"/"},"csrf":"` + token + `"}`
	exUser := `{"cookie":{"originalMaxAge":86400000,"expires":"2026-11-23T01:00:05.000Z","httpOnly":true,"path":"/"},"csrf":"` + token + `","passport":{"user":"42"}}`
	djAnon := "\x80\x05\x95\x2e\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x04csrf\x94\x8c\x20" + token + "\x94s."
	djUser := "\x80\x05\x95\x48\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x04csrf\x94\x8c\x20" + token + "\x94\x8c\x0d_auth_user_id\x94\x8c\x0242\x94u."
	rbAnon := "\x04\x08{\x06I\"\x0fsession_id\x06:\x06ETI\"D" + "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9" + "\x06;\x00T"
	rbUser := "\x04\x08{\x07I\"\x0fsession_id\x06:\x06ETI\"E" + "0f9e8d7c6b5a49382716051f2e3d4c5b6a7980f1e2d3c4b5a69788796a5b4c3d" + "\x06;\x00TI\"\x0cuser_id\x06;\x00Ti\x2f"
	flAnon := msgpackMap(t, map[string]any{"_permanent": true, "csrf_token": token})
	flUser := msgpackMap(t, map[string]any{"_permanent": true, "csrf_token": token, "user_id": 42})
	grAnon := gobMap(t, map[string]string{"csrf": token})

	type tc struct {
		name     string
		a, b     string // anonymous and logged-in keys
		steps    []step
		want     string // kinds over a and b
		orWant   string // another answer as good, when the store's timing decides between two honest ones
		evidence string
		oldKept  bool
	}
	cases := []tc{
		{
			name: "php phpredis regenerate(true)", a: "PHPREDIS_SESSION:anon0000000000000000000001", b: "PHPREDIS_SESSION:user0000000000000000000001",
			steps: []step{
				{"visit", [][]any{{"SETEX", "PHPREDIS_SESSION:anon0000000000000000000001", 1440, phpAnon}}, model.KindCreated, "PHPREDIS_SESSION:anon0000000000000000000001"},
				{"login", [][]any{{"DEL", "PHPREDIS_SESSION:anon0000000000000000000001"}, {"SETEX", "PHPREDIS_SESSION:user0000000000000000000001", 1440, phpUser}}, model.KindRegenerated, "PHPREDIS_SESSION:user0000000000000000000001"},
				{"read", [][]any{{"EXPIRE", "PHPREDIS_SESSION:user0000000000000000000001", 1440}}, model.KindTouched, "PHPREDIS_SESSION:user0000000000000000000001"},
				{"logout", [][]any{{"DEL", "PHPREDIS_SESSION:user0000000000000000000001"}}, model.KindDestroyed, "PHPREDIS_SESSION:user0000000000000000000001"},
			},
			want: "created regenerated touched destroyed", evidence: model.EvidencePayload,
		},
		{
			name: "php phpredis regenerate(false)", a: "PHPREDIS_SESSION:anon0000000000000000000002", b: "PHPREDIS_SESSION:user0000000000000000000002",
			steps: []step{
				{"visit", [][]any{{"SETEX", "PHPREDIS_SESSION:anon0000000000000000000002", 1440, phpAnon}}, model.KindCreated, "PHPREDIS_SESSION:anon0000000000000000000002"},
				{"login", [][]any{{"SETEX", "PHPREDIS_SESSION:anon0000000000000000000002", 1440, phpAnon}, {"SETEX", "PHPREDIS_SESSION:user0000000000000000000002", 1440, phpUser}}, model.KindRegenerated, "PHPREDIS_SESSION:user0000000000000000000002"},
				{"read", [][]any{{"EXPIRE", "PHPREDIS_SESSION:user0000000000000000000002", 1440}}, model.KindTouched, "PHPREDIS_SESSION:user0000000000000000000002"},
				{"logout", [][]any{{"DEL", "PHPREDIS_SESSION:user0000000000000000000002"}}, model.KindDestroyed, "PHPREDIS_SESSION:user0000000000000000000002"},
			},
			want: "created touched regenerated touched destroyed", evidence: model.EvidencePayload, oldKept: true,
		},
		{
			name: "laravel 11/12", a: "laravel_database_laravel_cache_AnonAnonAnonAnonAnonAnonAnonAnonAnonAnon", b: "laravel_database_laravel_cache_UserUserUserUserUserUserUserUserUserUser",
			steps: []step{
				{"visit", [][]any{{"SETEX", "laravel_database_laravel_cache_AnonAnonAnonAnonAnonAnonAnonAnonAnonAnon", 7200, laravel(lvAnon)}}, model.KindCreated, "laravel_database_laravel_cache_AnonAnonAnonAnonAnonAnonAnonAnonAnonAnon"},
				{"login", [][]any{{"DEL", "laravel_database_laravel_cache_AnonAnonAnonAnonAnonAnonAnonAnonAnonAnon"}, {"SETEX", "laravel_database_laravel_cache_UserUserUserUserUserUserUserUserUserUser", 7200, laravel(lvUser)}}, model.KindRegenerated, "laravel_database_laravel_cache_UserUserUserUserUserUserUserUserUserUser"},
				{"read", [][]any{{"SETEX", "laravel_database_laravel_cache_UserUserUserUserUserUserUserUserUserUser", 7200, laravel(lvUser)}}, model.KindTouched, "laravel_database_laravel_cache_UserUserUserUserUserUserUserUserUserUser"},
				{"logout", [][]any{{"DEL", "laravel_database_laravel_cache_UserUserUserUserUserUserUserUserUserUser"}}, model.KindDestroyed, "laravel_database_laravel_cache_UserUserUserUserUserUserUserUserUserUser"},
			},
			want: "created regenerated touched destroyed", evidence: model.EvidencePayload,
		},
		{
			name: "symfony", a: "sf_sanonymous0000000000000000001", b: "sf_suser00000000000000000000001",
			steps: []step{
				{"visit", [][]any{{"SETEX", "sf_sanonymous0000000000000000001", 1440, sfAnon}}, model.KindCreated, "sf_sanonymous0000000000000000001"},
				{"login", [][]any{{"UNLINK", "sf_sanonymous0000000000000000001"}, {"SETEX", "sf_suser00000000000000000000001", 1440, sfUser}}, model.KindRegenerated, "sf_suser00000000000000000000001"},
				{"read", [][]any{{"EXPIRE", "sf_suser00000000000000000000001", 1440}}, model.KindTouched, "sf_suser00000000000000000000001"},
				{"logout", [][]any{{"UNLINK", "sf_suser00000000000000000000001"}}, model.KindDestroyed, "sf_suser00000000000000000000001"},
			},
			want: "created regenerated touched destroyed", evidence: model.EvidencePayload,
		},
		{
			name: "express-session + connect-redis", a: "sess:anonAnonAnonAnonAnonAnonAnon01", b: "sess:userUserUserUserUserUserUser01",
			steps: []step{
				{"visit", [][]any{{"SET", "sess:anonAnonAnonAnonAnonAnonAnon01", exAnon, "EX", 86400}}, model.KindCreated, "sess:anonAnonAnonAnonAnonAnonAnon01"},
				{"login", [][]any{{"DEL", "sess:anonAnonAnonAnonAnonAnonAnon01"}, {"SET", "sess:userUserUserUserUserUserUser01", exUser, "EX", 86400}, {"SET", "sess:userUserUserUserUserUserUser01", exUser, "EX", 86400}}, model.KindRegenerated, "sess:userUserUserUserUserUserUser01"},
				{"read", [][]any{{"EXPIRE", "sess:userUserUserUserUserUserUser01", 86400}}, model.KindTouched, "sess:userUserUserUserUserUserUser01"},
				{"logout", [][]any{{"DEL", "sess:userUserUserUserUserUserUser01"}}, model.KindDestroyed, "sess:userUserUserUserUserUserUser01"},
			},
			// express-session saves the regenerated session twice: the second SET, with
			// the same content, is its own event, a touch. When it lands before the
			// first SET's read has answered, that read may hold the second's content,
			// so there is no baseline to compare with: an update, without its fields.
			want: "created regenerated touched touched destroyed", orWant: "created regenerated updated touched destroyed",
			evidence: model.EvidencePayload,
		},
		{
			name: "spring session", a: "spring:session:sessions:0b8d2a6e-1111-4a4a-9c9c-000000000001", b: "spring:session:sessions:7f3e9c1d-2222-4b4b-8d8d-000000000002",
			steps: []step{
				{"visit", [][]any{
					{"HSET", "spring:session:sessions:0b8d2a6e-1111-4a4a-9c9c-000000000001", "creationTime", javaLong(1763770000000), "lastAccessedTime", javaLong(1763770000000), "maxInactiveInterval", "1800", "sessionAttr:csrf", javaString(token)},
					{"EXPIRE", "spring:session:sessions:0b8d2a6e-1111-4a4a-9c9c-000000000001", 2100},
					{"SET", "spring:session:sessions:expires:0b8d2a6e-1111-4a4a-9c9c-000000000001", "", "EX", 1800},
					{"SADD", "spring:session:expirations:1763771820000", "expires:0b8d2a6e-1111-4a4a-9c9c-000000000001"},
				}, model.KindCreated, "spring:session:sessions:0b8d2a6e-1111-4a4a-9c9c-000000000001"},
				{"login", [][]any{
					{"RENAME", "spring:session:sessions:0b8d2a6e-1111-4a4a-9c9c-000000000001", "spring:session:sessions:7f3e9c1d-2222-4b4b-8d8d-000000000002"},
					{"RENAME", "spring:session:sessions:expires:0b8d2a6e-1111-4a4a-9c9c-000000000001", "spring:session:sessions:expires:7f3e9c1d-2222-4b4b-8d8d-000000000002"},
					{"HSET", "spring:session:sessions:7f3e9c1d-2222-4b4b-8d8d-000000000002", "lastAccessedTime", javaLong(1763770005000), "sessionAttr:SPRING_SECURITY_CONTEXT", javaString("ctx")},
					{"EXPIRE", "spring:session:sessions:7f3e9c1d-2222-4b4b-8d8d-000000000002", 2100},
				}, model.KindRegenerated, "spring:session:sessions:7f3e9c1d-2222-4b4b-8d8d-000000000002"},
				{"read", [][]any{
					{"HSET", "spring:session:sessions:7f3e9c1d-2222-4b4b-8d8d-000000000002", "lastAccessedTime", javaLong(1763770009000)},
					{"EXPIRE", "spring:session:sessions:7f3e9c1d-2222-4b4b-8d8d-000000000002", 2100},
				}, model.KindTouched, "spring:session:sessions:7f3e9c1d-2222-4b4b-8d8d-000000000002"},
				{"logout", [][]any{
					{"DEL", "spring:session:sessions:7f3e9c1d-2222-4b4b-8d8d-000000000002"},
					{"DEL", "spring:session:sessions:expires:7f3e9c1d-2222-4b4b-8d8d-000000000002"},
				}, model.KindDestroyed, "spring:session:sessions:7f3e9c1d-2222-4b4b-8d8d-000000000002"},
			},
			// The RENAME is the regeneration; the HSET that adds the security context
			// after it is its own command, an update.
			want: "created regenerated updated touched destroyed", evidence: model.EvidenceRename,
		},
		{
			name: "django cache", a: ":1:django.contrib.sessions.cacheanonymous0000000000000000000001", b: ":1:django.contrib.sessions.cacheuser0000000000000000000000000001",
			steps: []step{
				{"visit", [][]any{{"SET", ":1:django.contrib.sessions.cacheanonymous0000000000000000000001", djAnon, "EX", 1209600}}, model.KindCreated, ":1:django.contrib.sessions.cacheanonymous0000000000000000000001"},
				// cycle_key: the new key is written first with the old data, then the old is deleted.
				{"login", [][]any{{"SET", ":1:django.contrib.sessions.cacheuser0000000000000000000000000001", djAnon, "NX", "EX", 1209600}, {"DEL", ":1:django.contrib.sessions.cacheanonymous0000000000000000000001"}}, model.KindRegenerated, ":1:django.contrib.sessions.cacheuser0000000000000000000000000001"},
				{"save", [][]any{{"SET", ":1:django.contrib.sessions.cacheuser0000000000000000000000000001", djUser, "EX", 1209600}}, model.KindUpdated, ":1:django.contrib.sessions.cacheuser0000000000000000000000000001"},
				{"logout", [][]any{{"DEL", ":1:django.contrib.sessions.cacheuser0000000000000000000000000001"}}, model.KindDestroyed, ":1:django.contrib.sessions.cacheuser0000000000000000000000000001"},
			},
			want: "created regenerated updated destroyed", evidence: model.EvidencePayload,
		},
		{
			name: "rails redis-session-store", a: "2::a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9", b: "2::0f9e8d7c6b5a49382716051f2e3d4c5b6a7980f1e2d3c4b5a69788796a5b4c3d",
			steps: []step{
				{"visit", [][]any{{"SETEX", "2::a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9", 1800, rbAnon}}, model.KindCreated, "2::a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"},
				// reset_session: the old session is deleted and a fresh one (new data) written.
				{"login", [][]any{{"DEL", "2::a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"}, {"SETEX", "2::0f9e8d7c6b5a49382716051f2e3d4c5b6a7980f1e2d3c4b5a69788796a5b4c3d", 1800, rbUser}}, model.KindRegenerated, "2::0f9e8d7c6b5a49382716051f2e3d4c5b6a7980f1e2d3c4b5a69788796a5b4c3d"},
				{"read", [][]any{{"SETEX", "2::0f9e8d7c6b5a49382716051f2e3d4c5b6a7980f1e2d3c4b5a69788796a5b4c3d", 1800, rbUser}}, model.KindTouched, "2::0f9e8d7c6b5a49382716051f2e3d4c5b6a7980f1e2d3c4b5a69788796a5b4c3d"},
				{"logout", [][]any{{"DEL", "2::0f9e8d7c6b5a49382716051f2e3d4c5b6a7980f1e2d3c4b5a69788796a5b4c3d"}}, model.KindDestroyed, "2::0f9e8d7c6b5a49382716051f2e3d4c5b6a7980f1e2d3c4b5a69788796a5b4c3d"},
			},
			want: "created regenerated touched destroyed", evidence: model.EvidenceTiming,
		},
		{
			name: "flask-session", a: "session:anonymous-0000000000000000000000000001", b: "session:user-000000000000000000000000000000001",
			steps: []step{
				{"visit", [][]any{{"SET", "session:anonymous-0000000000000000000000000001", flAnon, "EX", 2678400}}, model.KindCreated, "session:anonymous-0000000000000000000000000001"},
				{"login", [][]any{{"DEL", "session:anonymous-0000000000000000000000000001"}, {"SET", "session:user-000000000000000000000000000000001", flUser, "EX", 2678400}}, model.KindRegenerated, "session:user-000000000000000000000000000000001"},
				{"read", [][]any{{"EXPIRE", "session:user-000000000000000000000000000000001", 2678400}}, model.KindTouched, "session:user-000000000000000000000000000000001"},
				{"logout", [][]any{{"DEL", "session:user-000000000000000000000000000000001"}}, model.KindDestroyed, "session:user-000000000000000000000000000000001"},
			},
			want: "created regenerated touched destroyed", evidence: model.EvidencePayload,
		},
		{
			name: "gorilla redistore", a: "session_ANONYMOUS2345ANONYMOUS2345ANONYMOUS2345", b: "session_USERUSER2345USERUSER2345USERUSER2345AB",
			steps: []step{
				{"visit", [][]any{{"SETEX", "session_ANONYMOUS2345ANONYMOUS2345ANONYMOUS2345", 86400, grAnon}}, model.KindCreated, "session_ANONYMOUS2345ANONYMOUS2345ANONYMOUS2345"},
				{"login", [][]any{{"SETEX", "session_USERUSER2345USERUSER2345USERUSER2345AB", 86400, grAnon}, {"DEL", "session_ANONYMOUS2345ANONYMOUS2345ANONYMOUS2345"}}, model.KindRegenerated, "session_USERUSER2345USERUSER2345USERUSER2345AB"},
				{"read", [][]any{{"SETEX", "session_USERUSER2345USERUSER2345USERUSER2345AB", 86400, grAnon}}, model.KindTouched, "session_USERUSER2345USERUSER2345USERUSER2345AB"},
				{"logout", [][]any{{"DEL", "session_USERUSER2345USERUSER2345USERUSER2345AB"}}, model.KindDestroyed, "session_USERUSER2345USERUSER2345USERUSER2345AB"},
			},
			want: "created regenerated touched destroyed", evidence: model.EvidencePayload,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{})
			h.WaitLive()
			for _, st := range tc.steps {
				for _, c := range st.cmds {
					h.do(c...)
				}
				h.WaitEvent(st.expect, st.on)
			}
			evs := h.Events(tc.a, tc.b)
			if got := kinds(evs); got != tc.want && (tc.orWant == "" || got != tc.orWant) {
				t.Fatalf("kinds %q, want %q", got, tc.want)
			}
			var regen *model.Event
			for _, e := range evs {
				if e.Kind == model.KindRegenerated {
					regen = e
				}
			}
			if regen.From == nil || regen.From.Ref != refOfKey(tc.a) {
				t.Errorf("from %+v, want %s", regen.From, refOfKey(tc.a))
			}
			if regen.Evidence != tc.evidence || regen.OldKept != tc.oldKept {
				t.Errorf("evidence %q old_kept %v, want %q %v", regen.Evidence, regen.OldKept, tc.evidence, tc.oldKept)
			}
			if regen.Session.Ref != refOfKey(tc.b) {
				t.Errorf("regenerated session %s, want %s", regen.Session.Ref, refOfKey(tc.b))
			}
			// Every key has exactly one birth and one end.
			births, ends := map[string]int{}, map[string]int{}
			for _, e := range evs {
				switch e.Kind {
				case model.KindCreated, model.KindRegenerated:
					births[e.Session.Ref]++
				case model.KindDestroyed, model.KindExpired, model.KindEvicted:
					ends[e.Session.Ref]++
				}
				if e.Kind == model.KindRegenerated && !e.OldKept {
					ends[e.From.Ref]++
				}
			}
			for _, key := range []string{tc.a, tc.b} {
				ref := refOfKey(key)
				if births[ref] != 1 {
					t.Errorf("%s has %d births, want 1", key, births[ref])
				}
				if ends[ref] > 1 || (!tc.oldKept || key == tc.b) && ends[ref] != 1 {
					t.Errorf("%s has %d ends", key, ends[ref])
				}
			}
		})
	}
}
