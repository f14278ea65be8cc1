package testutil

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"fileshare/api"
)

var (
	specOnce   sync.Once
	specDoc    *openapi3.T
	specRouter routers.Router
	specErr    error
)

func openAPIRouter() (routers.Router, error) {
	_, router, err := openAPI()
	return router, err
}

// openAPI loads api/openapi.yaml once, validated, with a router over its paths.
func openAPI() (*openapi3.T, routers.Router, error) {
	specOnce.Do(func() {
		// The validator decodes no HTML by itself: the landing pages of one-time links are
		// text, validated against their schema (a string) like text/plain.
		openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(api.OpenAPI)
		if err != nil {
			specErr = err
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			specErr = err
			return
		}
		specDoc = doc
		// Route on the path alone: the document's one server is a template of the public URL,
		// which the test servers are not. A copy, so that specDoc keeps its servers.
		routed := *doc
		routed.Servers = nil
		specRouter, specErr = gorillamux.NewRouter(&routed)
	})
	return specDoc, specRouter, specErr
}

// OpenAPIDocument returns api/openapi.yaml, loaded and validated.
func OpenAPIDocument(t testing.TB) *openapi3.T {
	t.Helper()
	doc, _, err := openAPI()
	if err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	return doc
}

// ValidateWebhookEvent checks the body of a webhook delivery against the schema WebhookEvent of
// api/openapi.yaml, which the document gives as the body of its webhook callback.
func ValidateWebhookEvent(body []byte) error {
	doc, _, err := openAPI()
	if err != nil {
		return fmt.Errorf("api/openapi.yaml: %w", err)
	}
	ref := doc.Components.Schemas["WebhookEvent"]
	if ref == nil || ref.Value == nil {
		return errors.New("api/openapi.yaml has no schema WebhookEvent")
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	if err := ref.Value.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		return fmt.Errorf("does not match WebhookEvent of api/openapi.yaml: %w", err)
	}
	return nil
}

// ValidateResponse checks an answer against api/openapi.yaml, so that the document cannot drift
// from the code. Answers of routes the document does not know (unknown paths) are not checked.
func ValidateResponse(t testing.TB, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	router, err := openAPIRouter()
	if err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	// Route on the path alone: the server's host is not in the document.
	u := *req.URL
	u.Scheme, u.Host = "", ""
	r := req.Clone(req.Context())
	r.URL = &url.URL{Path: u.Path, RawQuery: u.RawQuery}
	route, params, err := router.FindRoute(r)
	if err != nil {
		return
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      route,
		Options:    &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true},
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s → %d does not match api/openapi.yaml: %v\nbody: %.300s", req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
}
