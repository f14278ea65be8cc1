// Package db holds the SQL that is the source of truth for the schema: the goose migrations,
// embedded into the binary, and the queries that sqlc turns into Go.
package db

import "embed"

// Migrations are the goose migration files, applied in order by `fileshare migrate up`.
//
//go:embed migrations/*.sql
var Migrations embed.FS
