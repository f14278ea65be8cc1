// Package api holds the OpenAPI 3 document that describes every route of fileshare.
package api

import _ "embed"

// OpenAPI is the OpenAPI 3 document, served at /openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
