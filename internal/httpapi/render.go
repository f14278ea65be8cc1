package httpapi

import (
	"encoding/hex"
	"fileshare/internal/share"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// baseURL is the absolute URL under which the service is reached.
func (h *handlers) baseURL(c *gin.Context) string {
	if h.publicURL != "" {
		return h.publicURL
	}
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host
}

type sessionJSON struct {
	ID        uuid.UUID `json:"id"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	CreatedBy string    `json:"createdBy"`
	FileCount int64     `json:"fileCount"`
}

func toSessionJSON(s share.Session) sessionJSON {
	return sessionJSON{ID: s.ID, CreatedAt: s.CreatedAt.UTC(), ExpiresAt: s.ExpiresAt.UTC(), CreatedBy: s.CreatedBy, FileCount: s.FileCount}
}

type fileJSON struct {
	ID          uuid.UUID `json:"id"`
	SessionID   uuid.UUID `json:"sessionId"`
	Name        string    `json:"name"`
	ContentType string    `json:"contentType"`
	Size        *int64    `json:"size"`
	SHA256      *string   `json:"sha256"`
	State       string    `json:"state"`
	CreatedAt   time.Time `json:"createdAt"`
	ExpiresAt   time.Time `json:"expiresAt"`
}

func toFileJSON(f share.File) fileJSON {
	out := fileJSON{
		ID: f.ID, SessionID: f.SessionID, Name: f.Name, ContentType: f.ContentType, Size: f.Size,
		State: f.State, CreatedAt: f.CreatedAt.UTC(), ExpiresAt: f.ExpiresAt.UTC(),
	}
	if f.SHA256 != nil {
		s := hex.EncodeToString(f.SHA256)
		out.SHA256 = &s
	}
	return out
}

// setNextLink adds the Link header of the next page.
func (h *handlers) setNextLink(c *gin.Context, path string, limit int, next *share.Cursor) {
	if next == nil {
		return
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}, "after": {next.String()}}
	c.Header("Link", "<"+h.baseURL(c)+path+"?"+q.Encode()+`>; rel="next"`)
}

type tokenJSON struct {
	ID        string    `json:"id"`
	Ref       uuid.UUID `json:"ref"`
	FileID    uuid.UUID `json:"fileId"`
	SessionID uuid.UUID `json:"sessionId"`
	URL       string    `json:"url"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	// PIN is there only for a token made with one, and only in the creation answer.
	PIN string `json:"pin,omitempty"`
	// Label is there only for a token made with one.
	Label string `json:"label,omitempty"`
}

// tokenStatusJSON is a token in its file entry's token list: the token itself is never shown
// again, its ref names it.
type tokenStatusJSON struct {
	Ref             uuid.UUID  `json:"ref"`
	FileID          uuid.UUID  `json:"fileId"`
	SessionID       uuid.UUID  `json:"sessionId"`
	CreatedAt       time.Time  `json:"createdAt"`
	ExpiresAt       time.Time  `json:"expiresAt"`
	State           string     `json:"state"`
	ConsumedAt      *time.Time `json:"consumedAt"`
	DeliveredAt     *time.Time `json:"deliveredAt"`
	ViewedAt        *time.Time `json:"viewedAt"`
	ConsumerAddress *string    `json:"consumerAddress"`
	PIN             bool       `json:"pin"`
	BytesSent       int64      `json:"bytesSent"`
	Label           *string    `json:"label"`
}

func toTokenStatusJSON(t share.TokenStatus) tokenStatusJSON {
	out := tokenStatusJSON{
		Ref: t.Ref, FileID: t.FileID, SessionID: t.SessionID, CreatedAt: t.CreatedAt.UTC(), ExpiresAt: t.ExpiresAt.UTC(),
		State: t.State, ConsumedAt: utcOrNil(t.ConsumedAt), DeliveredAt: utcOrNil(t.DeliveredAt), ViewedAt: utcOrNil(t.ViewedAt), PIN: t.PIN, BytesSent: t.BytesSent,
	}
	if t.ConsumerAddress != nil {
		a := t.ConsumerAddress.String()
		out.ConsumerAddress = &a
	}
	if t.Label != "" {
		out.Label = &t.Label
	}
	return out
}

func utcOrNil(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

type uploadJSON struct {
	ID          uuid.UUID `json:"id"`
	Name        string    `json:"name"`
	Size        int64     `json:"size"`
	ContentType string    `json:"contentType"`
	SHA256      string    `json:"sha256"`
	CreatedAt   time.Time `json:"createdAt"`
	ExpiresAt   time.Time `json:"expiresAt"`
	URL         string    `json:"url"`
}
