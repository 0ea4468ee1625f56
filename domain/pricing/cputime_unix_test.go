//go:build unix

package pricing

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user + system) the process has used: the
// benchmarks report throughput per CPU second besides per wall second,
// because on a machine shared with other work the wall clock counts time
// the benchmark was not running.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
