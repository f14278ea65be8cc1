package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"fileshare/internal/share"
)

// The console's JSON calls, under /console/api: what its scripts need, through the share
// service with the signed-in user as the principal (so every rule of the API holds), shaped
// for the pages rather than for integrators. They are no part of the API document.

// maxListed bounds what one page shows: a tenant's newest sessions, a session's first files,
// a file's first links. A poll of a session page costs at most 1 + maxListed list queries.
const maxListed = 100

// maxLinksAtOnce bounds the links one request makes.
const maxLinksAtOnce = 20

// errBadTTL refuses a lifetime that is not one of the form's choices; errLinksRequest a
// request for links that makes none or too many.
var (
	errBadTTL       = share.ErrInvalidTTL
	errLinksRequest = errors.New("between 1 and 20 links at once")
)

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
	ID          uuid.UUID  `json:"id"`
	Name        string     `json:"name"`
	ContentType string     `json:"contentType"`
	Size        *int64     `json:"size"`
	State       string     `json:"state"`
	CreatedAt   time.Time  `json:"createdAt"`
	Links       []linkJSON `json:"links"`
	MoreLinks   bool       `json:"moreLinks"`
}

// linkJSON is a one-time link as the console shows it. State is the console's reading of the
// token's: unused, viewed (its landing page was shown, perhaps only to a preview bot),
// downloading (consumed, not yet every byte), delivered, expired, revoked or locked.
type linkJSON struct {
	Ref             uuid.UUID  `json:"ref"`
	Label           string     `json:"label"`
	PIN             bool       `json:"pin"`
	State           string     `json:"state"`
	CreatedAt       time.Time  `json:"createdAt"`
	ExpiresAt       time.Time  `json:"expiresAt"`
	ViewedAt        *time.Time `json:"viewedAt"`
	ConsumedAt      *time.Time `json:"consumedAt"`
	DeliveredAt     *time.Time `json:"deliveredAt"`
	ConsumerAddress string     `json:"consumerAddress"`
	BytesSent       int64      `json:"bytesSent"`
}

// Link states that the console adds to the token's.
const (
	linkViewed      = "viewed"
	linkDownloading = "downloading"
)

// linkState is the console's reading of a token's state.
func linkState(t share.TokenStatus) string {
	switch {
	case t.State == share.TokenConsumed:
		return linkDownloading
	case t.State == share.TokenUnused && t.ViewedAt != nil:
		return linkViewed
	}
	return t.State
}

