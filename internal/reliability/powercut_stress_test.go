//go:build stress

package reliability_test

// The long power-cut run needs minutes: it is part of `make stress` (go test -tags stress), not
// of the suite.

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestPowerCutRandomised is the long run of `make stress`: random sizes, random cut points,
// torn writes.
func TestPowerCutRandomised(t *testing.T) {
	rounds := 500
	if n, err := strconv.Atoi(os.Getenv("FILESHARE_POWERCUT_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	st := pcStore(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	cuts := 0
	start := time.Now()
	for round := range rounds {
		// Cut somewhere in the scenario (about 70 steps), or past it now and then.
		if _, cut := pcRound(t, st, round, 1+rng.IntN(90), rng, rng.IntN(2) == 0); cut {
			cuts++
		}
	}
	figure(t, "%d rounds (seed %d), %d cut mid-scenario, half with torn writes, in %s: every acknowledgement kept, nothing half-written visible",
		rounds, seed, cuts, time.Since(start).Round(time.Second))
}
