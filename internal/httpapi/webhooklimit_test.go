package httpapi_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"fileshare/internal/testutil"
)

// A tenant has at most 16 webhook endpoints (a 17th → 409 too many webhooks), also when it
// creates them concurrently; another tenant is not affected, and deleting one frees a place.
func TestWebhookEndpointsPerTenantAreBounded(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	e.AddUser(sessBob, sessPW)
	create := func(login string, i int) *testutil.Response {
		return sessCall(t, e, http.MethodPost, "/webhooks", login, map[string]any{"url": fmt.Sprintf("https://93.184.215.14/hook/%d", i)})
	}
	for i := range 10 {
		if r := create(sessAlice, i); r.StatusCode != http.StatusCreated {
			t.Fatalf("endpoint %d: %d %s", i, r.StatusCode, r.Body)
		}
	}
	// Ten more at once: exactly six get a place.
	var (
		mu      sync.Mutex
		created int
		wg      sync.WaitGroup
	)
	for i := 10; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := create(sessAlice, i)
			switch r.StatusCode {
			case http.StatusCreated:
				mu.Lock()
				created++
				mu.Unlock()
			case http.StatusConflict:
				if string(r.Body) != `{"message":"too many webhooks"}` {
					t.Errorf("refusal: %s", r.Body)
				}
			default:
				t.Errorf("endpoint %d: %d %s", i, r.StatusCode, r.Body)
			}
		}()
	}
	wg.Wait()
	if created != 6 {
		t.Fatalf("%d of 10 concurrent creations got a place, want 6 (16 in all)", created)
	}
	testutil.WantError(t, create(sessAlice, 99), http.StatusConflict, "too many webhooks")
	list := testutil.Decode[[]struct{ ID string }](t, sessCall(t, e, http.MethodGet, "/webhooks?limit=100", sessAlice, nil), http.StatusOK)
	if len(list) != 16 {
		t.Fatalf("%d endpoints listed, want 16", len(list))
	}
	// Another tenant has its own 16.
	if r := create(sessBob, 0); r.StatusCode != http.StatusCreated {
		t.Fatalf("another tenant's endpoint: %d %s", r.StatusCode, r.Body)
	}
	// Deleting one frees a place.
	if r := sessCall(t, e, http.MethodDelete, "/webhooks/"+list[0].ID, sessAlice, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", r.StatusCode)
	}
	if r := create(sessAlice, 100); r.StatusCode != http.StatusCreated {
		t.Fatalf("after a deletion: %d %s", r.StatusCode, r.Body)
	}
}
