package webhook

import (
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river/rivertype"
)

const (
	// maxAttempts spreads the retries over more than a day with the default back-off (5 s,
	// doubling, at most 6 h apart): the 17th attempt comes about 30 h after the first.
	maxAttempts = 17
	// maxBackoff caps the wait between two attempts.
	maxBackoff = 6 * time.Hour
)

// retryPolicy waits base after the first failure, doubling with each further one up to
// maxBackoff, each wait ±10 % so that an endpoint that comes back is not hit by every retry at
// the same moment.
type retryPolicy struct{ base time.Duration }

func (p retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	wait := backoff(p.base, len(job.Errors)+1)
	jitter := time.Duration((rand.Float64()*0.2 - 0.1) * float64(wait))
	return time.Now().Add(wait + jitter)
}

// backoff is the wait after the failures-th failed attempt, before jitter.
func backoff(base time.Duration, failures int) time.Duration {
	wait := base
	for i := 1; i < failures && wait < maxBackoff; i++ {
		wait *= 2
	}
	return min(wait, maxBackoff)
}
