package formdata_test

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"testing"

	"fileshare/internal/formdata"
)

// The benchmarks read an upload as the upload routes do: a small field, then a file part
// read through a 256 KiB buffer (the blob store's copy buffer). The file is random, so that
// CRs, the first byte of a delimiter, come as often as in real content. The stdlib benchmarks
// read it as the upload routes did before this package: mime/multipart over a 256 KiB
// bufio.Reader made for each request.
//
//	go test ./internal/formdata -run '^$' -bench 'Reader' -benchtime=3x

const benchBoundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"

func benchBody(size int) []byte {
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{1}).Read(data)
	var b bytes.Buffer
	b.WriteString("--" + benchBoundary + "\r\nContent-Disposition: form-data; name=\"ttl\"\r\n\r\n60\r\n")
	b.WriteString("--" + benchBoundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n")
	b.WriteString("Content-Type: application/octet-stream\r\n\r\n")
	b.Write(data)
	b.WriteString("\r\n--" + benchBoundary + "--\r\n")
	return b.Bytes()
}

// part is what the two readers' parts have in common.
type part interface {
	io.Reader
	FormName() string
}

// readForm reads every part that next returns, the file part through dst, and returns the
// file part's size.
func readForm[P part](b *testing.B, next func() (P, error), dst []byte) int64 {
	var size int64
	for {
		p, err := next()
		if err == io.EOF {
			return size
		}
		if err != nil {
			b.Fatal(err)
		}
		for {
			n, err := p.Read(dst)
			if p.FormName() == "file" {
				size += int64(n)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func benchFileshare(b *testing.B, size int) {
	body := benchBody(size)
	dst := make([]byte, 256<<10)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		r := formdata.NewReader(bytes.NewReader(body), benchBoundary)
		if n := readForm(b, r.NextPart, dst); n != int64(size) {
			b.Fatalf("read %d bytes of %d", n, size)
		}
		r.Release()
	}
}

func benchStdlib(b *testing.B, size int) {
	body := benchBody(size)
	dst := make([]byte, 256<<10)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		r := multipart.NewReader(bufio.NewReaderSize(bytes.NewReader(body), 256<<10), benchBoundary)
		if n := readForm(b, r.NextPart, dst); n != int64(size) {
			b.Fatalf("read %d bytes of %d", n, size)
		}
	}
}

// BenchmarkFileshareReader reads a 64 MiB file part with this package.
func BenchmarkFileshareReader(b *testing.B) { benchFileshare(b, 64<<20) }

// BenchmarkStdlibReader reads a 64 MiB file part with mime/multipart.
func BenchmarkStdlibReader(b *testing.B) { benchStdlib(b, 64<<20) }

// BenchmarkFileshareReaderSmall reads a 1 KiB upload: what counts here is the memory each one
// allocates (B/op), which the pooled buffer keeps small.
func BenchmarkFileshareReaderSmall(b *testing.B) { benchFileshare(b, 1<<10) }

// BenchmarkStdlibReaderSmall reads a 1 KiB upload with mime/multipart.
func BenchmarkStdlibReaderSmall(b *testing.B) { benchStdlib(b, 1<<10) }
