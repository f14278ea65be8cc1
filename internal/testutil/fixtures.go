package testutil

// Fixture builders: what many tests need before the behaviour they test, each made through the
// HTTP API in one call and checked, as a user that AddUser added.

import (
	"bytes"
	"net/http"
	"testing"
	"time"
)

// StoredFile is a file entry whose content is stored.
type StoredFile struct {
	SessionID string
	ID        string
	Name      string
	Size      int64
	SHA256    string
}

// Path is the entry's path below the API: /sessions/{sid}/files/{fid}.
func (f StoredFile) Path() string { return "/sessions/" + f.SessionID + "/files/" + f.ID }

// Token is a download token as its creation answers it; PIN is set only for a token made
// with one.
type Token struct {
	ID        string    `json:"id"`
	Ref       string    `json:"ref"`
	PIN       string    `json:"pin"`
	URL       string    `json:"url"`
	SessionID string    `json:"sessionId"`
	FileID    string    `json:"fileId"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Upload is a simple upload as its creation answers it.
type Upload struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Size      int64     `json:"size"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// as returns a copy of e bound to t, and the password of login.
func (e *Env) as(t testing.TB, login string) (*Env, string) {
	t.Helper()
	pw, ok := e.passwords.Load(login)
	if !ok {
		t.Fatalf("fixture: %s was not added with AddUser", login)
	}
	return e.Sub(t), pw.(string)
}

// Session creates a session of login, with the default time to live, and returns its id.
func (e *Env) Session(t testing.TB, login string) string {
	t.Helper()
	e, pw := e.as(t, login)
	return Decode[struct{ ID string }](t, e.Call(http.MethodPost, "/sessions", login, pw, nil), http.StatusCreated).ID
}

// StoredFile creates a session of login holding one file entry, named name, whose content is
// stored.
func (e *Env) StoredFile(t testing.TB, login, name string, content []byte) StoredFile {
	t.Helper()
	return e.StoredFileIn(t, login, e.Session(t, login), name, content)
}

// StoredFileIn adds to login's session sid a file entry named name, and stores content in it.
func (e *Env) StoredFileIn(t testing.TB, login, sid, name string, content []byte) StoredFile {
	t.Helper()
	e, pw := e.as(t, login)
	created := Decode[struct{ ID string }](t, e.Call(http.MethodPost, "/sessions/"+sid+"/files", login, pw, map[string]any{"name": name}), http.StatusCreated)
	f := StoredFile{SessionID: sid, ID: created.ID}
	stored := Decode[struct {
		Name, State string
		Size        *int64
		SHA256      *string
	}](t, e.Call(http.MethodPut, f.Path(), login, pw, content), http.StatusOK)
	if stored.State != "stored" || stored.Size == nil || *stored.Size != int64(len(content)) || stored.SHA256 == nil {
		t.Fatalf("fixture: %s stored as %+v", name, stored)
	}
	f.Name, f.Size, f.SHA256 = stored.Name, *stored.Size, *stored.SHA256
	return f
}

// Token makes a download token of f as login, with a PIN when pin.
func (e *Env) Token(t testing.TB, login string, f StoredFile, pin bool) Token {
	t.Helper()
	e, pw := e.as(t, login)
	var body any
	if pin {
		body = map[string]any{"pin": true}
	}
	tok := Decode[Token](t, e.Call(http.MethodPost, f.Path()+"/tokens", login, pw, body), http.StatusCreated)
	if tok.ID == "" || tok.Ref == "" || tok.URL == "" || tok.SessionID != f.SessionID || tok.FileID != f.ID || pin != (tok.PIN != "") {
		t.Fatalf("fixture: token %+v of %s (pin %v)", tok, f.Path(), pin)
	}
	return tok
}

// SharedFile creates a session of login with one stored file entry, named name, and a
// download token of it, without a PIN.
func (e *Env) SharedFile(t testing.TB, login, name string, content []byte) (StoredFile, Token) {
	t.Helper()
	f := e.StoredFile(t, login, name, content)
	return f, e.Token(t, login, f, false)
}

// Upload stores content as a simple upload of login named name; fields are more parts of the
// form, sent after the file (FieldPart("ttl", "60")).
func (e *Env) Upload(t testing.TB, login, name string, content []byte, fields ...Part) Upload {
	t.Helper()
	e, pw := e.as(t, login)
	body, ct := Multipart(t, append([]Part{FilePart(name, content)}, fields...)...)
	req := e.NewRequest(http.MethodPost, "/uploads", login, pw, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	up := Decode[Upload](t, e.Do(req), http.StatusCreated)
	if up.ID == "" || up.Size != int64(len(content)) {
		t.Fatalf("fixture: upload %+v of %d bytes", up, len(content))
	}
	return up
}
