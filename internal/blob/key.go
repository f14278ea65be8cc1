package blob

import (
	"strings"

	"github.com/google/uuid"
)

// NewKey returns a fresh key for a blob of the given kind ("u" for simple uploads, "f" for
// session files). Every upload attempt gets its own key, so concurrent attempts at one file
// entry never write over each other; the attempt that commits its row wins.
func NewKey(kind string) string {
	id := uuid.New().String()
	return kind + "/" + id[:2] + "/" + id
}

// ValidKey reports whether key has the shape NewKey makes: kind/xx/uuid.
func ValidKey(key string) bool {
	parts := strings.Split(key, "/")
	if len(parts) != 3 || (parts[0] != "u" && parts[0] != "f") {
		return false
	}
	id, err := uuid.Parse(parts[2])
	return err == nil && id.String() == parts[2] && parts[1] == parts[2][:2]
}
