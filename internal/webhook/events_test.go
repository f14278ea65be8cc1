package webhook_test

// Tests of the events: each type made by its real action, with its body, written in the
// transaction of its change.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"fileshare/internal/testutil"
	"fileshare/internal/webhook"
)

// Every event type, produced by its real action through the HTTP API (and the purge), arrives
// once, signed, with the right body; none carries a token, PIN or password.
func TestWebhookEveryEventTypeArrivesOnceWithItsBody(t *testing.T) {
	t.Parallel()
	e := whNewEnv(t)
	rc := whNewReceiver(t, nil)
	hook := whCreate(t, e, whAlice, rc, nil)
	// Another tenant's webhook hears nothing of alice's.
	other := whNewReceiver(t, nil)
	whCreate(t, e, whBob, other, nil)
	whStart(t, e)

	secrets := []string{whPW, hook.Secret}
	up := e.Upload(t, whAlice, "report.pdf", []byte("the report"))
	e.Call(http.MethodDelete, "/uploads/"+up.ID, whAlice, whPW, nil)
	expiring := e.Upload(t, whAlice, "old.txt", []byte("old"))
	testutil.Exec(t, e, `UPDATE uploads SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' WHERE id = $1`, expiring.ID)

	f := e.StoredFile(t, whAlice, "call.wav", []byte("RIFF....WAVE"))
	sid, fid := f.SessionID, f.ID
	tok := e.Token(t, whAlice, f, true)
	secrets = append(secrets, tok.ID, tok.PIN)
	req := e.NewRequest(http.MethodGet, tok.URL, "", "", nil)
	req.Header.Set("Fileshare-Pin", tok.PIN)
	if r := e.Do(req); r.StatusCode != http.StatusOK || string(r.Body) != "RIFF....WAVE" {
		t.Fatalf("token download: %d %q", r.StatusCode, r.Body)
	}
	revoked := e.Token(t, whAlice, f, false)
	secrets = append(secrets, revoked.ID)
	if r := e.Call(http.MethodDelete, "/sessions/"+sid+"/files/"+fid+"/tokens/"+revoked.Ref, whAlice, whPW, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.Body)
	}
	if r := e.Call(http.MethodDelete, "/sessions/"+sid+"/files/"+fid, whAlice, whPW, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("delete file: %d %s", r.StatusCode, r.Body)
	}
	if r := e.Call(http.MethodDelete, "/sessions/"+sid, whAlice, whPW, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("delete session: %d %s", r.StatusCode, r.Body)
	}
	expSid := e.StoredFile(t, whAlice, "gone.txt", []byte("gone")).SessionID
	testutil.Exec(t, e, `UPDATE sessions SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' WHERE id = $1`, expSid)
	if _, err := e.App.Purger.RunOnce(context.Background()); err != nil {
		t.Fatalf("purge: %v", err)
	}

	byType := map[string][]whDelivery{}
	testutil.Eventually(t, 15*time.Second, "every event type delivered", func() bool {
		clear(byType)
		for _, d := range rc.delivered() {
			byType[d.Type] = append(byType[d.Type], d)
		}
		return len(byType) == len(webhook.Types)
	})
	// Any duplicate has arrived before the count.
	whQueueDone(t, e)
	rc.check()
	clear(byType)
	for _, d := range rc.delivered() {
		byType[d.Type] = append(byType[d.Type], d)
	}
	// Two uploads (one deleted, one expired), two stored entries (one deleted, one expired).
	wantCount := map[string]int{webhook.UploadStored: 2, webhook.FileStored: 2}
	for _, typ := range webhook.Types {
		if n, want := len(byType[typ]), max(1, wantCount[typ]); n != want {
			t.Errorf("%s arrived %d times, want %d", typ, n, want)
		}
	}
	for _, d := range rc.delivered() {
		for _, s := range secrets {
			if strings.Contains(string(d.Body), s) {
				t.Errorf("%s carries a secret (%q): %s", d.Type, s, d.Body)
			}
		}
		if d.Timestamp.IsZero() || time.Since(d.Timestamp) > time.Minute {
			t.Errorf("%s: timestamp %v", d.Type, d.Timestamp)
		}
	}
	want := func(typ string, fields map[string]any) {
		t.Helper()
		for _, d := range byType[typ] {
			ok := true
			for k, v := range fields {
				if fmt.Sprint(d.Data[k]) != fmt.Sprint(v) {
					ok = false
				}
			}
			if ok {
				return
			}
		}
		t.Errorf("no %s with %v: %v", typ, fields, byType[typ])
	}
	sha := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	want(webhook.UploadStored, map[string]any{"uploadId": up.ID, "name": "report.pdf", "size": 10, "sha256": sha("the report"), "login": whAlice})
	want(webhook.UploadDeleted, map[string]any{"uploadId": up.ID, "name": "report.pdf", "login": whAlice})
	want(webhook.UploadExpired, map[string]any{"uploadId": expiring.ID, "name": "old.txt", "size": 3, "login": nil, "createdBy": whAlice})
	want(webhook.FileStored, map[string]any{"sessionId": sid, "fileId": fid, "name": "call.wav", "size": 12, "sha256": sha("RIFF....WAVE"), "login": whAlice})
	want(webhook.TokenConsumed, map[string]any{"sessionId": sid, "fileId": fid, "ref": tok.Ref, "name": "call.wav", "consumerAddress": "127.0.0.1", "login": nil})
	want(webhook.TokenDelivered, map[string]any{"ref": tok.Ref, "size": 12, "bytesSent": 12, "consumerAddress": "127.0.0.1"})
	want(webhook.TokenRevoked, map[string]any{"ref": revoked.Ref, "fileId": fid, "login": whAlice})
	want(webhook.FileDeleted, map[string]any{"sessionId": sid, "fileId": fid, "name": "call.wav", "login": whAlice})
	want(webhook.SessionDeleted, map[string]any{"sessionId": sid, "files": 0, "login": whAlice})
	want(webhook.SessionExpired, map[string]any{"sessionId": expSid, "login": nil, "createdBy": whAlice})

	if n := len(other.requests()); n != 0 {
		t.Errorf("bob's endpoint got %d of alice's events", n)
	}
	// The delivery log shows every attempt, answered 200.
	att := whAttempts(t, e, whAlice, hook.ID)
	if len(att) != len(rc.delivered()) {
		t.Errorf("%d attempts listed, %d deliveries made", len(att), len(rc.delivered()))
	}
	for _, a := range att {
		if a.StatusCode == nil || *a.StatusCode != http.StatusOK || a.Error != nil || a.Attempt != 1 {
			t.Errorf("attempt %+v", a)
		}
	}
	if strings.Contains(e.Logs.String(), hook.Secret) || strings.Contains(e.Logs.String(), "via=test") {
		t.Error("the log shows a webhook's secret or its URL's query")
	}
	// The metrics count the events and attempts.
	m := string(e.Do(e.NewRequest(http.MethodGet, "/metrics", "", "", nil)).Body)
	for _, line := range []string{
		`fileshare_webhook_events_total{type="token.delivered"} 1`,
		`fileshare_webhook_events_total{type="upload.stored"} 2`,
		fmt.Sprintf(`fileshare_webhook_delivery_attempts_total{outcome="delivered"} %d`, len(rc.delivered())),
		`fileshare_webhook_delivery_attempts_total{outcome="no_answer"} 0`,
		"fileshare_webhook_queue_depth ", "fileshare_webhook_oldest_undelivered_age_seconds ",
		"fileshare_webhook_delivery_latency_seconds_count ",
	} {
		if !strings.Contains(m, line) {
			t.Errorf("/metrics lacks %q", line)
		}
	}
}

