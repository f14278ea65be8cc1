package httpapi

// Fuzz targets of the request parsers, the strict JSON reading, the log redaction and the
// Content-Disposition builder. They are internal tests (package httpapi) because parseID is not exported. Their
// seeds run in every `go test`; `make fuzz` runs the fuzzer on each for a while.

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"fileshare/internal/share"
)

// FuzzParseID: an id is accepted exactly when it is the 36-character text of a UUID (either
// case), and every id the server makes is accepted.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{
		"6ba7b810-9dad-11d1-80b4-00c04fd430c8", "6BA7B810-9DAD-11D1-80B4-00C04FD430C8", "00000000-0000-0000-0000-000000000000",
		"6ba7b8109dad11d180b400c04fd430c8", "{6ba7b810-9dad-11d1-80b4-00c04fd430c8}", "urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8",
		"6ba7b810-9dad-11d1-80b4-00c04fd430c", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "../../../../../../../../etc/passwd00",
		"6ba7b810-9dad-11d1-80b4\x00000c04fd430c8", "",
	} {
		f.Add(s, []byte(s))
	}
	f.Fuzz(func(t *testing.T, s string, raw []byte) {
		id, ok := parseID(s)
		if ok && id.String() != strings.ToLower(s) {
			t.Fatalf("parseID(%q) accepted another spelling of %s", s, id)
		}
		if !ok && id != uuid.Nil {
			t.Fatalf("parseID(%q) refused but returned %s", s, id)
		}
		if ok {
			// Only hex digits and the four dashes: nothing a path or a query could be made of.
			for i := 0; i < len(s); i++ {
				if c := s[i]; !(c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
					t.Fatalf("parseID(%q) accepted byte %q", s, c)
				}
			}
		}
		var made uuid.UUID
		copy(made[:], raw)
		if back, ok := parseID(made.String()); !ok || back != made {
			t.Fatalf("parseID refuses the id %s the server makes", made)
		}
	})
}

// FuzzParseTTL: a ttl is accepted exactly when it is ASCII digits of at most 19 characters
// whose value is 1 … maxSeconds, checked against big-number arithmetic.
func FuzzParseTTL(f *testing.F) {
	for _, s := range []string{"1", "60", "0", "-1", "+5", " 5", "5 ", "1e3", "0x10", "1.5", "0120", "١٢", "9223372036854775807",
		"9223372036854775808", "99999999999999999999", "00000000000000000001", "2592000", "2592001", ""} {
		f.Add(s, int64(2592000))
	}
	f.Add("7200", int64(7200))
	f.Add("1", int64(0))
	f.Add("9223372036854775807", int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, s string, maxSeconds int64) {
		n, err := ParseTTL(s, maxSeconds)

		digits := s != "" && strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0
		v, _ := new(big.Int).SetString(s, 10)
		valid := digits && len(s) <= 19 && v != nil && v.Cmp(big.NewInt(1)) >= 0 && v.Cmp(big.NewInt(maxSeconds)) <= 0
		if !valid {
			if !errors.Is(err, share.ErrInvalidTTL) || n != 0 {
				t.Fatalf("ParseTTL(%q, %d) = %d, %v; want ErrInvalidTTL", s, maxSeconds, n, err)
			}
			return
		}
		if err != nil || big.NewInt(n).Cmp(v) != 0 {
			t.Fatalf("ParseTTL(%q, %d) = %d, %v; want %s", s, maxSeconds, n, err, v)
		}
		// What a client sends for that ttl is accepted as it is.
		if back, err := ParseTTL(strconv.FormatInt(n, 10), maxSeconds); err != nil || back != n {
			t.Fatalf("ParseTTL(%d) = %d, %v", n, back, err)
		}
	})
}

