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

// MaxDisplayNameLen is the longest display name, in characters: room for a company and a
// department ("ACME Support"), not for a message.
const MaxDisplayNameLen = 100

// ValidDisplayName reports, as an error, a tenant display name that cannot be shown to
// recipients; "" is valid and means none. The name is shown on landing pages as "<name> sent
// you a file", where a recipient decides whether to trust the link, so it must read as what it
// is: valid UTF-8 in its composed form (NFC, so that one name is stored one way), at most 100
// characters, without control, format (bidirectional overrides, zero-width characters),
// private-use or line-breaking characters, and with no space but the plain one, none at either
// end. The page escapes it as text: '<' or '"' are allowed and shown as themselves.
func ValidDisplayName(name string) error {
	why := displayNameProblem(name)
	if why == "" {
		return nil
	}
	return fmt.Errorf("invalid display name %q: %s", name, why)
}

func displayNameProblem(name string) string {
	switch {
	case name == "":
		return ""
	case !utf8.ValidString(name):
		return "it is not valid UTF-8"
	case utf8.RuneCountInString(name) > MaxDisplayNameLen:
		return fmt.Sprintf("it has %d characters, at most %d are allowed", utf8.RuneCountInString(name), MaxDisplayNameLen)
	case strings.ContainsFunc(name, func(r rune) bool {
		return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs, unicode.Zl, unicode.Zp) ||
			r != ' ' && (unicode.IsSpace(r) || unicode.Is(unicode.Zs, r))
	}):
		return "control, format (bidirectional, zero-width), private-use characters and spaces other than ' ' are not allowed"
	case strings.TrimSpace(name) != name:
		return "it starts or ends with a space"
	case !norm.NFC.IsNormalString(name):
		return fmt.Sprintf("write it in its composed form %q (Unicode NFC)", norm.NFC.String(name))
	}
	return ""
}
