package console

import "net/url"

// OriginOf is originOf, for the tests of package console_test.
func OriginOf(u *url.URL) string { return originOf(u) }