// A change that rolls back leaves no event; a committed change always has its event, written
// in its transaction, before any instance delivers it.
func TestWebhookEventsCommitWithTheirChange(t *testing.T) {
	t.Parallel()
	e := whNewEnv(t)
	rc := whNewReceiver(t, nil)
	whCreate(t, e, whAlice, rc, []string{webhook.UploadStored})

	// A check at commit that fails: the upload's transaction rolls back after its row and its
	// event were written.
	testutil.Exec(t, e, `CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'refused at commit'; END $$`)
	testutil.Exec(t, e, `CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON webhook_deliveries
		DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit()`)
	body, ct := testutil.Multipart(t, testutil.FilePart("rolled-back.txt", []byte("never")))
	req := e.NewRequest(http.MethodPost, "/uploads", whAlice, whPW, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	if r := e.Do(req); r.StatusCode != http.StatusInternalServerError {
		t.Fatalf("upload whose commit fails: %d %s", r.StatusCode, r.Body)
	}
	for _, table := range []string{"uploads", "webhook_events", "webhook_deliveries", "river.river_job"} {
		if n := testutil.QueryInt(t, e, "SELECT count(*) FROM "+table); n != 0 {
			t.Errorf("%d rows in %s after the rollback", n, table)
		}
	}
	testutil.Exec(t, e, `DROP TRIGGER refuse_at_commit ON webhook_deliveries`)

	// Committed while no instance delivers: the event and its queue job are there.
	up := e.Upload(t, whAlice, "kept.txt", []byte("kept"))
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM webhook_events WHERE type = 'upload.stored' AND body::jsonb->'data'->>'uploadId' = $1`, up.ID); n != 1 {
		t.Fatalf("%d events of the committed upload", n)
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM river.river_job`); n != 1 {
		t.Fatalf("%d queue jobs", n)
	}
	whStart(t, e)
	testutil.Eventually(t, 10*time.Second, "the committed upload's event", func() bool { return len(rc.delivered()) == 1 })
	if d := rc.delivered()[0]; d.Data["uploadId"] != up.ID {
		t.Fatalf("delivered %s", d.Body)
	}
	rc.check()
}
