package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"fileshare/internal/testutil"
)

// A request that finds a resumable upload's lease held asks its holder to give the upload up
// (docs/behaviour.md §11.4): the holder stops reading its body, keeps what came in and answers
// 423; the new request then goes on from the offset recorded.

// tuStalledPatch starts a PATCH of all of data at offset 0 on a connection of its own, sends its
// headers and the first sent bytes, and then nothing more, without closing the connection: a
// client whose network went away. It returns once the PATCH holds the upload's lease.
func tuStalledPatch(t *testing.T, e *testutil.Env, url string, data []byte, sent int) net.Conn {
	t.Helper()
	conn := testutil.TusPatchConn(t, url, len(data))
	if _, err := conn.Write(data[:sent]); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the PATCH to hold the upload's lease", func() bool {
		return testutil.QueryInt(t, e, `SELECT count(*) FROM tus_uploads WHERE id = $1 AND lease_holder IS NOT NULL`, tuID(url)) == 1
	})
	return conn
}

// tuPipedPatch starts a PATCH of size bytes at offset 0 whose body the test writes to pw; done
// gets its status (0 when it failed to answer).
func tuPipedPatch(t *testing.T, e *testutil.Env, url string, size int) (*io.PipeWriter, <-chan int) {
	t.Helper()
	pr, pw := io.Pipe()
	req := tuRequest(e, http.MethodPatch, url, "", nil, "Upload-Offset", "0", "Content-Type", "application/offset+octet-stream")
	req.Body, req.ContentLength = pr, int64(size)
	done := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("first PATCH: %v", err)
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	return pw, done
}

// tuWantLocked reads the answer of the PATCH on conn: 423 "upload locked", the upload given up
// to another request.
func tuWantLocked(t *testing.T, conn net.Conn) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the answer of the PATCH taken over: %v", err)
	}
	defer resp.Body.Close()
	var body struct{ Message string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusLocked || body.Message != "upload locked" {
		t.Fatalf("the PATCH taken over answered %d %q (%v), want 423 upload locked", resp.StatusCode, body.Message, err)
	}
}

// A client whose connection died in the middle of a PATCH, without its server noticing,
// resumes at once on another instance: HEAD asks the stalled request to give the upload up and
// reports the bytes it received, and the PATCH from there completes the upload, within 5 s.
func TestTusStalledPatchResumesOnAnotherInstance(t *testing.T) {
	t.Parallel()
	a := sessNewEnv(t)
	b := a.Twin()
	data := testutil.RandomBytes(t, 600<<10)
	url := tuCreate(t, a, len(data), "")
	sent := 300 << 10
	conn := tuStalledPatch(t, a, url, data, sent)
	start := time.Now()
	got := tuOffset(t, b, url)
	if got != sent {
		t.Fatalf("HEAD on the other instance: offset %d, want the %d bytes the stalled PATCH received", got, sent)
	}
	tuWantOffset(t, tuPatch(b, url, got, data[got:]), len(data))
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("HEAD and PATCH took %s, want within 5 s", took)
	}
	tuWantLocked(t, conn)
	d := b.Do(b.NewRequest(http.MethodGet, tuUploadPath(t, b, url), "", "", nil))
	if testutil.SHA256(d.Body) != testutil.SHA256(data) {
		t.Fatalf("download of %d bytes differs from the upload", len(d.Body))
	}
	if n := testutil.QueryInt(t, a, `SELECT count(*) FROM tus_uploads WHERE lease_holder IS NOT NULL`); n != 0 {
		t.Errorf("%d leases still held after the upload completed", n)
	}
}

// Two PATCHes of one upload, on two instances, while the first one's client has gone quiet:
// the second takes over. The first stops, keeps what it received and answers 423; the second
// starts from there, so its offset no longer matches (409) and it writes nothing: the bytes are
// the first client's only.
func TestTusSecondPatchTakesOver(t *testing.T) {
	t.Parallel()
	a := sessNewEnv(t)
	b := a.Twin()
	first := bytes.Repeat([]byte("A"), 64<<10)
	second := bytes.Repeat([]byte("B"), 64<<10)
	url := tuCreate(t, a, len(first), "")
	pw, done := tuPipedPatch(t, a, url, len(first))
	sent := 10 << 10
	pw.Write(first[:sent])
	testutil.Eventually(t, 10*time.Second, "the first PATCH to hold the upload's lease", func() bool {
		return testutil.QueryInt(t, a, `SELECT count(*) FROM tus_uploads WHERE lease_holder IS NOT NULL`) == 1
	})
	testutil.WantError(t, tuPatch(b, url, 0, second), http.StatusConflict, "offset mismatch")
	if status := <-done; status != http.StatusLocked {
		t.Errorf("first PATCH answered %d, want 423", status)
	}
	pw.Close()
	if got := tuOffset(t, b, url); got != sent {
		t.Fatalf("offset %d after the takeover, want the first PATCH's %d", got, sent)
	}
	tuWantOffset(t, tuPatch(b, url, sent, first[sent:]), len(first))
	d := b.Do(b.NewRequest(http.MethodGet, tuUploadPath(t, b, url), "", "", nil))
	if !bytes.Equal(d.Body, first) {
		t.Fatalf("download: %d bytes, not the first PATCH's", len(d.Body))
	}
}

