package httpapi_test

// Tests of what the sender sees of an entry's tokens: the token list, and revocation.

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"fileshare/internal/testutil"
)

// TestTokenRevokeAndList revokes tokens, and reads the token list: its pages, its order and
// every state a token can be in.
func TestTokenRevokeAndList(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	content := dlMarked(t, 100)
	f := sessStoredFile(t, e, sessAlice, s.ID, "r.txt", content)
	path := dlTokensPath(s.ID, f.ID)

	// Pages of two over five tokens, in the order they were made.
	var made []dlToken
	for range 5 {
		made = append(made, dlCreateToken(t, e, s.ID, f.ID, false))
	}
	got, pages := sessWalk[dlStatus](t, e, sessAlice, path+"?limit=2", nil)
	if pages != 3 || len(got) != len(made) {
		t.Fatalf("%d tokens on %d pages, want 5 on 3", len(got), pages)
	}
	for i, st := range got {
		if st.Ref != made[i].Ref || st.FileID != f.ID || st.SessionID != s.ID || st.State != "unused" ||
			!st.CreatedAt.Equal(made[i].CreatedAt) || !st.ExpiresAt.Equal(made[i].ExpiresAt) {
			t.Fatalf("token %d of the list: %+v, want %+v", i, st, made[i])
		}
	}
	if r := sessCall(t, e, http.MethodGet, path+"?limit=5", sessAlice, nil); r.Header.Get("Link") != "" {
		t.Fatalf("a Link after the last page: %q", r.Header.Get("Link"))
	}
	for _, bad := range []string{"?limit=0", "?limit=1001", "?after=nope"} {
		if r := sessCall(t, e, http.MethodGet, path+bad, sessAlice, nil); r.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s: %d", bad, r.StatusCode)
		}
	}
	testutil.WantError(t, sessCall(t, e, http.MethodGet, path, "", nil), http.StatusUnauthorized, "unauthorized")

	// Revoking an unused token.
	rev := made[1]
	if r := sessCall(t, e, http.MethodDelete, path+"/"+rev.Ref, sessAlice, nil); r.StatusCode != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.Body)
	}
	testutil.WantError(t, dlCurl(e, http.MethodGet, rev.URL), http.StatusGone, "download token revoked")
	testutil.WantError(t, dlCurl(e, http.MethodPost, rev.URL), http.StatusGone, "download token revoked")
	testutil.WantError(t, dlCurl(e, http.MethodHead, rev.URL), http.StatusGone, "download token revoked")
	dlWantPage(t, dlBrowser(e, http.MethodGet, rev.URL), http.StatusGone)
	if st := dlWantState(t, e, rev, "revoked"); st.ConsumedAt != nil {
		t.Fatalf("revoked: %+v", st)
	}
	if sessConsumed(t, e, rev.ID) {
		t.Fatal("the revoked token was consumed")
	}
	// Only unused tokens can be revoked.
	testutil.WantError(t, sessCall(t, e, http.MethodDelete, path+"/"+rev.Ref, sessAlice, nil), http.StatusConflict, "download token already used")
	sessCheckDownload(t, dlCurl(e, http.MethodGet, made[0].URL), content, "text/plain; charset=utf-8", `attachment; filename="r.txt"`)
	testutil.WantError(t, sessCall(t, e, http.MethodDelete, path+"/"+made[0].Ref, sessAlice, nil), http.StatusConflict, "download token already used")
	// Unknown and malformed refs, refs of another entry, the token instead of its ref.
	g := sessStoredFile(t, e, sessAlice, s.ID, "g.txt", []byte("g"))
	for _, p := range []string{
		path + "/" + uuid.NewString(),
		path + "/nope",
		path + "/" + made[3].ID,
		dlTokensPath(s.ID, g.ID) + "/" + made[3].Ref,
	} {
		testutil.WantError(t, sessCall(t, e, http.MethodDelete, p, sessAlice, nil), http.StatusNotFound, "download token not found")
	}
	testutil.WantError(t, sessCall(t, e, http.MethodDelete, dlTokensPath(s.ID, uuid.NewString())+"/"+made[3].Ref, sessAlice, nil), http.StatusNotFound, "file not found")
	testutil.WantError(t, sessCall(t, e, http.MethodDelete, path+"/"+made[3].Ref, "", nil), http.StatusUnauthorized, "unauthorized")
	dlWantState(t, e, made[3], "unused")
	sessCheckDownload(t, dlCurl(e, http.MethodGet, made[3].URL), content, "text/plain; charset=utf-8", `attachment; filename="r.txt"`)

	// Every state in one list: unused, consumed (cut), delivered, expired, revoked, locked.
	const size = 16 << 20
	big := testutil.RandomBytes(t, size)
	bf := sessStoredFile(t, e, sessAlice, s.ID, "big.bin", big)
	unused := dlCreateToken(t, e, s.ID, bf.ID, false)
	consumed := dlCreateToken(t, e, s.ID, bf.ID, false)
	delivered := dlCreateToken(t, e, s.ID, bf.ID, false)
	expired := dlCreateToken(t, e, s.ID, bf.ID, false)
	revoked := dlCreateToken(t, e, s.ID, bf.ID, false)
	locked := dlCreateToken(t, e, s.ID, bf.ID, true)
	dlCutConsume(t, e, consumed, 1<<20, big)
	if r := dlCurl(e, http.MethodGet, delivered.URL); r.StatusCode != http.StatusOK || !bytes.Equal(r.Body, big) {
		t.Fatalf("download: %d, %d bytes", r.StatusCode, len(r.Body))
	}
	testutil.Exec(t, e, `UPDATE download_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1`, dlTokenHash(expired))
	if r := sessCall(t, e, http.MethodDelete, dlTokensPath(s.ID, bf.ID)+"/"+revoked.Ref, sessAlice, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.Body)
	}
	dlLock(t, e, locked)
	dlEventually(t, e, delivered, "the download to be delivered", func(st dlStatus) bool { return st.State == "delivered" })

	want := []struct {
		tok   dlToken
		state string
	}{{unused, "unused"}, {consumed, "consumed"}, {delivered, "delivered"}, {expired, "expired"}, {revoked, "revoked"}, {locked, "locked"}}
	list, pages := sessWalk[dlStatus](t, e, sessAlice, dlTokensPath(s.ID, bf.ID)+"?limit=2", nil)
	if len(list) != len(want) || pages != 3 {
		t.Fatalf("%d tokens on %d pages, want %d on 3", len(list), pages, len(want))
	}
	for i, w := range want {
		st := list[i]
		if st.Ref != w.tok.Ref || st.State != w.state {
			t.Fatalf("token %d: ref %s state %q, want %s %q", i, st.Ref, st.State, w.tok.Ref, w.state)
		}
		started := w.state == "consumed" || w.state == "delivered"
		if (st.ConsumedAt != nil) != started || (st.ConsumerAddress != nil) != started || (st.BytesSent > 0) != started {
			t.Errorf("%s token: consumedAt %v consumerAddress %v bytesSent %d", w.state, st.ConsumedAt, st.ConsumerAddress, st.BytesSent)
		}
		if (st.DeliveredAt != nil) != (w.state == "delivered") {
			t.Errorf("%s token: deliveredAt %v", w.state, st.DeliveredAt)
		}
		if st.PIN != (w.state == "locked") {
			t.Errorf("%s token: pin %v", w.state, st.PIN)
		}
	}
	// Tokens that are not unused cannot be revoked.
	for _, w := range want[1:] {
		testutil.WantError(t, sessCall(t, e, http.MethodDelete, dlTokensPath(s.ID, bf.ID)+"/"+w.tok.Ref, sessAlice, nil), http.StatusConflict, "download token already used")
	}
}

