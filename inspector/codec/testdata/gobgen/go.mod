module github.com/sessionscope/sessionscope/inspector/codec/testdata/gobgen

go 1.24

require (
	github.com/boj/redistore v1.4.1
	github.com/gorilla/sessions v1.4.0
)

require (
	github.com/gomodule/redigo v1.9.2 // indirect
	github.com/gorilla/securecookie v1.1.2 // indirect
)
