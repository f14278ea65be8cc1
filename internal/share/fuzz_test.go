package share_test

import (
	"encoding/base64"
	"errors"
	"mime"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"fileshare/internal/share"
)

// The fuzz targets of this file run their seeds (testdata/fuzz/<name>/ and the f.Add calls) in
// every `go test`; `make fuzz` runs the fuzzer on each for a while.

// plainName reports whether name is already a good download name, that SanitizeName must
// keep as it is.
func plainName(name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > 255 || !utf8.ValidString(name) || strings.TrimSpace(name) != name {
		return false
	}
	for _, r := range name {
		if r == '/' || r == '\\' || r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return false
		}
	}
	return true
}

func FuzzSanitizeName(f *testing.F) {
	for _, s := range []string{
		"report.pdf", "../../etc/passwd", `..\..\windows\system.ini`, "a\x00b.txt", "a\r\nSet-Cookie: x.txt",
		"résumé.pdf", "\u202egnp.exe", " spaced ", "..", ".", "/", "", "\xff\xfe", strings.Repeat("é", 200),
		"dir/", "C:\\", "\t\n", "a\u0085b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := share.SanitizeName(name)
		if len(got) > 255 {
			t.Fatalf("SanitizeName(%q) is %d bytes", name, len(got))
		}
		if !utf8.ValidString(got) {
			t.Fatalf("SanitizeName(%q) = %q: not valid UTF-8", name, got)
		}
		for _, r := range got {
			if r == '/' || r == '\\' || r == 0 || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
				t.Fatalf("SanitizeName(%q) = %q holds %U", name, got, r)
			}
		}
		if got == "." || got == ".." || strings.TrimSpace(got) != got {
			t.Fatalf("SanitizeName(%q) = %q", name, got)
		}
		if again := share.SanitizeName(got); again != got {
			t.Fatalf("not idempotent: %q → %q → %q", name, got, again)
		}
		if plainName(name) && got != name {
			t.Fatalf("a good name %q became %q", name, got)
		}
	})
}

func FuzzNormalizeContentType(f *testing.F) {
	for _, s := range [][2]string{
		{"text/plain; charset=utf-8", "a.txt"}, {"", "photo.png"}, {"not a type", "x"}, {"text/plain\r\nX: y", "a"},
		{"a/b; name*=UTF-8''%E2%82%AC", "b"}, {"text/html; charset=\"\x00\"", ""}, {"", "x.unknownext"},
		{"application/json; a=1; a=2", "j"}, {strings.Repeat("x", 300) + "/y", ""},
		{"0", "a"}, {"text; charset=utf-8", "a.txt"}, {"text/", "a"}, {"a/b/c", "a"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, ct, name string) {
		got := share.NormalizeContentType(ct, name)
		if got == "" || len(got) > 255 {
			t.Fatalf("NormalizeContentType(%q, %q) = %q", ct, name, got)
		}
		for i := 0; i < len(got); i++ {
			if got[i] < 0x20 || got[i] > 0x7e {
				t.Fatalf("NormalizeContentType(%q, %q) = %q: byte %#x is not a header's printable ASCII", ct, name, got, got[i])
			}
		}
		if mt, _, err := mime.ParseMediaType(got); err != nil || !strings.Contains(mt, "/") {
			t.Fatalf("NormalizeContentType(%q, %q) = %q, which is no type/subtype: %v", ct, name, got, err)
		}
		if again := share.NormalizeContentType(got, name); again != got {
			t.Fatalf("not idempotent: %q → %q → %q", ct, got, again)
		}
	})
}

// FuzzValidToken: a token is accepted exactly when it is the unpadded base64url text of 32
// bytes, in the one spelling the server makes.
func FuzzValidToken(f *testing.F) {
	f.Add("", []byte{})
	f.Add(base64.RawURLEncoding.EncodeToString(make([]byte, 32)), []byte("0123456789abcdef0123456789abcdef"))
	f.Add(strings.Repeat("A", 42)+"B", []byte{1, 2, 3})                                    // non-zero padding bits
	f.Add(strings.Repeat("A", 21)+"\n"+strings.Repeat("A", 21), []byte{0xff})              // a newline the decoder skips
	f.Add(base64.StdEncoding.EncodeToString(make([]byte, 32)), make([]byte, 40))           // padded, standard alphabet
	f.Add(strings.Repeat("_", 43), []byte(strings.Repeat("\xff", 32)))                     // all ones
	f.Add(strings.Repeat("-", 42)+"w", []byte("short"))                                    // 0xfb… ends in padding bits
	f.Add("%2e%2e%2f"+strings.Repeat("A", 34), []byte("the rest is the fuzzer's to find")) // percent-encoding
	f.Fuzz(func(t *testing.T, s string, raw []byte) {
		b, err := base64.RawURLEncoding.DecodeString(s)
		canonical := err == nil && len(b) == 32 && base64.RawURLEncoding.EncodeToString(b) == s
		if got := share.ValidToken(s); got != canonical {
			t.Fatalf("ValidToken(%q) = %v, want %v", s, got, canonical)
		}
		var tok [32]byte
		copy(tok[:], raw)
		if made := base64.RawURLEncoding.EncodeToString(tok[:]); !share.ValidToken(made) {
			t.Fatalf("ValidToken refuses a token the server makes: %q", made)
		}
	})
}

// FuzzParseCursor: a cursor is accepted exactly when Cursor.String makes that very text, and
// every cursor of a row's time round-trips.
func FuzzParseCursor(f *testing.F) {
	now := share.Cursor{CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 678000, time.UTC), ID: uuid.MustParse("6ba7b810-9dad-11d1-80b4-00c04fd430c8")}
	f.Add(now.String(), int64(1767323045678000), []byte(now.ID[:]))
	f.Add("", int64(0), []byte{})
	f.Add(strings.Repeat("_", 32), int64(-1), []byte("x"))
	f.Add(strings.Repeat("A", 16)+"\n"+strings.Repeat("A", 16), int64(253402300799999999), make([]byte, 16))
	f.Add(now.String()+"\r\n", int64(1), []byte("0123456789abcdef"))
	f.Fuzz(func(t *testing.T, s string, micros int64, id []byte) {
		c, err := share.ParseCursor(s)
		if err != nil {
			if !errors.Is(err, share.ErrInvalidCursor) {
				t.Fatalf("ParseCursor(%q): %v, want ErrInvalidCursor", s, err)
			}
		} else if c.String() != s {
			t.Fatalf("ParseCursor(%q) accepted another spelling of %q", s, c.String())
		} else if y := c.CreatedAt.UTC().Year(); y < 1970 || y > 9999 {
			// PostgreSQL could not hold it: pgx would wrap it around on its way to the query.
			t.Fatalf("ParseCursor(%q) accepted the time %s", s, c.CreatedAt)
		}
		// A row created any time from 1970 to 9999, at PostgreSQL's microsecond precision.
		micros = micros % 253402300800000000
		if micros < 0 {
			micros = -micros
		}
		var made share.Cursor
		made.CreatedAt = time.UnixMicro(micros)
		copy(made.ID[:], id)
		back, err := share.ParseCursor(made.String())
		if err != nil || !back.CreatedAt.Equal(made.CreatedAt) || back.ID != made.ID {
			t.Fatalf("cursor %+v → %q → %+v, %v", made, made.String(), back, err)
		}
	})
}
