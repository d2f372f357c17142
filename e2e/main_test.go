package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/tandemhq/tandem/e2e/stack"
)

// binDir holds the binaries built once for the whole suite.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tandem-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := stack.Binaries(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
