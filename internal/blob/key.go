package blob

import (
	"strings"

	"github.com/google/uuid"
)

// Kind says what a blob holds; it is the first part of its key.
type Kind string

// The kinds of blob.
const (
	KindUpload Kind = "u" // the content of a simple upload
	KindFile   Kind = "f" // the content of a session's file entry
)

// NewKey returns a fresh key for a blob of the given kind. Every upload attempt gets its own
// key, so concurrent attempts at one file entry never write over each other; the attempt that
// commits its row wins.
func NewKey(kind Kind) string {
	id := uuid.New().String()
	return string(kind) + "/" + id[:2] + "/" + id
}

// ValidKey reports whether key has the shape NewKey makes: kind/xx/uuid.
func ValidKey(key string) bool {
	parts := strings.Split(key, "/")
	if len(parts) != 3 || (Kind(parts[0]) != KindUpload && Kind(parts[0]) != KindFile) {
		return false
	}
	id, err := uuid.Parse(parts[2])
	return err == nil && id.String() == parts[2] && parts[1] == parts[2][:2]
}
