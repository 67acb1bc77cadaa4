package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// setChildAttrs makes a child process die with ssbench, so an interrupted run leaves
// no redis-server behind.
func setChildAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// clockTick is USER_HZ, 100 on every Linux architecture Go supports.
const clockTick = 100

// procStat returns the fields of /proc/PID/stat after the command name (the state is
// the first), or nil when the process is gone or pid is not one.
func procStat(pid int) []string {
	if pid <= 0 {
		return nil
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces and parentheses
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

// procCPU returns the user+system CPU time a process has used, from /proc/PID/stat.
func procCPU(pid int) time.Duration {
	f := procStat(pid)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTick
}

// selfCPU returns the CPU time used by this process.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// selfRSS returns this process's resident set size and its peak, in bytes.
func selfRSS() (rss, peak int64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &rss
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &peak
		default:
			continue
		}
		f := strings.Fields(line)
		if len(f) >= 2 {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			*dst = kb << 10
		}
	}
	return rss, peak
}

// resetPeakRSS resets this process's peak RSS (VmHWM) to its current RSS, so that a
// run's peak is its own; false when the kernel refuses.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// setNice sets the nice value of every thread of process pid (Linux nice values are
// per thread; threads created later inherit the value of their creator). Raising it
// needs no privilege; lowering it again needs CAP_SYS_NICE.
func setNice(pid, prio int) error {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	if pid == 0 {
		dir = "/proc/self/task"
	}
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, prio); err != nil {
			return err
		}
	}
	return nil
}

// cpuTimes returns the machine's total, idle (idle + iowait) and stolen CPU time from
// /proc/stat, so a run can tell when the hypervisor or other processes took CPU away.
func cpuTimes() (total, idle, steal time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, 0
	}
	tick := func(n int64) time.Duration { return time.Duration(n) * time.Second / clockTick }
	var sum int64
	for i, v := range f[1:9] { // user nice system idle iowait irq softirq steal; guest is inside user
		n, _ := strconv.ParseInt(v, 10, 64)
		sum += n
		switch i {
		case 3, 4:
			idle += tick(n)
		case 7:
			steal = tick(n)
		}
	}
	return tick(sum), idle, steal
}
