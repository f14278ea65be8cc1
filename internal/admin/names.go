package admin

import "fmt"

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
