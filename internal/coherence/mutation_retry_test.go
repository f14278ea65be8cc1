package coherence_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"fileshare/internal/coherence"
	"fileshare/internal/testutil"
)

// A session that the database keeps failing is tried again after a back-off that starts at
// 100 ms and doubles (up to 2 s), not at once: six failed sessions in a row span at least
// 100 + 200 + 400 + 800 + 1600 ms of waiting, by the times of their warnings.
func TestLostSessionsBackOff(t *testing.T) {
	t.Parallel()
	st, _ := cohDB(t)
	// Every session fails once it listens: the table of sessions is gone.
	if _, err := st.Pool.Exec(context.Background(), "ALTER TABLE cache_sessions RENAME TO cache_sessions_gone"); err != nil {
		t.Fatal(err)
	}
	logs := &testutil.LogBuffer{}
	b := coherence.New(st, slog.New(slog.NewJSONHandler(logs, nil)), coherence.Options{})
	startBus(t, b)
	var lost []time.Time
	testutil.Eventually(t, 30*time.Second, "six sessions to be lost", func() bool {
		lost = lost[:0]
		sc := bufio.NewScanner(strings.NewReader(logs.String()))
		for sc.Scan() {
			var rec struct {
				Time time.Time
				Msg  string
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatalf("log line %q: %v", sc.Text(), err)
			}
			if strings.HasPrefix(rec.Msg, "cache coherence session lost") {
				lost = append(lost, rec.Time)
			}
		}
		return len(lost) >= 6
	})
	if span, least := lost[5].Sub(lost[0]), 3100*time.Millisecond; span < least {
		t.Fatalf("six lost sessions within %s: retried without backing off (want at least %s between the first and the sixth)", span, least)
	}
	if b.Serving() {
		t.Fatal("a bus without a session serves")
	}
}