// FuzzContentDisposition: the header never holds a byte that is not printable ASCII (so no
// CR, LF or NUL), always parses as an attachment, and gives back the exact name when that is
// valid UTF-8 without control characters.
func FuzzContentDisposition(f *testing.F) {
	for _, s := range []string{
		"plain.txt", "résumé.pdf", "日本語 файл.txt", `say "hi".txt`, `back\slash`, "semi;colon,comma.txt", "100%.txt",
		"a\r\nSet-Cookie: x=y", "nul\x00.txt", "\xff\xfe.bin", "", " ", "\u202egnp.exe", "tab\there", "a'b''c", "*", "=?utf-8?q?x?=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		h := ContentDisposition(name)
		for i := 0; i < len(h); i++ {
			if h[i] < 0x20 || h[i] > 0x7e {
				t.Fatalf("ContentDisposition(%q) = %q: byte %#x", name, h, h[i])
			}
		}
		if bound := 42 + 4*len(name); len(h) > bound {
			t.Fatalf("ContentDisposition(%q) is %d bytes, more than %d", name, len(h), bound)
		}
		disp, params, err := mime.ParseMediaType(h)
		if err != nil || disp != "attachment" {
			t.Fatalf("ContentDisposition(%q) = %q parses as %q, %v", name, h, disp, err)
		}
		if utf8.ValidString(name) && !strings.ContainsFunc(name, unicode.IsControl) && params["filename"] != name {
			t.Fatalf("ContentDisposition(%q) = %q gives back the name %q", name, h, params["filename"])
		}
	})
}

// jsonOracle says whether body is a JSON object that a strict reading must accept for a struct
// whose keys are those of kinds: each kind is 'n' (a JSON number), 's' (a JSON string) or 'b'
// (true or false), and null is allowed for each. It walks the tokens itself, apart from decodeStrict's way.
func jsonOracle(body []byte, kinds map[string]byte) bool {
	if !json.Valid(body) {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, _ := dec.Token(); tok != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if tok == json.Delim('}') {
			return true
		}
		key := tok.(string)
		kind, ok := kinds[key]
		if !ok || seen[key] {
			return false
		}
		seen[key] = true
		val, err := dec.Token()
		if err != nil {
			return false
		}
		switch val.(type) {
		case nil:
		case json.Number:
			if kind != 'n' {
				return false
			}
		case string:
			if kind != 's' {
				return false
			}
		case bool:
			if kind != 'b' {
				return false
			}
		default: // an object or array
			return false
		}
	}
}

// FuzzBindJSON: the strict JSON reading of the session routes' bodies never panics, accepts a
// body exactly when jsonOracle does, and then holds exactly the values the body gives.
func FuzzBindJSON(f *testing.F) {
	for _, s := range []string{
		`{"ttl":60}`, `{"ttl":"60"}`, `{"Ttl":1}`, `{"ttl":-1,"ttl":60}`, `{"ttl":null}`, `{}`, `{"ttl":60}x`, `{"ttl":60}{}`,
		`{"\u0074tl":1e3}`, `{"ttl":1.5}`, `[]`, `null`, ``, ` {"ttl" : 60 } `, `{"ttl":true}`, `{"ttl":{"ttl":1}}`,
		`{"name":"a","contentType":"text/plain","size":5}`, `{"name":"a","size":"5"}`, `{"Name":"a"}`, `{"name":"a","name":"b"}`,
		`{"pin":true}`, `{"pin":"true"}`, `{"ttl":60,"pin":null}`, `{"PIN":false}`, `{"name":"\xff","size":-0}`, `{"name":null,"size":null}`, `{"name":"a","extra":[1,{"b":2}]}`, "{\"name\":\"a\"}\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(v any, kinds map[string]byte, got func() map[string]any) {
			err := decodeStrict(body, v)
			want := jsonOracle(body, kinds)
			if err != nil && !errors.Is(err, errInvalidJSON) {
				t.Fatalf("decodeStrict(%q): %v, want errInvalidJSON", body, err)
			}
			if (err == nil) != want {
				t.Fatalf("decodeStrict(%q) into %T: %v; the oracle accepts: %v", body, v, err, want)
			}
			if err != nil {
				return
			}
			var m map[string]any
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			if err := dec.Decode(&m); err != nil {
				t.Fatalf("accepted %q, which is no object: %v", body, err)
			}
			for k, v := range got() {
				if m[k] != v {
					t.Fatalf("decodeStrict(%q): %s = %#v, the body says %#v", body, k, v, m[k])
				}
			}
		}
		var tb ttlBody
		check(&tb, map[string]byte{"ttl": 'n'}, func() map[string]any {
			if tb.TTL == nil {
				return map[string]any{"ttl": nil}
			}
			return map[string]any{"ttl": *tb.TTL}
		})
		var kb tokenBody
		check(&kb, map[string]byte{"ttl": 'n', "pin": 'b'}, func() map[string]any {
			out := map[string]any{"ttl": nil, "pin": nil}
			if kb.TTL != nil {
				out["ttl"] = *kb.TTL
			}
			if kb.PIN != nil {
				out["pin"] = *kb.PIN
			}
			return out
		})
		var fb createFileBody
		check(&fb, map[string]byte{"name": 's', "contentType": 's', "size": 'n'}, func() map[string]any {
			out := map[string]any{"size": nil}
			if fb.Size != nil {
				out["size"] = *fb.Size
			}
			// A string field cannot tell "" from null or absent: compare only what was given.
			if fb.Name != "" {
				out["name"] = fb.Name
			}
			if fb.ContentType != "" {
				out["contentType"] = fb.ContentType
			}
			return out
		})
	})
}

