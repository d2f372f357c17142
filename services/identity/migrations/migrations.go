// Package migrations holds the identity service's versioned SQL, applied at start.
package migrations

import "embed"

// FS is every migration, in goose's file format.
//
//go:embed *.sql
var FS embed.FS
