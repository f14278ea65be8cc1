package share_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"strings"
	"testing"

	"fileshare/internal/blob"
	"fileshare/internal/share"
)

func mtDigestField(alg string, sum []byte) string {
	return alg + "=:" + base64.StdEncoding.EncodeToString(sum) + ":"
}

// Content-Digest: sha-256 and sha-512 members are read (any case, spaces and parameters
// around them), others ignored; a known member that is not a byte sequence of its length is a
// mismatch.
func TestParseContentDigest(t *testing.T) {
	t.Parallel()
	s256, s512 := sha256.Sum256([]byte("x")), sha512.Sum512([]byte("x"))
	for _, field := range []string{"", "  ", "md5=:AAAA:", "unknown"} {
		d, err := share.ParseContentDigest(field)
		if err != nil || d.Any() {
			t.Errorf("ParseContentDigest(%q) = %+v, %v; want nothing", field, d, err)
		}
	}
	d, err := share.ParseContentDigest(" SHA-256 = " + mtDigestField("", s256[:])[1:] + " ;q=1, md5=:AAAA:")
	if err != nil || !bytes.Equal(d.SHA256, s256[:]) || d.SHA512 != nil || !d.Any() {
		t.Fatalf("a sha-256 member: %+v, %v", d, err)
	}
	d, err = share.ParseContentDigest(mtDigestField("sha-512", s512[:]))
	if err != nil || !bytes.Equal(d.SHA512, s512[:]) || d.SHA256 != nil || !d.Any() {
		t.Fatalf("a sha-512 member: %+v, %v", d, err)
	}
	for _, field := range []string{
		"sha-256=" + base64.StdEncoding.EncodeToString(s256[:]),
		"sha-256=:" + base64.StdEncoding.EncodeToString(s256[:]),
		mtDigestField("sha-256", s512[:]),
		mtDigestField("sha-512", s256[:]),
		"sha-256=:!!!:",
		mtDigestField("sha-256", s256[:]) + ", sha-512=:x:",
	} {
		if _, err := share.ParseContentDigest(field); err != share.ErrDigestMismatch {
			t.Errorf("ParseContentDigest(%q): %v, want ErrDigestMismatch", field, err)
		}
	}
	if got, want := share.ReprDigest(s256[:]), mtDigestField("sha-256", s256[:]); got != want {
		t.Errorf("ReprDigest = %q, want %q", got, want)
	}
}

// Staged content is checked against the digests sent: SHA-256 against the staging's own,
// SHA-512 against what Watch computed on the way (only when one was sent).
func TestDigestCheck(t *testing.T) {
	t.Parallel()
	f := mtNew(t)
	content := []byte("checked content")
	s256, s512 := sha256.Sum256(content), sha512.Sum512(content)
	other256, other512 := sha256.Sum256([]byte("other")), sha512.Sum512([]byte("other"))
	stage := func(d share.Digests) (*share.Pending, func() error) {
		t.Helper()
		body, h := d.Watch(bytes.NewReader(content))
		if (h != nil) != (d.SHA512 != nil) {
			t.Fatalf("Watch with digests %+v hashed: %v", d, h != nil)
		}
		c, err := f.svc.Stage(f.ctx, blob.KindUpload, body, -1, 1<<20, share.ErrTooLarge, share.QuotaOf(f.alice()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Discard(f.ctx) })
		return c, func() error { return d.Check(c, h) }
	}
	for _, d := range []share.Digests{{}, {SHA256: s256[:]}, {SHA512: s512[:]}, {SHA256: s256[:], SHA512: s512[:]}} {
		if _, check := stage(d); check() != nil {
			t.Errorf("digests %+v of the content: %v", d, check())
		}
	}
	for _, d := range []share.Digests{{SHA256: other256[:]}, {SHA512: other512[:]}, {SHA256: s256[:], SHA512: other512[:]}, {SHA256: other256[:], SHA512: s512[:]}} {
		if _, check := stage(d); check() != share.ErrDigestMismatch {
			t.Errorf("digests %+v of other content: %v, want ErrDigestMismatch", d, check())
		}
	}
	// A SHA-512 sent without what Watch computed cannot match.
	c, _ := stage(share.Digests{})
	if err := (share.Digests{SHA512: s512[:]}).Check(c, nil); err != share.ErrDigestMismatch {
		t.Errorf("a SHA-512 checked without its hash: %v", err)
	}
}

// Names are cut to 255 bytes at a character's boundary; a media type of 255 bytes is kept, a
// longer one replaced by a guess from the name.
func TestNameAndTypeBounds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{strings.Repeat("a", 255), strings.Repeat("a", 255)},
		{strings.Repeat("a", 256), strings.Repeat("a", 255)},
		{strings.Repeat("é", 128), strings.Repeat("é", 127)},
		{"dir/" + strings.Repeat("b", 300), strings.Repeat("b", 255)},
		{"/x", "x"},
		{`a\b`, "b"},
		{"..", ""},
		{".", ""},
		{"a..", "a.."},
	} {
		if got := share.SanitizeName(tc.in); got != tc.want {
			t.Errorf("SanitizeName(%.20q… %d bytes) = %.20q… %d bytes, want %d", tc.in, len(tc.in), got, len(got), len(tc.want))
		}
	}
	long := "application/" + strings.Repeat("x", 255-len("application/"))
	if got := share.NormalizeContentType(long, "a.txt"); got != long {
		t.Errorf("a media type of 255 bytes became %q", got)
	}
	if got := share.NormalizeContentType(long+"x", "a.txt"); got != "text/plain; charset=utf-8" {
		t.Errorf("a media type of 256 bytes became %q, want the name's guess", got)
	}
	if got := share.NormalizeContentType("", "noext"); got != "application/octet-stream" {
		t.Errorf("no type and no extension: %q", got)
	}
}
