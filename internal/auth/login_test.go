package auth_test

import (
	"errors"
	"strings"
	"testing"

	"fileshare/internal/auth"
)

func TestParseLogin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ login, name, tenant string }{
		{"alice@example.com", "alice", "example.com"},
		{"alice@example.com@corp", "alice@example.com", "corp"},
		{"bob@corp@example.com", "bob@corp", "example.com"},
		{"bob", "bob", auth.DefaultTenant},
		{"a@b", "a", "b"},
		{"Ünïcødé@テナント", "Ünïcødé", "テナント"},
		{"with space@acme", "with space", "acme"},
		{strings.Repeat("n", 200) + "@" + strings.Repeat("t", 55), strings.Repeat("n", 200), strings.Repeat("t", 55)},
		{strings.Repeat("n", 248), strings.Repeat("n", 248), auth.DefaultTenant}, // name@default is 256 bytes
	} {
		name, tenant, err := auth.ParseLogin(tc.login)
		if err != nil || name != tc.name || tenant != tc.tenant {
			t.Errorf("ParseLogin(%q) = %q, %q, %v; want %q, %q", tc.login, name, tenant, err, tc.name, tc.tenant)
		}
	}
	if auth.DefaultTenant != "default" {
		t.Errorf("DefaultTenant %q, want default", auth.DefaultTenant)
	}
}

func TestParseLoginRefuses(t *testing.T) {
	t.Parallel()
	for _, login := range []string{
		"",
		"@",
		"@acme",
		"alice@",
		"alice@example.com@",
		"ali\x00ce@acme",
		"alice\n@acme",
		"alice@ac\tme",
		"alice@acme\x7f",
		"\xff\xfe@acme",
		strings.Repeat("n", 256) + "@acme",
		strings.Repeat("n", 255) + "@" + strings.Repeat("t", 255), // each part fits, the login does not
		strings.Repeat("n", 128) + "@" + strings.Repeat("t", 128),
		"alice@" + strings.Repeat("t", 256),
		strings.Repeat("n", 600),
		strings.Repeat("n", 249), // bare, but name@default would be 257 bytes
	} {
		if name, tenant, err := auth.ParseLogin(login); !errors.Is(err, auth.ErrBadLogin) {
			t.Errorf("ParseLogin(%q) = %q, %q, %v; want ErrBadLogin", login, name, tenant, err)
		}
	}
}

func TestValidName(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"acme": true, "example.com": true, "テナント": true, "": false, "a\nb": false,
		strings.Repeat("x", 255): true, strings.Repeat("x", 256): false, "\xff": false,
	} {
		if got := auth.ValidName(s); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", s, got, want)
		}
	}
}
