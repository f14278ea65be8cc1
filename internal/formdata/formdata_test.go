package formdata

// This file is over 400 lines: the multipart reader against the standard library, case by case; one table of cases and its checks.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
)

// testBoundary is the boundary of the bodies of these tests.
const testBoundary = "xYz"

// body joins lines with CRLF, so that the cases below read as the bodies they are.
func body(lines ...string) string { return strings.Join(lines, "\r\n") }

// gotPart is what a test keeps of a part.
type gotPart struct {
	Header             textproto.MIMEHeader
	FormName, FileName string
	Data               string
}

func (p gotPart) String() string {
	return fmt.Sprintf("{%v name=%q file=%q %q}", p.Header, p.FormName, p.FileName, p.Data)
}

// chunkReader returns at most first bytes on its first Read and at most n on every later one:
// it puts the buffer's edges where a test wants them.
type chunkReader struct {
	b        []byte
	first, n int
	started  bool
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	lim := c.n
	if !c.started {
		c.started, lim = true, c.first
	}
	if lim > 0 && len(p) > lim {
		p = p[:lim]
	}
	n := copy(p, c.b)
	c.b = c.b[n:]
	return n, nil
}

// newSized is a Reader with a buffer of size bytes, not from the pool.
func newSized(src io.Reader, boundary string, size int) *Reader {
	return newReaderBuffers(src, boundary, &buffers{buf: make([]byte, size), hdr: bufio.NewReader(nil)})
}

// readAll reads every part of r, each with Reads of readSize bytes, and returns them with the
// error that stopped it (nil after the close delimiter). A part whose Read failed is kept with
// what was read of it.
func readAll(r *Reader, readSize int) ([]gotPart, error) {
	var parts []gotPart
	buf := make([]byte, readSize)
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return parts, nil
		}
		if err != nil {
			return parts, err
		}
		g := gotPart{Header: p.Header, FormName: p.FormName(), FileName: p.FileName()}
		var data []byte
		for {
			n, err := p.Read(buf)
			data = append(data, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				g.Data = string(data)
				return append(parts, g), err
			}
		}
		g.Data = string(data)
		parts = append(parts, g)
	}
}

// readAllStd is readAll for mime/multipart, with NextRawPart: this package does not decode
// quoted-printable.
func readAllStd(src io.Reader, boundary string) ([]gotPart, error) {
	mr := multipart.NewReader(src, boundary)
	var parts []gotPart
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return parts, nil
		}
		if err != nil {
			return parts, err
		}
		g := gotPart{Header: p.Header, FormName: p.FormName(), FileName: p.FileName()}
		data, err := io.ReadAll(p)
		g.Data = string(data)
		parts = append(parts, g)
		if err != nil {
			return parts, err
		}
	}
}

