package admin

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxTenantNameLen is the longest tenant name, in characters: a DNS label's length, so that a
// tenant may be named after its customer's domain.
const MaxTenantNameLen = 63

// ValidTenantName reports, as an error, a name that cannot be a new tenant's. A tenant name is
// 1 to 63 characters: lower-case ASCII letters, digits, '.', '-' and '_', starting and ending
// with a letter or a digit (`acme`, `example.com`, `t-1`, `default`). The name appears in logins
// (`alice@example.com`), in logs and in operators' scripts, so nothing in it needs quoting: no
// spaces, no '@', no '/', no upper case that would make `Acme` and `acme` two tenants.
//
// Only new tenants are checked: a tenant created before the rule keeps working and can still
// be deleted by its name.
func ValidTenantName(name string) error {
	if !tenantNameOK(name) {
		return fmt.Errorf("invalid tenant name %q: use 1–%d lower-case letters, digits, '.', '-' or '_', starting and ending with a letter or digit", name, MaxTenantNameLen)
	}
	return nil
}

func tenantNameOK(name string) bool {
	if len(name) < 1 || len(name) > MaxTenantNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '.' || c == '-' || c == '_':
			if i == 0 || i == len(name)-1 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// ValidUserName reports, as an error, a name that cannot be a new user's. A user name is text
// people read and type in a login (`alice@acme`), so two names must never look alike: it is
// valid UTF-8 in its compatibility-composed form (NFKC: no full-width `ａｌｉｃｅ`, no ligatures,
// no decomposed accents — the form `é` arrives in matters), without control, format (zero-width
// space or joiner, bidirectional marks), private-use or space characters, and without `:`,
// which Basic Auth cannot carry in a user name. Like tenant names, only new users are checked.
func ValidUserName(name string) error {
	why := userNameProblem(name)
	if why == "" {
		return nil
	}
	return fmt.Errorf("invalid user name %q: %s", name, why)
}

func userNameProblem(name string) string {
	switch {
	case name == "":
		return "it is empty"
	case !utf8.ValidString(name):
		return "it is not valid UTF-8"
	case strings.ContainsRune(name, ':'):
		return "':' cannot be part of a Basic Auth user name"
	case strings.ContainsFunc(name, func(r rune) bool {
		return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Zs, unicode.Zl, unicode.Zp) || unicode.IsSpace(r)
	}):
		return "spaces and invisible (control, format, zero-width) characters are not allowed"
	case !norm.NFKC.IsNormalString(name):
		return fmt.Sprintf("write it in its normalized form %q (Unicode NFKC), so that no two names look alike", norm.NFKC.String(name))
	}
	return ""
}
