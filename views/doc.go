// Package views renders the dashboard's screens with templ. Every component takes a
// view model shaped like its screen (the types in the screen's *_models.go, beside its
// .templ file), never an inspector type, so a screen can be rendered and tested without
// a running store. Regions that the page's script updates have stable ids and
// data-testid values, so one component serves the whole page, a fragment refresh and a
// live push.
package views
