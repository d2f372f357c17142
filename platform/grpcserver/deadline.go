package grpcserver

import (
	"context"
	"time"

	"google.golang.org/grpc"
)

// DefaultMaxDeadline bounds every call whose client set no deadline, or a
// longer one: a hung dependency (Postgres accepting connections and never
// answering) then costs a call this long at most, and it ends as
// DeadlineExceeded rather than when the client gives up.
const DefaultMaxDeadline = 30 * time.Second

// withMaxDeadline is ctx with its deadline cut to max from now.
func withMaxDeadline(ctx context.Context, max time.Duration) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= max {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, max)
}

func (s *Server) unaryDeadline(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if exempt(info.FullMethod) {
		return h(ctx, req)
	}
	ctx, cancel := withMaxDeadline(ctx, s.maxDeadline(info.FullMethod))
	defer cancel()
	return h(ctx, req)
}

// streamDeadline bounds streams as calls: Tandem's streams are finite
// answers. Health's Watch and reflection are exempt, since they last as
// long as their client wants.
func (s *Server) streamDeadline(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if exempt(info.FullMethod) {
		return h(srv, ss)
	}
	ctx, cancel := withMaxDeadline(ss.Context(), s.maxDeadline(info.FullMethod))
	defer cancel()
	return h(srv, authedStream{ServerStream: ss, ctx: ctx})
}

// maxDeadline is the bound of a method's calls.
func (s *Server) maxDeadline(method string) time.Duration {
	if d, ok := s.opts.MethodMaxDeadlines[method]; ok && d > 0 {
		return d
	}
	return s.opts.MaxDeadline
}
