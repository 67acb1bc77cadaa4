//go:build !linux

package main

import (
	"errors"
	"os/exec"
	"time"
)

func setChildAttrs(*exec.Cmd)                      {}
func procCPU(int) time.Duration                    { return 0 }
func procStat(int) []string                        { return nil }
func selfCPU() time.Duration                       { return 0 }
func selfRSS() (rss, peak int64)                   { return 0, 0 }
func resetPeakRSS() bool                           { return false }
func setNice(int, int) error                       { return errors.New("-consumer-nice needs Linux") }
func cpuTimes() (total, idle, steal time.Duration) { return 0, 0, 0 }
