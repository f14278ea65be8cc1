package main

// The transfer measurements: the disk's own speed, large and small uploads and downloads,
// and one-time links made and consumed.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// ddSpeed is the disk's durable write speed: dd with conv=fdatasync, the physical limit of an
// upload that is flushed before it is acknowledged.
func (b *bench) ddSpeed() float64 {
	path := filepath.Join(b.o.work, "dd.bin")
	defer os.Remove(path)
	count := strconv.FormatInt(b.o.bigSize>>20, 10)
	d := timed(func() {
		if out, err := exec.Command("dd", "if=/dev/zero", "of="+path, "bs=1M", "count="+count, "conv=fdatasync").CombinedOutput(); err != nil {
			fatalf("dd: %v %s", err, out)
		}
	})
	return mbps(b.o.bigSize, d)
}

func (b *bench) uploads() []result {
	size := b.o.bigSize
	var dd, multi, raw, tus, ng, growth []float64
	for i := 0; i < b.o.runs; i++ {
		dd = append(dd, b.ddSpeed())

		idle := rss(b.fs.Pid())
		stop := make(chan struct{})
		peak := peakRSS(b.fs.Pid(), stop)
		var id string
		d := timed(func() { id = b.multipartUpload(size) })
		close(stop)
		growth = append(growth, float64(<-peak-idle)/(1<<20))
		multi = append(multi, mbps(size, d))
		b.mustJSON(b.req(http.MethodDelete, b.fs.URL+"/uploads/"+id, nil), http.StatusNoContent, nil)

		sid := b.newSession()
		fid := b.newFile(sid, size)
		raw = append(raw, mbps(size, timed(func() { b.putFile(sid, fid, size) })))
		b.mustJSON(b.req(http.MethodDelete, b.fs.URL+"/sessions/"+sid, nil), http.StatusNoContent, nil)

		tus = append(tus, mbps(size, timed(func() { id = b.tusUpload(size, tusChunk) })))
		b.mustJSON(b.req(http.MethodDelete, b.fs.URL+"/uploads/"+id, nil), http.StatusNoContent, nil)

		ng = append(ng, mbps(size, timed(func() { b.nginxPut("big-upload.bin", size) })))
		os.Remove(filepath.Join(b.ng.Root, "big-upload.bin"))
	}
	ddm, ngm := median(dd), median(ng)
	label := fmt.Sprintf("%d MiB", size>>20)
	row := func(name string, runs []float64) result {
		m := median(runs)
		return result{Name: name, Unit: "MB/s", Fileshare: m, Nginx: ngm, Ratio: m / ngm, Runs: runs, NginxRuns: ng,
			Target: "≥1.0× nginx, ≥0.9× dd", Met: boolp(m >= ngm && m >= 0.9*ddm),
			Note: fmt.Sprintf("%.2f× the disk's durable write speed", m/ddm)}
	}
	return []result{
		{Name: "disk durable write (dd conv=fdatasync) " + label, Unit: "MB/s", Fileshare: ddm, Runs: dd, Target: "physical limit"},
		row("upload "+label+" POST /uploads multipart", multi),
		row("upload "+label+" PUT session file raw", raw),
		{Name: fmt.Sprintf("upload %s tus, %d MiB PATCHes", label, tusChunk>>20), Unit: "MB/s", Fileshare: median(tus), Runs: tus,
			Target: "≥0.8× the raw PUT", Met: boolp(median(tus) >= 0.8*median(raw)),
			Note: fmt.Sprintf("%.2f× the raw PUT: each PATCH is fsynced and recorded before its answer", median(tus)/median(raw))},
		{Name: "RSS growth during the " + label + " upload", Unit: "MiB", Fileshare: median(growth), Runs: growth,
			Target: "≤32 MiB", Met: boolp(median(growth) <= 32)},
	}
}

