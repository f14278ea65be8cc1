package admin

import (
	"strings"
	"testing"
)

func TestValidTenantName(t *testing.T) {
	t.Parallel()
	// Every tenant name the test suites and the benchmark use, and the usual shapes.
	for _, name := range []string{
		"default", "acme", "example.com", "t-1", "t1", "t2", "tenant-a", "tenant-b", "other", "evil",
		"corp", "via-fallback", "crash", "outage", "full", "race", "bench", "list1k", "list1m",
		"a", "7", "a_b", "sub.example.co.uk", "x--y", strings.Repeat("a", 63),
	} {
		if err := ValidTenantName(name); err != nil {
			t.Errorf("%q refused: %v", name, err)
		}
	}
	for _, name := range []string{
		"", " ", "../etc", "..", ".", "a/b", "a@b", "Acme", "ACME", "acme ", " acme", "-acme", "acme-",
		".acme", "acme.", "_acme", "acme_", "a b", "a\tb", "a\nb", "é", "acme\x00", "a:b", "a%2fb",
		strings.Repeat("a", 64),
	} {
		err := ValidTenantName(name)
		if err == nil {
			t.Errorf("%q accepted", name)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "invalid tenant name ") ||
			!strings.Contains(msg, "1–63 lower-case letters, digits, '.', '-' or '_', starting and ending with a letter or digit") {
			t.Errorf("%q: reason %q", name, msg)
		}
	}
}

func TestValidUserName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"alice", "alice@example.com", "bob.smith", "o'brien", "Zoë", "李雷", "carol+ops", "d-1_2",
		"José", strings.Repeat("a", 200),
	} {
		if err := ValidUserName(name); err != nil {
			t.Errorf("%q refused: %v", name, err)
		}
	}
	for name, why := range map[string]string{
		"":                               "empty",
		"al:ice":                         "':'",
		"al ice":                         "spaces",
		" alice":                         "spaces",
		"alice\u00a0":                    "spaces",
		"al\u200bice":                    "invisible", // zero-width space
		"al\u200dice":                    "invisible", // zero-width joiner
		"\u202ealice":                    "invisible", // right-to-left override
		"alice\ufeff":                    "invisible",
		"al\tice":                        "invisible",
		"al\x00ice":                      "invisible",
		"\uff41\uff4c\uff49\uff43\uff45": "NFKC", // full-width "alice"
		"Jose\u0301":                     "NFKC", // decomposed é
		"\ufb01sh":                       "NFKC", // the "fi" ligature
		"\xff\xfe":                       "UTF-8",
	} {
		err := ValidUserName(name)
		if err == nil {
			t.Errorf("%q accepted", name)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "invalid user name ") || !strings.Contains(msg, why) || strings.Contains(msg, "\n") {
			t.Errorf("%q: reason %q, want it to mention %q", name, msg, why)
		}
	}
}

func TestValidDisplayName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"", "ACME Support", "Zoë's Café", "李雷 客服", `<script>alert("x")</script> & "Co"`, "O'Brien & Sons, Ltd.",
		"ﬁsh", strings.Repeat("é", MaxDisplayNameLen), // NFC keeps compatibility characters
	} {
		if err := ValidDisplayName(name); err != nil {
			t.Errorf("%q refused: %v", name, err)
		}
	}
	for name, why := range map[string]string{
		strings.Repeat("a", MaxDisplayNameLen+1): "at most 100",
		" ACME":                                  "starts or ends with a space",
		"ACME ":                                  "starts or ends with a space",
		"ACME\u00a0Support":                      "spaces other than",
		"ACME\u2028Support":                      "control, format",
		"ACME\nSupport":                          "control, format",
		"ACME\tSupport":                          "control, format",
		"AC\x00ME":                               "control, format",
		"AC\u200bME":                             "control, format", // zero-width space
		"\u202eemag":                             "control, format", // right-to-left override
		"ACME\ufeff":                             "control, format",
		"AC\ue000ME":                             "private-use",
		"Cafe\u0301":                             "NFC", // decomposed é
		"\xff\xfe":                               "UTF-8",
	} {
		err := ValidDisplayName(name)
		if err == nil {
			t.Errorf("%q accepted", name)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "invalid display name ") || !strings.Contains(msg, why) || strings.Contains(msg, "\n") {
			t.Errorf("%q: reason %q, want it to mention %q", name, msg, why)
		}
	}
}
