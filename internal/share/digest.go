package share

import (
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"hash"
	"io"
	"strings"
)

// Content digests (RFC 9530). An upload may carry Content-Digest with the SHA-256 (and the
// SHA-512) of the file's bytes; the content is then stored only when it matches. Algorithms
// this service does not know are ignored, as the RFC asks.

// ErrDigestMismatch refuses content whose digest is not the one the client sent, or a digest
// of a known algorithm that is malformed.
var ErrDigestMismatch = errors.New("digest mismatch")

// Digests are the digests a client sent for an upload's content.
type Digests struct {
	SHA256 []byte
	SHA512 []byte
}

// ParseContentDigest reads a Content-Digest field: a dictionary of algorithm=:base64:. A
// sha-256 or sha-512 member whose value is not a byte sequence of the right length is
// ErrDigestMismatch; other members are ignored.
func ParseContentDigest(field string) (Digests, error) {
	var d Digests
	if strings.TrimSpace(field) == "" {
		return d, nil
	}
	for _, member := range strings.Split(field, ",") {
		key, value, _ := strings.Cut(strings.TrimSpace(member), "=")
		var size int
		var dst *[]byte
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "sha-256":
			size, dst = 32, &d.SHA256
		case "sha-512":
			size, dst = 64, &d.SHA512
		default:
			continue
		}
		// Parameters (;…) may follow a member's value.
		value, _, _ = strings.Cut(strings.TrimSpace(value), ";")
		inner, ok := strings.CutPrefix(strings.TrimSpace(value), ":")
		if !ok {
			return Digests{}, ErrDigestMismatch
		}
		inner, ok = strings.CutSuffix(inner, ":")
		if !ok {
			return Digests{}, ErrDigestMismatch
		}
		b, err := base64.StdEncoding.DecodeString(inner)
		if err != nil || len(b) != size {
			return Digests{}, ErrDigestMismatch
		}
		*dst = b
	}
	return d, nil
}

// Any reports whether a digest of a known algorithm was sent.
func (d Digests) Any() bool { return d.SHA256 != nil || d.SHA512 != nil }

// Watch returns body, hashed on the way with what the digests need beyond the SHA-256 that
// staging computes anyway: SHA-512 is computed only when the client sent one.
func (d Digests) Watch(body io.Reader) (io.Reader, hash.Hash) {
	if d.SHA512 == nil {
		return body, nil
	}
	h := sha512.New()
	return io.TeeReader(body, h), h
}

// Check compares the staged content with the digests; sum512 is what Watch returned.
func (d Digests) Check(content *Pending, sum512 hash.Hash) error {
	if d.SHA256 != nil && !bytes.Equal(d.SHA256, content.SHA256()) {
		return ErrDigestMismatch
	}
	if d.SHA512 != nil && (sum512 == nil || !bytes.Equal(d.SHA512, sum512.Sum(nil))) {
		return ErrDigestMismatch
	}
	return nil
}

// ReprDigest is the Repr-Digest field of a download of content with this SHA-256.
func ReprDigest(sha256 []byte) string {
	return "sha-256=:" + base64.StdEncoding.EncodeToString(sha256) + ":"
}