func toLinkJSON(t share.TokenStatus) linkJSON {
	l := linkJSON{
		Ref: t.Ref, Label: t.Label, PIN: t.PIN, State: linkState(t), CreatedAt: t.CreatedAt.UTC(), ExpiresAt: t.ExpiresAt.UTC(),
		ViewedAt: utc(t.ViewedAt), ConsumedAt: utc(t.ConsumedAt), DeliveredAt: utc(t.DeliveredAt), BytesSent: t.BytesSent,
	}
	if t.ConsumerAddress != nil {
		l.ConsumerAddress = t.ConsumerAddress.String()
	}
	return l
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// sessionStateJSON is what a session page polls.
type sessionStateJSON struct {
	Session   sessionJSON `json:"session"`
	Files     []fileJSON  `json:"files"`
	MoreFiles bool        `json:"moreFiles"`
	Usage     *usageView  `json:"usage"`
}

func user(c *gin.Context) signedIn { return c.MustGet(userKey).(signedIn) }

// ids reads the route's ids; a malformed one answers like an unknown one.
func (cs *Console) ids(c *gin.Context, names ...string) ([]uuid.UUID, bool) {
	notFound := []error{share.ErrSessionNotFound, share.ErrFileNotFound, share.ErrTokenNotFound}
	out := make([]uuid.UUID, len(names))
	for i, n := range names {
		id, ok := parseID(c.Param(n))
		if !ok {
			cs.api.Fail(c, notFound[i])
			return nil, false
		}
		out[i] = id
	}
	return out, true
}

func parseID(s string) (uuid.UUID, bool) {
	if len(s) != 36 {
		return uuid.UUID{}, false
	}
	id, err := uuid.Parse(s)
	return id, err == nil
}

func (cs *Console) createSession(c *gin.Context) {
	var b struct {
		TTL *json.Number `json:"ttl"`
	}
	if err := cs.api.BindJSON(c, &b); err != nil {
		cs.api.Fail(c, err)
		return
	}
	ttl, err := cs.ttl(b.TTL, cs.sessTTLs)
	if err != nil {
		cs.api.Fail(c, err)
		return
	}
	s, err := cs.svc.CreateSession(c.Request.Context(), user(c).p, ttl)
	if err != nil {
		cs.api.Fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, toSessionJSON(s))
}

// ttl reads a lifetime that must be one of choices; none is the default.
func (cs *Console) ttl(n *json.Number, choices []ttlChoice) (int64, error) {
	if n == nil {
		return 0, nil
	}
	v, err := n.Int64()
	if err != nil || !allowed(choices, v) {
		return 0, errBadTTL
	}
	return v, nil
}

func (cs *Console) sessionState(c *gin.Context) {
	ids, ok := cs.ids(c, "sid")
	if !ok {
		return
	}
	ctx, p := c.Request.Context(), user(c).p
	sess, err := cs.svc.GetSession(ctx, p, ids[0])
	if err != nil {
		cs.api.Fail(c, err)
		return
	}
	files, more, err := cs.svc.ListFiles(ctx, p, sess.ID, maxListed, nil)
	if err != nil {
		cs.api.Fail(c, err)
		return
	}
	out := sessionStateJSON{Session: toSessionJSON(sess), Files: make([]fileJSON, 0, len(files)), MoreFiles: more != nil}
	for _, f := range files {
		fj := fileJSON{ID: f.ID, Name: f.Name, ContentType: f.ContentType, Size: f.Size, State: f.State, CreatedAt: f.CreatedAt.UTC(), Links: []linkJSON{}}
		toks, moreToks, err := cs.svc.ListTokens(ctx, p, sess.ID, f.ID, maxListed, nil)
		if errors.Is(err, share.ErrFileNotFound) {
			continue // deleted since the list
		}
		if err != nil {
			cs.api.Fail(c, err)
			return
		}
		for _, t := range toks {
			fj.Links = append(fj.Links, toLinkJSON(t))
		}
		fj.MoreLinks = moreToks != nil
		out.Files = append(out.Files, fj)
	}
	u, err := cs.svc.Usage(ctx, p)
	if err != nil {
		cs.api.Fail(c, err)
		return
	}
	out.Usage = toUsageView(u)
	c.JSON(http.StatusOK, out)
}

func (cs *Console) usage(c *gin.Context) {
	u, err := cs.svc.Usage(c.Request.Context(), user(c).p)
	if err != nil {
		cs.api.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toUsageView(u))
}

func (cs *Console) deleteSession(c *gin.Context) {
	ids, ok := cs.ids(c, "sid")
	if !ok {
		return
	}
	if err := cs.svc.DeleteSession(c.Request.Context(), user(c).p, ids[0]); err != nil {
		cs.api.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (cs *Console) createFile(c *gin.Context) {
	ids, ok := cs.ids(c, "sid")
	if !ok {
		return
	}
	var b struct {
		Name        *string      `json:"name"`
		ContentType *string      `json:"contentType"`
		Size        *json.Number `json:"size"`
	}
	if err := cs.api.BindJSON(c, &b); err != nil {
		cs.api.Fail(c, err)
		return
	}
	in := share.NewFile{}
	if b.Name != nil {
		in.Name = *b.Name
	}
	if b.ContentType != nil {
		in.ContentType = *b.ContentType
	}
	if b.Size != nil {
		n, err := b.Size.Int64()
		if err != nil || n < 0 {
			cs.api.Fail(c, share.ErrInvalidSize)
			return
		}
		in.Size = &n
	}
	f, err := cs.svc.CreateFile(c.Request.Context(), user(c).p, ids[0], in)
	if err != nil {
		cs.api.Fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, fileJSON{ID: f.ID, Name: f.Name, ContentType: f.ContentType, Size: f.Size, State: f.State, CreatedAt: f.CreatedAt.UTC(), Links: []linkJSON{}})
}

func (cs *Console) deleteFile(c *gin.Context) {
	ids, ok := cs.ids(c, "sid", "fid")
	if !ok {
		return
	}
	if err := cs.svc.DeleteFile(c.Request.Context(), user(c).p, ids[0], ids[1]); err != nil {
		cs.api.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// newLinkJSON is a link just made: its URL and PIN are shown this once.
type newLinkJSON struct {
	Ref       uuid.UUID `json:"ref"`
	Label     string    `json:"label"`
	URL       string    `json:"url"`
	PIN       string    `json:"pin,omitempty"`
	ExpiresAt time.Time `json:"expiresAt"`
	// QR is an SVG picture of the URL, as a data: URL for an <img>.
	QR string `json:"qr"`
}

// createLinks makes one-time links of a stored file, one per recipient: {"links": [{"label":
// "for Bob", "pin": true}, …]}. Every label is checked before the first link is made.
func (cs *Console) createLinks(c *gin.Context) {
	ids, ok := cs.ids(c, "sid", "fid")
	if !ok {
		return
	}
	var b struct {
		Links []struct {
			Label string `json:"label"`
			PIN   bool   `json:"pin"`
		} `json:"links"`
	}
	if err := cs.api.BindJSON(c, &b); err != nil {
		cs.api.Fail(c, err)
		return
	}
	if len(b.Links) == 0 || len(b.Links) > maxLinksAtOnce {
		cs.api.Respond(c, http.StatusBadRequest, errLinksRequest.Error())
		return
	}
	for _, l := range b.Links {
		if _, err := share.CheckLabel(l.Label); err != nil {
			cs.api.Fail(c, err)
			return
		}
	}
	out := make([]newLinkJSON, 0, len(b.Links))
	for _, l := range b.Links {
		t, err := cs.svc.CreateTokenWith(c.Request.Context(), user(c).p, ids[0], ids[1], share.TokenOptions{PIN: l.PIN, Label: l.Label})
		if err != nil {
			cs.api.Fail(c, err)
			return
		}
		u := cs.baseURL(c) + "/sessions/" + t.SessionID.String() + "/files/" + t.FileID.String() + "/tokens/" + t.Token
		qr, err := qrDataURL(u)
		if err != nil {
			cs.api.Fail(c, err)
			return
		}
		out = append(out, newLinkJSON{Ref: t.Ref, Label: t.Label, URL: u, PIN: t.PIN, ExpiresAt: t.ExpiresAt.UTC(), QR: qr})
	}
	c.JSON(http.StatusCreated, out)
}

func (cs *Console) revokeLink(c *gin.Context) {
	ids, ok := cs.ids(c, "sid", "fid", "ref")
	if !ok {
		return
	}
	if err := cs.svc.RevokeToken(c.Request.Context(), user(c).p, ids[0], ids[1], ids[2]); err != nil {
		cs.api.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
