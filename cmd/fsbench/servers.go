package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// freePort returns a loopback port that was free a moment ago.
func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitHTTP(url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within %s", url, d)
}

// database creates a fresh database for the run on the configured server (or a throwaway
// cluster) and returns its URL and a function that drops it.
func database(repo, suffix string) (string, func()) {
	admin := os.Getenv("FILESHARE_BENCH_DATABASE_URL")
	if admin == "" {
		local := "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
		if c, err := pgx.Connect(context.Background(), local); err == nil {
			c.Close(context.Background())
			admin = local
		} else {
			out, err := exec.Command(filepath.Join(repo, "scripts", "devdb.sh"), "start").Output()
			if err != nil {
				fatalf("throwaway database: %v", err)
			}
			admin = strings.TrimSpace(string(out))
		}
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		fatalf("database %s: %v", admin, err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("fileshare_bench_%d%s", os.Getpid(), suffix)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		fatalf("create database: %v", err)
	}
	u := strings.Replace(admin, "/postgres?", "/"+name+"?", 1)
	if !strings.Contains(u, name) {
		fatalf("cannot derive a database URL from %s", admin)
	}
	return u, func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
}

// fileshareServer is a running `fileshare serve`.
type fileshareServer struct {
	cmd     *exec.Cmd
	URL     string
	DataDir string
	bin     string
	env     []string
}

func (f *fileshareServer) run(args ...string) string {
	c := exec.Command(f.bin, args...)
	c.Env = f.env
	out, err := c.CombinedOutput()
	if err != nil {
		fatalf("fileshare %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (f *fileshareServer) runStdin(stdin string, args ...string) {
	c := exec.Command(f.bin, args...)
	c.Env = f.env
	c.Stdin = strings.NewReader(stdin)
	if out, err := c.CombinedOutput(); err != nil {
		fatalf("fileshare %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func startFileshare(bin, dbURL, work string, extraEnv ...string) *fileshareServer {
	port := freePort()
	f := &fileshareServer{
		URL:     fmt.Sprintf("http://127.0.0.1:%d", port),
		DataDir: filepath.Join(work, fmt.Sprintf("fileshare-data-%d", port)),
		bin:     bin,
	}
	f.env = append(os.Environ(),
		"FILESHARE_DATABASE_URL="+dbURL,
		"FILESHARE_LISTEN=127.0.0.1:"+strconv.Itoa(port),
		"FILESHARE_DATA_DIR="+f.DataDir,
		"FILESHARE_MAX_UPLOAD_BYTES="+strconv.FormatInt(4<<30, 10),
		"FILESHARE_PURGE_INTERVAL=24h", // the purge is measured on its own
		"FILESHARE_LOG_LEVEL=info",
		"FILESHARE_WEBHOOK_ALLOW_PRIVATE=true", // the webhook receiver is on loopback
	)
	f.env = append(f.env, extraEnv...)
	f.run("migrate", "up")
	f.run("tenant", "add", "bench")
	f.runStdin("bench-password\n", "user", "add", "bench@bench", "--password-stdin")
	log, err := os.CreateTemp(work, "fileshare-*.log")
	if err != nil {
		fatalf("%v", err)
	}
	f.cmd = exec.Command(bin, "serve")
	f.cmd.Env = f.env
	f.cmd.Stdout, f.cmd.Stderr = log, log
	if err := f.cmd.Start(); err != nil {
		fatalf("start fileshare: %v", err)
	}
	if err := waitHTTP(f.URL+"/healthz", 20*time.Second); err != nil {
		fatalf("fileshare: %v", err)
	}
	return f
}

func (f *fileshareServer) Pid() int { return f.cmd.Process.Pid }

func (f *fileshareServer) Stop() {
	f.cmd.Process.Signal(os.Interrupt)
	f.cmd.Wait()
}

// nginxServer is nginx with WebDAV PUT into a directory and sendfile GET out of it, the
// yardstick of every measurement.
type nginxServer struct {
	cmd  *exec.Cmd
	URL  string
	Root string
}

func nginxBinary() string {
	for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	fmt.Fprintln(os.Stderr, "fsbench: installing nginx (Debian package nginx)")
	install := func(args ...string) error {
		c := exec.Command("apt-get", args...)
		c.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		c.Stdout, c.Stderr = os.Stderr, os.Stderr
		return c.Run()
	}
	if err := install("install", "-y", "-qq", "nginx"); err != nil {
		install("update", "-qq")
		if err := install("install", "-y", "-qq", "nginx"); err != nil {
			fatalf("cannot install nginx: %v", err)
		}
	}
	return "/usr/sbin/nginx"
}

func startNginx(work string) *nginxServer {
	bin := nginxBinary()
	port := freePort()
	dir := filepath.Join(work, "nginx")
	root := filepath.Join(dir, "root")
	for _, d := range []string{root, filepath.Join(dir, "body"), filepath.Join(dir, "logs")} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			fatalf("%v", err)
		}
	}
	// nginx's workers run as nobody when started as root: let them write.
	os.Chmod(root, 0o777)
	os.Chmod(filepath.Join(dir, "body"), 0o777)
	conf := fmt.Sprintf(`worker_processes auto;
daemon off;
master_process on;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log %[1]s/logs/access.log;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/body;
    fastcgi_temp_path %[1]s/body;
    uwsgi_temp_path %[1]s/body;
    scgi_temp_path %[1]s/body;
    server {
        listen 127.0.0.1:%[2]d;
        root %[3]s;
        client_max_body_size 0;
        location / {
            dav_methods PUT DELETE;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
        }
    }
}
`, dir, port, root)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		fatalf("%v", err)
	}
	n := &nginxServer{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Root: root}
	n.cmd = exec.Command(bin, "-c", confPath, "-p", dir)
	n.cmd.Stdout, n.cmd.Stderr = os.Stderr, os.Stderr
	if err := n.cmd.Start(); err != nil {
		fatalf("start nginx: %v", err)
	}
	os.WriteFile(filepath.Join(root, "ping"), []byte("pong"), 0o644)
	if err := waitHTTP(n.URL+"/ping", 10*time.Second); err != nil {
		fatalf("nginx: %v", err)
	}
	return n
}

func (n *nginxServer) Stop() {
	n.cmd.Process.Signal(os.Interrupt)
	n.cmd.Wait()
}

// minioServer is a MinIO server on loopback for the S3 case.
type minioServer struct {
	cmd      *exec.Cmd
	Endpoint string
}

const (
	minioUser   = "fsbench"
	minioSecret = "fsbench-secret-key"
)

func startMinIO(work string) *minioServer {
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	bin := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "minio")
	if _, err := os.Stat(bin); err != nil {
		if p, err := exec.LookPath("minio"); err == nil {
			bin = p
		} else {
			fatalf("no minio binary: run `make minio`")
		}
	}
	port, console := freePort(), freePort()
	dir := filepath.Join(work, "minio")
	os.MkdirAll(dir, 0o755)
	m := &minioServer{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port)}
	m.cmd = exec.Command(bin, "server", "--quiet", "--address", fmt.Sprintf("127.0.0.1:%d", port),
		"--console-address", fmt.Sprintf("127.0.0.1:%d", console), dir)
	m.cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+minioUser, "MINIO_ROOT_PASSWORD="+minioSecret,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off")
	if err := m.cmd.Start(); err != nil {
		fatalf("start minio: %v", err)
	}
	if err := waitHTTP(m.Endpoint+"/minio/health/live", 30*time.Second); err != nil {
		fatalf("minio: %v", err)
	}
	return m
}

func (m *minioServer) Stop() {
	m.cmd.Process.Signal(os.Interrupt)
	m.cmd.Wait()
}

// s3Env configures a fileshare for blobs in a bucket of m.
func (m *minioServer) s3Env() []string {
	return []string{
		"FILESHARE_BLOB_STORE=s3", "FILESHARE_S3_ENDPOINT=" + m.Endpoint, "FILESHARE_S3_BUCKET=fsbench",
		"FILESHARE_S3_PATH_STYLE=true", "AWS_ACCESS_KEY_ID=" + minioUser, "AWS_SECRET_ACCESS_KEY=" + minioSecret,
	}
}
