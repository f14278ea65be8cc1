package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"fileshare/internal/auth"
	"fileshare/internal/blob"
	"fileshare/internal/share"
	"fileshare/internal/store"
	"fileshare/internal/webhook"
)

// Messages that are not the text of a domain error.
const (
	msgUnauthorized      = "unauthorized"
	msgUnavailable       = "service unavailable"
	msgInternal          = "internal server error"
	msgNotFound          = "not found"
	msgMethodNotAllowed  = "method not allowed"
	msgTooManyAttempts   = "too many failed login attempts"
	msgInvalidJSON       = "invalid JSON body"
	msgBodyTooLarge      = "request body too large"
	msgInvalidLimit      = "invalid limit"
	msgMalformedBody     = "malformed multipart body"
	msgOneFile           = "only one file part is allowed"
	msgTooManyParts      = "too many multipart parts"
	msgFieldTooLarge     = "form field too large"
	msgInsufficientSpace = "insufficient storage"
	msgOriginNotAllowed  = "origin not allowed"
)

// retryAfterUnavailable is what a client is told to wait while the database is unreachable.
const retryAfterUnavailable = "5"

// statusTable gives the HTTP status of each error a handler answers with its own text as the
// message. It is fixed: every such error of every file of this package is listed here.
var statusTable = [...]struct {
	err    error
	status int
}{
	{share.ErrFileRequired, http.StatusBadRequest},
	{share.ErrInvalidTTL, http.StatusBadRequest},
	{share.ErrNameRequired, http.StatusBadRequest},
	{share.ErrInvalidSize, http.StatusBadRequest},
	{share.ErrInvalidLabel, http.StatusBadRequest},
	{share.ErrSizeMismatch, http.StatusBadRequest},
	{share.ErrDigestMismatch, http.StatusBadRequest},
	{share.ErrInvalidCursor, http.StatusBadRequest},
	{errInvalidJSON, http.StatusBadRequest},
	{errInvalidLimit, http.StatusBadRequest},
	{errMalformed, http.StatusBadRequest},
	{errOneFile, http.StatusBadRequest},
	{errTooMany, http.StatusBadRequest},
	{errFieldTooBig, http.StatusBadRequest},
	{share.ErrUploadNotFound, http.StatusNotFound},
	{share.ErrSessionNotFound, http.StatusNotFound},
	{share.ErrFileNotFound, http.StatusNotFound},
	{share.ErrTokenNotFound, http.StatusNotFound},
	{errBodyTooSlow, http.StatusRequestTimeout},
	{errInvalidForm, http.StatusBadRequest},
	{share.ErrPINRequired, http.StatusForbidden},
	{share.ErrWrongPIN, http.StatusForbidden},
	{share.ErrTokenNotUnused, http.StatusConflict},
	{share.ErrAlreadyUploaded, http.StatusConflict},
	{share.ErrUploadInProgress, http.StatusConflict},
	{share.ErrTooManyUnfinished, http.StatusTooManyRequests},
	{share.ErrNotUploadedYet, http.StatusConflict},
	{share.ErrUploadExpired, http.StatusGone},
	{share.ErrSessionExpired, http.StatusGone},
	{share.ErrTokenUsed, http.StatusGone},
	{share.ErrTokenExpired, http.StatusGone},
	{share.ErrTokenRevoked, http.StatusGone},
	{share.ErrTokenLocked, http.StatusGone},
	{share.ErrUploadTokenExpired, http.StatusGone},
	{share.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{share.ErrQuotaExceeded, http.StatusInsufficientStorage},
	{errJSONTooLarge, http.StatusRequestEntityTooLarge},
	{webhook.ErrInvalidURL, http.StatusBadRequest},
	{webhook.ErrInvalidEvents, http.StatusBadRequest},
	{webhook.ErrInvalidOverlap, http.StatusBadRequest},
	{webhook.ErrNotFound, http.StatusNotFound},
	{webhook.ErrDeliveryNotFound, http.StatusNotFound},
	{webhook.ErrTooMany, http.StatusConflict},
	{webhook.ErrDisabled, http.StatusConflict},
	{webhook.ErrDeliveryPending, http.StatusConflict},
	// Resumable uploads (tus.go).
	{errTusLength, http.StatusBadRequest},
	{errTusMetadata, http.StatusBadRequest},
	{errTusOffset, http.StatusBadRequest},
	{share.ErrTusOffsetMismatch, http.StatusConflict},
	{errTusVersion, http.StatusPreconditionFailed},
	{share.ErrTusLengthExceeded, http.StatusRequestEntityTooLarge},
	{errTusContentType, http.StatusUnsupportedMediaType},
	{share.ErrTusLocked, http.StatusLocked},
}

// statusOf returns the status of an error of statusTable that err is (or wraps), and that
// error, whose text is the message.
func statusOf(err error) (int, error, bool) {
	for _, e := range statusTable {
		if errors.Is(err, e.err) {
			return e.status, e.err, true
		}
	}
	return 0, nil, false
}

// fail answers err: a domain error with its status and text, anything else as 503 (database
// unreachable) or 500, never with the error's own text.
func (h *handlers) fail(c *gin.Context, err error) {
	if status, known, ok := statusOf(err); ok {
		// A refused webhook URL says why beside its fixed message.
		if ue, isURL := errors.AsType[*webhook.URLError](err); isURL {
			respondErrorWith(c, status, known.Error(), gin.H{"reason": ue.Reason})
			return
		}
		respondError(c, status, known.Error())
		return
	}
	var throttled *auth.ThrottledError
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, auth.ErrUnauthorized), errors.Is(err, share.ErrUploadTokenInvalid):
		unauthorized(c)
	case errors.As(err, &throttled):
		c.Header("Retry-After", strconv.Itoa(max(1, int(throttled.RetryAfter.Seconds()+0.999))))
		respondError(c, http.StatusTooManyRequests, msgTooManyAttempts)
	case errors.As(err, &tooBig):
		respondError(c, http.StatusRequestEntityTooLarge, share.ErrTooLarge.Error())
	case errors.Is(err, blob.ErrInsufficientStorage):
		respondError(c, http.StatusInsufficientStorage, msgInsufficientSpace)
	case c.Request.Context().Err() != nil:
		// The client went away; nobody reads this answer, but the log shows what happened.
		respondError(c, 499, "client closed request")
	case errors.Is(err, store.ErrUnavailable):
		h.log.Warn("database unavailable", "path", redactPath(c.Request.URL.Path), "err", err)
		c.Header("Retry-After", retryAfterUnavailable)
		respondError(c, http.StatusServiceUnavailable, msgUnavailable)
	default:
		h.log.Error("internal error", "path", redactPath(c.Request.URL.Path), "err", err)
		respondError(c, http.StatusInternalServerError, msgInternal)
	}
}

