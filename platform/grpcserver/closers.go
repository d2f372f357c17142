package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// Closers is the one list of things to release on shutdown. They close in the
// reverse order of Add, so what was opened first (telemetry) closes last and
// still sees what the others report while closing.
type Closers struct {
	mu   sync.Mutex
	list []closer
}

type closer struct {
	name string
	fn   func(context.Context) error
}

// Add registers fn under name.
func (c *Closers) Add(name string, fn func(context.Context) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, closer{name, fn})
}

// Close runs every closer, last added first, and joins their errors.
func (c *Closers) Close(ctx context.Context, log *slog.Logger) error {
	c.mu.Lock()
	list := c.list
	c.list = nil
	c.mu.Unlock()
	var errs []error
	for i := len(list) - 1; i >= 0; i-- {
		if err := list[i].fn(ctx); err != nil {
			log.ErrorContext(ctx, "close failed", slog.String("what", list[i].name), slog.Any("error", err))
			errs = append(errs, fmt.Errorf("close %s: %w", list[i].name, err))
		}
	}
	return errors.Join(errs...)
}
