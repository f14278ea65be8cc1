package testutil

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"
)

// ValidateResponse checks only the answers of routes it finds in the document, so a document
// whose routes it could not find (a server it cannot match, say) would check nothing and fail
// no test. Every operation of the document must be found, at its own path.
func TestOpenAPIRouterFindsEveryOperation(t *testing.T) {
	doc := OpenAPIDocument(t)
	router, err := openAPIRouter()
	if err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	n := 0
	for path, item := range doc.Paths.Map() {
		concrete := param.ReplaceAllString(path, "88e5905d-5d96-4750-ab3d-77a1ed26f569")
		for method := range item.Operations() {
			req := &http.Request{Method: method, URL: &url.URL{Path: concrete}}
			route, _, err := router.FindRoute(req)
			if err != nil {
				t.Errorf("%s %s: %v", method, concrete, err)
				continue
			}
			if route.Path != path {
				t.Errorf("%s %s routes to %s, not %s", method, concrete, route.Path, path)
			}
			n++
		}
	}
	if n < 30 {
		t.Errorf("only %d operations found", n)
	}
}

// The schema of the webhook bodies is no blank check: each event type's data is held to its own
// fields.
func TestWebhookEventSchema(t *testing.T) {
	const (
		id  = "88e5905d-5d96-4750-ab3d-77a1ed26f569"
		sha = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
		ts  = "2026-05-04T10:11:12.345Z"
	)
	good := []string{
		`{"type":"upload.expired","timestamp":"` + ts + `","data":{"uploadId":"` + id + `","name":"a.txt","contentType":"text/plain","size":3,"sha256":"` + sha + `","createdBy":"alice@acme","expiresAt":"` + ts + `","login":null}}`,
		`{"type":"session.deleted","timestamp":"` + ts + `","data":{"sessionId":"` + id + `","createdBy":"alice@acme","expiresAt":"` + ts + `","files":0,"login":"alice@acme"}}`,
		`{"type":"file.deleted","timestamp":"` + ts + `","data":{"sessionId":"` + id + `","fileId":"` + id + `","name":"a.txt","contentType":"text/plain","size":null,"sha256":"","login":"alice@acme"}}`,
		`{"type":"file.stored","timestamp":"` + ts + `","data":{"sessionId":"` + id + `","fileId":"` + id + `","name":"a.txt","contentType":"text/plain","size":3,"sha256":"` + sha + `","login":null,"uploaderAddress":"203.0.113.7"}}`,
		`{"type":"token.delivered","timestamp":"` + ts + `","data":{"sessionId":"` + id + `","fileId":"` + id + `","ref":"` + id + `","name":"a.txt","contentType":"text/plain","size":3,"sha256":"` + sha + `","consumerAddress":"203.0.113.7","bytesSent":3,"login":null}}`,
		`{"type":"webhook.test","timestamp":"` + ts + `","data":{"webhookId":"` + id + `","login":"alice@acme"}}`,
		`{"type":"webhook.disabled","timestamp":"` + ts + `","data":{"webhookId":"` + id + `","url":"https://hooks.example.com/","disabledAt":"` + ts + `","reason":"every delivery attempt failed since 2026-05-04T10:11:12Z","login":null}}`,
	}
	for _, b := range good {
		if err := ValidateWebhookEvent([]byte(b)); err != nil {
			t.Errorf("%s: %v", b, err)
		}
	}
	bad := map[string]string{
		"unknown type":              `{"type":"upload.renamed","timestamp":"` + ts + `","data":{"uploadId":"` + id + `","name":"a.txt","contentType":"text/plain","size":3,"sha256":"` + sha + `","createdBy":"alice@acme","expiresAt":"` + ts + `","login":null}}`,
		"token event without ref":   `{"type":"token.consumed","timestamp":"` + ts + `","data":{"sessionId":"` + id + `","fileId":"` + id + `","name":"a.txt","contentType":"text/plain","size":3,"sha256":"` + sha + `","consumerAddress":null,"login":null}}`,
		"upload data on file event": `{"type":"file.stored","timestamp":"` + ts + `","data":{"uploadId":"` + id + `","name":"a.txt","contentType":"text/plain","size":3,"sha256":"` + sha + `","createdBy":"alice@acme","expiresAt":"` + ts + `","login":null}}`,
		"digest not hex":            `{"type":"upload.stored","timestamp":"` + ts + `","data":{"uploadId":"` + id + `","name":"a.txt","contentType":"text/plain","size":3,"sha256":"ABC","createdBy":"alice@acme","expiresAt":"` + ts + `","login":"alice@acme"}}`,
		"no data":                   `{"type":"session.expired","timestamp":"` + ts + `"}`,
		"disabled without reason":   `{"type":"webhook.disabled","timestamp":"` + ts + `","data":{"webhookId":"` + id + `","url":"https://hooks.example.com/","disabledAt":"` + ts + `","login":null}}`,
	}
	for what, b := range bad {
		if err := ValidateWebhookEvent([]byte(b)); err == nil {
			t.Errorf("%s: accepted %s", what, b)
		}
	}
}