func unauthorized(c *gin.Context) {
	c.Header("WWW-Authenticate", `Basic realm="fileshare"`)
	respondError(c, http.StatusUnauthorized, msgUnauthorized)
}

// errorKey is where respondError leaves the message for the request log.
const errorKey = "fileshare.error"

// respondError writes {"message": msg} with status and aborts the handler chain.
func respondError(c *gin.Context, status int, msg string) {
	respondErrorWith(c, status, msg, nil)
}

// respondErrorWith writes {"message": msg} and the fields of extra with status, and aborts the
// handler chain.
func respondErrorWith(c *gin.Context, status int, msg string, extra gin.H) {
	c.Set(errorKey, msg)
	c.Header("Content-Type", "application/json; charset=utf-8")
	c.Header("Cache-Control", "no-store")
	body := gin.H{"message": msg}
	for k, v := range extra {
		body[k] = v
	}
	c.AbortWithStatusJSON(status, body)
}

// msgUploadExpired is the message of the answer whose error line keeps the upload's id.
var msgUploadExpired = share.ErrUploadExpired.Error()

// logError writes the error line of docs/behaviour.md §2. An upload id stays in it when the
// upload is expired (the line operators know, and that id opens nothing); every other
// capability is redacted — an unknown upload's id too, which may be another capability (a tus
// upload's) tried at the wrong route.
func logError(log *slog.Logger, c *gin.Context, msg string, status int) {
	path := redactPath(c.Request.URL.Path)
	if msg == msgUploadExpired {
		path = redactPathKeepingUpload(c.Request.URL.Path)
	}
	log.Warn("Error at "+path+": message="+msg+", status="+strconv.Itoa(status),
		"request_id", c.GetString(requestIDKey))
}
