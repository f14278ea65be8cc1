// Package formdata reads a multipart/form-data body (RFC 7578, over the multipart syntax of
// RFC 2046) as a stream of parts, for the upload routes.
//
// It exists because mime/multipart, which it replaces on the upload path, costs too much
// there: it looks for the boundary through its own 4 KiB buffer, so a large file part is
// handed out in 4 KiB pieces, each one a boundary search and a copy, and the upload path had
// to put a 256 KiB buffer of its own under it, allocated for every request, however small.
// This reader keeps one 256 KiB buffer, taken from a pool and given back by Release, and
// searches the whole buffered window for the delimiter at once; a large Read of a file part
// is filled straight from the body and searched in place, so that one Read of 256 KiB returns
// nearly 256 KiB when the body has them, copied once.
//
// The parsing rules are those of mime/multipart for everything fileshare uses: the preamble
// is skipped; a delimiter is CRLF "--" boundary, the first one possibly without the CRLF;
// spaces and tabs may follow a boundary on its line (transport padding); the close delimiter
// is "--" boundary "--", and what follows it (the epilogue) is never read; a body whose first
// boundary line ends in a bare LF is read with bare LFs throughout; a part's header block is
// parsed by net/textproto; a part whose body starts with "--" boundary is empty. The
// differences, each on purpose:
//
//   - a body that ends inside a part's header block fails with an error that wraps
//     io.ErrUnexpectedEOF, where mime/multipart's NextPart returns io.EOF as if the body were
//     complete: a truncated upload must never pass for a whole one;
//   - a part's header block is bounded in bytes (Reader.MaxHeaderBytes, 10,000 by default)
//     and in lines (10,000, physical lines, where mime/multipart counts header fields and
//     bounds their memory at 10 MiB); beyond either NextPart fails with ErrHeaderTooLarge;
//   - a Content-Transfer-Encoding of quoted-printable is not decoded (mime/multipart's
//     NextPart decodes it and removes the header field, its NextRawPart does not): the bytes
//     of a file part are the file. RFC 7578 forbids senders to use the field at all, and no
//     browser or common client does;
//   - a line outside the parts (preamble, boundary lines) may be as long as the buffer,
//     256 KiB, where mime/multipart stops at 4 KiB; a boundary may be at most 4,000 bytes
//     long (RFC 2046 allows 70; mime/multipart fails on those over about 4 KiB too).
package formdata

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

const (
	// bufferSize is the read buffer of a Reader: large enough that a file part is read in
	// few, large pieces, and that a reader of a large upload makes few system calls.
	bufferSize = 256 << 10
	// DefaultMaxHeaderBytes bounds a part's header block unless Reader.MaxHeaderBytes says
	// otherwise: a browser's part header is a few hundred bytes.
	DefaultMaxHeaderBytes = 10000
	// maxHeaderLines bounds the lines of a part's header block, as mime/multipart bounds its
	// fields: many short lines cost more to parse and keep than their bytes suggest.
	maxHeaderLines = 10000
	// maxBoundary bounds the boundary's length, so that a delimiter always fits many times
	// in the buffer.
	maxBoundary = 4000
)

var (
	// ErrHeaderTooLarge is the error of NextPart for a part whose header block is larger than
	// Reader.MaxHeaderBytes, or has more than 10,000 lines.
	ErrHeaderTooLarge = errors.New("formdata: part header too large")
	// ErrReleased is the error of a Reader, or of its parts, used after Release.
	ErrReleased = errors.New("formdata: reader used after Release")
	// errLineTooLong is a line between parts (preamble, boundary line) longer than the buffer.
	errLineTooLong = errors.New("formdata: line too long")
	// errInvalidRead is the error of an underlying reader that says it read more than it
	// was given room for, or less than nothing.
	errInvalidRead = errors.New("formdata: invalid read count")
	// errHeaderCut is a body that ends inside a part's header block.
	errHeaderCut = fmt.Errorf("formdata: body ends inside a part header: %w", io.ErrUnexpectedEOF)
)

