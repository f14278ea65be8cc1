package auth_test

import (
	"strings"
	"testing"

	"fileshare/internal/auth"
)

// cheap keeps the tests fast; the parameters are stored in the hash, so verification uses them.
var cheap = auth.Params{Memory: 1024, Time: 1, Threads: 1}

func TestHashAndVerifyPassword(t *testing.T) {
	t.Parallel()
	h, err := auth.HashPassword("correct horse", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Errorf("hash %q is not an argon2id PHC string with the given parameters", h)
	}
	if strings.Contains(h, "correct horse") {
		t.Errorf("hash %q contains the password", h)
	}
	for pw, want := range map[string]bool{
		"correct horse":  true,
		"correct horsE":  false,
		"correct horse ": false,
		"correct hors":   false,
		"":               false,
		strings.Repeat("x", auth.MaxPasswordLen+1): false,
	} {
		ok, err := auth.VerifyPassword(h, pw)
		if err != nil || ok != want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}

	// A fresh salt every time: equal passwords do not have equal hashes.
	h2, err := auth.HashPassword("correct horse", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	if ok, _ := auth.VerifyPassword(h2, "correct horse"); !ok {
		t.Error("second hash does not verify")
	}

	// The default parameters are the production ones (OWASP: at least 19 MiB, 2 passes).
	if auth.DefaultParams.Memory < 19*1024 || auth.DefaultParams.Time < 2 {
		t.Errorf("DefaultParams %+v are weaker than OWASP's argon2id recommendation", auth.DefaultParams)
	}
}

func TestHashPasswordRefuses(t *testing.T) {
	t.Parallel()
	if _, err := auth.HashPassword("", cheap); err == nil {
		t.Error("empty password hashed")
	}
	if _, err := auth.HashPassword(strings.Repeat("x", auth.MaxPasswordLen+1), cheap); err == nil {
		t.Error("over-long password hashed")
	}
	if _, err := auth.HashPassword(strings.Repeat("x", auth.MaxPasswordLen), cheap); err != nil {
		t.Errorf("password of the maximum length: %v", err)
	}
}

func TestVerifyPasswordMalformedHash(t *testing.T) {
	t.Parallel()
	good, err := auth.HashPassword("pw", cheap)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	for _, h := range []string{
		"",
		"plain text",
		"$2a$10$abcdefghijklmnopqrstuu5Jcv0hJ3bY5ZBo6E3Rw/Tb6s6Rb6vG", // bcrypt
		strings.Replace(good, "argon2id", "argon2i", 1),
		strings.Replace(good, "v=19", "v=16", 1),
		strings.Join([]string{parts[0], parts[1], parts[2], "m=x,t=1,p=1", parts[4], parts[5]}, "$"),
		strings.Join([]string{parts[0], parts[1], parts[2], parts[3], "!!!", parts[5]}, "$"),
		strings.Join([]string{parts[0], parts[1], parts[2], parts[3], parts[4], ""}, "$"),
		strings.Join(parts[:5], "$"),
	} {
		if ok, err := auth.VerifyPassword(h, "pw"); ok || err == nil {
			t.Errorf("VerifyPassword(%q) = %v, %v; want false and an error", h, ok, err)
		}
	}
}
