package httpapi_test

// Tests of tokens made with a PIN.

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"fileshare/internal/testutil"
)

// dlWrongPIN is a PIN that is not right, a different one for each i < 999999.
func dlWrongPIN(t *testing.T, right string, i int) string {
	t.Helper()
	n, err := strconv.Atoi(right)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%06d", (n+1+i)%1_000_000)
}

// dlLock locks a PIN token with five wrong PINs, one after the other.
func dlLock(t *testing.T, e *testutil.Env, tok dlToken) {
	t.Helper()
	for i := range 4 {
		testutil.WantError(t, dlCurl(e, http.MethodGet, tok.URL, "Fileshare-Pin", dlWrongPIN(t, tok.PIN, i)), http.StatusForbidden, "wrong pin")
	}
	// The fifth is a wrong PIN like the others, and locks the token.
	testutil.WantError(t, dlCurl(e, http.MethodGet, tok.URL, "Fileshare-Pin", dlWrongPIN(t, tok.PIN, 4)), http.StatusForbidden, "wrong pin")
	testutil.WantError(t, dlCurl(e, http.MethodGet, tok.URL, "Fileshare-Pin", tok.PIN), http.StatusGone, "download token locked")
}

// TestTokenPIN checks tokens made with a PIN: the PIN is shown once, the link needs it
// (header or the landing page's form), a missing or wrong PIN leaves the token unused, and
// five wrong PINs, however concurrent, lock it for good.
func TestTokenPIN(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	content := dlMarked(t, 3000)
	f := sessStoredFile(t, e, sessAlice, s.ID, "pin.txt", content)
	const ct, disposition = "text/plain; charset=utf-8", `attachment; filename="pin.txt"`

	plain := dlCreateToken(t, e, s.ID, f.ID, false)
	tok := dlCreateToken(t, e, s.ID, f.ID, true)
	if st := dlWantState(t, e, tok, "unused"); !st.PIN {
		t.Fatalf("the list shows pin:false for a PIN token: %+v", st)
	}
	if st := dlWantState(t, e, plain, "unused"); st.PIN {
		t.Fatalf("the list shows pin:true for a plain token: %+v", st)
	}
	// The PIN is not in the database, nor in the list.
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM download_tokens x WHERE strpos(x::text, $1) > 0`, tok.PIN); n != 0 {
		t.Fatal("the PIN is in the database in clear")
	}
	if r := sessCall(t, e, http.MethodGet, dlTokensPath(s.ID, f.ID), sessAlice, nil); bytes.Contains(r.Body, []byte(tok.PIN)) {
		t.Fatal("the list shows the PIN")
	}

	// The landing page of a PIN token asks for it; a plain token's does not.
	page := dlBrowser(e, http.MethodGet, tok.URL)
	dlWantLanding(t, page, "pin.txt", len(content), tok.ExpiresAt, content)
	if form := page.Body[dlFormRE.FindIndex(page.Body)[0]:]; !dlPINFieldR.Match(form) {
		t.Fatalf("the landing page of a PIN token has no PIN field in its form: %s", page.Body)
	}
	if page := dlBrowser(e, http.MethodGet, plain.URL); dlPINFieldR.Match(page.Body) {
		t.Fatal("the landing page of a plain token asks for a PIN")
	}

	// Missing and wrong PINs leave the token unused.
	testutil.WantError(t, dlCurl(e, http.MethodGet, tok.URL), http.StatusForbidden, "pin required")
	testutil.WantError(t, dlCurl(e, http.MethodPost, tok.URL), http.StatusForbidden, "pin required")
	testutil.WantError(t, dlCurl(e, http.MethodGet, tok.URL, "Fileshare-Pin", dlWrongPIN(t, tok.PIN, 0)), http.StatusForbidden, "wrong pin")
	// A browser that posts a wrong PIN gets the page again, with the PIN field.
	r := dlPostForm(e, tok.URL, url.Values{"pin": {dlWrongPIN(t, tok.PIN, 1)}})
	dlWantPage(t, r, http.StatusForbidden)
	if !dlPINFieldR.Match(r.Body) || bytes.Contains(r.Body, content[:32]) {
		t.Fatalf("the page after a wrong PIN: %s", r.Body)
	}
	dlWantPage(t, dlPostForm(e, tok.URL, url.Values{}), http.StatusForbidden)
	if st := dlWantState(t, e, tok, "unused"); st.ConsumedAt != nil || st.BytesSent != 0 {
		t.Fatalf("after refused PINs: %+v", st)
	}
	if sessConsumed(t, e, tok.ID) {
		t.Fatal("a refused PIN consumed the token")
	}
	if n := testutil.QueryInt(t, e, `SELECT pin_failures FROM download_tokens WHERE token_hash = $1`, dlTokenHash(tok)); n != 2 {
		t.Fatalf("pin_failures %d after two wrong PINs", n)
	}

	// The right PIN in the header downloads, once.
	sessCheckDownload(t, dlCurl(e, http.MethodGet, tok.URL, "Fileshare-Pin", tok.PIN), content, ct, disposition)
	testutil.WantError(t, dlCurl(e, http.MethodGet, tok.URL, "Fileshare-Pin", tok.PIN), http.StatusGone, "download token already used")
	dlEventually(t, e, tok, "the PIN token to be delivered", func(st dlStatus) bool { return st.State == "delivered" })

	// The right PIN in the landing page's form downloads.
	form := dlCreateToken(t, e, s.ID, f.ID, true)
	sessCheckDownload(t, dlPostForm(e, form.URL, url.Values{"pin": {form.PIN}}), content, ct, disposition)
	dlEventually(t, e, form, "the PIN token to be delivered", func(st dlStatus) bool { return st.State == "delivered" && st.PIN })
	// The right PIN of another token is a wrong PIN.
	other := dlCreateToken(t, e, s.ID, f.ID, true)
	if other.PIN != form.PIN {
		testutil.WantError(t, dlCurl(e, http.MethodGet, other.URL, "Fileshare-Pin", form.PIN), http.StatusForbidden, "wrong pin")
	}

	// Twenty wrong guesses at once: five count, then the token is locked.
	lock := dlCreateToken(t, e, s.ID, f.ID, true)
	var reqs []*http.Request
	for i := range 20 {
		var req *http.Request
		if i%2 == 0 {
			req = e.NewRequest(http.MethodGet, lock.URL, "", "", nil)
			req.Header.Set("Fileshare-Pin", dlWrongPIN(t, lock.PIN, i))
		} else {
			req = e.NewRequest(http.MethodPost, lock.URL, "", "", strings.NewReader(url.Values{"pin": {dlWrongPIN(t, lock.PIN, i)}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		reqs = append(reqs, req)
	}
	transport := &http.Transport{MaxIdleConnsPerHost: len(reqs)}
	defer transport.CloseIdleConnections()
	wrong, lockedAnswers := 0, 0
	for _, r := range dlRace(t, &http.Client{Transport: transport}, reqs) {
		switch {
		case r.status == http.StatusForbidden && string(r.body) == `{"message":"wrong pin"}`:
			wrong++
		case r.status == http.StatusGone && string(r.body) == `{"message":"download token locked"}`:
			lockedAnswers++
		default:
			t.Fatalf("a wrong guess answered %d %s", r.status, r.body)
		}
	}
	// Five wrong PINs count, each answered as one; the fifth locks the token: the rest locked.
	if wrong != 5 || lockedAnswers != 15 {
		t.Fatalf("%d × wrong pin and %d × locked, want 5 and 15", wrong, lockedAnswers)
	}
	if n := testutil.QueryInt(t, e, `SELECT pin_failures FROM download_tokens WHERE token_hash = $1`, dlTokenHash(lock)); n != 5 {
		t.Fatalf("pin_failures %d, want exactly 5", n)
	}
	// Locked for good: the right PIN no longer opens it, in any way.
	testutil.WantError(t, dlCurl(e, http.MethodGet, lock.URL, "Fileshare-Pin", lock.PIN), http.StatusGone, "download token locked")
	r = dlPostForm(e, lock.URL, url.Values{"pin": {lock.PIN}})
	dlWantPage(t, r, http.StatusGone)
	if bytes.Contains(r.Body, content[:32]) {
		t.Fatal("a locked token gave the file")
	}
	dlWantPage(t, dlBrowser(e, http.MethodGet, lock.URL), http.StatusGone)
	if st := dlWantState(t, e, lock, "locked"); st.ConsumedAt != nil || st.BytesSent != 0 {
		t.Fatalf("locked token: %+v", st)
	}
	if sessConsumed(t, e, lock.ID) {
		t.Fatal("the locked token was consumed")
	}
	if n := testutil.QueryInt(t, e, `SELECT pin_failures FROM download_tokens WHERE token_hash = $1`, dlTokenHash(lock)); n != 5 {
		t.Fatalf("pin_failures %d after the lock, want still 5", n)
	}

	// The metrics count every wrong PIN once, and the lock once.
	m, _ := scrape(t, e)
	failures := testutil.QueryInt(t, e, `SELECT sum(pin_failures) FROM download_tokens`)
	if got := m["fileshare_download_token_events_total{event=wrong_pin}"]; got != float64(failures) {
		t.Errorf("wrong_pin events %v, want the %d wrong PINs counted", got, failures)
	}
	if got := m["fileshare_download_token_events_total{event=locked}"]; got != 1 {
		t.Errorf("locked events %v, want 1: one token was locked", got)
	}
}