// TestTokenListAndRevokeTenantIsolation tries the token list and revocation with another
// tenant's ids: 404 as for ids that do not exist, and the token stays unused.
func TestTokenListAndRevokeTenantIsolation(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	e.AddUser(sessBob, sessPW)
	as := sessCreateSession(t, e, sessAlice, nil)
	content := dlMarked(t, 100)
	af := sessStoredFile(t, e, sessAlice, as.ID, "a.txt", content)
	tok := dlCreateToken(t, e, as.ID, af.ID, false)
	bs := sessCreateSession(t, e, sessBob, nil)
	bf := sessStoredFile(t, e, sessBob, bs.ID, "b.txt", []byte("bob"))

	r1, r2, r3 := uuid.NewString(), uuid.NewString(), uuid.NewString()
	for _, p := range []struct{ method, foreign, none string }{
		{http.MethodGet, dlTokensPath(as.ID, af.ID), dlTokensPath(r1, r2)},
		{http.MethodGet, dlTokensPath(as.ID, af.ID) + "?limit=1", dlTokensPath(r1, r2) + "?limit=1"},
		{http.MethodGet, dlTokensPath(bs.ID, af.ID), dlTokensPath(bs.ID, r2)},
		{http.MethodDelete, dlTokensPath(as.ID, af.ID) + "/" + tok.Ref, dlTokensPath(r1, r2) + "/" + r3},
		{http.MethodDelete, dlTokensPath(bs.ID, af.ID) + "/" + tok.Ref, dlTokensPath(bs.ID, r2) + "/" + r3},
		{http.MethodDelete, dlTokensPath(bs.ID, bf.ID) + "/" + tok.Ref, dlTokensPath(bs.ID, bf.ID) + "/" + r3},
	} {
		foreign := sessCall(t, e, p.method, p.foreign, sessBob, nil)
		none := sessCall(t, e, p.method, p.none, sessBob, nil)
		if foreign.StatusCode != http.StatusNotFound || none.StatusCode != http.StatusNotFound {
			t.Fatalf("%s %s: %d %s (unknown ids: %d %s), want 404", p.method, p.foreign, foreign.StatusCode, foreign.Body, none.StatusCode, none.Body)
		}
		if !bytes.Equal(foreign.Body, none.Body) {
			t.Fatalf("%s %s: answer %s differs from the unknown ids' %s", p.method, p.foreign, foreign.Body, none.Body)
		}
	}
	if st := dlWantState(t, e, tok, "unused"); st.ConsumedAt != nil {
		t.Fatalf("alice's token: %+v", st)
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM download_tokens WHERE revoked_at IS NOT NULL`); n != 0 {
		t.Fatal("bob revoked a token")
	}
	sessCheckDownload(t, dlCurl(e, http.MethodGet, tok.URL), content, "text/plain; charset=utf-8", `attachment; filename="a.txt"`)
}

// TestTokenLabels: a token made with a label ("for Bob") shows it in its creation answer and in
// the list, spaces around it dropped; one without shows none; a label that is too long or holds
// a control character is refused and makes no token.
func TestTokenLabels(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessStoredFile(t, e, sessAlice, s.ID, "l.txt", []byte("labelled"))
	path := dlTokensPath(s.ID, f.ID)
	type made struct {
		Ref   string  `json:"ref"`
		Label *string `json:"label"`
	}
	bob := testutil.Decode[made](t, sessCall(t, e, http.MethodPost, path, sessAlice, `{"label":"  für Bob  ","pin":true}`), http.StatusCreated)
	if bob.Label == nil || *bob.Label != "für Bob" {
		t.Fatalf("creation answer's label: %v", bob.Label)
	}
	plain := testutil.Decode[made](t, sessCall(t, e, http.MethodPost, path, sessAlice, `{"label":" "}`), http.StatusCreated)
	if plain.Label != nil {
		t.Fatalf("a blank label is answered as %q", *plain.Label)
	}
	long := strings.Repeat("é", 101)
	for _, bad := range []string{`{"label":"` + long + `"}`, `{"label":"for\u0007Bob"}`, `{"label":"for\u202eBob"}`, `{"label":7}`} {
		r := sessCall(t, e, http.MethodPost, path, sessAlice, bad)
		want := "invalid label"
		if bad == `{"label":7}` {
			want = "invalid JSON body"
		}
		testutil.WantError(t, r, http.StatusBadRequest, want)
	}
	sessCall(t, e, http.MethodPost, path, sessAlice, `{"label":"`+long[:200]+`"}`) // 100 characters: fine
	got, _ := sessWalk[dlStatus](t, e, sessAlice, path, nil)
	if len(got) != 3 {
		t.Fatalf("%d tokens, want 3 (refused labels make none)", len(got))
	}
	if got[0].Ref != bob.Ref || got[0].Label == nil || *got[0].Label != "für Bob" || !got[0].PIN {
		t.Fatalf("the labelled token in the list: %+v", got[0])
	}
	if got[1].Label != nil || got[2].Label == nil || *got[2].Label != long[:200] {
		t.Fatalf("labels in the list: %v, %v", got[1].Label, got[2].Label)
	}
}