// longestTokenRun is the longest run of base64url characters in s.
func longestTokenRun(s string) int {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

// holdsCapabilityID reports whether p's second segment is the id of a simple upload or a tus
// upload: /uploads/{id}…, /tus/{id}….
func holdsCapabilityID(p string) bool {
	segs := strings.Split(p, "/")
	return len(segs) >= 3 && (segs[1] == "uploads" || segs[1] == "tus") && segs[2] != ""
}

// FuzzRedact: what the log shows of a path or a query never holds a run of base64url
// characters as long as a token, nor a token= value, and a path with no such run, outside the
// routes whose path holds a capability (tokens, a simple upload's id, a tus upload's id), is
// shown as it is.
func FuzzRedact(f *testing.F) {
	tok := strings.Repeat("Ab9_-", 8) + "xyz"
	for _, s := range [][2]string{
		{"/sessions/a/files/b/tokens/" + tok, ""}, {"/sessions/a/files/b/tokens//" + tok, "x=1"}, {"/x/TOKENS/" + tok, "Token=" + tok},
		{"/x", "TOKEN=abc&a=b"}, {"/x/pre" + tok + ".txt", tok + "=1"}, {"/uploads/6ba7b810-9dad-11d1-80b4-00c04fd430c8", "limit=5"}, {"/tus/6ba7b810-9dad-11d1-80b4-00c04fd430c8", ""},
		{"/x", "q=%41" + tok[1:]}, {"/x", "a=%zz&token=" + tok}, {"/x", "a;b=" + tok}, {"/" + strings.Repeat("a", 300), ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, p, q string) {
		gotPath, gotQuery := redactPath(p), redactQuery(q)
		if n := longestTokenRun(gotPath); n >= tokenShapeLen {
			t.Fatalf("redactPath(%q) = %q keeps a run of %d base64url characters", p, gotPath, n)
		}
		if n := longestTokenRun(gotQuery); n >= tokenShapeLen {
			t.Fatalf("redactQuery(%q) = %q keeps a run of %d base64url characters", q, gotQuery, n)
		}
		if vals, err := url.ParseQuery(q); err == nil {
			for k, vs := range redactValues(vals) {
				for _, v := range vs {
					if strings.EqualFold(k, "token") && v != redacted {
						t.Fatalf("redactQuery(%q) = %q shows the token value %q", q, gotQuery, v)
					}
				}
			}
		}
		if longestTokenRun(p) < tokenShapeLen && !strings.Contains("/"+p, "/tokens/") && !holdsCapabilityID(p) && gotPath != p {
			t.Fatalf("redactPath(%q) = %q changed a path that holds no secret", p, gotPath)
		}
	})
}
