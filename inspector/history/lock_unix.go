//go:build unix

package history

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive flock on a file beside the database. SQLite's own locks
// only last a transaction, so two watches would take turns writing one file, both
// recording runs and pruning; flock holds for the whole run, and the kernel releases it
// when the process dies, so a crash leaves no stale lock (a pid file would). syscall's
// Flock is enough on unix; golang.org/x/sys would add nothing here.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, readOnlyError(path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			db := path[:len(path)-len(".lock")]
			return nil, &openError{fmt.Sprintf("history %s is in use by another sessionscope: use --history OTHER", db), ErrInUse}
		}
		return nil, readOnlyError(path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
