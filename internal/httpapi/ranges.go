package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The conditional requests and byte ranges of a download (RFC 9110 §13 and §14), decided here
// rather than by http.ServeContent, so that the blob store is asked for exactly the bytes to
// send and the answer's status is known before any byte is fetched.

// precondition is what the conditional headers of a request decide.
type precondition int

const (
	proceed precondition = iota
	notModified
	preconditionFailed
)

// checkPreconditions evaluates If-Match, If-Unmodified-Since, If-None-Match and
// If-Modified-Since, in that order, against the content's entity tag and time.
func checkPreconditions(r *http.Request, etag string, modTime time.Time) precondition {
	if im := r.Header.Get("If-Match"); im != "" {
		if !etagListMatches(im, etag, false) {
			return preconditionFailed
		}
	} else if ius, err := http.ParseTime(r.Header.Get("If-Unmodified-Since")); err == nil && modTime.Truncate(time.Second).After(ius) {
		return preconditionFailed
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		if etagListMatches(inm, etag, true) {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				return notModified
			}
			return preconditionFailed
		}
	} else if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if ims, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err == nil && !modTime.Truncate(time.Second).After(ims) {
			return notModified
		}
	}
	return proceed
}

// etagListMatches reports whether a list of entity tags ("*", or tags separated by commas)
// names etag: by weak comparison (W/ ignored), or by strong comparison (weak tags never
// match).
func etagListMatches(list, etag string, weak bool) bool {
	if strings.TrimSpace(list) == "*" {
		return true
	}
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if strings.HasPrefix(t, "W/") {
			if !weak {
				continue
			}
			t = t[2:]
		}
		if t == etag {
			return true
		}
	}
	return false
}

// byteRange is length bytes from start.
type byteRange struct{ start, length int64 }

func (r byteRange) contentRange(size int64) string {
	return "bytes " + strconv.FormatInt(r.start, 10) + "-" + strconv.FormatInt(r.start+r.length-1, 10) + "/" + strconv.FormatInt(size, 10)
}

// errUnsatisfiable answers 416: no range of the request overlaps the content.
var errUnsatisfiable = errors.New("range not satisfiable")

// maxRanges bounds the ranges of one request; more are answered with the whole content.
const maxRanges = 16

// requestedRanges returns the ranges a download must send, or nil for the whole content. A
// Range header of another unit, one that If-Range rules out, or one asking for more than the
// content (overlapping ranges, too many) is ignored; a malformed one, or one of which no range
// overlaps the content (bytes=-0 included), is errUnsatisfiable.
func requestedRanges(r *http.Request, etag string, modTime time.Time, size int64) ([]byteRange, error) {
	h := r.Header.Get("Range")
	if h == "" || r.Method != http.MethodGet && r.Method != http.MethodHead {
		return nil, nil
	}
	if ir := r.Header.Get("If-Range"); ir != "" {
		if t, err := http.ParseTime(ir); err == nil {
			if !modTime.Truncate(time.Second).Equal(t) {
				return nil, nil
			}
		} else if ir != etag { // strong comparison
			return nil, nil
		}
	}
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		return nil, nil
	}
	var out []byteRange
	var total int64
	for _, s := range strings.Split(spec, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		first, last, ok := strings.Cut(s, "-")
		if !ok {
			return nil, errUnsatisfiable
		}
		first, last = strings.TrimSpace(first), strings.TrimSpace(last)
		var br byteRange
		if first == "" {
			// A suffix: the last n bytes.
			n, err := parseRangeNumber(last)
			if err != nil {
				return nil, errUnsatisfiable
			}
			if n == 0 || size == 0 {
				continue // asks for no byte at all
			}
			n = min(n, size)
			br = byteRange{start: size - n, length: n}
		} else {
			start, err := parseRangeNumber(first)
			if err != nil {
				return nil, errUnsatisfiable
			}
			end := size - 1
			if last != "" {
				if end, err = parseRangeNumber(last); err != nil || end < start {
					return nil, errUnsatisfiable
				}
				end = min(end, size-1)
			}
			if start >= size {
				continue // does not overlap the content
			}
			br = byteRange{start: start, length: end - start + 1}
		}
		out = append(out, br)
		total += br.length
	}
	if len(out) == 0 {
		return nil, errUnsatisfiable
	}
	if len(out) > maxRanges || total > size {
		return nil, nil
	}
	return out, nil
}

// parseRangeNumber reads a non-negative decimal number of a Range header: digits only.
func parseRangeNumber(s string) (int64, error) {
	if s == "" || len(s) > 19 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, errUnsatisfiable
	}
	return strconv.ParseInt(s, 10, 64)
}
