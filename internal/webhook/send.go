package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"fileshare/internal/store"
)

// answerLimit is how much of an answer's body is read (and dropped) before the connection is
// reused.
const answerLimit = 64 << 10

// post sends the event to the endpoint, signed, and returns the answer's status, or why there
// was none. The cause never holds the URL, which may carry a receiver's own credentials in its
// query.
func (d *Dispatcher) post(ctx context.Context, row store.Delivery) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opt.Timeout)
	defer cancel()
	body := []byte(row.Body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, row.URL, bytes.NewReader(body))
	if err != nil {
		return 0, errors.New("invalid url")
	}
	id := row.EventID.String()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "fileshare-webhooks")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", ts)
	sig := Sign(row.Secret, id, ts, body)
	if row.PreviousSecret != nil {
		// A rotation's overlap: the receiver may still hold the previous secret. Standard
		// Webhooks separates signatures by spaces; a receiver needs one to match.
		sig += " " + Sign(row.PreviousSecret, id, ts, body)
	}
	req.Header.Set("webhook-signature", sig)
	resp, err := d.http.Do(req)
	if err != nil {
		return 0, describe(err, d.opt.Timeout)
	}
	// The status is the answer; the body is read only so that the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, answerLimit))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// describe says why an attempt got no answer, without the URL.
func describe(err error, timeout time.Duration) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, errRefusedAddress):
		var oe *net.OpError
		if errors.As(err, &oe) {
			return oe.Err // "refused address …"
		}
		return err
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("no answer within %s", timeout)
	}
	return err
}

func outcomeOf(status int, cause error) string {
	switch {
	case status >= 200 && status < 300:
		return outcomeDelivered
	case status != 0:
		return outcomeStatus
	case errors.Is(cause, errRefusedAddress):
		return outcomeRefused
	}
	return outcomeNoAnswer
}
