package main

// The measurements of authentication: requests with a cached login, and cold logins.

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"fileshare/internal/auth"
)

func (b *bench) authenticated() []result {
	sid := b.newSession()
	var runs []loadResult
	for i := 0; i < b.o.runs; i++ {
		runs = append(runs, load(b.o.workers, b.o.smallFor, func(int, int) error {
			_, code, err := do(b.req(http.MethodGet, b.fs.URL+"/sessions/"+sid, nil))
			if err == nil && code != http.StatusOK {
				err = &statusError{code}
			}
			return err
		}))
	}
	hash, err := auth.HashPassword("a password", auth.DefaultParams)
	must(err)
	n := 0
	d := timed(func() {
		for t0 := time.Now(); time.Since(t0) < 2*time.Second; n++ {
			auth.VerifyPassword(hash, "a wrong password")
		}
	})
	rate := float64(n) / d.Seconds()
	r := loadRow("authenticated GET /sessions/{id}", runs, nil, 0)
	r.Target = "≥20× hash rate"
	r.Met = boolp(r.Fileshare >= 20*rate)
	r.Note += fmt.Sprintf("; one core verifies %.1f argon2id hashes/s: %.0f× that", rate, r.Fileshare/rate)
	return []result{r, b.coldLogins()}
}

// coldLogins compares logins that no instance has seen yet: with a user's password (argon2id
// each time: coldUsers distinct users, each logging in once) and with application passwords
// (one indexed lookup, nothing cached).
func (b *bench) coldLogins() result {
	const coldUsers = 64
	b.fs.run("tenant", "add", "cold")
	apps := make([]string, coldUsers)
	for i := range apps {
		login := fmt.Sprintf("u%d@cold", i)
		b.fs.runStdin(password+"\n", "user", "add", login, "--password-stdin")
		apps[i] = strings.TrimSpace(b.fs.run("user", "apppw", "add", login, "--name", "bench"))
	}
	get := func(i int, pw string) error {
		r, _ := http.NewRequest(http.MethodGet, b.fs.URL+"/usage", nil)
		r.SetBasicAuth(fmt.Sprintf("u%d@cold", i), pw)
		_, code, err := do(r)
		if err == nil && code != http.StatusOK {
			err = &statusError{code}
		}
		return err
	}
	var next atomic.Int64
	hashed := loadWhile(b.o.workers, func() bool { return next.Load() < coldUsers }, func(int, int) error {
		i := int(next.Add(1) - 1)
		if i >= coldUsers {
			return nil
		}
		return get(i, password)
	})
	var runs []loadResult
	for i := 0; i < b.o.runs; i++ {
		runs = append(runs, load(b.o.workers, b.o.smallFor, func(w, n int) error {
			i := (w*7919 + n) % coldUsers
			return get(i, apps[i])
		}))
	}
	r := loadRow("cold logins: application password (GET /usage)", runs, nil, 0)
	r.Target = "report"
	r.Note += fmt.Sprintf("; first logins with a user's password (argon2id): %.0f req/s, so %.0f× that",
		hashed.RPS(), r.Fileshare/hashed.RPS())
	return r
}
