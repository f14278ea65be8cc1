package share_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/share"
	"fileshare/internal/testutil"
)

// mtTokenFile is a session with a stored file entry holding content.
func (f *mtFixture) tokenFile(content []byte) (sid, fid uuid.UUID) {
	f.t.Helper()
	s := f.session(0)
	return s.ID, f.storedFile(s.ID, "f.txt", content).ID
}

func (f *mtFixture) token(sid, fid uuid.UUID, ttl int64, pin bool) share.Token {
	f.t.Helper()
	tok, err := f.svc.CreateToken(f.ctx, f.alice(), sid, fid, ttl, pin)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

func mtLink(tok share.Token) share.TokenLink {
	return share.TokenLink{SessionID: tok.SessionID, FileID: tok.FileID, Token: tok.Token}
}

var mtAddr = netip.MustParseAddr("192.0.2.77")

// deliver asks for a token's link, with a resume when secret is not empty.
func (f *mtFixture) deliver(tok share.Token, pin *string, secret string, start, length int64) (*share.TokenDownload, error) {
	f.t.Helper()
	req := share.TokenRequest{Link: mtLink(tok), PIN: pin, Addr: mtAddr}
	if secret != "" {
		req.Resume = &share.Resume{Secret: secret, Start: start, Length: length}
	}
	td, err := f.svc.DeliverToken(f.ctx, req)
	if td != nil {
		f.t.Cleanup(td.Close)
	}
	return td, err
}

// status is a token's state as its owner's list shows it.
func (f *mtFixture) status(tok share.Token) share.TokenStatus {
	f.t.Helper()
	list, _, err := f.svc.ListTokens(f.ctx, f.alice(), tok.SessionID, tok.FileID, 100, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, s := range list {
		if s.Ref == tok.Ref {
			return s
		}
	}
	f.t.Fatalf("token %s not in its file's list", tok.Ref)
	return share.TokenStatus{}
}

// A token's delivery: offered without being consumed, consumed once for the whole file, then
// resumed only with its delivery's secret, for a range that starts within the file, until the
// ranges sent cover the file.
func TestTokenDelivery(t *testing.T) {
	t.Parallel()
	f := mtNew(t)
	content := []byte("hello world")
	sid, fid := f.tokenFile(content)
	sess, err := f.svc.GetSession(f.ctx, f.alice(), sid)
	if err != nil {
		t.Fatal(err)
	}
	tok := f.token(sid, fid, 0, false)
	if !share.ValidToken(tok.Token) || tok.PIN != "" || !tok.ExpiresAt.Equal(sess.ExpiresAt) {
		t.Fatalf("token %+v: want a valid token without a PIN, expiring with its session at %s", tok, sess.ExpiresAt)
	}
	offer, err := f.svc.OfferToken(f.ctx, mtLink(tok), false)
	if err != nil || offer.Size != int64(len(content)) || offer.Name != "f.txt" || offer.PIN {
		t.Fatalf("offer %+v, %v", offer, err)
	}
	if st := f.status(tok); st.State != share.TokenUnused || st.ViewedAt != nil {
		t.Fatalf("status %+v after an offer, want unused and not viewed", st)
	}
	if _, err := f.svc.OfferToken(f.ctx, mtLink(tok), true); err != nil {
		t.Fatal(err)
	}
	if st := f.status(tok); st.ViewedAt == nil {
		t.Fatal("a viewed landing page was not recorded")
	}

	td, err := f.deliver(tok, nil, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if td.Resumed || td.Start != 0 || td.Length != int64(len(content)) || !share.ValidToken(td.Secret) {
		t.Fatalf("consuming answer %+v: want the whole file and a secret", td)
	}
	if got := f.read(td.Download); string(got) != string(content) {
		t.Fatalf("content %q", got)
	}
	st := f.status(tok)
	if st.State != share.TokenConsumed || st.ConsumedAt == nil || st.ConsumerAddress == nil || *st.ConsumerAddress != mtAddr {
		t.Fatalf("status %+v after the consumption", st)
	}
	_, err = f.deliver(tok, nil, "", 0, 0)
	mtWantErr(t, "a second request without the secret", err, share.ErrTokenUsed)
	_, err = f.svc.OfferToken(f.ctx, mtLink(tok), false)
	mtWantErr(t, "an offer of a consumed token", err, share.ErrTokenUsed)

	for _, tc := range []struct {
		start, length, wantLength int64
	}{{5, -1, 6}, {5, 3, 3}, {5, 100, 6}, {0, -1, 11}, {10, -1, 1}} {
		r, err := f.deliver(tok, nil, td.Secret, tc.start, tc.length)
		if err != nil {
			t.Fatalf("resume from %d: %v", tc.start, err)
		}
		if !r.Resumed || r.Start != tc.start || r.Length != tc.wantLength {
			t.Fatalf("resume from %d for %d: %+v, want %d bytes", tc.start, tc.length, r, tc.wantLength)
		}
	}
	for _, tc := range []struct {
		what   string
		secret string
		start  int64
	}{
		{"a resume at the end of the file", td.Secret, int64(len(content))},
		{"a resume before the file", td.Secret, -1},
		{"a resume with another secret", tok.Token, 0},
		{"a resume with a malformed secret", "x", 0},
	} {
		_, err := f.deliver(tok, nil, tc.secret, tc.start, -1)
		mtWantErr(t, tc.what, err, share.ErrTokenUsed)
	}

	// Nothing written records nothing; the first five bytes, then the rest, deliver it.
	if delivered, err := td.Sent(f.ctx, 0); err != nil || delivered {
		t.Fatalf("Sent(0) = %v, %v", delivered, err)
	}
	if delivered, err := td.Sent(f.ctx, 5); err != nil || delivered {
		t.Fatalf("Sent(5) = %v, %v; want not delivered yet", delivered, err)
	}
	rest, err := f.deliver(tok, nil, td.Secret, 5, -1)
	if err != nil {
		t.Fatal(err)
	}
	if delivered, err := rest.Sent(f.ctx, rest.Length); err != nil || !delivered {
		t.Fatalf("Sent of the rest = %v, %v; want delivered", delivered, err)
	}
	if st := f.status(tok); st.State != share.TokenDelivered || st.BytesSent != int64(len(content)) {
		t.Fatalf("status %+v, want delivered with %d bytes sent", st, len(content))
	}
	_, err = f.deliver(tok, nil, td.Secret, 0, -1)
	mtWantErr(t, "a resume after the delivery", err, share.ErrTokenUsed)
}

// A consumption opens its file before it commits, and its answer reads what was opened: the
// blob removed right after the consumption (a deletion of the entry, the purge of its session)
// is still sent whole. The consumption records its token.consumed event with it, once.
func TestTokenConsumptionOpensItsFile(t *testing.T) {
	t.Parallel()
	f := mtNew(t)
	// An endpoint of acme's, so that its events are recorded (never sent: no dispatcher runs).
	f.exec(`INSERT INTO webhooks (id, tenant_id, url, secret, created_by) VALUES (gen_random_uuid(),
		(SELECT id FROM tenants WHERE name = 'acme'), 'https://hooks.example/fileshare', decode(repeat('ab', 32), 'hex'), 'alice@acme')`)
	content := []byte("opened when the token was consumed")
	sid, fid := f.tokenFile(content)
	tok := f.token(sid, fid, 0, false)
	td, err := f.deliver(tok, nil, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := testutil.QueryInt(t, f.e, "SELECT count(*) FROM webhook_events WHERE type = 'token.consumed'"); n != 1 {
		t.Fatalf("%d token.consumed events after one consumption, want 1", n)
	}
	for _, key := range testutil.BlobFiles(t, f.e.DataDir) {
		if err := os.Remove(filepath.Join(f.e.DataDir, "blobs", filepath.FromSlash(key))); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.read(td.Download); string(got) != string(content) {
		t.Fatalf("the consumed token's answer read %q, want the file opened at the consumption", got)
	}
}

// An empty file is delivered by its consuming answer, which writes nothing.
func TestTokenDeliveryOfAnEmptyFile(t *testing.T) {
	t.Parallel()
	f := mtNew(t)
	sid, fid := f.tokenFile(nil)
	tok := f.token(sid, fid, 0, false)
	td, err := f.deliver(tok, nil, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if delivered, err := td.Sent(f.ctx, 0); err != nil || !delivered {
		t.Fatalf("Sent(0) of an empty file = %v, %v; want delivered", delivered, err)
	}
}

// A token with a PIN: offered as such, refused without it, five wrong PINs lock it (the fifth
// says so), and the right PIN takes an unlocked one.
func TestTokenPIN(t *testing.T) {
	t.Parallel()
	f := mtNew(t)
	sid, fid := f.tokenFile([]byte("secret"))
	tok := f.token(sid, fid, 0, true)
	if !regexp.MustCompile(`^[0-9]{6}$`).MatchString(tok.PIN) {
		t.Fatalf("PIN %q, want six digits", tok.PIN)
	}
	if offer, err := f.svc.OfferToken(f.ctx, mtLink(tok), false); err != nil || !offer.PIN {
		t.Fatalf("offer %+v, %v: want one that asks for a PIN", offer, err)
	}
	wrong := tok.PIN[:5] + string('0'+(tok.PIN[5]-'0'+1)%10)
	_, err := f.deliver(tok, nil, "", 0, 0)
	mtWantErr(t, "no PIN", err, share.ErrPINRequired)
	for i := 1; i <= 4; i++ {
		_, err := f.deliver(tok, &wrong, "", 0, 0)
		mtWantErr(t, "a wrong PIN", err, share.ErrWrongPIN)
		if err == share.ErrTokenLockedNow {
			t.Fatalf("wrong PIN %d locked the token", i)
		}
	}
	_, err = f.deliver(tok, &wrong, "", 0, 0)
	mtWantErr(t, "the fifth wrong PIN", err, share.ErrTokenLockedNow)
	_, err = f.deliver(tok, &tok.PIN, "", 0, 0)
	mtWantErr(t, "the right PIN after five wrong ones", err, share.ErrTokenLocked)
	if st := f.status(tok); st.State != share.TokenLocked || !st.PIN {
		t.Fatalf("status %+v, want locked", st)
	}

	other := f.token(sid, fid, 0, true)
	if _, err := f.deliver(other, &other.PIN, "", 0, 0); err != nil {
		t.Fatalf("the right PIN: %v", err)
	}
}

// Only an unused token is revoked; its link then says so.
func TestTokenRevocation(t *testing.T) {
	t.Parallel()
	f := mtNew(t)
	sid, fid := f.tokenFile([]byte("x"))
	tok := f.token(sid, fid, 0, false)
	if err := f.svc.RevokeToken(f.ctx, f.alice(), sid, fid, tok.Ref); err != nil {
		t.Fatal(err)
	}
	_, err := f.deliver(tok, nil, "", 0, 0)
	mtWantErr(t, "a revoked token", err, share.ErrTokenRevoked)
	if st := f.status(tok); st.State != share.TokenRevoked {
		t.Fatalf("status %+v, want revoked", st)
	}
	mtWantErr(t, "revoking it again", f.svc.RevokeToken(f.ctx, f.alice(), sid, fid, tok.Ref), share.ErrTokenNotUnused)
	mtWantErr(t, "revoking no token", f.svc.RevokeToken(f.ctx, f.alice(), sid, fid, uuid.New()), share.ErrTokenNotFound)
	used := f.token(sid, fid, 0, false)
	if _, err := f.deliver(used, nil, "", 0, 0); err != nil {
		t.Fatal(err)
	}
	mtWantErr(t, "revoking a consumed token", f.svc.RevokeToken(f.ctx, f.alice(), sid, fid, used.Ref), share.ErrTokenNotUnused)
}

// A token lives for its ttl, capped at its session's expiry; past it, it is expired. A
// token of an entry without content is not consumed, nor one of an expired session; a string
// that is no token is not found.
func TestTokenRefusals(t *testing.T) {
	t.Parallel()
	f := mtNew(t)
	sid, fid := f.tokenFile([]byte("x"))
	tok := f.token(sid, fid, 60, false)
	mtAbout(t, "a 60 s token's expiry", tok.ExpiresAt, time.Now().Add(time.Minute))
	f.exec("UPDATE download_tokens SET expires_at = now() - interval '1 second' WHERE ref = $1", tok.Ref)
	_, err := f.deliver(tok, nil, "", 0, 0)
	mtWantErr(t, "an expired token", err, share.ErrTokenExpired)
	if st := f.status(tok); st.State != share.TokenExpired {
		t.Fatalf("status %+v, want expired", st)
	}

	pending, err := f.svc.CreateFile(f.ctx, f.alice(), sid, share.NewFile{Name: "later"})
	if err != nil {
		t.Fatal(err)
	}
	early := f.token(sid, pending.ID, 0, false)
	_, err = f.deliver(early, nil, "", 0, 0)
	mtWantErr(t, "a token of an entry without content", err, share.ErrNotUploadedYet)

	bad := mtLink(tok)
	bad.Token = "not-a-token"
	_, err = f.svc.DeliverToken(f.ctx, share.TokenRequest{Link: bad})
	mtWantErr(t, "a malformed token", err, share.ErrTokenNotFound)
	_, err = f.svc.OfferToken(f.ctx, bad, false)
	mtWantErr(t, "an offer of a malformed token", err, share.ErrTokenNotFound)
	bad.Token = f.token(sid, fid, 0, false).Token[:42] + "AA"
	_, err = f.svc.DeliverToken(f.ctx, share.TokenRequest{Link: bad})
	mtWantErr(t, "a token that was never made", err, share.ErrTokenNotFound)

	live := f.token(sid, fid, 0, false)
	f.exec("UPDATE sessions SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' WHERE id = $1", sid)
	_, err = f.deliver(live, nil, "", 0, 0)
	mtWantErr(t, "a token of an expired session", err, share.ErrSessionExpired)
	f.exec("UPDATE sessions SET created_at = now() - interval '32 days', expires_at = now() - interval '31 days' WHERE id = $1", sid)
	_, err = f.deliver(live, nil, "", 0, 0)
	mtWantErr(t, "a token of a session past its retention", err, share.ErrTokenNotFound)
}

// The owner's list of tokens, a page at a time.
func TestTokenListPages(t *testing.T) {
	t.Parallel()
	f := mtNew(t)
	sid, fid := f.tokenFile([]byte("x"))
	made := map[uuid.UUID]bool{}
	for range 3 {
		made[f.token(sid, fid, 0, false).Ref] = true
	}
	p := f.alice()
	page, next, err := f.svc.ListTokens(f.ctx, p, sid, fid, 2, nil)
	if err != nil || len(page) != 2 || next == nil {
		t.Fatalf("first page of 2: %d tokens, next %v, %v", len(page), next, err)
	}
	if next.ID != page[1].Ref {
		t.Fatalf("the cursor names %s, not the page's last token %s", next.ID, page[1].Ref)
	}
	last, after, err := f.svc.ListTokens(f.ctx, p, sid, fid, 2, next)
	if err != nil || len(last) != 1 || after != nil {
		t.Fatalf("second page: %d tokens, next %v, %v", len(last), after, err)
	}
	for _, s := range append(page, last...) {
		if !made[s.Ref] {
			t.Fatalf("token %s listed twice or never made", s.Ref)
		}
		delete(made, s.Ref)
	}
	if all, next, err := f.svc.ListTokens(f.ctx, p, sid, fid, 3, nil); err != nil || len(all) != 3 || next != nil {
		t.Fatalf("a page of exactly all: %d tokens, next %v, %v", len(all), next, err)
	}
}