func hdr(kv ...string) textproto.MIMEHeader {
	h := textproto.MIMEHeader{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestReader(t *testing.T) {
	cd := func(v string) string { return "Content-Disposition: form-data; " + v }
	file := gotPart{Header: hdr("Content-Disposition", `form-data; name="file"; filename="a.txt"`), FormName: "file", FileName: "a.txt", Data: "hello"}
	bigHeader := "X: " + strings.Repeat("h", DefaultMaxHeaderBytes)
	var manyLines strings.Builder
	for i := range maxHeaderLines + 1 {
		fmt.Fprintf(&manyLines, "X-%d: v\r\n", i)
	}
	for _, tc := range []struct {
		name string
		body string
		// maxHeader sets Reader.MaxHeaderBytes.
		maxHeader int
		want      []gotPart
		// err is the error that ends the reading; nil for a well-formed body.
		err error
		// same says mime/multipart reads the body alike (parts and success or failure).
		same bool
	}{
		{name: "one file part", body: body("--xYz", cd(`name="file"; filename="a.txt"`), "", "hello", "--xYz--", ""),
			want: []gotPart{file}, same: true},
		{name: "close delimiter without line end", body: body("--xYz", cd(`name="file"; filename="a.txt"`), "", "hello", "--xYz--"),
			want: []gotPart{file}, same: true},
		{name: "fields around the file",
			body: body("--xYz", cd(`name="ttl"`), "", "60", "--xYz", cd(`name="file"; filename="a.txt"`), "", "hello", "--xYz", cd(`name="note"`), "", "n", "--xYz--", ""),
			want: []gotPart{
				{Header: hdr("Content-Disposition", `form-data; name="ttl"`), FormName: "ttl", Data: "60"},
				file,
				{Header: hdr("Content-Disposition", `form-data; name="note"`), FormName: "note", Data: "n"},
			}, same: true},
		{name: "empty part, delimiter right after the header", body: body("--xYz", "A: 1", "", "", "--xYz--", ""),
			want: []gotPart{{Header: hdr("A", "1")}}, same: true},
		{name: "empty part, delimiter without its CRLF", body: "--xYz\r\n\r\n--xYz--\r\n",
			want: []gotPart{{Header: hdr()}}, same: true},
		{name: "empty part, then another", body: "--xYz\r\n\r\n--xYz\r\nA: 2\r\n\r\nx\r\n--xYz--",
			want: []gotPart{{Header: hdr()}, {Header: hdr("A", "2"), Data: "x"}}, same: true},
		{name: "no parts", body: "--xYz--\r\n", same: true},
		{name: "preamble and epilogue",
			body: body("This is a preamble.", "--xYz is not a delimiter", "--xYzz neither", "", "--xYz", cd(`name="file"; filename="a.txt"`), "", "hello", "--xYz--", "epilogue", "--xYz", "garbage"),
			want: []gotPart{file}, same: true},
		{name: "transport padding", body: body("--xYz \t ", cd(`name="file"; filename="a.txt"`), "", "hello", "--xYz\t", "B: 1", "", "b", "--xYz--  ", ""),
			want: []gotPart{file, {Header: hdr("B", "1"), Data: "b"}}, same: true},
		{name: "delimiter-like data",
			body: body("--xYz", "", "x--xYz\n--xYz\r\n--xYzz\r\n--xY\r--xYz-x", "--xYz--"),
			want: []gotPart{{Header: hdr(), Data: "x--xYz\n--xYz\r\n--xYzz\r\n--xY\r--xYz-x"}}, same: true},
		{name: "CR LF and dashes at the end of the data", body: body("--xYz", "", "a\r\n-\r\n--", "--xYz--"),
			want: []gotPart{{Header: hdr(), Data: "a\r\n-\r\n--"}}, same: true},
		{name: "bare LF lines", body: "--xYz\nA: 1\n\nline\n--xYz\n\nb\n--xYz--\n",
			want: []gotPart{{Header: hdr("A", "1"), Data: "line"}, {Header: hdr(), Data: "b"}}, same: true},
		{name: "quoted-printable is not decoded", body: body("--xYz", "Content-Transfer-Encoding: quoted-printable", "", "a=3Db=\r\nc", "--xYz--"),
			want: []gotPart{{Header: hdr("Content-Transfer-Encoding", "quoted-printable"), Data: "a=3Db=\r\nc"}}, same: true},
		{name: "file name is a base name", body: body("--xYz", cd(`name="file"; filename="../../etc/passwd"`), "", "x", "--xYz--"),
			want: []gotPart{{Header: hdr("Content-Disposition", `form-data; name="file"; filename="../../etc/passwd"`), FormName: "file", FileName: "passwd", Data: "x"}}, same: true},
		{name: "not form-data", body: body("--xYz", `Content-Disposition: attachment; name="file"`, "", "x", "--xYz--"),
			want: []gotPart{{Header: hdr("Content-Disposition", `attachment; name="file"`), Data: "x"}}, same: true},
		{name: "bad disposition", body: body("--xYz", `Content-Disposition: form-data; name="file`, "", "x", "--xYz--"),
			want: []gotPart{{Header: hdr("Content-Disposition", `form-data; name="file`), Data: "x"}}, same: true},
		{name: "continued header line", body: body("--xYz", "A: 1", " 2", "", "x", "--xYz--"),
			want: []gotPart{{Header: hdr("A", "1 2"), Data: "x"}}, same: true},

		// Bodies that end too soon.
		{name: "empty body", body: "", err: io.ErrUnexpectedEOF, same: true},
		{name: "no close delimiter", body: body("--xYz", "", "hello"), want: []gotPart{{Header: hdr(), Data: "hello"}}, err: io.ErrUnexpectedEOF, same: true},
		{name: "cut in the close delimiter", body: body("--xYz", "", "hello", "--xY"), want: []gotPart{{Header: hdr(), Data: "hello"}}, err: io.ErrUnexpectedEOF, same: true},
		{name: "cut after a delimiter", body: body("--xYz", "", "hello", "--xYz"), want: []gotPart{{Header: hdr(), Data: "hello"}}, err: io.ErrUnexpectedEOF, same: true},
		{name: "cut after a delimiter line", body: body("--xYz", "", "hello", "--xYz", ""), want: []gotPart{{Header: hdr(), Data: "hello"}}, err: io.ErrUnexpectedEOF},
		{name: "cut in a header", body: body("--xYz", cd(`name="file"`)), err: io.ErrUnexpectedEOF},
		{name: "cut in the second part's header", body: body("--xYz", "", "hello", "--xYz", "A: 1", ""),
			want: []gotPart{{Header: hdr(), Data: "hello"}}, err: io.ErrUnexpectedEOF},
		{name: "close delimiter, one dash", body: body("--xYz", "", "hello", "--xYz-"), want: []gotPart{{Header: hdr(), Data: "hello\r\n--xYz-"}}, err: io.ErrUnexpectedEOF, same: true},

		// Garbage.
		{name: "no delimiter at all", body: "just some text\r\n", err: io.ErrUnexpectedEOF, same: true},
		{name: "header line without a colon", body: body("--xYz", "garbage", "", "x", "--xYz--"), err: errAny, same: true},
		{name: "header starting with a space", body: body("--xYz", " A: 1", "", "x", "--xYz--"), err: errAny, same: true},
		{name: "text after a close delimiter", body: body("--xYz", "", "x", "--xYz--junk", ""), want: []gotPart{{Header: hdr(), Data: "x"}}, err: errAny, same: true},
		{name: "delimiter followed by text", body: body("--xYz", "", "x", "--xYz junk", ""), want: []gotPart{{Header: hdr(), Data: "x"}}, err: errAny, same: true},
		{name: "LF after a CRLF body's delimiter", body: "--xYz\r\n\r\nx\r\n--xYz\n\r\ny\r\n--xYz--", want: []gotPart{{Header: hdr(), Data: "x"}}, err: errAny, same: true},

		// Limits.
		{name: "header too big", body: body("--xYz", bigHeader, "", "x", "--xYz--"), err: ErrHeaderTooLarge},
		{name: "header just small enough", body: body("--xYz", bigHeader[:DefaultMaxHeaderBytes-4], "", "x", "--xYz--"),
			want: []gotPart{{Header: hdr("X", bigHeader[3:DefaultMaxHeaderBytes-4]), Data: "x"}}, same: true},
		{name: "header larger than the buffer, allowed", body: body("--xYz", "X: "+strings.Repeat("h", 600<<10), "", "x", "--xYz--"), maxHeader: 1 << 20,
			want: []gotPart{{Header: hdr("X", strings.Repeat("h", 600<<10)), Data: "x"}}, same: true},
		{name: "too many header lines", body: body("--xYz", manyLines.String(), "x", "--xYz--"), maxHeader: 1 << 20, err: ErrHeaderTooLarge, same: true},
		{name: "preamble line longer than the buffer", body: strings.Repeat("p", bufferSize+1) + "\r\n--xYz--", err: errLineTooLong, same: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, readSize := range []int{1, 3, 4096, 256 << 10} {
				r := NewReader(strings.NewReader(tc.body), testBoundary)
				r.MaxHeaderBytes = tc.maxHeader
				got, err := readAll(r, readSize)
				r.Release()
				if !sameErr(err, tc.err) {
					t.Fatalf("reads of %d: error %v, want %v", readSize, err, tc.err)
				}
				if !reflect.DeepEqual(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
					t.Fatalf("reads of %d:\n got %v\nwant %v", readSize, got, tc.want)
				}
			}
			std, stdErr := readAllStd(strings.NewReader(tc.body), testBoundary)
			same := (reflect.DeepEqual(std, tc.want) || len(std) == 0 && len(tc.want) == 0) && (stdErr == nil) == (tc.err == nil)
			if same != tc.same {
				t.Errorf("mime/multipart reads %v, %v; same as this package: %v, want %v", std, stdErr, same, tc.same)
			}
		})
	}
}

// errAny stands for any error in the cases of TestReader.
var errAny = errors.New("any error")

func sameErr(err, want error) bool {
	if want == errAny {
		return err != nil && !errors.Is(err, io.ErrUnexpectedEOF)
	}
	if want == nil || err == nil {
		return err == want
	}
	return errors.Is(err, want)
}

// TestBufferEdges reads bodies through buffers of many small sizes, with the buffer's edges at
// every offset of the body: a delimiter, a CRLF, a header block or a boundary line split by an
// edge is read as when it comes whole.
func TestBufferEdges(t *testing.T) {
	const b = "bOUndary"
	bodies := []string{
		body("preamble", "--"+b, `Content-Disposition: form-data; name="ttl"`, "", "60", "--"+b,
			`Content-Disposition: form-data; name="file"; filename="f.bin"`, "Content-Type: application/octet-stream", "",
			"data\r\n--bOUndar\r\n--bOUndaryX\r\r\n\r\n-", "--"+b, "", "", "--"+b+"  ", "A: 1", "", "--"+b+"--", "epilogue"),
		"--" + b + "\r\n\r\n--" + b + "\r\n\r\n\r\n--" + b + "--",
		"--" + b + "\nA: 1\n\nx\n--" + b + "\n\n\n--" + b + "--\n",
		body("--"+b, "", "\r\r\r\n\n\n--"+b[:4], "--"+b+"--"),
		// Cut short, at the end.
		body("--"+b, "", "abc", "--"+b[:3]),
		body("--"+b, "", "abc\r"),
	}
	for bi, bd := range bodies {
		want, wantErr := readAll(NewReader(strings.NewReader(bd), b), 1<<20)
		for size := len("\r\n--"+b+"--") + 2; size <= 3*len(b)+8; size++ {
			for first := 0; first <= len(bd); first++ {
				for _, readSize := range []int{1, 5, 1 << 10} {
					r := newSized(&chunkReader{b: []byte(bd), first: first}, b, size)
					got, err := readAll(r, readSize)
					if !reflect.DeepEqual(got, want) || (err == nil) != (wantErr == nil) {
						t.Fatalf("body %d, buffer of %d, first read %d, reads of %d:\n got %v, %v\nwant %v, %v",
							bi, size, first, readSize, got, err, want, wantErr)
					}
				}
			}
		}
	}
}

// TestLargeReads: one Read of a large part, through a body that delivers it at once, returns
// nearly the whole buffer.
func TestLargeReads(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcde\r"), 4<<20/16)
	bd := "--" + testBoundary + "\r\n\r\n" + string(data) + "\r\n--" + testBoundary + "--\r\n"
	r := NewReader(strings.NewReader(bd), testBoundary)
	defer r.Release()
	p, err := r.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, bufferSize)
	var got []byte
	for i := 0; ; i++ {
		n, err := p.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		// The first Read gets what followed the header in the first fill; every later one
		// a whole buffer but the bytes held back as a possible delimiter's start.
		if i > 0 && n < bufferSize-len("\r\n--"+testBoundary) {
			t.Fatalf("read %d returned %d bytes", i, n)
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, want %d", len(got), len(data))
	}
	if _, err := r.NextPart(); err != io.EOF {
		t.Fatalf("after the part: %v", err)
	}
}

// TestSourceErrors: the underlying reader's error comes out as it was, from a part's Read or
// from NextPart, and stays.
func TestSourceErrors(t *testing.T) {
	boom := errors.New("boom")
	head := "--" + testBoundary + "\r\nA: 1\r\n\r\nabc"
	r := NewReader(io.MultiReader(strings.NewReader(head), iotestErr{boom}), testBoundary)
	defer r.Release()
	p, err := r.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(p)
	if string(data) != "abc" || err != boom {
		t.Fatalf("part: %q, %v", data, err)
	}
	if _, err := r.NextPart(); err != boom {
		t.Fatalf("NextPart: %v", err)
	}

	r2 := NewReader(io.MultiReader(strings.NewReader("--"+testBoundary+"\r\nA: 1\r\n"), iotestErr{boom}), testBoundary)
	defer r2.Release()
	if _, err := r2.NextPart(); err != boom {
		t.Fatalf("NextPart in a header: %v", err)
	}
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }

// TestNextPartSkipsAndCloses: a part not read to its end is skipped by NextPart, and a part
// read after that has nothing more.
func TestNextPartSkipsAndCloses(t *testing.T) {
	bd := body("--xYz", "", strings.Repeat("a", 1000), "--xYz", "B: 2", "", "b", "--xYz--")
	r := newSized(&chunkReader{b: []byte(bd), n: 7}, testBoundary, 64)
	p1, err := r.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := p1.Read(make([]byte, 10)); n == 0 || err != nil {
		t.Fatalf("first read: %d, %v", n, err)
	}
	p2, err := r.NextPart()
	if err != nil || p2.Header.Get("B") != "2" {
		t.Fatalf("second part: %v, %v", p2, err)
	}
	if n, err := p1.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("first part after NextPart: %d, %v", n, err)
	}
	if err := p2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.NextPart(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	if _, err := r.NextPart(); err != io.EOF {
		t.Fatalf("end, again: %v", err)
	}
}

// TestRelease: a released reader and its parts fail, rather than read a buffer that another
// reader may have; Release may come twice.
func TestRelease(t *testing.T) {
	r := NewReader(strings.NewReader(body("--xYz", "", "abc", "--xYz--")), testBoundary)
	p, err := r.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	r.Release()
	r.Release()
	if n, err := p.Read(make([]byte, 10)); n != 0 || err != ErrReleased {
		t.Fatalf("Read after Release: %d, %v", n, err)
	}
	if _, err := r.NextPart(); err != ErrReleased {
		t.Fatalf("NextPart after Release: %v", err)
	}
}

// TestBoundary: an empty or overlong boundary is refused; one of 70 characters, the RFC's
// longest, works.
func TestBoundary(t *testing.T) {
	for _, b := range []string{"", strings.Repeat("b", maxBoundary+1)} {
		r := NewReader(strings.NewReader("--"+b+"\r\n\r\nx\r\n--"+b+"--"), b)
		if _, err := r.NextPart(); err == nil || err == io.EOF {
			t.Errorf("boundary of %d bytes: %v", len(b), err)
		}
		r.Release()
	}
	b := strings.Repeat("'()+_,-./:=?", 6)[:70]
	r := NewReader(strings.NewReader("--"+b+"\r\n\r\nx\r\n--"+b+"--"), b)
	defer r.Release()
	parts, err := readAll(r, 10)
	if err != nil || len(parts) != 1 || parts[0].Data != "x" {
		t.Fatalf("boundary of 70 characters: %v, %v", parts, err)
	}
}