// Termination takes an upload over from a stalled PATCH: it answers 204 at once, and nothing of
// the upload is left, neither its row nor its staged bytes.
func TestTusTerminationTakesOver(t *testing.T) {
	t.Parallel()
	a := sessNewEnv(t)
	b := a.Twin()
	data := testutil.RandomBytes(t, 200<<10)
	url := tuCreate(t, a, len(data), "")
	conn := tuStalledPatch(t, a, url, data, 100<<10)
	if r := b.Do(tuRequest(b, http.MethodDelete, url, "", nil)); r.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE during a stalled PATCH: %d %s", r.StatusCode, r.Body)
	}
	tuWantLocked(t, conn)
	if got := tuOffset(t, b, url); got != -http.StatusNotFound {
		t.Errorf("HEAD after termination: %d", got)
	}
	if s := tuStages(t, a); len(s) != 0 {
		t.Errorf("staging files left: %v", s)
	}
	if n := testutil.QueryInt(t, a, `SELECT count(*) FROM tus_uploads`); n != 0 {
		t.Errorf("%d tus rows left", n)
	}
}

// The purge never removes an upload that a request is writing: an expired upload whose lease a
// stalled PATCH holds stays, row and staged bytes, and goes with the next purge once the PATCH
// gave its lease back.
func TestTusPurgeSkipsLeasedUpload(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	data := testutil.RandomBytes(t, 200<<10)
	url := tuCreate(t, e, len(data), "")
	conn := tuStalledPatch(t, e, url, data, 100<<10)
	testutil.Exec(t, e, `UPDATE tus_uploads SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour'`)
	res, err := e.App.Purger.RunOnce(context.Background())
	if err != nil || res.TusUploadsExpired != 0 {
		t.Fatalf("purge while a PATCH holds the lease: %+v %v", res, err)
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM tus_uploads`); n != 1 || len(tuStages(t, e)) != 1 {
		t.Fatalf("the purge removed an upload a request was writing: %d rows, stages %v", n, tuStages(t, e))
	}
	conn.Close()
	testutil.Eventually(t, 10*time.Second, "the cut PATCH to give its lease back", func() bool {
		return testutil.QueryInt(t, e, `SELECT count(*) FROM tus_uploads WHERE lease_holder IS NOT NULL`) == 0
	})
	if res, err := e.App.Purger.RunOnce(context.Background()); err != nil || res.TusUploadsExpired != 1 {
		t.Fatalf("purge once the lease is free: %+v %v", res, err)
	}
	if s := tuStages(t, e); len(s) != 0 {
		t.Errorf("staging files left after the purge: %v", s)
	}
}

// A request whose lease was taken from it (it ran out, and another request took the upload)
// records nothing more, even the last byte: every change of the upload is conditional on the
// lease. It answers 423, and the upload stays where the new holder found it.
func TestTusLostLeaseRecordsNothing(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	data := testutil.RandomBytes(t, 200<<10)
	url := tuCreate(t, e, len(data), "")
	sent := 100 << 10
	conn := tuStalledPatch(t, e, url, data, sent)
	// Another request's lease, as if the first had run out and been taken over.
	testutil.Exec(t, e, `UPDATE tus_uploads SET lease_holder = gen_random_uuid(), lease_expires_at = now() + interval '1 minute'`)
	if _, err := conn.Write(data[sent:]); err != nil {
		t.Fatal(err)
	}
	tuWantLocked(t, conn)
	if n := testutil.QueryInt(t, e, `SELECT upload_offset FROM tus_uploads WHERE completed_at IS NULL`); n != 0 {
		t.Errorf("offset %d recorded by a request that lost its lease", n)
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM uploads`); n != 0 {
		t.Errorf("%d uploads made visible by a request that lost its lease", n)
	}
}

// A PATCH whose client still sends keeps its upload: a concurrent PATCH on another instance is
// the loser (423 upload locked, nothing written), HEAD meanwhile answers the offset recorded so
// far (not 423), and the first PATCH completes the upload with its own bytes.
func TestTusLivePatchKeepsItsUpload(t *testing.T) {
	t.Parallel()
	a := sessNewEnv(t)
	b := a.Twin()
	first := testutil.RandomBytes(t, 64<<10)
	second := bytes.Repeat([]byte("B"), len(first))
	url := tuCreate(t, a, len(first), "")
	pw, done := tuPipedPatch(t, a, url, len(first))
	// The first client sends a chunk every 100 ms until told to finish: never quiet for long.
	stop := make(chan struct{})
	fed := make(chan struct{})
	const chunk = 1 << 10
	go func() {
		defer close(fed)
		off := 0
		for ; off < len(first)-chunk; off += chunk {
			if _, err := pw.Write(first[off : off+chunk]); err != nil {
				return
			}
			select {
			case <-stop:
				pw.Write(first[off+chunk:])
				pw.Close()
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		pw.Write(first[off:])
		pw.Close()
	}()
	testutil.Eventually(t, 10*time.Second, "the first PATCH to hold the upload's lease", func() bool {
		return testutil.QueryInt(t, a, `SELECT count(*) FROM tus_uploads WHERE lease_holder IS NOT NULL`) == 1
	})
	testutil.WantError(t, tuPatch(b, url, 0, second), http.StatusLocked, "upload locked")
	if got := tuOffset(t, b, url); got < 0 || got >= len(first) {
		t.Errorf("HEAD during the live PATCH: %d, want the offset recorded so far", got)
	}
	close(stop)
	<-fed
	if status := <-done; status != http.StatusNoContent {
		t.Fatalf("the live PATCH answered %d, want 204", status)
	}
	d := b.Do(b.NewRequest(http.MethodGet, tuUploadPath(t, b, url), "", "", nil))
	if !bytes.Equal(d.Body, first) {
		t.Fatalf("download: %d bytes, not the live PATCH's", len(d.Body))
	}
}
