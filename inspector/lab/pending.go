package lab

// pending.go holds placeholders so the surface in api.go compiles while the lab is
// being built; the implementation replaces this file.

import (
	"context"
	"errors"
)

type environment struct{}
type runner struct{}

var errPending = errors.New("lab: not built yet")

func Start(ctx context.Context, cfg Config) (*Env, error) { return nil, errPending }
func (e *Env) Close() error                               { return nil }
func (r *Runner) Start(id string, fixed bool) (Run, error) {
	return Run{}, errPending
}
func (r *Runner) Run(ctx context.Context, id string, fixed bool) (Run, error) {
	return Run{}, errPending
}
func (r *Runner) Current() (Run, bool)                         { return Run{}, false }
func (r *Runner) Get(runID string) (Run, bool)                 { return Run{}, false }
func (r *Runner) Last(scenario string, fixed bool) (Run, bool) { return Run{}, false }
