package auth

import "testing"

// A burst of logins with as many application passwords queues at most touchQueue touches, and
// writes none itself (there is no store here: a request that wrote its touch, in a goroutine or
// not, would crash the test). A dropped touch is not noted as written, so that the next login
// of its password queues it again.
func TestAppPasswordTouchesAreBounded(t *testing.T) {
	t.Parallel()
	u := newAppUses(nil, nil)
	for id := range int64(5 * touchQueue) {
		u.used(id, nil)
	}
	if n := len(u.queue); n != touchQueue {
		t.Fatalf("%d touches queued, want %d", n, touchQueue)
	}
	<-u.queue
	dropped := int64(touchQueue)
	u.used(dropped, nil)
	if n := len(u.queue); n != touchQueue {
		t.Fatal("the next login of a dropped password did not queue its touch")
	}
	<-u.queue
	u.used(1, nil) // queued before, and noted: not again within touchEvery
	if n := len(u.queue); n != touchQueue-1 {
		t.Fatal("a password's second login within touchEvery was queued")
	}
}

// The memory of queued touches holds 100 000 passwords: a password queued within touchEvery is
// not queued again while fewer were used since; past that many, the memory starts over.
func TestAppPasswordTouchMemoryBound(t *testing.T) {
	t.Parallel()
	const bound = 100_000
	u := newAppUses(nil, nil)
	for id := range int64(bound) {
		u.used(id, nil)
		<-u.queue // written, as the worker would
	}
	u.used(0, nil)
	if n := len(u.queue); n != 0 {
		t.Fatalf("with %d passwords remembered, the first one's second login within touchEvery was queued", bound)
	}
	u.used(bound, nil)
	<-u.queue
	u.used(0, nil)
	if n := len(u.queue); n != 1 {
		t.Fatalf("past %d passwords the memory did not start over: a forgotten password's login was not queued", bound)
	}
}
