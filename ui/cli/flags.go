package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
)

// quietFlagSet is a flag set that prints nothing by itself: a mistyped flag must cost
// the user one line naming it, not a screen of usage burying that line. showHelp
// prints help followed by the flags, for --help.
func quietFlagSet(name, help string, stderr io.Writer) (fs *flag.FlagSet, showHelp func()) {
	fs = flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	showHelp = func() {
		fmt.Fprint(stderr, help)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs, showHelp
}

// parseFlags parses args into fs. --help prints the help and returns errHelp; any
// other mistake is one usage line that points at the command's --help.
func parseFlags(fs *flag.FlagSet, args []string, command string, showHelp func()) error {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		showHelp()
		return errHelp
	}
	return fmt.Errorf("%w: %s; %s", errUsage, flagMistake(err), seeHelp(command))
}

// seeHelp points at the help of command ("" for sessionscope alone).
func seeHelp(command string) string {
	if command == "" {
		return "see sessionscope --help"
	}
	return "see sessionscope " + command + " --help"
}

var (
	undefinedFlag = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)
	flagNeedsArg  = regexp.MustCompile(`^flag needs an argument: -+(.*)$`)
	flagInMessage = regexp.MustCompile(`(for flag|for) -(\w[\w-]*)`)
	invalidValue  = regexp.MustCompile(`^invalid value ("(?:[^"\\]|\\.)*") for flag -+(\w[\w-]*): `)
)

// flagMistake rewords the flag package's errors in the --name form the help uses.
func flagMistake(err error) string {
	msg := err.Error()
	if m := undefinedFlag.FindStringSubmatch(msg); m != nil {
		if m[1] == "version" {
			return "--version comes alone: sessionscope --version"
		}
		return "unknown flag --" + m[1]
	}
	if m := flagNeedsArg.FindStringSubmatch(msg); m != nil {
		return "--" + m[1] + " needs a value"
	}
	if m := invalidValue.FindStringSubmatch(msg); m != nil && flagRanges[m[2]] != "" {
		// "parse error" or "value out of range" says less than the range itself.
		return "--" + m[2] + " " + m[1] + ": want " + flagRanges[m[2]]
	}
	msg = flagInMessage.ReplaceAllString(msg, "for --$2")
	return msg
}
