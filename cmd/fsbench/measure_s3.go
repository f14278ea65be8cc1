package main

// The measurements of blobs kept in S3.

import (
	"fmt"
	"net/http"
)

// s3 measures the large upload and download with blobs in MinIO on this machine, next to the
// disk figures: a second fileshare on its own database, configured for S3.
func (b *bench) s3(bin string) []result {
	m := startMinIO(b.o.work)
	defer m.Stop()
	dbURL, drop := database(b.o.repo, "_s3")
	defer drop()
	s3fs := startFileshare(bin, dbURL, b.o.work, m.s3Env()...)
	defer s3fs.Stop()
	sb := &bench{o: b.o, fs: s3fs, ng: b.ng, dbURL: dbURL}
	size := b.o.bigSize
	var up, down, tus []float64
	for i := 0; i < b.o.runs; i++ {
		var id string
		up = append(up, mbps(size, timed(func() { id = sb.multipartUpload(size) })))
		down = append(down, mbps(size, timed(func() { must(get(s3fs.URL + "/uploads/" + id)) })))
		sb.mustJSON(sb.req(http.MethodDelete, s3fs.URL+"/uploads/"+id, nil), http.StatusNoContent, nil)
		tus = append(tus, mbps(size, timed(func() { id = sb.tusUpload(size, tusChunk) })))
		sb.mustJSON(sb.req(http.MethodDelete, s3fs.URL+"/uploads/"+id, nil), http.StatusNoContent, nil)
	}
	label := fmt.Sprintf("%d MiB", size>>20)
	return []result{
		{Name: "S3 (MinIO on this machine): upload " + label + " POST /uploads", Unit: "MB/s", Fileshare: median(up), Runs: up, Target: "report"},
		{Name: "S3 (MinIO on this machine): download " + label + " simple link", Unit: "MB/s", Fileshare: median(down), Runs: down, Target: "report"},
		{Name: fmt.Sprintf("S3 (MinIO on this machine): upload %s tus, %d MiB PATCHes", label, tusChunk>>20), Unit: "MB/s", Fileshare: median(tus), Runs: tus, Target: "report"},
	}
}
