package auth_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"fileshare/internal/auth"
)

// FuzzParseLogin: a login is split at its last @ (none: tenant default), and accepted exactly
// when both halves are 1 … 255 bytes of valid UTF-8 without control characters.
func FuzzParseLogin(f *testing.F) {
	for _, s := range []string{
		"alice@example.com", "alice@example.com@corp", "bob", "@", "@acme", "alice@", "a@b@",
		"ali\x00ce@acme", "alice\r\n@acme", "\xff@acme", "Ünïcødé@テナント", strings.Repeat("n", 255) + "@" + strings.Repeat("t", 255),
		strings.Repeat("n", 256) + "@t", "a@\u0085", "a@\u007f", "@@@",
		// Not UTF-8: a cut sequence, a surrogate, an overlong '/', past U+10FFFF, a lone
		// continuation byte, and a long login that is valid up to its last byte.
		"alice@acm\xc3", "\xed\xa0\x80@acme", "\xc0\xaf@acme", "alice@\xf4\x90\x80\x80", "a\x80b@t",
		strings.Repeat("é", 100) + "@t\xe2\x82",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, login string) {
		name, tenant, err := auth.ParseLogin(login)

		// The oracle: split at the last @ by hand, then the rules of docs/behaviour.md §1.
		wantName, wantTenant := login, auth.DefaultTenant
		if i := strings.LastIndex(login, "@"); i >= 0 {
			wantName, wantTenant = login[:i], login[i+1:]
		}
		// The length bound is the canonical spelling's, name@tenant, also for a bare name.
		valid := utf8.ValidString(login) && len(wantName)+1+len(wantTenant) <= auth.MaxLoginLen &&
			!strings.ContainsFunc(login, func(r rune) bool { return r < 0x20 || r == 0x7f }) &&
			wantName != "" && wantTenant != "" && len(wantName) <= 255 && len(wantTenant) <= 255

		if !valid {
			if !errors.Is(err, auth.ErrBadLogin) {
				t.Fatalf("ParseLogin(%q) = %q, %q, %v; want ErrBadLogin", login, name, tenant, err)
			}
			return
		}
		if err != nil || name != wantName || tenant != wantTenant {
			t.Fatalf("ParseLogin(%q) = %q, %q, %v; want %q, %q", login, name, tenant, err, wantName, wantTenant)
		}
		if strings.Contains(tenant, "@") || !auth.ValidName(name) || !auth.ValidName(tenant) {
			t.Fatalf("ParseLogin(%q) = %q, %q: not a valid user and tenant name", login, name, tenant)
		}
		// The canonical spelling names the same user.
		n2, t2, err := auth.ParseLogin(name + "@" + tenant)
		if err != nil || n2 != name || t2 != tenant {
			t.Fatalf("canonical %q parses as %q, %q, %v", name+"@"+tenant, n2, t2, err)
		}
	})
}
