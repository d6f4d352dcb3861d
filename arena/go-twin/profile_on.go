//go:build pgoprofile

package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startProfile records a CPU profile of the whole run to the file named by
// OVERKILL_CPU_PROFILE, for refreshing default.pgo (pgo.sh). Only in a
// binary built with -tags pgoprofile: the arena's binary has no profiler.
func startProfile() func() {
	path := os.Getenv("OVERKILL_CPU_PROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "OVERKILL_CPU_PROFILE:", err)
		os.Exit(exitConfig)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
