package webhook_test

// Deliveries verified by the official Standard Webhooks JavaScript library (npm
// standardwebhooks, in internal/webhook/jsverify at the versions of its package-lock.json),
// as a receiver written in JavaScript verifies them.

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// whJSCase is a delivery for the JavaScript library to verify with a secret.
type whJSCase struct {
	Name    string            `json:"name"`
	Secret  string            `json:"secret"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	// Want is whether it must verify.
	Want bool `json:"-"`
}

// whJS is the case of delivery d verified with secret.
func whJS(name, secret string, d whDelivery, want bool) whJSCase {
	h := map[string]string{}
	for k := range d.Header {
		h[k] = d.Header.Get(k)
	}
	return whJSCase{Name: name, Secret: secret, Headers: h, Body: string(d.Body), Want: want}
}

// whVerifyJS runs the JavaScript library on the cases and fails the test on each whose outcome
// is not the one it wants. A missing Node or library fails the test, saying what to run.
func whVerifyJS(t *testing.T, cases ...whJSCase) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: the Standard Webhooks JavaScript check needs Node 18 or later (Debian package nodejs)")
	}
	dir, err := filepath.Abs("jsverify")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "standardwebhooks")); err != nil {
		t.Fatalf("the standardwebhooks library is not installed: run `npm ci` in %s (scripts/test.sh does)", dir)
	}
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "verify.js")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node verify.js: %v\n%s", err, stderr.String())
	}
	var results []struct {
		Name  string `json:"name"`
		OK    bool   `json:"ok"`
		Type  string `json:"type"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(out, &results); err != nil || len(results) != len(cases) {
		t.Fatalf("node verify.js answered %s (%v)", out, err)
	}
	for i, r := range results {
		if r.OK != cases[i].Want {
			t.Errorf("standardwebhooks (JavaScript), %s: verified %v, want %v (%s)", r.Name, r.OK, cases[i].Want, r.Error)
		}
	}
}