func (b *bench) downloads() []result {
	size := b.o.bigSize
	id := b.multipartUpload(size)
	sid := b.newSession()
	fid := b.newFile(sid, size)
	b.putFile(sid, fid, size)
	b.nginxPut("big.bin", size)
	defer func() {
		b.mustJSON(b.req(http.MethodDelete, b.fs.URL+"/uploads/"+id, nil), http.StatusNoContent, nil)
		b.mustJSON(b.req(http.MethodDelete, b.fs.URL+"/sessions/"+sid, nil), http.StatusNoContent, nil)
		os.Remove(filepath.Join(b.ng.Root, "big.bin"))
	}()
	// One untimed read each, so that all three are served from the page cache alike.
	get(b.fs.URL + "/uploads/" + id)
	get(b.ng.URL + "/big.bin")
	var simple, token, ng []float64
	for i := 0; i < b.o.runs; i++ {
		simple = append(simple, mbps(size, timed(func() { must(get(b.fs.URL + "/uploads/" + id)) })))
		url := b.token(sid, fid)
		token = append(token, mbps(size, timed(func() { must(get(url)) })))
		ng = append(ng, mbps(size, timed(func() { must(get(b.ng.URL + "/big.bin")) })))
	}
	ngm := median(ng)
	label := fmt.Sprintf("%d MiB", size>>20)
	row := func(name string, runs []float64) result {
		m := median(runs)
		return result{Name: name, Unit: "MB/s", Fileshare: m, Nginx: ngm, Ratio: m / ngm, Runs: runs, NginxRuns: ng,
			Target: "≥1.0× nginx", Met: boolp(m >= ngm)}
	}
	return []result{row("download "+label+" simple link", simple), row("download "+label+" one-time token", token)}
}

func (b *bench) smallDownloads() result {
	small := bytes.Repeat([]byte("x"), kib)
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, _ := mw.CreateFormFile("file", "small.bin")
		fw.Write(small)
		pw.CloseWithError(mw.Close())
	}()
	r := b.req(http.MethodPost, b.fs.URL+"/uploads", pr)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	var up struct{ URL string }
	b.mustJSON(r, http.StatusCreated, &up)
	os.WriteFile(filepath.Join(b.ng.Root, "small.bin"), small, 0o644)
	var fsR, ngR []loadResult
	for i := 0; i < b.o.runs; i++ {
		fsR = append(fsR, load(b.o.workers, b.o.smallFor, func(int, int) error { return get(up.URL) }))
		ngR = append(ngR, load(b.o.workers, b.o.smallFor, func(int, int) error { return get(b.ng.URL + "/small.bin") }))
	}
	return loadRow("1 KiB downloads, simple link", fsR, ngR, 0.5)
}

func (b *bench) smallUploads() result {
	small := bytes.Repeat([]byte("y"), kib)
	var fsR, ngR []loadResult
	for run := 0; run < b.o.runs; run++ {
		fsR = append(fsR, load(b.o.workers, b.o.smallFor, func(int, int) error {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			fw, _ := mw.CreateFormFile("file", "s.bin")
			fw.Write(small)
			mw.Close()
			r := b.req(http.MethodPost, b.fs.URL+"/uploads", &buf)
			r.Header.Set("Content-Type", mw.FormDataContentType())
			_, code, err := do(r)
			if err == nil && code != http.StatusCreated {
				err = &statusError{code}
			}
			return err
		}))
		ngR = append(ngR, load(b.o.workers, b.o.smallFor, func(w, i int) error {
			r := b.req(http.MethodPut, fmt.Sprintf("%s/u%d/%d-%d-%d", b.ng.URL, run, b.seq.Add(1), w, i), bytes.NewReader(small))
			_, code, err := do(r)
			if err == nil && code/100 != 2 {
				err = &statusError{code}
			}
			return err
		}))
		// nginx puts the files of each run in a directory of their own: no run of nginx pays for
		// the hundreds of thousands of entries of the runs before it (fileshare spreads its
		// blobs over many directories), and none for deleting them.
	}
	return loadRow("1 KiB durable uploads (POST /uploads)", fsR, ngR, 0.3)
}

func (b *bench) tokenChurn() result {
	sid := b.newSession()
	fid := b.newFile(sid, kib)
	b.putFile(sid, fid, kib)
	var runs []loadResult
	for i := 0; i < b.o.runs; i++ {
		runs = append(runs, load(b.o.workers, b.o.smallFor, func(int, int) error {
			var t struct{ URL string }
			body, code, err := do(b.req(http.MethodPost, b.fs.URL+"/sessions/"+sid+"/files/"+fid+"/tokens", nil))
			if err != nil || code != http.StatusCreated {
				return &statusError{code}
			}
			json.Unmarshal(body, &t)
			return get(t.URL)
		}))
	}
	r := loadRow("token churn: create + consume pairs", runs, nil, 0)
	r.Unit, r.Target = "pairs/s", "report"
	return r
}
