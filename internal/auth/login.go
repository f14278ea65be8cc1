package auth

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// DefaultTenant is the tenant of a login without @.
const DefaultTenant = "default"

// MaxLoginLen is the longest login, in bytes, that can name a user; a longer one is a wrong
// login like any other. It bounds the canonical spelling name@tenant, so that a bare name
// (tenant default) is refused when name@default would be: every user has one canonical
// login, and each spelling of it is accepted or refused alike.
const MaxLoginLen = 256

// ErrBadLogin is returned by ParseLogin for a login that names no user.
var ErrBadLogin = errors.New("login must be name@tenant (or a bare name for the default tenant)")

// ParseLogin splits login at its last @ into user name and tenant name. A login without @
// belongs to DefaultTenant.
func ParseLogin(login string) (name, tenant string, err error) {
	if !utf8.ValidString(login) || len(login) > MaxLoginLen || strings.ContainsFunc(login, isControl) {
		return "", "", ErrBadLogin
	}
	i := strings.LastIndexByte(login, '@')
	if i < 0 {
		name, tenant = login, DefaultTenant
	} else {
		name, tenant = login[:i], login[i+1:]
	}
	if name == "" || tenant == "" || len(name) > 255 || len(tenant) > 255 || len(name)+1+len(tenant) > MaxLoginLen {
		return "", "", ErrBadLogin
	}
	return name, tenant, nil
}

// ValidName reports whether s may name a tenant or a user.
func ValidName(s string) bool {
	return s != "" && len(s) <= 255 && utf8.ValidString(s) && !strings.ContainsFunc(s, isControl)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
