// Command sessionscope shows what happens to a web app's sessions while it happens.
package main

import (
	"os"

	"github.com/sessionscope/sessionscope/ui/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
