package main

// Benchmark ballast: live heap held for the process's lifetime, so the arena
// can compare tail latency while both twins hold the same amount of live data
// (which Go's garbage collector has to scan). Off unless OVERKILL_BALLAST_MB
// is set; never needed in production. Mirrors the Rust service's ballast.

const ballastEntryBytes = 128 // small entries, like those of a warm cache

var ballast [][]byte

// holdBallast allocates mib MiB as many small entries and keeps them.
func holdBallast(mib int) {
	if mib == 0 || ballast != nil {
		return
	}
	n := mib * 1024 * 1024 / ballastEntryBytes
	ballast = make([][]byte, n)
	for i := range ballast {
		b := make([]byte, ballastEntryBytes)
		v := byte(i % 251) // distinct contents so every page is touched
		for j := range b {
			b[j] = v
		}
		ballast[i] = b
	}
}
