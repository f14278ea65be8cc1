package formdata

import (
	"bytes"
	"io"
	"mime"
	"net/textproto"
	"path/filepath"
)

// Part is one part of a multipart body: its header, and its body to Read. It is valid until
// the next NextPart of its Reader (which reads what is left of it) or the Reader's Release.
type Part struct {
	// Header is the part's header, its keys canonical as net/textproto makes them.
	Header textproto.MIMEHeader

	mr *Reader

	disposition       string
	dispositionParams map[string]string

	// n bytes of the buffered window, from mr.r, are known to be the part's; err is what Read
	// returns once they are read out: io.EOF at the delimiter.
	n     int
	err   error
	total int64 // bytes of the part read so far
}

var emptyParams = map[string]string{}

// FormName returns the name parameter of the part's Content-Disposition when its type is
// form-data, else "".
func (p *Part) FormName() string {
	p.parseDisposition()
	if p.disposition != "form-data" {
		return ""
	}
	return p.dispositionParams["name"]
}

// FileName returns the filename parameter of the part's Content-Disposition, through
// filepath.Base (RFC 7578, section 4.2: a path in it must not be used), or "" when there is
// none.
func (p *Part) FileName() string {
	p.parseDisposition()
	name := p.dispositionParams["filename"]
	if name == "" {
		return ""
	}
	return filepath.Base(name)
}

func (p *Part) parseDisposition() {
	if p.dispositionParams != nil {
		return
	}
	var err error
	p.disposition, p.dispositionParams, err = mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		p.dispositionParams = emptyParams
	}
}

// Read reads the part's body: as much of it as the reader's buffer holds, up to len(d),
// reading the body further only when the buffer holds none of it. It returns io.EOF at the
// delimiter, and io.ErrUnexpectedEOF when the body ends before one.
//
// A large d (an eighth of the buffer or more) that finds the buffer without part bytes is
// filled from the body directly, sparing a copy through the buffer: that is how a file part
// is read. The end of what was read that is not the part's goes back to the buffer.
func (p *Part) Read(d []byte) (int, error) {
	if len(d) == 0 {
		return 0, nil
	}
	mr := p.mr
	var direct []byte
	if len(d) >= len(mr.buf)/8 {
		direct = d
	}
	n, err := p.more(direct)
	if n > 0 {
		p.total += int64(n)
		return n, err
	}
	if p.n == 0 {
		return 0, err
	}
	n = copy(d, mr.buf[mr.r:mr.r+p.n])
	mr.r += n
	p.n -= n
	p.total += int64(n)
	if p.n == 0 && p.err != nil {
		return n, p.err
	}
	return n, nil
}

// Close reads what is left of the part, so that the next NextPart can start at once. Its
// errors are NextPart's to report; Close returns nil.
func (p *Part) Close() error {
	p.skip()
	return nil
}

// skip consumes the rest of the part without copying it, and returns the error that ended it
// (io.EOF at the delimiter).
func (p *Part) skip() error {
	for {
		_, err := p.more(nil)
		if p.n == 0 {
			return err
		}
		p.mr.r += p.n
		p.total += int64(p.n)
		p.n = 0
	}
}

// more makes p.n bytes of the part available in the buffer, reading the body as needed; when
// there are none (p.n == 0), it returns the error that ended the part. Given direct, it
// reads the body into direct rather than into the buffer, when the buffer holds no part byte:
// then it returns how many bytes of the part it put at the start of direct, and the error
// that ends the part after them, if any.
func (p *Part) more(direct []byte) (int, error) {
	mr := p.mr
	if mr.buf == nil {
		p.n, p.err = 0, ErrReleased
	}
	for p.n == 0 && p.err == nil {
		p.n, p.err = mr.scan(mr.buf[mr.r:mr.w], p.total == 0, mr.partReadErr())
		if p.n != 0 || p.err != nil {
			break
		}
		// direct must have room for more than the held bytes it takes.
		if len(direct) > mr.w-mr.r && mr.srcErr == nil {
			if n := p.readDirect(direct); n > 0 {
				return n, p.err
			}
			continue
		}
		if !mr.fill() {
			// Cannot happen: a window without a part byte is shorter than a delimiter.
			p.err = errLineTooLong
		}
	}
	if p.n == 0 {
		return 0, p.err
	}
	return 0, nil
}

// partReadErr is the error that ends a part's body after what the buffer holds: the body
// ended inside a part when src is at its end, since only the close delimiter ends a body.
func (r *Reader) partReadErr() error {
	if r.srcErr == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return r.srcErr
}

// readDirect is more's read into d, when the buffer holds no byte of the part, but maybe the
// start of a delimiter (fewer bytes than one, and fewer than len(d)). It returns how many
// bytes of the part it put at the start of d (0 when it cannot tell yet), and sets p.err when
// the part ends after them.
func (p *Part) readDirect(d []byte) int {
	mr := p.mr
	// What is not the part's must fit back in the buffer.
	d = d[:min(len(d), len(mr.buf))]
	held := copy(d, mr.buf[mr.r:mr.w])
	mr.r, mr.w = 0, 0
	m, err := mr.src.Read(d[held:])
	if m < 0 || m > len(d)-held {
		m, err = 0, errInvalidRead
	}
	if err != nil {
		mr.srcErr = err
	}
	got := d[:held+m]
	n, perr := mr.scan(got, p.total == 0, mr.partReadErr())
	mr.w = copy(mr.buf, got[n:])
	if n == 0 && perr == nil && m == 0 && err == nil {
		// Nothing read and no error: fill retries, and gives up on a reader that keeps
		// doing that.
		mr.fill()
	}
	p.err = perr
	return n
}

