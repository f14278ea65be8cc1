package share

import (
	"errors"
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

// maxLabelChars bounds a token's label, in characters.
const maxLabelChars = 100

// ErrInvalidLabel refuses a token label that is too long or holds control characters.
var ErrInvalidLabel = errors.New("invalid label")

// CheckLabel returns a token's label as kept (nil for none: empty or only spaces), or
// ErrInvalidLabel for one that is not valid UTF-8, holds control or bidi control characters,
// or is longer than 100 characters. A label is refused rather than mended: it is shown to the
// sender as written.
func CheckLabel(label string) (*string, error) {
	label = strings.TrimSpace(label)
	if label == "" {
		return nil, nil
	}
	if !utf8.ValidString(label) || utf8.RuneCountInString(label) > maxLabelChars ||
		strings.IndexFunc(label, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) }) >= 0 {
		return nil, ErrInvalidLabel
	}
	return &label, nil
}
