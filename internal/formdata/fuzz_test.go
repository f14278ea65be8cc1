package formdata

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// FuzzAgainstMultipart reads any body with this package and with mime/multipart (NextRawPart,
// since quoted-printable is not decoded here), and wants the same parts (headers, names, file
// names, bytes) and the same verdict: read whole, or failed. The reader under test gets a
// buffer of any size from 256 bytes up, a source that delivers the body in pieces of any size,
// and Reads of any size, so that buffer edges fall everywhere. What differs on purpose:
//
//   - a body that ends inside a part's header block fails here, where mime/multipart ends
//     with io.EOF as if the body were complete;
//   - a line outside the parts longer than mime/multipart's 4 KiB buffer fails there, and
//     here only when it is longer than this reader's buffer;
//   - a header block of more than 10,000 lines fails here, where mime/multipart counts
//     fields, not lines.
//
// Boundaries are those a sender may use (RFC 2046: 1 to 70 characters, no CR or LF, which an
// HTTP header value cannot carry anyway).
func FuzzAgainstMultipart(f *testing.F) {
	cd := func(v string) string { return "Content-Disposition: form-data; " + v }
	for _, bd := range []string{
		body("--xYz", cd(`name="file"; filename="a.txt"`), "Content-Type: text/plain", "", "hello", "--xYz--", ""),
		body("pre", "--xYz  ", cd(`name="ttl"`), "", "60", "--xYz", cd(`name="file"; filename="../b"`), "", "x\r\n--xYzz\r\n--xY", "--xYz--", "epi"),
		"--xYz\r\n\r\n--xYz\r\n\r\n\r\n--xYz--",
		"--xYz\nA: 1\n\nx\n--xYz\n\ny\n--xYz--",
		body("--xYz", "Content-Transfer-Encoding: quoted-printable", "", "a=3Db", "--xYz--"),
		body("--xYz", cd(`name="file"`), "", "cut"),
		body("--xYz", cd(`name="file"`)),
		body("--xYz", "", "x", "--xYz--junk"),
		body("--xYz", " A: 1", "", "x", "--xYz--"),
		body("--xYz", "", "x", "--xYz", "no colon", "", "y", "--xYz--"),
		body("--xYz", "A: 1", " continued", "", strings.Repeat("\r\n-", 300), "--xYz--"),
	} {
		f.Add("xYz", []byte(bd), uint16(0), uint16(0), uint16(0))
		f.Add("xYz", []byte(bd), uint16(1), uint16(7), uint16(1))
	}
	f.Fuzz(func(t *testing.T, boundary string, bd []byte, bufSeed, chunk, readSeed uint16) {
		if boundary == "" || len(boundary) > 70 || strings.ContainsAny(boundary, "\r\n") {
			return
		}
		want, wantErr := readAllStd(bytes.NewReader(bd), boundary)

		size := bufferSize
		if bufSeed != 0 {
			size = 256 + int(bufSeed)%4096
		}
		readSize := 1 + int(readSeed)%(64<<10)
		r := newReaderBuffers(&chunkReader{b: bd, first: int(chunk), n: int(chunk)}, boundary,
			&buffers{buf: make([]byte, size), hdr: bufio.NewReader(nil)})
		// A header of any size, as mime/multipart reads them (up to 10 MiB).
		r.MaxHeaderBytes = 1 << 30
		got, err := readAll(r, readSize)

		switch {
		case errors.Is(err, errHeaderCut) && wantErr == nil:
			// mime/multipart's silent end: it read the parts before the cut alike.
			if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("parts before a cut header:\n got %v\nwant %v", got, want)
			}
			return
		case errors.Is(wantErr, bufio.ErrBufferFull), errors.Is(err, errLineTooLong) && size < 4096,
			errors.Is(err, ErrHeaderTooLarge) && wantErr == nil:
			return
		}
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("error %v, mime/multipart's %v\n got %v\nwant %v", err, wantErr, got, want)
		}
		if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("error %v, mime/multipart's %v\n got %v\nwant %v", err, wantErr, got, want)
		}
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && errors.Is(wantErr, io.ErrUnexpectedEOF) {
			t.Fatalf("a body cut short fails with %v, not io.ErrUnexpectedEOF", err)
		}
	})
}