// buffers is what a Reader takes from the pool: its read buffer, and the bufio.Reader that
// net/textproto needs to parse a header block.
type buffers struct {
	buf []byte
	hdr *bufio.Reader
}

var pool = sync.Pool{New: func() any {
	return &buffers{buf: make([]byte, bufferSize), hdr: bufio.NewReader(nil)}
}}

// Reader is an iterator over the parts of a multipart body. It is not safe for concurrent use.
type Reader struct {
	// MaxHeaderBytes bounds the header block of a part; 0 means DefaultMaxHeaderBytes. It is
	// to be set before the first NextPart.
	MaxHeaderBytes int

	src io.Reader
	// srcErr is the error src returned, io.EOF at its end: src is not read again after it.
	srcErr error
	// bufs holds buf; buf[r:w] are the bytes read from src and not yet consumed. pooled says
	// bufs goes back to the pool (tests give small buffers that must not).
	bufs   *buffers
	pooled bool
	buf    []byte
	r, w   int
	// block reads a header block out of the buffer, for net/textproto.
	block bytes.Reader

	// err ends the reader: io.EOF after the close delimiter, or what made the body
	// unreadable. Every NextPart returns it from then on.
	err error

	// nl, nlDashBoundary, dashBoundary and dashBoundaryDash are pieces of
	// "\r\n--boundary--": "\r\n", "\r\n--boundary", "--boundary", "--boundary--". nl and
	// nlDashBoundary lose their "\r" when the first boundary line ends in a bare LF.
	nl, nlDashBoundary, dashBoundary, dashBoundaryDash []byte

	part      *Part
	partsRead int
}

// NewReader returns a Reader of the multipart body r whose boundary is boundary (the
// "boundary" parameter of its Content-Type). Its buffer comes from a pool: give it back with
// Release once the body is done with.
func NewReader(r io.Reader, boundary string) *Reader {
	mr := newReaderBuffers(r, boundary, pool.Get().(*buffers))
	mr.pooled = true
	return mr
}

func newReaderBuffers(r io.Reader, boundary string, bufs *buffers) *Reader {
	b := []byte("\r\n--" + boundary + "--")
	mr := &Reader{
		src:              r,
		bufs:             bufs,
		buf:              bufs.buf,
		nl:               b[:2],
		nlDashBoundary:   b[:len(b)-2],
		dashBoundaryDash: b[2:],
		dashBoundary:     b[2 : len(b)-2],
	}
	switch {
	case boundary == "":
		mr.err = errors.New("formdata: boundary is empty")
	case len(boundary) > maxBoundary:
		mr.err = errors.New("formdata: boundary too long")
	}
	return mr
}

// Release gives the reader's buffer back to the pool. The caller guarantees that neither the
// reader nor any of its parts is used any more (those that are fail with ErrReleased, but a
// use racing with Release is not safe). Release may be called more than once.
func (r *Reader) Release() {
	if r.bufs == nil {
		return
	}
	r.block.Reset(nil)
	r.bufs.hdr.Reset(nil)
	if r.pooled {
		pool.Put(r.bufs)
	}
	r.bufs, r.buf = nil, nil
	r.r, r.w = 0, 0
	if r.err == nil {
		r.err = ErrReleased
	}
}

// NextPart returns the next part of the body, after reading what is left of the current one.
// It returns io.EOF after the close delimiter, and an error for a body that is not a
// well-formed multipart body, or ends before its close delimiter (io.ErrUnexpectedEOF, or an
// error that wraps it when the body ends inside a part's header), or
// whose reading failed (the error of the underlying reader, as it was returned). An error is
// final: every later call returns it again.
func (r *Reader) NextPart() (*Part, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.part != nil {
		if err := r.part.skip(); err != io.EOF {
			return nil, r.fail(err)
		}
		r.part = nil
	}
	expectNewPart := false
	for {
		line, err := r.readLine()
		if err == io.EOF && r.isFinalBoundary(line) {
			// "--boundary--" without a line end, at the very end of the body.
			r.err = io.EOF
			return nil, io.EOF
		}
		if err != nil {
			return nil, r.fail(err)
		}
		if r.isBoundaryDelimiterLine(line) {
			r.partsRead++
			h, err := r.readHeader()
			if err != nil {
				return nil, r.fail(err)
			}
			r.part = &Part{Header: h, mr: r}
			return r.part, nil
		}
		if r.isFinalBoundary(line) {
			r.err = io.EOF
			return nil, io.EOF
		}
		if expectNewPart {
			return nil, r.fail(fmt.Errorf("formdata: expecting a new part; got line %q", clip(line)))
		}
		if r.partsRead == 0 {
			continue // preamble
		}
		// The line end that ended the previous part's body comes on a line of its own: the
		// part stopped before the delimiter's leading CRLF.
		if bytes.Equal(line, r.nl) {
			expectNewPart = true
			continue
		}
		return nil, r.fail(fmt.Errorf("formdata: unexpected line after a part: %q", clip(line)))
	}
}

