// Command fsbench is fileshare's benchmark harness (`make bench`): it builds and starts
// fileshare on a throwaway database, starts nginx on loopback as the yardstick (WebDAV PUT to
// disk, sendfile GET), runs each measurement several times alternating the two servers, and
// prints a table of medians with the ratio fileshare/nginx and the target, plus a JSON file for
// comparing commits.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "fsbench: "+format+"\n", args...)
	os.Exit(1)
}

// result is one row of the table.
type result struct {
	Name      string    `json:"name"`
	Unit      string    `json:"unit"`
	Fileshare float64   `json:"fileshare"`
	Nginx     float64   `json:"nginx,omitempty"`
	Ratio     float64   `json:"ratio,omitempty"`
	Target    string    `json:"target"`
	Met       *bool     `json:"met,omitempty"`
	Runs      []float64 `json:"runs"`
	NginxRuns []float64 `json:"nginxRuns,omitempty"`
	Note      string    `json:"note,omitempty"`
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

type options struct {
	runs       int
	bigSize    int64
	smallFor   time.Duration
	workers    int
	listRows   int
	purgeRows  int
	quotaRows  int
	out        string
	only       string
	keepWork   bool
	repo, work string
}

func main() {
	var o options
	var big int
	flag.IntVar(&o.runs, "runs", 3, "runs of each measurement (medians are reported)")
	flag.IntVar(&big, "big-mib", 1024, "size of the large upload and download, MiB")
	flag.DurationVar(&o.smallFor, "duration", 10*time.Second, "duration of each small-request load run")
	flag.IntVar(&o.workers, "concurrency", 32, "concurrent clients of the small-request loads")
	flag.IntVar(&o.listRows, "list-rows", 1_000_000, "sessions in the large listing tenant")
	flag.IntVar(&o.purgeRows, "purge-uploads", 100_000, "expired uploads for the purge measurement")
	flag.IntVar(&o.quotaRows, "quota-uploads", 1_000_000, "uploads of the large tenant of the quota decision measurement")
	flag.StringVar(&o.out, "out", "bench/out/results.json", "JSON results file")
	flag.StringVar(&o.only, "only", "", "comma-separated measurement groups to run (upload,download,small,churn,auth,list,purge,quota,s3,webhooks)")
	flag.BoolVar(&o.keepWork, "keep", false, "keep the work directory")
	flag.Parse()
	o.bigSize = int64(big) << 20
	repo, err := os.Getwd()
	if err != nil {
		fatalf("%v", err)
	}
	o.repo = repo
	work, err := os.MkdirTemp(repo, ".bench-")
	if err != nil {
		fatalf("%v", err)
	}
	o.work = work
	if !o.keepWork {
		defer os.RemoveAll(work)
	}
	os.Chmod(work, 0o755)

	bin := filepath.Join(work, "fileshare")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/fileshare").CombinedOutput(); err != nil {
		fatalf("build: %v\n%s", err, out)
	}
	dbURL, dropDB := database(repo, "")
	defer dropDB()
	fs := startFileshare(bin, dbURL, work)
	defer fs.Stop()
	want := func(group string) bool {
		return o.only == "" || slices.Contains(strings.Split(o.only, ","), group)
	}
	// nginx is the yardstick of the transfers only.
	var ng *nginxServer
	if want("upload") || want("download") || want("small") {
		ng = startNginx(work)
		defer ng.Stop()
	}
	b := &bench{o: o, fs: fs, ng: ng, dbURL: dbURL}
	b.setup()
	stopConns := make(chan struct{})
	peakConns := b.peakConns(stopConns)

	var results []result
	if want("upload") {
		results = append(results, b.uploads()...)
	}
	if want("download") {
		results = append(results, b.downloads()...)
	}
	if want("small") {
		results = append(results, b.smallDownloads(), b.smallUploads())
	}
	if want("churn") {
		results = append(results, b.tokenChurn())
	}
	if want("auth") {
		results = append(results, b.authenticated()...)
	}
	if want("list") {
		results = append(results, b.listing()...)
	}
	if want("purge") {
		results = append(results, b.purge()...)
	}
	if want("quota") {
		results = append(results, b.quota()...)
	}
	if want("s3") {
		results = append(results, b.s3(bin)...)
	}
	if want("webhooks") {
		results = append(results, b.webhooks()...)
	}
	close(stopConns)
	results = append(results, connsRow(<-peakConns))
	printTable(results)
	writeJSON(o.out, results)
}

func printTable(results []result) {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "measurement\tunit\tfileshare\tnginx\tratio\ttarget\tmet\t")
	for _, r := range results {
		ng, ratio := "-", "-"
		if r.Nginx != 0 {
			ng = fmt.Sprintf("%.1f", r.Nginx)
			ratio = fmt.Sprintf("%.2f×", r.Ratio)
		}
		met := "-"
		if r.Met != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*r.Met]
		}
		fmt.Fprintf(w, "%s\t%s\t%.1f\t%s\t%s\t%s\t%s\t\n", r.Name, r.Unit, r.Fileshare, ng, ratio, r.Target, met)
	}
	w.Flush()
	for _, r := range results {
		if r.Note != "" {
			fmt.Printf("  %s: %s\n", r.Name, r.Note)
		}
	}
}

func writeJSON(path string, results []result) {
	rev, _ := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	doc := map[string]any{
		"commit":  strings.TrimSpace(string(rev)),
		"date":    time.Now().UTC().Format(time.RFC3339),
		"results": results,
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		fatalf("%v", err)
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		fatalf("%v", err)
	}
	fmt.Printf("\nresults written to %s\n", path)
}

func boolp(b bool) *bool { return &b }
