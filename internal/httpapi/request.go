package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"

	"fileshare/internal/share"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// maxJSONBody bounds the JSON bodies of the session routes.
const maxJSONBody = 64 << 10

var errInvalidJSON = errors.New(msgInvalidJSON)

// errJSONTooLarge answers a JSON body over maxJSONBody.
var errJSONTooLarge = errors.New(msgBodyTooLarge)

var errInvalidLimit = errors.New(msgInvalidLimit)

// ttlBody is the optional JSON body {"ttl": seconds} of several routes.
type ttlBody struct {
	TTL *json.Number `json:"ttl"`
}

// bindJSON decodes an optional JSON body into v (see decodeStrict); an empty body leaves v as
// it is.
func bindJSON(c *gin.Context, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxJSONBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return errJSONTooLarge
		}
		return errInvalidJSON
	}
	if len(body) == 0 {
		return nil
	}
	if ct := c.GetHeader("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && mt != "text/plain" && mt != "application/x-www-form-urlencoded") {
			// curl -d sends form-urlencoded by default; accept it as long as the body is JSON.
			return errInvalidJSON
		}
	}
	return decodeStrict(body, v)
}

// decodeStrict decodes body, one JSON object, into v, a pointer to a struct, as strictly as
// the API document types it: each key must be the exact json name of a field of v (no other
// case, no unknown key) and come once; a json.Number field takes a JSON number and a string
// field a JSON string, or null for either (the same as leaving the key out); nothing may follow
// the object. encoding/json alone would match keys in any case, let the last of two equal keys
// win, and take "60" for the number 60. Anything else is errInvalidJSON.
func decodeStrict(body []byte, v any) error {
	fields := jsonFields(reflect.TypeOf(v).Elem())
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errInvalidJSON
	}
	seen := make(map[string]bool, len(fields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errInvalidJSON
		}
		key, _ := tok.(string)
		typ, ok := fields[key]
		if !ok || seen[key] {
			return errInvalidJSON
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil || !jsonKindFits(typ, raw) {
			return errInvalidJSON
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return errInvalidJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		return errInvalidJSON
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errInvalidJSON
	}
	return nil
}

// jsonFields maps the json names of t's exported fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// jsonKindFits reports whether the JSON value raw may go into a field of type t: null, or a
// number for json.Number and a string for string. Other types are left to encoding/json.
func jsonKindFits(t reflect.Type, raw json.RawMessage) bool {
	if string(raw) == "null" {
		return true
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[json.Number]():
		return raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9'
	case t.Kind() == reflect.String:
		return raw[0] == '"'
	}
	return true
}

// optionalTTL reads {"ttl": seconds} from the body: 0 when absent.
func (h *handlers) optionalTTL(c *gin.Context) (int64, error) {
	var b ttlBody
	if err := bindJSON(c, &b); err != nil {
		return 0, err
	}
	if b.TTL == nil {
		return 0, nil
	}
	return h.parseTTL(b.TTL.String())
}

// page reads ?limit= and ?after=.
func page(c *gin.Context) (int, *share.Cursor, error) {
	limit := 100
	if v, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return 0, nil, errInvalidLimit
		}
		limit = n
	}
	var after *share.Cursor
	if v, ok := c.GetQuery("after"); ok {
		cur, err := share.ParseCursor(v)
		if err != nil {
			return 0, nil, err
		}
		after = &cur
	}
	return limit, after, nil
}

func clientAddr(c *gin.Context) netip.Addr {
	a, err := netip.ParseAddr(c.ClientIP())
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// parseTTL reads a ttl against the configured maximum.
func (h *handlers) parseTTL(s string) (int64, error) {
	return ParseTTL(s, int64(h.svc.Limits().MaxTTL/time.Second))
}

// ParseTTL reads a ttl in whole seconds: ASCII digits only (no sign, space or exponent),
// 1 … maxSeconds. Anything else is share.ErrInvalidTTL.
func ParseTTL(s string, maxSeconds int64) (int64, error) {
	if s == "" || len(s) > 19 {
		return 0, share.ErrInvalidTTL
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, share.ErrInvalidTTL
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > maxSeconds {
		return 0, share.ErrInvalidTTL
	}
	return n, nil
}

// parseID accepts only the 36-character form of a UUID (hex digits of either case); on
// refusal the id is uuid.Nil.
func parseID(s string) (uuid.UUID, bool) {
	if len(s) != 36 {
		return uuid.UUID{}, false
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.UUID{}, false
	}
	return id, true
}

// sessionFileIDs reads the :sid and :fid of a route below a file entry. A malformed id answers
// like an unknown one: with sidErr for the session's, fidErr for the file's.
func (h *handlers) sessionFileIDs(c *gin.Context, sidErr, fidErr error) (sid, fid uuid.UUID, ok bool) {
	sid, ok = parseID(c.Param("sid"))
	if !ok {
		h.fail(c, sidErr)
		return sid, fid, false
	}
	if fid, ok = parseID(c.Param("fid")); !ok {
		h.fail(c, fidErr)
	}
	return sid, fid, ok
}