// fail makes err the reader's final error; the end of the body before its close delimiter
// is io.ErrUnexpectedEOF.
func (r *Reader) fail(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if r.err == nil {
		r.err = err
	}
	return r.err
}

// clip shortens a line quoted in an error: a line may be as long as the buffer.
func clip(b []byte) []byte {
	const n = 64
	if len(b) > n {
		return b[:n]
	}
	return b
}

// isFinalBoundary reports whether line is the close delimiter's line: "--boundary--", spaces
// or tabs, and a line end or nothing.
func (r *Reader) isFinalBoundary(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, r.dashBoundaryDash)
	if !ok {
		return false
	}
	rest = skipLWSP(rest)
	return len(rest) == 0 || bytes.Equal(rest, r.nl)
}

// isBoundaryDelimiterLine reports whether line is a delimiter's line: "--boundary", spaces or
// tabs, and a line end (RFC 2046, section 5.1.1). A first one that ends in a bare LF makes the
// reader expect bare LFs from then on: a violation of the RFC, but one that occurs in practice
// and that mime/multipart accepts too.
func (r *Reader) isBoundaryDelimiterLine(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, r.dashBoundary)
	if !ok {
		return false
	}
	rest = skipLWSP(rest)
	if r.partsRead == 0 && len(rest) == 1 && rest[0] == '\n' {
		r.nl = r.nl[1:]
		r.nlDashBoundary = r.nlDashBoundary[1:]
	}
	return bytes.Equal(rest, r.nl)
}

// skipLWSP returns b without its leading spaces and tabs.
func skipLWSP(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// readLine consumes and returns the next line of the body, its LF included. At the end of the
// body it returns what is left and src's error (io.EOF). A line must fit in the buffer.
func (r *Reader) readLine() ([]byte, error) {
	searched := 0 // bytes of the window known to hold no LF
	for {
		if r.buf == nil {
			return nil, ErrReleased
		}
		if i := bytes.IndexByte(r.buf[r.r+searched:r.w], '\n'); i >= 0 {
			line := r.buf[r.r : r.r+searched+i+1]
			r.r += searched + i + 1
			return line, nil
		}
		searched = r.w - r.r
		if r.srcErr != nil {
			line := r.buf[r.r:r.w]
			r.r = r.w
			return line, r.srcErr
		}
		if !r.fill() {
			return nil, errLineTooLong
		}
	}
}

// fill moves the unconsumed bytes to the start of the buffer and reads more after them, with
// one successful read of src (or until src fails). It reports false, reading nothing, when the
// unconsumed bytes fill the buffer.
func (r *Reader) fill() bool {
	if r.r > 0 {
		r.w = copy(r.buf, r.buf[r.r:r.w])
		r.r = 0
	}
	if r.w == len(r.buf) {
		return false
	}
	// A reader that keeps returning nothing and no error is broken: bufio gives up on it
	// after as many tries.
	for range 100 {
		n, err := r.src.Read(r.buf[r.w:])
		if n < 0 || n > len(r.buf)-r.w {
			r.srcErr = errInvalidRead
			return true
		}
		r.w += n
		if err != nil {
			r.srcErr = err
			return true
		}
		if n > 0 {
			return true
		}
	}
	r.srcErr = io.ErrNoProgress
	return true
}
