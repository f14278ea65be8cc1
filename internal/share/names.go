package share

import (
	"mime"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

const maxNameBytes = 255

// SanitizeName turns a client-supplied file name into a safe download name: path parts (either
// slash) stripped, control characters removed, at most 255 bytes of valid UTF-8. It returns ""
// when nothing usable is left.
func SanitizeName(name string) string {
	name = strings.ToValidUTF8(name, "")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError || unicode.Is(unicode.Bidi_Control, r) {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	for len(name) > maxNameBytes {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "." || name == ".." {
		return ""
	}
	return name
}

// NormalizeContentType returns a well-formed media type for ct, guessing from the file name's
// extension when ct is missing or malformed, and application/octet-stream when unknown. Only
// type/subtype is well-formed: mime.ParseMediaType also takes a bare token ("0", "text"),
// which is no media type a Content-Type header may carry.
func NormalizeContentType(ct, name string) string {
	if ct != "" {
		if mt, params, err := mime.ParseMediaType(ct); err == nil && strings.Contains(mt, "/") {
			if s := mime.FormatMediaType(mt, params); s != "" && len(s) <= 255 {
				return s
			}
		}
	}
	if ext := path.Ext(name); ext != "" {
		if guess := mime.TypeByExtension(ext); guess != "" {
			return guess
		}
	}
	return "application/octet-stream"
}