// scan says how much of buf, the buffered window at a point in a part's body, is the part's
// (n), and what ends the part after those bytes: io.EOF at a delimiter, readErr when buf is
// all the body left and it holds no delimiter, nil when the part goes on (or more input must be
// read to decide, n == 0). atStart says buf starts the part's body, where a delimiter may come
// without its CRLF (an empty part).
func (r *Reader) scan(buf []byte, atStart bool, readErr error) (int, error) {
	if atStart {
		if bytes.HasPrefix(buf, r.dashBoundary) {
			switch matchAfterPrefix(buf, r.dashBoundary, readErr) {
			case -1:
				return len(r.dashBoundary), nil
			case 0:
				return 0, nil
			case +1:
				return 0, io.EOF
			}
		}
		if bytes.HasPrefix(r.dashBoundary, buf) {
			return 0, readErr
		}
	}
	// One search of the whole window: this is what makes large reads cheap.
	if i := bytes.Index(buf, r.nlDashBoundary); i >= 0 {
		switch matchAfterPrefix(buf[i:], r.nlDashBoundary, readErr) {
		case -1:
			// "--boundaryX": not a delimiter, so part of the body.
			return i + len(r.nlDashBoundary), nil
		case 0:
			return i, nil
		case +1:
			return i, io.EOF
		}
	}
	if bytes.HasPrefix(r.nlDashBoundary, buf) {
		return 0, readErr
	}
	// No delimiter in the window, but its end may be the start of one, split by the
	// buffer's edge: hold that back until more is read. Only a suffix shorter than the
	// delimiter can be.
	for i := max(0, len(buf)-len(r.nlDashBoundary)+1); i < len(buf); i++ {
		j := bytes.IndexByte(buf[i:], r.nlDashBoundary[0])
		if j < 0 {
			break
		}
		i += j
		if bytes.HasPrefix(r.nlDashBoundary, buf[i:]) {
			return i, nil
		}
	}
	return len(buf), readErr
}

// matchAfterPrefix reports whether buf, which starts with prefix ("--boundary" or
// "\r\n--boundary"), starts with a delimiter: +1 when what follows the prefix is "--", a space,
// a tab, CR or LF, or the end of the body; -1 when it is something else ("--boundaryX" is
// not the delimiter of "boundary"); 0 when more must be read to decide.
func matchAfterPrefix(buf, prefix []byte, readErr error) int {
	if len(buf) == len(prefix) {
		if readErr != nil {
			return +1
		}
		return 0
	}
	switch c := buf[len(prefix)]; c {
	case ' ', '\t', '\r', '\n':
		return +1
	case '-':
		if len(buf) == len(prefix)+1 {
			if readErr != nil {
				return -1
			}
			return 0
		}
		if buf[len(prefix)+1] == '-' {
			return +1
		}
	}
	return -1
}

// readHeader reads a part's header block, from the start of the window to the first empty
// line, and parses it with net/textproto. A block larger than the buffer is gathered apart.
func (r *Reader) readHeader() (textproto.MIMEHeader, error) {
	limit := r.MaxHeaderBytes
	if limit <= 0 {
		limit = DefaultMaxHeaderBytes
	}
	var (
		// spill holds the block once it no longer fits in the buffer; the buffer is then
		// emptied into it after each read.
		spill []byte
		// scanned bytes of the block are whole lines, none of them empty.
		scanned, lines int
	)
	for {
		block := spill
		if block == nil {
			if r.buf == nil {
				return nil, ErrReleased
			}
			block = r.buf[r.r:r.w]
		}
		end, next, n := headerEnd(block, scanned)
		lines += n
		if lines > maxHeaderLines || end > limit || next > limit {
			return nil, ErrHeaderTooLarge
		}
		if end >= 0 {
			h, err := r.parseHeader(block[:end])
			if spill != nil {
				// What follows the block came with the last read: it goes back in the
				// (empty) buffer, which it fits.
				r.r, r.w = 0, copy(r.buf, spill[end:])
			} else {
				r.r += end
			}
			return h, err
		}
		scanned = next
		if r.srcErr == io.EOF {
			return nil, errHeaderCut
		}
		if r.srcErr != nil {
			return nil, r.srcErr
		}
		if spill == nil && !r.fill() {
			spill = append([]byte(nil), r.buf[r.r:r.w]...)
			r.r = r.w
		}
		if spill != nil {
			r.fill()
			spill = append(spill, r.buf[r.r:r.w]...)
			r.r = r.w
		}
	}
}

// headerEnd looks in b, from off (the start of a line), for the empty line that ends a
// header block ("\n" or "\r\n" at the start of a line, as net/textproto reads it). It returns
// the block's end, just after that line, or -1 and the start of the first line not wholly in
// b; and how many whole lines it went past.
func headerEnd(b []byte, off int) (end, next, lines int) {
	i := off
	for i < len(b) {
		switch b[i] {
		case '\n':
			return i + 1, i + 1, lines
		case '\r':
			if i+1 == len(b) {
				return -1, i, lines
			}
			if b[i+1] == '\n' {
				return i + 2, i + 2, lines
			}
		}
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
		lines++
	}
	return -1, i, lines
}

// parseHeader parses a header block that ends with its empty line.
func (r *Reader) parseHeader(block []byte) (textproto.MIMEHeader, error) {
	r.block.Reset(block)
	br := r.bufs.hdr
	br.Reset(&r.block)
	h, err := textproto.NewReader(br).ReadMIMEHeader()
	br.Reset(nil)
	r.block.Reset(nil)
	if err != nil {
		return nil, err
	}
	return h, nil
}
