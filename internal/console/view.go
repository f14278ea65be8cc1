package console

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"fileshare/internal/share"
)

// usageView is the tenant's usage as the console shows it.
type usageView struct {
	Bytes        int64  `json:"bytes"`
	MaxBytes     int64  `json:"maxBytes"`
	MaxFileBytes int64  `json:"maxFileBytes"`
	Used         string `json:"used"`
	Limit        string `json:"limit"`
	// Percent is the part of the quota used (0 without a quota).
	Percent int `json:"percent"`
}

func toUsageView(u share.Usage) *usageView {
	v := &usageView{Bytes: u.Bytes, MaxBytes: u.MaxBytes, MaxFileBytes: u.MaxFileBytes, Used: humanSize(u.Bytes)}
	if u.MaxBytes > 0 {
		v.Limit = humanSize(u.MaxBytes)
		v.Percent = int(min(100, u.Bytes*100/u.MaxBytes))
	}
	return v
}

// humanSize is a byte count in decimal units, as the landing page writes it.
func humanSize(n int64) string {
	const unit = 1000
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// humanDuration names a lifetime of the forms' lists.
func humanDuration(d time.Duration) string {
	plural := func(n int64, what string) string {
		if n == 1 {
			return "1 " + what
		}
		return strconv.FormatInt(n, 10) + " " + what + "s"
	}
	switch {
	case d%day == 0:
		return plural(int64(d/day), "day")
	case d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	}
	return plural(int64(d/time.Second), "second")
}

// qrDataURL draws text (a link) as a QR code, an SVG of one path with its quiet zone, and
// returns it as a data: URL for an <img> (the console's CSP allows data: images only).
func qrDataURL(text string) (string, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return "", err
	}
	bm := q.Bitmap()
	n := len(bm)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges">`, n, n)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y, row := range bm {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			run := 1
			for x+run < len(row) && row[x+run] {
				run++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", x, y, run, run)
			x += run
		}
	}
	b.WriteString(`"/></svg>`)
	return "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(b.Bytes()), nil
}
