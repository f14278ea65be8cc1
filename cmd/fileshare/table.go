package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// table prints what a list command lists: a header line of upper-case column names, then one
// line per row, in columns aligned with spaces. Every list command prints through it, so that
// scripts can read them all the same way (`awk '{print $1}'`, skipping the first line).
type table struct {
	w *tabwriter.Writer
}

// newTable starts a table on out with the given column names.
func newTable(out io.Writer, columns ...string) *table {
	t := &table{w: tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)}
	t.row(columns...)
	return t
}

// row adds a line; cells are in the header's order.
func (t *table) row(cells ...string) {
	fmt.Fprintln(t.w, strings.Join(cells, "\t"))
}

// flush writes the table out.
func (t *table) flush() error { return t.w.Flush() }

// stamp is how a table shows a point in time: RFC 3339 in UTC, or "-" for none.
func stamp(at time.Time) string {
	if at.IsZero() {
		return "-"
	}
	return at.UTC().Format(time.RFC3339)
}
