// Package reliability holds the tests that prove fileshare's promises under failure (README
// "Reliability"): SIGKILL at every step of an upload, a database that goes away under load, a
// full disk, and two instances racing on one database. It has no code of its own; `make test`
// runs short versions and `make stress` (FILESHARE_STRESS=1) the full ones, with figures.
package reliability
